"""The facts of one file: every event the walk recorded, in walk order, and the predicates rules share (what is
frozen at a point, whether and how a model trains, where checkpointing is on...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Mapping

import libcst as cst
import libcst.matchers as m
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from freezelint import knowledge as kb
from freezelint.facts.events import (
    AttributeAssign,
    Backward,
    E,
    Event,
    FreezeForm,
    FreezeOp,
    ModuleCall,
    OpaqueUse,
    OptimizerBuild,
    OptimizerCall,
    PeftApply,
    TrainCall,
    TrainerBuild,
    Where,
)
from freezelint.facts.values import (
    ANY_CHILD,
    ANY_DESCENDANT,
    UNKNOWN,
    Config,
    DictValue,
    InFileClass,
    InFileFunction,
    Kind,
    Literal,
    Model,
    ModuleRef,
    Optimizer,
    ParamRef,
    Unknown,
    Value,
    as_ref,
    new_parameters,
)

if TYPE_CHECKING:
    from freezelint.source import Source


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
    """Everything one walk of a file found, in walk order.

    Events are kept in two lists. `events` holds what code reachable from the file's entry points did (the module's
    own statements, and the functions and methods they call, at their call sites). `uncalled` holds the events of
    functions and methods nothing in the file calls, walked afterwards on their own with unknown arguments: a rule
    reads them only when it asks (`of(kind, uncalled=True)`), because what holds there holds for unknown callers."""

    source: Source
    module: cst.Module
    events: list[Event] = field(default_factory=list)
    uncalled: list[Event] = field(default_factory=list)
    models: list[Model] = field(default_factory=list)
    classes: list[InFileClass] = field(default_factory=list)
    functions: list[InFileFunction] = field(default_factory=list)  # every def and method of the file
    imports: set[str] = field(default_factory=set)  # qualified names the file imports
    options: Options = field(default_factory=Options)
    _positions: Mapping[cst.CSTNode, CodeRange] | None = field(default=None, repr=False)
    _syntax: _SyntaxIndex | None = field(default=None, repr=False)
    _by_kind: dict[tuple[type, bool], list] = field(default_factory=dict, repr=False)

    def record(self, event: Event) -> None:
        """Add an event (the walk calls this, in walk order)."""
        (self.uncalled if event.where.standalone else self.events).append(event)
        self._by_kind.clear()

    def of(self, kind: type[E], *, uncalled: bool = False) -> list[E]:
        """Events of one kind, in walk order; with `uncalled`, those of functions nothing calls too (after the
        others: they were walked last). Indexed on first use; the list is shared, so do not change it."""
        key = (kind, uncalled)
        found = self._by_kind.get(key)
        if found is None:
            found = [event for event in self.all_events(uncalled) if isinstance(event, kind)]
            self._by_kind[key] = found
        return found

    def all_events(self, uncalled: bool = False) -> list[Event]:
        """Every event in walk order; with `uncalled`, those of functions nothing calls too."""
        return [*self.events, *self.uncalled] if uncalled else self.events

    def flag_changes(self) -> list[FreezeOp]:
        """The freezes and unfreezes that really change `requires_grad` of a known module, in code that runs (not a
        function walked standalone because nothing calls it)."""
        return [op for op in self.of(FreezeOp) if op.effective and op.module is not None]

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
        return self.syntax().found.get(name, [])

    def syntax(self) -> _SyntaxIndex:
        """Mentions of names, and every call, assignment and `return` of the module, in source order: one walk of
        the syntax tree, on first need (a walk costs about as much as the whole analysis of a long script)."""
        if self._syntax is None:
            self._syntax = _SyntaxIndex()
            self.module.visit(self._syntax)
        return self._syntax

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
        for op in self.of(FreezeOp, uncalled=standalone):
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
        for event in self.all_events(uncalled=standalone):
            if event.order <= last.order:
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
            if op.value is not False or not op.effective or op.whole or op.order >= order:
                continue
            target = op.module
            if target is None or not target.overlaps(ref) or (found is not None and op.order < found.order):
                continue
            if not any(_undoes(event, target) for event in self.events if op.order < event.order < order):
                found = op
        return found

    def unfrozen_between(self, ref: ModuleRef, start: int, end: int) -> list[FreezeOp]:
        """Unfreezes of (parts of) `ref` between two walk positions."""
        return [
            op for op in self.of(FreezeOp)
            if op.value is not False and op.effective and start < op.order < end
            and op.module is not None and op.module.overlaps(ref)
        ]

    def optimizer_used_after(self, build: OptimizerBuild, where: Where) -> Event | None:
        """The first use of the optimizer that runs after `where`: a `step()` later on (or in a loop shared with it),
        or the `train()` of a trainer it was handed to (or built for, in a Lightning `configure_optimizers`)."""
        for call in self.of(OptimizerCall):
            if call.optimizer.build is not build or call.method != "step":
                continue
            if (call.order > where.order or call.where.shared_loop(where)) and not call.where.exclusive(where):
                return call
        for train in self.of(TrainCall, uncalled=True):
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
        for op in self.of(FreezeOp, uncalled=True):
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

        for event in self.all_events(uncalled=True):
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
            if call.method not in kb.CHECKPOINTING_METHODS or not isinstance(ref, ModuleRef) or ref.path:
                continue
            given = next((call.kwargs[k] for k in kb.CHECKPOINTING_KWARGS if k in call.kwargs), call.args[0] if call.args else None)
            reentrant = _use_reentrant(given)
            if reentrant is not UNKNOWN:
                found.append(Checkpointing(ref.model, call.where.statement or call.call, call, reentrant))  # type: ignore[arg-type]
        for train in self.of(TrainCall):
            args = train.trainer.build.args
            if not isinstance(args, Config):
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
            if event.order >= until:
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
        for call in self.of(TrainCall, uncalled=True):
            if call.order <= after:
                continue
            for option in call.model.candidates():
                trained = as_ref(option)
                if trained is not None and trained.overlaps(ref):
                    return Training(call.trainer.build.describe(), call)
        stepped = {id(c.optimizer.build) for c in self.of(OptimizerCall, uncalled=True) if c.method == "step" and c.order > after}
        trains_after = {id(call.trainer.build) for call in self.of(TrainCall, uncalled=True) if call.order > after}
        handed = {
            id(option.build)
            for build in self.of(TrainerBuild, uncalled=True)
            if id(build) in trains_after
            for option in build.optimizer.candidates()
            if isinstance(option, Optimizer)
        }
        backward = any(event.order > after for event in self.of(Backward, uncalled=True))
        for build in self.of(OptimizerBuild, uncalled=True):
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


def mentions(node: cst.CSTNode, names: set[str]) -> bool:
    """True when the expression or statement uses one of these names."""
    return any(isinstance(n, cst.Name) and n.value in names for n in m.findall(node, m.Name()))


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


class _SyntaxIndex(cst.CSTVisitor):
    """Collects the mentions `Facts.references` looks up, and the calls, assignments and returns of the module."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[cst.CSTNode]] = {}
        self.skip: set[int] = set()
        self.calls: list[cst.Call] = []
        self.assigns: list[cst.Assign | cst.AnnAssign | cst.AugAssign] = []
        self.returns: list[cst.Return] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        self.assigns.append(node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.assigns.append(node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.assigns.append(node)

    def visit_Return(self, node: cst.Return) -> None:
        self.returns.append(node)

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
