"""## What it does
Finds `requires_grad` assigned to an `nn.Module` (`model.bert.requires_grad = False`), where it only stores a plain
attribute. Modules are recognised by their origin or their attribute path off a model: a model, `model.bert`,
`self.encoder`, `model.bert.encoder.layer[3]`, a loop variable over `children()` or `modules()`,
`get_input_embeddings()`, a timm or torchvision model.

## Why is this bad?
`requires_grad` is an attribute of tensors, not of modules. On a module, `nn.Module.__setattr__` stores a plain
Python attribute and touches no parameter: nothing is frozen, nothing warns, and the whole model trains (full
fine-tuning, with the memory, the time and the drift of the pretrained layers that the freeze was meant to avoid).
Measured on a tiny BERT with torch 2.13: after `model.bert.requires_grad = False`, every parameter is still
trainable. PyTorch added `Module.requires_grad_()` for exactly this (pytorch/pytorch#20241).

It stays silent on parameters and tensors, where the attribute is right: `.weight`, `.bias`, loop variables over
`parameters()`, `nn.Parameter` attributes such as `self.pos_embedding.requires_grad = False`, input tensors, and
names that are parameters in some architectures (ViT's `position_embeddings`).

## Example
```python
model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.requires_grad = False
```

Use instead:
```python
model.bert.requires_grad_(False)
```

## Fix safety
The fix rewrites `X.requires_grad = v` as `X.requires_grad_(v)` (and `setattr(X, "requires_grad", v)` likewise).
It is safe: `requires_grad_` exists on modules and tensors alike and sets the flag the code meant to set. It is
unsafe when the freeze covers a whole model that nothing unfreezes afterwards: made real, it would leave the model
with nothing to train, a bigger change than the author may expect.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the statement ran and changed no parameter's
`requires_grad` (it names the module whose `__dict__` holds the plain attribute), refuted when it changed some.

## References
- pytorch/pytorch#20241 ("[FR] nn.Module.requires_grad_()", for freezing modules when fine-tuning), added by
  PR #22576.
- torch 2.13 `torch/nn/modules/module.py`: `Module.__setattr__` registers only parameters, modules and buffers and
  stores any other value as a plain attribute; `Module.requires_grad_` calls `requires_grad_` on every parameter.
- tests/runtime/test_noop_freezes_runtime.py: `test_buggy_freezes_nothing_and_the_fix_freezes` (cases
  `FRZ101-module`, `FRZ101-children`, `FRZ101-setattr`: every parameter stays trainable, and the fix freezes exactly
  the module meant) and `test_module_attribute_is_a_plain_attribute` (`model.bert.__dict__["requires_grad"]`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge
from freezelint.facts import (
    ANY_CHILD,
    ANY_DESCENDANT,
    Facts,
    FreezeForm,
    FreezeOp,
    Kind,
    Literal,
    ModelSource,
    ModuleRef,
    Unknown,
    group_by_node,
)
from freezelint.findings import Applicability, Evidence, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, edits, rule
from freezelint.rules.runtime_hooks import (
    NOT_CHECKABLE,
    StaticFinding,
    Verdict,
    runtime_verdict,
)

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView


MESSAGE = (
    "`{module}`{origin} is an nn.Module: `requires_grad = {value}` on it only stores a plain Python attribute, so "
    "{outcome}. Call `{receiver}.requires_grad_({value})` to set it on every parameter."
)
# The same, where what makes it a module is a name (`self.encoder` that no code of the file assigns): said so, and the
# fix is right either way (`requires_grad_` exists on tensors too).
BY_NAME = (
    "`{module}`{origin} is, by its name, an nn.Module ({basis}): `requires_grad = {value}` on a module only stores a "
    "plain Python attribute, so {outcome}. Call `{receiver}.requires_grad_({value})`, which sets it on every "
    "parameter (and is right for a tensor too)."
)
# What happens at run time, by the value stored (None: a value the analysis cannot read).
OUTCOMES = {
    False: "no parameter is frozen and all of them will train",
    True: "no parameter is unfrozen: frozen ones stay frozen",
    None: "no parameter changes",
}


@rule("FRZ101", "module-requires-grad-attribute", Level.ERROR, fix=Applicability.SAFE, tokens=("requires_grad",))
def module_requires_grad_attribute(facts: Facts) -> Iterator[Report]:
    stores = [op for op in facts.of(FreezeOp, uncalled=True) if op.form is FreezeForm.STORE and op.attribute == "requires_grad"]
    for group in group_by_node(stores):
        modules = [op for op in group if not (isinstance(op.target, Literal) and op.target.value is None)]
        op = modules[0] if modules else None
        target_node = _receiver_node(op) if op is not None else None
        if op is None or target_node is None or not all(_is_module(facts, o, target_node) for o in modules):
            continue  # a parameter, a tensor, or something the analysis cannot see
        fields = {
            "module": facts.code(target_node),
            "origin": _origin(op.target),
            "value": edits.value_text(facts, op),
            "outcome": OUTCOMES.get(op.value, OUTCOMES[None]),
            "receiver": facts.code(edits.receiver(target_node)),
        }
        basis = next((b for b in map(name_basis, modules) if b is not None), None)
        if basis is None:
            yield Report(edits.reported_node(op), Message(MESSAGE, fields), fix=_fix(facts, op, target_node))
        else:
            message = Message(BY_NAME, {**fields, "basis": basis})
            yield Report(edits.reported_node(op), message, fix=_fix(facts, op, target_node), evidence=Evidence.NAME)


def name_basis(op: FreezeOp) -> str | None:
    """What the receiver's being a module rests on, when it is a name alone; None when the analysis traced it (a model
    loaded or built here, an attribute assigned here, a loop over `children()`)."""
    target = op.target
    if not isinstance(target, ModuleRef) or target.traced or (target.path and target.path[-1] in (ANY_CHILD, ANY_DESCENDANT)):
        return None
    model = target.model
    if model.source is ModelSource.UNSEEN:
        if model.factory.startswith("isinstance("):
            return None  # checked: `if not isinstance(x, nn.Linear): raise ...` before it
        if model.factory.startswith("argument "):
            return f"`{model.name}` is a parameter of a function nothing in this file calls"
        if model.factory.startswith("self."):
            return f"`{model.factory}` is set by a base class of another file"
        return f"`{model.name}` is made by `{model.factory}`, code freezelint cannot see"
    named = next((component for component in target.path if not component.startswith("[")), target.path[-1])
    return f"no code of this file assigns `{named}`"


def _origin(ref: object) -> str:
    """Where a loop variable's module comes from: ` (each sub-module of `model.bert`)`."""
    if isinstance(ref, ModuleRef) and ref.path and ref.path[-1] in (ANY_CHILD, ANY_DESCENDANT):
        parent = ModuleRef(ref.model, ref.path[:-1]).describe()
        return f" (each {'child' if ref.path[-1] == ANY_CHILD else 'sub-module'} of `{parent}`)"
    return ""


