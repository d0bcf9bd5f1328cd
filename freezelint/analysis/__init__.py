"""The one walk over a file's syntax tree that fills its `Facts`.

    interpreter.py   the generic interpreter: Python's statements and expressions, the file's own functions and
                     classes, frames, branches and loops; it knows no library
    libraries/       one model per library (torch.nn, torch.optim, transformers, PEFT, Lightning, distributed...),
                     asked by qualified name or by value type
    options.py       settings a user can pass (command-line options, dataclass fields, config keys)
    syntax.py        reading literals, names and arguments without evaluating them
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from freezelint.analysis.interpreter import Interpreter

if TYPE_CHECKING:
    import libcst as cst

    from freezelint.facts import Facts, Options
    from freezelint.source import Source


def collect(source: Source, module: cst.Module, options: Options | None = None) -> Facts:
    """Walk `module` (parsed from `source`) once and return what it does to its models."""
    return Interpreter(source, module, options).run()
