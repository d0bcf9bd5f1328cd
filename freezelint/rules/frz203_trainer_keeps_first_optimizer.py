"""## What it does
Finds layers unfrozen while a Hugging Face `Trainer` keeps the optimizer it built at the first `train()`. The
unfreeze sits in a `TrainerCallback` hook (`on_epoch_begin`, even `on_train_begin`), or between two
`trainer.train()` calls on the same trainer (TRL and Sentence-Transformers trainers behave the same).

## Why is this bad?
The Trainer builds its optimizer once, in `train()`, from the parameters that require grad at that moment
(`create_optimizer` filters on `p.requires_grad`), and reuses `self.optimizer` for every later step and every later
`train()` call (only `model_init` resets it). Layers unfrozen afterwards compute gradients that no optimizer applies:
their weights never change, and the loss curve gives no hint. Even `on_train_begin` runs after the optimizer is
built.

The rule stays silent when the Trainer got an optimizer of its own (`optimizers=(...)`: FRZ202 checks that one), when
the trainer class overrides `create_optimizer`, when the script resets `trainer.optimizer`, and when the layers were
not frozen at the first `train()`.

## Example
```python
class Unfreeze(TrainerCallback):
    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        if state.epoch >= 1:
            model.bert.encoder.layer[-1].requires_grad_(True)  # ignored by the Trainer's optimizer

model.bert.requires_grad_(False)
trainer = Trainer(model=model, args=args, train_dataset=train, callbacks=[Unfreeze()])
trainer.train()
```

Use instead, an optimizer over all parameters (frozen ones are skipped while their `.grad` is None, and the Trainer
still schedules it):
```python
optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)
trainer = Trainer(model=model, args=args, train_dataset=train, callbacks=[Unfreeze()], optimizers=(optimizer, None))
```

Between two `train()` calls, `trainer.optimizer = None; trainer.lr_scheduler = None` makes the next `train()`
build a fresh optimizer (with fresh Adam state), or build a new `Trainer` per stage.

## Fix safety
No fix: several remedies exist, and each changes the optimizer state or the schedule differently.

## Runtime mode
No runtime verdict: the mistake shows only when training runs a second time (the unfreeze comes between two
`trainer.train()` calls), and the replay stops where training starts.

## References
- transformers 5.25 `trainer.py`: `Trainer.create_optimizer` builds the optimizer only "if self.optimizer is None",
  from the parameters with `p.requires_grad`; `Trainer.train` resets it only when `model_init` is set.
- tests/runtime/test_frz203_runtime.py: `test_callback_unfreeze_is_ignored_by_the_trainers_optimizer`
  (`on_epoch_begin` and `on_train_begin`), `test_an_optimizer_over_all_parameters_trains_what_the_callback_unfreezes`
  and `test_second_train_call_keeps_the_first_optimizer_unless_reset`.
- OptimalScale/LMFlow#726: LISA layer switching showed "same loss regardless of lisa_activated_layers".
- docs.ahmadiehsan.ir, "Freezing Layers" (https://docs.ahmadiehsan.ir/ai/neural_network/regularization/freezing_layers):
  a `gradual_unfreeze` that unfreezes layers and calls `trainer.train(resume_from_checkpoint=True)` again.
"""

from __future__ import annotations

from typing import Iterator

from freezelint import knowledge
from freezelint.facts import AttributeAssign, Facts, FreezeOp, ModuleCall, Trainer, TrainCall, as_ref
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule

# Trainers that build their optimizer the HF Trainer way (TRL and Sentence-Transformers subclass it).
_HF_TRAINER_LIBRARIES = ("transformers", "trl", "sentence-transformers")

