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

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when frozen BatchNorm layers of the model run in
train mode once training starts (listing them), refuted when none does; the replay also finds it on its own.

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

import re
from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge
from freezelint.facts import (
    Event,
    Facts,
    FreezeForm,
    FreezeOp,
    LibraryCall,
    Literal,
    Model,
    ModelSource,
    ModuleCall,
    ModuleRef,
    OpaqueUse,
    OptimizerBuild,
    OptimizerCall,
    TrainCall,
    as_ref,
    may_unfreeze,
)
from freezelint.findings import Evidence, Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.runtime_hooks import (
    CONFIRMED,
    REFUTED,
    Found,
    StaticFinding,
    Verdict,
    plural,
    runtime_detector,
    runtime_verdict,
)

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

# How the frozen module runs in training mode, by what trains it: a trainer's `train()`, or a training loop.
_RUNS = {
    "trainer": "{training} runs it in training mode (line {line})",
    "loop": "the training loop runs it in training mode (`{step}` at line {line})",
    "handoff": "`{routine}` trains it (line {line}): code freezelint cannot see, given the model and an optimizer, "
    "which runs it in training mode as training routines do",
}
# A one-time `.eval()` before training, and what undoes it, by what trains the module.
_UNDONE = {
    "trainer": " The `.eval()` at line {eval_line} does not last: the Trainer calls `model.train()` at every step.",
    "loop": " The `.eval()` at line {eval_line} does not last: `model.train()` switches it back.",
    "handoff": " The `.eval()` at line {eval_line} is unlikely to last: training routines call `model.train()`.",
}
# The message by (what trains it, a one-time `.eval()` undone).
MESSAGES = {
    (trained_by, undone): (
        "`{module}` is frozen here, but it contains BatchNorm layers{bn_basis} and " + runs + ": `requires_grad=False` does not "
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
        if op.form not in (FreezeForm.STORE, FreezeForm.CALL, FreezeForm.HELPER) or id(op.node) in reported:
            continue
        batchnorm = _batchnorm_evidence(facts, frozen)
        if batchnorm is None:
            continue
        if facts.freezes_everything(op):
            continue  # nothing trains at all: FRZ301's finding
        found = _trained_in_train_mode(facts, op, frozen)
        if found is None:
            continue
        reported.add(id(op.node))
        how, moment, undone = found
        bn_basis, bn_evidence = batchnorm
        evidence = Evidence.NAME if bn_evidence is Evidence.NAME or isinstance(moment, OpaqueUse) else Evidence.TRACED
        message = _message(facts, frozen, how, moment, undone, bn_basis)
        yield Report(op.where.statement or op.node, message, evidence=evidence)


def _handles_batchnorm(facts: Facts) -> bool:
    """The file's code (not its comments) deals with BatchNorm itself (converting it to SyncBatchNorm is not dealing
    with its running statistics)."""
    comments = facts.source.comments
    lines = facts.source.text.splitlines()
    code = [line[: line.rfind(comments[row])] if row in comments else line for row, line in enumerate(lines, start=1)]
    for index, line in enumerate(code):
        line = line.replace(_SYNC_BATCHNORM, "")
        if any(word in line for word in knowledge.BATCHNORM_HANDLING):
            return True
        near = " ".join(code[index : index + 4])  # the line and the three after it: an `if isinstance(...)` block
        if any(word in line for word in knowledge.BATCHNORM_WORDS) and any(word in near for word in knowledge.BATCHNORM_STATISTICS):
            return True
    return False


_SYNC_BATCHNORM = "SyncBatchNorm.convert_sync_batchnorm"
# Convolutional architectures built with BatchNorm, by the names projects give their models and builders.
_BATCHNORM_NAME = re.compile(
    r"resnet|resnext|mobilenet|efficientnet|darknet|densenet|regnet|xception|hrnet|shufflenet|ghostnet|mnasnet"
    r"|inception|retinanet|centernet|yolo|deeplab|pspnet|ssd",
    re.IGNORECASE,
)
# Parts named after architectures without BatchNorm: VGG (but for its `_bn` variants), vision and text transformers.
_NO_BATCHNORM_NAME = re.compile(r"^vgg\d*$|vit|transformer|bert|clip|swin|deit|convnext", re.IGNORECASE)


def _batchnorm_evidence(facts: Facts, ref: ModuleRef) -> tuple[str, Evidence] | None:
    """Why the module at `ref` holds BatchNorm layers, and how strong that is: a known architecture (traced), or, for
    a model of unknown layout, the file converting it to SyncBatchNorm or a convolutional architecture's name."""
    if _holds_batchnorm(ref):
        return "", Evidence.TRACED
    model = ref.model
    if model.source is not ModelSource.UNSEEN and not (model.source is ModelSource.CUSTOM and model.library is None):
        return None
    if any(_NO_BATCHNORM_NAME.search(component) for component in ref.path):
        return None  # the frozen part is named after an architecture without BatchNorm (`model.vgg[:28]`)
    whole = ModuleRef(model)
    for call in facts.of(LibraryCall, uncalled=True):
        if call.qualname.endswith(_SYNC_BATCHNORM) and any(
            (r := as_ref(option)) is not None and r.overlaps(whole) for value in call.args[:1] for option in value.candidates()
        ):
            return f" (line {facts.line(call.call)} converts them to SyncBatchNorm)", Evidence.NAME
    names = [model.factory, *model.names, *ref.path]
    named = next((name for name in names if _BATCHNORM_NAME.search(name)), None)
    if named is not None:
        return f" (by its name, `{named}` is a convolutional network)", Evidence.NAME
    return None


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
    if training is None:
        return _handed_to_training(facts, op, frozen, ModuleRef(outer))
    if facts.frozen_at(frozen, training.event.order) is None:
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


def _handed_to_training(
    facts: Facts, op: FreezeOp, frozen: ModuleRef, outer: ModuleRef
) -> tuple[str, Event, ModuleCall | None] | None:
    """The model handed, with an optimizer, to a training routine of code freezelint cannot see (`fit_one_epoch(model,
    optimizer, ...)`, `engine.train(model=model, optimizer=optimizer)`), while still frozen and not in eval mode."""
    for use in facts.of(OpaqueUse):
        if use.order <= op.order or not use.trains or not use.module.overlaps(outer):
            continue
        if not _still_frozen_on_some_run(facts, op, frozen, use):
            continue
        calls = [c for c in _mode_calls(facts, frozen) if c.order < use.order or use.where.shared_loop(c.where)]
        last = max(calls, key=lambda c: c.order, default=None)
        if last is not None and not _trains(last):
            continue  # switched to eval mode before it is handed over: the routine may keep it there
        return use.callee, use, None
    return None


def _still_frozen_on_some_run(facts: Facts, op: FreezeOp, frozen: ModuleRef, use: Event) -> bool:
    """No unfreeze between the freeze and `use` is sure to run before it: one behind an `if` the use is not in
    (`if epoch >= freeze_epochs: unfreeze`) leaves the first epochs frozen."""
    for event in facts.events:
        if not op.order < event.order < use.order or not may_unfreeze(event, frozen):
            continue
        if all(any(b.node is mine.node and b.arm == mine.arm for mine in use.where.branches) for b in event.where.branches):
            return False
    return True


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


def _message(facts: Facts, frozen: ModuleRef, how: str, moment: Event, undone: ModuleCall | None, bn_basis: str) -> Message:
    fields: dict[str, object] = {"module": frozen.describe(), "line": facts.line(moment.node), "bn_basis": bn_basis}
    if isinstance(moment, TrainCall):
        trained_by = "trainer"
        fields["training"] = how
    elif isinstance(moment, OpaqueUse):
        trained_by = "handoff"
        func = moment.node.func if isinstance(moment.node, cst.Call) else moment.node
        fields["routine"] = f"{facts.code(func)}(...)"
    else:
        trained_by = "loop"
        fields["step"] = facts.code(moment.node)
    if undone is not None:
        fields["eval_line"] = facts.line(undone.node)
    return Message(MESSAGES[trained_by, undone is not None], fields)


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_detector("FRZ503", whole_model=True)
def detect(view: RuntimeView) -> Iterator[Found]:
    for top in view.state.models:
        how = view.state.trained(top)
        if how is None:
            continue
        drifting = view.batchnorm_drifting(top)
        if not drifting:
            continue
        row = view.freezing_line([p for _, bn in drifting for p in bn.parameters()]) or top.line
        if row is None:
            continue
        names = [name for name, _ in drifting]
        shown = ", ".join(f"`{n}`" for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        trainer_note = (
            "the Trainer calls `model.train()` every step" if view.state.trained_by_trainer(top) else "training runs it in train mode"
        )
        evidence = f"{plural(len(names), 'BatchNorm layer')} of `{top.name}` frozen but in train mode: {shown}"
        yield view.at_line(row, "FRZ503",
            f"{evidence} ({trainer_note}). `requires_grad=False` freezes only their weight and bias: their "
            "running_mean/running_var keep changing on every batch, so the frozen part's outputs drift. Keep them in "
            "eval mode after every `model.train()` (override `train()`), or replace them with FrozenBatchNorm2d.",
            evidence,
            top,
        )


@runtime_verdict("FRZ503")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    top = view.subject(finding, must_run=False)
    if isinstance(top, Verdict):
        return top
    if (found := view.consume("FRZ503", top)) is not None:
        return Verdict(CONFIRMED, found.evidence)
    if view.batchnorm_drifting(top):
        return Verdict(CONFIRMED, f"frozen BatchNorm layers of `{top.name}` run in train mode")
    return Verdict(REFUTED, f"no frozen BatchNorm layer of `{top.name}` runs in train mode")
