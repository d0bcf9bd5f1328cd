"""One file's runtime check, from its bytes to a JSON-ready result: facts, slice, replay, state, verdicts, findings.

`prepare` is static (the facts and the slice: no code of the script runs) and may run in the linting process;
`replay` runs the script's code, so it runs only in the sandbox (`freezelint.runtime.sandbox`).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import json
import os
import sys
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from freezelint.facts import Facts, OptimizerBuild, TrainerBuild
from freezelint.runtime import detectors
from freezelint.runtime.audit import Refused
from freezelint.runtime.checkers import StaticFinding, verdict
from freezelint.runtime.harness import Failure, Harness, StopReplay
from freezelint.runtime.loader import Loader
from freezelint.runtime.instrument import HARNESS
from freezelint.runtime.slicer import Plan, plan as make_plan
from freezelint.runtime.state import State

# Libraries imported in the linting process, before the sandbox starts, when the replay imports them: installed code
# (not the project's) whose import loads native code through ctypes, which the sandbox refuses (fsspec, under
# datasets, peft and the Trainer, does), and which every file would otherwise import again.
PRELOADED_LIBRARIES = frozenset(
    {
        "torch", "transformers", "peft", "accelerate", "trl", "bitsandbytes", "datasets", "evaluate", "timm",
        "torchvision", "torchaudio", "sentence_transformers", "diffusers", "lightning", "pytorch_lightning",
        "safetensors", "huggingface_hub", "numpy", "scipy", "pandas", "sklearn",
    }
)


@dataclass
class Request:
    path: str
    script_args: list[str] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    weights: bool = False
    exec_mode: bool = False
    findings: list[StaticFinding] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Request:
        data = json.loads(text)
        data["findings"] = [StaticFinding(**finding) for finding in data["findings"]]
        return cls(**data)


@dataclass
class Prepared:
    """The static half of a replay: the script's facts and the program to run (no code of the script ran)."""

    path: str
    facts: Facts
    program: Plan


def prepare(request: Request) -> Prepared:
    """Read, analyse and slice the script (raises `SourceError` or `SyntaxError` for a file that cannot be)."""
    from freezelint.analysis import collect
    from freezelint.decoding import decode
    from freezelint.linter import parse, run_with_deep_stack

    path = os.path.abspath(request.path)
    with open(path, "rb") as handle:
        source = decode(path, handle.read())
    facts = run_with_deep_stack(lambda: collect(source, parse(source)))
    program = make_plan(facts, source.text, path, exec_mode=request.exec_mode)
    return Prepared(path, facts, program)


def imported_libraries(prepared: Prepared) -> list[tuple[str, list[str]]]:
    """The preloadable libraries the program imports: (module, names imported from it)."""
    found: dict[str, list[str]] = {}
    for stmt in prepared.program.index.statements():
        if stmt.lineno not in prepared.program.kept_lines:
            continue
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.name.split(".")[0] in PRELOADED_LIBRARIES:
                    found.setdefault(alias.name, [])
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            if stmt.module.split(".")[0] in PRELOADED_LIBRARIES:
                found.setdefault(stmt.module, []).extend(a.name for a in stmt.names if a.name != "*")
    return list(found.items())


# What a replay may import without transformers being imported with it (anything else might: a local module, a
# library that wraps transformers).
WITHOUT_TRANSFORMERS = frozenset({"torch", "torchvision", "torchaudio", "timm", "numpy", "scipy", "pandas", "sklearn",
                                  "tqdm", "einops", "yaml", "fire", "typer", "click"})


def needs_transformers(prepared: Prepared) -> bool:
    """Whether the replay may use transformers (and freezelint must patch its loading functions before it runs)."""
    for stmt in prepared.program.index.statements():
        if stmt.lineno not in prepared.program.kept_lines:
            continue
        if isinstance(stmt, ast.ImportFrom) and (stmt.level or not stmt.module):
            return True  # a module of the project: it may import anything
        modules = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module] if isinstance(stmt, ast.ImportFrom) else []
        for module in modules:
            top = (module or "").split(".")[0]
            if top not in WITHOUT_TRANSFORMERS and top not in sys.stdlib_module_names:
                return True
    return False


def preload(prepared: Prepared) -> None:
    """Import, here, the installed libraries the replay will import (and the names it takes from lazy modules such as
    transformers'). A library that fails to import is left to the replay, which reports it on its line."""
    if any(isinstance(event, OptimizerBuild) for event in prepared.facts.events):
        import torch._dynamo  # noqa: F401 - the first optimizer a process builds imports it: seconds, once here
    for module, names in imported_libraries(prepared):
        try:
            imported = importlib.import_module(module)
            for name in names:
                getattr(imported, name, None)
        except Exception:  # noqa: BLE001 - the replay reports it
            continue


def prepare_libraries(request: Request) -> Prepared:
    prepared = prepare(request)
    preload(prepared)
    return prepared


def replay_sandboxed(request: Request, prepared: Prepared | None = None) -> dict[str, Any]:
    """`replay`, as the sandbox's replay process runs it: one thread for torch (a model on the meta device computes
    nothing, and waking a thread pool for each tensor the script initialises costs more than the work on a busy
    machine)."""
    import torch

    torch.set_num_threads(1)
    return replay(request, prepared)


def replay(request: Request, prepared: Prepared | None = None) -> dict[str, Any]:
    """Check one script at runtime (in the sandbox: the script's code runs here)."""
    started = time.perf_counter()
    if prepared is None:
        prepared = prepare(request)
    path, facts, program = prepared.path, prepared.facts, prepared.program
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
                    contextlib.redirect_stdout(harness.output), contextlib.redirect_stderr(harness.output):
                try:
                    exec(program.code, namespace)  # noqa: S102 - running the user's slice is the point
                except StopReplay as stop:
                    harness.stopped = stop
                except Refused as refused:  # the audit hook: the replay ends here (the report names it)
                    harness.refused = refused
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
        "unbuilt": [why for _, why in state.unbuilt_models()],
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
