"""`freezelint server` end to end: a real LSP client (pytest-lsp) starts the server as a process and talks to it over
stdio, as an editor does. Expected ranges come from the test's own text, edits are applied by the test's own code."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from cli_helpers import FIXTURES, ROOT
from server_client import (
    SERVER,
    action_titled,
    apply_edits,
    change_cell,
    change_text,
    code_actions,
    diagnostics,
    open_notebook,
    open_text,
    start,
)

pytestmark = pytest.mark.asyncio

BUGGY = (FIXTURES / "FRZ101" / "bert_attribute.py").read_text()
BUGGY_STATEMENT = "model.bert.requires_grad = False"
UNSAFE = (FIXTURES / "FRZ110" / "new_parameter_after_freeze.py").read_text()


def where(text: str, fragment: str) -> types.Range:
    """The range of `fragment` in `text` (on one line; ASCII, so UTF-16 columns are characters)."""
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if fragment in line)
    column = lines[row].index(fragment)
    return types.Range(types.Position(row, column), types.Position(row, column + len(fragment)))


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()
    # shutdown, then exit: the server ends, with status 0 as the protocol asks
    assert lsp_client._server is not None and lsp_client._server.returncode == 0


async def test_python_file_diagnosed_fixed_and_clean(client: LanguageClient, tmp_path: Path):
    await start(client, tmp_path)
    path = tmp_path / "train.py"
    path.write_text(BUGGY)
    uri = open_text(client, path)

    found = await diagnostics(client, uri, lambda d: len(d) > 0)
    assert [d.code for d in found] == ["FRZ101"]
    diagnostic = found[0]
    assert diagnostic.range == where(BUGGY, BUGGY_STATEMENT)
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.source == "freezelint"
    assert diagnostic.code_description is not None and diagnostic.code_description.href.endswith("/FRZ101.md")
    assert diagnostic.data["fix"]["applicability"] == "safe"

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    fix = action_titled(actions, "requires_grad_(False)")
    assert fix.kind == types.CodeActionKind.QuickFix and fix.is_preferred
    assert fix.edit is not None and fix.edit.changes is not None
    fixed = apply_edits(BUGGY, fix.edit.changes[uri])
    assert "model.bert.requires_grad_(False)" in fixed and BUGGY_STATEMENT not in fixed
    # The data field carries the same fix: a client can apply it without asking.
    assert apply_edits(BUGGY, [types.TextEdit(**_edit(e)) for e in diagnostic.data["fix"]["changes"][uri]]) == fixed

    change_text(client, uri, fixed, version=2)
    assert list(await diagnostics(client, uri, lambda d: len(d) == 0)) == []
    assert path.read_text() == BUGGY, "the server never writes the file"

    # Saved without a change: published again, from the in-memory cache (no new "checked" line in the log).
    checked = [m.message for m in client.log_messages if m.message.startswith("freezelint: checked")]
    assert len(checked) == 2, checked
    client.diagnostics.pop(uri)
    client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
    assert list(await diagnostics(client, uri)) == []
    assert [m.message for m in client.log_messages if m.message.startswith("freezelint: checked")] == checked
    assert not (tmp_path / ".freezelint_cache").exists()


async def test_ranges_count_utf16_code_units(client: LanguageClient, tmp_path: Path):
    """LSP columns count UTF-16 code units by default: an emoji before the finding counts two."""
    await start(client, tmp_path)
    prefix = 'label = "🤗 données"; '
    text = BUGGY.replace(BUGGY_STATEMENT, prefix + BUGGY_STATEMENT)
    uri = open_text(client, tmp_path / "unicode.py", text)
    [found] = await diagnostics(client, uri, lambda d: len(d) > 0)
    units = len(prefix.encode("utf-16-le")) // 2
    assert units == len(prefix) + 1
    row = where(text, BUGGY_STATEMENT).start.line
    assert found.range == types.Range(types.Position(row, units), types.Position(row, units + len(BUGGY_STATEMENT)))
    fix = action_titled(await code_actions(client, uri, found.range), "requires_grad_(False)")
    assert fix.edit is not None and fix.edit.changes is not None
    assert prefix + "model.bert.requires_grad_(False)" in apply_edits(text, fix.edit.changes[uri])


def _edit(raw: dict) -> dict:
    start, end = raw["range"]["start"], raw["range"]["end"]
    return {
        "range": types.Range(types.Position(start["line"], start["character"]), types.Position(end["line"], end["character"])),
        "new_text": raw["newText"],
    }


NOTEBOOK_CELLS = [
    ("markdown", "# Fine-tune BERT\nFreeze the encoder, train the head.\n"),
    ("code", "%pip install transformers\nfrom transformers import AutoModelForSequenceClassification, Trainer\n"),
    ("code", 'model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)\n'
             "model.bert.requires_grad = False\n"),
    ("code", "trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)\ntrainer.train()"),
]


async def test_notebook_diagnosed_on_its_cell_fixed_and_clean(client: LanguageClient, tmp_path: Path):
    await start(client, tmp_path, notebooks=True)
    notebook, cells = open_notebook(client, tmp_path / "finetune.ipynb", NOTEBOOK_CELLS)
    flagged_cell, text = cells[2], NOTEBOOK_CELLS[2][1]

    found = await diagnostics(client, flagged_cell, lambda d: len(d) > 0)
    assert [d.code for d in found] == ["FRZ101"]
    assert found[0].range == where(text, BUGGY_STATEMENT)  # the cell's own row and column
    for other in (cells[0], cells[1], cells[3]):
        assert list(client.diagnostics.get(other, [])) == []

    fix = action_titled(await code_actions(client, flagged_cell, found[0].range), "requires_grad_(False)")
    assert fix.edit is not None and fix.edit.changes is not None
    assert set(fix.edit.changes) == {flagged_cell}, "the edit goes to the cell, not to the notebook's program"
    fixed = apply_edits(text, fix.edit.changes[flagged_cell])
    assert "model.bert.requires_grad_(False)\n" in fixed

    change_cell(client, notebook, 2, flagged_cell, fixed)
    assert list(await diagnostics(client, flagged_cell, lambda d: len(d) == 0)) == []
    assert not (tmp_path / "finetune.ipynb").exists(), "the server never writes the notebook"


async def test_fix_all_noqa_unsafe_and_hover(client: LanguageClient, tmp_path: Path):
    await start(client, tmp_path)
    path = tmp_path / "embeddings.py"
    path.write_text(UNSAFE + BUGGY_STATEMENT + "\n")
    text = path.read_text()
    uri = open_text(client, path)
    found = await diagnostics(client, uri, lambda d: len(d) == 2)
    by_code = {d.code: d for d in found}
    assert set(by_code) == {"FRZ101", "FRZ110"}

    # An unsafe fix is offered, marked, and not preferred; the noqa action silences exactly that code.
    actions = await code_actions(client, uri, by_code["FRZ110"].range, only=[types.CodeActionKind.QuickFix])
    unsafe = action_titled(actions, "requires_grad=False")
    assert "unsafe" in unsafe.title and not unsafe.is_preferred
    silence = action_titled(actions, "# noqa: FRZ110")
    assert silence.edit is not None and silence.edit.changes is not None
    silenced = apply_edits(text, silence.edit.changes[uri])
    flagged_row = by_code["FRZ110"].range.start.line
    expected = text.splitlines()
    expected[flagged_row] += "  # noqa: FRZ110"
    assert silenced.splitlines() == expected

    # Fix all applies the safe fix only (the one a `--fix` run would apply), its edit resolved on demand.
    actions = await code_actions(client, uri, types.Range(types.Position(0, 0), types.Position(0, 0)), only=["source.fixAll"])
    [fix_all] = [a for a in actions if isinstance(a, types.CodeAction)]
    assert fix_all.kind == "source.fixAll.freezelint"
    resolved = await client.code_action_resolve_async(fix_all)
    assert resolved.edit is not None and resolved.edit.changes is not None
    fixed = apply_edits(text, resolved.edit.changes[uri])
    assert fixed.endswith("model.bert.requires_grad_(False)\n") and "nn.Parameter(vectors)" in fixed

    change_text(client, uri, silenced, version=2)
    assert [d.code for d in await diagnostics(client, uri, lambda d: len(d) == 1)] == ["FRZ101"]

    # Hover on the flagged range shows the rule's documentation, as `docs/rules/FRZ101.md` has it.
    remaining = client.diagnostics[uri][0]
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=remaining.range.start)
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    page = (ROOT / "docs" / "rules" / "FRZ101.md").read_text()
    what_it_does = page.split("## What it does\n", 1)[1].split("\n\n", 1)[0]
    assert what_it_does in hover.contents.value
    nothing = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(0, 0))
    )
    assert nothing is None


async def test_settings_from_pyproject_and_initialization_options(client: LanguageClient, tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nignore = ["FRZ110"]\n')
    await start(client, tmp_path, options={"extendSelect": ["FRZ110"], "ignore": ["FRZ1"]})
    path = tmp_path / "embeddings.py"
    path.write_text(UNSAFE + BUGGY_STATEMENT + "\n")
    uri = open_text(client, path)
    # pyproject ignores FRZ110; the options, like --extend-select/--ignore on the command line, refine that
    assert [d.code for d in await diagnostics(client, uri)] == ["FRZ110"]
    assert client.messages == []


@pytest.mark.parametrize(
    "options, expected",
    [({"config": "lint/freezelint.toml"}, ["FRZ101"]), ({"isolated": True}, ["FRZ101", "FRZ110"])],
    ids=["config", "isolated"],
)
async def test_config_and_isolated_options(client: LanguageClient, tmp_path: Path, options: dict, expected: list[str]):
    """`config` reads another file (keys at top level, like `--config`); `isolated` ignores pyproject.toml."""
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nignore = ["FRZ1"]\n')
    (tmp_path / "lint").mkdir()
    (tmp_path / "lint" / "freezelint.toml").write_text('ignore = ["FRZ110"]\n')
    await start(client, tmp_path, options=options)
    path = tmp_path / "embeddings.py"
    path.write_text(UNSAFE + BUGGY_STATEMENT + "\n")
    uri = open_text(client, path)
    assert sorted(d.code for d in await diagnostics(client, uri)) == expected
    assert client.messages == []


async def test_config_error_shown_once_then_fixed(client: LanguageClient, tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.freezelint]\nselct = ["FRZ1"]\n')
    await start(client, tmp_path, options={"select": ["FRZ999"], "colour": True})
    path = tmp_path / "train.py"
    path.write_text(BUGGY)
    uri = open_text(client, path)
    assert list(await diagnostics(client, uri)) == []
    for version in range(2, 6):  # typing, saving: the same error is not shown again
        change_text(client, uri, BUGGY + "#" * version + "\n", version)
        client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
    await asyncio.sleep(1)
    await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 0)))
    shown = [message.message for message in client.messages]
    assert len(shown) == 3, shown
    assert sum("unknown key 'selct'" in message and "pyproject.toml" in message for message in shown) == 1
    assert sum("unknown rule code or prefix: FRZ999" in message for message in shown) == 1
    assert sum("unknown initialization option 'colour'" in message for message in shown) == 1
    assert all(message.type == types.MessageType.Error for message in client.messages)

    # The file is fixed; the editor says so (the server asked to watch pyproject.toml files); linting resumes.
    assert any(r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES for r in client.registrations)
    pyproject.write_text('[tool.freezelint]\nselect = ["FRZ1"]\n')
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams([types.FileEvent(pyproject.as_uri(), types.FileChangeType.Changed)])
    )
    assert [d.code for d in await diagnostics(client, uri, lambda d: len(d) > 0)] == ["FRZ101"]


UNPARSEABLE = {
    "syntax_error.py": BUGGY + "def broken(:\n",
    "nul_byte.py": BUGGY.replace("\n", "\0\n", 1),
    "nested_brackets.py": BUGGY + "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n",
    "deep_operators.py": BUGGY + "x = " + " + ".join(["-" * 1200 + "1"]) + "\n",
    "too_large.py": BUGGY + "#" * 2_100_000 + "\n",
    "bad_indent.py": BUGGY + "  x = 1\n",
}


async def test_unparseable_documents_get_no_findings_and_no_error_storm(client: LanguageClient, tmp_path: Path):
    await start(client, tmp_path, notebooks=True)
    uris = {}
    for name, text in UNPARSEABLE.items():
        uris[name] = open_text(client, tmp_path / name, text)
    for name, uri in uris.items():
        assert list(await diagnostics(client, uri)) == [], name
    notebook, cells = open_notebook(
        client, tmp_path / "broken.ipynb", [("code", "%%bash\nls\n"), ("code", BUGGY + "for x in :\n"), ("markdown", "```")]
    )
    for cell in cells:
        assert list(await diagnostics(client, cell)) == []

    # Typing: half the states do not parse. Each is linted after a pause; none raises a message.
    uri = open_text(client, tmp_path / "typing.py", BUGGY)
    await diagnostics(client, uri, lambda d: len(d) == 1)
    for version in range(2, 30):
        change_text(client, uri, BUGGY + ("model.bert.requires_grad = (\n" if version % 2 else f"step = {version}\n"), version)
        if version % 7 == 0:
            await asyncio.sleep(0.5)  # long enough for a lint to start, and be overtaken
    change_text(client, uri, BUGGY + "model.bert.requires_grad = (\n", 30)
    assert list(await diagnostics(client, uri, lambda d: len(d) == 0)) == []
    change_text(client, uri, BUGGY, 31)
    assert [d.code for d in await diagnostics(client, uri, lambda d: len(d) == 1)] == ["FRZ101"]
    assert client.messages == [], "nothing shown to the user: code being typed often does not parse"
    logged = [m.message for m in client.log_messages if "not checked" in m.message]
    for name in UNPARSEABLE:  # in the log (the editor's output panel), once per document
        assert sum(f"{name}: not checked" in message for message in logged) == 1, (name, logged)

    # Requests on them are answered, not failed.
    for uri in uris.values():
        assert await code_actions(client, uri, types.Range(types.Position(0, 0), types.Position(9, 0))) == []


AUDITED_SERVER = r"""
import os, sys
log = os.open(sys.argv.pop(1), os.O_WRONLY | os.O_APPEND | os.O_CREAT)  # opened before the hook: not audited
WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
CHANGING = ("os.rename", "os.replace", "os.remove", "os.unlink", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod",
            "os.link", "os.symlink", "shutil.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.fork")
