"""The README's editor set-up snippets, used as written: Neovim (Debian's 0.7) runs headless with the README's
snippet as its `init.lua`, opens a buggy file, reads the diagnostics back and applies the quick fix; the other
snippets (VS Code, Neovim 0.8+, nvim-lspconfig, Helix, JupyterLab) are parsed and must start `freezelint server`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cli_helpers import FIXTURES, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
NVIM = shutil.which("nvim")
NEEDS_NVIM = pytest.mark.skipif(
    NVIM is None, reason="nvim is not installed (`apt-get install neovim`; .ci/run installs it where it can)"
)
COMMAND = ["freezelint", "server"]


def snippet(name: str) -> str:
    """The code block between `<!-- editor:NAME -->` and `<!-- /editor:NAME -->` in the README (as .ci/run reads the
    test command)."""
    match = re.search(rf"<!-- editor:{re.escape(name)} -->\n```\w*\n(.*?)```\n<!-- /editor:{re.escape(name)} -->", README, re.S)
    assert match, f"README.md has no `editor:{name}` snippet"
    return match.group(1)


def freezelint_on_path(directory: Path) -> dict[str, str]:
    """An environment whose `freezelint` is this checkout's, as an editor would find it on PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "freezelint"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m freezelint "$@"\n')
    shim.chmod(0o755)
    return dict(
        os.environ,
        PATH=os.pathsep.join([str(directory), os.environ.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        PYTHONDONTWRITEBYTECODE="1",
    )


@NEEDS_NVIM
def test_neovim_shows_the_diagnostics_and_applies_the_fix(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    buggy = (FIXTURES / "FRZ101" / "bert_attribute.py").read_text()
    (project / "train.py").write_text(buggy)
    init = tmp_path / "init.lua"
    init.write_text(snippet("neovim-0.7"))
    result = tmp_path / "result.json"
    env = freezelint_on_path(tmp_path / "bin")
    env.update(FREEZELINT_NVIM_RESULT=str(result), XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    completed = subprocess.run(
        [NVIM, "--headless", "-i", "NONE", "-u", str(init), "train.py", "-c", f"luafile {ROOT / 'tests' / 'editors' / 'check_diagnostics.lua'}"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert result.exists(), f"nvim wrote no result (status {completed.returncode}): {completed.stderr[-2000:]}"
    found = json.loads(result.read_text())
    assert found["attached"] == ["freezelint"]
    assert found["published"], found
    lines = buggy.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("model.bert.requires_grad = False"))
    assert [(d["code"], d["source"], d["lnum"], d["col"], d["end_lnum"], d["end_col"]) for d in found["before"]] == [
        ("FRZ101", "freezelint", row, 0, row, len("model.bert.requires_grad = False"))
    ]
    assert found["before"][0]["severity"] == 1  # vim.diagnostic.severity.ERROR
    assert any("# noqa: FRZ101" in title for title in found["actions"])
    assert found["lines"][row] == "model.bert.requires_grad_(False)  # expect: FRZ101"
    assert found["cleared"], "after the fix, the diagnostic went away"
    assert found["stopped"], "the server stopped when Neovim asked it to"
    assert (project / "train.py").read_text() == buggy, "nothing was written to disk"
    assert sorted(p.name for p in project.iterdir()) == ["train.py"]


def test_vscode_snippet_starts_the_server():
    settings = json.loads(snippet("vscode"))
    assert [settings["glspc.server.command"], *settings["glspc.server.commandArguments"]] == COMMAND
    assert settings["glspc.server.languageId"] == ["python"]


def test_helix_snippet_starts_the_server():
    languages = tomllib.loads(snippet("helix"))
    server = languages["language-server"]["freezelint"]
    assert [server["command"], *server["args"]] == COMMAND
    [python] = languages["language"]
    assert python["name"] == "python" and "freezelint" in python["language-servers"]


def test_jupyterlab_snippet_starts_the_server():
    config = json.loads(snippet("jupyterlab"))
    spec = config["LanguageServerManager"]["language_servers"]["freezelint"]
    assert spec["argv"] == COMMAND and spec["version"] == 2
    assert "python" in spec["languages"] and "text/x-ipython" in spec["mime_types"]


@NEEDS_NVIM
@pytest.mark.parametrize("name", ["neovim", "nvim-lspconfig", "neovim-0.7"])
def test_neovim_snippets_are_valid_lua_starting_the_server(name: str, tmp_path: Path):
    """Neovim 0.8+ and nvim-lspconfig cannot run on Debian's 0.7: their Lua is compiled (not run) by its LuaJIT."""
    code = snippet(name)
    assert re.search(r'cmd = \{ "freezelint", "server" \}', code)
    path = tmp_path / "snippet.lua"
    path.write_text(code)
    completed = subprocess.run(
        [NVIM, "--headless", "-i", "NONE", "-u", "NONE", "-c",
         f"lua local f, e = loadfile('{path}'); if not f then io.stderr:write(e) vim.cmd('cquit 3') end", "-c", "qa!"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stderr


def test_server_without_its_extra_says_how_to_install_it(tmp_path: Path):
    """`freezelint server` with no pygls: one line naming the extra, exit status 2 (no traceback)."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['pygls'] = None  # as if not installed: importing it fails\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    completed = subprocess.run(
        [sys.executable, "-m", "freezelint", "server"], env=env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        "freezelint: error: the language server needs pygls: pip install 'freezelint[server]'"
    ]
