"""What many test modules share: where the checkout and its fixtures are, and running freezelint as a user would.

A plain module, not `conftest.py`: tests import it by name, and each directory's `conftest.py` (tests/runtime has
its own) would shadow another's under that one name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def run_cli(*args: str, cwd: Path | str | None = None, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m freezelint` as a user would, in a subprocess."""
    # This checkout's package, whatever directory the command runs in (not another copy installed in the venv).
    full_env = dict(os.environ, NO_COLOR="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "freezelint", *args],
        cwd=cwd or ROOT,
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


def run_json(*args: str, cwd: Path | str | None = None) -> list[dict]:
    completed = run_cli("--output-format", "json", *args, cwd=cwd)
    assert completed.returncode in (0, 1), completed.stderr
    return json.loads(completed.stdout)


def notebook_place(path: Path | str, cell: int, row: int, column: int = 1) -> tuple[int, int]:
    """Where a character of a notebook's cell is written in the file, found by searching the file for the JSON string
    that holds it: the 1-based line and column of the character at `column` of the cell's line `row`."""
    text = Path(path).read_text(encoding="utf-8-sig")
    source = json.loads(text)["cells"][cell - 1]["source"]
    if isinstance(source, list):  # one string per line, as Jupyter saves them
        element, prefix = source[row - 1], source[row - 1][: column - 1]
    else:
        lines = source.splitlines(keepends=True)
        element, prefix = source, "".join(lines[: row - 1]) + lines[row - 1][: column - 1]
    for ascii_only in (False, True):
        encoded = json.dumps(element, ensure_ascii=ascii_only)
        count = text.count(encoded)
        if count:
            assert count == 1, f"{encoded} is written more than once"
            offset = text.index(encoded) + len(json.dumps(prefix, ensure_ascii=ascii_only)) - 1
            start_of_line = text.rfind("\n", 0, offset) + 1
            return text.count("\n", 0, offset) + 1, offset - start_of_line + 1
    raise AssertionError(f"{element!r} not found in {path}")

