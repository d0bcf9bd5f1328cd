"""Python's own library: the builtins that iterate, filter, map or look up, `itertools.chain`, `copy.deepcopy`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import libcst as cst

from freezelint import knowledge as kb
from freezelint.analysis.libraries import torch_nn
from freezelint.analysis.libraries.call import CallSite
from freezelint.analysis.syntax import argument
from freezelint.analysis.walk_values import IterableOf, ListValue, Super
from freezelint.facts import (
    UNKNOWN,
    Builtin,
    FreezeForm,
    InFileFunction,
    LazyMap,
    Literal,
    Loop,
    Model,
    ModelSource,
    ModuleIter,
    ModuleRef,
    ParamGroups,
    ParamSet,
    TupleValue,
    Value,
    one_of,
)

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter


def call_builtin(walk: Interpreter, callee: Value, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value | None:
    """A call of a builtin (None when `callee` is not one)."""
    if not isinstance(callee, Builtin):
        return None
    name = callee.name
    first = args[0] if args else UNKNOWN
    if name == "filter" and len(args) == 2:
        walk.consume(args[1])
        return one_of([torch_nn.filtered(walk, option, args[0], node) for option in args[1].candidates()])
    if name == "map" and len(args) >= 2:
        lazy = LazyMap(node)
        function = args[0]
        if isinstance(function, InFileFunction):
            with walk.within(lazy=lazy):
                iterated = args[1]
                loop = Loop(node, iterated)
                with walk.within(loops=(*walk.context.loops, loop)):
                    walk.call_function(function, [walk.element_of(iterated)], {}, node)
        return lazy
    if name in ("list", "tuple", "sorted", "set"):
        walk.consume(first)
        for option in first.candidates():
            if isinstance(option, (ParamSet, ParamGroups)):
                return replace(option, one_shot=False)
            if isinstance(option, ModuleIter):
                return option  # `list(model.children())`: the same modules
        if isinstance(first, (TupleValue, ListValue)):
            return ListValue(list(first.items), node)
        return UNKNOWN
    if name in ("iter", "reversed"):
        return first
    if name == "enumerate":
        walk.consume(first)
        return IterableOf(TupleValue((UNKNOWN, walk.element_of(first))))
    if name == "zip":
        for value in args:
            walk.consume(value)
        return IterableOf(TupleValue(tuple(walk.element_of(a) for a in args)))
    if name == "next":
        walk.consume(first, partial=True)
        return walk.element_of(first)
    if name == "getattr" and len(args) >= 2 and isinstance(args[1], Literal) and isinstance(args[1].value, str):
        attribute = args[1].value
        return one_of([walk.attribute_of(option, attribute) for option in first.candidates()])
    if name == "setattr" and len(args) == 3 and isinstance(args[1], Literal) and args[1].value == "requires_grad":
        flag = args[2].value if isinstance(args[2], Literal) and isinstance(args[2].value, bool) else None
        for option in first.candidates():
            walk.freeze(node, option, flag, FreezeForm.STORE, "requires_grad", argument(node, 2, "value"))
        return UNKNOWN
    if name == "super":
        cls = walk.frame.cls
        self_value = walk.frame.lookup("self")
        if cls is not None and self_value is not None:
            return Super(cls, self_value)
        return UNKNOWN
    if name in kb.CONSUMING_BUILTINS:  # `print(params)` or `id(params)` does not iterate
        for value in (*args, *kwargs.values()):
            walk.consume(value)
    return UNKNOWN


def itertools_chain(walk: Interpreter, site: CallSite) -> Value | None:
    """`itertools.chain(a.parameters(), b.parameters())`: the parameter sets handed on together, once."""
    if site.qualname not in ("itertools.chain", "itertools.chain.from_iterable"):
        return None
    parts = (walk.element_of(site.args[0]),) if site.last == "from_iterable" and site.args else tuple(site.args)
    for part in site.args:
        walk.consume(part)
    return ParamGroups(parts, site.node, one_shot=True)


def deepcopy(walk: Interpreter, site: CallSite) -> Value | None:
    """`copy.deepcopy(model)`: a new model of the same kind, its own parameters (a teacher, an EMA copy)."""
    if site.qualname != "copy.deepcopy":
        return None
    for option in site.first.candidates():
        if isinstance(option, (Model, ModuleRef)):
            original = option if isinstance(option, Model) else option.model
            return walk.new_model(
                ModelSource.COPY, site.qualname, site.node, class_name=original.class_name,
                checkpoint=original.checkpoint, library=original.library,
            )
    return UNKNOWN
