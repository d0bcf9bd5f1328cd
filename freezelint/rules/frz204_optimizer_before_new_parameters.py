"""## What it does
Finds an optimizer built before the model it trains gets new parameters, and used afterwards. `get_peft_model(model,
...)` (or `add_adapter`, a TRL trainer's `peft_config=`) adds adapter weights, `model.classifier = nn.Linear(...)`
replaces a head, `module.weight = nn.Parameter(...)` replaces a weight; then the optimizer steps, or a trainer that
got it trains.

## Why is this bad?
An optimizer holds the parameter objects it was given when it was built. Parameters created afterwards are not
among them: they get gradients but never change. With PEFT nothing trains at all: `get_peft_model` freezes the base
weights, which are the only ones the optimizer holds, and the adapters are left out. A replaced head keeps its random
initial weights. Training runs and logs a loss as usual.

## Example
```python
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=8))
trainer = Trainer(model=model, args=args, train_dataset=train, optimizers=(optimizer, None))
```

Use instead, build the optimizer after the last change to the model:
```python
model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=8))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
```

## Fix safety
No fix: moving the optimizer below the change is usually right, but the code in between (a scheduler built on the
optimizer, a checkpoint load) may have to move too.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when a model an optimizer trains has trainable
parameters no optimizer holds (naming one), refuted when every trainable parameter is in an optimizer.

## References
- tests/runtime/test_frz204_runtime.py: `test_optimizer_built_before_get_peft_model_trains_nothing` (no trainable
  parameter is in the optimizer; the Trainer logs a loss and changes nothing),
  `test_head_replaced_after_the_optimizer_keeps_its_initial_weights` (it gets gradients and never moves), and the
  fixed orders, which train.
- tests/runtime/test_flag_kept_runtime.py, `test_resize_token_embeddings_keeps_the_parameter_and_its_flag`:
  `resize_token_embeddings` keeps the same Parameter object, so an optimizer built before still holds it; it is not
  reported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from freezelint import knowledge
from freezelint.facts import AttributeAssign, Event, Facts, ModuleRef, OptimizerBuild, ParamRef, PeftApply, as_ref, new_parameters
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.runtime_hooks import CONFIRMED, NOT_CHECKABLE, REFUTED, StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

_ADDS_ADAPTERS = (
    " at line {line} adds the adapter parameters, so it never holds them: nothing trains at all (PEFT freezes the base "
    "weights, the only ones it holds), while training runs and logs a loss as usual. Build the optimizer after line "
    "{line}."
)
BEFORE_PEFT_CONFIG = "`{optimizer}` is built here, before the trainer's `peft_config=`" + _ADDS_ADAPTERS
BEFORE_PEFT_CALL = "`{optimizer}` is built here, before `{function}(...)`" + _ADDS_ADAPTERS
BEFORE_REPLACED = (
    "`{optimizer}` is built here, before `{target}` is replaced by a new {kind} at line {line}, so it never holds the "
    "new parameters: they get gradients but keep their initial values. Build the optimizer after line {line}."
)


@rule("FRZ204", "optimizer-before-new-parameters", Level.ERROR, tokens=knowledge.OPTIMIZER_TOKENS)
def optimizer_before_new_parameters(facts: Facts) -> Iterator[Report]:
    for build in facts.of(OptimizerBuild):
        trained = [s.module for s in build.param_sets() if not s.copies]
        if not trained:
            continue
        for change, what in _changes(facts, build, trained):
            if facts.optimizer_used_after(build, change.where) is None:
                continue
            yield Report(build.node, _message(facts, build, change, what))
            break


def _changes(facts: Facts, build: OptimizerBuild, trained: list[ModuleRef]) -> Iterator[tuple[Event, str]]:
    """Events after the optimizer that give the model it trains parameters it does not hold."""
    for event in facts.events:
        if event.order <= build.order or event.where.exclusive(build.where):
            continue
        if isinstance(event, PeftApply):
            models = [r for v in (event.model, event.result) for r in map(as_ref, v.candidates()) if r is not None]
            if any(m.overlaps(t) for m in models for t in trained):
                yield event, "peft"
        elif isinstance(event, AttributeAssign) and isinstance(event.owner, ModuleRef):
            place = ModuleRef(event.owner.model, (*event.owner.path, event.attribute))
            new = [v for v in event.value.candidates() if new_parameters(v)]
            if new and any(t.contains(place) for t in trained):
                yield event, "parameter" if isinstance(new[0], ParamRef) else "module"


def _message(facts: Facts, build: OptimizerBuild, change: Event, what: str) -> Message:
    fields: dict[str, object] = {"optimizer": build.name, "line": facts.line(change.node)}
    if what == "peft":
        assert isinstance(change, PeftApply)
        if change.how == "peft_config":
            return Message(BEFORE_PEFT_CONFIG, fields)
        return Message(BEFORE_PEFT_CALL, {**fields, "function": change.how})
    assert isinstance(change, AttributeAssign)
    kind = "parameter" if what == "parameter" else "module"
    return Message(BEFORE_REPLACED, {**fields, "target": facts.code(change.node), "kind": kind})


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ204")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    """Confirmed when a model an optimizer trains has trainable parameters that no optimizer holds."""
    if (stopped := view.incomplete()) is not None:
        return stopped
    optimizers = view.state.harness.optimizers
    if not optimizers:
        return Verdict(NOT_CHECKABLE, "the replay built no optimizer of the script")
    held = {id(p) for record in optimizers for p in record.parameters}
    for top in view.state.models:
        if not any(top.owns(p) for record in optimizers for p in record.parameters):
            continue
        missing = [name for name, p in top.named if p.requires_grad and id(p) not in held]
        if missing:
            count = sum(p.numel() for _, p in top.named if p.requires_grad and id(p) not in held)
            return Verdict(CONFIRMED, f"{count:,} trainable parameters of `{top.name}` are in no optimizer (e.g. `{missing[0]}`)")
    return Verdict(REFUTED, "every trainable parameter of the trained models is in an optimizer")
