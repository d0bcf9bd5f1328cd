"""## What it does
Finds `requires_grad` set on a copy of a parameter (`.data`, `.detach()`, `.clone()`, a `state_dict()` tensor)
instead of the parameter. Examples: `p.data.requires_grad = False`, `p.detach().requires_grad_(False)`, and the
tensors of `model.state_dict()` reached through `.items()`, `.values()` or indexing, directly or through a loop
variable.

## Why is this bad?
`p.data`, `p.detach()` and `p.clone()` each return a new tensor object: it shares storage with the parameter (or
copies it) but has its own `requires_grad`. `state_dict()` returns detached tensors, never the parameters. Setting
`requires_grad` on any of them changes nothing the optimizer or autograd will see: the parameter stays trainable.
Measured with torch 2.13 on a tiny BERT: `.data`, `.detach()`, `state_dict().values()` and `state_dict().items()`
all leave every parameter trainable.

The usual way to make a new leaf tensor stays silent: `x = p.detach().clone().requires_grad_()` keeps its result,
and setting the flag there is the point.

## Example
```python
for name, tensor in model.state_dict().items():
    if name.startswith("bert."):
        tensor.requires_grad = False
model.bert.embeddings.word_embeddings.weight.data.requires_grad = False
```

Use instead:
```python
for name, param in model.named_parameters():
    if name.startswith("bert."):
        param.requires_grad = False
model.bert.embeddings.word_embeddings.weight.requires_grad = False
```

## Fix safety
Dropping `.data`, `.detach()` or `.clone()` in front of the freeze is safe: it sets the flag on the parameter the
copy was taken from (unsafe when that would freeze a whole model that nothing unfreezes afterwards).
`model.state_dict().items()` -> `model.named_parameters()` (and `.values()` -> `.parameters()`) is unsafe:
`state_dict()` also yields buffers, and with tied weights its keys differ from the parameter names.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the statement ran and changed no parameter's
`requires_grad`, refuted when it changed some.

## References
- OpenNMT/OpenNMT-py#192: a maintainer recommended `self.embeddings.weight.data.requires_grad = False`, a no-op.
- discuss.pytorch.org/t/requiers-grad-is-list-in-state-dict/125772: why `state_dict()` tensors do not freeze.
- torch 2.13 `torch/nn/modules/module.py`, `Module.state_dict`: "by default the Tensors returned in the state dict
  are detached from autograd" (`_save_to_state_dict` stores `param.detach()` unless `keep_vars=True`);
  `torch/_tensor.py`, `Tensor.detach`: "Returns a new Tensor, detached from the current graph."
- tests/runtime/test_noop_freezes_runtime.py, `test_buggy_freezes_nothing_and_the_fix_freezes` (cases
  `FRZ105-data`, `FRZ105-detach`, `FRZ105-state-dict`); tests/runtime/test_checkers.py,
  `test_frz105_confirmed_for_a_detached_copy_and_refuted_for_the_parameter`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge
from freezelint.facts import Facts, FreezeForm, FreezeOp, Loop, ParamRef, group_by_node
from freezelint.findings import Applicability, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, edits, rule
from freezelint.rules.runtime_hooks import StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

_UNCHANGED = "setting `requires_grad` on it changes nothing in the model; the parameter's own flag stays as it was."
COPY = (
    "`{written}` is a new tensor object, not the parameter `{parameter}`: " + _UNCHANGED
    + " Set it on the parameter: `{setting}`."
)
STATE_DICT_ENTRY = (
    "`{written}` comes from `{module}.state_dict()`, whose tensors are detached copies of the parameters: " + _UNCHANGED
    + " Iterate `{module}.named_parameters()` to reach the parameters."
)


@rule("FRZ105", "freeze-on-detached-copy", Level.ERROR, fix=Applicability.SAFE, tokens=("requires_grad",))
def freeze_on_detached_copy(facts: Facts) -> Iterator[Report]:
    ops = [op for op in facts.of(FreezeOp, uncalled=True) if op.form in (FreezeForm.STORE, FreezeForm.CALL) and op.attribute in ("requires_grad", "requires_grad_")]
    for group in group_by_node(ops):
        if not all(_on_copy(op) for op in group):
            continue
        op = group[0]
        receiver = _receiver(op)
        if receiver is None or (op.form is FreezeForm.CALL and not _discarded(op)):
            continue  # `x = p.detach().requires_grad_()` keeps the new tensor: that is how one makes a leaf
        target = op.target
        assert isinstance(target, ParamRef)
        from_state_dict = target.source is not None and target.source.copies
        direct = _copy_call(receiver)
        if direct is None and not (from_state_dict and op.value is False):
            continue  # a name bound to a copy the code may keep using
        parameter = _strip(receiver)
        written = facts.code(receiver)
        if direct is not None and not from_state_dict:
            name = facts.code(edits.receiver(parameter))
            setting = f"{name}.requires_grad_({edits.value_text(facts, op)})" if op.form is FreezeForm.CALL else (
                f"{name}.requires_grad = {edits.value_text(facts, op)}"
            )
            message = Message(COPY, {"written": written, "parameter": facts.code(parameter), "setting": setting})
        else:
            module = target.module.describe() if target.module is not None else "the model"
            message = Message(STATE_DICT_ENTRY, {"written": written, "module": module})
        yield Report(
            edits.reported_node(op),
            message,
            fix=_fix(facts, op, receiver, parameter, direct is not None and not from_state_dict),
        )


def _on_copy(op: FreezeOp) -> bool:
    target = op.target
    return isinstance(target, ParamRef) and target.copy and target.module is not None and not target.module.model.foreign


def _receiver(op: FreezeOp) -> cst.BaseExpression | None:
    """`X` in `X.requires_grad = v`, `X.requires_grad_(v)`, `setattr(X, "requires_grad", v)`."""
    node = op.node
    if isinstance(node, cst.Attribute):
        return node.value
    if isinstance(node, cst.Call):
        if isinstance(node.func, cst.Attribute):
            return node.func.value
        if node.args:
            return node.args[0].value
    return None


def _discarded(op: FreezeOp) -> bool:
    statement = op.where.statement
    return isinstance(statement, cst.Expr) and statement.value is op.node


def _copy_call(node: cst.BaseExpression) -> str | None:
    """How `node` makes a copy in place (`.data`, `.detach()`, `.clone()`, a `state_dict()` subscript), or None."""
    if isinstance(node, cst.Attribute) and node.attr.value == "data":
        return "`.data`"
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and not node.args:
        if node.func.attr.value in knowledge.TENSOR_COPY_METHODS:
            return f"`.{node.func.attr.value}()`"
    if isinstance(node, cst.Subscript):
        return "an entry"
    return None


def _strip(node: cst.BaseExpression) -> cst.BaseExpression:
    """The parameter under `.data` / `.detach()` / `.clone()` chains."""
    while True:
        if isinstance(node, cst.Attribute) and node.attr.value == "data":
            node = node.value
        elif (
            isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and not node.args
            and node.func.attr.value in knowledge.TENSOR_COPY_METHODS
        ):
            node = node.func.value
        else:
            return node


def _fix(facts: Facts, op: FreezeOp, receiver: cst.BaseExpression, parameter: cst.BaseExpression, strip: bool) -> FixProposal | None:
    if strip and parameter is not receiver:
        return FixProposal(
            edits.applicability(facts, op),
            f"Set `requires_grad` on `{facts.code(parameter)}` itself",
            (Replacement(receiver, parameter),),
        )
    loop = op.loop
    swap = _named_parameters(loop) if loop is not None else None
    if swap is None:
        return None
    iterated, new = swap
    return FixProposal(Applicability.UNSAFE, f"Iterate `{facts.code(new)}`", (Replacement(iterated, new),))


def _named_parameters(loop: Loop) -> tuple[cst.Call, cst.Call] | None:
    """`X.state_dict().items()` -> `X.named_parameters()`, `X.state_dict().values()` -> `X.parameters()`: the
    iterated call and the call to put in its place."""
    iterated = getattr(loop.node, "iter", None)
    if not (isinstance(iterated, cst.Call) and not iterated.args and isinstance(iterated.func, cst.Attribute)):
        return None
    method = iterated.func.attr.value
    inner = iterated.func.value
    if method not in ("items", "values") or not (
        isinstance(inner, cst.Call) and not inner.args and isinstance(inner.func, cst.Attribute) and inner.func.attr.value == "state_dict"
    ):
        return None
    name = "named_parameters" if method == "items" else "parameters"
    return iterated, cst.Call(func=cst.Attribute(value=inner.func.value, attr=cst.Name(name)))


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ105")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    return view.no_op(finding, "")
