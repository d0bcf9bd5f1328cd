"""## What it does
Finds frozen parameters handed to DeepSpeed's optimizer (`deepspeed.initialize(model=model,
model_parameters=model.parameters())`, or an optimizer built over all of a partly frozen model passed as
`optimizer=`), and `requires_grad` changed on a model after `deepspeed.initialize`, when the engine trains after the
change.

**Not verified here**: DeepSpeed needs GPUs, and none was available. This rule rests on DeepSpeed's source and issue
tracker (below), not on a run.

## Why is this bad?
DeepSpeed ZeRO builds its optimizer partitions, once, in `deepspeed.initialize`, from the parameters it is given
that require grad at that moment (`deepspeed/runtime/zero/stage_1_and_2.py`, `trainable_parameters`;
`stage3.py`, `_get_trainable_parameter_groups`), and registers its gradient hooks for those.

- Frozen parameters handed to it are dropped there by current versions, but frozen parameters have broken ZeRO
  repeatedly: ZeRO-2 failing when only some layers train (DeepSpeed#4055, #4776, open), ZeRO-3 giving frozen weights
  optimizer state until PR #2653 (the old workaround was an `lr=0` group, which wastes that memory), DeepCompile's
  KeyError on frozen parameters (PR #8214). Handing over only the trainable parameters avoids all of it.
- A layer unfrozen after `deepspeed.initialize` is in none of the partitions: DeepSpeed's optimizer never updates it
  (as FRZ202 for a plain optimizer). A layer frozen afterwards stays in them.

## Example
```python
model.transformer.wte.requires_grad_(False)
engine, optimizer, _, _ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=ds_config)
```

Use instead:
```python
model.transformer.wte.requires_grad_(False)
trainable = [p for p in model.parameters() if p.requires_grad]
engine, optimizer, _, _ = deepspeed.initialize(model=model, model_parameters=trainable, config=ds_config)
```
and set `requires_grad` before `deepspeed.initialize` (for gradual unfreezing, initialize a new engine).

## Fix safety
No fix: the evidence is DeepSpeed's source and issues, not a run; which parameters to hand over is the author's call.

## Runtime mode
No runtime verdict: the replay neither initialises DeepSpeed nor runs its optimizer, which is where the frozen
parameters cost memory or fail.

## References
- DeepSpeed 0.19.8 source: `deepspeed/runtime/engine.py`, `DeepSpeedEngine.__init__` (`model_parameters` defaults to
  `self.module.parameters()`); `deepspeed/runtime/zero/stage_1_and_2.py`, `DeepSpeedZeroOptimizer.__init__`, and
  `stage3.py`, `DeepSpeedZeroOptimizer_Stage3._get_trainable_parameter_groups`, keep only the parameters for which
  `deepspeed/runtime/utils.py`, `is_optimized_parameter`, holds ("Frozen parameters have always been left out of
  the optimizer groups").
- deepspeedai/DeepSpeed#4055 and #4776 (ZeRO-2 fails with frozen layers, via accelerate); #2615 and PR #2653 (ZeRO-3
  frozen weights); PR #8214 (DeepCompile KeyError on frozen parameters); open-mmlab/mmengine#1518 and PR #1441.
"""

from __future__ import annotations

from typing import Iterator

from freezelint.facts import Facts, FreezeOp, LibraryCall, Optimizer, OptimizerBuild, ParamSet, Wrap, group_by_node
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.distributed import trained_through

_UNVERIFIED = "(From DeepSpeed's source and issue tracker; not run here.)"

