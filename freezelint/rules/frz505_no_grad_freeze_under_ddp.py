"""## What it does
Finds a sub-module run under `torch.no_grad()` (or `inference_mode()`, or with its output `.detach()`ed) inside a
model's `forward`, as a way to freeze it, while its parameters still require grad and the model trains through
`DistributedDataParallel` (directly, or by `accelerator.prepare(...)` / `fabric.setup(...)`).

## Why is this bad?
Running a backbone without gradients does keep it fixed, but its parameters still say `requires_grad=True`. DDP
waits for a gradient of every parameter that requires grad; these never get one, so the second iteration fails with
`RuntimeError: Expected to have finished reduction in the prior iteration before starting a new one`. On a single
process it is only untidy: the parameters count as trainable and sit in the optimizer. DDP with
`find_unused_parameters=True` or `static_graph=True` tolerates it (the rule then stays silent), at the cost of
searching the graph for unused parameters.

## Example
```python
class Net(nn.Module):
    def forward(self, x):
        with torch.no_grad():
            features = self.backbone(x)  # still requires grad
        return self.head(features)

ddp_model = DistributedDataParallel(Net())
```

Use instead, freeze the parameters as well:
```python
class Net(nn.Module):
    def __init__(self):
        ...
        self.backbone.requires_grad_(False)
```

## Fix safety
No fix: where to freeze (`__init__`, the training script) is the author's choice.

## Runtime mode
No runtime verdict: the replay runs one process on CPU, and the mistake needs `DistributedDataParallel` checking for
unused parameters across processes.

## References
- tests/runtime/test_distributed_runtime.py (gloo, 2 processes): `test_a_backbone_run_without_gradients_fails_under_ddp`
  (`no_grad` and `.detach()`), `test_a_frozen_or_tolerated_no_grad_backbone_trains_under_ddp` (frozen as well,
  `find_unused_parameters=True`, `static_graph=True`) and `test_a_no_grad_backbone_is_harmless_on_one_process`.
- torch 2.13 `torch/nn/parallel/distributed.py`: `_build_params_for_reducer` registers every parameter that
  requires grad, and the reducer waits for each one's gradient; the `DistributedDataParallel` docstring on
  `find_unused_parameters` and `static_graph`.
"""

from __future__ import annotations

from typing import Iterator

import libcst as cst
import libcst.matchers as m

