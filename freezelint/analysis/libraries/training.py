"""Trainers of every library (`transformers.Trainer` and TRL's, Sentence-Transformers, SetFit, Lightning, Fabric):
what building one takes, what `train()`/`fit()` runs (the model's forward or training step on every batch, the
callbacks' hooks), and what a trainer's attributes hold."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge as kb
from freezelint.analysis.libraries import lightning, torch_nn
from freezelint.analysis.libraries.call import CallSite
from freezelint.analysis.walk_values import ListValue
from freezelint.facts import (
    UNKNOWN,
    InFileClass,
    InFileFunction,
    Instance,
    Literal,
    Loop,
    Model,
    ModuleCall,
    ModuleRef,
    PeftApply,
    TrainCall,
    Trainer,
    TrainerBuild,
    TupleValue,
    Value,
    as_ref,
    one_of,
)

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter


def trainer_library(qualname: str) -> str | None:
    """The library a trainer class belongs to ("transformers", "trl", "lightning"...), None for any other class."""
    if qualname in kb.TRAINERS:
        return kb.TRAINERS[qualname]
    return "trl" if kb.TRL_TRAINER.match(qualname) else None


def build_trainer(walk: Interpreter, site: CallSite) -> Value | None:
    library = trainer_library(site.qualname)
    if library is None:
        return None
    return build(walk, site.qualname, library, site.args, site.kwargs, site.node, None)


def subclass_instance(walk: Interpreter, cls: InFileClass, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Trainer | None:
    """An instance of an in-file subclass of a trainer (`class MyTrainer(Trainer)`)."""
    for base in cls.library_bases():
        library = trainer_library(base)
        if library is not None:
            return build(walk, base, library, args, kwargs, node, cls)
    return None


def build(
    walk: Interpreter, qualname: str, library: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call, cls: InFileClass | None
) -> Trainer:
    named = dict(kwargs)
    for name, value in zip(kb.TRAINER_POSITIONAL, args):
        named.setdefault(name, value)
    model_init = named.get("model_init")
    model = named.get("model", UNKNOWN)
    if isinstance(model_init, InFileFunction) and model is UNKNOWN:
        model = walk.call_function(model_init, [], {}, node)
    optimizer: Value = UNKNOWN
    optimizers = named.get("optimizers")
    if isinstance(optimizers, TupleValue) and optimizers.items:
        optimizer = optimizers.items[0]
    callbacks_value = named.get("callbacks")
    callbacks: tuple[Value, ...] = ()
    if isinstance(callbacks_value, (TupleValue, ListValue)):
        callbacks = tuple(callbacks_value.items)
    elif callbacks_value is not None:
        callbacks = (callbacks_value,)
    peft_config = named.get("peft_config")
    trainer_build = TrainerBuild(
        walk.where(node), qualname=qualname, library=library, model=model, args=named.get("args", UNKNOWN),
        optimizer=optimizer, callbacks=callbacks, model_init=model_init, peft_config=peft_config, call=node, cls=cls,
        given=frozenset(named),
    )
    walk.emit(trainer_build)
    trainer = Trainer(trainer_build, callbacks=list(callbacks), current_model=model)
    if peft_config is not None and not (isinstance(peft_config, Literal) and peft_config.value is None):
        walk.emit(PeftApply(walk.where(node), model=model, result=model, how="peft_config", config=peft_config, call=node))
    return trainer


def trainer_attribute(trainer: Trainer, name: str) -> Value:
    """`trainer.model` (what trains now), `trainer.optimizer`, `trainer.args`."""
    if name in ("model", "model_wrapped"):
        return trainer.current_model
    if name == "optimizer":
        return trainer.build.optimizer
    if name == "args":
        return trainer.build.args
    return UNKNOWN


def trainer_method(walk: Interpreter, trainer: Trainer, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
    build = trainer.build
    walk.emit(ModuleCall(walk.where(node), receiver=trainer, method=method, call=node, args=tuple(args), kwargs=kwargs))
    if method == "add_callback" and args:
        trainer.callbacks.append(args[0])
        return UNKNOWN
    if method in kb.TRAIN_METHODS:
        model = args[0] if (args and build.library == "lightning") else kwargs.get("model", UNKNOWN)
        if build.library != "lightning":
            if isinstance(build.model_init, InFileFunction):
                # HF Trainer calls model_init again at train(): a fresh model replaces whatever was frozen.
                trainer.current_model = walk.call_function(build.model_init, [], {}, node)
            model = trainer.current_model
        walk.emit(TrainCall(walk.where(node), trainer=trainer, model=model))
        run_callbacks(walk, trainer, model, node)
        run_training_steps(walk, build.library, model, node)
    return UNKNOWN


def run_training_steps(walk: Interpreter, library: str, model: Value, node: cst.Call) -> None:
    """A trainer runs the model's own code on every batch: `forward` (HF and other trainers), `training_step`
    (Lightning). Walk it once, inside a loop, so what it does (a backbone under `no_grad`) is on record."""
    step = "training_step" if library == "lightning" else "forward"
    loop = Loop(node, UNKNOWN)
    for option in model.candidates():
        ref = as_ref(option)
        if ref is None or ref.path or ref.model.cls is None:
            continue
        method = ref.model.cls.find_method(step)
        if method is None:
            continue
        with walk.within(loops=(*walk.context.loops, loop)):
            if step == "forward":
                torch_nn.forward(walk, ref, [UNKNOWN], {}, node)
            else:
                walk.call_function(method, [UNKNOWN, UNKNOWN], {}, node, self_value=ref)


Hook = tuple[InFileFunction, Value]


def run_callbacks(walk: Interpreter, trainer: Trainer, model: Value, node: cst.Call) -> None:
    """Walk the hooks of the trainer's callbacks (and a Lightning module's own hooks) as training runs them.

    Lightning runs set-up hooks (a `BaseFinetuning`'s `freeze_before_training`), then the module's
    `configure_optimizers`, then the per-epoch hooks (`finetune_function` gets that optimizer). The HF Trainer
    builds its optimizer before any hook. Per-epoch hooks are walked inside a loop: they run again and again.
    """
    is_lightning = trainer.build.library == "lightning"
    setup: list[Hook] = []
    configure: list[Hook] = []
    epoch: list[Hook] = []
    for callback in trainer.callbacks:
        for option in callback.candidates():
            instance = walk.instantiate(option, [], {}, node) if isinstance(option, InFileClass) else option
            if not isinstance(instance, Instance):
                continue
            finetuning = lightning.is_callback(instance.cls)
            for name, method in methods_of(instance.cls):
                if is_lightning and lightning.is_setup_hook(name, finetuning):
                    setup.append((method, instance))
                elif name.startswith("on_") or name == "finetune_function":
                    epoch.append((method, instance))
    if is_lightning:
        for option in model.candidates():
            target = option.model if isinstance(option, ModuleRef) else option
            if isinstance(target, Model) and target.cls is not None:
                for name, method in methods_of(target.cls):
                    phase = lightning.module_hook_phase(name)
                    hooks = {"setup": setup, "configure": configure, "epoch": epoch}.get(phase or "")
                    if hooks is not None:
                        hooks.append((method, ModuleRef(target)))
    if not (setup or configure or epoch):
        return
    bindings: dict[str, Value] = {"model": model, "pl_module": model, "optimizer": trainer.build.optimizer, "trainer": trainer}
    with walk.within(callback_of=trainer):
        walk.call_hooks(setup, bindings, node)
        optimizers = [lightning.optimizers_in(walk.call_hooks([hook], bindings, node)) for hook in configure]
        if optimizers:
            bindings["optimizer"] = one_of(optimizers)
        with walk.within(loops=(*walk.context.loops, Loop(node, UNKNOWN))):
            walk.call_hooks(epoch, bindings, node)


def methods_of(cls: InFileClass) -> Iterator[tuple[str, InFileFunction]]:
    """The methods of an in-file class and its in-file bases, by name, the most derived definition first."""
    seen: set[str] = set()
    for klass in cls.mro():
        for name, method in klass.methods.items():
            if name not in seen:
                seen.add(name)
                yield name, method

