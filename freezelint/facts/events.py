"""Events: what a statement does (`FreezeOp`, `OptimizerBuild`, `TrainCall`, `PeftApply`...), each with a `Where`
telling when (`order`, the execution order the walk followed, call sites inlined), where (`node`), and in which
context (enclosing loops, branches, function, trainer callback, `torch.no_grad()`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TypeVar

import libcst as cst
import libcst.matchers as m

from freezelint.facts.values import (
    InFileClass,
    Kind,
    LazyMap,
    Literal,
    Model,
    ModelSource,
    ModuleRef,
    Optimizer,
    ParamGroups,
    ParamRef,
    ParamSet,
    Trainer,
    Value,
    as_ref,
    next_id,
)


@dataclass(frozen=True, eq=False)
class Loop:
    """A `for`/`while` loop (or comprehension) the walk went through."""

    node: cst.CSTNode
    iterates: Value  # the iterated value for `for` loops, UNKNOWN for `while`
    id: int = field(default_factory=lambda: next(next_id))

    def changing_names(self) -> set[str]:
        """Names the loop changes from pass to pass: its targets, and names it increments (`global_step += 1`)."""
        names: set[str] = set()
        node = self.node
        if isinstance(node, (cst.For, cst.CompFor)):
            names.update(n.value for n in m.findall(node.target, m.Name()) if isinstance(n, cst.Name))
        for aug in m.findall(node, m.AugAssign(target=m.Name())):
            if isinstance(aug, cst.AugAssign) and isinstance(aug.target, cst.Name):
                names.add(aug.target.value)
        return names


@dataclass(frozen=True, eq=False)
class Branch:
    """One arm of an `if` (or a `match` case, a `try` handler) the walk went through."""

    node: cst.CSTNode
    test: cst.BaseExpression | None
    arm: bool  # True in the body, False in the `else`
    depth: int  # how many loops were open when the `if` was entered

    @property
    def flag(self) -> tuple[str, bool] | None:
        """The setting this arm depends on and the truth it needs, when the test reads one: `if not args.use_lora:`
        in its body is ("args.use_lora", False). Only attributes and keys of an object count (`args.x`, `cfg["x"]`,
        `self.config.x`): a bare name may be a different variable in another function."""
        test, truth = self.test, self.arm
        while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test, truth = test.expression, not truth
        if not isinstance(test, (cst.Attribute, cst.Subscript)) or not _settings_path(test):
            return None
        return _code(test), truth


def branches_conflict(first: tuple[Branch, ...], second: tuple[Branch, ...]) -> bool:
    """True when no single pass runs both sets of branches: they take different arms of one `if` (in one loop pass:
    `if "lora" in name: params.append(p)` / `else: p.requires_grad = False`), or need one setting both ways."""
    if any(mine.node is theirs.node and mine.arm != theirs.arm for mine in first for theirs in second):
        return True
    return flags_conflict(first, second)


def flags_conflict(first: tuple[Branch, ...], second: tuple[Branch, ...]) -> bool:
    """True when the two sets of branches need one setting both true and false (`if args.x:` and `if not args.x:`):
    what they guard never runs in the same run."""
    needs: dict[str, bool] = {}
    for branch in first:
        flag = branch.flag
        if flag is not None:
            needs[flag[0]] = flag[1]
    for branch in second:
        flag = branch.flag
        if flag is not None and needs.get(flag[0], flag[1]) != flag[1]:
            return True
    return False


def _settings_path(node: cst.BaseExpression) -> bool:
    """`args.x`, `cfg["x"]`, `self.config.x`: names, attributes and constant keys, nothing called or computed."""
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        if isinstance(node, cst.Subscript):
            element = node.slice[0].slice if len(node.slice) == 1 else None
            if not (isinstance(element, cst.Index) and isinstance(element.value, (cst.SimpleString, cst.Integer))):
                return False
        node = node.value
    return isinstance(node, cst.Name)


_EMPTY_MODULE = cst.Module(body=[])


def _code(node: cst.CSTNode) -> str:
    return _EMPTY_MODULE.code_for_node(node)


@dataclass(frozen=True, eq=False)
class Where:
    """When and in which context an event happened.

    `order` is the position in the walk, which follows execution order: a call to a function of this file is walked
    at the call site, so events inside a helper get the order of the call. `calls` are the call sites that led here.
    """

    order: int
    node: cst.CSTNode
    statement: cst.CSTNode | None
    function: str  # qualified name of the function the node is in ("" at module level)
    loops: tuple[Loop, ...] = ()
    branches: tuple[Branch, ...] = ()
    calls: tuple[cst.Call, ...] = ()
    callback_of: Trainer | None = None  # inside a TrainerCallback method run by this trainer
    no_grad: bool = False  # inside `with torch.no_grad()` / `torch.inference_mode()`
    standalone: bool = False  # in a function walked without a call site (its arguments unknown)
    lazy: LazyMap | None = None  # inside a map/generator whose consumption decides whether this runs

    @property
    def conditional(self) -> bool:
        return bool(self.branches)

    def in_loop(self) -> bool:
        return bool(self.loops)

    def inside(self, loop: Loop) -> bool:
        return any(entry is loop for entry in self.loops)

    def shared_loop(self, other: Where) -> Loop | None:
        """The innermost loop both run in (each iteration runs the later one before the next earlier one)."""
        for loop in reversed(self.loops):
            if other.inside(loop):
                return loop
        return None

    def exclusive(self, other: Where) -> bool:
        """True when the two never run in the same pass: they sit in different arms of one `if`, or need one setting
        both true and false (`if args.train_text_encoder:` here, `if not args.train_text_encoder:` there)."""
        if flags_conflict(self.branches, other.branches):
            return True
        if len(self.calls) != len(other.calls) or any(a is not b for a, b in zip(self.calls, other.calls)):
            return False
        return any(
            mine.node is theirs.node and mine.arm != theirs.arm for mine in self.branches for theirs in other.branches
        )

    def runs_after(self, other: Where) -> bool:
        """True when this may run after `other` in some pass: later in the walk, or in a loop both run in (its next
        iteration), and not in the other arm of an `if`."""
        return (self.order > other.order or self.shared_loop(other) is not None) and not self.exclusive(other)


@dataclass(frozen=True, eq=False)
class Event:
    where: Where

    @property
    def order(self) -> int:
        return self.where.order

    @property
    def node(self) -> cst.CSTNode:
        return self.where.node


class FreezeForm(enum.Enum):
    """The syntax a freeze or unfreeze was written in."""

    STORE = "store"  # `x.requires_grad = v`
    CALL = "call"  # `x.requires_grad_(v)`
    MISSPELLED_STORE = "misspelled-store"  # `x.require_grad = v`, `x.trainable = v`
    METHOD_OVERWRITE = "method-overwrite"  # `x.requires_grad_ = v`
    COMPARISON = "comparison"  # `x.requires_grad == v` as a statement: meant as a store, compares and discards
    UNCALLED = "uncalled"  # `x.requires_grad_` as a statement: the method named, never called
    READ = "read"  # `x.requires_grad` as a statement: `= False` forgotten, the flag read and thrown away
    HELPER = "helper"  # a known freeze helper: `model.freeze_feature_encoder()`, `timm.utils.freeze(m)`
    KBIT_PREPARE = "kbit-prepare"  # `prepare_model_for_kbit_training(model)`: freezes every parameter


# Forms that never change `requires_grad`, whatever they are applied to.
NO_EFFECT_FORMS = frozenset(
    {FreezeForm.MISSPELLED_STORE, FreezeForm.METHOD_OVERWRITE, FreezeForm.COMPARISON, FreezeForm.UNCALLED, FreezeForm.READ}
)


@dataclass(frozen=True, eq=False)
class FreezeOp(Event):
    """An attempt to freeze (value False) or unfreeze (value True) parameters.

    `target` is what it was applied to: a `ModuleRef` (all its parameters), a `ParamRef` (one parameter, or every one of
    its source set the enclosing loop visits), or UNKNOWN. `value` is None when not a literal (`p.requires_grad = cond`).
    `filters` are the `if` tests between the loop over the parameters and the operation (`if "classifier" not in n`).
    """

    target: Value
    value: bool | None
    form: FreezeForm
    attribute: str = "requires_grad"
    value_node: cst.BaseExpression | None = None
    filters: tuple[Branch, ...] = ()
    loop: Loop | None = None  # the loop over the parameter set, for loop freezes
    partial: bool = False  # a model's own helper (`freeze_feature_encoder()`): some part of `target`, which one unknown

    @property
    def effective(self) -> bool:
        """True when this operation really changes `requires_grad` of some parameter (as far as the facts show)."""
        if self.where.lazy is not None and not self.where.lazy.consumed:
            return False
        if self.form in NO_EFFECT_FORMS:
            return False
        target = self.target
        if isinstance(target, ParamRef):
            return not target.copy
        if isinstance(target, ModuleRef):
            return self.form is not FreezeForm.STORE or target.kind is Kind.PARAMETER
        return self.form in (FreezeForm.HELPER, FreezeForm.KBIT_PREPARE)

    @property
    def module(self) -> ModuleRef | None:
        """The module whose parameters it is about, if known."""
        target = self.target
        if isinstance(target, ModuleRef):
            return target
        if isinstance(target, ParamRef):
            return target.module
        return None

    def name_filter(self) -> tuple[str, bool] | None:
        """For an operation in a loop over `named_parameters()` guarded by one test of the name against a literal
        (`if "classifier" not in name:`, or the `else:` of `if name.startswith("classifier"):`): the literal, and True
        when the operation applies to the names containing it (False: to the names that do not)."""
        source = self.target.source if isinstance(self.target, ParamRef) else None
        if source is None or not source.named or source.only_trainable or source.name_filtered or self.loop is None:
            return None
        if len(self.filters) != 1:
            return None
        parsed = name_test(self.filters[0].test)
        if parsed is None or parsed[1] not in _target_names(self.loop.node):
            return None
        return parsed[0], parsed[2] == self.filters[0].arm

    def name_value(self) -> tuple[str, bool] | None:
        """For `p.requires_grad = "classifier" in name` in a loop over `named_parameters()`: the literal, and True when
        the names containing it become trainable (False: the names that do not)."""
        source = self.target.source if isinstance(self.target, ParamRef) else None
        if source is None or not source.named or self.filters or self.loop is None or self.value is not None:
            return None
        parsed = name_test(self.value_node)
        if parsed is None or parsed[1] not in _target_names(self.loop.node):
            return None
        return parsed[0], parsed[2]

    @property
    def whole(self) -> bool:
        """True when it applies to every parameter of `module` (no filter, not a single named parameter, not a helper
        that freezes some part of it)."""
        if self.filters or self.partial:
            return False
        target = self.target
        if isinstance(target, ModuleRef):
            return target.kind is Kind.MODULE
        if isinstance(target, ParamRef):
            # One parameter of a set is all of them only inside the loop that visits the whole set.
            source = target.source
            return self.loop is not None and source is not None and not source.name_filtered and not source.only_trainable
        return False


@dataclass(frozen=True, eq=False)
class OptimizerBuild(Event):
    """An optimizer constructed from `params` (a `ParamSet`, `ParamGroups`, or UNKNOWN)."""

    qualname: str
    params: Value
    names: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.names[0] if self.names else self.qualname.rsplit(".", 1)[-1]

    def param_sets(self) -> list[ParamSet]:
        sets: list[ParamSet] = []
        for option in self.params.candidates():
            if isinstance(option, ParamSet):
                sets.append(option)
            elif isinstance(option, ParamGroups):
                sets.extend(option.sets())
        return sets

    def param_parts(self) -> list[Value]:
        """Everything the optimizer was handed, flattened: `ParamSet`s, single `ParamRef`s, and UNKNOWN parts."""
        parts: list[Value] = []
        stack = list(self.params.candidates())
        while stack:
            option = stack.pop(0)
            if isinstance(option, ParamGroups):
                stack[:0] = [o for part in option.parts for o in part.candidates()]
            else:
                parts.append(option)
        return parts

    def holds(self, ref: ModuleRef, frozen_then: bool) -> bool | None:
        """Whether the optimizer holds the parameters at `ref`; None when the analysis cannot tell.

        `frozen_then` says they were frozen when it was built: a `requires_grad`-filtered set left them out.
        """
        held = False
        for part in self.param_parts():
            if isinstance(part, ParamRef):
                if part.module is None:
                    return None
                if part.module.overlaps(ref):
                    return None  # one parameter of that module: which one, the facts cannot tell
                continue
            if not isinstance(part, ParamSet) or part.copies:
                return None
            if not part.module.overlaps(ref):
                continue
            if part.only_trainable and frozen_then:
                continue
            if part.name_filtered or not part.module.contains(ref):
                return None
            held = True
        return held


@dataclass(frozen=True, eq=False)
class OptimizerCall(Event):
    """A method call on an optimizer: `step`, `zero_grad`, `add_param_group`, `load_state_dict`..."""

    optimizer: Optimizer
    method: str
    call: cst.Call
    args: tuple[Value, ...] = ()
    kwargs: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class TrainerBuild(Event):
    """A trainer constructed with its model, `optimizers=`, `callbacks=`, `model_init=`, `peft_config=`..."""

    qualname: str
    library: str
    model: Value
    args: Value
    optimizer: Value  # the optimizer of `optimizers=(opt, sched)`, UNKNOWN when not given
    callbacks: tuple[Value, ...]
    model_init: Value | None
    peft_config: Value | None
    call: cst.Call
    cls: InFileClass | None = None  # an in-file Trainer subclass
    names: list[str] = field(default_factory=list)
    given: frozenset[str] = frozenset()  # the constructor arguments passed, by name (`optimizers`, `model_init`...)

    @property
    def class_name(self) -> str:
        return self.cls.name if self.cls is not None else self.qualname.rsplit(".", 1)[-1]

    @property
    def name(self) -> str:
        return self.names[0] if self.names else self.class_name

    def describe(self) -> str:
        """`Trainer `trainer``, or just the class when it is not bound to a name."""
        return f"{self.class_name} `{self.names[0]}`" if self.names else self.class_name


@dataclass(frozen=True, eq=False)
class TrainCall(Event):
    """`trainer.train()` / `trainer.fit(model)`: training starts here."""

    trainer: Trainer
    model: Value


@dataclass(frozen=True, eq=False)
class Backward(Event):
    """`loss.backward()` or `accelerator.backward(loss)`."""


@dataclass(frozen=True, eq=False)
class Forward(Event):
    """A model called on inputs: `model(**batch)`."""

    module: ModuleRef


@dataclass(frozen=True, eq=False)
class ModuleCall(Event):
    """A method call on a module, a parameter, or a call of any other method on a tracked value: the general record
    later rules read (`gradient_checkpointing_enable`, `eval`, `freeze_feature_extractor`, `enable_input_require_grads`).
    """

    receiver: Value
    method: str
    call: cst.Call
    args: tuple[Value, ...]
    kwargs: dict[str, Value]


def keeps_grads(call: OptimizerCall | ModuleCall) -> bool:
    """`zero_grad(set_to_none=False)` (or `zero_grad(False)`) on an optimizer or a module: gradients become zeros,
    not None, so a parameter frozen afterwards keeps a `.grad` that optimizers still apply."""
    flag = call.kwargs.get("set_to_none", call.args[0] if call.args else None)
    return call.method == "zero_grad" and isinstance(flag, Literal) and flag.value is False


@dataclass(frozen=True, eq=False)
class LibraryCall(Event):
    """A call of an imported function or class (`torch.utils.checkpoint.checkpoint`, `nn.Embedding.from_pretrained`)."""

    qualname: str
    call: cst.Call
    args: tuple[Value, ...]
    kwargs: dict[str, Value]


@dataclass(frozen=True, eq=False)
class OpaqueUse(Event):
    """A model handed to code the analysis cannot see into (an imported helper may freeze it, or train it). `args`
    and `kwargs` are everything the call was given (an optimizer beside the model says it trains there)."""

    module: ModuleRef
    callee: str
    args: tuple[Value, ...] = ()
    kwargs: dict[str, Value] = field(default_factory=dict)

    @property
    def trains(self) -> bool:
        """A training routine, by its name and its arguments: called like one (`train`, `fit`, `fit_one_epoch`,
        `train_one_epoch`) and given an optimizer beside the model."""
        name = self.callee.rsplit(".", 1)[-1].strip("().").lower()
        named = bool(_TRAINING_ROUTINE.search(name))
        return named and any(isinstance(option, Optimizer) for value in (*self.args, *self.kwargs.values()) for option in value.candidates())


_TRAINING_ROUTINE = re.compile(r"(^|_)(train|fit|finetune|fine_tune)(_|$)|epoch")


@dataclass(frozen=True, eq=False)
class PeftApply(Event):
    """PEFT or an adapter library applied to `model` (which freezes its base): `get_peft_model`, `add_adapter`,
    `PeftModel.from_pretrained`, a TRL trainer's `peft_config=`."""

    model: Value
    result: Value
    how: str
    config: Value | None
    call: cst.Call | None

    def touches(self, ref: ModuleRef) -> bool:
        """True when the model it wraps (or the wrapper it made) may share parameters with `ref`."""
        return any(r is not None and r.overlaps(ref) for v in (self.model, self.result) for r in map(as_ref, v.candidates()))

    @property
    def wrapper(self) -> Model | None:
        """The PeftModel it made (`get_peft_model`, `PeftModel.from_pretrained`), None for in-place ones."""
        result = self.result
        return result if isinstance(result, Model) and result.source is ModelSource.PEFT else None