_TRAINABLE = "[p for p in {model}.parameters() if p.requires_grad]"
# How DeepSpeed gets the parameters, and what to hand over instead: `model_parameters=`, or an optimizer.
_HANDED_THROUGH = {
    "model_parameters": ("`model_parameters`", "`model_parameters=" + _TRAINABLE + "`"),
    "optimizer": ("the optimizer `{optimizer}` (line {optimizer_line})", "`{optimizer_class}(" + _TRAINABLE + ", ...)`"),
}
# The message for frozen parameters handed to `deepspeed.initialize`, by how they are handed.
HANDED_MESSAGES = {
    through: (
        "DeepSpeed gets every parameter of `{model}` through " + given + ", including the ones frozen at line {line} "
        "(`{freeze}`). ZeRO builds its partitions from these at `deepspeed.initialize`: current versions drop the "
        "frozen ones there, but several versions fail on them (DeepSpeed#4055, #4776) or keep optimizer state for "
        "them. Hand over only the trainable parameters (" + remedy + "). " + _UNVERIFIED
    )
    for through, (given, remedy) in _HANDED_THROUGH.items()
}
# How the messages name what changed, by whether the change covers whole modules: (subject, verb).
_SUBJECTS = {True: ("`{module}`", "is"), False: ("parameters of `{module}`", "are")}
# The message for a change after `deepspeed.initialize`, by whether it covers whole modules.
CHANGED_MESSAGES = {
    whole: (
        subject + " " + verb + " {change} here, after `deepspeed.initialize` (line {line}), which {consequence}. Set "
        "`requires_grad` before `deepspeed.initialize` (or initialize a new engine after the change). " + _UNVERIFIED
    )
    for whole, (subject, verb) in _SUBJECTS.items()
}
# The change, by the value set (None: a value the analysis cannot read).
CHANGES = {True: "unfrozen", False: "frozen", None: "changed in `requires_grad`"}
# What the engine does about it, by whether the change is an unfreeze.
CONSEQUENCES = {
    True: (
        "built its ZeRO partitions from the parameters that required grad then: these are in none of them, so "
        "DeepSpeed's optimizer never updates them"
    ),
    False: (
        "built its ZeRO partitions and gradient hooks from the parameters that required grad then, and does not read "
        "`requires_grad` again: what it does with parameters frozen later is undocumented, and frozen parameters have "
        "broken ZeRO before (DeepSpeed#4055, #4776)"
    ),
}


@rule("FRZ507", "deepspeed-frozen-parameters", Level.WARNING, tokens=("deepspeed",))
def deepspeed_frozen_parameters(facts: Facts) -> Iterator[Report]:
    wraps = [wrap for wrap in facts.of(Wrap) if wrap.kind == "deepspeed"]
    for wrap in wraps:
        for build, params in _handed(facts, wrap):
            frozen = facts.partly_frozen_at(params.module, wrap.order)
            if frozen is not None:
                yield Report(wrap.call, _handed_message(facts, wrap, build, params, frozen))
                break
    yield from _changed_after(facts, wraps)


def _handed(facts: Facts, wrap: Wrap) -> Iterator[tuple[OptimizerBuild, ParamSet]]:
    """The unfiltered parameter sets DeepSpeed's optimizer gets: `model_parameters=`, or those of an `optimizer=`."""
    builds = [build for build in facts.of(OptimizerBuild, uncalled=True) if build.node is wrap.call]
    for call in facts.of(LibraryCall, uncalled=True):
        optimizer = call.kwargs.get("optimizer") if call.call is wrap.call else None
        if optimizer is not None:
            builds += [option.build for option in optimizer.candidates() if isinstance(option, Optimizer)]
    for build in builds:
        for params in build.param_sets():
            if not (params.only_trainable or params.name_filtered or params.copies) and params.module.overlaps(wrap.module):
                yield build, params


def _changed_after(facts: Facts, wraps: list[Wrap]) -> Iterator[Report]:
    changes = facts.flag_changes()
    for group in group_by_node(changes):
        for op in group:
            assert op.module is not None
            mine = [w for w in wraps if w.module.overlaps(op.module) and not w.where.exclusive(op.where)]
            before = [w for w in mine if w.order < op.order]
            if not before or any(w.order > op.order for w in mine):
                continue  # not initialized yet, or initialized again after the change
            wrap = before[-1]
            if op.value is True and facts.partly_frozen_at(op.module, wrap.order) is None:
                continue  # nothing there was frozen at initialization: the engine has all of it
            if trained_through(facts, wrap, op.where) is None:
                continue
            yield Report(op.where.statement or op.node, _changed_message(facts, op, wrap))
            break


def _handed_message(facts: Facts, wrap: Wrap, build: OptimizerBuild, params: ParamSet, frozen: FreezeOp) -> Message:
    fields: dict[str, object] = {
        "model": params.module.describe(),
        "line": facts.line(frozen.node),
        "freeze": facts.code(frozen.where.statement or frozen.node),
    }
    if build.node is wrap.call:
        return Message(HANDED_MESSAGES["model_parameters"], fields)
    fields |= {
        "optimizer": build.name,
        "optimizer_line": facts.line(build.node),
        "optimizer_class": build.qualname.rsplit(".", 1)[-1],
    }
    return Message(HANDED_MESSAGES["optimizer"], fields)


def _changed_message(facts: Facts, op: FreezeOp, wrap: Wrap) -> Message:
    fields = {
        "module": facts.spelling(op),
        "change": CHANGES[op.value],
        "line": facts.line(wrap.node),
        "consequence": CONSEQUENCES[op.value is True],
    }
    return Message(CHANGED_MESSAGES[op.whole], fields)
