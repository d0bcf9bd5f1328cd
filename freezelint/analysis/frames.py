"""What the walk is inside of: the frame of names it binds, and the context every event records."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from freezelint.facts import Branch, InFileClass, LazyMap, Loop, Trainer, Value


class Frame:
    """One scope: the module, a function call, a class body or a comprehension."""

    __slots__ = ("locals", "parent", "qualname", "returns", "returned", "global_names", "is_generator", "cls")

    def __init__(self, parent: Frame | None, qualname: str, cls: InFileClass | None = None) -> None:
        self.locals: dict[str, Value] = {}
        self.parent = parent
        self.qualname = qualname
        self.returns: list[Value] = []
        self.returned = False
        self.global_names: set[str] = set()
        self.is_generator = False
        self.cls = cls  # the class whose method this frame runs (for `super()`)

    def lookup(self, name: str) -> Value | None:
        frame: Frame | None = self
        while frame is not None:
            if name in frame.locals:
                return frame.locals[name]
            frame = frame.parent
        return None

    def root(self) -> Frame:
        frame = self
        while frame.parent is not None:
            frame = frame.parent
        return frame


@dataclass(frozen=True)
class Context:
    """What the walk is inside of; copied into every event's `Where`."""

    function: str = ""
    loops: tuple[Loop, ...] = ()
    branches: tuple[Branch, ...] = ()
    calls: tuple[cst.Call, ...] = ()
    callback_of: Trainer | None = None
    no_grad: bool = False
    standalone: bool = False
    lazy: LazyMap | None = None
    statement: cst.CSTNode | None = None
