"""## What it does
Finds `requires_grad` changed on a model after it was wrapped in `DistributedDataParallel` (directly, or by
`accelerator.prepare(...)` or Lightning's `fabric.setup(...)`), when it trains afterwards through that wrapper and
is not wrapped again after the change.

## Why is this bad?
DDP decides once, when it wraps the model, which parameters it will average across processes: those that require
grad at that moment. It never looks at `requires_grad` again.

- A layer **frozen after the wrap** still counts as trainable for DDP but no longer gets a gradient, so the second
  iteration fails with `RuntimeError: Expected to have finished reduction in the prior iteration before starting a
  new one`. (With `find_unused_parameters=True` or `static_graph=True` DDP tolerates it; this rule then stays silent
  about freezes.)
- A layer **unfrozen after the wrap** trains, but its gradients are never averaged: every process updates its own
  copy with its own batch, and the replicas silently drift apart (no error, whatever the DDP options).

`accelerator.prepare` and `fabric.setup` do the same wrap when the script is launched on several processes.

## Example
```python
model = Net()
ddp_model = DistributedDataParallel(model)
model.backbone.requires_grad_(False)  # DDP still waits for its gradients
for batch in loader:
    ddp_model(batch).sum().backward()  # RuntimeError on the second iteration
    optimizer.step()
```

Use instead, set `requires_grad` before wrapping:
```python
model = Net()
model.backbone.requires_grad_(False)
ddp_model = DistributedDataParallel(model)
```
For gradual unfreezing, wrap the model again after each change (and rebuild the optimizer if it was filtered).

## Fix safety
No fix: moving the change before the wrap reorders statements, and re-wrapping is a design decision.

## Runtime mode
No runtime verdict: the replay runs one process on CPU, and the mistake needs several processes synchronising
gradients through `DistributedDataParallel`.

## References
- torch 2.13 `torch/nn/parallel/distributed.py`: the `DistributedDataParallel` docstring, "You should never try to
  change your model's parameters after wrapping up your model with DistributedDataParallel";
  `_build_params_for_reducer` takes the parameters that require grad at construction.
- tests/runtime/test_distributed_runtime.py (gloo, 2 processes):
  `test_freezing_after_the_ddp_wrap_fails_on_the_next_iteration`,
  `test_freezing_after_prepare_fails_the_same_way_under_accelerate`,
  `test_freezes_ddp_tolerates_or_sees_train_and_stay_silent` (`find_unused_parameters=True`, `static_graph=True`,
  frozen before the wrap), `test_unfreezing_after_the_wrap_trains_each_replica_apart` and
  `test_unfreezing_before_the_wrap_keeps_the_replicas_equal`.
- accelerate 1.16 `accelerator.py`, `Accelerator.prepare_model`: wraps the model in `DistributedDataParallel` when
  launched on several processes.
- huggingface/transformers#416 (the DDP docs quoted: never change the parameters after wrapping);
  facebookresearch/detectron2#2486 (unfreezing the box head at iteration 500 "does not take effect");
  pytorch/pytorch#22049.
"""

from __future__ import annotations

from typing import Iterator

