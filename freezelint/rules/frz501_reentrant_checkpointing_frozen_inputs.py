"""## What it does
Finds reentrant activation checkpointing of layers whose inputs do not require grad: a model whose input embeddings
are frozen while layers after them train, checkpointed by `gradient_checkpointing_enable()` or
`TrainingArguments(gradient_checkpointing=True)` with no `enable_input_require_grads()`; or
`torch.utils.checkpoint.checkpoint(block, x)` (reentrant by default, or with `use_reentrant=True`) where `x` is the
output of a frozen module.

Whether transformers checkpointing is reentrant depends on the version the code targets (`target-transformers`):
transformers 4 defaults to `use_reentrant=True`; transformers 5 defaults to `False`, and for text models (whose main
input is `input_ids`) it also hooks the input embeddings so that their output requires grad. So the rule fires for
code targeting transformers 4 (unless `use_reentrant=False` is given), and on transformers 5 only for an explicit
`use_reentrant=True` on a vision model (ViT, DeiT, DINOv2, Swin), which gets no such hook.

## Why is this bad?
A reentrant checkpoint (`torch.utils.checkpoint` with `use_reentrant=True`) computes parameter gradients only when
one of its tensor inputs requires grad. Behind frozen embeddings none does: every checkpointed layer gets `grad` None
and never changes, while the layers after the checkpointed region (the head) train normally. The loss goes down a
little and nothing fails; the only sign is a warning, "None of the inputs have requires_grad=True. Gradients will be
None". If nothing trainable lies outside the checkpointed region, `backward()` fails instead.

## Example
```python
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.embeddings.requires_grad_(False)
model.gradient_checkpointing_enable()  # transformers 4: reentrant by default
```

Use instead, non-reentrant checkpointing (the PyTorch recommendation, and transformers 5's default):
```python
model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
```

Or make the embeddings' output require grad: `model.enable_input_require_grads()`. The rule stays silent when either
is there, when PEFT or `prepare_model_for_kbit_training` is applied (they install the same hook), when the layers
after the embeddings are frozen too (see FRZ502), and when the model is handed to code the analysis cannot see into.

## Fix safety
No fix: `use_reentrant=False` is the recommended mode, but the argument may belong in a `TrainingArguments`, a config
file or a launcher; the message says what to pass.

## Runtime mode
No runtime verdict: the gradients that go missing exist only in a backward pass, and the replay stops where training
starts.

## References
- torch 2.13 `torch/utils/checkpoint.py`, `checkpoint`: "At least one input and output must have
  `requires_grad=True` for the reentrant variant. If this condition is unmet, the checkpointed part of the model
  will not have gradients"; `check_backward_validity` warns "None of the inputs have requires_grad=True. Gradients
  will be None"; without `use_reentrant` it warns and uses `True`.
- transformers 5.25 `modeling_utils.py`, `_activation_checkpointing_enable`: defaults to `{"use_reentrant": False}`
  and calls `enable_input_require_grads()` when `main_input_name == "input_ids"`. transformers 4.57.6
  `modeling_utils.py`, `PreTrainedModel.gradient_checkpointing_enable`: defaults to `{"use_reentrant": True}` and
  calls `enable_input_require_grads()` only when a PEFT adapter is loaded.
- tests/runtime/test_checkpointing_rules_runtime.py: `test_frz501_raw_torch_checkpoint_of_frozen_outputs`,
  `test_frz501_reentrant_checkpointing_of_a_vision_model_leaves_encoder_grads_none`,
  `test_frz501_text_model_on_transformers_5_gets_gradients_in_every_encoder_layer` and
  `test_frz501_transformers_4_code_is_reported_the_hook_removed_shows_what_it_means` (reentrant and without the hook,
  no encoder parameter gets a gradient; the head after them does).
- Measured with transformers 4.57.6: BERT with frozen embeddings and the default `gradient_checkpointing_enable()`
  leaves every encoder gradient None, and only the classifier gets gradients.
- huggingface/transformers#23170, PR #42494 (issue #42489); pytorch/pytorch PR #37266; kongds/E5-V#19; NVlabs/VILA
  PR #244.
"""

