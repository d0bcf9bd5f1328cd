"""## What it does
Finds an adapter loaded with `PeftModel.from_pretrained(...)` (or `AutoPeftModel*.from_pretrained(...)`) without
`is_trainable=True`, and then trained in the same file: by a trainer, or by an optimizer that steps.

## Why is this bad?
`is_trainable` defaults to `False`: the adapter is loaded for inference, with every LoRA weight frozen (and the base
model frozen as PEFT always leaves it). Resuming or continuing LoRA training this way has nothing to train: the
Trainer fails at the first step with "element 0 of tensors does not require grad and does not have a grad_fn", and
trainers that tolerate an empty optimizer (TRL's GRPO) run to the end without changing a weight.

## Example
```python
base = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-2-7b-hf")
model = PeftModel.from_pretrained(base, "outputs/checkpoint-500")
Trainer(model=model, args=args, train_dataset=train).train()
```

Use instead:
```python
model = PeftModel.from_pretrained(base, "outputs/checkpoint-500", is_trainable=True)
```

It stays silent for adapters that are only used (inference, evaluation, a frozen reference model for DPO), for a
model merged into its base first (`merge_and_unload()`), and when `is_trainable` is given a value the analysis cannot
read.

## Fix safety
The fix adds `is_trainable=True` (or turns an explicit `is_trainable=False` into `True`). It is offered only when the
loaded model is trained in the same file, so the adapters are meant to train; it is safe when the argument was
missing, and unsafe when the file said `False` explicitly.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the adapter weights the replay loaded are
frozen, refuted when they train; it needs the adapter's directory, as the script does.

## References
- peft 0.21.2 `peft_model.py`, `PeftModel.from_pretrained(..., is_trainable=False, ...)`: "If `False`, the adapter
  will be frozen and can only be used for inference" (`config.inference_mode = not is_trainable`).
- tests/runtime/test_peft_rules_runtime.py: `test_frz402_adapter_loaded_without_is_trainable_is_frozen` (nothing
  trainable; the Trainer fails with "element 0 of tensors does not require grad") and
  `test_frz402_fix_adds_is_trainable_and_the_adapters_train`.
- huggingface/peft#282; huggingface/trl#6700 (GRPO trains nothing, silently); ymcui/Chinese-LLaMA-Alpaca-2 PRs
  #577/#578; huggingface/transformers PR #24463; mosaicml/llm-foundry PR #1701.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint.facts import Facts, Model, OptimizerBuild, PeftApply, TrainCall, Training, as_ref
from freezelint.findings import Applicability, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, edits, rule
from freezelint.rules.runtime_hooks import CONFIRMED, NOT_CHECKABLE, REFUTED, StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

# `PeftModel.from_pretrained(model, model_id, adapter_name, is_trainable, ...)`: the position of `is_trainable`.
_IS_TRAINABLE_POSITION = {"PeftModel": 3}

MESSAGE = (
    "`{function}(...)` loads the adapter for inference (`is_trainable` defaults to False): every adapter weight is "
    "frozen, and the base model too, yet {training} trains the model at line {line}. Nothing will train: the first "
    "`backward()` fails with \"element 0 of tensors does not require grad\" (TRL's GRPO trainer has been reported to "
    "run to the end instead, changing nothing). Pass `is_trainable=True` to continue training the adapter."
)


@rule("FRZ402", "adapter-loaded-frozen", Level.ERROR, fix=Applicability.SAFE, tokens=("from_pretrained",))
def adapter_loaded_frozen(facts: Facts) -> Iterator[Report]:
    for apply in facts.of(PeftApply):
        wrapper, call = apply.wrapper, apply.call
        if wrapper is None or call is None or not apply.how.endswith(".from_pretrained"):
            continue
        given = _is_trainable(call, apply.how)
        if given is not None and not (isinstance(given, cst.Name) and given.value == "False"):
            continue  # `is_trainable=True`, or a value the analysis cannot read
        training = facts.training_of(wrapper, after=apply.order)
        if training is None or not _through(training, wrapper):
            continue
        yield Report(call, _message(facts, apply, training), fix=_fix(call, given))


def _is_trainable(call: cst.Call, how: str) -> cst.BaseExpression | None:
    """The expression passed for `is_trainable`; a `**kwargs` (which may hold it) counts as an unreadable value."""
    for arg in call.args:
        if arg.star == "**":
            return arg.value
        if arg.keyword is not None and arg.keyword.value == "is_trainable":
            return arg.value
    position = _IS_TRAINABLE_POSITION.get(how.split(".", 1)[0])
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    if position is not None and len(positional) > position:
        return positional[position].value
    return None


def _through(training: Training, wrapper: Model) -> bool:
    """The training goes through the PeftModel (or a model holding it), not through its base model alone (a base
    trained after `merge_and_unload()`)."""
    event = training.event
    if isinstance(event, TrainCall):
        models = [ref.model for ref in map(as_ref, event.model.candidates()) if ref is not None]
    elif isinstance(event, OptimizerBuild):
        models = [s.module.model for s in event.param_sets()]
    else:
        return False
    return any(model is wrapper or any(sub is wrapper for _, sub in model.submodels()) for model in models)


def _message(facts: Facts, apply: PeftApply, training: Training) -> Message:
    return Message(MESSAGE, {"function": apply.how, "training": training.how, "line": facts.line(training.event.node)})


def _fix(call: cst.Call, given: cst.BaseExpression | None) -> FixProposal:
    true = cst.Name("True")
    if given is None:
        added = edits.with_keyword(call, "is_trainable", true)
        return FixProposal(Applicability.SAFE, "Add `is_trainable=True`", (Replacement(call, added),))
    return FixProposal(Applicability.UNSAFE, "Pass `is_trainable=True`", (Replacement(given, true),))


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ402")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    """Confirmed when the adapter weights the replay loaded are frozen (the replay needs the adapter's directory)."""
    if (stopped := view.not_run(finding) or view.incomplete()) is not None:
        return stopped
    top = view.model_at(finding)
    if top is None:
        return Verdict(NOT_CHECKABLE, "the replay did not load the adapter (is its directory there?)")
    adapters = view.adapter_parameters(top)
    if not adapters:
        return Verdict(NOT_CHECKABLE, f"the replay's `{top.name}` has no adapter weights")
    view.consume("FRZ301", top)  # nothing trainable, because of this load: one finding, with this fix
    trainable = [name for name, parameter in adapters if parameter.requires_grad]
    if trainable:
        return Verdict(REFUTED, f"the loaded adapters train (`{trainable[0]}` requires grad)")
    return Verdict(CONFIRMED, f"all {len(adapters):,} adapter tensors loaded frozen; {view.trainable_summary(top)}")