from freezelint import knowledge
from freezelint.facts import (
    Backward,
    Facts,
    FreezeOp,
    OptimizerBuild,
    OptimizerCall,
    Wrap,
    group_by_node,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.distributed import (
    WRAPS,
    ddp_wraps,
    tolerates_unused,
    trained_through,
    wrap_fields,
)


def _templates(subject: str, verb: str, wrapped: str) -> dict[bool | None, str]:
    """The message for each value set (False, True, None for a value the analysis cannot read), with what changed
    named by `subject` and `verb`, and the wrap by `wrapped`."""
    return {
        False: (
            f"{subject} {verb} frozen here, after {wrapped}. DDP chose the parameters to average when it wrapped the "
            "model: it still waits for gradients of these, they no longer get any, and the next iteration fails with "
            f"`{knowledge.DDP_UNUSED_ERROR}`. Freeze before wrapping (or wrap the model again after freezing)."
        ),
        True: (
            f"{subject} {verb} unfrozen here, after {wrapped} while frozen. DDP only averages the gradients of the "
            "parameters that were trainable when it wrapped the model: each process now updates its own copy of these "
            "with its own batch, and the replicas silently drift apart. Unfreeze before wrapping, or wrap the model "
            "again after unfreezing."
        ),
        None: (
            f"`requires_grad` of {subject} is changed here, after {wrapped}. DDP chose the parameters to average when "
            "it wrapped the model: a parameter unfrozen now is never averaged across processes (the replicas silently "
            f"drift apart), and one frozen now makes the next iteration fail with `{knowledge.DDP_UNUSED_ERROR}`. Set "
            "`requires_grad` before wrapping, or wrap the model again after changing it."
        ),
    }


# How the messages name what changed, by whether the change covers whole modules: (subject, verb).
_SUBJECTS = {True: ("`{module}`", "is"), False: ("parameters of `{module}`", "are")}
# The message by (value set, whole modules, wrap kind as in `WRAPS`).
MESSAGES = {
    (value, whole, wrap): template
    for whole, (subject, verb) in _SUBJECTS.items()
    for wrap, wrap_name in WRAPS.items()
    for value, template in _templates(subject, verb, "`{wrapped}` was wrapped by " + wrap_name).items()
}


@rule("FRZ504", "changed-after-ddp-wrap", Level.ERROR, tokens=(knowledge.DDP_TOKENS, knowledge.DDP_LIBRARY_TOKENS, knowledge.FLAG_CHANGE_TOKENS))
def changed_after_ddp_wrap(facts: Facts) -> Iterator[Report]:
    wraps = ddp_wraps(facts)
    if not wraps:
        return
    changes = facts.flag_changes()
    for group in group_by_node(changes):
        for op in group:
            wrap = _last_wrap_before(wraps, op)
            if wrap is None or _harmless(facts, op, wrap, changes) or not _optimized(facts, op, wrap):
                continue
            if trained_through(facts, wrap, op.where) is None:
                continue
            yield Report(op.where.statement or op.node, _message(facts, op, wrap))
            break


def _last_wrap_before(wraps: list[Wrap], op: FreezeOp) -> Wrap | None:
    """The DDP wrap of this model in force when `op` runs: the last one before it, unless the model is wrapped again
    after the change (in the same pass, or later in a loop that changes then wraps)."""
    assert op.module is not None
    mine = [wrap for wrap in wraps if wrap.module.overlaps(op.module) and not wrap.where.exclusive(op.where)]
    if any(wrap.order > op.order for wrap in mine):
        return None  # wrapped again after the change: the new DDP sees the new flags
    before = [wrap for wrap in mine if wrap.order < op.order]
    return before[-1] if before else None


def _harmless(facts: Facts, op: FreezeOp, wrap: Wrap, changes: list[FreezeOp]) -> bool:
    """The change leaves DDP's view right when training resumes: a freeze of what was frozen at the wrap already (or
    one DDP tolerates), undone before the next training step (frozen for evaluation, then unfrozen); an unfreeze of
    what was trainable at the wrap (restoring it)."""
    ref = op.module
    assert ref is not None
    if op.value is True:
        return facts.partly_frozen_at(ref, wrap.order) is None
    if op.value is False:
        if tolerates_unused(facts, wrap) or facts.frozen_at(ref, wrap.order, whole=True) is not None:
            return True
        return any(_restores(facts, op, other) for other in changes)
    return False


def _optimized(facts: Facts, op: FreezeOp, wrap: Wrap) -> bool:
    """Replicas can only drift apart where an optimizer updates what changed: for a freeze, the wrapped model is
    trained by an optimizer at all (a frozen teacher wrapped for its BatchNorm is not); for an unfreeze, some
    optimizer may hold the unfrozen parameters (one built before, from what was trainable then, does not: FRZ202
    says those never change)."""
    ref = op.module
    assert ref is not None
    if op.value is False:
        return facts.training_of(wrap.module) is not None
    for build in facts.of(OptimizerBuild, uncalled=True):
        frozen_then = facts.partly_frozen_at(ref, build.order) is not None
        if build.holds(ref, frozen_then) is not False:
            return True
    return not facts.of(OptimizerBuild, uncalled=True)  # an optimizer the file cannot see (a trainer's, DeepSpeed's)


def _restores(facts: Facts, op: FreezeOp, other: FreezeOp) -> bool:
    """`other` unfreezes all that `op` froze, later in the same pass, before any training step runs in between."""
    if other.value is not True or other.order <= op.order or other.module is None or op.module is None:
        return False
    if not other.module.contains(op.module) or other.where.loops != op.where.loops or other.where.exclusive(op.where):
        return False
    return not any(
        op.order < event.order < other.order
        for event in (*facts.of(Backward), *(c for c in facts.of(OptimizerCall) if c.method == "step"))
    )


def _message(facts: Facts, op: FreezeOp, wrap: Wrap) -> Message:
    kind, fields = wrap_fields(facts, wrap)
    fields |= {"module": facts.spelling(op), "wrapped": wrap.module.describe()}
    return Message(MESSAGES[op.value, op.whole, kind], fields)
