"""## What it does
Finds a model trained with every parameter frozen. It is frozen whole (`model.requires_grad_(False)`, a loop over
`model.parameters()`) with nothing unfrozen, no new head, and no PEFT afterwards before it trains; a head replaced
*before* the freeze-all, so the new head is frozen too; or "freeze all but `classifier`" written for a model whose
head has another name (GPT-2, Llama, Mistral and Qwen sequence classifiers call it `score`, causal LMs `lm_head`,
torchvision ResNets `fc`), so the name filter matches nothing and everything is frozen. The table of head names per
architecture is `knowledge.TASK_HEADS` (derived from transformers) and `knowledge.VISION_TASK_HEADS`.

## Why is this bad?
There is nothing to train. The first `backward()` fails with `RuntimeError: element 0 of tensors does not require
grad and does not have a grad_fn`, a message that says nothing about freezing; `torch.optim` over the filtered
trainable parameters raises `ValueError: optimizer got an empty parameter list`. Worse, with gradient checkpointing
in transformers 5 (which makes the loss require grad) the Trainer runs to the end, logs a loss, and changes nothing.

## Example
```python
model = torchvision.models.resnet50(weights="DEFAULT")
model.fc = nn.Linear(2048, 10)
for param in model.parameters():  # freezes the new head too
    param.requires_grad = False
```

Use instead, freeze first and then add the head (new modules are trainable), or unfreeze it:
```python
for param in model.parameters():
    param.requires_grad = False
model.fc = nn.Linear(2048, 10)
```

With a name filter, use the model's real head name (or a module handle: `model.score.requires_grad_(True)`):
```python
model = AutoModelForSequenceClassification.from_pretrained("gpt2", num_labels=2)
for name, param in model.named_parameters():
    if not name.startswith("score"):
        param.requires_grad = False
```

When PEFT is involved (`get_peft_model`, `PeftModel.from_pretrained`, `prepare_model_for_kbit_training`, a trainer's
`peft_config=`), this rule stays silent: the PEFT rules explain why nothing trains there (FRZ401: k-bit preparation
after the adapters, or with none added; FRZ402: an adapter loaded for inference; FRZ403: a freeze after wrapping).
It also stays silent when the model is handed to code the analysis cannot see into after the freeze, which may
unfreeze it.

## Fix safety
No fix: which layers should train is a modelling decision.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the trained model has no trainable parameter
after the replay, refuted otherwise (it lists the largest trainable parts); the replay also finds it on its own.

## References
- tests/runtime/test_frz301_runtime.py: `test_trainer_crashes_at_the_first_backward_with_nothing_trainable` (the
  "element 0 of tensors does not require grad" error),
  `test_with_activation_checkpointing_the_trainer_runs_and_changes_nothing`,
  `test_a_head_replaced_before_freezing_all_is_frozen_too` and
  `test_all_but_classifier_freezes_every_parameter_of_gpt2` (GPT-2's head is `score`; the optimizer raises
  "optimizer got an empty parameter list");
  tests/runtime/test_task_heads_runtime.py checks `knowledge.TASK_HEADS` against the installed transformers.
- transformers 5.25 `modeling_utils.py`, `_activation_checkpointing_enable`: calls `enable_input_require_grads()`
  when `main_input_name == "input_ids"`, so the loss requires grad with nothing trainable.
- RUCAIBox/RecBole#2027, pyg-team/pytorch_geometric PR #9996: the "element 0 of tensors does not require grad"
  question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from freezelint import knowledge
from freezelint.facts import (
    AttributeAssign,
    Branch,
    Event,
    Facts,
    FreezeForm,
    FreezeOp,
    Model,
    ModuleRef,
    OptimizerBuild,
    ParamSet,
    PeftApply,
    TrainCall,
    as_ref,
    branches_conflict,
    may_unfreeze,
    new_parameters,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.runtime_hooks import (
    CONFIRMED,
    REFUTED,
    Found,
    StaticFinding,
    Verdict,
    number,
    runtime_detector,
    runtime_verdict,
)

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

Head = tuple[str, tuple[str, ...], frozenset[str]]  # architecture, head sub-modules, head words in parameter names

# Why every parameter ends frozen, and what to do instead: a name filter that matches no head parameter, a new head
# assigned before a freeze-all, or a freeze-all (of a model whose head is known, or not).
_CAUSES = {
    "name filter": (
        "No parameter name of `{module}` ({architecture}) contains \"{word}\" (its head is {heads}), so this freezes "
        "every parameter",
        "test the real head name (\"{head}\"), or unfreeze the head module: `{module}.{head}.requires_grad_(True)`",
    ),
    "head replaced": (
        "Every parameter of `{module}` is frozen here, the new `{target}` assigned at line {assigned_line} included",
        "assign the new head after freezing (new modules are trainable), or unfreeze it: `{target}.requires_grad_(True)`",
    ),
    "known head": (
        "Every parameter of `{module}` is frozen here",
        "unfreeze what should train, e.g. `{module}.{head}.requires_grad_(True)`",
    ),
    "unknown head": (
        "Every parameter of `{module}` is frozen here",
        "unfreeze what should train, e.g. `requires_grad_(True)` on the layers to train",
    ),
}
# What follows, by what starts training: an optimizer built from the trainable parameters, or a training step.
_CONSEQUENCES = {
    "optimizer": (
        "`{how}` (line {line}) is built from the trainable parameters, that is from none: it raises "
        "`ValueError: optimizer got an empty parameter list`"
    ),
    "training": (
        "nothing unfreezes any before `{how}` at line {line}: there is nothing to train. The first `backward()` fails "
        "with \"element 0 of tensors does not require grad and does not have a grad_fn\" (with gradient "
        "checkpointing, training runs and changes nothing)"
    ),
}
# The message by (cause, consequence).
MESSAGES = {
    (cause, consequence): what + ", and " + result + ". Instead, " + instead + "."
    for cause, (what, instead) in _CAUSES.items()
    for consequence, result in _CONSEQUENCES.items()
}


@rule("FRZ301", "nothing-trainable", Level.ERROR, tokens=(knowledge.FREEZE_TOKENS, knowledge.TRAINING_TOKENS))
def nothing_trainable(facts: Facts) -> Iterator[Report]:
    reported: set[int] = set()
    for moment, trained, how in _trainings(facts):
        if not trained or any(_peft_involved(facts, ref) for ref, _ in trained):
            continue
        found = [_frozen_whole(facts, ref, moment, guards) for ref, guards in trained]
        freezes = [f for f in found if f is not None]
        if len(freezes) < len(found):
            continue  # some module it trains is not frozen whole
        freeze = max(freezes, key=lambda f: f.order)
        if id(freeze) in reported:
            continue
        reported.add(id(freeze))
        yield Report(freeze.where.statement or freeze.node, _message(facts, freeze, trained[0][0], moment, how))


Trained = list[tuple[ModuleRef, tuple[Branch, ...]]]


def _trainings(facts: Facts) -> Iterator[tuple[Event, Trained, str]]:
    """Where training starts, what it updates (each with the `if` arms it was handed over in), and how (for
    messages)."""
    for call in facts.of(TrainCall):
        trainer = call.trainer.build
        if "optimizers" in trainer.given:
            continue
        if trainer.cls is not None and trainer.cls.find_method("create_optimizer"):
            continue
        refs = [as_ref(option) for option in call.model.candidates()]
        if refs and all(ref is not None for ref in refs):
            how = f"{trainer.names[0]}.train()" if trainer.names else f"{trainer.class_name}(...).train()"
            yield call, [(ref, ()) for ref in refs if ref is not None], how
    for build in facts.of(OptimizerBuild):
        parts = build.param_parts()
        if not parts or not all(isinstance(p, ParamSet) and not p.copies for p in parts):
            continue
        sets = [p for p in parts if isinstance(p, ParamSet)]
        trained = [(s.module, s.guards) for s in sets]
        if any(s.only_trainable for s in sets):
            yield build, trained, build.name  # built from what is trainable now: from nothing, it raises
            continue
        use = facts.optimizer_used_after(build, build.where)
        if isinstance(use, TrainCall):
            trainer = use.trainer.build
            yield use, trained, f"{trainer.names[0]}.train()" if trainer.names else f"{trainer.class_name}(...).train()"
        elif use is not None:
            yield use, trained, f"{build.name}.step()"


def _peft_involved(facts: Facts, ref: ModuleRef) -> bool:
    """PEFT (or k-bit preparation) touches this model: the PEFT rules explain its trainable set."""
    for apply in facts.of(PeftApply, uncalled=True):
        for value in (apply.model, apply.result):
            if any((r := as_ref(o)) is not None and (r.overlaps(ref) or ref.overlaps(r)) for o in value.candidates()):
                return True
    return any(
        op.form is FreezeForm.KBIT_PREPARE and op.module is not None and op.module.overlaps(ref) for op in facts.of(FreezeOp, uncalled=True)
    )


def _frozen_whole(facts: Facts, ref: ModuleRef, moment: Event, guards: tuple[Branch, ...] = ()) -> FreezeOp | None:
    """The last operation before `moment` that froze every parameter at `ref`, if nothing after it (or in a loop
    with `moment`, or in the trainer's callbacks) may make any trainable again. A freeze in the other arm of an `if`
    that hands `ref` over (`guards`) does not count: the two never happen in one run."""
    head = _head(ref.model)
    last: FreezeOp | None = None
    for op in facts.of(FreezeOp):
        if op.order >= moment.order or op.module is None or not op.module.overlaps(ref):
            continue
        if branches_conflict(op.where.branches, guards):
            continue
        if op.form in (FreezeForm.STORE, FreezeForm.CALL) and _effect(op, ref, head) == "all frozen":
            last = op if last is None or op.order > last.order else last
    if last is None:
        return None
    trainer = moment.trainer if isinstance(moment, TrainCall) else None
    for event in facts.events:
        if event.order <= last.order:
            continue
        later = event.order >= moment.order and event.where.shared_loop(moment.where) is None
        if later and (trainer is None or event.where.callback_of is not trainer):
            continue
        if isinstance(event, FreezeOp) and event.module is not None and _effect(event, ref, head) == "none":
            continue
        if may_unfreeze(event, ref):
            return None
    return last


def _effect(op: FreezeOp, ref: ModuleRef, head: Head | None) -> str:
    """What an operation does to the parameters at `ref`: "all frozen", "none" (touches none of them), or "some"."""
    if not op.effective or op.module is None or not op.module.overlaps(ref):
        return "none"
    if op.value is False and op.whole and op.module.contains(ref):
        return "all frozen"
    by_name = op.name_filter() or op.name_value()
    if by_name is None or head is None or not op.module.contains(ref) or ref.path:
        return "some"
    word, containing = by_name
    if word not in knowledge.HEAD_WORDS or word in head[2] or any(word in h for h in head[1]):
        return "some"  # the literal occurs in this model's parameter names, or may
    # No parameter name contains `word`: the test is False for every one of them.
    if op.name_value() is not None:
        return "all frozen" if containing else "some"  # `requires_grad = word in name` sets False everywhere
    if containing:
        return "none"
    return "all frozen" if op.value is False else "some"


def _head(model: Model) -> Head | None:
    return knowledge.task_head(model.class_name, model.checkpoint, model.library)


def _message(facts: Facts, freeze: FreezeOp, ref: ModuleRef, moment: Event, how: str) -> Message:
    head = _head(ref.model)
    by_name = freeze.name_filter() or freeze.name_value()
    replaced = _head_replaced_before(facts, ref, freeze)
    fields: dict[str, object] = {"module": ref.describe()}
    if by_name is not None and head is not None and not (freeze.value is False and freeze.whole):
        cause = "name filter"
        fields |= {"architecture": head[0], "word": by_name[0], "heads": " + ".join(f"`{h}`" for h in head[1]), "head": head[1][-1]}
    elif replaced is not None:
        cause = "head replaced"
        fields |= {"target": facts.code(replaced.node), "assigned_line": facts.line(replaced.node)}
    elif head is not None:
        cause = "known head"
        fields["head"] = head[1][-1]
    else:
        cause = "unknown head"
    consequence = "optimizer" if isinstance(moment, OptimizerBuild) else "training"
    fields |= {"how": how, "line": facts.line(moment.node)}
    return Message(MESSAGES[cause, consequence], fields)


def _head_replaced_before(facts: Facts, ref: ModuleRef, freeze: FreezeOp) -> AttributeAssign | None:
    """A new sub-module assigned into the model before the freeze-all (the usual "replace the head, then freeze")."""
    for assign in facts.of(AttributeAssign):
        if assign.order < freeze.order and isinstance(assign.owner, ModuleRef):
            place = ModuleRef(assign.owner.model, (*assign.owner.path, assign.attribute))
            if ref.contains(place) and any(new_parameters(v) for v in assign.value.candidates()):
                return assign
    return None


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_detector("FRZ301", whole_model=True)
def detect(view: RuntimeView) -> Iterator[Found]:
    if view.state.unfrozen_in_callbacks():
        return  # a callback unfreezes when training starts: the replay's state is not the one that trains
    for top in view.state.models:
        if top.trainable or not top.total:
            continue
        how = view.state.trained(top)
        if how is None:
            continue  # a frozen model nothing trains: a teacher, a reference model
        row = view.training_line(top) or top.line
        if row is None:
            continue
        yield view.at_line(row, "FRZ301",
            f"`{top.name}` ({top.class_name}) has no trainable parameter left: all {number(top.total)} are frozen, "
            f"yet {how} trains it. The first backward() fails with 'element 0 of tensors does not require grad' (or, "
            "with gradient checkpointing on transformers 5, training runs and changes nothing). Unfreeze what should "
            "learn (the task head, `requires_grad_(True)`) after the freeze-all.",
            f"0 of {number(top.total)} parameters of `{top.name}` trainable",
            top,
        )


@runtime_verdict("FRZ301")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    top = view.subject(finding, must_run=False)
    if isinstance(top, Verdict):
        return top
    if (found := view.consume("FRZ301", top)) is not None:
        return Verdict(CONFIRMED, found.evidence)
    if top.trainable == 0:
        return Verdict(CONFIRMED, f"0 of {number(top.total)} parameters of `{top.name}` trainable")
    return Verdict(REFUTED, view.trainable_summary(top) + view.largest_trainable(top))
