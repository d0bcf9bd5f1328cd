"""`--fix` never loses data: interrupted at any moment (Ctrl-C, `kill`, `kill -9`, a closed terminal), every file is
exactly as it was or exactly as an uninterrupted run writes it, with its mode; no temporary file and no process is
left behind. Two runs at once end with every file fixed.

Kill points are of two kinds. Exact ones: the run is started under an audit hook that counts what the worker does to
the files (each `open`, the temporary file's creation, `chmod`, `chown`, the rename) and sends the signal at the Nth
of these events, for every N. Timed ones: a larger tree, killed at moments spread over an uninterrupted run's length.
"""

from __future__ import annotations

import codecs
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import FIXTURES, ROOT
from figures import STRESS, count

BUGGY = (FIXTURES / "FRZ101" / "bert_attribute.py").read_text()
NOOPS = (FIXTURES / "FRZ104" / "unconsumed_map_and_generator.py").read_text()  # the fix adds lines
NOTEBOOK = FIXTURES / "notebooks" / "no_op_freezes.ipynb"

# (who receives it, signal): Ctrl-C reaches the whole process group; `kill PID` only the main process; `kill --
# -PGID`, `timeout` and service managers the whole group; a closed terminal sends SIGHUP to the group.
TARGETS = (("group", signal.SIGINT), ("main", signal.SIGTERM), ("group", signal.SIGTERM), ("main", signal.SIGKILL), ("group", signal.SIGHUP))
EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129, signal.SIGKILL: -9}

DRIVER = r'''
import os, signal, sys
tree, at, who, number, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
main, seen, busy = os.getpid(), 0, False
WATCHED = {"open", "tempfile.mkstemp", "os.chmod", "os.chown", "os.rename", "os.remove"}

def hook(event, args):
    global seen, busy
    if busy or os.getpid() == main or event not in WATCHED:
        return
    if event == "open" and not isinstance(args[0], int) and not str(args[0]).startswith(tree):
        return
    busy = True
    seen += 1
    if at == 0:  # counting run: one line per event
        descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(descriptor, f"{event}\n".encode())
        os.close(descriptor)
    elif seen == at:
        if who == "group":
            os.killpg(os.getpgid(0), number)
        else:
            os.kill(main, number)
    busy = False

sys.addaudithook(hook)
from freezelint.cli import main as freezelint
freezelint(["--fix", "--unsafe-fixes", "-j1", "--quiet", tree], prog_name="freezelint")
'''