@dataclass(frozen=True, eq=False)
class Wrap(Event):
    """A model wrapped for distribution or compilation: DDP, FSDP, torch.compile, accelerate/fabric/deepspeed."""

    module: ModuleRef
    kind: str
    call: cst.Call


@dataclass(frozen=True, eq=False)
class AttributeAssign(Event):
    """`owner.attr = value` where owner is a module: a new head (`model.classifier = nn.Linear(...)`), a new parameter
    (`layer.weight = nn.Parameter(...)`), or any other attribute store on a module or parameter."""

    owner: Value
    attribute: str
    value: Value
    value_node: cst.BaseExpression


@dataclass(frozen=True, eq=False)
class ExpressionStatement(Event):
    """An expression used as a statement whose value is thrown away (`p.requires_grad == False`,
    `p.requires_grad_`, an unconsumed `map(...)`)."""

    expression: cst.BaseExpression
    value: Value


@dataclass(frozen=True, eq=False)
class Consumption(Event):
    """A one-shot iterable (a generator, `filter(...)`, `model.parameters()`) iterated, or handed to something that
    iterates it. A second consumption of the same object sees it empty."""

    value: Value


@dataclass(frozen=True, eq=False)
class OptionDefinition(Event):
    """A setting a user can pass: a command-line option (`parser.add_argument("--freeze-encoder")`, a click or typer
    option), a field of a `@dataclass` (what `HfArgumentParser` turns into options), or a key of a dict literal bound
    to a name (`config = {"freeze_encoder": True}`).

    `name` is what code reads it by (`args.freeze_encoder`); `scope` is the function whose parameter it is (click,
    typer), None when it is read through an object or a key.
    """

    name: str
    kind: str  # "argparse", "click", "typer", "dataclass field", "config key"
    spelled: str  # as written: "--freeze-encoder"
    scope: cst.FunctionDef | None = None


