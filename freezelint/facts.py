"""The facts model: what one file does to its models, in the order it runs.

`collect.py` fills a `Facts` in one walk of the file's syntax tree; every rule is a small reader of it.
Two kinds of things live here:

* **values**: what an expression denotes (`Model`, `ModuleRef`, `ParamRef`, `ParamSet`, `Optimizer`, `Trainer`...).
  Values are abstract: `UNKNOWN` stands for anything the analysis cannot see.
* **events**: what a statement does (`FreezeOp`, `OptimizerBuild`, `TrainCall`, `PeftApply`...), each with a `Where`
  telling when (`order`, the execution order the walk followed, call sites inlined), where (`node`), and in which
  context (enclosing loops, branches, function, trainer callback, `torch.no_grad()`).
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Mapping, TypeVar

import libcst as cst
import libcst.matchers as m
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from freezelint import knowledge as kb

if TYPE_CHECKING:
    from freezelint.source import Source

_ids = itertools.count(1)


# --- values ---------------------------------------------------------------------------------------------------------


class Value:
    """What an expression denotes. Subclasses are the kinds of things the analysis tracks."""

    __slots__ = ()

    def candidates(self) -> tuple[Value, ...]:
        """The possible values (more than one after a branch assigned different ones)."""
        return (self,)


class Unknown(Value):
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()


@dataclass(eq=False, repr=False)
class OneOf(Value):
    """One of several values: a name assigned differently in the branches of an `if`."""

    options: tuple[Value, ...]

    def candidates(self) -> tuple[Value, ...]:
        return self.options

    def __repr__(self) -> str:
        return f"OneOf{self.options!r}"


def one_of(values: list[Value] | tuple[Value, ...]) -> Value:
    """Merge values, flattening and dropping duplicates (by identity); a single value stays itself."""
    flat: list[Value] = []
    for value in values:
        for option in value.candidates():
            if not any(option is seen for seen in flat):
                flat.append(option)
    if not flat:
        return UNKNOWN
    if len(flat) == 1:
        return flat[0]
    return OneOf(tuple(flat))


@dataclass(eq=False, repr=False)
class Literal(Value):
    """A constant: a string (checkpoint names, parameter-name patterns), a number, a bool or None."""

    value: object

    def __repr__(self) -> str:
        return f"Literal({self.value!r})"


@dataclass(eq=False, repr=False)
class Imported(Value):
    """A name bound by an import, by its qualified name (`import torch.nn as nn; nn.Linear` -> `torch.nn.Linear`)."""

    qualname: str

    def __repr__(self) -> str:
        return f"Imported({self.qualname})"

    @property
    def package(self) -> str:
        return self.qualname.split(".", 1)[0]


@dataclass(eq=False, repr=False)
class Builtin(Value):
    name: str

    def __repr__(self) -> str:
        return f"Builtin({self.name})"


@dataclass(eq=False, repr=False)
class TupleValue(Value):
    """A tuple or list of known length (`return model, tokenizer`, `optimizers=(opt, sched)`)."""

    items: tuple[Value, ...]

    def __repr__(self) -> str:
        return f"Tuple{self.items!r}"


@dataclass(eq=False, repr=False)
class DictValue(Value):
    """A dict literal with string keys (an optimizer parameter group `{"params": ..., "lr": ...}`)."""

    entries: dict[str, Value]

    def __repr__(self) -> str:
        return f"Dict({self.entries!r})"


class ModelSource(enum.Enum):
    """How a model object came to exist."""

    PRETRAINED = "from_pretrained"  # `<ModelClass>.from_pretrained(...)`
    FACTORY = "factory"  # timm.create_model, torchvision.models.*, torch.hub.load, SentenceTransformer(...)
    FROM_CONFIG = "from_config"  # `<ModelClass>.from_config(...)` or `<ModelClass>(config)`: random weights
    LAYER = "layer"  # `torch.nn.<Layer>(...)`
    CUSTOM = "custom"  # an instance of an nn.Module subclass defined in this file
    PEFT = "peft"  # `get_peft_model(...)` / `PeftModel.from_pretrained(...)`: wraps another model
    COPY = "copy"  # `copy.deepcopy(model)`


@dataclass(eq=False, repr=False)
class Model(Value):
    """One nn.Module object the file creates. Attributes assigned to it (`self.bert = ...`, a new head) are `attrs`."""

    source: ModelSource
    factory: str  # what made it, for messages: "BertForSequenceClassification.from_pretrained"
    qualname: str  # the resolved factory: "transformers.BertForSequenceClassification.from_pretrained"
    node: cst.Call | cst.CSTNode
    where: Where
    class_name: str | None = None  # "BertForSequenceClassification", the in-file class, "resnet50"...
    checkpoint: str | None = None  # a literal first argument of from_pretrained / create_model
    library: str | None = None  # "transformers", "timm", "torchvision", ...
    inner: Model | None = None  # the model a PEFT wrapper wraps
    cls: InFileClass | None = None  # the in-file class of a CUSTOM model (or a custom from_pretrained class)
    abstract: bool = False  # `self` of a class walked without an instance (its methods seen standalone)
    num_layers: int | None = None  # its number of stacked layers, when the code or a bundled config says
    attrs: dict[str, Value] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # variables and attributes it was bound to, in order
    id: int = field(default_factory=lambda: next(_ids))

    def __repr__(self) -> str:
        return f"Model#{self.id}({self.factory})"

    @property
    def name(self) -> str:
        """The first name it was bound to (for messages), or its factory."""
        return self.names[0] if self.names else self.factory

    @property
    def pretrained(self) -> bool:
        return self.source in (ModelSource.PRETRAINED, ModelSource.FACTORY)

    @property
    def foreign(self) -> bool:
        """A TensorFlow, Keras, Flax or PaddlePaddle model (`TFBertModel`, paddlenlp's `AutoModel`): not torch, so
        `trainable` and `stop_gradient` are its real API and `requires_grad_` does not exist."""
        return kb.is_foreign_model(self.qualname, self.class_name)

    @property
    def model_type(self) -> str | None:
        """The HF model type of a transformers model (`bert`, `llama`, `vit`), when its class or checkpoint says."""
        if self.library != "transformers" or self.cls is not None:
            return None
        return kb.model_type(self.class_name, self.checkpoint)

    def backbone_paths(self, part: str = "") -> list[tuple[str, ...]]:
        """Where this HF model keeps its backbone (or a `part` of it: "embeddings", its input embedding block;
        "layers", its stack of layers), in each spelling a file may use: `model.bert`, `model.base_model`; at the root
        for a base model class (`BertModel`). Empty when `knowledge.BACKBONES` does not know the architecture."""
        entry = kb.BACKBONES.get(self.model_type or "")
        if entry is None:
            return []
        prefix, embeddings, layers, _ = entry
        below = {"": "", "embeddings": embeddings, "layers": layers}[part]
        if below is None:
            return []
        roots: list[tuple[str, ...]] = [()] if kb.is_base_model_class(self.class_name) else [(prefix,), ("base_model",)]
        return [(*root, below) if below else root for root in roots]

    def submodels(self) -> Iterator[tuple[tuple[str, ...], Model]]:
        """Models reachable through `attrs` (and a PEFT wrapper's inner model), with the path to each."""
        seen: set[int] = {self.id}
        stack: list[tuple[tuple[str, ...], Model]] = [((), self)]
        while stack:
            path, model = stack.pop()
            children: list[tuple[tuple[str, ...], Value]] = [((name,), value) for name, value in model.attrs.items()]
            if model.inner is not None:
                children.append((("base_model", "model"), model.inner))
            for step, value in children:
                for option in value.candidates():
                    ref = option if isinstance(option, ModuleRef) else None
                    child = ref.model if ref is not None and not ref.path else option
                    if isinstance(child, Model) and child.id not in seen:
                        seen.add(child.id)
                        yield path + step, child
                        stack.append((path + step, child))


# Path components that stand for "some sub-module" (iteration, children(), a subscript we cannot evaluate).
ANY_CHILD = "[*]"
ANY_DESCENDANT = "**"


def _component_overlaps(a: str, b: str) -> bool:
    if a == b or ANY_CHILD in (a, b):
        return True
    if a.startswith("[") and b.startswith("["):
        # Two subscripts of the same container overlap unless both are distinct integer indices.
        return not (a[1:-1].lstrip("-").isdigit() and b[1:-1].lstrip("-").isdigit())
    return False


def paths_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """True when the sub-module at one path contains the other, or they may be the same (wildcards overlap)."""
    for x, y in zip(a, b):
        if ANY_DESCENDANT in (x, y) or x == "base_model" or y == "base_model":
            return True
        if not _component_overlaps(x, y):
            return False
    return True


def path_contains(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    """True when the sub-module at `inner` lies inside (or is) the one at `outer`."""
    if len(outer) > len(inner) and ANY_DESCENDANT not in outer:
        return False
    for x, y in zip(outer, inner):
        if x == ANY_DESCENDANT:
            return True
        if not (x == y or x == ANY_CHILD or (x.startswith("[") and y.startswith("[") and _component_overlaps(x, y))):
            return False
    return True


class Kind(enum.Enum):
    """What a sub-module reference is, as far as the evidence goes."""

    MODULE = "module"
    PARAMETER = "parameter"  # an nn.Parameter or tensor attribute (`self.pos_embedding`, `.weight`)
    UNKNOWN = "unknown"


@dataclass(eq=False, repr=False)
class ModuleRef(Value):
    """`model`, `model.bert.encoder.layer[3]`, a loop variable over `model.children()`: a place inside a model.

    `path` is the attribute path from `model` (subscripts as "[3]", "[:8]"; `[*]` for an element of an iteration).
    `kind` says whether the evidence shows a sub-module, a parameter/tensor attribute, or cannot tell.
    `wrapper` is set when the reference goes through DDP, torch.compile or accelerate.
    """

    model: Model
    path: tuple[str, ...] = ()
    kind: Kind = Kind.MODULE
    wrapper: str | None = None

    def __repr__(self) -> str:
        return f"ModuleRef({self.model!r}, {'.'.join(self.path) or '<root>'}, {self.kind.value})"

    @property
    def is_module(self) -> bool:
        return self.kind is Kind.MODULE

    def describe(self) -> str:
        """A readable expression for messages: `model.bert.encoder.layer[:8]`."""
        text = self.model.name
        for component in self.path:
            if component in (ANY_CHILD, ANY_DESCENDANT):
                text += "[...]" if component == ANY_CHILD else ".<sub-module>"
            elif component.startswith("["):
                text += component
            else:
                text += "." + component
        return text

    def overlaps(self, other: ModuleRef) -> bool:
        """True when the two references may share parameters."""
        a, b = _common_root(self, other)
        return a is not None and b is not None and paths_overlap(a, b)

    def contains(self, other: ModuleRef) -> bool:
        """True when every parameter under `other` is under `self`."""
        a, b = _common_root(self, other)
        return a is not None and b is not None and path_contains(a, b)


@dataclass(eq=False, repr=False)
class ModuleOutput(Unknown):
    """What calling a module returns (`h = self.embed(x)`): tensors the analysis does not model, known to come from
    `module` applied to `inputs`. It is UNKNOWN to everything else; rules that follow activations read where they came
    from (does the input of a checkpointed block require grad?)."""

    module: ModuleRef
    inputs: tuple[Value, ...] = ()

    def __repr__(self) -> str:
        return f"ModuleOutput({self.module!r})"


def _common_root(x: ModuleRef, y: ModuleRef) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """Express both paths from one model, when one model contains the other."""
    if x.model is y.model:
        return x.path, y.path
    for path, sub in x.model.submodels():
        if sub is y.model:
            return x.path, path + y.path
    for path, sub in y.model.submodels():
        if sub is x.model:
            return path + x.path, y.path
    return None, None


@dataclass(eq=False, repr=False)
class ParamSet(Value):
    """Parameters of a module as handed around: `m.parameters()`, `filter(lambda p: p.requires_grad, ...)`, a list
    comprehension over `named_parameters()`, `m.state_dict()` values...

    `only_trainable`: filtered by `requires_grad` (only what is trainable *now*).
    `name_filtered`: filtered by parameter name or other conditions (a subset, frozen ones possibly included).
    `named`: iterating yields `(name, param)` pairs.  `one_shot`: a generator, empty after one pass.
    `copies`: detached copies (`state_dict()`), not the parameters themselves.
    `lazy`: set for a generator expression (`(p.requires_grad_(False) for p in ...)`), whose code runs when consumed.
    """

    module: ModuleRef
    node: cst.CSTNode
    named: bool = False
    only_trainable: bool = False
    name_filtered: bool = False
    one_shot: bool = True
    copies: bool = False
    lazy: LazyMap | None = None  # a generator expression: its element code runs as it is consumed
    id: int = field(default_factory=lambda: next(_ids))

    def __repr__(self) -> str:
        flags = [f for f in ("named", "only_trainable", "name_filtered", "one_shot", "copies") if getattr(self, f)]
        return f"ParamSet({self.module!r}, {','.join(flags)})"


@dataclass(eq=False, repr=False)
class ParamGroups(Value):
    """Several parameter sets handed together: `itertools.chain(...)`, list concatenation, param-group dicts."""

    parts: tuple[Value, ...]
    node: cst.CSTNode
    one_shot: bool = False

    def sets(self) -> Iterator[ParamSet]:
        for part in self.parts:
            for option in part.candidates():
                if isinstance(option, ParamSet):
                    yield option
                elif isinstance(option, ParamGroups):
                    yield from option.sets()


@dataclass(eq=False, repr=False)
class ParamRef(Value):
    """One parameter or tensor: a loop variable over a `ParamSet`, `module.weight`, `nn.Parameter(...)`.

    `owner` is the module it belongs to when known; `source` the set it was drawn from; `copy` marks a detached copy
    (`.data`, `.detach()`, `.clone()`, a `state_dict()` value) on which `requires_grad` changes nothing.
    """

    owner: ModuleRef | None = None
    source: ParamSet | None = None
    copy: bool = False
    new: bool = False  # made here by `nn.Parameter(...)`
    node: cst.CSTNode | None = None

    def __repr__(self) -> str:
        return f"ParamRef(owner={self.owner!r}, copy={self.copy})"

    @property
    def module(self) -> ModuleRef | None:
        """The module whose parameters this may be."""
        if self.source is not None:
            return self.source.module
        return self.owner


@dataclass(eq=False, repr=False)
class ParamName(Value):
    """The name half of a `named_parameters()` pair (conditions on it filter the freeze)."""

    source: ParamSet


@dataclass(eq=False, repr=False)
class ModuleIter(Value):
    """`m.children()`, `m.modules()`, `m.named_modules()`: iterating yields sub-modules of `module`."""

    module: ModuleRef
    named: bool
    recursive: bool


@dataclass(eq=False, repr=False)
class LazyMap(Value):
    """A `map(...)` or generator expression: its element code runs only when something consumes it."""

    node: cst.CSTNode
    consumed: bool = False


@dataclass(eq=False, repr=False)
class Optimizer(Value):
    """An optimizer object: `torch.optim.AdamW(params, ...)`, a Trainer's, deepspeed's."""

    build: OptimizerBuild

    def __repr__(self) -> str:
        return f"Optimizer({self.build.qualname})"


@dataclass(eq=False, repr=False)
class Scheduler(Value):
    optimizer: Value
    node: cst.Call
    qualname: str


@dataclass(eq=False, repr=False)
class Trainer(Value):
    """A trainer object: HF `Trainer`, TRL trainers, Sentence-Transformers, SetFit, Lightning.

    `callbacks` grows with `add_callback`; `current_model` is what trains (a `model_init` makes a new one at `train()`).
    """

    build: TrainerBuild
    callbacks: list[Value] = field(default_factory=list)
    current_model: Value = UNKNOWN

    def __repr__(self) -> str:
        return f"Trainer({self.build.qualname})"


@dataclass(eq=False, repr=False)
class Config(Value):
    """A configuration object with its keyword arguments: `LoraConfig(...)`, `TrainingArguments(...)`."""

    qualname: str
    node: cst.Call
    kwargs: dict[str, Value]

    @property
    def name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


@dataclass(eq=False, repr=False)
class InFileFunction(Value):
    """A function or lambda defined in this file; calls to it are followed into its body."""

    node: cst.FunctionDef | cst.Lambda
    qualname: str
    closure: object  # the Frame it was defined in (collect.Frame)
    defaults: dict[str, Value]
    bound_self: Value | None = None  # a method looked up on an instance
    owner: InFileClass | None = None  # the class a method belongs to

    @property
    def name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


@dataclass(eq=False, repr=False)
class InFileClass(Value):
    """A class defined in this file, with its resolved bases and methods."""

    node: cst.ClassDef
    qualname: str
    bases: tuple[Value, ...]
    methods: dict[str, InFileFunction]
    class_attrs: dict[str, Value]

    @property
    def name(self) -> str:
        return self.node.name.value

    def mro(self) -> Iterator[InFileClass]:
        """This class and its in-file bases, depth first."""
        seen: set[int] = set()
        stack: list[InFileClass] = [self]
        while stack:
            cls = stack.pop(0)
            if id(cls) in seen:
                continue
            seen.add(id(cls))
            yield cls
            stack.extend(b for base in cls.bases for b in base.candidates() if isinstance(b, InFileClass))

    def library_bases(self) -> Iterator[str]:
        """Qualified names of the imported classes it derives from, directly or through in-file bases."""
        for cls in self.mro():
            for base in cls.bases:
                for option in base.candidates():
                    if isinstance(option, Imported):
                        yield option.qualname

    def find_method(self, name: str) -> InFileFunction | None:
        for cls in self.mro():
            if name in cls.methods:
                return cls.methods[name]
        return None


@dataclass(eq=False, repr=False)
class Instance(Value):
    """An instance of an in-file class that is not a module (a callback, a config holder...)."""

    cls: InFileClass
    attrs: dict[str, Value] = field(default_factory=dict)


# --- events ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Loop:
    """A `for`/`while` loop (or comprehension) the walk went through."""

    node: cst.CSTNode
    iterates: Value  # the iterated value for `for` loops, UNKNOWN for `while`
    id: int = field(default_factory=lambda: next(_ids))

    def changing_names(self) -> set[str]:
        """Names the loop changes from pass to pass: its targets, and names it increments (`global_step += 1`)."""
        names: set[str] = set()
        node = self.node
        if isinstance(node, (cst.For, cst.CompFor)):
            names.update(n.value for n in m.findall(node.target, m.Name()))  # type: ignore[union-attr]
        names.update(n.value for aug in m.findall(node, m.AugAssign(target=m.Name())) for n in [aug.target])  # type: ignore[union-attr]
        return names


@dataclass(frozen=True, eq=False)
class Branch:
    """One arm of an `if` (or a `match` case, a `try` handler) the walk went through."""

    node: cst.CSTNode
    test: cst.BaseExpression | None
    arm: bool  # True in the body, False in the `else`
    depth: int  # how many loops were open when the `if` was entered


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
        """True when the two never run in the same pass: they sit in different arms of one `if`."""
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
    HELPER = "helper"  # a known freeze helper: `model.freeze_feature_encoder()`, `timm.utils.freeze(m)`
    KBIT_PREPARE = "kbit-prepare"  # `prepare_model_for_kbit_training(model)`: freezes every parameter


# Forms that never change `requires_grad`, whatever they are applied to.
NO_EFFECT_FORMS = frozenset(
    {FreezeForm.MISSPELLED_STORE, FreezeForm.METHOD_OVERWRITE, FreezeForm.COMPARISON, FreezeForm.UNCALLED}
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


@dataclass(frozen=True, eq=False)
class LibraryCall(Event):
    """A call of an imported function or class (`torch.utils.checkpoint.checkpoint`, `nn.Embedding.from_pretrained`)."""

    qualname: str
    call: cst.Call
    args: tuple[Value, ...]
    kwargs: dict[str, Value]


@dataclass(frozen=True, eq=False)
class OpaqueUse(Event):
    """A model handed to code the analysis cannot see into (an imported helper may freeze it)."""

    module: ModuleRef
    callee: str


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


# --- the facts of one file -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What the project's configuration (`[tool.freezelint]`) tells the analysis about one file.

    `target_transformers`: the major transformers version the code runs on (rules whose truth depends on it read it).
    `freeze_helpers`: qualified names of the project's own functions that freeze their first argument.
    `markers`: `# freezelint: <marker>` comments the configuration declares for the whole file (`full-finetune`).
    """

    target_transformers: int = 5
    freeze_helpers: frozenset[str] = frozenset()
    markers: frozenset[str] = frozenset()


@dataclass(eq=False)
class Facts:
    """Everything one walk of a file found, in walk order."""

    source: Source
    module: cst.Module
    events: list[Event] = field(default_factory=list)
    models: list[Model] = field(default_factory=list)
    classes: list[InFileClass] = field(default_factory=list)
    functions: list[InFileFunction] = field(default_factory=list)  # every def and method of the file
    imports: set[str] = field(default_factory=set)  # qualified names the file imports
    truncated: bool = False  # the walk hit its budget: some calls were treated as opaque
    options: Options = field(default_factory=Options)
    _positions: Mapping[cst.CSTNode, CodeRange] | None = field(default=None, repr=False)
    _references: dict[str, list[cst.CSTNode]] | None = field(default=None, repr=False)

    def of(self, kind: type[E]) -> list[E]:
        """Events of one kind, in walk order."""
        return [event for event in self.events if isinstance(event, kind)]

    def flag_changes(self) -> list[FreezeOp]:
        """The freezes and unfreezes that really change `requires_grad` of a known module, in code that runs (not a
        function walked standalone because nothing calls it)."""
        return [op for op in self.of(FreezeOp) if op.effective and not op.where.standalone and op.module is not None]

    def imports_package(self, *packages: str) -> bool:
        """True when the file imports anything from one of these top-level packages."""
        return any(qualname.split(".", 1)[0] in packages for qualname in self.imports)

    # -- reading the tree -----------------------------------------------------------------------------------------

    def code(self, node: cst.CSTNode) -> str:
        """The source text of a node (as the file wrote it, single-spaced when it spans lines)."""
        text = self.module.code_for_node(node).strip()
        return " ".join(text.split()) if "\n" in text else text

    def positions(self) -> Mapping[cst.CSTNode, CodeRange]:
        """Line and column of every node, computed once, on first need (most files never need them)."""
        if self._positions is None:
            wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
            self._positions = wrapper.resolve(PositionProvider)
        return self._positions

    def line(self, node: cst.CSTNode) -> int:
        """The 1-based line a node starts on (0 when unknown)."""
        span = self.positions().get(node)
        return span.start.line if span is not None else 0

    def has_marker(self, node: cst.CSTNode, marker: str) -> bool:
        """True when a `# freezelint: <marker>` comment sits on one of the node's lines, or the configuration declares
        the marker for the whole file."""
        if marker in self.options.markers:
            return True
        span = self.positions().get(node)
        if span is None:
            return False
        comments = self.source.comments
        for row in range(span.start.line, span.end.line + 1):
            comment = comments.get(row, "")
            if "freezelint:" in comment and marker in comment.split("freezelint:", 1)[1]:
                return True
        return False

    def within(self, node: cst.CSTNode, container: cst.CSTNode) -> bool:
        """True when `node` lies inside `container` in the source (or is it)."""
        positions = self.positions()
        inner, outer = positions.get(node), positions.get(container)
        if inner is None or outer is None:
            return False
        start = (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column)
        return start and (inner.end.line, inner.end.column) <= (outer.end.line, outer.end.column)

    def spelling(self, op: FreezeOp) -> str:
        """What a freeze or unfreeze applies to, for messages: the model's name and path (`model.bert.encoder`) when the
        model is bound to a name, else as the file wrote it (`trainer.model.bert`)."""
        module = op.module
        if module is not None and module.model.names:
            return module.describe()
        target = op.target
        source = target.source if isinstance(target, ParamRef) else None
        if source is not None:
            for call in _parameter_calls(source.node):
                return self.code(call.func.value)  # type: ignore[attr-defined]
        node = op.node
        receiver = node.func.value if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) else (
            node.value if isinstance(node, cst.Attribute) else None
        )
        if receiver is not None and source is None:
            return self.code(receiver)
        return module.describe() if module is not None else self.code(node)

    def references(self, name: str) -> list[cst.CSTNode]:
        """Where the file mentions `name`: as a variable, an attribute (`args.name`), or a string equal to it
        (`cfg["name"]`, `getattr(x, "name")`). Names being defined (parameters, `def`/`class` names, keyword argument
        names, imports) are not mentions. Indexed once, on first need."""
        if self._references is None:
            index = _ReferenceIndex()
            self.module.visit(index)
            self._references = index.found
        return self._references.get(name, [])

    # -- relations between events and models -----------------------------------------------------------------------

    def frozen_at(
        self, ref: ModuleRef, order: int, whole: bool = False, loop_of: Where | None = None, standalone: bool = False
    ) -> FreezeOp | None:
        """The freeze that keeps parameters at `ref` frozen at walk position `order`, if the facts show one.

        With `whole`: the last effective, unfiltered freeze before `order` of a module containing all of `ref`, with
        nothing in between that may make any of them trainable again (an unfreeze touching them, an operation of
        unknown target, a hand-off to code the analysis cannot see, PEFT, a new sub-module or parameter).
        Without: the last such freeze of a module overlapping `ref`, with nothing in between that may make all of
        what it froze there trainable again (an unfreeze of only a part leaves the rest frozen).
        With `loop_of`, what runs later in a loop shared with that place counts as in between too. With `standalone`,
        for a place itself walked without a call site, what was walked standalone before it counts too (a class's
        `__init__` seen from its `forward`).
        """
        last: FreezeOp | None = None
        for op in self.of(FreezeOp):
            if op.where.standalone and not standalone:
                continue
            if op.value is not False or not op.effective or op.order >= order or not op.whole:
                continue
            target = op.module
            if target is None or not (target.contains(ref) if whole else target.overlaps(ref)):
                continue
            if last is None or op.order > last.order:
                last = op
        if last is None:
            return None
        frozen = last.module
        assert frozen is not None
        for event in self.events:
            if (event.where.standalone and not standalone) or event.order <= last.order:
                continue
            if event.order >= order and (loop_of is None or event.where.shared_loop(loop_of) is None):
                continue
            if not may_unfreeze(event, ref):
                continue
            if whole or isinstance(event, (OpaqueUse, PeftApply)):
                return None
            if isinstance(event, FreezeOp):
                target = event.module
                if target is None or target.contains(ref) or target.contains(frozen):
                    return None
            if isinstance(event, AttributeAssign) and isinstance(event.owner, ModuleRef):
                place = ModuleRef(event.owner.model, (*event.owner.path, event.attribute))
                if place.contains(ref):
                    return None  # all of `ref` is new: a replaced head is not frozen
        return last

    def partly_frozen_at(self, ref: ModuleRef, order: int) -> FreezeOp | None:
        """A freeze that leaves some parameters at `ref` frozen at walk position `order`: the last one of `frozen_at`,
        or a later freeze of the parameters a name filter or a model's own helper picks (`if "lora" not in name:
        p.requires_grad = False`) with nothing in between that may make all of them trainable again."""
        found = self.frozen_at(ref, order)
        for op in self.of(FreezeOp):
            if op.value is not False or op.where.standalone or not op.effective or op.whole or op.order >= order:
                continue
            target = op.module
            if target is None or not target.overlaps(ref) or (found is not None and op.order < found.order):
                continue
            if not any(_undoes(event, target) for event in self.events if op.order < event.order < order and not event.where.standalone):
                found = op
        return found

    def unfrozen_between(self, ref: ModuleRef, start: int, end: int) -> list[FreezeOp]:
        """Unfreezes of (parts of) `ref` between two walk positions."""
        return [
            op for op in self.of(FreezeOp)
            if op.value is not False and op.effective and not op.where.standalone and start < op.order < end
            and op.module is not None and op.module.overlaps(ref)
        ]

    def optimizer_used_after(self, build: OptimizerBuild, where: Where) -> Event | None:
        """The first use of the optimizer that runs after `where`: a `step()` later on (or in a loop shared with it),
        or the `train()` of a trainer it was handed to (or built for, in a Lightning `configure_optimizers`)."""
        for call in self.of(OptimizerCall):
            if call.optimizer.build is not build or call.method != "step" or call.where.standalone:
                continue
            if (call.order > where.order or call.where.shared_loop(where)) and not call.where.exclusive(where):
                return call
        for train in self.of(TrainCall):
            trainer = train.trainer
            handed = any(o.build is build for o in trainer.build.optimizer.candidates() if isinstance(o, Optimizer))
            if not handed and build.where.callback_of is not trainer:
                continue
            if train.order > where.order or where.callback_of is trainer:
                return train
        return None

    def freezes_touching(self, ref: ModuleRef) -> list[FreezeOp]:
        """Freeze/unfreeze operations whose parameters may overlap the module at `ref`."""
        found = []
        for op in self.of(FreezeOp):
            target = op.module
            if target is not None and target.overlaps(ref):
                found.append(op)
        return found

    def freezes_everything(self, op: FreezeOp) -> bool:
        """True when `op`, were it effective, would leave a whole model with nothing trainable: it freezes every
        parameter of a model that is not part of a bigger one, and nothing later gives that model trainable
        parameters back (an unfreeze, PEFT, a new sub-module or parameter)."""
        ref = op.module
        if op.value is not False or not op.whole or ref is None:
            return False
        if any(component not in (ANY_CHILD, ANY_DESCENDANT) for component in ref.path):
            return False
        model = ref.model
        if any(other is not model and any(sub is model for _, sub in other.submodels()) for other in self.models):
            return False  # a backbone inside a model that has more (a head of its own)
        whole = ModuleRef(model)

        def touches(value: Value) -> bool:
            return any((r := as_ref(option)) is not None and r.overlaps(whole) for option in value.candidates())

        for event in self.events:
            if event.order <= op.order:
                continue
            if isinstance(event, FreezeOp) and event.value is not False and event.module is not None:
                if event.module.overlaps(whole):
                    return False
            elif isinstance(event, PeftApply) and (touches(event.model) or touches(event.result)):
                return False
            elif isinstance(event, AttributeAssign) and touches(event.owner):
                if any(isinstance(o, (Model, ModuleRef)) or (isinstance(o, ParamRef) and o.new) for o in event.value.candidates()):
                    return False
            elif isinstance(event, ModuleCall) and event.method in kb.NEW_PARAMETER_METHODS and touches(event.receiver):
                return False  # `add_module(...)`, `register_parameter(...)`: new trainable parameters
        return True

    def checkpointing(self) -> list[Checkpointing]:
        """Where activation (gradient) checkpointing is turned on for a model, with the `use_reentrant` it was given:
        `model.gradient_checkpointing_enable(...)` (or `activation_checkpointing_enable`), or a trainer trained with
        `TrainingArguments(gradient_checkpointing=True, ...)`. Settings the analysis cannot read are left out."""
        found: list[Checkpointing] = []
        for call in self.of(ModuleCall):
            ref = call.receiver
            if call.method not in kb.CHECKPOINTING_METHODS or not isinstance(ref, ModuleRef) or ref.path or call.where.standalone:
                continue
            given = next((call.kwargs[k] for k in kb.CHECKPOINTING_KWARGS if k in call.kwargs), call.args[0] if call.args else None)
            reentrant = _use_reentrant(given)
            if reentrant is not UNKNOWN:
                found.append(Checkpointing(ref.model, call.where.statement or call.call, call, reentrant))  # type: ignore[arg-type]
        for train in self.of(TrainCall):
            args = train.trainer.build.args
            if not isinstance(args, Config) or train.where.standalone:
                continue
            switch = next((args.kwargs[k] for k in kb.CHECKPOINTING_ARGUMENTS if k in args.kwargs), None)
            if not (isinstance(switch, Literal) and switch.value is True):
                continue
            reentrant = _use_reentrant(next((args.kwargs[k] for k in kb.CHECKPOINTING_KWARGS if k in args.kwargs), None))
            if reentrant is UNKNOWN:
                continue
            for option in train.model.candidates():
                trained = as_ref(option)
                if trained is not None and not trained.path:
                    found.append(Checkpointing(trained.model, args.node, train, reentrant))  # type: ignore[arg-type]
        return found

    def managed_elsewhere(self, ref: ModuleRef, until: int, methods: frozenset[str] = frozenset()) -> bool:
        """True when, before walk position `until`, something other than the file's own freezes may decide what of
        `ref` trains or requires grad: PEFT applied to it, k-bit preparation, a hand-off to code the analysis cannot
        see, or a call of one of `methods` on it (`enable_input_require_grads`)."""
        for event in self.events:
            if event.where.standalone or event.order >= until:
                continue
            if isinstance(event, ModuleCall) and event.method in methods:
                if isinstance(event.receiver, ModuleRef) and event.receiver.overlaps(ref):
                    return True
            elif isinstance(event, PeftApply) and event.touches(ref):
                return True
            elif isinstance(event, OpaqueUse) and event.module.overlaps(ref):
                return True
            elif isinstance(event, FreezeOp) and event.form is FreezeForm.KBIT_PREPARE:
                if event.module is not None and event.module.overlaps(ref):
                    return True
        return False

    def training_of(self, model: Model | ModuleRef, after: int = 0, covering: bool = False) -> Training | None:
        """How the file trains `model` (or a model containing it), if it does: a trainer's `train()`, or an
        optimizer over its parameters that steps, is handed to a trainer, or sits beside a `backward()`.
        Given a sub-module (`model.bert`), only training that reaches its parameters counts (an optimizer over the
        head alone does not train the backbone). With `covering`, an optimizer counts only when it holds every
        parameter of `model` (one over the head alone trains the model, but not all of it). With `after`, only
        evidence later than that walk position counts."""
        ref = model if isinstance(model, ModuleRef) else ModuleRef(model)
        for call in self.of(TrainCall):
            if call.order <= after:
                continue
            for option in call.model.candidates():
                trained = as_ref(option)
                if trained is not None and trained.overlaps(ref):
                    return Training(call.trainer.build.describe(), call)
        stepped = {id(c.optimizer.build) for c in self.of(OptimizerCall) if c.method == "step" and c.order > after}
        trains_after = {id(call.trainer.build) for call in self.of(TrainCall) if call.order > after}
        handed = {
            id(option.build)
            for build in self.of(TrainerBuild)
            if id(build) in trains_after
            for option in build.optimizer.candidates()
            if isinstance(option, Optimizer)
        }
        backward = any(event.order > after for event in self.of(Backward))
        for build in self.of(OptimizerBuild):
            in_callback = build.where.callback_of is not None and build.order > after
            used = id(build) in stepped or id(build) in handed or in_callback or backward
            reaches = (lambda s: s.module.contains(ref)) if covering else (lambda s: s.module.overlaps(ref))
            if used and any(reaches(s) for s in build.param_sets() if not s.copies):
                return Training(f"optimizer `{build.name}`", build)
        return None


def may_unfreeze(event: Event, ref: ModuleRef) -> bool:
    """True when `event` may make some parameters at `ref` trainable (again)."""
    if isinstance(event, FreezeOp):
        target = event.module
        if event.value is False or (target is not None and not event.effective):
            return False
        return target is None or target.overlaps(ref)
    if isinstance(event, OpaqueUse):
        return event.module.overlaps(ref)
    if isinstance(event, PeftApply):
        return any(
            r is not None and r.overlaps(ref) for v in (event.model, event.result) for r in map(as_ref, v.candidates())
        )
    if isinstance(event, AttributeAssign) and isinstance(event.owner, ModuleRef):
        place = ModuleRef(event.owner.model, (*event.owner.path, event.attribute), Kind.UNKNOWN)
        return place.overlaps(ref) and any(isinstance(v, Unknown) or new_parameters(v) for v in event.value.candidates())
    if isinstance(event, ModuleCall) and event.method in kb.NEW_PARAMETER_METHODS:
        return isinstance(event.receiver, ModuleRef) and event.receiver.overlaps(ref)
    return False


def _undoes(event: Event, frozen: ModuleRef) -> bool:
    """True when `event` may make every parameter a filtered freeze of `frozen` picked trainable again: an unfreeze of
    all of `frozen` (or of something unknown), or a change the facts cannot see into."""
    if not may_unfreeze(event, frozen):
        return False
    if isinstance(event, FreezeOp):
        return event.module is None or (event.whole and event.module.contains(frozen))
    return True


def new_parameters(value: Value) -> bool:
    """True when `value`, assigned into a module, brings parameters of its own: a model or layer (not a parameter-free
    `nn.Identity()`, `nn.Dropout()`...), or a new `nn.Parameter(...)`."""
    if isinstance(value, ParamRef):
        return value.new
    if isinstance(value, Model):
        return not (value.source is ModelSource.LAYER and value.class_name in kb.PARAMETER_FREE_LAYERS)
    return False


def mentions(node: cst.CSTNode, names: set[str]) -> bool:
    """True when the expression or statement uses one of these names."""
    return any(n.value in names for n in m.findall(node, m.Name()))  # type: ignore[union-attr]


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


def _parameter_calls(node: cst.CSTNode) -> Iterator[cst.Call]:
    """`x.parameters()` / `x.named_parameters()` calls inside a node, outermost first."""
    stack = [node]
    while stack:
        current = stack.pop(0)
        if isinstance(current, cst.Call) and isinstance(current.func, cst.Attribute):
            if current.func.attr.value in ("parameters", "named_parameters"):
                yield current
                continue
        stack.extend(current.children)


def _target_names(loop: cst.CSTNode) -> set[str]:
    """The variables a `for` loop or comprehension binds."""
    target = loop.target if isinstance(loop, (cst.For, cst.CompFor)) else None
    names: set[str] = set()
    stack = [target] if target is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            names.add(node.value)
        elif isinstance(node, (cst.Tuple, cst.List)):
            stack.extend(element.value for element in node.elements)
    return names


class _ReferenceIndex(cst.CSTVisitor):
    """Collects the mentions `Facts.references` looks up."""

    def __init__(self) -> None:
        self.found: dict[str, list[cst.CSTNode]] = {}
        self.skip: set[int] = set()

    def add(self, name: str, node: cst.CSTNode) -> None:
        self.found.setdefault(name, []).append(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.skip.add(id(node.attr))
        self.add(node.attr.value, node)

    def visit_Param(self, node: cst.Param) -> None:
        self.skip.add(id(node.name))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.skip.add(id(node.keyword))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.skip.add(id(node.name))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.skip.add(id(node.name))

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) not in self.skip:
            self.add(node.value, node)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = node.evaluated_value
        if isinstance(value, str):
            self.add(value, node)


def group_by_node(events: list[E]) -> list[list[E]]:
    """Events grouped by the node they happened at, in first-seen order. One node can yield several events: a helper
    walked from two call sites, a name bound to different values in the arms of an `if`."""
    groups: dict[int, list[E]] = {}
    for event in events:
        groups.setdefault(id(event.node), []).append(event)
    return list(groups.values())


def as_ref(value: Value) -> ModuleRef | None:
    """A model or module reference as a `ModuleRef`; None for anything else."""
    if isinstance(value, Model):
        return ModuleRef(value)
    if isinstance(value, ModuleRef):
        return value
    return None


@dataclass(frozen=True)
class Checkpointing:
    """Activation checkpointing turned on for `model` (at `node`, by `event`: the enabling call, or the `train()` of a
    trainer whose arguments ask for it). `use_reentrant` is the value given, None when not given (the default of the
    transformers version the code runs on)."""

    model: Model
    node: cst.CSTNode
    event: Event
    use_reentrant: bool | None


def _use_reentrant(kwargs: Value | None) -> bool | None | Unknown:
    """The `use_reentrant` of checkpointing keyword arguments: True/False, None when not given, UNKNOWN when the
    analysis cannot read it."""
    if kwargs is None or (isinstance(kwargs, Literal) and kwargs.value is None):
        return None
    if not isinstance(kwargs, DictValue):
        return UNKNOWN
    value = kwargs.entries.get("use_reentrant")
    if value is None:
        return None
    return value.value if isinstance(value, Literal) and isinstance(value.value, bool) else UNKNOWN


@dataclass(frozen=True)
class Training:
    """Evidence that a model is trained: what trains it (for messages) and the event that shows it."""

    how: str
    event: Event
