"""Values only the walk needs: rules never see them (they are UNKNOWN to the facts model)."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from freezelint.facts import InFileClass, ParamGroups, ParamSet, TupleValue, Value


@dataclass(eq=False)
class ListValue(Value):
    """A list built up by `append`/`extend`/`+=` (parameter lists collected in a loop)."""

    items: list[Value]
    node: cst.CSTNode


@dataclass(eq=False)
class IterableOf(Value):
    """Something whose elements are known: `enumerate(x)`, `zip(a, b)`, `d.items()`."""

    element: Value


@dataclass(eq=False)
class LibraryObject(Value):
    """An instance of an imported class the analysis does not model in detail (`Accelerator()`, `Fabric()`)."""

    qualname: str


@dataclass(eq=False)
class GradContext(Value):
    """`torch.no_grad()`, `torch.inference_mode()`, `torch.set_grad_enabled(False)`: gradients off inside."""

    enabled: bool


@dataclass(eq=False)
class Super(Value):
    """`super()` inside a method of an in-file class."""

    cls: InFileClass
    self_value: Value


def flatten(values: list[Value]) -> list[Value]:
    """Values with lists and tuples among them spread out one level (`nn.Sequential(*layers)`, `freeze([a, b])`)."""
    flat: list[Value] = []
    for value in values:
        if isinstance(value, (ListValue, TupleValue)):
            flat.extend(value.items)
        else:
            flat.append(value)
    return flat


def is_params(value: Value, seen: frozenset[int] = frozenset()) -> bool:
    """True for parameter sets, or lists holding some (lists may contain themselves: `xs.append(xs)`)."""
    if any(isinstance(option, (ParamSet, ParamGroups)) for option in value.candidates()):
        return True
    if isinstance(value, ListValue) and id(value) not in seen:
        inner = seen | {id(value)}
        return any(is_params(item, inner) for item in value.items)
    return False
