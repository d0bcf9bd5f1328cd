"""## What it does
Notes a pretrained model (`*.from_pretrained(...)`) that the file trains with no parameter frozen, no PEFT or
adapter applied, and no helper it cannot see into: every pretrained weight will be updated.

## Why is this bad?
It often is not: Hugging Face Transformers never freezes anything by default, and full fine-tuning is usually the
best choice when there is enough data. But the belief that `from_pretrained` freezes the pretrained layers is
widespread, and a script that meant to train only a task head silently trains the whole model instead: more
memory, more time, and the pretrained representations drift (catastrophic forgetting on small datasets).
The note says how many parameters will train when the checkpoint is known, so the choice is a conscious one.

## Example
```python
model = BertForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
trainer.train()
```

Use instead, to train only the task head:
```python
model = BertForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
model.bert.requires_grad_(False)  # or model.base_model.requires_grad_(False)
```

Or, when full fine-tuning is what you want, say so on the loading line:
```python
model = BertForSequenceClassification.from_pretrained("bert-base-uncased")  # freezelint: full-finetune
```

The note stays silent for models that are never trained (inference, teachers, reference models), for PEFT and
adapters (including TRL trainers given `peft_config=`), for models handed to a function the analysis cannot see
into (an imported helper may freeze them), when the optimizer holds only part of the model (the head), and when
the model only ever runs under `torch.no_grad()` (a frozen feature extractor inside a larger module).

## Fix safety
No fix: which layers to freeze is a modelling decision.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the model built on the reported line has
every parameter trainable, refuted when the replay's freezing froze some (with the lines).

## References
- huggingface/transformers PR #11533 ("Transformers models get better results when being fine-tuned as a whole.
  There is no freezing stage.")
- openillumi.com, "Hugging Face BERT Fine-Tuning: Freeze Weights Correctly"
  (https://openillumi.com/en/en-huggingface-bert-finetuning-freeze-check): whether `from_pretrained` weights are
  frozen by default is "a common misconception"; they are not. The same question on AI Stack Exchange:
  https://ai.stackexchange.com/questions/28559 ("Does BERT freeze the entire model body when it does fine-tuning?").
- tests/runtime/test_noop_freezes_runtime.py, `test_buggy_freezes_nothing_and_the_fix_freezes`: the model
  `from_pretrained` returns has no parameter frozen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge
from freezelint.facts import (
    Facts,
    Forward,
    FreezeOp,
    Model,
    ModelSource,
    ModuleRef,
    OpaqueUse,
    PeftApply,
    Training,
    Unknown,
    as_ref,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.runtime_hooks import (
    CONFIRMED,
    NOT_CHECKABLE,
    REFUTED,
    StaticFinding,
    Verdict,
    number,
    runtime_verdict,
)

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

MARKER = "full-finetune"

# What trains, by whether the model's parameter count is known.
_AMOUNTS = {
    True: "all {count:,} parameters, every pretrained weight included,",
    False: "every pretrained weight",
}
# How to freeze, by whether the model has a task head on a base model.
_HOW_TO_FREEZE = {
    True: "`{model}.base_model.requires_grad_(False)` trains only the task head",
    False: "call `requires_grad_(False)` on the modules to keep",
}
# The message by (count known, task head).
MESSAGES = {
    (counted, head): (
        "`{model}` ({factory}) is trained by {training} with no parameter frozen: " + amount + " will be updated (full "
        "fine-tuning). Freeze layers (" + how_to + "), or mark full fine-tuning as intended with `# freezelint: "
        + MARKER + "`."
    )
    for counted, amount in _AMOUNTS.items()
    for head, how_to in _HOW_TO_FREEZE.items()
}


@rule("FRZ302", "full-fine-tuning", Level.NOTE, tokens=(("from_pretrained",), knowledge.TRAINING_TOKENS))
def full_fine_tuning(facts: Facts) -> Iterator[Report]:
    if _unplaced_freeze(facts):
        return  # something freezes parameters the analysis cannot place: it may be this model's
    # statement -> how it is trained, and the models it may build (one of several classes chosen by a setting)
    reported: dict[int, tuple[Training, list[Model]]] = {}
    for model in facts.models:
        if model.source is not ModelSource.PRETRAINED or model.abstract:
            continue
        training = facts.training_of(model, covering=True)
        if training is None:
            continue
        ref = ModuleRef(model)
        if facts.freezes_touching(ref) or _peft_applied(facts, ref) or _handed_away(facts, ref):
            continue
        if _only_run_without_gradients(facts, ref):
            continue
        statement = model.where.statement or model.node
        if facts.has_marker(statement, MARKER):
            continue
        reported.setdefault(id(statement), (training, []))[1].append(model)
    for training, models in reported.values():
        model = models[0]
        counts = {knowledge.parameter_count(m.checkpoint, m.class_name, _num_labels(facts, m.node)) for m in models}
        count = counts.pop() if len(counts) == 1 else None
        head = all(knowledge.has_task_head(m.class_name) for m in models)
        factory = " or ".join(dict.fromkeys(m.factory for m in models))
        fields: dict[str, object] = {"model": model.name, "factory": factory, "training": training.how}
        if count:
            fields["count"] = count
        yield Report(model.where.statement or model.node, Message(MESSAGES[bool(count), bool(head)], fields))


def _peft_applied(facts: Facts, ref: ModuleRef) -> bool:
    for apply in facts.of(PeftApply, uncalled=True):
        for value in (apply.model, apply.result):
            for option in value.candidates():
                applied = as_ref(option)
                if applied is not None and applied.overlaps(ref):
                    return True
    return False


def _only_run_without_gradients(facts: Facts, ref: ModuleRef) -> bool:
    """Every call of the model runs under `torch.no_grad()` (a frozen feature extractor): nothing reaches its weights."""
    calls = [forward for forward in facts.of(Forward, uncalled=True) if ref.contains(forward.module)]
    return bool(calls) and all(forward.where.no_grad for forward in calls)


def _handed_away(facts: Facts, ref: ModuleRef) -> bool:
    return any(use.module.overlaps(ref) for use in facts.of(OpaqueUse, uncalled=True))


def _unplaced_freeze(facts: Facts) -> bool:
    """A freeze run on parameters of unknown origin (a helper's argument we could not trace)."""
    for op in facts.of(FreezeOp):
        if op.value is True:
            continue
        if isinstance(op.target, Unknown):
            return True
    return False


def _num_labels(facts: Facts, node: object) -> int | None:
    if isinstance(node, cst.Call):
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "num_labels" and isinstance(arg.value, cst.Integer):
                return int(arg.value.value)
    return None


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ302")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    if (verdict := view.incomplete()) is not None:
        return verdict
    start, end = view.state.statement_lines(finding.row)
    top = view.state.model_loaded_between(start, end)
    if top is None:
        failure = next((f for f in view.state.harness.failures if start <= f.line <= end), None)
        if failure is not None:
            return Verdict(NOT_CHECKABLE, f"the model at line {finding.row} could not be built: {failure.describe()}")
        return Verdict(NOT_CHECKABLE, view.state.why_not_run(finding.row))
    if top.trainable == top.total:
        return Verdict(CONFIRMED, view.trainable_summary(top))
    froze = sorted({r.probe.start for r in view.state.harness.probes.values() if any(top.owns(p) for p in r.frozen.values())})
    where = f" (frozen at line {', '.join(map(str, froze))})" if froze else ""
    return Verdict(REFUTED, f"{number(top.frozen)} of {number(top.total)} parameters of `{top.name}` are frozen{where}")