HEAVY = ("torch", "transformers", "peft", "accelerate", "numpy", "freezelint.runtime")

def note(line):
    os.write(log, (line + "\n").encode("utf-8", "backslashreplace"))

def hook(event, args):
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int):
            return  # a descriptor (standard streams), not a file
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & WRITING):
            note(f"write {path}")
        elif str(path).endswith("pyproject.toml"):
            note(f"read {path}")  # the proof that the hook watched the server
    elif event.startswith(CHANGING):
        note(f"{event} {args[0] if args else ''}")
    elif event == "import" and str(args[0]).startswith(HEAVY):
        note(f"import {args[0]}")

sys.addaudithook(hook)
import runpy
runpy.run_module("freezelint", run_name="__main__", alter_sys=True)
"""


async def test_never_writes_a_file_nor_imports_torch(tmp_path: Path):
    """A whole session (open, type, save, quick fix, noqa, fix all, hover, a notebook, a bad config) under an audit
    hook that records every file opened for writing, every file system change and process, and every heavy import."""
    from pytest_lsp.client import make_test_lsp_client

    from server_client import SERVER_ENV

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.freezelint]\nextend-select = ["FRZ110"]\n')
    (project / "requirements.txt").write_text("torch\ntransformers>=4.30\n")
    path = project / "train.py"
    path.write_text(UNSAFE + BUGGY_STATEMENT + "\n")
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    log = tmp_path / "audit.log"
    client = make_test_lsp_client()
    await client.start_io(
        sys.executable, "-c", AUDITED_SERVER, str(log), "server", env=SERVER_ENV, cwd=str(project)
    )
    try:
        await start(client, project, notebooks=True)
        uri = open_text(client, path)
        found = await diagnostics(client, uri, lambda d: len(d) == 2)
        for diagnostic in found:
            actions = await code_actions(client, uri, diagnostic.range)
            assert actions
        [fix_all] = [a for a in await code_actions(client, uri, found[0].range, only=["source.fixAll"]) if isinstance(a, types.CodeAction)]
        assert (await client.code_action_resolve_async(fix_all)).edit is not None
        await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), found[0].range.start))
        change_text(client, uri, path.read_text() + "x = 1\n", 2)
        client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
        await diagnostics(client, uri, lambda d: len(d) == 2)
        _, cells = open_notebook(client, project / "nb.ipynb", NOTEBOOK_CELLS)
        await diagnostics(client, cells[2], lambda d: len(d) == 1)
        await code_actions(client, cells[2], client.diagnostics[cells[2]][0].range)
        await client.shutdown_session()
        assert client._server is not None and client._server.returncode == 0
    finally:
        await client.stop()

    events = log.read_text().splitlines()
    assert f"read {project / 'pyproject.toml'}" in events, "the hook watched the server"
    events = [e for e in events if not e.startswith("read ")]
    assert [e for e in events if not e.startswith("import ")] == [], "no file written, changed or removed, no process"
    assert [e for e in events if e.startswith("import ")] == [], "no torch, no transformers, no runtime mode"
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before, "no .freezelint_cache/, no file"


async def test_a_bug_costs_one_document_not_the_server(tmp_path: Path):
    """A bug in the server's own code (forced here: placing a finding raises for one document) leaves that document
    without findings, says so once in the log, and every other document is still checked."""
    from pytest_lsp.client import make_test_lsp_client

    from server_client import SERVER_ENV

    (tmp_path / "sitecustomize.py").write_text(
        "from freezelint.server import documents\n"
        "place = documents.Positions.place\n"
        "def broken(self, start, end):\n"
        "    if 'BOOM' in self.snapshot.text:\n"
        "        raise RuntimeError('forced by the test')\n"
        "    return place(self, start, end)\n"
        "documents.Positions.place = broken\n"
    )
    env = dict(SERVER_ENV, PYTHONPATH=os.pathsep.join([str(tmp_path), SERVER_ENV["PYTHONPATH"]]))
    client = make_test_lsp_client()
    await client.start_io(sys.executable, "-m", "freezelint", "server", env=env)
    try:
        await start(client, tmp_path)
        broken = open_text(client, tmp_path / "broken.py", BUGGY + "# BOOM\n")
        assert list(await diagnostics(client, broken)) == []
        for version in range(2, 5):
            change_text(client, broken, BUGGY + f"# BOOM {version}\n", version)
        fine = open_text(client, tmp_path / "fine.py", BUGGY)
        assert [d.code for d in await diagnostics(client, fine, lambda d: len(d) > 0)] == ["FRZ101"]
        logged = [m.message for m in client.log_messages if "forced by the test" in m.message]
        assert logged and all("internal error" in message for message in logged), client.log_messages
        assert client.messages == []
        await client.shutdown_session()
        assert client._server is not None and client._server.returncode == 0
    finally:
        await client.stop()
