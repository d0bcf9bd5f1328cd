"""Reading syntax without evaluating it: literal values, dotted names, call arguments, subscripts, decorators."""

from __future__ import annotations

import ast
import functools

import libcst as cst


def literal(node: cst.BaseExpression | None) -> object:
    """The Python value of a constant expression, or `NotImplemented` when it is not one."""
    if node is None:
        return NotImplemented
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, cst.SimpleString):
        return _constant(node.value, str)
    if isinstance(node, cst.ConcatenatedString):
        value = node.evaluated_value
        return value if isinstance(value, str) else NotImplemented
    if isinstance(node, (cst.Integer, cst.Float)):
        return _constant(node.value, (int, float))
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = literal(node.expression)
        return -inner if isinstance(inner, (int, float)) and not isinstance(inner, bool) else NotImplemented
    return NotImplemented


def _constant(text: str, kind: type | tuple[type, ...]) -> object:
    """The value of a literal's source text, when it is of `kind`."""
    value = _literal_value(text)
    return value if isinstance(value, kind) else NotImplemented


@functools.lru_cache(maxsize=50_000)
def _literal_value(text: str) -> object:
    # The same literals recur thousands of times in a file, and `ast.literal_eval` was the walk's most frequent call.
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError):
        return NotImplemented


def dotted(node: cst.BaseExpression) -> str | None:
    """`a.b.c` as a string, when the expression is a plain dotted name."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr.value}" if head else None
    return None


def argument(node: cst.Call, index: int, keyword: str) -> cst.BaseExpression | None:
    """The expression passed for a parameter, by keyword or position."""
    positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    return positional[index].value if index < len(positional) else None


def subscript_items(node: cst.BaseExpression | None) -> list[cst.BaseExpression]:
    """The elements of a subscript (`Annotated[bool, typer.Option()]`), or nothing."""
    if not isinstance(node, cst.Subscript):
        return []
    return [element.slice.value for element in node.slice if isinstance(element.slice, cst.Index)]


def subscript_literal(node: cst.Subscript) -> object:
    """The constant a single-element subscript indexes with (`x[3]`, `d["params"]`), or `NotImplemented`."""
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        return literal(node.slice[0].slice.value)
    return NotImplemented


def is_static(node: cst.FunctionDef | cst.Lambda) -> bool:
    return isinstance(node, cst.FunctionDef) and any(dotted(d.decorator) == "staticmethod" for d in node.decorators)


def is_classmethod(node: cst.FunctionDef | cst.Lambda) -> bool:
    return isinstance(node, cst.FunctionDef) and any(dotted(d.decorator) == "classmethod" for d in node.decorators)


def has_parameter(node: cst.FunctionDef | cst.Lambda, name: str) -> bool:
    params = node.params
    return any(p.name.value == name for p in (*params.posonly_params, *params.params, *params.kwonly_params))
