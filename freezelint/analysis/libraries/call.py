"""One call of an imported name, as the library models see it."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from freezelint.analysis.syntax import argument
from freezelint.facts import UNKNOWN, Value


@dataclass(frozen=True)
class CallSite:
    """`qualname(*args, **kwargs)` at `node`; `receiver` is the imported object a method is called on
    (`accelerator.prepare(...)`: `receiver` is the `Accelerator` instance), None for a plain function or class."""

    qualname: str
    args: list[Value]
    kwargs: dict[str, Value]
    node: cst.Call
    receiver: Value | None = None

    @property
    def head(self) -> str:
        """`transformers.AutoModel` of `transformers.AutoModel.from_pretrained`."""
        return self.qualname.rpartition(".")[0]

    @property
    def last(self) -> str:
        """`from_pretrained` of `transformers.AutoModel.from_pretrained`."""
        return self.qualname.rpartition(".")[2]

    @property
    def package(self) -> str:
        return self.qualname.split(".", 1)[0]

    @property
    def first(self) -> Value:
        """The first positional argument, UNKNOWN when there is none."""
        return self.args[0] if self.args else UNKNOWN

    def given(self, keyword: str, index: int | None = None, default: Value = UNKNOWN) -> Value:
        """The value passed for a parameter, by keyword or else by position."""
        if keyword in self.kwargs:
            return self.kwargs[keyword]
        if index is not None and index < len(self.args):
            return self.args[index]
        return default

    def literal_argument(self, index: int, keyword: str) -> cst.BaseExpression | None:
        """The expression written for a parameter (for reading literals: a checkpoint name)."""
        return argument(self.node, index, keyword)
