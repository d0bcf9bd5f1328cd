"""## What it does
Finds activation (gradient) checkpointing turned on for a transformers text model whose whole backbone is frozen
(`model.bert.requires_grad_(False)`, or everything frozen but the head), when the code targets transformers 5.

## Why is this bad?
Checkpointing trades compute for memory: it drops the activations of the checkpointed layers and recomputes them in
the backward pass. With the backbone frozen there is nothing to backpropagate into, so there is no memory to save. In
transformers 5, enabling checkpointing on a text model also hooks the input embeddings so that their output requires
grad: autograd now records the whole frozen backbone, backpropagates through it, and recomputes its forward pass, for
gradients nobody uses. The results are the same; each step is slower (about 2.5 times in the measurement below).
transformers 4 installs no such hook, so there it costs nothing, and the rule stays silent.

## Example
```python
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.requires_grad_(False)
args = TrainingArguments("out", gradient_checkpointing=True)
```

Use instead, no checkpointing when only the head trains:
```python
args = TrainingArguments("out")
```

Or, when checkpointing is needed for another reason, remove the hook after enabling it:
`model.disable_input_require_grads()`. The rule stays silent when part of the backbone trains (partial freezing with
checkpointing is a normal set-up), with PEFT (the adapters inside the backbone train), for vision and audio models
(no hook), and when the model is handed to code the analysis cannot see into.

## Fix safety
No fix: turning checkpointing off changes memory use, which only the author can weigh.

## Runtime mode
No runtime verdict: what checkpointing changes shows only in a backward pass, and the replay stops where training
starts.

## References
- transformers 5.25 `modeling_utils.py`, `_activation_checkpointing_enable`: calls `enable_input_require_grads()`
  when `main_input_name == "input_ids"`; transformers 4.57.6 `PreTrainedModel.gradient_checkpointing_enable` only when
  a PEFT adapter is loaded.
- tests/runtime/test_checkpointing_rules_runtime.py,
  `test_frz502_checkpointing_a_frozen_backbone_backpropagates_through_it_and_recomputes_it`: with checkpointing on a
  frozen tiny BERT backbone, the encoder layers run their forward pass twice per step (the recompute) and the
  backbone output requires grad; without it, once and no grad; with `disable_input_require_grads()`, once again.
- Measured (transformers 5.24, torch 2.13, CPU, 1 thread, 6-layer 256-hidden BERT, batch 16x128, median of 5 steps,
  two runs): 894-1092 ms/step without checkpointing, 2322-2646 ms with it (about 2.5 times slower), 820-838 ms with
  checkpointing and `disable_input_require_grads()`. On transformers 4.57.6 the same script took 907 ms without and
  792 ms with checkpointing, and the backbone output did not require grad.
"""

from __future__ import annotations

from typing import Iterator

from freezelint import knowledge
from freezelint.facts import Facts, ModuleCall, ModuleRef
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule

MESSAGE = (
    "Activation checkpointing is on for `{model}`, but its backbone `{backbone}` is entirely frozen (line {line}): "
    "there is nothing to backpropagate into, so no memory to save, and transformers 5 hooks the input embeddings when "
    "checkpointing is enabled, so every step backpropagates through the frozen backbone and runs its forward pass "
    "twice. Turn checkpointing off for this model, or call `{model}.disable_input_require_grads()` after enabling it."
)

# Removing the input-embedding hook makes checkpointing a frozen backbone cheap again.
_UNHOOK = frozenset({"disable_input_require_grads"})


@rule("FRZ502", "checkpointing-frozen-backbone", Level.WARNING, tokens=(knowledge.CHECKPOINTING_TOKENS, knowledge.FREEZE_TOKENS))
def checkpointing_frozen_backbone(facts: Facts) -> Iterator[Report]:
    if facts.options.target_transformers < 5:
        return
    for enabled in facts.checkpointing():
        model = enabled.model
        entry = knowledge.BACKBONES.get(model.model_type or "")
        if entry is None or entry[3] != "text":
            continue
        if isinstance(enabled.event, ModuleCall):
            training = facts.training_of(model, after=enabled.event.order)
            moment = training.event if training is not None else None
        else:
            moment = enabled.event
        if moment is None or facts.managed_elsewhere(ModuleRef(model), moment.order, _UNHOOK):
            continue
        frozen = next(
            (
                (freeze, path)
                for path in model.backbone_paths()
                if path
                for freeze in [facts.frozen_at(ModuleRef(model, path), moment.order, whole=True)]
                if freeze is not None
            ),
            None,
        )
        if frozen is None:
            continue
        freeze, path = frozen
        fields = {"model": model.name, "backbone": ModuleRef(model, path).describe(), "line": facts.line(freeze.node)}
        yield Report(enabled.node, Message(MESSAGE, fields))
