"""PEFT and adapter methods: `get_peft_model`, `PeftModel.from_pretrained`, `inject_adapter_in_model`,
`model.add_adapter(...)`, their configurations, and what a PeftModel's own methods return."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from freezelint import knowledge as kb
from freezelint.analysis.libraries.call import CallSite
from freezelint.facts import (
    UNKNOWN,
    Config,
    Model,
    ModelSource,
    ModuleRef,
    PeftApply,
    Value,
)

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter


def wrap(walk: Interpreter, base: Value, config: Value, node: cst.Call, how: str) -> Value:
    """A PeftModel wrapping `base` (which PEFT freezes, but for its adapters)."""
    inner = next((o.model if isinstance(o, ModuleRef) else o for o in base.candidates() if isinstance(o, (Model, ModuleRef))), None)
    wrapper = walk.new_model(
        ModelSource.PEFT, how, node, class_name="PeftModel", library="peft", inner=inner if isinstance(inner, Model) else None,
    )
    walk.emit(PeftApply(walk.where(node), model=base, result=wrapper, how=how, config=config, call=node))
    return wrapper


def wrap_model(walk: Interpreter, site: CallSite) -> Value | None:
    """`get_peft_model(model, config)` (and unsloth's)."""
    how = kb.PEFT_WRAPPERS.get(site.qualname)
    if how is None:
        return None
    config = site.kwargs.get("peft_config", site.args[1] if len(site.args) > 1 else UNKNOWN)
    return wrap(walk, site.first, config, site.node, how)


def inject_in_place(walk: Interpreter, site: CallSite) -> Value | None:
    """`inject_adapter_in_model(config, model)`: adapters added to the model itself."""
    index = kb.PEFT_IN_PLACE.get(site.qualname)
    if index is None:
        return None
    model = site.args[index] if len(site.args) > index else site.kwargs.get("model", UNKNOWN)
    walk.emit(PeftApply(walk.where(site.node), model=model, result=model, how=site.last, config=site.first, call=site.node))
    return model


def config(walk: Interpreter, site: CallSite) -> Value | None:
    """`LoraConfig(...)` and the other PEFT configurations, with their keywords (`task_type`, `modules_to_save`)."""
    if kb.PEFT_CONFIGS.match(site.qualname):
        return Config(site.qualname, site.node, dict(site.kwargs))
    return None


def module_method(walk: Interpreter, ref: ModuleRef, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value | None:
    """Adapter methods of a model (`add_adapter`, `load_adapter`, `set_adapter`...) and what a PeftModel hands back
    (`get_base_model()`, `merge_and_unload()`: the model it wraps). None for any other method."""
    model = ref.model
    if method in kb.PEFT_METHODS:
        adapter_config = args[0] if args else kwargs.get("adapter_config", kwargs.get("peft_config", UNKNOWN))
        if method in ("add_adapter", "load_adapter"):
            walk.emit(PeftApply(walk.where(node), model=ref, result=ref, how=method, config=adapter_config, call=node))
        return UNKNOWN
    if method in ("get_base_model", "get_model", "merge_and_unload", "unload") and model.inner is not None:
        return ModuleRef(model.inner)
    return None