from freezelint import knowledge
from freezelint.facts import (
    Facts,
    Forward,
    FreezeOp,
    ModelSource,
    ModuleRef,
    OpaqueUse,
    PeftApply,
    Wrap,
    as_ref,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.distributed import WRAPS, ddp_wraps, tolerates_unused, wrap_fields

# The message by wrap kind (as in `WRAPS`).
MESSAGES = {
    wrap: (
        "`{sub}` runs {how} in `{function}`, as if frozen, but its parameters still require grad, and `{wrapped}` "
        "trains through " + wrap_name + ": DDP waits for a gradient of every parameter that requires grad, these never "
        f"get one, and the second iteration fails with `{knowledge.DDP_UNUSED_ERROR}`. Freeze them too "
        "(`{sub}.requires_grad_(False)` where the model is built)."
    )
    for wrap, wrap_name in WRAPS.items()
}
# How the sub-module runs without gradients, by whether it runs under `torch.no_grad()`.
HOWS = {True: "under `torch.no_grad()`", False: "with its output detached"}


@rule("FRZ505", "no-grad-freeze-under-ddp", Level.WARNING, tokens=(knowledge.DDP_TOKENS, knowledge.DDP_LIBRARY_TOKENS, knowledge.NO_GRAD_TOKENS))
def no_grad_freeze_under_ddp(facts: Facts) -> Iterator[Report]:
    wraps = ddp_wraps(facts)
    if not wraps:
        return
    forwards = facts.of(Forward, uncalled=True)
    through_ddp = [
        forward for forward in facts.of(Forward)
        if forward.module.wrapper in knowledge.DDP_WRAP_KINDS and not forward.where.no_grad
    ]
    reported: set[int] = set()
    for forward in forwards:
        outer = next((d for d in through_ddp if any(site is d.node for site in forward.where.calls)), None)
        if outer is None or id(forward.node) in reported or not _without_gradients(forward):
            continue
        sub = forward.module
        if not ModuleRef(outer.module.model).contains(sub) or not _has_parameters(sub) or _frozen_somewhere(facts, sub):
            continue
        inside = [f for f in forwards if any(site is outer.node for site in f.where.calls)]
        if any(other.module.overlaps(sub) and not _without_gradients(other) for other in inside):
            continue  # also run with gradients in the same forward (a siamese branch, the other arm of an `if`)
        wrap = next((w for w in wraps if w.kind == outer.module.wrapper and w.module.overlaps(outer.module)), None)
        if wrap is None or tolerates_unused(facts, wrap):
            continue
        reported.add(id(forward.node))
        yield Report(forward.node, _message(facts, forward, wrap))


def _without_gradients(forward: Forward) -> bool:
    return forward.where.no_grad or _detached(forward) is not None


def _detached(forward: Forward) -> cst.Call | None:
    """The `.detach()` of the output of `self.backbone(x)` (`self.backbone(x).detach()`, `self.encoder(...)
    .last_hidden_state.detach()`, `self.backbone(x)[0].detach()`) in the same statement, if there is one."""
    statement = forward.where.statement
    if statement is None:
        return None
    for detach in m.findall(statement, m.Call(func=m.Attribute(attr=m.Name("detach")))):
        if not (isinstance(detach, cst.Call) and isinstance(detach.func, cst.Attribute)):
            continue  # never: the matcher found only these; the test tells the type checker so
        value = detach.func.value
        while isinstance(value, (cst.Attribute, cst.Subscript)) and value is not forward.node:
            value = value.value
        if value is forward.node:
            return detach
    return None


def _has_parameters(ref: ModuleRef) -> bool:
    """The sub-module certainly holds parameters: a model or layer with some, or a known sub-module of a library model."""
    if not ref.path:
        model = ref.model
        return not (model.source is ModelSource.LAYER and model.class_name in knowledge.PARAMETER_FREE_LAYERS)
    return ref.is_module and ref.model.source is not ModelSource.CUSTOM


def _frozen_somewhere(facts: Facts, sub: ModuleRef) -> bool:
    """Anything in the file that may freeze (part of) it, wherever and whenever it runs, or hand it to code the
    analysis cannot see."""
    for event in facts.all_events(uncalled=True):
        if isinstance(event, FreezeOp) and event.value is not True:
            if event.module is None or event.module.overlaps(sub) or _same_attribute(event.module, sub):
                return True
        elif isinstance(event, OpaqueUse) and event.module.overlaps(sub):
            return True
        elif isinstance(event, PeftApply):
            values = (*event.model.candidates(), *event.result.candidates())
            if any((ref := as_ref(value)) is not None and ref.overlaps(sub) for value in values):
                return True
    return False


def _same_attribute(frozen: ModuleRef, sub: ModuleRef) -> bool:
    """A freeze in a method walked on its own (on no instance: `def freeze_backbone(self)` nothing here calls) of all
    of `self`, or of the attribute that holds `sub`."""
    if not frozen.model.abstract:
        return False
    if not frozen.path:
        return True
    attribute = frozen.path[0]
    if sub.path:
        return sub.path[0] == attribute
    return any(name.rsplit(".", 1)[-1] == attribute for name in sub.model.names)


def _message(facts: Facts, forward: Forward, wrap: Wrap) -> Message:
    call = forward.node
    kind, fields = wrap_fields(facts, wrap)
    fields |= {
        "sub": facts.code(call.func) if isinstance(call, cst.Call) else forward.module.describe(),
        "how": HOWS[bool(forward.where.no_grad)],
        "function": forward.where.function or "forward",
        "wrapped": wrap.module.describe(),
    }
    return Message(MESSAGES[kind], fields)
