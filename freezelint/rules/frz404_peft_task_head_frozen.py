"""## What it does
Finds LoRA (or another injected PEFT method) applied to a task model with a new, randomly initialised head
(`AutoModelForSequenceClassification`, `...ForTokenClassification`, `...ForQuestionAnswering`,
`...ForMultipleChoice`; an image or audio classifier given new labels) with neither a `task_type` that makes PEFT
train the head nor `modules_to_save`. With `model.add_adapter(...)` and `inject_adapter_in_model(...)`, which ignore
`task_type`, only `modules_to_save` helps.

## Why is this bad?
PEFT freezes everything but its adapters. The classification head that `from_pretrained` just created with random
weights is frozen with the rest, so it stays a random projection for the whole training: the adapters learn to feed
a head that never learns, and the metrics come out poor but not zero, which looks like a hard task rather than a bug.
`task_type="SEQ_CLS"` (or `"TOKEN_CLS"`) makes PEFT add `classifier`/`score` to `modules_to_save`, and
`"QUESTION_ANS"` adds `qa_outputs`; other heads need `modules_to_save=[...]` by name.

## Example
```python
model = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=3)
model = get_peft_model(model, LoraConfig(r=8, target_modules=["query", "value"]))
```

Use instead:
```python
model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=8, target_modules=["query", "value"]))
```

It stays silent for causal and masked language models (their head comes with the checkpoint), for checkpoints whose
name says they were fine-tuned for the task (`...-finetuned-sst-2-english`), for image and audio classifiers loaded
with their own labels, when `task_type` or `modules_to_save` is given (or the config is built from values the analysis
cannot read), and for prompt-learning methods.

## Fix safety
No fix: the right `task_type` or `modules_to_save` depends on the model and on the PeftModel class the author wants.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when every weight of the task head is frozen
after PEFT wrapped the model, refuted when the head trains.

## References
- peft 0.21.2 `peft_model.py`: `PeftModelForSequenceClassification` and `PeftModelForTokenClassification` add
  `["classifier", "score"]` to `modules_to_save`, `PeftModelForQuestionAnswering` adds `["qa_outputs"]`.
- transformers 5.25 `integrations/peft.py`, `PeftAdapterMixin.add_adapter`: calls `inject_adapter_in_model`, which
  adds no task head to `modules_to_save` whatever the `task_type` (and needs peft >= 0.22).
- tests/runtime/test_peft_rules_runtime.py: `test_frz404_without_task_type_the_new_head_stays_frozen_and_unchanged`,
  `test_frz404_with_task_type_the_head_trains` and `test_frz404_injected_adapters_ignore_task_type`.
- Measured with transformers 4.57.6 and peft 0.17.1: `model.add_adapter(LoraConfig(...))` on a sequence classifier
  leaves its classifier frozen (not run on transformers 5, for want of peft 0.22).
- 4AI/LS-LLaMA#3, TNI-playground/Fed_HeLLo#2 (evaluated with the random head); huggingface/peft#577.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge
from freezelint.facts import Config, Facts, Literal, Model, ModelSource, PeftApply, Value, as_ref
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.runtime_hooks import CONFIRMED, NOT_CHECKABLE, REFUTED, StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

_APPLIES = frozenset({"get_peft_model", "add_adapter", "inject_adapter_in_model"})

# Why PEFT leaves the head out, and what to do, by case: adapters injected in place (which ignores `task_type`), a
# config without the task type that would save this head, or without any that would.
_CASES = {
    "in place": ("`{function}(...)` ignores `task_type`", "add `modules_to_save=[{save_list}]` to the config"),
    "task type saves it": (
        "the config has no `task_type` and no `modules_to_save`",
        "pass `task_type=\"{task_type}\"` (PEFT then trains the head), or `modules_to_save=[{save_list}]`",
    ),
    "no task type": (
        "the config has no `task_type` and no `modules_to_save`",
        "add `modules_to_save=[{save_list}]` to the config",
    ),
}
# The head, by whether its modules are known.
_HEADS = {True: "{heads}", False: "its task head"}
# Where the config is written, when not on the line of the PEFT call.
_CONFIG_LINES = {True: " (line {config_line})", False: ""}
# The message by (case, head modules known, config on another line).
MESSAGES = {
    (case, known, elsewhere): (
        "`{model}` ({model_class}) has a new, randomly initialised head (" + head + "), and " + why + config_line
        + ": PEFT freezes it with the base model, so it stays random for the whole training while the adapters learn "
        "around it (poor metrics, no error). To train the head, " + remedy + "."
    )
    for case, (why, remedy) in _CASES.items()
    for known, head in _HEADS.items()
    for elsewhere, config_line in _CONFIG_LINES.items()
}
# What `modules_to_save` should list when the head's modules are not known.
_UNKNOWN_HEAD_MODULE = '"<head module>"'


@rule("FRZ404", "peft-task-head-frozen", Level.WARNING, tokens=(("Config",), ("get_peft_model", "add_adapter", "inject_adapter_in_model")))
def peft_task_head_frozen(facts: Facts) -> Iterator[Report]:
    for apply in facts.of(PeftApply):
        config = apply.config
        if apply.how not in _APPLIES or apply.call is None or not isinstance(config, Config):
            continue
        if config.name not in knowledge.PEFT_INJECTED_CONFIGS or any(arg.star for arg in config.node.args):
            continue
        model = _task_model(apply)
        if model is None or not _new_head(model):
            continue
        if "modules_to_save" in config.kwargs and not _is_none(config.kwargs["modules_to_save"]):
            continue
        in_place = apply.how != "get_peft_model"
        if not in_place and "task_type" in config.kwargs:
            continue  # a task type that saves the head, or one the analysis does not judge
        yield Report(apply.call, _message(facts, apply, model, in_place))


def _task_model(apply: PeftApply) -> Model | None:
    """The model PEFT is applied to (a PeftModel's inner model, or the model adapters are injected into)."""
    wrapper = apply.wrapper
    if wrapper is not None:
        return wrapper.inner
    refs = [as_ref(option) for option in apply.model.candidates()]
    return refs[0].model if len(refs) == 1 and refs[0] is not None and not refs[0].path else None


def _new_head(model: Model) -> bool:
    """The task head is created by loading (random weights), as far as the class and the call say."""
    name = model.class_name or ""
    if model.library != "transformers" or model.source not in (ModelSource.PRETRAINED, ModelSource.FROM_CONFIG):
        return False
    if knowledge.NEW_HEAD_TEXT_TASK.search(name):
        return not (model.checkpoint and knowledge.FINETUNED_CHECKPOINT.search(model.checkpoint))
    if knowledge.NEW_HEAD_WITH_LABELS_TASK.search(name):
        call = model.node
        return isinstance(call, cst.Call) and any(
            arg.keyword is not None and arg.keyword.value in knowledge.NEW_LABELS_KEYWORDS for arg in call.args
        )
    return False


def _is_none(value: Value) -> bool:
    return isinstance(value, Literal) and value.value is None


def _message(facts: Facts, apply: PeftApply, model: Model, in_place: bool) -> Message:
    head = knowledge.task_head(model.class_name, model.checkpoint, model.library)
    heads = head[1] if head is not None else None
    suffix = knowledge.TASK_HEAD.search(model.class_name or "")
    task_type = knowledge.PEFT_TASK_TYPE_OF.get(suffix.group(1)) if suffix else None
    saves = knowledge.PEFT_TASK_TYPE_SAVES.get(task_type or "", ())
    fields: dict[str, object] = {
        "model": model.name,
        "model_class": model.class_name,
        "save_list": ", ".join(f'"{h}"' for h in heads) if heads else _UNKNOWN_HEAD_MODULE,
    }
    if heads:
        fields["heads"] = " + ".join(f"`{h}`" for h in heads)
    if in_place:
        case = "in place"
        fields["function"] = apply.how
    elif task_type and heads and all(h in saves for h in heads):
        case = "task type saves it"
        fields["task_type"] = task_type
    else:
        case = "no task type"
    config = apply.config
    config_line = facts.line(config.node) if isinstance(config, Config) else 0
    elsewhere = bool(config_line and apply.call is not None and config_line != facts.line(apply.call))
    if elsewhere:
        fields["config_line"] = config_line
    return Message(MESSAGES[case, bool(heads), elsewhere], fields)


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ404")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    """Confirmed when the new task head's weights are frozen after PEFT wrapped the model (and no trainable copy of
    the head was saved beside it)."""
    top = view.subject(finding)
    if isinstance(top, Verdict):
        return top
    heads = [
        (name, p) for name, p in top.named
        if any(part in knowledge.HEAD_WORDS for part in name.split(".")) and not any(m in name for m in knowledge.ADAPTER_PARAMETER_MARKERS)
    ]
    if not heads:
        return Verdict(NOT_CHECKABLE, f"no task head found among the parameters of `{top.name}`")
    trainable = [name for name, p in heads if p.requires_grad]
    if trainable:
        return Verdict(REFUTED, f"the head trains: `{trainable[0]}` requires grad")
    return Verdict(CONFIRMED, f"every weight of the task head is frozen ({', '.join(f'`{n}`' for n, _ in heads[:2])})")
