-- Run by tests/test_editors.py inside headless Neovim, after the README's set-up snippet attached `freezelint
-- server` to the buffer: read the diagnostics back, apply the preferred quick fix as `vim.lsp.buf.code_action()`
-- would, wait for the diagnostics to clear, and write what happened to $FREEZELINT_NVIM_RESULT as JSON.
local result = {}
local bufnr = vim.api.nvim_get_current_buf()
local wait_ms = tonumber(os.getenv("FREEZELINT_NVIM_WAIT_MS") or "60000")

local function finish()
  vim.fn.writefile({ vim.fn.json_encode(result) }, os.getenv("FREEZELINT_NVIM_RESULT"))
  for _, client in ipairs(vim.lsp.get_active_clients()) do
    client.stop()
  end
  result.stopped = vim.wait(10000, function() return #vim.lsp.get_active_clients() == 0 end, 50)
  vim.fn.writefile({ vim.fn.json_encode(result) }, os.getenv("FREEZELINT_NVIM_RESULT"))
  vim.cmd("qa!")
end

result.published = vim.wait(wait_ms, function() return #vim.diagnostic.get(bufnr) > 0 end, 50)
result.attached = {}
for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
  table.insert(result.attached, client.name)
end
result.before = {}
for _, d in ipairs(vim.diagnostic.get(bufnr)) do
  table.insert(result.before, {
    code = d.code, source = d.source, severity = d.severity, message = d.message,
    lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
  })
end
if not result.published then
  return finish()
end

local first = vim.diagnostic.get(bufnr)[1]
local params = {
  textDocument = { uri = vim.uri_from_bufnr(bufnr) },
  range = { start = { line = first.lnum, character = first.col }, ["end"] = { line = first.end_lnum, character = first.end_col } },
  context = { diagnostics = {} },
}
local responses = vim.lsp.buf_request_sync(bufnr, "textDocument/codeAction", params, wait_ms) or {}
result.actions = {}
for _, response in pairs(responses) do
  for _, action in ipairs(response.result or {}) do
    table.insert(result.actions, action.title)
    if action.isPreferred and action.edit then
      vim.lsp.util.apply_workspace_edit(action.edit, "utf-16")
    end
  end
end
result.lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
result.cleared = vim.wait(wait_ms, function() return #vim.diagnostic.get(bufnr) == 0 end, 50)
finish()
