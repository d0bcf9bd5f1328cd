"""A guard for real training runs: what is trainable when training starts, and whether the first steps did what the
freezing meant.

    # Hugging Face Trainer
    trainer = Trainer(model=model, args=args, callbacks=[FreezelintCallback()])

    # a custom loop
    with guard(model, optimizer):
        for batch in loader:
            ...
            optimizer.step()

At train start it prints the trainable table and raises `NothingTrainableError` (FRZ301) when nothing is trainable;
it reports `requires_grad` stored on a module (FRZ101) or misspelled (FRZ102). After the first `audit_after` optimizer
steps it audits: trainable parameters the optimizer does not hold (FRZ202), trainable parameters that got no gradient
(FRZ501: reentrant checkpointing with frozen inputs, or an unused parameter), frozen parameters that changed anyway
(FRZ206: stale gradients, momentum or weight decay), frozen BatchNorm layers whose running statistics moved (FRZ503),
and frozen parameters held by the optimizer (FRZ201, a note). Changes are detected on checksums of a strided sample
of each tensor (a few hundred values), so the audit costs little. Everything it prints goes through `tqdm.write`, so
a progress bar on the same terminal is redrawn below it instead of being cut in two.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, TextIO

import torch
from tqdm.auto import tqdm
from transformers import TrainerCallback

from freezelint import knowledge
from freezelint.runtime.report import model_block
from freezelint.runtime.state import TopModel

SAMPLE_VALUES = 256  # values checksummed per tensor


class NothingTrainableError(RuntimeError):
    """FRZ301: training was about to start with no trainable parameter."""


@dataclass(frozen=True)
class GuardFinding:
    code: str
    level: str  # "error", "warning", "note"
    message: str

    def __str__(self) -> str:
        return f"{self.code} [{self.level}] {self.message}"


def _sample(tensor: torch.Tensor) -> torch.Tensor:
    flat = tensor.detach().reshape(-1)
    stride = max(1, flat.numel() // SAMPLE_VALUES)
    return flat[::stride][:SAMPLE_VALUES].to("cpu", copy=True)


def _changed(before: torch.Tensor, tensor: torch.Tensor) -> bool:
    return not torch.equal(before, _sample(tensor))


class FreezeGuard:
    """Watches one model (and its optimizer) through the start of a real training run."""

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        *,
        audit_after: int = 2,
        stream: TextIO | None = None,
        name: str = "model",
        table: bool = True,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.audit_after = audit_after
        self.stream = stream
        self.name = name
        self.table = table
        self.steps = 0
        self.audited = False
        self.findings: list[GuardFinding] = []
        self._samples: dict[int, torch.Tensor] = {}
        self._buffers: dict[str, torch.Tensor] = {}
        self._trainable_at_start: dict[int, bool] = {}
        self._hooks: list[Any] = []

    # --- the two moments ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Train start: the table, hard failure on zero trainable, attribute mistakes, checksums for the audit."""
        top = TopModel(self.model, self.name)
        if self.table:
            self._print(model_block(top.summary()).rstrip("\n"))
        if top.total and top.trainable == 0:
            message = (
                f"`{self.name}` has no trainable parameter: all {top.total:,} are frozen. The first backward() fails "
                "('element 0 of tensors does not require grad'), or training runs and changes nothing. Unfreeze what "
                "should learn before training."
            )
            self._report("FRZ301", "error", message)
            raise NothingTrainableError(f"FRZ301 {message}")
        for name, module in self.model.named_modules():
            if "requires_grad" in module.__dict__:
                self._report(
                    "FRZ101", "error",
                    f"`{name or self.name}.requires_grad` is a plain attribute on a module: it froze nothing "
                    f"({top.trainable:,} of {top.total:,} parameters trainable). Use `requires_grad_(False)`.",
                )
        misspelled = knowledge.MISSPELLED_REQUIRES_GRAD | knowledge.FOREIGN_FREEZE_ATTRIBUTES
        stores = sorted({a for _, p in top.named for a in misspelled & set(getattr(p, "__dict__", {}))})
        for attribute in stores:
            self._report("FRZ102", "error", f"`{attribute}` is set on parameters of `{self.name}`: torch ignores it.")
        for _, parameter in top.named:
            self._samples[id(parameter)] = _sample(parameter)
            self._trainable_at_start[id(parameter)] = parameter.requires_grad
        for name, layer in self._frozen_batchnorm():
            for buffer in ("running_mean", "running_var"):
                value = getattr(layer, buffer, None)
                if isinstance(value, torch.Tensor):
                    self._buffers[f"{name}.{buffer}"] = _sample(value)

    def audit(self) -> list[GuardFinding]:
        """After the first steps: coverage and checksums."""
        self.audited = True
        top = TopModel(self.model, self.name)
        held = {id(p) for group in self.optimizer.param_groups for p in group["params"]} if self.optimizer else None
        not_held, unchanged, moved, frozen_held = [], [], [], []
        changed_any = False
        for name, parameter in top.named:
            before = self._samples.get(id(parameter))
            changed = before is not None and _changed(before, parameter)
            if parameter.requires_grad:
                changed_any = changed_any or changed
                if held is not None and id(parameter) not in held:
                    not_held.append(name)
                elif not changed:
                    unchanged.append(name)
            else:
                if changed and not self._trainable_at_start.get(id(parameter), True):
                    moved.append(name)
                if held is not None and id(parameter) in held:
                    frozen_held.append(name)
        steps = f"after {self.steps} optimizer step{'s' if self.steps != 1 else ''}"
        if not_held:
            self._report(
                "FRZ202", "error",
                f"{len(not_held)} trainable parameter tensors of `{self.name}` are not in the optimizer (e.g. "
                f"`{not_held[0]}`): they compute gradients but never update. Build the optimizer over all parameters "
                "or add them (and rebuild the scheduler).",
            )
        if unchanged and changed_any:  # when nothing changed at all, the learning rate may simply still be 0
            self._report(
                "FRZ501", "warning",
                f"{len(unchanged)} trainable parameter tensors of `{self.name}` did not change {steps} (e.g. "
                f"`{unchanged[0]}`): no gradient reaches them (reentrant gradient checkpointing with frozen inputs "
                "does this), or they are unused.",
            )
        if moved:
            self._report(
                "FRZ206", "warning",
                f"{len(moved)} frozen parameter tensors of `{self.name}` changed {steps} (e.g. `{moved[0]}`): "
                "gradients left from before the freeze, momentum or weight decay still move them. Set `p.grad = None` "
                "when freezing.",
            )
        drifted = [key for key, before in self._buffers.items() if _changed(before, self.model.get_buffer(key))]
        if drifted:
            layers = sorted({key.rsplit(".", 1)[0] for key in drifted})
            self._report(
                "FRZ503", "warning",
                f"{len(layers)} frozen BatchNorm layers of `{self.name}` changed their running statistics {steps} "
                f"(e.g. `{layers[0]}`): they run in train mode. Keep them in eval mode after every `model.train()`.",
            )
        if frozen_held:
            self._report(
                "FRZ201", "note",
                f"the optimizer holds {len(frozen_held)} frozen parameter tensors of `{self.name}` (harmless while "
                "their grad stays None).",
            )
        return self.findings

    def step(self) -> None:
        self.steps += 1
        if not self.audited and self.steps >= self.audit_after:
            self.audit()

    # --- a context manager for custom loops ----------------------------------------------------------------------

    def __enter__(self) -> FreezeGuard:
        self.start()

        def after_step(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            if self.optimizer is None and any(
                any(p is q for q in self.model.parameters()) for group in optimizer.param_groups for p in group["params"][:1]
            ):
                self.optimizer = optimizer
            if optimizer is self.optimizer:
                self.step()

        if self.optimizer is not None:
            self._hooks.append(self.optimizer.register_step_post_hook(after_step))
        else:
            from torch.optim.optimizer import register_optimizer_step_post_hook

            self._hooks.append(register_optimizer_step_post_hook(after_step))
        return self

    def __exit__(self, *exc: Any) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        if exc[0] is None and self.steps and not self.audited:
            self.audit()

    # --- helpers ------------------------------------------------------------------------------------------------

    def _frozen_batchnorm(self) -> list[tuple[str, torch.nn.Module]]:
        return [
            (name, layer)
            for name, layer in self.model.named_modules()
            if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm)
            and list(layer.parameters())
            and not any(p.requires_grad for p in layer.parameters())
            and layer.track_running_stats
        ]

    def _report(self, code: str, level: str, message: str) -> None:
        finding = GuardFinding(code, level, message)
        self.findings.append(finding)
        self._print(f"freezelint: {finding}")

    def _print(self, text: str) -> None:
        # Through tqdm: the Trainer's progress bar is cleared, the text written on lines of its own, the bar redrawn.
        tqdm.write(text, file=self.stream or sys.stderr)


