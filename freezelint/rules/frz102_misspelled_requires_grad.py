"""## What it does
Finds a misspelled `requires_grad`, or another framework's freeze attribute, set on a torch parameter or module.
The misspellings come from a closed list (`require_grad`, `requires_grads`, `required_grad`, `requires_gradient`,
`require_grads`, `requires_gard`, `requiresGrad`...); the foreign idioms are `trainable` (Keras, TensorFlow, Paddle)
and `stop_gradient` (PaddlePaddle).

## Why is this bad?
Python lets any object take a new attribute. `p.require_grad = False` creates one and leaves `p.requires_grad`
as it was: nothing is frozen, nothing warns, and the layers meant to stay fixed train (measured with torch 2.13 on a
tiny BERT: every parameter stays trainable). `trainable = False` is right in Keras and `stop_gradient = True` is right
in Paddle; on a torch object both are plain attributes that nothing reads.

The list is closed on purpose, not an edit distance: transformers itself stores `_requires_grad` legitimately. The
rule stays silent on Keras, TensorFlow and PaddlePaddle objects (where `trainable` is the API), on TF/Flax model
classes of transformers 4, on a class's own attributes (`self.trainable = trainable` in an `nn.Module` of the
file is the author's flag), and on a foreign attribute set beside a real `requires_grad` change of the same module
in the same function (`m.trainable = b` then `for p in m.parameters(): p.requires_grad = b`: bookkeeping, not the
freeze).

## Example
```python
for param in model.features.parameters():
    param.require_grad = False
model.bert.trainable = False
```

Use instead:
```python
for param in model.features.parameters():
    param.requires_grad = False
model.bert.requires_grad_(False)
```

## Fix safety
Safe: the misspelled name becomes `requires_grad` on a parameter or tensor, and `requires_grad_(v)` on a module;
`stop_gradient = v` means the opposite, so it becomes `requires_grad = not v` (`stop_gradient = True` becomes
`requires_grad = False`). The fix is unsafe when the freeze covers a whole model that nothing unfreezes afterwards:
made real, it would leave the model with nothing to train.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the statement ran and changed no parameter's
`requires_grad` (it counts the objects holding the misspelled attribute), refuted when it changed some.

## References
- pytorch/pytorch#72332: "Ability to assign to `tensor.require_grad` might lead to bugs", with a VGG freezing example.
- udacity/deep-learning-v2-pytorch PR #90, where the fix itself used `required_grad`.
- tests/runtime/test_noop_freezes_runtime.py, `test_buggy_freezes_nothing_and_the_fix_freezes` (cases
  `FRZ102-typo`, `FRZ102-keras`, `FRZ102-paddle`: every parameter stays trainable, and the fix freezes what was
  meant); tests/runtime/test_checkers.py, `test_frz102_confirmed_by_the_misspelled_attribute_on_the_parameters`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge
from freezelint.facts import (
    Facts,
    FreezeForm,
    FreezeOp,
    Kind,
    Literal,
    ModuleRef,
    ParamRef,
    Unknown,
    Value,
    group_by_node,
)
from freezelint.findings import Applicability, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, edits, rule
from freezelint.rules.runtime_hooks import (
    StaticFinding,
    Verdict,
    plural,
    runtime_verdict,
)

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

TOKENS = tuple(sorted(knowledge.MISSPELLED_REQUIRES_GRAD | knowledge.FOREIGN_FREEZE_ATTRIBUTES))

MESSAGE = (
    "`{attribute}` is {idiom}: on the torch {kind} `{written}` it only creates a plain Python attribute, so nothing is "
    "frozen or unfrozen and `requires_grad` stays as it was. Use `{instead}`."
)
# What the attribute written is, by its name (None: any other, a misspelling of `requires_grad`).
IDIOMS = {
    "stop_gradient": "PaddlePaddle's attribute (with the opposite meaning)",
    "trainable": "the Keras/TensorFlow attribute",
    None: "a misspelling of `requires_grad`",
}


@rule("FRZ102", "misspelled-requires-grad", Level.ERROR, fix=Applicability.SAFE, tokens=TOKENS)
def misspelled_requires_grad(facts: Facts) -> Iterator[Report]:
    stores = [op for op in facts.of(FreezeOp, uncalled=True) if op.form is FreezeForm.MISSPELLED_STORE]
    for group in group_by_node(stores):
        ops = [op for op in group if not (isinstance(op.target, Literal) and op.target.value is None)]
        if not ops or not isinstance(ops[0].node, cst.Attribute):
            continue
        attribute = ops[0].attribute
        foreign_idiom = attribute in knowledge.FOREIGN_FREEZE_ATTRIBUTES
        if not all(_torch_target(facts, op, foreign_idiom) for op in ops):
            continue
        if foreign_idiom and all(_beside_real_change(facts, op) for op in ops):
            continue  # `m.trainable = b` kept as the author's own bookkeeping next to `p.requires_grad = b`
        op = ops[0]
        node = op.node
        assert isinstance(node, cst.Attribute)
        on_module = any(isinstance(o.target, ModuleRef) and o.target.kind is not Kind.PARAMETER for o in ops)
        written = facts.code(node.value)
        intended = _intended_value(facts, op)
        if on_module:
            instead = f"{facts.code(edits.receiver(node.value))}.requires_grad_({intended})"
        else:
            instead = f"{written}.requires_grad = {intended}"
        fields = {
            "attribute": attribute,
            "idiom": IDIOMS.get(attribute, IDIOMS[None]),
            "kind": "module" if on_module else "parameter",
            "written": written,
            "instead": instead,
        }
        yield Report(
            edits.reported_node(op),
            Message(MESSAGE, fields),
            fix=_fix(facts, op, on_module, intended),
        )


def _torch_target(facts: Facts, op: FreezeOp, foreign_idiom: bool) -> bool:
    """A torch parameter or module (not another framework's object, not a class's own attribute), or a value the
    analysis cannot see drawn by a loop over `parameters()` in a torch file."""
    target: Value = op.target
    if isinstance(target, Unknown):
        receiver = op.node.value if isinstance(op.node, cst.Attribute) else None
        method = edits.iterated_method(op, receiver) if receiver is not None else None
        return method in knowledge.PARAMETER_ITERATORS and edits.torch_file(facts)
    if isinstance(target, ParamRef):
        module = target.module
        if module is None:
            return not foreign_idiom  # a plain tensor: `t.trainable` could be anything's
        return not module.model.foreign
    if isinstance(target, ModuleRef):
        model = target.model
        if model.foreign or (model.cls is not None and not target.path):
            return False  # another framework's model, or the author's own flag on their own class
        if foreign_idiom:
            return target.kind is Kind.MODULE and model.cls is None
        return True
    return False


def _beside_real_change(facts: Facts, op: FreezeOp) -> bool:
    """A `requires_grad` store or call on the same module's parameters in the same function: the foreign attribute
    is then a flag of the author's, not the freeze."""
    module = op.module
    return module is not None and any(
        other.form in (FreezeForm.STORE, FreezeForm.CALL) and other.effective and other.where.function == op.where.function
        and other.module is not None and other.module.overlaps(module)
        for other in facts.of(FreezeOp, uncalled=True)
    )


