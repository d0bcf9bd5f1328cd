"""What the replayed program calls into (`__freezelint__`), and what it observes while the program runs.

* line coverage of the script (the program reports each statement it reaches: `reached`);
* probes around freeze statements: which parameters each one froze or unfroze, how often it ran, and which modules
  it iterated (`parameters()`, `named_parameters()`, `requires_grad_()` called from its lines);
* every optimizer the script builds, with the parameters it received and which of them were trainable then;
* the models and optimizers each function of the script held when it returned;
* failures of replayed statements (one failing statement does not end the replay);
* the stops: the first `Trainer.train()`, `optimizer.step()` or forward pass of a model without weights ends the
  replay there (what the script may not do at all, the sandbox's audit hook refuses: `freezelint.runtime.audit`).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from freezelint.runtime.audit import Refused
from freezelint.runtime.instrument import Probe
from freezelint.runtime.loader import Loader, is_meta, script_line
from freezelint.runtime.slicer import Plan

MEASURING_BUDGET = 5_000_000  # parameter visits before per-iteration probes stop measuring
RECORDED_METHODS = ("parameters", "named_parameters", "requires_grad_", "modules", "named_modules", "children", "named_children")


class StopReplay(BaseException):
    """Training is about to start: the replay ends here (a BaseException, so the script's own `except Exception`
    handlers do not swallow it)."""

    def __init__(self, reason: str, line: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass
class Failure:
    line: int
    kind: str
    message: str

    def describe(self) -> str:
        return f"{self.kind}: {self.message}" if self.message else self.kind


@dataclass(eq=False)
class ProbeRecord:
    probe: Probe
    runs: int = 0
    frozen: dict[int, Any] = field(default_factory=dict)  # id -> parameter turned requires_grad=False here
    unfrozen: dict[int, Any] = field(default_factory=dict)  # id -> parameter turned requires_grad=True here
    stack: list[dict[int, bool] | None] = field(default_factory=list)
    incomplete: bool = False  # some runs were not measured (the measuring budget ran out)


@dataclass(eq=False)
class OptimizerRecord:
    optimizer: Any
    line: int | None
    frozen_at_build: set[int]  # ids of the parameters the script could see that were frozen when it was built

    @property
    def parameters(self) -> list[Any]:
        """What it holds now (`add_param_group` included)."""
        return [p for group in self.optimizer.param_groups for p in group["params"]]


@dataclass(eq=False)
class TrainerRecord:
    trainer: Any
    line: int | None


class Harness:
    """The `__freezelint__` object of one replay."""

    def __init__(self, path: str, plan: Plan, loader: Loader) -> None:
        self.path = path
        self.plan = plan
        self.loader = loader
        self.lines: Counter[int] = Counter()
        self.probes = {probe.id: ProbeRecord(probe) for probe in plan.probes}
        self.namespaces: list[dict[str, Any]] = []
        self.failures: list[Failure] = []
        self.optimizers: list[OptimizerRecord] = []
        self.trainers: list[TrainerRecord] = []
        self.calls: dict[int, list[tuple[str, Any]]] = {}  # script line -> (method, module) called there
        self.globals: dict[str, Any] = {}
        self.stopped: StopReplay | None = None
        self.refused: Refused | None = None  # what the sandbox refused, which ended the replay
        self.parameters: dict[int, Any] = {}  # every parameter seen, by id (keeps the ids stable)
        self.visits = 0  # parameters looked at by probes so far
        self.output = io.StringIO()  # what the script printed (argparse's errors end up here)

    # --- called by the instrumented program -------------------------------------------------------------------------

    def reached(self, start: int, end: int) -> None:
        """A statement of the script is about to run (its lines `start`-`end`, a compound statement's header)."""
        for line in range(start, end + 1):
            self.lines[line] += 1

    def enter(self, probe_id: int, namespace: dict[str, Any]) -> None:
        record = self.probes[probe_id]
        record.stack.append(self._snapshot(namespace) if self._affordable(record) else None)

    def leave(self, probe_id: int, namespace: dict[str, Any]) -> None:
        record = self.probes[probe_id]
        before = record.stack.pop() if record.stack else None
        record.runs += 1
        if before is None:
            record.incomplete = True
            return
        after = self._snapshot(namespace)
        for key, flag in after.items():
            old = before.get(key)
            if old is True and flag is False:
                record.frozen[key] = self.parameters[key]
                record.unfrozen.pop(key, None)
            elif old is False and flag is True:
                record.unfrozen[key] = self.parameters[key]
                record.frozen.pop(key, None)

    def capture(self, namespace: dict[str, Any]) -> None:
        kept = {name: value for name, value in namespace.items() if _worth_keeping(value)}
        if kept:
            self.namespaces.append(kept)

    def failed(self, line: int, error: BaseException) -> None:
        if isinstance(error, SystemExit) and error.code in (0, None):
            raise StopReplay("the script called sys.exit()", line) from None
        if isinstance(error, SystemExit):
            said = [text for text in self.output.getvalue().strip().splitlines() if text.strip()][-1:]
            message = f"the script exited with status {error.code}" + (f" ({said[0].strip()})" if said else "")
            if "argument" in message or "usage" in message:
                message += "; pass the script's arguments after `--`"
            self.failures.append(Failure(line, "SystemExit", message))
            return
        text = str(error).strip().splitlines()
        self.failures.append(Failure(line, type(error).__name__, text[0] if text else ""))

    # --- what the program holds ------------------------------------------------------------------------------------

    def modules(self, namespace: dict[str, Any] | None = None) -> list[Any]:
        """Every module the replay can see: loaded models, and modules bound in the given and captured scopes."""
        import torch

        found: dict[int, Any] = {}
        for loaded in self.loader.loaded:
            found.setdefault(id(loaded.model), loaded.model)
        for scope in [namespace or {}, self.globals, *self.namespaces]:
            for value in list(scope.values()):
                if isinstance(value, torch.nn.Module):
                    found.setdefault(id(value), value)
        for record in self.trainers:
            model = getattr(record.trainer, "model", None)
            if isinstance(model, torch.nn.Module):
                found.setdefault(id(model), model)
        return list(found.values())

    def _affordable(self, record: ProbeRecord) -> bool:
        """A loop's statements are measured on every iteration while the work stays small; a probe's first runs and
        whole loops are always measured."""
        return record.runs < 2 or self.visits < MEASURING_BUDGET

    def _snapshot(self, namespace: dict[str, Any]) -> dict[int, bool]:
        flags: dict[int, bool] = {}
        for module in self.modules(namespace):
            for parameter in module.parameters():
                key = id(parameter)
                if key not in flags:
                    self.parameters.setdefault(key, parameter)
                    flags[key] = bool(parameter.requires_grad)
        self.visits += len(flags)
        return flags

    # --- hooks into torch and transformers --------------------------------------------------------------------------

    @contextmanager
    def installed(self, stop_at_forward: bool, stop_at_trainer: bool) -> Iterator[Harness]:
        import torch

        harness = self
        path = self.path
        with ExitStack() as stack:
            # Calls of module methods from the script's own lines: which modules a freeze loop iterates.
            for method_name in RECORDED_METHODS:
                original = getattr(torch.nn.Module, method_name)
                stack.callback(setattr, torch.nn.Module, method_name, original)
                setattr(torch.nn.Module, method_name, _recording(original, method_name, path, self.calls))

            original_init = torch.optim.Optimizer.__init__

            def optimizer_init(optimizer, *args, **kwargs):
                original_init(optimizer, *args, **kwargs)
                frame = _script_frame(path)
                if frame is not None:
                    parameters = [p for group in optimizer.param_groups for p in group["params"]]
                    for parameter in parameters:
                        harness.parameters.setdefault(id(parameter), parameter)
                    flags = harness._snapshot(dict(frame.f_locals))
                    frozen = {key for key, flag in flags.items() if not flag}
                    harness.optimizers.append(OptimizerRecord(optimizer, frame.f_lineno, frozen))

            stack.callback(setattr, torch.optim.Optimizer, "__init__", original_init)
            # Patched for the replay (restored above): a wrapper that takes any arguments, not the method's type.
            torch.optim.Optimizer.__init__ = optimizer_init  # type: ignore[method-assign, assignment]

            def before_step(optimizer, args, kwargs):
                raise StopReplay("the first optimizer.step()", script_line(path))

            from torch.optim.optimizer import register_optimizer_step_pre_hook

            handle = register_optimizer_step_pre_hook(before_step)
            stack.callback(handle.remove)
            if stop_at_forward:
                def before_forward(module, args):
                    if is_meta(module):
                        raise StopReplay("the first forward pass (a model without weights cannot compute)", script_line(path))

                handle = torch.nn.modules.module.register_module_forward_pre_hook(before_forward)
                stack.callback(handle.remove)
            if stop_at_trainer:  # importing the Trainer costs seconds: only for scripts that use one
                import transformers

                original_train = transformers.Trainer.train

                def train(trainer, *args, **kwargs):
                    line = script_line(path)
                    harness.trainers.append(TrainerRecord(trainer, line))
                    raise StopReplay("the first Trainer.train()", line)

                stack.callback(setattr, transformers.Trainer, "train", original_train)
                transformers.Trainer.train = train  # type: ignore[method-assign, assignment]  # patched, as above
                # Building a Trainer creates its output directory; the sandbox lets the replay write only in its
                # private temporary directory (and training, which would fill it, never starts).
                arguments = transformers.TrainingArguments
                original_post_init = arguments.__post_init__

                def post_init(training_arguments, *args, **kwargs):
                    original_post_init(training_arguments, *args, **kwargs)
                    name = os.path.basename(os.path.normpath(str(training_arguments.output_dir or "trainer_output")))
                    training_arguments.output_dir = os.path.join(tempfile.gettempdir(), "trainer-output", name)

                stack.callback(setattr, arguments, "__post_init__", original_post_init)
                arguments.__post_init__ = post_init  # type: ignore[method-assign, assignment]  # patched, as above
            yield self

    # --- queries ----------------------------------------------------------------------------------------------------

    def ran(self, line: int) -> bool:
        return self.lines.get(line, 0) > 0

    def probe_at(self, row: int) -> ProbeRecord | None:
        """The probe whose region contains a line (the innermost one)."""
        best: ProbeRecord | None = None
        for record in self.probes.values():
            probe = record.probe
            if probe.start <= row <= probe.end and (best is None or probe.end - probe.start < best.probe.end - best.probe.start):
                best = record
        return best

    def modules_called_between(self, start: int, end: int, methods: tuple[str, ...] = RECORDED_METHODS) -> list[Any]:
        found: dict[int, Any] = {}
        for line, calls in self.calls.items():
            if start <= line <= end:
                for method, module in calls:
                    if method in methods:
                        found.setdefault(id(module), module)
        return list(found.values())


def _script_frame(path: str) -> Any:
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename != path:
        frame = frame.f_back  # type: ignore[assignment]
    return frame


def _worth_keeping(value: Any) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, (torch.nn.Module, torch.optim.Optimizer))


def _recording(original: Any, method: str, path: str, calls: dict[int, list[tuple[str, Any]]]) -> Any:
    def wrapper(module, *args, **kwargs):
        caller = sys._getframe(1)
        if caller.f_code.co_filename == path:
            entries = calls.setdefault(caller.f_lineno, [])
            if len(entries) < 64 and not any(m is module and name == method for name, m in entries):
                entries.append((method, module))
        return original(module, *args, **kwargs)

    wrapper.__name__ = original.__name__
    wrapper.__doc__ = original.__doc__
    return wrapper
