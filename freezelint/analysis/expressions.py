"""Expressions: what each kind of expression evaluates to, as functions of the walk (the interpreter evaluates
with `walk.eval(node)`, which dispatches here by node type)."""

from __future__ import annotations

import builtins
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Union

import libcst as cst

from freezelint.analysis import libraries, options
from freezelint.analysis.frames import Frame
from freezelint.analysis.syntax import is_classmethod, literal, subscript_literal
from freezelint.analysis.walk_values import IterableOf, LibraryObject, ListValue, Super, is_params
from freezelint.facts import (
    UNKNOWN,
    Branch,
    Builtin,
    DictValue,
    Imported,
    InFileClass,
    InFileFunction,
    Instance,
    LazyMap,
    Literal,
    Loop,
    ParamGroups,
    TupleValue,
    Unknown,
    Value,
    holds_model,
    one_of,
)

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter

_BUILTIN_NAMES = frozenset(dir(builtins))
Comprehension = Union[cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp]


def evaluate(walk: Interpreter, node: cst.BaseExpression) -> Value:
    """The value of an expression (UNKNOWN for kinds the analysis does not follow: lambdas' bodies aside)."""
    evaluator = EVALUATORS.get(type(node))
    return evaluator(walk, node) if evaluator is not None else UNKNOWN


def eval_Name(walk: Interpreter, node: cst.Name) -> Value:
    name = node.value
    if name in ("True", "False", "None"):
        return Literal(literal(node))
    value = walk.frame.lookup(name)
    if value is not None:
        return value
    if name in _BUILTIN_NAMES:
        return Builtin(name)
    return UNKNOWN


def eval_SimpleString(walk: Interpreter, node: cst.SimpleString) -> Value:
    value = literal(node)
    return Literal(value) if value is not NotImplemented else UNKNOWN


def eval_FormattedString(walk: Interpreter, node: cst.FormattedString) -> Value:
    for part in node.parts:
        if isinstance(part, cst.FormattedStringExpression):
            walk.eval(part.expression)
    return UNKNOWN


def eval_Integer(walk: Interpreter, node: cst.Integer) -> Value:
    return Literal(literal(node))


def eval_Attribute(walk: Interpreter, node: cst.Attribute) -> Value:
    owner = walk.eval(node.value)
    return one_of([walk.attribute_of(option, node.attr.value) for option in owner.candidates()])


def eval_Subscript(walk: Interpreter, node: cst.Subscript) -> Value:
    owner = walk.eval(node.value)
    for element in node.slice:
        if isinstance(element.slice, cst.Index):
            walk.eval(element.slice.value)
    key = subscript_literal(node)
    results: list[Value] = []
    for option in owner.candidates():
        if isinstance(option, (TupleValue, ListValue)) and isinstance(key, int):
            items = option.items
            results.append(items[key] if -len(items) <= key < len(items) else UNKNOWN)
        elif isinstance(option, DictValue) and isinstance(key, str):
            results.append(option.entries.get(key, UNKNOWN))
        elif isinstance(option, DictValue) and key is NotImplemented and option.entries:
            # `{"adam": Adam(...), "sgd": SGD(...)}[optimizer_type]`: one of its values
            results.append(one_of(list(option.entries.values())))
        else:
            results.append(libraries.subscript(walk, option, node, key))
    return one_of(results)


def eval_Tuple(walk: Interpreter, node: cst.Tuple | cst.List) -> Value:
    items: list[Value] = []
    starred = False
    for element in node.elements:
        value = walk.eval(element.value)
        if isinstance(element, cst.StarredElement):
            starred = True
            walk.consume(value)
        items.append(value)
    if any(is_params(item) for item in items):
        return ParamGroups(tuple(items), node)
    if starred:
        return UNKNOWN
    if isinstance(node, cst.List):
        return ListValue(items, node)
    return TupleValue(tuple(items))


def eval_Set(walk: Interpreter, node: cst.Set) -> Value:
    for element in node.elements:
        walk.eval(element.value)
    return UNKNOWN


def eval_Dict(walk: Interpreter, node: cst.Dict) -> Value:
    entries: dict[str, Value] = {}
    for element in node.elements:
        if isinstance(element, cst.DictElement):
            key = literal(element.key)
            value = walk.eval(element.value)
            if isinstance(key, str):
                entries[key] = value
        else:
            walk.eval(element.value)
    return DictValue(entries)


def eval_BinaryOperation(walk: Interpreter, node: cst.BinaryOperation) -> Value:
    left, right = walk.eval(node.left), walk.eval(node.right)
    if isinstance(node.operator, cst.Add) and (is_params(left) or is_params(right)):
        return ParamGroups((left, right), node)
    return UNKNOWN


