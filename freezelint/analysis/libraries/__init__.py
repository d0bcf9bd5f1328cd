"""Library models: what calls into libraries do to models, parameters, optimizers and trainers.

The interpreter knows Python; this package knows the libraries, one module each, in the manner of mypy plugins and
CodeQL's models as data:

    torch_nn      modules, parameters, `requires_grad`, layers, tensors, gradient contexts
    torch_optim   optimizers and schedulers
    python        builtins, itertools, copy
    transformers  models loaded or built (`from_pretrained`, `from_config`), `TrainingArguments`
    training      trainers of every library (HF and TRL, Sentence-Transformers, SetFit, Lightning, Fabric)
    lightning     Lightning's hooks and `BaseFinetuning` callbacks
    peft          adapters: `get_peft_model`, `PeftModel.from_pretrained`, `add_adapter`, configs
    distributed   DDP, FSDP, `torch.compile`, accelerate, Fabric, DeepSpeed
    vision        timm and torchvision model factories

A call of an imported name is asked of `CALLS`, in order, by qualified name: the first model that returns a value
decides. Operations on library values (a module's attribute, a parameter set's elements, an optimizer's methods)
go to the model that owns the value type. Adding a library is adding a module and its entries here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import libcst as cst

from freezelint import knowledge as kb
from freezelint.analysis.libraries import (
    distributed,
    lightning,
    peft,
    python,
    torch_nn,
    torch_optim,
    training,
    transformers,
    vision,
)
from freezelint.analysis.libraries.call import CallSite
from freezelint.analysis.walk_values import LibraryObject
from freezelint.facts import (
    UNKNOWN,
    InFileClass,
    LibraryCall,
    Optimizer,
    Trainer,
    Value,
)

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter

CallModel = Callable[["Interpreter", CallSite], "Value | None"]

# What a call of an imported name does, asked in this order (the first answer wins; order matters only where two
# entries could match one name: `X.from_pretrained` is tried as a model before anything else).
CALLS: tuple[CallModel, ...] = (
    transformers.load_model,
    vision.model_factory,
    peft.wrap_model,
    peft.inject_in_place,
    peft.config,
    transformers.training_arguments,
    transformers.model_from_config,
    torch_nn.freeze_function,
    distributed.wrap_model,
    distributed.deepspeed_initialize,
    distributed.prepare,
    torch_nn.backward_function,
    distributed.unwrap_model,
    torch_nn.constructor,
    torch_nn.same_module,
    torch_nn.tensor_factory,
    torch_nn.grad_context,
    python.itertools_chain,
    python.deepcopy,
    torch_optim.build_optimizer,
    torch_optim.build_scheduler,
    training.build_trainer,
    transformers.task_model_class,
)


def call(
    walk: Interpreter, qualname: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call, receiver: Value | None = None
) -> Value:
    """A call of an imported function, class or method (`receiver`: the imported object it is called on)."""
    walk.emit(LibraryCall(walk.where(node), qualname=qualname, call=node, args=tuple(args), kwargs=kwargs))
    site = CallSite(qualname, args, kwargs, node, receiver)
    for model in CALLS:
        made = model(walk, site)
        if made is not None:
            return made
    for value in (*args, *kwargs.values()):
        walk.consume(value)
    if not kb.seen_through(site.package):
        walk.opaque(args, kwargs, node, qualname)  # a project's own helper may freeze what it is handed
    if site.last[:1].isupper() and receiver is None:
        return LibraryObject(qualname)
    return UNKNOWN


# --- operations on library values, by value type ---------------------------------------------------------------------


def call_value(walk: Interpreter, callee: Value, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value | None:
    """Calling a value that is not a function of this file: a builtin, or a module (its forward)."""
    called = python.call_builtin(walk, callee, args, kwargs, node)
    return called if called is not None else torch_nn.call_module(walk, callee, args, kwargs, node)


def call_method(walk: Interpreter, receiver: Value, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value | None:
    """A method of a library value; None when no model knows it (the interpreter then treats it as opaque)."""
    if isinstance(receiver, Optimizer):
        return torch_optim.optimizer_method(walk, receiver, method, args, kwargs, node)
    if isinstance(receiver, Trainer):
        return training.trainer_method(walk, receiver, method, args, kwargs, node)
    return torch_nn.method(walk, receiver, method, args, kwargs, node)


def attribute(walk: Interpreter, owner: Value, name: str) -> Value:
    if isinstance(owner, Trainer):
        return training.trainer_attribute(owner, name)
    return torch_nn.attribute(walk, owner, name)


def inherited_method(walk: Interpreter, cls: InFileClass, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
    """A method an in-file class does not define: one its library base class provides."""
    return lightning.finetuning_method(walk, cls, method, args, kwargs, node)


def instantiate(
    walk: Interpreter, cls: InFileClass, args: list[Value], kwargs: dict[str, Value], node: cst.Call, factory: str | None
) -> Value | None:
    """An instance of an in-file subclass of a library class: a trainer, or a model. None for any other class."""
    trainer = training.subclass_instance(walk, cls, args, kwargs, node)
    return trainer if trainer is not None else torch_nn.subclass_instance(walk, cls, args, kwargs, node, factory)


named_result = torch_nn.named_result
inherited_attribute = torch_nn.inherited_attribute
abstract_argument = torch_nn.abstract_argument
narrowed_by_isinstance = torch_nn.narrowed_by_isinstance
subscript = torch_nn.subscript
element = torch_nn.element
collected = torch_nn.collected
draws = torch_nn.draws
attempted_freeze = torch_nn.attempted_freeze
stored_flag = torch_nn.stored_flag
is_module_class = torch_nn.is_module_class
decorated_no_grad = torch_nn.decorated_no_grad
