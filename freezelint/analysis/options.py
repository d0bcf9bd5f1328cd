"""Settings a user can pass, as the walk meets their definitions: command-line options (argparse, click, typer),
fields of a `@dataclass` (what `HfArgumentParser` turns into options), keys of a dict literal bound to a name.

Each becomes an `OptionDefinition` event; FRZ303 asks whether a freeze setting is ever read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from freezelint import knowledge as kb
from freezelint.analysis.syntax import literal, subscript_items
from freezelint.facts import OptionDefinition

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter


def define_option(walk: Interpreter, call: cst.Call, kind: str, scope: cst.FunctionDef | None) -> None:
    """`add_argument("--freeze-encoder", ...)`, `@click.option("--freeze-encoder/--no-freeze-encoder")`: the name code
    reads it by is the `dest=`, an undashed name, or the first long (else short) option, dashes made underscores, as
    argparse and click derive it."""
    spelled = [v for v in (literal(a.value) for a in call.args if a.keyword is None) if isinstance(v, str)]
    dest = next((literal(a.value) for a in call.args if a.keyword is not None and a.keyword.value == "dest"), None)
    names = [part for text in spelled for part in text.split("/")[:1]]
    undashed = [n for n in names if not n.startswith("-")]
    long = [n for n in names if n.startswith("--")]
    short = [n for n in names if n.startswith("-") and not n.startswith("--")]
    chosen = dest if isinstance(dest, str) else next(iter(undashed or long or short), None)
    if chosen:
        name = chosen.lstrip("-").replace("-", "_")
        if name.isidentifier():
            where = walk.where(call)
            walk.emit(OptionDefinition(where, name=name, kind=kind, spelled=spelled[0] if spelled else name, scope=scope))


def function_options(walk: Interpreter, node: cst.FunctionDef) -> None:
    """A function's click options (`@click.option(...)` decorators) and typer parameters (`x: bool = typer.Option()`,
    `Annotated[bool, typer.Option()]`). Decorators are evaluated here, once."""
    for decorator in node.decorators:
        walk.eval(decorator.decorator)
        declares = walk.called_name(decorator.decorator)
        if declares in kb.CLI_OPTION_DECORATORS and isinstance(decorator.decorator, cst.Call):
            define_option(walk, decorator.decorator, declares.split(".", 1)[0], node)


def typer_parameter(walk: Interpreter, param: cst.Param, scope: cst.FunctionDef) -> None:
    annotation = param.annotation.annotation if param.annotation is not None else None
    if any(walk.called_name(part) in kb.TYPER_PARAMETERS for part in (param.default, *subscript_items(annotation))):
        name = param.name.value
        walk.emit(OptionDefinition(walk.where(param), name=name, kind="typer", spelled=name, scope=scope))


def dataclass_fields(walk: Interpreter, node: cst.ClassDef) -> None:
    """The annotated fields of a `@dataclass` class: `HfArgumentParser` makes each one a command-line option."""
    if not any(walk.called_name(d.decorator, bare=True) in kb.DATACLASS_DECORATORS for d in node.decorators):
        return
    for statement in node.body.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    name = small.target.value
                    walk.emit(OptionDefinition(walk.where(small), name=name, kind="dataclass field", spelled=name))


def config_keys(walk: Interpreter, node: cst.Assign) -> None:
    """`config = {"freeze_encoder": True, ...}`: each identifier key is a setting read by `config["..."]`."""
    if not isinstance(node.value, cst.Dict) or not all(isinstance(t.target, cst.Name) for t in node.targets):
        return
    for element in node.value.elements:
        key = literal(element.key) if isinstance(element, cst.DictElement) else None
        if isinstance(key, str) and key.isidentifier():
            walk.emit(OptionDefinition(walk.where(element), name=key, kind="config key", spelled=f'"{key}"'))