def guard(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None, *, audit_after: int = 2,
    stream: TextIO | None = None, name: str = "model",
) -> FreezeGuard:
    """`with guard(model, optimizer): <training loop>`: the table at the start, the audit after `audit_after` steps
    (of `optimizer`, or of any optimizer holding the model's parameters when none is given)."""
    return FreezeGuard(model, optimizer, audit_after=audit_after, stream=stream, name=name)


class FreezelintCallback(TrainerCallback):
    """The guard as a transformers `TrainerCallback`: `Trainer(..., callbacks=[FreezelintCallback()])`."""

    def __init__(self, audit_after: int = 2, stream: TextIO | None = None) -> None:
        self.audit_after = audit_after
        self.stream = stream
        self.guard: FreezeGuard | None = None

    @property
    def findings(self) -> list[GuardFinding]:
        return self.guard.findings if self.guard is not None else []

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None, **kwargs: Any
    ) -> None:
        if model is None:
            return
        self.guard = FreezeGuard(model, _unwrap(optimizer), audit_after=self.audit_after, stream=self.stream)
        self.guard.start()

    def on_step_end(self, args: Any, state: Any, control: Any, optimizer: Any = None, **kwargs: Any) -> None:
        if self.guard is None:
            return
        if self.guard.optimizer is None:
            self.guard.optimizer = _unwrap(optimizer)
        self.guard.step()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.guard is not None and self.guard.steps and not self.guard.audited:
            self.guard.audit()


def _unwrap(optimizer: Any) -> torch.optim.Optimizer | None:
    """accelerate wraps the Trainer's optimizer; the parameter groups are the wrapped one's."""
    return getattr(optimizer, "optimizer", optimizer)
