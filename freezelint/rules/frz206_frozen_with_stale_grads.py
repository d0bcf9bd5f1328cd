"""## What it does
Finds parameters frozen mid-training while they still hold a `.grad`, so the optimizer keeps moving them. The
training loop zeroes gradients with `zero_grad(set_to_none=False)` (a gradient, once created, stays a tensor of
zeros), or the freeze sits between `loss.backward()` and `optimizer.step()`, and the optimizer holds those
parameters. Setting `p.grad = None` where they are frozen silences it.

## Why is this bad?
`requires_grad = False` stops new gradients, but the optimizer updates every parameter whose `.grad` is not None.
A zeroed gradient still drives the update: momentum, Adam's moment estimates and weight decay keep moving the
"frozen" weights (AdamW, weight decay 0.1: a frozen weight moved by up to 0.22 in four steps, measured below). A
stale gradient from the last `backward()` moves them once more even with plain SGD.

## Example
```python
for epoch in range(epochs):
    if epoch == 2:
        model.bert.requires_grad_(False)  # its .grad tensors stay (as zeros)
    for batch in loader:
        optimizer.zero_grad(set_to_none=False)
        model(**batch).loss.backward()
        optimizer.step()  # AdamW keeps moving model.bert
```

Use instead, drop the gradients of what you freeze:
```python
    if epoch == 2:
        for p in model.bert.parameters():
            p.requires_grad = False
            p.grad = None
```
or keep the default `optimizer.zero_grad()` (`set_to_none=True` since torch 2.0).

## Fix safety
No fix: where the gradients should be dropped depends on the loop.

## Runtime mode
No runtime verdict: stale gradients exist only after a backward pass, inside the training loop, and the replay stops
where training starts.

## References
- torch 2.13 `torch/optim/optimizer.py`, `Optimizer.zero_grad`: with `set_to_none=False` a gradient becomes zeros, and
  an optimizer then "does the step with a gradient of 0" instead of skipping the parameter.
- tests/runtime/test_frz206_runtime.py: `test_zeroed_gradients_keep_moving_frozen_weights` (AdamW with weight decay),
  `test_dropping_the_gradients_keeps_them_still` and
  `test_freezing_between_backward_and_step_still_applies_that_gradient` (plain SGD).
- Measured with torch 2.13 (a layer frozen mid-training, then four steps with `zero_grad(set_to_none=False)`; the
  largest change of a frozen weight): SGD (lr 0.1) with momentum 0.9, 0.141; SGD with weight decay 0.1, 0.018; Adam
  with weight decay 0.1, 0.294; AdamW, 0.220; 0 with `set_to_none=True`, or with `p.grad = None` on freezing.
- discuss.pytorch.org "Why there is still a small change in frozen layer parameters" (fixed by `param.grad = None`);
  facebookresearch/fairseq#4702.
"""

from __future__ import annotations

import re
from typing import Iterator