def eval_BooleanOperation(walk: Interpreter, node: cst.BooleanOperation) -> Value:
    left, right = walk.eval(node.left), walk.eval(node.right)
    tracked = [v for v in (left, right) if not isinstance(v, (Literal, Unknown))]
    return one_of(tracked) if tracked else UNKNOWN


def eval_UnaryOperation(walk: Interpreter, node: cst.UnaryOperation) -> Value:
    value = walk.eval(node.expression)
    if isinstance(node.operator, cst.Not) and isinstance(value, Literal) and isinstance(value.value, bool):
        return Literal(not value.value)
    constant = literal(node)
    return Literal(constant) if constant is not NotImplemented else UNKNOWN


def eval_Comparison(walk: Interpreter, node: cst.Comparison) -> Value:
    walk.eval(node.left)
    for target in node.comparisons:
        walk.eval(target.comparator)
    return UNKNOWN


def eval_IfExp(walk: Interpreter, node: cst.IfExp) -> Value:
    """`a if test else b`: the arm a constant test picks, else either, each evaluated in its arm."""
    test = walk.eval(node.test)
    if isinstance(test, Literal) and isinstance(test.value, bool):
        return walk.eval(node.body if test.value else node.orelse)
    depth = len(walk.context.loops)
    arms = []
    for arm, expression in ((True, node.body), (False, node.orelse)):
        with walk.within(branches=(*walk.context.branches, Branch(node, node.test, arm, depth))):
            arms.append(walk.eval(expression))
    return one_of(arms)


def eval_Await(walk: Interpreter, node: cst.Await) -> Value:
    return walk.eval(node.expression)


def eval_Yield(walk: Interpreter, node: cst.Yield) -> Value:
    walk.frame.is_generator = True
    if isinstance(node.value, cst.From):
        walk.eval(node.value.item)
    elif node.value is not None:
        walk.eval(node.value)
    return UNKNOWN


def eval_NamedExpr(walk: Interpreter, node: cst.NamedExpr) -> Value:
    value = walk.eval(node.value)
    walk.assign(node.target, value, node.value)
    return value


def eval_Lambda(walk: Interpreter, node: cst.Lambda) -> Value:
    defaults = {p.name.value: walk.eval(p.default) for p in node.params.params if p.default is not None}
    return InFileFunction(node=node, qualname=f"{walk.frame.qualname}.<lambda>", closure=walk.frame, defaults=defaults)


def eval_ListComp(walk: Interpreter, node: Comprehension) -> Value:
    """List, set, dict and generator comprehensions."""
    return eval_comprehension(walk, node)


def eval_comprehension(walk: Interpreter, node: Comprehension) -> Value:
    lazy = LazyMap(node) if isinstance(node, cst.GeneratorExp) else None
    outer_frame, saved = walk.frame, walk.context
    walk.frame = Frame(outer_frame, outer_frame.qualname)
    element: Value = UNKNOWN
    try:
        if lazy is not None:
            walk.context = replace(walk.context, lazy=lazy)
        clause: cst.CompFor | None = node.for_in
        while clause is not None:
            iterated = walk.eval(clause.iter)
            walk.consume(iterated)
            loop = Loop(clause, iterated)
            walk.context = replace(walk.context, loops=(*walk.context.loops, loop))
            walk.assign(clause.target, walk.element_of(iterated), clause.iter)
            for condition in clause.ifs:
                walk.eval(condition.test)
                branch = Branch(condition, condition.test, True, len(walk.context.loops))
                walk.context = replace(walk.context, branches=(*walk.context.branches, branch))
            clause = clause.inner_for_in
        if isinstance(node, cst.DictComp):
            walk.eval(node.key)
            element = walk.eval(node.value)
        else:
            element = walk.eval(node.elt)
        derived = libraries.collected(walk, element, node, one_shot=lazy is not None)
    finally:
        walk.frame, walk.context = outer_frame, saved
    if derived is not None:
        derived.lazy = lazy
        return derived
    if lazy is None and isinstance(node, (cst.ListComp, cst.SetComp)) and holds_model(element):
        return IterableOf(element)  # `[accelerator.prepare(m) for m in models]`: a list of those modules
    return lazy if lazy is not None else UNKNOWN


def eval_Call(walk: Interpreter, node: cst.Call) -> Value:
    func = node.func
    receiver: Value | None = None
    callee: Value = UNKNOWN
    if isinstance(func, cst.Attribute) and func.attr.value == "add_argument":
        options.define_option(walk, node, "argparse", None)
    if isinstance(func, cst.Attribute):
        receiver = walk.eval(func.value)
    else:
        callee = walk.eval(func)
    args: list[Value] = []
    kwargs: dict[str, Value] = {}
    for arg in node.args:
        value = walk.eval(arg.value)
        if arg.keyword is not None:
            kwargs[arg.keyword.value] = value
        elif arg.star == "*":
            walk.consume(value)
            if isinstance(value, TupleValue):
                args.extend(value.items)
            else:
                args.append(UNKNOWN)
        elif arg.star == "**":
            if isinstance(value, DictValue):
                kwargs.update(value.entries)
        else:
            args.append(value)
    results: list[Value] = []
    if receiver is not None:
        method = func.attr.value  # type: ignore[attr-defined]
        for option in receiver.candidates():
            results.append(call_method(walk, option, method, args, kwargs, node))
    else:
        for option in callee.candidates():
            results.append(walk.call_value(option, args, kwargs, node))
    return one_of(results)


