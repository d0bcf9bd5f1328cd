"""Wrappers for distribution and compilation: DistributedDataParallel, DataParallel, FSDP, `torch.compile`,
accelerate's and Fabric's `prepare`/`setup`, and `deepspeed.initialize`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import libcst as cst

from freezelint import knowledge as kb
from freezelint.analysis.libraries import torch_optim
from freezelint.analysis.libraries.call import CallSite
from freezelint.facts import (
    UNKNOWN,
    Model,
    ModuleRef,
    TupleValue,
    Value,
    Wrap,
    holds_model,
    one_of,
)

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter


def wrap(walk: Interpreter, value: Value, kind: str, node: cst.Call) -> Value:
    """The models in `value`, wrapped (`kind`: "ddp", "fsdp", "compile", "accelerate"...): the same parameters,
    reached through the wrapper."""
    results: list[Value] = []
    for option in value.candidates():
        if isinstance(option, Model):
            option = ModuleRef(option)
        if isinstance(option, ModuleRef):
            walk.emit(Wrap(walk.where(node), module=option, kind=kind, call=node))
            results.append(replace(option, wrapper=kind))
        else:
            results.append(option)
    return one_of(results)


def wrap_model(walk: Interpreter, site: CallSite) -> Value | None:
    """`DistributedDataParallel(model, ...)`, `FullyShardedDataParallel(model)`, `torch.compile(model)`."""
    kind = kb.WRAPPERS.get(site.qualname)
    return wrap(walk, site.first, kind, site.node) if kind is not None else None


def deepspeed_initialize(walk: Interpreter, site: CallSite) -> Value | None:
    """`engine, optimizer, _, _ = deepspeed.initialize(model=..., model_parameters=...)`: the engine wraps the model,
    and builds an optimizer from `model_parameters` unless one is given."""
    if site.qualname != kb.DEEPSPEED_INITIALIZE:
        return None
    model = site.kwargs.get("model", site.first)
    wrapped = wrap(walk, model, "deepspeed", site.node)
    optimizer: Value = site.kwargs.get("optimizer", UNKNOWN)
    if "model_parameters" in site.kwargs and optimizer is UNKNOWN:
        optimizer = torch_optim.optimizer(walk, site.qualname, site.kwargs["model_parameters"], site.node)
    return TupleValue((wrapped, optimizer, UNKNOWN, UNKNOWN))


def prepare(walk: Interpreter, site: CallSite) -> Value | None:
    """`accelerator.prepare(model, optimizer, ...)`, `fabric.setup(model, optimizer)`: each model handed back wrapped,
    in its position."""
    kind = kb.PREPARE_METHODS.get(site.last)
    if kind is None or site.receiver is None or site.head.split(".", 1)[0] not in ("accelerate", "lightning", "pytorch_lightning"):
        return None
    wrapped = [wrap(walk, a, kind, site.node) if holds_model(a) else a for a in site.args]
    return wrapped[0] if len(wrapped) == 1 else TupleValue(tuple(wrapped))


def unwrap_model(walk: Interpreter, site: CallSite) -> Value | None:
    """`accelerator.unwrap_model(model)`: the model itself."""
    if site.last == "unwrap_model" and site.receiver is not None:
        return site.first
    return None