from __future__ import annotations

from typing import Iterator

from freezelint import knowledge
from freezelint.facts import (
    Checkpointing,
    Event,
    Facts,
    FreezeOp,
    LibraryCall,
    Literal,
    Model,
    ModuleCall,
    ModuleOutput,
    ModuleRef,
    Value,
    as_ref,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, edits, rule

# Calls that make the input embeddings' output require grad (or may: a hook of the file's own).
_INPUT_HOOKS = knowledge.INPUT_GRAD_METHODS | {"register_forward_hook"}

_NO_PARAMETER_GRADIENTS = "a reentrant checkpoint whose inputs do not require grad computes no parameter gradients"
# Why the model's checkpointing is reentrant: `use_reentrant=True` given, or the target version's default.
_REENTRANT_BECAUSE = {True: "`use_reentrant=True`", False: "the default of transformers {target}"}
# The message for a model's checkpointing, by whether `use_reentrant=True` was given.
MESSAGES = {
    given: (
        "Activation checkpointing of `{model}` is reentrant here (" + because + "), and its input embeddings "
        "`{embeddings}` are frozen (line {line}): " + _NO_PARAMETER_GRADIENTS + ", so the checkpointed layers of "
        "`{layers}` never train while the layers after them do (training at line {training_line} only warns \"None of "
        "the inputs have requires_grad=True\"). Pass `gradient_checkpointing_kwargs={{\"use_reentrant\": False}}`, or "
        "call `{model}.enable_input_require_grads()` after enabling checkpointing.{conditions}"
    )
    for given, because in _REENTRANT_BECAUSE.items()
}
RAW_CHECKPOINT = (
    "`{function}({block}, ...)` is reentrant ({because}), and its input is the output of `{source}`, which is frozen: "
    + _NO_PARAMETER_GRADIENTS + ", so `{block}` never trains (only the warning \"None of the inputs have "
    "requires_grad=True\" says so). Pass `use_reentrant=False`."
)
# Why `torch.utils.checkpoint` is reentrant, by whether `use_reentrant=True` was given.
RAW_REENTRANT_BECAUSE = {True: "`use_reentrant=True`", False: "torch's default when `use_reentrant` is not given"}


@rule("FRZ501", "reentrant-checkpointing-frozen-inputs", Level.ERROR, tokens=(knowledge.CHECKPOINTING_TOKENS, knowledge.FREEZE_TOKENS))
def reentrant_checkpointing_frozen_inputs(facts: Facts) -> Iterator[Report]:
    target = facts.options.target_transformers
    for enabled in facts.checkpointing():
        reentrant = enabled.use_reentrant if enabled.use_reentrant is not None else target in knowledge.REENTRANT_BY_DEFAULT
        model = enabled.model
        entry = knowledge.BACKBONES.get(model.model_type or "")
        if not reentrant or entry is None or (target >= 5 and entry[3] == "text"):
            continue  # non-reentrant, an unknown architecture, or transformers 5's input-embedding hook
        moment = _moment(facts, enabled)
        if moment is None or facts.managed_elsewhere(ModuleRef(model), moment.order, _INPUT_HOOKS):
            continue
        frozen = _frozen_inputs(facts, model, moment.order)
        if frozen is None:
            continue
        yield Report(enabled.node, _message(facts, enabled, frozen, target, moment))
    yield from _raw_checkpoints(facts)


def _moment(facts: Facts, enabled: Checkpointing) -> Event | None:
    """When the checkpointed model trains: the trainer's `train()`, or the first training after the enabling call."""
    if isinstance(enabled.event, ModuleCall):
        training = facts.training_of(enabled.model, after=enabled.event.order)
        return training.event if training is not None else None
    return enabled.event


def _frozen_inputs(facts: Facts, model: Model, order: int) -> tuple[FreezeOp, ModuleRef] | None:
    """The freeze that keeps the input embeddings frozen at `order` while the stacked layers are not all frozen."""
    for path in model.backbone_paths("embeddings"):
        embeddings = ModuleRef(model, path)
        freeze = facts.frozen_at(embeddings, order, whole=True)
        if freeze is None:
            continue
        layers = [ModuleRef(model, p) for p in model.backbone_paths("layers")]
        if layers and not any(facts.frozen_at(stack, order, whole=True) for stack in layers):
            return freeze, embeddings
    return None


def _message(facts: Facts, enabled: Checkpointing, frozen: tuple[FreezeOp, ModuleRef], target: int, moment: Event) -> Message:
    freeze, embeddings = frozen
    model = enabled.model
    given = bool(enabled.use_reentrant)
    fields: dict[str, object] = {
        "model": model.name,
        "embeddings": embeddings.describe(),
        "line": facts.line(freeze.node),
        "layers": ModuleRef(model, model.backbone_paths("layers")[0]).describe(),
        "training_line": facts.line(moment.node),
        "conditions": edits.flag_conditions(freeze.where, enabled.event.where, moment.where),
    }
    if not given:
        fields["target"] = target
    return Message(MESSAGES[given], fields)


# --- raw torch.utils.checkpoint --------------------------------------------------------------------------------------


def _raw_checkpoints(facts: Facts) -> Iterator[Report]:
    for call in facts.of(LibraryCall, uncalled=True):
        if call.qualname not in knowledge.TORCH_CHECKPOINT or call.where.no_grad:
            continue
        given = call.kwargs.get("use_reentrant")
        if given is not None and not (isinstance(given, Literal) and given.value is True):
            continue
        if any(arg.star for arg in call.call.args):
            continue
        sequential = call.qualname.endswith("checkpoint_sequential")
        function, inputs = (call.args[0], call.args[2:3]) if sequential else (call.args[0] if call.args else None, call.args[1:])
        checkpointed = [as_ref(o) for o in function.candidates()] if function is not None else []
        if not checkpointed or any(ref is None for ref in checkpointed):
            continue  # a function of the file: which parameters it uses, the analysis does not know
        standalone = call.where.standalone
        if any(facts.frozen_at(ref, call.order, whole=True, standalone=standalone) for ref in checkpointed if ref is not None):
            continue  # the checkpointed block is frozen itself: nothing to lose
        source = next((s for value in inputs for s in [_frozen_source(facts, value, call.order, standalone)] if s), None)
        if source is None:
            continue
        fields = {
            "function": facts.code(call.call.func),
            "block": facts.code(call.call.args[0].value),
            "because": RAW_REENTRANT_BECAUSE[given is not None],
            "source": source.describe(),
        }
        yield Report(call.call, Message(RAW_CHECKPOINT, fields))


def _frozen_source(facts: Facts, value: Value, order: int, standalone: bool, depth: int = 0) -> ModuleRef | None:
    """The frozen module whose output `value` is, when that output cannot require grad: the module is frozen and
    what it was given is data, or the output of another such module (parameter-free layers pass it on)."""
    if not isinstance(value, ModuleOutput) or depth > 8:
        return None
    module = value.module
    frozen = facts.frozen_at(module, order, whole=True, standalone=standalone) is not None
    parameter_free = not module.path and module.model.class_name in knowledge.PARAMETER_FREE_LAYERS
    if not (frozen or parameter_free):
        return None
    for given in value.inputs:
        for option in given.candidates():
            if isinstance(option, ModuleOutput) and _frozen_source(facts, option, order, standalone, depth + 1) is None:
                return None  # fed by a module that trains: its output requires grad
            if not isinstance(option, ModuleOutput) and (as_ref(option) is not None or isinstance(option, Model)):
                return None
    if frozen:
        return module
    sources = [_frozen_source(facts, o, order, standalone, depth + 1) for g in value.inputs for o in g.candidates()]
    return next((s for s in sources if s is not None), None)
