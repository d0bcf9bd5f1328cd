"""## What it does
Finds a frozen module that contains BatchNorm layers and is then trained in training mode: a CNN backbone frozen with
`requires_grad` (`model.resnet.requires_grad_(False)`, a loop over `model.parameters()` before a new head) and trained
by the Hugging Face Trainer or Lightning (which switch the model to training mode every step or epoch), or by a loop
that calls `model.train()` (or never leaves the training mode a torchvision or timm model starts in). It knows the
BatchNorm-bearing architectures: torchvision and timm ResNets, ResNeXts, EfficientNets, MobileNets, RegNets,
DenseNets, VGG-BN, and the transformers ResNet, RegNet, MobileNetV1/V2 and EfficientNet models.

## Why is this bad?
`requires_grad=False` freezes BatchNorm's affine weight and bias, not its running statistics: in training mode every
forward pass still updates `running_mean` and `running_var`. The "frozen" feature extractor keeps changing its
outputs, evaluation uses statistics drifted towards the fine-tuning data, and results are hard to reproduce. A
one-time `backbone.eval()` does not help: the next `model.train()` switches it back, and the Trainer calls
`model.train()` at every step.

## Example
```python
model = ResNetForImageClassification.from_pretrained("microsoft/resnet-50", num_labels=10, ignore_mismatched_sizes=True)
model.resnet.requires_grad_(False)
model.resnet.eval()  # undone by the Trainer
Trainer(model=model, args=args, train_dataset=train).train()
```

Use instead, keep the frozen BatchNorm layers in eval mode whenever the model is put in training mode:
```python
class FrozenBackboneResNetForImageClassification(ResNetForImageClassification):
    def train(self, mode=True):
        super().train(mode)
        self.resnet.eval()
        return self
```

Or replace them with `torchvision.ops.FrozenBatchNorm2d` (timm: `timm.utils.freeze(model.backbone)` does it), or
set their `momentum` to 0. The rule stays silent when the file deals with BatchNorm itself (it mentions `BatchNorm`,
`FrozenBatchNorm2d`, `track_running_stats`, `norm_layer`), when `.eval()` is re-applied in the training loop, in a
trainer callback or in an overridden `train()`, for architectures without BatchNorm (ViT, ConvNeXt, Swin: LayerNorm;
BiT: GroupNorm; DETR's backbone: FrozenBatchNorm2d), and when library helpers froze the module (timm's `freeze`,
Lightning's `BaseFinetuning.freeze`, which handle BatchNorm their own way).

## Fix safety
No fix: which of the remedies fits the code is the author's choice.

## References
- torch 2.13 `torch/nn/modules/batchnorm.py`, `_BatchNorm.forward`: "Buffers are only updated if they are to be
  tracked and we are in training mode", whatever the parameters' `requires_grad`; `torch/nn/modules/module.py`,
  `Module.train` sets the mode of every child.
- transformers 5.25 `trainer.py`, `Trainer.training_step`: calls `model.train()` at every step.
- tests/runtime/test_library_rules_runtime.py: `test_frz503_running_statistics_drift_under_the_trainer` (an HF ResNet
  frozen with `requires_grad_(False)` and `.eval()`: weights unchanged, running statistics moved, BatchNorm back in
  training mode; kept in eval by an overridden `train()`, nothing moves) and
  `test_frz503_a_plain_loop_in_training_mode_moves_them_too`; tests/runtime/test_checkers.py,
  `test_frz503_confirmed_and_refuted`.
- pytorch/pytorch#9046 ("For Modules like BatchNorm it is not sufficient to set requires_grad = False, because the
  running_mean and running_var are still updated"), #86590, #66073; pgniewko/gt-pyg#112;
  poppinace/indexnet_matting#35; isht7/pytorch-deeplab-resnet#39; ultralytics PR #8753.
"""

from __future__ import annotations

from typing import Iterator

