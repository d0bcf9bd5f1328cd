"""## What it does
Finds a manual freeze that runs after PEFT wrapped the model and freezes the adapters with it, or a manual unfreeze of
the whole model that undoes PEFT. The freeze covers the whole PEFT model (`model.requires_grad_(False)`, a loop over
`model.parameters()`), its `base_model` (on a `PeftModel` that is everything), the model that was wrapped, or its
backbone (`model.bert`) when LoRA-style adapters sit in it; or it is a "freeze all but the head" name filter
(`if "classifier" not in name`), which also matches every adapter weight. The unfreeze sets `requires_grad=True` on
every parameter of one of those after wrapping.

## Why is this bad?
PEFT already froze the base model and left the adapters trainable. A "freeze the backbone" loop left over from before
PEFT walks modules that contain the LoRA layers (they are injected into the base model), so it freezes them too:
nothing trains (the first `backward()` fails with "element 0 of tensors does not require grad"), or only the task head
does. The reverse, unfreezing everything after `get_peft_model`, turns LoRA into full fine-tuning, with the memory and
the risk to the pretrained weights that PEFT was meant to avoid.

## Example
```python
model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=8))
for param in model.base_model.parameters():  # `base_model` of a PeftModel is the LoraModel: everything
    param.requires_grad = False
```

Use instead, leave freezing to PEFT, and list extra modules to train in the config:
```python
model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=8, modules_to_save=["pooler"]))
```

It stays silent for freezes before PEFT (PEFT adds its adapters afterwards), for freezes of other parts (the
embeddings), when the adapters are made trainable again before training (a loop unfreezing `lora_` parameters), for
prompt-learning methods (prompt tuning, prefix tuning: their prompt encoder lies outside `base_model`), and for PEFT
models that are not trained (a frozen reference or evaluation model).

## Fix safety
No fix: whether the freeze was meant for something PEFT does not already freeze (and what should be in
`modules_to_save`) is a decision for the author.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the adapter weights are frozen after the
replay (or, for an unfreeze of everything, when the base weights train with them), refuted otherwise.

## References
- tests/runtime/test_peft_rules_runtime.py: `test_frz403_freezing_base_model_after_peft_freezes_the_adapters`
  (nothing trainable), `test_frz403_backbone_or_all_but_head_after_peft_leaves_only_the_head` (the adapters never
  train) and `test_frz403_unfreezing_all_after_peft_is_full_fine_tuning`.
- PEFT documentation, "LoRA": `modules_to_save` for extra trainable modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from freezelint import knowledge
from freezelint.facts import (
    Config,
    Facts,
    FreezeForm,
    FreezeOp,
    Literal,
    Model,
    ModuleRef,
    OpaqueUse,
    PeftApply,
    may_unfreeze,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.runtime_hooks import CONFIRMED, NOT_CHECKABLE, REFUTED, StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

# How the messages name the PEFT call, by how PEFT was applied (the trainer's argument, or a call).
_PEFT_CALLS = {
    "peft_config": "the trainer's `peft_config=` (line {peft_line})",
    "call": "`{peft_function}(...)` (line {peft_line})",
}
# What a freeze after PEFT does, by what it freezes: every parameter but those named after the head, a place that
# holds every adapter, or the backbone the adapters sit in. (The text before and after the PEFT call.)
_FREEZES = {
    "all but head": (
        "This loop freezes every parameter whose name does not contain \"{word}\", after ",
        " added the adapters: adapter weights are named after the layers they adapt, so they are frozen too, and only "
        "parameters named \"{word}\" will train",
    ),
    "adapters": (
        "Every parameter of `{module}` is frozen here, after ",
        " added the adapters, the adapters included: nothing is left for {training} to train (the first `backward()` "
        "fails with \"element 0 of tensors does not require grad\")",
    ),
    "backbone": (
        "Every parameter of `{module}` is frozen here, after ",
        " added the adapters, and the adapters sit in it: they are frozen too, and only what lies outside it (the task "
        "head) will train",
    ),
}
# The message for a freeze, by (what it freezes, how PEFT was applied).
FREEZE_MESSAGES = {
    (case, peft): before + call + after + ". PEFT already froze the base model: delete this freeze, and list extra "
    "modules to train in the config's `modules_to_save`."
    for case, (before, after) in _FREEZES.items()
    for peft, call in _PEFT_CALLS.items()
}
# The message for an unfreeze, by how PEFT was applied.
UNFREEZE_MESSAGES = {
    peft: "Every parameter of `{module}` is made trainable here, after " + call + " froze the base model: this undoes "
    "PEFT and turns it into full fine-tuning (every pretrained weight trains, with the memory PEFT was meant to save). "
    "Unfreeze only what should train (the config's `modules_to_save`), or drop PEFT for full fine-tuning."
    for peft, call in _PEFT_CALLS.items()
}


@dataclass(frozen=True)
class Place:
    """Where a PEFT model keeps adapters: `whole` places hold every adapter (and the trainable head copies)."""

    ref: ModuleRef
    whole: bool


@rule("FRZ403", "freeze-after-peft", Level.WARNING, tokens=(("requires_grad",), knowledge.PEFT_APPLY_TOKENS))
def freeze_after_peft(facts: Facts) -> Iterator[Report]:
    applies = list(facts.of(PeftApply))
    reported: set[int] = set()
    for op in facts.of(FreezeOp):
        target = op.module
        if not op.effective or target is None or op.value is None or id(op.node) in reported:
            continue
        if op.form is FreezeForm.KBIT_PREPARE:
            continue  # FRZ401's case
        for apply in applies:
            if apply.order >= op.order or apply.where.exclusive(op.where):
                continue
            place = _place(apply, op)
            if place is None:
                continue
            training = facts.training_of(target.model, after=op.order)
            if training is None or _undone(facts, op, training.event.order):
                continue
            reported.add(id(op.node))
            if op.value is False:
                message = _freeze_message(facts, op, apply, place, training.how)
            else:
                message = _unfreeze_message(facts, op, apply)
            yield Report(op.where.statement or op.node, message)
            break


def _place(apply: PeftApply, op: FreezeOp) -> Place | None:
    """The adapter place `op` covers whole (or, for a freeze, by a "freeze all but the head" name filter)."""
    target = op.module
    assert target is not None
    matches = [p for p in _places(apply) if p.ref.model is target.model and p.ref.path == target.path]
    wholes = [p for p in matches if p.whole]
    if op.whole:
        candidates = matches if op.value is False else wholes
        return candidates[0] if candidates else None
    if op.value is False and wholes and _all_but_head(op, apply):
        return wholes[0]
    return None


def _places(apply: PeftApply) -> list[Place]:
    """Where the model `apply` made keeps its adapters, in each spelling a file may use."""
    places: list[Place] = []
    wrapper = apply.wrapper
    injected = _injected(apply)
    if wrapper is not None:
        places.append(Place(ModuleRef(wrapper), True))
        if injected:
            places += [Place(ModuleRef(wrapper, ("base_model",)), True), Place(ModuleRef(wrapper, ("base_model", "model")), True)]
        base = wrapper.inner
    else:
        base = next((r.model for r in map(_ref, apply.model.candidates()) if r is not None and not r.path), None)
    if base is None or not injected:
        return places
    places.append(Place(ModuleRef(base), True))
    if _adapters_in_backbone(apply, base):
        for path in base.backbone_paths():
            if path:
                places.append(Place(ModuleRef(base, path), False))
                if wrapper is not None:
                    places.append(Place(ModuleRef(wrapper, path), False))
                    places.append(Place(ModuleRef(wrapper, ("base_model", "model", *path)), False))
    return places


def _ref(value: object) -> ModuleRef | None:
    if isinstance(value, Model):
        return ModuleRef(value)
    return value if isinstance(value, ModuleRef) else None


def _injected(apply: PeftApply) -> bool:
    """The adapters are layers injected into the base model (LoRA and relatives), not a prompt encoder beside it."""
    if apply.how in knowledge.PEFT_IN_PLACE_HOWS:
        return True
    config = apply.config
    return isinstance(config, Config) and config.name in knowledge.PEFT_INJECTED_CONFIGS


def _adapters_in_backbone(apply: PeftApply, base: Model) -> bool:
    """Every adapter sits in the backbone: the config targets no head module (by default LoRA targets attention)."""
    config = apply.config
    if not isinstance(config, Config) or any(a.star for a in config.node.args):
        return False
    targets = config.kwargs.get("target_modules")
    if targets is None:
        return True
    names = _strings(targets)
    head = knowledge.task_head(base.class_name, base.checkpoint, base.library)
    heads = head[1] if head is not None else ("classifier", "score", "lm_head", "qa_outputs", "head")
    return names is not None and not any(h in name for name in names for h in heads)


def _strings(value: object) -> list[str] | None:
    """The literal strings of a `target_modules=[...]` value; None when any is not a literal."""
    items = getattr(value, "items", None)
    if isinstance(value, Literal):
        items = [value]
    if items is None or not all(isinstance(i, Literal) and isinstance(i.value, str) for i in items):
        return None
    return [i.value for i in items]


def _all_but_head(op: FreezeOp, apply: PeftApply) -> bool:
    """`if "classifier" not in name: param.requires_grad = False` over the whole PEFT model: adapter weights are named
    after the layers they adapt (`...query.lora_A.default.weight`), never after the head."""
    by_name = op.name_filter()
    if by_name is None or by_name[1] or by_name[0] not in knowledge.HEAD_WORDS or not _injected(apply):
        return False
    config = apply.config
    if not isinstance(config, Config) or any(a.star for a in config.node.args):
        return False
    targets = config.kwargs.get("target_modules")
    names = _strings(targets) if targets is not None else []
    return names is not None and not any(by_name[0] in name for name in names)


def _undone(facts: Facts, op: FreezeOp, until: int) -> bool:
    """Something between `op` and training may reverse it: for a freeze, anything that may make its parameters
    trainable; for an unfreeze, a freeze of any of them, or a hand-off to code the analysis cannot see."""
    target = op.module
    assert target is not None
    for event in facts.events:
        if not op.order < event.order < until:
            continue
        if op.value is False and may_unfreeze(event, target):
            return True
        if op.value is True:
            if isinstance(event, FreezeOp) and event.value is not True and event.module is not None and event.module.overlaps(target):
                return True
            if isinstance(event, OpaqueUse) and event.module.overlaps(target):
                return True
    return False


def _peft_call(facts: Facts, apply: PeftApply) -> tuple[str, dict[str, object]]:
    """How PEFT was applied (a key of `_PEFT_CALLS`), and the fields that name the call."""
    if apply.how == "peft_config":
        return "peft_config", {"peft_line": facts.line(apply.node)}
    return "call", {"peft_function": apply.how, "peft_line": facts.line(apply.node)}


def _freeze_message(facts: Facts, op: FreezeOp, apply: PeftApply, place: Place, how: str) -> Message:
    peft, fields = _peft_call(facts, apply)
    if not op.whole:
        case = "all but head"
        fields["word"] = op.name_filter()[0]  # type: ignore[index]
    elif place.whole:
        case = "adapters"
        fields |= {"module": facts.spelling(op), "training": how}
    else:
        case = "backbone"
        fields["module"] = facts.spelling(op)
    return Message(FREEZE_MESSAGES[case, peft], fields)


def _unfreeze_message(facts: Facts, op: FreezeOp, apply: PeftApply) -> Message:
    peft, fields = _peft_call(facts, apply)
    return Message(UNFREEZE_MESSAGES[peft], {**fields, "module": facts.spelling(op)})


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ403")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    """A freeze after PEFT: confirmed when the adapters are frozen after the replay; an unfreeze of everything:
    confirmed when the base weights train with them."""
    top = view.subject(finding)
    if isinstance(top, Verdict):
        return top
    adapters = view.adapter_parameters(top)
    if not adapters:
        return Verdict(NOT_CHECKABLE, f"the replay's `{top.name}` has no adapter weights")
    frozen = [name for name, parameter in adapters if not parameter.requires_grad]
    if frozen:
        view.consume("FRZ301", top)  # nothing left to train, from this same freeze: one finding, with this fix
        return Verdict(CONFIRMED, f"{len(frozen):,} of {len(adapters):,} adapter tensors of `{top.name}` frozen (e.g. `{frozen[0]}`)")
    adapter_ids = {id(p) for _, p in adapters}
    base = sum(p.numel() for _, p in top.named if p.requires_grad and id(p) not in adapter_ids)
    adapter_count = sum(p.numel() for _, p in adapters)
    if base > adapter_count:
        return Verdict(CONFIRMED, f"{top.trainable:,} of {top.total:,} parameters of `{top.name}` trainable: the base "
                                  f"weights train with the adapters ({base:,} outside them)")
    return Verdict(REFUTED, f"the adapters of `{top.name}` train ({adapter_count:,} parameters); {view.trainable_summary(top)}")
