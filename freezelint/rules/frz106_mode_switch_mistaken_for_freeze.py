"""## What it does
Finds `.eval()` (or `.train(False)`) called on a sub-module at set-up, or a model created inside
`with torch.no_grad():`, when nothing freezes that module and the file then trains it. Both read like freezing, and
neither freezes anything.

## Why is this bad?
`.eval()` only switches dropout and BatchNorm to inference behaviour: every parameter still requires grad, the
optimizer updates it, and the next `model.train()` (the Hugging Face Trainer calls it every step) switches the module
back to training mode anyway. `torch.no_grad()` only stops gradient recording for the code that runs inside the
`with` block: parameters created there still require grad and train like any others. The module meant to stay
fixed is fine-tuned, silently.

## Example
```python
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.eval()  # meant: keep the encoder fixed
Trainer(model=model, args=args, train_dataset=train).train()
```

Use instead:
```python
model.bert.requires_grad_(False)
```

It stays silent when the module is also frozen with `requires_grad`, when it is not trained (a teacher, a frozen
reference model, an optimizer over the head only), when its output is computed under `torch.no_grad()` or detached,
for `.eval()` inside a training loop or an overridden `train()` (keeping BatchNorm statistics fixed), for a whole
model put in eval mode, and for `no_grad` blocks that also run the model.

## Fix safety
No fix: `.eval()` may be wanted as well (for dropout or BatchNorm), so the freeze is to be added, not swapped in.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the module switched to eval mode still has
parameters that require grad once the replay's freezing has run (with the count), refuted when all of them are
frozen.

## References
- torch 2.13 `torch/nn/modules/module.py`, `Module.eval`: "This has an effect only on certain modules" (Dropout,
  BatchNorm); it is `self.train(False)`. `torch/autograd/grad_mode.py`, `no_grad`: "functions that create a new
  Tensor and take a requires_grad kwarg, will NOT be affected by this mode" (an `nn.Parameter` created inside still
  requires grad). PyTorch documentation, "Autograd mechanics", "Locally disabling gradient computation", compares
  `.eval()`, `no_grad` and `requires_grad`.
- transformers 5.25 `trainer.py`, `Trainer.training_step`: calls `model.train()` at every step.
- tests/runtime/test_library_rules_runtime.py: `test_frz106_eval_freezes_nothing_and_the_module_trains` (the encoder
  trains and is back in training mode) and `test_frz106_creating_under_no_grad_freezes_nothing`.
- isht7/pytorch-deeplab-resnet#39 ("Now I know that model.eval() doesn't turn off the history tracking").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst
import libcst.matchers as m

from freezelint import knowledge
from freezelint.facts import (
    ANY_CHILD,
    ANY_DESCENDANT,
    Backward,
    Facts,
    Forward,
    Literal,
    Model,
    ModuleCall,
    ModuleOutput,
    ModuleRef,
    OpaqueUse,
    OptimizerCall,
    PeftApply,
    Training,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.runtime_hooks import StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

EVAL_MODE = (
    "`{call}` does not freeze `{module}`: it only switches dropout and BatchNorm to inference behaviour, its "
    "parameters still require grad, and {training} trains them at line {line} (and the next `model.train()`, which "
    "the Hugging Face Trainer calls every step, switches it back). To keep it fixed, call "
    "`{module}.requires_grad_(False)`."
)
CREATED_WITHOUT_GRAD = (
    "Creating `{model}` inside `{context}` does not freeze it: the context only stops gradient recording for the "
    "code run inside it; the parameters are created with `requires_grad=True`, and {training} trains all of them at "
    "line {line}. To keep it fixed, call `{model}.requires_grad_(False)`."
)

_GRAD_OFF = ("no_grad", "inference_mode", "set_grad_enabled(False)")


# A mode switch mistaken for a freeze matters only where the module is then trained.
_MODE_SWITCH = ("eval", "train(False)", "no_grad", "inference_mode")


@rule("FRZ106", "mode-switch-mistaken-for-freeze", Level.WARNING, tokens=(_MODE_SWITCH, knowledge.TRAINING_TOKENS))
def mode_switch_mistaken_for_freeze(facts: Facts) -> Iterator[Report]:
    reported: set[int] = set()
    for call in facts.of(ModuleCall, uncalled=True):
        ref = call.receiver
        if id(call.call) in reported or not _eval_call(call) or not isinstance(ref, ModuleRef) or not _set_up(call):
            continue
        if any(c in (ANY_CHILD, ANY_DESCENDANT) for c in ref.path) or ref.model.foreign:
            continue  # modules picked in a loop (BatchNorm handling)
        if not ref.path and not _part_of_another(facts, ref.model):
            continue  # a whole model switched to eval mode (evaluation, a teacher)
        training = _trained_unfrozen(facts, ref, call.order)
        if training is None:
            continue
        reported.add(id(call.call))
        fields = {
            "call": facts.code(call.call),
            "module": facts.code(call.call.func.value),  # type: ignore[attr-defined]
            "training": training.how,
            "line": facts.line(training.event.node),
        }
        yield Report(call.where.statement or call.call, Message(EVAL_MODE, fields))
    for model in facts.models:
        if not model.where.no_grad or model.where.standalone or model.abstract:
            continue
        block = _grad_off_block(facts, model)
        if block is None or _runs_models(facts, block):
            continue
        training = _trained_unfrozen(facts, ModuleRef(model), model.where.order)
        if training is None:
            continue
        fields = {
            "model": model.name,
            "context": facts.code(block.items[0].item),
            "training": training.how,
            "line": facts.line(training.event.node),
        }
        yield Report(model.node, Message(CREATED_WITHOUT_GRAD, fields))


def _eval_call(call: ModuleCall) -> bool:
    if call.method == "eval" and not call.args:
        return True
    return call.method == "train" and len(call.args) == 1 and isinstance(call.args[0], Literal) and call.args[0].value is False


def _part_of_another(facts: Facts, model: Model) -> bool:
    """A model held inside another one (`self.backbone = timm.create_model(...)`): a sub-module of that one."""
    return any(other is not model and any(sub is model for _, sub in other.submodels()) for other in facts.models)


def _set_up(call: ModuleCall) -> bool:
    """Not re-applied during training: outside loops and callbacks, not in a `train()` override, walked in order."""
    where = call.where
    return not (where.standalone or where.loops or where.callback_of is not None or where.function.rsplit(".", 1)[-1] == "train")


def _trained_unfrozen(facts: Facts, ref: ModuleRef, after: int) -> Training | None:
    """How the file trains the parameters at `ref` after `after`, when nothing freezes them or cuts them off."""
    if facts.freezes_touching(ref):
        return None
    for event in facts.all_events(uncalled=True):
        if isinstance(event, PeftApply) and event.touches(ref):
            return None  # PEFT freezes the base model
        if isinstance(event, OpaqueUse) and event.module.overlaps(ref):
            return None  # handed to code that may freeze it
        if isinstance(event, Forward) and event.where.no_grad and event.module.overlaps(ref) and ref.contains(event.module):
            return None  # run under no_grad: no gradient reaches it
        if isinstance(event, ModuleCall) and event.method in ("detach", "detach_") and isinstance(event.receiver, ModuleOutput):
            if ref.contains(event.receiver.module):
                return None  # its output is detached: no gradient reaches it
    return facts.training_of(ref, after=after)


def _grad_off_block(facts: Facts, model: Model) -> cst.With | None:
    """The `with torch.no_grad():` block the model was created in."""
    for block in m.findall(facts.module, m.With()):
        assert isinstance(block, cst.With)
        if any(off in facts.code(item.item) for item in block.items for off in _GRAD_OFF) and facts.within(model.node, block):
            return block
    return None


def _runs_models(facts: Facts, block: cst.With) -> bool:
    """The block also runs something (inference, a training step): it is not there for set-up alone."""
    return any(
        isinstance(event, (Forward, Backward, OptimizerCall)) and facts.within(event.node, block) for event in facts.all_events(uncalled=True)
    )


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ106")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    """Confirmed when the module switched to eval mode still has parameters that require grad after the replay."""
    return view.still_trainable(finding)