def _is_module(facts: Facts, op: FreezeOp, receiver: cst.BaseExpression) -> bool:
    """Evidence that the receiver is a torch module: what the analysis knows of it, or (for a value it cannot see) a
    loop over `children()`/`modules()` in a torch file."""
    target = op.target
    if isinstance(target, ModuleRef):
        model = target.model
        if model.cls is not None and not target.path and model.cls.find_method("requires_grad") is not None:
            return False  # the class defines `requires_grad` itself (a property that sets its parameters)
        return target.kind is Kind.MODULE and not model.foreign
    if isinstance(target, Unknown):
        return edits.iterated_method(op, receiver) in knowledge.MODULE_ITERATORS and edits.torch_file(facts)
    return False


def _receiver_node(op: FreezeOp) -> cst.BaseExpression | None:
    """The expression the attribute was stored on: `X` of `X.requires_grad = v` or `setattr(X, "requires_grad", v)`."""
    node = op.node
    if isinstance(node, cst.Attribute):
        return node.value
    if isinstance(node, cst.Call) and len(node.args) == 3:
        return node.args[0].value
    return None


def _fix(facts: Facts, op: FreezeOp, target: cst.BaseExpression) -> FixProposal | None:
    value = op.value_node
    if isinstance(op.node, cst.Call):
        replaced: cst.CSTNode = op.node
        new: cst.CSTNode = edits.requires_grad_call(target, value)
    else:
        statement = edits.assignment(facts, op)
        if statement is None:
            return None
        replaced, new = statement, cst.Expr(edits.requires_grad_call(target, value))
    return FixProposal(
        edits.applicability(facts, op, target),
        f"Call `requires_grad_({facts.code(value) if value is not None else 'False'})`",
        (Replacement(replaced, new),),
    )


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ101")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    holders = [
        (top, name) for top in view.state.models for name, module in top.module.named_modules()
        if "requires_grad" in module.__dict__
    ]
    wanted = view.receiver_component(finding.row)
    holders.sort(key=lambda item: (item[1].rsplit(".", 1)[-1] != wanted, len(item[1])))
    if not holders and view.state.ran(finding.row):
        changes = view.changes(finding)
        if changes is not None and not (changes[1] or changes[2]):
            return Verdict(NOT_CHECKABLE, f"line {finding.row} ran, but no module holds a `requires_grad` attribute")
    detail = ""
    if holders:
        top, name = holders[0]
        detail = f"`requires_grad` stored in `{(top.name + '.' + name) if name else top.name}.__dict__` (a plain attribute); "
    return view.no_op(finding, detail)
