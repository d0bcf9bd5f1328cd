"""Small builders the no-op-freeze rules share to propose their fixes (libcst nodes, never text surgery)."""

from __future__ import annotations

import libcst as cst

from freezelint import knowledge
from freezelint.facts import Facts, FreezeOp, Unknown
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


def applicability(facts: Facts, op: FreezeOp, receiver: cst.BaseExpression | None = None) -> Applicability:
    """Safe, unless making the freeze real would (or, for a value the analysis cannot see or knows by its name only,
    may) leave a whole model with nothing trainable: every parameter or child of something, with no `if` deciding
    which."""
    if facts.freezes_everything(op):
        return Applicability.UNSAFE
    module = op.module
    unseen = isinstance(op.target, Unknown) or (module is not None and not module.traced)
    found = _binding_loop(op, receiver) if unseen and op.value is False else None
    if found is not None and not any(branch.depth > found[0] for branch in op.where.branches):
        return Applicability.UNSAFE
    return Applicability.SAFE


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


def iterated_method(op: FreezeOp, node: cst.BaseExpression | None) -> str | None:
    """When `node` is a name bound by an enclosing loop over `X.<method>()` (`for p in model.parameters()`), the
    method's name: evidence of what the name holds even when the analysis cannot tell what `X` is."""
    found = _binding_loop(op, node)
    return found[1] if found is not None else None


def _binding_loop(op: FreezeOp, node: cst.BaseExpression | None) -> tuple[int, str] | None:
    """The position (in `op.where.loops`) and iterated method of the loop that binds the name `node`."""
    if not isinstance(node, cst.Name):
        return None
    for index in range(len(op.where.loops) - 1, -1, -1):
        loop = op.where.loops[index]
        if node.value not in {name.value for name in bound_names(getattr(loop.node, "target", None))}:
            continue
        iterated = getattr(loop.node, "iter", None)
        if isinstance(iterated, cst.Call) and isinstance(iterated.func, cst.Name) and iterated.func.value in ("list", "enumerate"):
            iterated = iterated.args[0].value if iterated.args else None
        if isinstance(iterated, cst.Call) and isinstance(iterated.func, cst.Attribute):
            return index, iterated.func.attr.value
        return None
    return None


def torch_file(facts: Facts) -> bool:
    """The file imports torch code and no other framework's: an object it cannot see is most likely torch's."""
    return facts.imports_package(*knowledge.TORCH_PACKAGES) and not facts.imports_package(*knowledge.FOREIGN_MODEL_PACKAGES)


def with_keyword(call: cst.Call, name: str, value: cst.BaseExpression) -> cst.Call:
    """`call` with the keyword argument `name=value` added at the end. A trailing comma (a call written over several
    lines) stays trailing: the new argument goes on a line of its own, like the one before it."""
    added = cst.Arg(
        keyword=cst.Name(name),
        value=value,
        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")),
    )
    args = list(call.args)
    if not args:
        return call.with_changes(args=[added])
    last = args[-1]
    space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if isinstance(last.comma, cst.Comma):
        before = args[-2].comma if len(args) > 1 and isinstance(args[-2].comma, cst.Comma) else space
        args[-1] = last.with_changes(comma=before)
        added = added.with_changes(comma=last.comma)
    else:
        args[-1] = last.with_changes(comma=space)
    return call.with_changes(args=[*args, added])