@dataclass(frozen=True, eq=False)
class Rebind(Event):
    """A variable that held a model is bound to something else."""

    name: str
    old: Value
    new: Value


E = TypeVar("E", bound=Event)


def name_test(test: cst.BaseExpression | None) -> tuple[str, str, bool] | None:
    """A test of a name against a string literal: `"head" in name`, `name.startswith("head")`, or their negation.
    Returns (the literal, the tested variable, True when the test holds for names containing the literal)."""
    positive = True
    while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test, positive = test.expression, not positive
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        if isinstance(target.operator, (cst.In, cst.NotIn)) and isinstance(test.left, cst.SimpleString):
            literal, variable = test.left.evaluated_value, target.comparator
            if isinstance(target.operator, cst.NotIn):
                positive = not positive
            if isinstance(literal, str) and isinstance(variable, cst.Name):
                return literal, variable.value, positive
    if isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute) and len(test.args) == 1:
        method, variable, argument = test.func.attr.value, test.func.value, test.args[0].value
        if method in ("startswith", "endswith") and isinstance(variable, cst.Name) and isinstance(argument, cst.SimpleString):
            literal = argument.evaluated_value
            if isinstance(literal, str):
                return literal, variable.value, positive
    return None


def _target_names(loop: cst.CSTNode) -> set[str]:
    """The variables a `for` loop or comprehension binds."""
    target = loop.target if isinstance(loop, (cst.For, cst.CompFor)) else None
    names: set[str] = set()
    stack: list[cst.BaseExpression] = [target] if target is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            names.add(node.value)
        elif isinstance(node, (cst.Tuple, cst.List)):
            stack.extend(element.value for element in node.elements)
    return names


def group_by_node(events: list[E]) -> list[list[E]]:
    """Events grouped by the node they happened at, in first-seen order. One node can yield several events: a helper
    walked from two call sites, a name bound to different values in the arms of an `if`."""
    groups: dict[int, list[E]] = {}
    for event in events:
        groups.setdefault(id(event.node), []).append(event)
    return list(groups.values())