_KEEPS_FIRST_OPTIMIZER = (
    ", but {trainer} built its optimizer at the first `train()` (line {line}) from the parameters trainable then, and "
    "keeps it: these layers will compute gradients and never change. Give the Trainer an optimizer over all parameters "
    "(`optimizers=(torch.optim.AdamW({model}.parameters(), lr=...), None)`; frozen ones are skipped while their `.grad` "
    "is None)"
)
IN_CALLBACK = "`{module}` is unfrozen in a callback" + _KEEPS_FIRST_OPTIMIZER + "."
BETWEEN_TRAIN_CALLS = (
    "`{module}` is unfrozen between two `train()` calls" + _KEEPS_FIRST_OPTIMIZER + ", or set `{name}.optimizer = None` "
    "and `{name}.lr_scheduler = None` before the next `train()`."
)


@rule("FRZ203", "trainer-keeps-first-optimizer", Level.ERROR, tokens=(knowledge.UNFREEZE_TOKENS, knowledge.TRAINER_TOKENS))
def trainer_keeps_first_optimizer(facts: Facts) -> Iterator[Report]:
    trains = list(facts.of(TrainCall))
    for trainer in _trainers(trains):
        own = [call for call in trains if call.trainer is trainer]
        created = _optimizer_created(facts, trainer, own[0])
        for op in facts.of(FreezeOp):
            if op.value is not True or not op.effective or op.module is None:
                continue
            in_callback = op.where.callback_of is trainer
            between = not in_callback and op.order > own[0].order and any(call.order > op.order for call in own)
            if not (in_callback or between) or not _trains(trainer, op, own):
                continue
            if facts.frozen_at(op.module, created) is None or _optimizer_reset(facts, trainer, created):
                continue
            fields: dict[str, object] = {
                "module": facts.spelling(op),
                "trainer": trainer.build.describe(),
                "line": facts.line(own[0].node),
                "model": _model_name(own),
            }
            if in_callback:
                message = Message(IN_CALLBACK, fields)
            else:
                name = trainer.build.names[0] if trainer.build.names else "trainer"
                message = Message(BETWEEN_TRAIN_CALLS, {**fields, "name": name})
            yield Report(op.where.statement or op.node, message)


def _trainers(trains: list[TrainCall]) -> list[Trainer]:
    """HF-style trainers that build their own optimizer and keep it across `train()` calls."""
    found: list[Trainer] = []
    for call in trains:
        trainer, build = call.trainer, call.trainer.build
        if trainer in found or build.library not in _HF_TRAINER_LIBRARIES:
            continue
        if "optimizers" in build.given or build.model_init is not None:
            continue  # its own optimizer (FRZ202's business), or model_init: a fresh model and optimizer per train()
        if build.cls is not None and any(build.cls.find_method(m) for m in ("create_optimizer", "create_optimizer_and_scheduler", "train")):
            continue
        found.append(trainer)
    return found


def _optimizer_created(facts: Facts, trainer: Trainer, first: TrainCall) -> int:
    """When the trainer's optimizer is built: an explicit `create_optimizer()`, else the first `train()`."""
    for call in facts.of(ModuleCall, uncalled=True):
        if call.receiver is trainer and call.method in ("create_optimizer", "create_optimizer_and_scheduler"):
            return min(call.order, first.order)
    return first.order


def _model_name(own: list[TrainCall]) -> str:
    for option in own[0].model.candidates():
        ref = as_ref(option)
        if ref is not None and ref.model.names:
            return ref.model.names[0]
    return "model"


def _trains(trainer: Trainer, op: FreezeOp, own: list[TrainCall]) -> bool:
    """The unfrozen layers belong to the model this trainer trains."""
    return any(
        (ref := as_ref(option)) is not None and op.module is not None and ref.overlaps(op.module)
        for call in own
        for option in call.model.candidates()
    )


def _optimizer_reset(facts: Facts, trainer: Trainer, created: int) -> bool:
    """`trainer.optimizer = ...` after the optimizer was built (None makes the next `train()` build a new one)."""
    return any(
        assign.owner is trainer and assign.attribute == "optimizer" and assign.order > created
        for assign in facts.of(AttributeAssign, uncalled=True)
    )
