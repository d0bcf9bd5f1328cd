"""torch.optim and its peers: optimizers built from parameters (or from a model, timm's factories), their methods,
and learning-rate schedulers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from freezelint import knowledge as kb
from freezelint.analysis.libraries.call import CallSite
from freezelint.analysis.walk_values import ListValue
from freezelint.facts import (
    UNKNOWN,
    DictValue,
    Model,
    ModuleRef,
    Optimizer,
    OptimizerBuild,
    OptimizerCall,
    ParamGroups,
    ParamSet,
    Scheduler,
    TupleValue,
    Value,
    one_of,
)

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter


def is_optimizer(qualname: str) -> bool:
    last = qualname.rsplit(".", 1)[-1]
    if qualname in kb.OPTIMIZER_FROM_MODEL:
        return True
    if qualname.startswith("torch.optim.lr_scheduler"):
        return False
    return qualname.startswith(kb.OPTIMIZER_MODULES) and bool(kb.OPTIMIZER_NAME.match(last))


def build_optimizer(walk: Interpreter, site: CallSite) -> Value | None:
    """`torch.optim.AdamW(params, ...)`, `bnb.optim.AdamW8bit(...)`, `timm.optim.create_optimizer_v2(model, ...)`."""
    qualname = site.qualname
    if not is_optimizer(qualname):
        return None
    params = site.kwargs.get("params", site.first)
    if qualname in kb.OPTIMIZER_FROM_MODEL:
        models = [o for o in site.first.candidates() if isinstance(o, (Model, ModuleRef))]
        params = one_of([
            ParamSet(module=o if isinstance(o, ModuleRef) else ModuleRef(o), node=site.node, one_shot=False) for o in models
        ]) if models else UNKNOWN
    return optimizer(walk, qualname, params, site.node)


def optimizer(walk: Interpreter, qualname: str, params: Value, node: cst.Call) -> Optimizer:
    """An optimizer built at `node` over `params` (also by DeepSpeed, from `model_parameters=`)."""
    walk.consume(params)
    params = _as_groups(params, node)
    build = OptimizerBuild(walk.where(node), qualname=qualname, params=params)
    walk.emit(build)
    return Optimizer(build)


def build_scheduler(walk: Interpreter, site: CallSite) -> Value | None:
    if site.qualname.startswith(kb.SCHEDULER_MODULES) or kb.SCHEDULER_FUNCTIONS.match(site.qualname):
        return Scheduler(site.kwargs.get("optimizer", site.first), site.node, site.qualname)
    return None


def optimizer_method(walk: Interpreter, receiver: Optimizer, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
    """`optimizer.step()`, `zero_grad(set_to_none=False)`, `add_param_group({...})`, `load_state_dict(...)`."""
    walk.emit(OptimizerCall(walk.where(node), optimizer=receiver, method=method, call=node, args=tuple(args), kwargs=kwargs))
    if method == "add_param_group":
        walk.consume(args[0] if args else UNKNOWN)
    return UNKNOWN


def _as_groups(params: Value, node: cst.CSTNode, seen: frozenset[int] = frozenset()) -> Value:
    """Normalise what an optimizer receives: lists of param-group dicts become `ParamGroups` of their "params"."""
    results: list[Value] = []
    for option in params.candidates():
        if id(option) in seen:
            continue
        inner_seen = seen | {id(option)}
        if isinstance(option, (ListValue, TupleValue)):
            parts = [_as_groups(item, node, inner_seen) for item in option.items]
            results.append(ParamGroups(tuple(parts), node))
        elif isinstance(option, DictValue):
            results.append(_as_groups(option.entries.get("params", UNKNOWN), node, inner_seen))
        else:
            results.append(option)
    return one_of(results)
