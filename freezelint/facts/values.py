"""Values: what an expression denotes (`Model`, `ModuleRef`, `ParamRef`, `ParamSet`, `Optimizer`, `Trainer`...).

Values are abstract: `UNKNOWN` stands for anything the analysis cannot see, `OneOf` for a name bound differently on
different paths. A `ModuleRef` is a place inside a model (`model.bert.encoder.layer[3]`); paths overlap and contain
each other as the modules they name do.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge as kb

if TYPE_CHECKING:
    from freezelint.facts.events import Branch, OptimizerBuild, TrainerBuild, Where


# Identities of models, parameter sets and loops, in creation order (shared by values and events).
next_id = itertools.count(1)


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


# Beyond this many possible values a name holds anything, as far as rules are concerned: long functions with many
# branches would otherwise merge ever-growing sets, at a cost that grows with their square.
MAX_OPTIONS = 24


def one_of(values: list[Value] | tuple[Value, ...]) -> Value:
    """Merge values, flattening and dropping duplicates (by identity, and constants by value); a single value stays
    itself, and too many become UNKNOWN."""
    flat: list[Value] = []
    seen: set[int] = set()
    constants: set[tuple[type, object]] = set()
    for value in values:
        for option in value.candidates():
            if id(option) in seen:
                continue
            seen.add(id(option))
            if isinstance(option, Literal):
                key = (type(option.value), option.value) if _hashable(option.value) else None
                if key is not None and key in constants:
                    continue
                if key is not None:
                    constants.add(key)
            flat.append(option)
    if not flat or len(flat) > MAX_OPTIONS:
        return UNKNOWN
    if len(flat) == 1:
        return flat[0]
    return OneOf(tuple(flat))


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


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
    # Made by code the analysis cannot see (a project's own builder or class, a class chosen by configuration), and
    # bound to a name that says it is a model: `model = build_model(cfg)`, `self.model = opt.model_class(opt)`.
    # A module of unknown layout, known as one by its name only.
    UNSEEN = "unseen"


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
    id: int = field(default_factory=lambda: next(next_id))

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
    `by_name` is set when a step of the path is judged a sub-module by its name alone (`self.encoder` of a class whose
    `encoder` the file never assigns): the evidence is weaker than a traced value's.
    """

    model: Model
    path: tuple[str, ...] = ()
    kind: Kind = Kind.MODULE
    wrapper: str | None = None
    by_name: bool = False

    def __repr__(self) -> str:
        return f"ModuleRef({self.model!r}, {'.'.join(self.path) or '<root>'}, {self.kind.value})"

    @property
    def is_module(self) -> bool:
        return self.kind is Kind.MODULE

    @property
    def traced(self) -> bool:
        """The analysis followed the value here; False when a step rests on a name alone (an attribute the file never
        assigns, a model made by code it cannot see)."""
        return not self.by_name and self.model.source is not ModelSource.UNSEEN

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
    # The `if` arms it was taken in (`chain(unet.parameters(), te.parameters()) if args.train_te else ...`): an
    # optimizer over it holds these parameters only on runs where those arms are taken.
    guards: tuple[Branch, ...] = ()
    id: int = field(default_factory=lambda: next(next_id))

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


def as_ref(value: Value) -> ModuleRef | None:
    """A model or module reference as a `ModuleRef`; None for anything else."""
    if isinstance(value, Model):
        return ModuleRef(value)
    if isinstance(value, ModuleRef):
        return value
    return None


def holds_model(value: Value) -> bool:
    """True when one of the values `value` may be is a model or a module inside one."""
    return any(isinstance(option, (Model, ModuleRef)) for option in value.candidates())


def new_parameters(value: Value) -> bool:
    """True when `value`, assigned into a module, brings parameters of its own: a model or layer (not a parameter-free
    `nn.Identity()`, `nn.Dropout()`...), or a new `nn.Parameter(...)`."""
    if isinstance(value, ParamRef):
        return value.new
    if isinstance(value, ModuleRef) and not value.path:
        value = value.model  # `nn.Linear(512, 2).to(device)`: the layer itself
    if isinstance(value, Model):
        return not (value.source is ModelSource.LAYER and value.class_name in kb.PARAMETER_FREE_LAYERS)
    return False
