"""## What it does
Finds layers unfrozen after the optimizer was built from only the parameters trainable then, with nothing adding
them to it. The optimizer got `filter(lambda p: p.requires_grad, model.parameters())`, a comprehension with
`if p.requires_grad`, or a sub-module's `.parameters()`; later code unfreezes more layers, and neither
`add_param_group` nor a new optimizer follows before it steps again. Typical in gradual unfreezing inside the epoch loop, or in a Lightning `BaseFinetuning` callback that calls
`make_trainable` instead of `unfreeze_and_add_param_group`.

## Why is this bad?
An optimizer updates only the parameters it was given when it was built. The unfrozen layers now compute gradients
(costing time and memory), but no optimizer ever applies them: their weights never change, and nothing warns. The
loss curve looks plausible, so the "gradual unfreezing" silently never happens.

## Example
```python
model.bert.requires_grad_(False)
optimizer = torch.optim.AdamW(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-3)
for epoch in range(4):
    if epoch == 2:
        model.bert.encoder.layer[-1].requires_grad_(True)  # computes gradients, never moves
    train_one_epoch(model, optimizer)
```

Use instead, an optimizer over all parameters (frozen ones are skipped while their `.grad` is None, so this is
correct from the start and picks up unfrozen layers by itself):
```python
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
```

Or rebuild the optimizer (and its scheduler) after unfreezing. `optimizer.add_param_group(...)` also works, but
an already-built `LambdaLR` (what `get_linear_schedule_with_warmup` returns) then fails at `scheduler.step()` with
`ValueError: zip() argument 2 is shorter than argument 1`, so rebuild the scheduler too. With Lightning, use
`self.unfreeze_and_add_param_group(modules, optimizer)` in `finetune_function`.

## Fix safety
No fix: which of the remedies fits (all parameters, a rebuilt optimizer and scheduler, a new param group with its
own learning rate) is a training decision.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when parameters frozen at the optimizer's build
are trainable at the end of the replay and in no optimizer, refuted when every trainable parameter is in one.

## References
- tests/runtime/test_frz202_runtime.py: `test_unfrozen_layer_gets_gradients_and_never_moves`,
  `test_optimizer_over_all_parameters_trains_the_unfrozen_layer` and
  `test_add_param_group_breaks_an_existing_lambda_lr_schedule` (`add_param_group` after
  `get_linear_schedule_with_warmup` fails at `scheduler.step()`); tests/runtime/test_checkers.py,
  `test_frz202_confirmed_when_unfrozen_parameters_miss_the_optimizer` and
  `test_frz202_refuted_when_they_are_added_to_it`.
- torch 2.13 `torch/optim/optimizer.py`, `Optimizer.add_param_group`: "useful when fine tuning a pre-trained network
  as frozen layers can be made trainable and added to the Optimizer as training progresses".
- fastai/fastai#2133: the optimizer "needs to be created again because at creation, it only takes trainable
  parameters".
- Lightning documentation, `BaseFinetuning`
  (https://lightning.ai/docs/pytorch/stable/api/lightning.pytorch.callbacks.BaseFinetuning.html): unfrozen
  parameters "need to be added in a new `param_group` within the optimizer".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst
import libcst.matchers as m

from freezelint import knowledge
from freezelint.facts import (
    Facts,
    FreezeOp,
    LibraryCall,
    ModuleRef,
    Optimizer,
    OptimizerBuild,
    OptimizerCall,
    ParamRef,
    ParamSet,
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

_UNFROZEN = "`{module}` is unfrozen here, but `{optimizer}` (line {line}) was given "
_NEVER_ADDED = (
    ", and nothing adds these layers to it: they will compute gradients and their weights will never change. "
    "Instead, {remedy} (`{optimizer_class}({model}.parameters(), ...)`: frozen ones are skipped while their `.grad` is "
    "None), or rebuild the optimizer and its scheduler after unfreezing (`add_param_group` also works but breaks an "
    "existing LambdaLR schedule)."
)
# What the optimizer was given: parameters filtered by `requires_grad`, or those of some modules.
GIVEN_TRAINABLE = _UNFROZEN + "only the parameters that were trainable then" + _NEVER_ADDED
GIVEN_MODULES = _UNFROZEN + "only the parameters of {modules}" + _NEVER_ADDED
# How to give the optimizer the unfrozen layers, by the library that builds it (None: plain PyTorch, the HF Trainer).
REMEDIES = {
    "lightning": (
        "call `self.unfreeze_and_add_param_group(modules, optimizer)` in `finetune_function`, or build the optimizer "
        "over all parameters"
    ),
    None: "build the optimizer over all parameters",
}


@rule("FRZ202", "unfrozen-after-filtered-optimizer", Level.ERROR, tokens=(knowledge.UNFREEZE_TOKENS, knowledge.OPTIMIZER_TOKENS))
def unfrozen_after_filtered_optimizer(facts: Facts) -> Iterator[Report]:
    unfreezes = [op for op in facts.flag_changes() if op.value is True]
    reported: set[int] = set()
    for build in facts.of(OptimizerBuild):
        for op in unfreezes:
            if id(op) in reported or op.order <= build.order or op.where.shared_loop(build.where) is not None:
                continue  # before the optimizer, or rebuilt every time round the loop that unfreezes
            unfrozen = op.module
            assert unfrozen is not None
            if not any(ModuleRef(s.module.model).overlaps(unfrozen) for s in build.param_sets()):
                continue  # another model than the one this optimizer trains (a teacher, an EMA copy)
            freeze = facts.frozen_at(unfrozen, build.order)
            if freeze is None or not _misses(facts, build, unfrozen, freeze):
                continue
            if _added_or_rebuilt(facts, build, op, unfrozen) or facts.optimizer_used_after(build, op.where) is None:
                continue
            reported.add(id(op))
            yield Report(op.where.statement or op.node, _message(facts, build, op))


def _misses(facts: Facts, build: OptimizerBuild, unfrozen: ModuleRef, freeze: FreezeOp) -> bool:
    """True when the optimizer certainly lacks the parameters of `unfrozen` that `freeze` left frozen at its build:
    every part it got is filtered by `requires_grad` (which left them out), or lies outside them, or inside what was
    unfrozen again before the build. Unknown parts, name filters, or parts within the frozen region: cannot tell."""
    frozen = freeze.module
    assert frozen is not None
    region = frozen if unfrozen.contains(frozen) else unfrozen  # the parameters frozen at the build and unfrozen here
    trainable_again = [op.module for op in facts.unfrozen_between(frozen, freeze.order, build.order) if op.module]
    for part in build.param_parts():
        if isinstance(part, ParamRef) and part.module is not None and not part.module.overlaps(region):
            continue
        if not isinstance(part, ParamSet) or part.copies:
            return False
        if part.only_trainable or not part.module.overlaps(region):
            continue
        if any(again.contains(part.module) for again in trainable_again):
            continue  # the head unfrozen before the build: none of the frozen parameters
        return False
    return True


def _added_or_rebuilt(facts: Facts, build: OptimizerBuild, op: FreezeOp, unfrozen: ModuleRef) -> bool:
    """An `add_param_group` on this optimizer, or a new optimizer that may hold the layers, once they are unfrozen."""
    for call in facts.of(OptimizerCall, uncalled=True):
        if call.optimizer.build is build and call.method == "add_param_group":
            if call.order > op.order or call.where.shared_loop(op.where) is not None:
                return True
    for other in facts.of(OptimizerBuild, uncalled=True):
        if other is not build and (other.order > op.order or other.where.shared_loop(op.where) is not None):
            if other.holds(unfrozen, frozen_then=False) is not False:
                return True
    for handed in facts.of(LibraryCall, uncalled=True):  # handed to code of another module, which may add a param group
        if handed.order > op.order or handed.where.shared_loop(op.where) is not None:
            if handed.qualname.split(".", 1)[0] not in knowledge.INERT_PACKAGES and any(
                isinstance(o, Optimizer) and o.build is build
                for v in (*handed.args, *handed.kwargs.values()) for o in v.candidates()
            ):
                return True
    return False


def _message(facts: Facts, build: OptimizerBuild, op: FreezeOp) -> Message:
    sets = [s for s in build.param_sets() if not s.copies]
    lightning = build.where.callback_of is not None and build.where.callback_of.build.library == "lightning"
    fields: dict[str, object] = {
        "module": facts.spelling(op),
        "optimizer": build.name,
        "line": facts.line(build.node),
        "remedy": REMEDIES["lightning" if lightning else None],
        "optimizer_class": build.qualname.rsplit(".", 1)[-1],
        "model": _model_code(facts, build),
    }
    if any(s.only_trainable for s in sets):
        return Message(GIVEN_TRAINABLE, fields)
    return Message(GIVEN_MODULES, {**fields, "modules": ", ".join(f"`{s.module.describe()}`" for s in sets)})


def _model_code(facts: Facts, build: OptimizerBuild) -> str:
    """How the file spells the model whose parameters the optimizer got (`model`, `self`, `net`)."""
    calls = m.findall(build.node, m.Call(func=m.Attribute(attr=m.Name("parameters") | m.Name("named_parameters"))))
    for call in calls:
        receiver = call.func.value  # type: ignore[attr-defined]
        while isinstance(receiver, cst.Attribute):
            receiver = receiver.value
        return facts.code(receiver)
    sets = build.param_sets()
    return sets[0].module.model.name if sets else "model"


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_detector("FRZ202", whole_model=True)
def detect(view: RuntimeView) -> Iterator[Found]:
    for record, top, missing in view.unfrozen_after_build():
        names = [top.describe(p) for p in missing]
        count = sum(p.numel() for p in missing)
        unfreeze_line = next(
            (r.probe.start for r in sorted(view.state.harness.probes.values(), key=lambda r: r.probe.start)
             if any(id(p) in r.unfrozen for p in missing)),
            record.line,
        )
        evidence = (
            f"{plural(count, 'parameter')} of `{top.name}` ({plural(len(missing), 'tensor')}, e.g. `{names[0]}`) are "
            f"trainable but not in the optimizer built at line {record.line}"
        )
        yield view.at_line(unfreeze_line or record.line, "FRZ202",
            f"{evidence}: it was built from the parameters trainable then, and these were unfrozen later. They "
            "compute gradients but never update. Build the optimizer over all parameters (`model.parameters()`: "
            "frozen ones are skipped while their grad is None), or rebuild optimizer and scheduler after unfreezing.",
            evidence,
            top,
        )


@runtime_verdict("FRZ202")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    if (verdict := view.incomplete()) is not None:
        return verdict
    if not view.state.harness.optimizers:
        return Verdict(NOT_CHECKABLE, "the replay built no optimizer of the script")
    missing = list(view.unfrozen_after_build())
    if missing:
        record, top, parameters = missing[0]
        count = sum(p.numel() for p in parameters)
        return Verdict(
            CONFIRMED,
            f"{plural(count, 'parameter')} of `{top.name}` (e.g. `{top.describe(parameters[0])}`) are trainable but "
            f"not in the optimizer built at line {record.line}",
        )
    lines = ", ".join(str(r.line) for r in view.state.harness.optimizers)
    return Verdict(REFUTED, f"every trainable parameter is in an optimizer (built at line {lines})")