from freezelint import knowledge
from freezelint.facts import (
    Event,
    Facts,
    FreezeForm,
    FreezeOp,
    Literal,
    Model,
    ModelSource,
    ModuleCall,
    ModuleRef,
    OptimizerBuild,
    OptimizerCall,
    TrainCall,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule

# How the frozen module runs in training mode, by what trains it: a trainer's `train()`, or a training loop.
_RUNS = {
    "trainer": "{training} runs it in training mode (line {line})",
    "loop": "the training loop runs it in training mode (`{step}` at line {line})",
}
# A one-time `.eval()` before training, and what undoes it, by what trains the module.
_UNDONE = {
    "trainer": " The `.eval()` at line {eval_line} does not last: the Trainer calls `model.train()` at every step.",
    "loop": " The `.eval()` at line {eval_line} does not last: `model.train()` switches it back.",
}
# The message by (what trains it, a one-time `.eval()` undone).
MESSAGES = {
    (trained_by, undone): (
        "`{module}` is frozen here, but it contains BatchNorm layers and " + runs + ": `requires_grad=False` does not "
        "stop BatchNorm from updating its running mean and variance on every batch, so the frozen `{module}` keeps "
        "changing its outputs." + (_UNDONE[trained_by] if undone else "") + " Keep its BatchNorm layers in eval mode "
        "while training (re-apply `.eval()` after every `model.train()`, e.g. in an overridden `train()`), or replace "
        "them with `torchvision.ops.FrozenBatchNorm2d`."
    )
    for trained_by, runs in _RUNS.items()
    for undone in (True, False)
}


@rule("FRZ503", "frozen-batchnorm-in-train-mode", Level.WARNING, tokens=(knowledge.FREEZE_TOKENS, knowledge.TRAINING_TOKENS))
def frozen_batchnorm_in_train_mode(facts: Facts) -> Iterator[Report]:
    if _handles_batchnorm(facts):
        return
    reported: set[int] = set()
    for op in facts.of(FreezeOp):
        frozen = op.module
        if op.value is not False or not op.whole or not op.effective or frozen is None:
            continue
        if op.form not in (FreezeForm.STORE, FreezeForm.CALL) or id(op.node) in reported or not _holds_batchnorm(frozen):
            continue
        if facts.freezes_everything(op):
            continue  # nothing trains at all: FRZ301's finding
        found = _trained_in_train_mode(facts, op, frozen)
        if found is None:
            continue
        reported.add(id(op.node))
        how, moment, undone = found
        yield Report(op.where.statement or op.node, _message(facts, frozen, how, moment, undone))


def _handles_batchnorm(facts: Facts) -> bool:
    """The file's code (not its comments) deals with BatchNorm itself."""
    comments = facts.source.comments
    for row, line in enumerate(facts.source.text.splitlines(), start=1):
        code = line[: line.rfind(comments[row])] if row in comments else line
        if any(word in code for word in knowledge.BATCHNORM_HANDLING):
            return True
    return False


def _holds_batchnorm(ref: ModuleRef) -> bool:
    """The module at `ref` is (or contains a part of) a BatchNorm-bearing architecture that holds BatchNorm layers."""
    model = ref.model
    name = model.class_name or ""
    if model.library == "torchvision" and knowledge.BATCHNORM_TORCHVISION.match(name):
        return not ref.path or ref.path[0] in knowledge.BATCHNORM_PARTS
    if model.library == "timm" and knowledge.BATCHNORM_TIMM.match(model.checkpoint or name):
        return not ref.path or ref.path[0] in knowledge.BATCHNORM_PARTS
    if model.model_type in knowledge.BATCHNORM_MODEL_TYPES:
        return not ref.path or ref.path in model.backbone_paths()
    return False


def _trained_in_train_mode(facts: Facts, op: FreezeOp, frozen: ModuleRef) -> tuple[str, Event, ModuleCall | None] | None:
    """How the frozen module is trained in training mode (for messages), when, and a one-time `.eval()` undone."""
    outer = next((m for m in facts.models if m is not frozen.model and any(s is frozen.model for _, s in m.submodels())), frozen.model)
    training = facts.training_of(outer, after=op.order)  # the model it runs in, whatever its optimizer updates
    if training is None or facts.frozen_at(frozen, training.event.order) is None:
        return None
    evals = [c for c in _mode_calls(facts, frozen) if not _trains(c)]
    if any(c.where.function.rsplit(".", 1)[-1] == "train" for c in evals):
        return None  # re-applied in an overridden `train()`
    event = training.event
    if isinstance(event, TrainCall):
        if any(c.where.callback_of is event.trainer for c in evals):
            return None  # re-applied by a callback
        undone = next((c for c in reversed(evals) if c.order < event.order and c.where.callback_of is None), None)
        return training.how, event, undone
    if not isinstance(event, OptimizerBuild):
        return None
    steps = [c for c in facts.of(OptimizerCall) if c.optimizer.build is event and c.method == "step"]
    step = steps[0] if steps else None
    if step is None or not step.where.loops:
        return None
    calls = [c for c in _mode_calls(facts, frozen) if c.order < step.order or step.where.shared_loop(c.where)]
    in_loop = [c for c in calls if step.where.shared_loop(c.where)]
    last = max(in_loop or calls, key=lambda c: c.order, default=None)
    if last is not None and not _trains(last):
        return None  # in eval mode when it steps
    if last is None and not _starts_in_train_mode(frozen.model):
        return None  # transformers' from_pretrained returns a model in eval mode
    undone = next((c for c in reversed(evals) if c.order < step.order), None)
    return training.how, step, undone


def _mode_calls(facts: Facts, frozen: ModuleRef) -> list[ModuleCall]:
    """`.train()` of the frozen module or a module containing it, `.eval()`/`.train(False)` of any module that
    overlaps it, in walk order."""
    found = []
    for call in facts.of(ModuleCall, uncalled=True):
        ref = call.receiver
        if (call.where.standalone and call.where.function.rsplit(".", 1)[-1] != "train") or not isinstance(ref, ModuleRef):
            continue
        if call.method == "train" and (ref.contains(frozen) if _trains(call) else ref.overlaps(frozen)):
            found.append(call)
        elif call.method == "eval" and ref.overlaps(frozen):
            found.append(call)
    return found


def _trains(call: ModuleCall) -> bool:
    """`.train()` or `.train(True)` (not `.eval()` or `.train(False)`)."""
    return call.method == "train" and not (call.args and isinstance(call.args[0], Literal) and call.args[0].value is False)


def _starts_in_train_mode(model: Model) -> bool:
    return not (model.library == "transformers" and model.source is ModelSource.PRETRAINED)


def _message(facts: Facts, frozen: ModuleRef, how: str, moment: Event, undone: ModuleCall | None) -> Message:
    fields: dict[str, object] = {"module": frozen.describe(), "line": facts.line(moment.node)}
    if isinstance(moment, TrainCall):
        trained_by = "trainer"
        fields["training"] = how
    else:
        trained_by = "loop"
        fields["step"] = facts.code(moment.node)
    if undone is not None:
        fields["eval_line"] = facts.line(undone.node)
    return Message(MESSAGES[trained_by, undone is not None], fields)
