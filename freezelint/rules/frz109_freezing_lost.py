"""## What it does
Finds freezing applied to a model object that is then replaced by a new, unfrozen one before training. Either the
variable holding the frozen model is re-assigned to a new model (loaded again with `from_pretrained`, re-created)
that is then trained with nothing frozen, or a `Trainer` built with `model_init=` has its model frozen before
`train()`, which calls `model_init` again and trains the fresh, unfrozen model.

## Why is this bad?
`requires_grad` is a property of parameter objects. A new model has new parameters, all trainable: the freeze stayed
on the discarded object, and the whole new model is fine-tuned, silently. With `model_init`, `Trainer.train()`
replaces `trainer.model` (and its optimizer) before training, so freezing `trainer.model` beforehand is lost.

## Example
```python
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.requires_grad_(False)
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")  # a new, unfrozen model
trainer = Trainer(model=model, args=args, train_dataset=train)
```

Use instead, freeze the object you train, after its last re-creation:
```python
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.requires_grad_(False)
trainer = Trainer(model=model, args=args, train_dataset=train)
```

With `model_init`, freeze inside it:
```python
def model_init():
    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    model.bert.requires_grad_(False)
    return model
```

The rule stays silent when the frozen model is still used under another name (a distillation teacher), when it is
trained itself, and when the new model is frozen, wrapped by PEFT or handed to code the analysis cannot see into.
`copy.deepcopy` keeps `requires_grad`, so a deep copy does not lose freezing.

## Fix safety
No fix: where the freeze belongs depends on which object the script meant to train.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the model built on the reported line, the
one that trains, has nothing frozen, refuted when some of it is frozen.

## References
- transformers 5.25 `trainer.py`, `Trainer.train`: "if self.model_init is not None: ... self.model =
  self.call_model_init(trial)", then "self.optimizer, self.lr_scheduler = None, None".
- tests/runtime/test_frz109_runtime.py: `test_reassigned_model_trains_with_nothing_frozen` and
  `test_model_init_replaces_the_frozen_model_at_train` (the trained model has every parameter trainable and its
  encoder changes; frozen inside `model_init`, the encoder stays put).
- tests/runtime/test_flag_kept_runtime.py, `test_moving_casting_and_copying_keep_the_flag` (`copy.deepcopy`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Iterator

from freezelint import knowledge
from freezelint.facts import (
    Event,
    Facts,
    FreezeOp,
    Literal,
    Model,
    ModelSource,
    ModuleRef,
    OpaqueUse,
    PeftApply,
    Rebind,
    TrainCall,
    TrainerBuild,
    Value,
    as_ref,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.runtime_hooks import CONFIRMED, NOT_CHECKABLE, REFUTED, StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

REASSIGNED = (
    "`{name}` was frozen at line {line} (`{freeze}`), and is re-assigned here to a new model ({factory}) whose "
    "parameters are all trainable: the frozen object is discarded, and the new one trains with nothing frozen. "
    "Freeze after this line, on the model you train."
)
MODEL_INIT = (
    "{trainer} was built with `model_init=`: `train()` (line {line}) calls it again and trains the fresh model it "
    "returns, so freezing `{module}` here is lost and every parameter trains. Freeze inside the `model_init` function "
    "instead."
)


@rule("FRZ109", "freezing-lost", Level.ERROR, tokens=(knowledge.FREEZE_TOKENS, knowledge.TRAINING_TOKENS))
def freezing_lost(facts: Facts) -> Iterator[Report]:
    yield from _re_assigned(facts)
    yield from _model_init(facts)


def _re_assigned(facts: Facts) -> Iterator[Report]:
    for rebind in facts.of(Rebind):
        news = [v for v in rebind.new.candidates() if isinstance(v, Model) and v.source is not ModelSource.COPY]
        for old in _models(rebind.old):
            freeze = _last_freeze(facts, old, rebind.order)
            if freeze is None or set(old.names) - {rebind.name} or facts.training_of(old) is not None:
                continue  # still known by another name, or trained itself: not lost
            if _used_after(facts, old, rebind.order):
                continue
            for new in news:
                fresh = ModuleRef(new)
                if fresh.overlaps(ModuleRef(old)) or facts.training_of(new, after=rebind.order) is None:
                    continue
                if facts.freezes_touching(fresh) or _handled_elsewhere(facts, fresh):
                    continue
                fields = {
                    "name": rebind.name,
                    "line": facts.line(freeze.node),
                    "freeze": facts.code(freeze.where.statement or freeze.node),
                    "factory": new.factory,
                }
                yield Report(rebind.node, Message(REASSIGNED, fields))
                break


def _model_init(facts: Facts) -> Iterator[Report]:
    for build in facts.of(TrainerBuild):
        model_init = build.model_init
        if model_init is None or (isinstance(model_init, Literal) and model_init.value is None):
            continue
        trains = [call for call in facts.of(TrainCall) if call.trainer.build is build]
        made = [ref for ref in map(as_ref, build.model.candidates()) if ref is not None]
        for op in facts.of(FreezeOp):
            if op.value is not False or not op.effective or op.where.callback_of is not None:
                continue
            if op.module is None or op.order <= build.order or not any(op.module.overlaps(ref) for ref in made):
                continue
            train = next((call for call in trains if call.order > op.order), None)
            if train is None:
                continue
            fields = {"trainer": build.describe(), "line": facts.line(train.node), "module": facts.spelling(op)}
            yield Report(op.where.statement or op.node, Message(MODEL_INIT, fields))


def _models(value: Value) -> list[Model]:
    found: list[Model] = []
    for option in value.candidates():
        ref = as_ref(option)
        if ref is not None and not ref.path and not ref.model.abstract:
            found.append(ref.model)
    return found


def _last_freeze(facts: Facts, model: Model, before: int) -> FreezeOp | None:
    ref = ModuleRef(model)
    last = None
    for op in facts.of(FreezeOp):
        if op.value is False and op.effective and op.order < before:
            if op.module is not None and op.module.overlaps(ref) and ModuleRef(model).contains(op.module):
                last = op
    return last


def _used_after(facts: Facts, model: Model, order: int) -> bool:
    """Any event after `order` that involves the model (it is still in use under some other handle)."""
    ref = ModuleRef(model)
    for event in facts.all_events(uncalled=True):
        if event.order <= order or isinstance(event, Rebind):
            continue
        for value in _values(event):
            for option in value.candidates():
                other = as_ref(option)
                if other is not None and other.overlaps(ref):
                    return True
    return False


def _values(event: Event) -> Iterator[Value]:
    for item in dataclasses.fields(event):
        content = getattr(event, item.name)
        contents = content.values() if isinstance(content, dict) else content if isinstance(content, tuple) else (content,)
        for value in contents:
            if isinstance(value, Value):
                yield value


def _handled_elsewhere(facts: Facts, ref: ModuleRef) -> bool:
    """PEFT on the new model, or the new model handed to code the analysis cannot see (it may freeze it)."""
    for apply in facts.of(PeftApply, uncalled=True):
        if any((r := as_ref(o)) is not None and r.overlaps(ref) for v in (apply.model, apply.result) for o in v.candidates()):
            return True
    return any(use.module.overlaps(ref) for use in facts.of(OpaqueUse, uncalled=True))


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ109")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    """Confirmed when the model built on the finding's line, the one that trains, has nothing frozen."""
    if (stopped := view.not_run(finding) or view.incomplete()) is not None:
        return stopped
    start, end = view.state.statement_lines(finding.row)
    top = view.state.model_loaded_between(start, end)
    if top is None:
        return Verdict(NOT_CHECKABLE, f"the replay built no model at line {finding.row}")
    if top.frozen == 0:
        return Verdict(CONFIRMED, f"the `{top.name}` built at line {finding.row} has nothing frozen: {view.trainable_summary(top)}")
    return Verdict(REFUTED, f"{top.frozen:,} of {top.total:,} parameters of the `{top.name}` built at line {finding.row} are frozen")
