"""Code nothing in the file calls, walked all the same after the module's statements: entry points a console script
or a launcher runs (walked as called), then every other function and method on its own, with abstract arguments
(a parameter named or annotated like a model is one), so a helper's freezing is checked whatever the caller passes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from freezelint import knowledge as kb
from freezelint.analysis import libraries
from freezelint.analysis.syntax import is_static
from freezelint.facts import (
    InFileClass,
    Instance,
    LibraryCall,
    Model,
    ModelSource,
    Value,
)

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter


def walk_entry_points(interpreter: Interpreter) -> None:
    """Top-level functions nothing in the file calls that are its program all the same: `main(args)` run by a
    console script, `fire.Fire(main)`, `torch.multiprocessing.spawn(main_worker, ...)`, a `@hydra.main` or
    click command. They are walked as called, after the module's statements, with unknown arguments."""
    launched = {id(option) for call in interpreter.facts.of(LibraryCall) if call.qualname in kb.LAUNCHERS
                for value in (*call.args, *call.kwargs.values()) for option in value.candidates()}
    for function in list(interpreter.functions):
        node = function.node
        if id(node) in interpreter.walked or not isinstance(node, cst.FunctionDef) or "." in function.qualname:
            continue
        decorators = [interpreter.called_name(d.decorator, bare=True) or "" for d in node.decorators]
        named = function.name in kb.ENTRY_POINT_NAMES
        if named or id(function) in launched or any(d.startswith(kb.CLI_PACKAGES) for d in decorators):
            with interpreter.within(calls=(), loops=(), branches=(), callback_of=None, lazy=None):
                interpreter.call_function(function, [], {}, None, force=True)

def walk_uncalled(interpreter: Interpreter) -> None:
    index = 0
    while index < len(interpreter.functions):
        function = interpreter.functions[index]
        index += 1
        if id(function.node) in interpreter.walked or isinstance(function.node, cst.Lambda):
            continue
        self_value: Value | None = None
        if function.owner is not None and not is_static(function.node):
            self_value = abstract_self(interpreter, function.owner)
            if id(function.node) in interpreter.walked:
                continue  # the class's `__init__`, walked as its `interpreter` was made
        with interpreter.within(standalone=True, calls=(), loops=(), branches=(), callback_of=None, lazy=None):
            interpreter.call_function(function, [], {}, None, self_value=self_value, force=True)

def abstract_self(interpreter: Interpreter, cls: InFileClass) -> Value:
    """The `interpreter` of a class's methods walked without an instance."""
    key = id(cls)
    if key not in interpreter.abstract_selves:
        if libraries.is_module_class(cls):
            model = Model(
                source=ModelSource.CUSTOM,
                factory=cls.name,
                qualname=cls.qualname,
                node=cls.node,
                where=interpreter.where(cls.node),
                class_name=cls.name,
                cls=cls,
                abstract=True,
            )
            interpreter.facts.models.append(model)  # its sub-modules are parts of it (a backbone is not a whole model)
            made: Value = model
        else:
            made = Instance(cls)  # a trainer or distiller class: its `__init__` says what its attributes hold
        interpreter.abstract_selves[key] = made
        init = cls.find_method("__init__")
        if init is not None and id(init.node) not in interpreter.walked:
            with interpreter.within(standalone=True):
                interpreter.call_function(init, [], {}, None, self_value=made, force=True)
    return interpreter.abstract_selves[key]
