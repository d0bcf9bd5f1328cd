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