from freezelint import knowledge
from freezelint.facts import (
    AttributeAssign,
    Backward,
    Facts,
    FreezeOp,
    Literal,
    ModuleCall,
    ModuleRef,
    OptimizerBuild,
    OptimizerCall,
    ParamRef,
    Where,
    keeps_grads,
    mentions,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule

_FROZEN_HERE = "`{module}` is frozen here "
_STILL_CHANGE = (
    ", so these frozen weights still change. Set `p.grad = None` for each parameter you freeze (or use `zero_grad()`, "
    "which sets gradients to None)."
)
AFTER_BACKWARD = (
    _FROZEN_HERE + "after `backward()` (line {line}) and before `{optimizer}.step()`: the gradients just computed are "
    "still there, and the step applies them" + _STILL_CHANGE
)
GRADS_KEPT = (
    _FROZEN_HERE + "mid-training while `zero_grad(set_to_none=False)` (line {line}) keeps the gradients of its "
    "parameters as zeros instead of None: momentum, Adam's moment estimates and weight decay keep moving them"
    + _STILL_CHANGE
)


@rule("FRZ206", "frozen-with-stale-grads", Level.WARNING, tokens=(knowledge.FREEZE_TOKENS, knowledge.OPTIMIZER_TOKENS))
def frozen_with_stale_grads(facts: Facts) -> Iterator[Report]:
    dropped = _grads_dropped(facts)
    if dropped is None:
        return  # `x.grad = None` on something the analysis cannot place: it may be these parameters
    for op in facts.of(FreezeOp):
        if op.value is not False or not op.effective or op.where.callback_of is not None:
            continue
        frozen = op.module
        if frozen is None or any(ref.overlaps(frozen) for ref in dropped) or _toggled(facts, op, frozen):
            continue
        for build in facts.of(OptimizerBuild):
            if not any(s.module.overlaps(frozen) for s in build.param_sets() if not s.copies):
                continue
            steps = [c for c in facts.of(OptimizerCall) if c.optimizer.build is build and c.method == "step"]
            if not steps or _frozen_before(facts, op, frozen, min(step.order for step in steps)):
                continue
            zeroing = _zero_grads(facts, build, frozen)
            if zeroing and all(keeps_grads(call) for call in zeroing):
                if any(_mid_training(facts, op.where, step.where) for step in steps):
                    yield Report(op.where.statement or op.node, _message(facts, op, build, zeroing[0], None))
                    break
            backward = _between_backward_and_step(facts, op, steps, zeroing)
            if backward is not None:
                yield Report(op.where.statement or op.node, _message(facts, op, build, None, backward))
                break


_GRAD_DROPPED = re.compile(r"\.grad\s*=\s*None\b")


def _grads_dropped(facts: Facts) -> list[ModuleRef] | None:
    """The modules whose parameters get `p.grad = None`; None when some such store is on something unknown."""
    found: list[ModuleRef] = []
    for assign in facts.of(AttributeAssign, uncalled=True):
        owner = assign.owner
        if assign.attribute == "grad" and isinstance(owner, ParamRef) and any(
            isinstance(v, Literal) and v.value is None for v in assign.value.candidates()
        ):
            if owner.module is None:
                return None
            found.append(owner.module)
    return found if len(_GRAD_DROPPED.findall(facts.source.text)) <= len(found) else None


def _toggled(facts: Facts, op: FreezeOp, frozen: ModuleRef) -> bool:
    """Unfrozen again in the same loop (a GAN's discriminator, frozen for the generator's step only): whether its
    own optimizer steps while it is frozen depends on where in the loop, which the rule does not judge."""
    return any(
        other.value is not False and other.module is not None and other.module.overlaps(frozen)
        and other.where.shared_loop(op.where) is not None
        for other in facts.of(FreezeOp, uncalled=True)
    )


def _frozen_before(facts: Facts, op: FreezeOp, frozen: ModuleRef, order: int) -> bool:
    """Already frozen, by an earlier freeze, before the optimizer first stepped: no gradient was ever created."""
    earlier = facts.frozen_at(frozen, order, whole=True)
    return earlier is not None and earlier is not op


def _zero_grads(facts: Facts, build: OptimizerBuild, frozen: ModuleRef) -> list[ModuleCall | OptimizerCall]:
    """`zero_grad` calls that clear the frozen parameters' gradients: on the optimizer, or on a module holding them."""
    calls: list[ModuleCall | OptimizerCall] = [
        c for c in facts.of(OptimizerCall) if c.optimizer.build is build and c.method == "zero_grad"
    ]
    for call in facts.of(ModuleCall):
        if call.method == "zero_grad" and isinstance(call.receiver, ModuleRef) and call.receiver.overlaps(frozen):
            calls.append(call)
    return sorted(calls, key=lambda c: c.order)


def _mid_training(facts: Facts, freeze: Where, step: Where) -> bool:
    """The freeze runs after the optimizer has stepped: after a step, or in the loop that steps but not on its first
    pass (after the step in the loop body, or behind an `if` on something the loop changes: `if epoch == 2`)."""
    if freeze.exclusive(step):
        return False
    loop = freeze.shared_loop(step)
    if loop is None:
        return step.order < freeze.order
    if step.order < freeze.order:
        return True
    depth = next(i for i, entry in enumerate(freeze.loops) if entry is loop)
    changing = loop.changing_names()
    return any(
        branch.depth > depth and branch.test is not None and mentions(branch.test, changing) for branch in freeze.branches
    )


def _between_backward_and_step(facts: Facts, op: FreezeOp, steps: list[OptimizerCall], zeroing: list) -> Backward | None:
    """A `backward()` before the freeze and a step after it in the same pass, with no `zero_grad` in between."""
    for step in steps:
        if step.order <= op.order or op.where.exclusive(step.where) or step.where.loops != op.where.loops:
            continue
        for backward in facts.of(Backward):
            if backward.order >= op.order or backward.where.loops != op.where.loops:
                continue
            if not any(backward.order < call.order < step.order for call in zeroing):
                return backward
    return None


def _message(facts: Facts, op: FreezeOp, build: OptimizerBuild, zeroing: object, backward: Backward | None) -> Message:
    assert op.module is not None
    if backward is not None:
        fields = {"module": facts.spelling(op), "line": facts.line(backward.node), "optimizer": build.name}
        return Message(AFTER_BACKWARD, fields)
    assert isinstance(zeroing, (ModuleCall, OptimizerCall))
    return Message(GRADS_KEPT, {"module": facts.spelling(op), "line": facts.line(zeroing.node)})