def call_method(walk: Interpreter, receiver: Value, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
    if isinstance(receiver, Imported):
        return libraries.call(walk, f"{receiver.qualname}.{method}", args, kwargs, node, receiver=receiver)
    if isinstance(receiver, LibraryObject):
        return libraries.call(walk, f"{receiver.qualname}.{method}", args, kwargs, node, receiver=receiver)
    if isinstance(receiver, (Instance, InFileClass, Super)):
        return _object_method(walk, receiver, method, args, kwargs, node)
    if isinstance(receiver, ListValue):
        if method in ("append", "extend", "insert"):
            value = args[-1] if args else UNKNOWN
            walk.consume(value)
            derived = libraries.collected(walk, value, node, one_shot=False) if method == "append" else None
            if value is not receiver:
                receiver.items.append(derived if derived is not None else value)
        return UNKNOWN
    if isinstance(receiver, DictValue):
        if method == "get" and args and isinstance(args[0], Literal):
            return receiver.entries.get(str(args[0].value), args[1] if len(args) > 1 else UNKNOWN)
        if method == "items":
            return IterableOf(TupleValue((UNKNOWN, one_of(list(receiver.entries.values())))))
        if method == "values":
            return IterableOf(one_of(list(receiver.entries.values())))
        return UNKNOWN
    if isinstance(receiver, InFileFunction):
        return UNKNOWN
    called = libraries.call_method(walk, receiver, method, args, kwargs, node)
    if called is not None:
        return called
    if isinstance(receiver, Unknown):
        # A method of an object we do not track: a model handed to it may be changed there.
        walk.opaque(args, kwargs, node, f".{method}()")
    return UNKNOWN

def _object_method(walk: Interpreter, receiver: Value, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
    if isinstance(receiver, Super):
        if method == "__init__":
            for cls in list(receiver.cls.mro())[1:]:
                if "__init__" in cls.methods:
                    return walk.call_function(cls.methods["__init__"], args, kwargs, node, self_value=receiver.self_value)
        return UNKNOWN
    if isinstance(receiver, Instance) and method in receiver.attrs:
        # An attribute called (`walk.teacher(x)`): what it holds is called, a module's forward included.
        held = receiver.attrs[method]
        return one_of([walk.call_value(option, args, kwargs, node) for option in held.candidates()])
    found = receiver.cls if isinstance(receiver, Instance) else receiver
    assert isinstance(found, InFileClass)
    cls = found
    defined = cls.find_method(method)
    if isinstance(receiver, InFileClass) and method in ("from_pretrained", "from_config") and defined is None:
        return walk.instantiate(receiver, args, kwargs, node, factory=method)
    if defined is not None:
        self_value: Value | None = receiver if isinstance(receiver, Instance) else None
        if is_classmethod(defined.node):
            self_value = cls
        return walk.call_function(defined, args, kwargs, node, self_value=self_value)
    return libraries.inherited_method(walk, cls, method, args, kwargs, node)


EVALUATORS: dict[type[cst.CSTNode], Callable[[Interpreter, Any], Value]] = {
    cst.Name: eval_Name,
    cst.SimpleString: eval_SimpleString,
    cst.FormattedString: eval_FormattedString,
    cst.Integer: eval_Integer,
    cst.Attribute: eval_Attribute,
    cst.Subscript: eval_Subscript,
    cst.Tuple: eval_Tuple,
    cst.Set: eval_Set,
    cst.Dict: eval_Dict,
    cst.BinaryOperation: eval_BinaryOperation,
    cst.BooleanOperation: eval_BooleanOperation,
    cst.UnaryOperation: eval_UnaryOperation,
    cst.Comparison: eval_Comparison,
    cst.IfExp: eval_IfExp,
    cst.Await: eval_Await,
    cst.Yield: eval_Yield,
    cst.NamedExpr: eval_NamedExpr,
    cst.Lambda: eval_Lambda,
    cst.ListComp: eval_ListComp,
    cst.Call: eval_Call,
    cst.ConcatenatedString: eval_SimpleString,
    cst.Float: eval_Integer,
    cst.List: eval_Tuple,
    cst.SetComp: eval_ListComp,
    cst.GeneratorExp: eval_ListComp,
    cst.DictComp: eval_ListComp,
}
