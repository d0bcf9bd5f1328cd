"""One file's runtime check, from its bytes to a JSON-ready result: facts, slice, replay, state, verdicts, findings.

Runs in a process of its own (`command.run_isolated`): the script's own code runs here.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import sys
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from freezelint.facts import TrainerBuild
from freezelint.runtime import detectors
from freezelint.runtime.checkers import StaticFinding, verdict
from freezelint.runtime.harness import Failure, Harness, StopReplay
from freezelint.runtime.loader import Loader
from freezelint.runtime.slicer import HARNESS, plan as make_plan
from freezelint.runtime.state import State


@dataclass
class Request:
    path: str
    script_args: list[str] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    weights: bool = False
    exec_mode: bool = False
    findings: list[StaticFinding] = field(default_factory=list)


def replay(request: Request) -> dict[str, Any]:
    """Check one script at runtime."""
    from freezelint.analysis import collect
    from freezelint.linter import parse, run_with_deep_stack
    from freezelint.source import Source

    started = time.perf_counter()
    path = os.path.abspath(request.path)
    with open(path, "rb") as handle:
        source = Source.from_bytes(path, handle.read())
    facts = run_with_deep_stack(lambda: collect(source, parse(source)))
    program = make_plan(facts, source.text, path, exec_mode=request.exec_mode)
    loader = Loader(path, request.overrides, request.weights, allow_remote_code=request.exec_mode)
    harness = Harness(path, program, loader)
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": path, "__builtins__": builtins, HARNESS: harness}
    harness.globals = namespace
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [path, *request.script_args]
    sys.path.insert(0, os.path.dirname(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            uses_trainer = request.exec_mode and any(isinstance(e, TrainerBuild) for e in facts.all_events(uncalled=True))
            with loader.installed(), harness.installed(not request.weights, uses_trainer), \
                    contextlib.redirect_stdout(harness.output), contextlib.redirect_stderr(harness.output), harness.tracing():
                try:
                    exec(program.code, namespace)  # noqa: S102 - running the user's slice is the point
                except StopReplay as stop:
                    harness.stopped = stop
                except SystemExit as error:  # --exec: the script exits by itself
                    if error.code not in (0, None):
                        harness.failures.append(_failure(error, path))
                except Exception as error:  # --exec: the script itself failed
                    harness.failures.append(_failure(error, path))
            state = State(facts, program, harness, loader)
            found = detectors.detect(state)
            verdicts = [verdict(finding, state, found) for finding in request.findings]
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return {
        "mode": "exec" if request.exec_mode else "slice",
        "statements": program.statements,
        "models": [top.summary() for top in state.models],
        "verdicts": [asdict(v) for v in verdicts],
        "found": [asdict(f) for f in found if not f.consumed],
        "blockers": [
            {"needed_by": line, "line": b.line, "code": b.code, "reason": b.reason}
            for line, b in sorted(program.blockers.items())
        ],
        "failures": [asdict(f) for f in _root_failures(harness.failures)],
        "stopped": {"reason": harness.stopped.reason, "line": harness.stopped.line} if harness.stopped else None,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _failure(error: BaseException, path: str) -> Failure:
    line = 0
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == path:
            line = lineno
    text = str(error).strip().splitlines()
    if isinstance(error, SystemExit):
        return Failure(line, "SystemExit", f"the script exited with status {error.code}")
    return Failure(line, type(error).__name__, text[0] if text else "")


def _root_failures(failures: list[Failure]) -> list[Failure]:
    """The failures worth reading: a NameError after an earlier failure is that failure's consequence."""
    roots: list[Failure] = []
    for failure in failures:
        if roots and failure.kind in ("NameError", "UnboundLocalError", "AttributeError"):
            continue
        if any(f.kind == failure.kind and f.message == failure.message for f in roots):
            continue
        roots.append(failure)
    return roots
