"""Small builders the no-op-freeze rules share to propose their fixes (libcst nodes, never text surgery)."""

from __future__ import annotations

import libcst as cst

from freezelint.facts import Facts, FreezeOp
from freezelint.findings import Applicability

_ATOMS = (cst.Name, cst.Attribute, cst.Subscript, cst.Call)


def receiver(node: cst.BaseExpression) -> cst.BaseExpression:
    """`node`, parenthesized when an attribute access on it would bind to a part of it (`a if c else b`)."""
    if isinstance(node, _ATOMS) or node.lpar:
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def requires_grad_call(target: cst.BaseExpression, value: cst.BaseExpression | None) -> cst.Call:
    """`target.requires_grad_(value)`; without a value, `requires_grad_(False)`."""
    argument = value if value is not None else cst.Name("False")
    return cst.Call(func=cst.Attribute(value=receiver(target), attr=cst.Name("requires_grad_")), args=[cst.Arg(argument)])


def assignment(facts: Facts, op: FreezeOp) -> cst.Assign | None:
    """The statement `X.attr = v` whose single target is the node of `op` (None for `setattr`, chained targets)."""
    statement = op.where.statement
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1 and statement.targets[0].target is op.node:
        return statement
    return None


def reported_node(op: FreezeOp) -> cst.CSTNode:
    """Where a finding about `op` points: its whole statement when the statement is the operation."""
    statement = op.where.statement
    if isinstance(statement, cst.Assign) and any(target.target is op.node for target in statement.targets):
        return statement
    if isinstance(statement, cst.Expr) and statement.value is op.node:
        return statement
    return op.node


def applicability(facts: Facts, op: FreezeOp) -> Applicability:
    """Safe, unless making the freeze real would leave the whole model with nothing trainable."""
    return Applicability.UNSAFE if facts.freezes_everything(op) else Applicability.SAFE


def value_text(facts: Facts, op: FreezeOp) -> str:
    """The value the code meant to set, as written (`False`, `not train_encoder`)."""
    if op.value_node is not None:
        return facts.code(op.value_node)
    return "False" if op.value is None else str(op.value)


def bound_names(target: cst.CSTNode | None) -> list[cst.Name]:
    """The names a `for` target binds (`name, param`, `i, (name, param)`)."""
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in bound_names(element.value)]
    return []