def build_tree(root: Path, copies: int = 1) -> None:
    """Files of every kind a fix writes: LF, BOM with CRLF, latin-1 with a cookie, an executable, a notebook, a fix
    that adds lines, a file in a subdirectory; and one with nothing to fix."""
    root.mkdir()
    for index in range(copies):
        suffix = f"_{index}" if copies > 1 else ""
        (root / f"plain{suffix}.py").write_text(BUGGY)
        (root / f"bom_crlf{suffix}.py").write_bytes(codecs.BOM_UTF8 + BUGGY.replace("\n", "\r\n").encode())
        (root / f"latin1{suffix}.py").write_bytes(("# -*- coding: latin-1 -*-\n# café\n" + BUGGY).encode("latin-1"))
        (root / f"script{suffix}.py").write_text("#!/usr/bin/env python\n" + NOOPS)
        os.chmod(root / f"script{suffix}.py", 0o755)
        shutil.copy(NOTEBOOK, root / f"notebook{suffix}.ipynb")
        (root / "sub").mkdir(exist_ok=True)
        (root / "sub" / f"clean{suffix}.py").write_text("import torch\n")
        (root / "sub" / f"nested{suffix}.py").write_text(BUGGY)
        os.chmod(root / "sub" / f"nested{suffix}.py", 0o600)


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(root)): (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def run_env() -> dict[str, str]:
    return dict(os.environ, NO_COLOR="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict, dict]:
    """The tree before, and as an uninterrupted `--fix --unsafe-fixes` leaves it."""
    root = tmp_path_factory.mktemp("reference") / "tree"
    build_tree(root)
    before = snapshot(root)
    completed = subprocess.run(
        [sys.executable, "-m", "freezelint", "--fix", "--unsafe-fixes", "-j1", "--quiet", str(root)],
        env=run_env(), capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode in (0, 1), completed.stderr
    after = snapshot(root)
    changed = [name for name in before if before[name][0] != after[name][0]]
    assert len(changed) == 6 and all(before[name][1] == after[name][1] for name in before), "the fix itself works"
    return before, after


def live_processes(group: int) -> list[str]:
    """Processes of a process group that are still running (zombies waiting for their parent excluded)."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(entry)
    return alive


def assert_nothing_lost(root: Path, before: dict, after: dict, group: int) -> None:
    deadline = time.monotonic() + 15
    while live_processes(group) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not live_processes(group), "a worker was left running"
    now = snapshot(root)
    assert set(now) == set(before), f"files appeared or vanished: {sorted(set(now) ^ set(before))}"
    for name, (data, mode) in now.items():
        assert data in (before[name][0], after[name][0]), f"{name} is neither its old nor its new self"
        assert mode == before[name][1], f"{name} lost its mode"


def start(command: list[str], output: Path) -> subprocess.Popen:
    """A run in a process group of its own, its output in a file (an orphaned worker holding a pipe open would make
    waiting for the output hang; the file lets the test see that worker instead)."""
    with open(output, "wb") as handle:
        return subprocess.Popen(command, env=run_env(), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def finish(process: subprocess.Popen, output: Path) -> subprocess.CompletedProcess:
    try:
        process.wait(timeout=300)
    finally:
        text = output.read_text(errors="replace")
        output.unlink()
    completed = subprocess.CompletedProcess(process.args, process.returncode, text, text)
    completed.group = process.pid  # type: ignore[attr-defined]
    return completed


def interrupted_run(root: Path, at: int, who: str, number: int, log: Path) -> subprocess.CompletedProcess:
    output = log.with_suffix(".out")
    process = start([sys.executable, "-c", DRIVER, str(root), str(at), who, str(int(number)), str(log)], output)
    return finish(process, output)


def test_interrupted_at_every_step_of_the_writes(tmp_path, reference):
    before, after = reference
    counting = tmp_path / "count"
    build_tree(counting)
    log = tmp_path / "events.log"
    interrupted_run(counting, 0, "main", signal.SIGTERM, log)
    events = log.read_text().splitlines()
    assert {"open", "tempfile.mkstemp", "os.chmod", "os.rename"} <= set(events), events
    assert events.count("os.rename") == 6, "one rename per fixed file"

    points = 0
    # Every event, each with one of the ways a run gets stopped in turn (each with all of them with FREEZELINT_STRESS).
    plan = [
        (at, target)
        for at in range(1, len(events) + 1)
        for index, target in enumerate(TARGETS)
        if STRESS > 1 or index == at % len(TARGETS)
    ]
    for at, (who, number) in plan:
        root = tmp_path / f"run_{at}_{who}_{number}"
        build_tree(root)
        completed = interrupted_run(root, at, who, number, log)
        assert "Traceback" not in completed.stderr, completed.stderr
        assert completed.returncode == EXIT_STATUS[number], (at, who, number, completed.returncode, completed.stderr)
        assert_nothing_lost(root, before, after, completed.group)
        points += 1
        shutil.rmtree(root)
    count(f"exact kill points tested during --fix (of {len(events)} file events; nothing lost, no temporary file, no worker left)", points)


def copy_of(name: str, reference: dict) -> tuple[bytes, int]:
    """What an uninterrupted run writes for `name` in a tree of several copies (`plain_3.py`, `sub/nested_3.py`):
    the same as for the reference tree's one copy (`plain.py`, `sub/nested.py`)."""
    path = Path(name)
    return reference[str(path.with_name(path.stem.rsplit("_", 1)[0] + path.suffix))]


def test_interrupted_at_moments_spread_over_a_run(tmp_path, reference):
    copies = 12
    template = tmp_path / "template"
    build_tree(template, copies)
    before = snapshot(template)
    finished = tmp_path / "finished"
    shutil.copytree(template, finished)
    command = [sys.executable, "-m", "freezelint", "--fix", "--unsafe-fixes", "-j2", "-q"]
    started = time.monotonic()
    uninterrupted = subprocess.run([*command, str(finished)], env=run_env(), capture_output=True, text=True, timeout=300)
    length = time.monotonic() - started
    assert uninterrupted.returncode in (0, 1) and "Traceback" not in uninterrupted.stderr, uninterrupted.stderr
    after = snapshot(finished)
    assert set(after) == set(before) and len(before) == 7 * copies
    assert after == {name: copy_of(name, reference[1]) for name in before}, "every copy fixed as the reference tree is"

    moments = 6 * STRESS
    for index in range(moments):
        who, number = TARGETS[index % len(TARGETS)]
        delay = length * (index + 1) / (moments + 1)
        for attempt in range(4):  # a run that ends before its moment was not interrupted: try again, earlier
            root = tmp_path / f"run_{index}_{attempt}"
            shutil.copytree(template, root)
            output = tmp_path / "output.txt"
            process = start([*command, str(root)], output)
            time.sleep(delay)
            if process.poll() is None:  # still running (and not yet reaped, so its pid and group are its own)
                (os.killpg if who == "group" else os.kill)(process.pid, number)
            completed = finish(process, output)
            assert "Traceback" not in completed.stderr, completed.stderr
            assert_nothing_lost(root, before, after, process.pid)
            shutil.rmtree(root)
            if completed.returncode == EXIT_STATUS[number]:
                break
            assert completed.returncode in (0, 1), (who, number, completed.returncode, completed.stderr)
            count("timed runs that ended before their moment (tried again, earlier)")
            delay /= 2
        else:
            pytest.fail(f"every run ended before its signal ({who}, {number!r}), the last after {delay * 2:.2f}s")
    count("timed kill points tested during --fix on a tree of 84 files (nothing lost)", moments)


def test_two_fix_runs_at_once_end_with_every_file_fixed(tmp_path, reference):
    before, after = reference
    for attempt in range(3 * STRESS):
        root = tmp_path / f"tree_{attempt}"
        build_tree(root)
        command = [sys.executable, "-m", "freezelint", "--fix", "--unsafe-fixes", "-j2", "--output-format", "json", str(root)]
        runs = [subprocess.Popen(command, env=run_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for run in runs:
            out, err = run.communicate(timeout=300)
            assert run.returncode in (0, 1) and "Traceback" not in err, err
            json.loads(out)
            for line in err.strip().splitlines():  # the run that found a file already fixed by the other says so
                assert line.endswith("notice: not fixed: the file changed while it was being checked"), line
        assert snapshot(root) == after, "every file valid and fixed, modes kept"
        assert not [p for p in root.rglob("*") if p.name.endswith(".freezelint")]
        count("concurrent --fix pairs on one tree (every file fixed)")


def test_the_baseline_is_written_whole_or_not_at_all(tmp_path):
    """`--write-baseline` replaces the baseline like a fix replaces a file: never a truncated baseline, its mode kept;
    a new one gets the usual permissions; a read-only one is a one-line error."""
    (tmp_path / "train.py").write_text(BUGGY)
    baseline = tmp_path / "baseline.json"
    mask = os.umask(0)
    os.umask(mask)
    command = [sys.executable, "-m", "freezelint", ".", "--baseline", "baseline.json", "--write-baseline", "--no-cache"]
    first = subprocess.run(command, cwd=tmp_path, env=run_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(baseline.stat().st_mode) == 0o666 & ~mask
    os.chmod(baseline, 0o640)
    (tmp_path / "other.py").write_text(BUGGY)
    second = subprocess.run(command, cwd=tmp_path, env=run_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and "Wrote 2 known findings" in second.stdout
    assert stat.S_IMODE(baseline.stat().st_mode) == 0o640 and len(json.loads(baseline.read_text())["findings"]) == 2
    os.chmod(baseline, 0o440)
    refused = subprocess.run(command, cwd=tmp_path, env=run_env(), capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and refused.stderr == (
        "baseline.json: error: cannot write the baseline: the file is read-only (no owner write permission)\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["baseline.json", "other.py", "train.py"], "no temporary file"
