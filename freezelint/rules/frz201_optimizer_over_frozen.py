"""## What it does
Notes an optimizer built from all parameters of a model (`model.parameters()`, `list(...)`, `itertools.chain(...)`,
unpacked `named_parameters()`, parameter-group dicts, also when handed to `Trainer(optimizers=(opt, sched))`)
while the file freezes some of that model's parameters.

## Why is this bad?
As written, it is harmless: a frozen parameter never gets a gradient, its `.grad` stays `None`, and every
`torch.optim` optimizer skips such parameters entirely (no momentum, no weight decay, no optimizer state). It is
also the recommended pattern when layers are unfrozen later in training, so the rule stays silent then.

It stops being harmless when a frozen parameter does hold a gradient: freezing mid-training with
`zero_grad(set_to_none=False)` or between `backward()` and `step()` (FRZ206), or under DeepSpeed ZeRO, which builds its
partitions from the parameters it is given (FRZ507). Those rules report that harm; this note only makes the
all-parameter optimizer visible, so the choice is deliberate.

## Example
```python
for param in model.bert.parameters():
    param.requires_grad = False
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
```

Use instead, to state the intent:
```python
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-5)
```

## Fix safety
No fix: both forms train the same parameters; which one reads better depends on whether layers are unfrozen later.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the optimizer built on the reported line
holds frozen parameters (with the count), refuted when all it holds is trainable.

## References
- torch 2.13 `torch/optim/optimizer.py`, `Optimizer.zero_grad`: "torch.optim optimizers have a different behavior if
  the gradient is 0 or None (in one case it does the step with a gradient of 0 and in the other it skips the step
  altogether)"; `torch/optim/sgd.py` and `torch/optim/adam.py` (AdamW derives from Adam), `_init_group`: only
  parameters with `p.grad is not None` take part in the step.
- tests/runtime/test_frz202_runtime.py, `test_optimizer_over_all_parameters_trains_the_unfrozen_layer` (the layer
  still frozen stays unchanged, the unfrozen one trains); tests/runtime/test_frz203_runtime.py,
  `test_an_optimizer_over_all_parameters_trains_what_the_callback_unfreezes`.
- pytorch/pytorch PR #7419 removed the old "optimizing a parameter that doesn't require gradients" error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from freezelint import knowledge
from freezelint.facts import (
    AttributeAssign,
    Facts,
    FreezeOp,
    ModuleCall,
    ModuleRef,
    OptimizerBuild,
    OptimizerCall,
    Wrap,
    branches_conflict,
    keeps_grads,
    new_parameters,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.runtime_hooks import (
    CONFIRMED,
    NOT_CHECKABLE,
    REFUTED,
    Found,
    StaticFinding,
    Verdict,
    plural,
    runtime_detector,
    runtime_verdict,
)

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

MESSAGE = (
    "`{optimizer}` gets every parameter of `{module}`, including the ones frozen at line {line} (`{freeze}`). "
    "Harmless as written: a frozen parameter's `.grad` stays None and the optimizer skips it, keeping no state for "
    "it. Pass only trainable parameters (`[p for p in {module}.parameters() if p.requires_grad]`) to make the intent "
    "explicit."
)


@rule(
    "FRZ201", "optimizer-over-frozen", Level.NOTE, tokens=(knowledge.FREEZE_TOKENS, knowledge.OPTIMIZER_TOKENS),
    silenced_by=("FRZ206",),
)
def optimizer_over_frozen(facts: Facts) -> Iterator[Report]:
    if _harm_possible(facts):
        return
    operations = facts.flag_changes()
    freezes = [op for op in operations if op.value is False]
    for build in facts.of(OptimizerBuild, uncalled=True):
        for params in build.param_sets():
            if params.only_trainable or params.copies:
                continue
            frozen = [
                op for op in freezes
                if op.module is not None and op.module.overlaps(params.module)
                and not _undone(facts, op, build, params.module)
                and not branches_conflict(op.where.branches, params.guards)  # frozen only where the set is not taken
            ]
            if not frozen:
                continue
            unfrozen_later = any(
                op.value is not False and op.order > build.order
                and op.module is not None and op.module.overlaps(params.module)
                for op in operations
            )
            if unfrozen_later:
                continue  # an all-parameter optimizer is the right choice for gradual unfreezing
            first = frozen[0]
            fields = {
                "optimizer": build.name,
                "module": params.module.describe(),
                "line": facts.line(first.node),
                "freeze": facts.code(first.where.statement or first.node),
            }
            yield Report(build.node, Message(MESSAGE, fields))
            break


def _undone(facts: Facts, op: FreezeOp, build: OptimizerBuild, ref: ModuleRef) -> bool:
    """The freeze no longer holds for these parameters: unfrozen again before the optimizer was built, or the module
    replaced by a new one afterwards (a new head is not frozen)."""
    if op.whole and op.order < build.order and facts.frozen_at(op.module, build.order) is None:  # type: ignore[arg-type]
        return True
    return any(
        isinstance(a.owner, ModuleRef) and a.order > op.order
        and ModuleRef(a.owner.model, (*a.owner.path, a.attribute)).contains(ref)
        and any(new_parameters(v) for v in a.value.candidates())
        for a in facts.of(AttributeAssign, uncalled=True)
    )


def _harm_possible(facts: Facts) -> bool:
    """Frozen parameters in the optimizer may do harm here, which FRZ206 and FRZ507 judge (and this note would
    only blur): gradients kept by `zero_grad(set_to_none=False)`, or DeepSpeed, which partitions what it is given."""
    calls: list[OptimizerCall | ModuleCall] = [
        *facts.of(OptimizerCall, uncalled=True), *facts.of(ModuleCall, uncalled=True)
    ]
    kept = any(keeps_grads(call) for call in calls)
    return kept or any(wrap.kind == "deepspeed" for wrap in facts.of(Wrap, uncalled=True))


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_detector("FRZ201", whole_model=True)
def detect(view: RuntimeView) -> Iterator[Found]:
    """Frozen parameters the script's own freeze statements froze (not PEFT's frozen base) in an optimizer."""
    frozen_here = {
        key for r in view.state.harness.probes.values() if r.probe.codes & {"freeze", "head"} for key in r.frozen
    }
    for record in view.state.harness.optimizers:
        frozen = [
            p for p in record.parameters
            if not p.requires_grad and id(p) in frozen_here and id(p) in record.frozen_at_build
        ]  # frozen before it was built: frozen later, mid-training, is FRZ206's concern
        if not frozen or record.line is None or view.unfreezes_later(record.line):
            continue
        top = view.state.model_of(frozen[0])
        count = sum(p.numel() for p in frozen)
        evidence = (
            f"the optimizer built at line {record.line} holds {plural(len(record.parameters), 'tensor')}, "
            f"{len(frozen):,} of them frozen ({plural(count, 'parameter')})"
        )
        yield view.at_line(record.line, "FRZ201",
            f"{evidence[0].upper()}{evidence[1:]}. Harmless as written: a frozen parameter's .grad stays None and the "
            "optimizer skips it. Pass only trainable parameters to make the intent explicit.",
            evidence,
            top,
        )


@runtime_verdict("FRZ201")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    start, end = view.state.statement_lines(finding.row)
    records = [r for r in view.state.harness.optimizers if r.line is not None and start <= r.line <= end]
    if not records:
        return Verdict(NOT_CHECKABLE, view.state.why_not_run(finding.row))
    record = records[0]
    frozen = [p for p in record.parameters if not p.requires_grad]
    if frozen:
        count = sum(p.numel() for p in frozen)
        return Verdict(
            CONFIRMED,
            f"it holds {plural(len(record.parameters), 'tensor')}, {len(frozen):,} of them frozen "
            f"({plural(count, 'parameter')}); they keep no optimizer state while their grad is None",
        )
    return Verdict(REFUTED, f"every one of its {plural(len(record.parameters), 'tensor')} is trainable")