def _intended_value(facts: Facts, op: FreezeOp) -> str:
    """The `requires_grad` value meant: the value written, negated for `stop_gradient`."""
    written = op.value_node
    if op.attribute not in knowledge.INVERTED_FREEZE_ATTRIBUTES:
        return facts.code(written) if written is not None else "False"
    if op.value is not None:
        return str(op.value)
    return f"not {facts.code(edits.receiver(written))}" if written is not None else "False"


def _fix(facts: Facts, op: FreezeOp, on_module: bool, intended: str) -> FixProposal | None:
    node = op.node
    assert isinstance(node, cst.Attribute)
    value: cst.BaseExpression | None = op.value_node
    if op.attribute in knowledge.INVERTED_FREEZE_ATTRIBUTES and value is not None:
        value = _negated(op, value)
    replacements: tuple[Replacement, ...]
    if on_module:
        statement = edits.assignment(facts, op)
        if statement is None:
            return None
        replacements = (Replacement(statement, cst.Expr(edits.requires_grad_call(node.value, value))),)
        message = f"Call `requires_grad_({intended})`"
    else:
        replacements = (Replacement(node.attr, cst.Name("requires_grad")),)
        if op.attribute in knowledge.INVERTED_FREEZE_ATTRIBUTES and value is not None and op.value_node is not None:
            replacements += (Replacement(op.value_node, value),)
        message = f"Set `requires_grad = {intended}`"
    return FixProposal(edits.applicability(facts, op, node.value), message, replacements)


def _negated(op: FreezeOp, value: cst.BaseExpression) -> cst.BaseExpression:
    if op.value is not None:
        return cst.Name(str(op.value))  # the literal already inverted by the facts
    return cst.UnaryOperation(operator=cst.Not(), expression=edits.receiver(value))


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ102")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    names = knowledge.MISSPELLED_REQUIRES_GRAD | knowledge.FOREIGN_FREEZE_ATTRIBUTES
    stored: dict[str, int] = {}
    for top in view.state.models:
        objects = [p for _, p in top.named] + list(top.module.modules())
        for item in objects:
            for attribute in names & set(getattr(item, "__dict__", {})):
                stored[attribute] = stored.get(attribute, 0) + 1
    detail = ""
    if stored:
        attribute, count = max(stored.items(), key=lambda kv: kv[1])
        detail = f"`{attribute}` stored as a plain attribute on {plural(count, 'object')}; "
    return view.no_op(finding, detail)
