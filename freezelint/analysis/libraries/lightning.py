"""PyTorch Lightning: the order its hooks run in around `configure_optimizers`, its `BaseFinetuning` callbacks'
freeze and unfreeze methods, and what `configure_optimizers` returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from freezelint import knowledge as kb
from freezelint.analysis.walk_values import ListValue, flatten
from freezelint.facts import (
    UNKNOWN,
    DictValue,
    FreezeForm,
    InFileClass,
    Optimizer,
    OptimizerCall,
    TupleValue,
    Value,
    one_of,
)

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter


def is_callback(cls: InFileClass) -> bool:
    """A subclass of Lightning's `Callback` or `BaseFinetuning`."""
    return bool(set(cls.library_bases()) & set(kb.LIGHTNING_CALLBACK_BASES))


def is_setup_hook(name: str, finetuning: bool) -> bool:
    """A callback hook that runs before `configure_optimizers` (`BaseFinetuning.setup` calls `freeze_before_training`)."""
    return name in kb.LIGHTNING_SETUP_HOOKS or (name == "freeze_before_training" and finetuning)


def module_hook_phase(name: str) -> str | None:
    """When a LightningModule's own hook runs: "setup", "configure" (`configure_optimizers`), "epoch", or None."""
    if name in kb.LIGHTNING_SETUP_HOOKS:
        return "setup"
    if name == "configure_optimizers":
        return "configure"
    return "epoch" if name in kb.LIGHTNING_MODULE_HOOKS else None


def optimizers_in(value: Value) -> Value:
    """The optimizers in what a Lightning `configure_optimizers` returns: one, a list, `([opts], [scheds])`, or a
    dict with an "optimizer" key."""
    found: list[Value] = []
    for option in value.candidates():
        if isinstance(option, Optimizer):
            found.append(option)
        elif isinstance(option, (TupleValue, ListValue)):
            found.extend(o for item in option.items for o in optimizers_in(item).candidates() if isinstance(o, Optimizer))
        elif isinstance(option, DictValue):
            found.extend(o for o in optimizers_in(option.entries.get("optimizer", UNKNOWN)).candidates() if isinstance(o, Optimizer))
    return one_of(found)


def finetuning_method(walk: Interpreter, cls: InFileClass, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
    """`self.freeze(modules)`, `self.make_trainable(modules)`, `self.unfreeze_and_add_param_group(modules, optimizer)`
    inherited from `BaseFinetuning`."""
    if method not in kb.LIGHTNING_FINETUNING_METHODS or not is_callback(cls):
        return UNKNOWN
    modules = args[0] if args else kwargs.get("modules", kwargs.get("module", UNKNOWN))
    for target in flatten([modules]):
        for option in target.candidates():
            walk.freeze(node, option, kb.LIGHTNING_FINETUNING_METHODS[method], FreezeForm.HELPER, method)
    if method == "unfreeze_and_add_param_group":
        # Lightning adds the unfrozen parameters to the optimizer it is given.
        optimizer = args[1] if len(args) > 1 else kwargs.get("optimizer", UNKNOWN)
        for option in optimizer.candidates():
            if isinstance(option, Optimizer):
                walk.emit(OptimizerCall(walk.where(node), optimizer=option, method="add_param_group", call=node))
    return UNKNOWN
