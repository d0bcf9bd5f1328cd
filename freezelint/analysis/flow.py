"""Where a block leaves: the jumps (`continue`, `break`, `return`, `raise`) every path through it ends in, read from
the syntax."""

from __future__ import annotations

import libcst as cst

_JUMPS = (cst.Continue, cst.Break, cst.Return, cst.Raise)
_EXITS = (cst.Return, cst.Raise)


def _last_small(block: cst.BaseSuite | cst.Else | cst.If | None) -> tuple[cst.BaseSmallStatement | None, cst.If | None]:
    """The last statement of a block: as a small statement (`continue`), or as an `if` to look into."""
    if isinstance(block, cst.If):
        return None, block
    if isinstance(block, cst.Else):
        block = block.body
    if block is None or not block.body:
        return None, None
    last = block.body[-1]
    if isinstance(last, cst.SimpleStatementLine):
        return last.body[-1], None
    if isinstance(last, cst.BaseSmallStatement):  # `if x: continue` on one line
        return last, None
    return None, last if isinstance(last, cst.If) else None


def _ends_with(block: cst.BaseSuite | cst.Else | cst.If | None, kinds: tuple[type, ...]) -> bool:
    """True when every path through the block ends in one of these jumps."""
    small, nested = _last_small(block)
    if small is not None:
        return isinstance(small, kinds)
    if nested is not None:
        return nested.orelse is not None and _ends_with(nested.body, kinds) and _ends_with(nested.orelse, kinds)
    return False


def leaves(block: cst.BaseSuite | cst.Else | cst.If | None) -> bool:
    return _ends_with(block, _JUMPS)


def exits(block: cst.BaseSuite | cst.Else | cst.If | None) -> bool:
    return _ends_with(block, _EXITS)


def isinstance_guard(node: cst.If) -> tuple[str, cst.BaseExpression] | None:
    """(name, classes) of `if not isinstance(name, classes): <leave>` with no `else`: after it, `name` is an instance."""
    test = node.test
    if node.orelse is not None or not exits(node.body):
        return None
    if not (isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not)):
        return None
    call = test.expression
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value == "isinstance"):
        return None
    if len(call.args) != 2 or not isinstance(call.args[0].value, cst.Name):
        return None
    return call.args[0].value.value, call.args[1].value

