"""The static check is inert: it never imports, runs or connects anything for the code it reads.

The linted project is hostile: every file, when imported or run, leaves a marker, opens a connection, starts a
process, exits or loops forever; the project also has a `click.py`, `libcst.py`, `transformers.py` and `torch.py`
that would be imported instead of the real ones by a careless import path. freezelint lints and fixes it under an
audit hook (inherited by its worker processes) that records every socket operation, every process started and every
code object run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli_helpers import FIXTURES, ROOT
from figures import count

SIDE_EFFECT = "open({marker!r}, 'w').write('ran')\n"
HOSTILE = {
    "train.py": (FIXTURES / "FRZ101" / "bert_attribute.py").read_text() + textwrap.dedent('''
        import socket, subprocess, sys, urllib.request
        {effect}
        socket.create_connection(("198.51.100.7", 80), timeout=1)  # TEST-NET-2: never routed
        urllib.request.urlopen("http://198.51.100.7/model.bin", timeout=1)
        subprocess.run(["touch", {marker!r} + ".subprocess"])
        if __name__ == "__main__":
            {effect}
        sys.exit(3)
    '''),
    "loops.py": "import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.requires_grad = False\n{effect}while True:\n    pass\n",
    "package/__init__.py": "{effect}from transformers import AutoModel\n",
    "package/helpers.py": "from transformers import AutoModel\ndef freeze(model):\n    {effect}    model.requires_grad = False\n",
    # Shadowing the modules freezelint itself (or a careless analysis) would import.
    "click.py": "{effect}", "libcst.py": "{effect}", "transformers.py": "{effect}", "torch.py": "{effect}",
}
AUDITED = r'''
import os, sys
log = sys.argv.pop(1)
WATCHED = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile", "exec", "import")

def hook(event, args):
    if not event.startswith(WATCHED):
        return
    detail = ""
    if event == "exec":
        detail = getattr(args[0], "co_filename", "")
    elif event == "import":
        detail = str(args[0])
    elif event.startswith("socket."):
        detail = repr(args)[:200]
    line = f"{os.getpid()} {event} {detail}\n".encode()
    descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(descriptor, line)
    os.close(descriptor)

sys.addaudithook(hook)
assert sys.path[0] == ""  # `python -c`, like `python -m`, puts the current directory (the linted project) first
import runpy
runpy.run_module("freezelint", run_name="__main__", alter_sys=True)
'''


def hostile_project(root: Path) -> list[Path]:
    markers = []
    for name, text in HOSTILE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        marker = root.parent / f"marker-{name.replace('/', '-')}"
        markers.append(marker)
        path.write_text(text.replace("{effect}", SIDE_EFFECT.format(marker=str(marker))).replace("{marker!r}", repr(str(marker))))
    return markers


@pytest.mark.parametrize("mode", [(), ("--fix", "--unsafe-fixes")], ids=["lint", "fix"])
def test_static_mode_never_imports_runs_or_connects(tmp_path, mode):
    project = tmp_path / "project"
    project.mkdir()
    markers = hostile_project(project)
    log = tmp_path / "audit.log"
    env = dict(os.environ, NO_COLOR="1", PYTHONPATH=str(ROOT))
    completed = subprocess.run(
        [sys.executable, "-c", AUDITED, str(log), "--output-format", "json", "-j2", *mode, "."],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode in (0, 1), completed.stderr
    codes = sorted(f["code"] for f in json.loads(completed.stdout))
    # train.py, loops.py and package/helpers.py (a helper's `model` argument, whatever the caller passes),
    # found (or fixed) statically
    assert codes == ([] if mode else ["FRZ101", "FRZ101", "FRZ101"]), codes
    assert not [marker for marker in markers if marker.exists() or Path(f"{marker}.subprocess").exists()]

    events = log.read_text().splitlines()
    processes = {line.split()[0] for line in events}
    assert len(processes) >= 2, "the audit covered the worker processes too"
    assert not [line for line in events if " socket." in line], "no socket, not even a local one"
    assert not [line for line in events if " subprocess." in line or " os.system" in line or " os.exec" in line
                or " os.posix_spawn" in line or " os.spawn" in line]
    project_code = [line for line in events if " exec " in line and str(project) in line]
    assert not project_code, "no code of the project ran"
    imported = {line.split(" ", 2)[2] for line in events if " import " in line}
    assert not imported & {"train", "loops", "package", "package.helpers"}
    for shadowed in ("click", "libcst"):  # imported, but the real ones
        assert shadowed in imported
    count("hostile files linted and fixed under an audit hook (nothing imported, run or connected)", len(HOSTILE))
