"""The one walk over a file's syntax tree that fills its `Facts`.

The walk is a small abstract interpreter. It runs the module top to bottom, binding names to abstract values
(`facts.Value`), and records events in execution order:

* imports bind qualified names, so aliases resolve (`import transformers as tf; tf.Trainer` is `transformers.Trainer`);
* a call to a function or class defined in the file is followed into its body at the call site, with the arguments
  bound, so a helper that freezes its argument freezes the caller's model, in the caller's order;
* both arms of an `if` are walked and the names they bind are merged; loop bodies are walked once, inside a `Loop`;
* a trainer's registered callbacks are walked when it trains, with the trainer's model bound;
* functions and methods nothing called are walked last, "standalone", with unknown arguments.

It never imports or runs the code it reads. Where it cannot see (a helper imported from elsewhere, a budget
exhausted) it records an `OpaqueUse` and returns `UNKNOWN`: rules stay silent rather than guess.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

import libcst as cst

from freezelint import knowledge as kb
from freezelint.facts import (
    ANY_CHILD,
    ANY_DESCENDANT,
    UNKNOWN,
    AttributeAssign,
    Backward,
    Branch,
    Builtin,
    Config,
    Consumption,
    DictValue,
    Event,
    ExpressionStatement,
    Facts,
    Forward,
    FreezeForm,
    FreezeOp,
    Imported,
    InFileClass,
    InFileFunction,
    Instance,
    Kind,
    LazyMap,
    LibraryCall,
    Literal,
    Loop,
    Model,
    ModelSource,
    ModuleCall,
    ModuleIter,
    ModuleOutput,
    ModuleRef,
    OneOf,
    OpaqueUse,
    OptionDefinition,
    Options,
    Optimizer,
    OptimizerBuild,
    OptimizerCall,
    ParamGroups,
    ParamName,
    ParamRef,
    ParamSet,
    PeftApply,
    Rebind,
    Scheduler,
    Trainer,
    TrainerBuild,
    TrainCall,
    TupleValue,
    Unknown,
    Value,
    Where,
    Wrap,
    as_ref,
    one_of,
)
from freezelint.source import Source

# Walking budget: beyond these, calls into the file's own functions are treated as opaque (precision over recall).
MAX_CALL_DEPTH = 12
MAX_STEPS = 150_000

_BUILTIN_NAMES = frozenset(dir(builtins))
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}


# --- values only the walk needs ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class ListValue(Value):
    """A list built up by `append`/`extend`/`+=` (parameter lists collected in a loop)."""

    items: list[Value]
    node: cst.CSTNode


@dataclass(eq=False)
class IterableOf(Value):
    """Something whose elements are known: `enumerate(x)`, `zip(a, b)`, `d.items()`."""

    element: Value


@dataclass(eq=False)
class LibraryObject(Value):
    """An instance of an imported class the analysis does not model in detail (`Accelerator()`, `Fabric()`)."""

    qualname: str


@dataclass(eq=False)
class GradContext(Value):
    """`torch.no_grad()`, `torch.inference_mode()`, `torch.set_grad_enabled(False)`: gradients off inside."""

    enabled: bool


@dataclass(eq=False)
class Super(Value):
    cls: InFileClass
    self_value: Value


class Frame:
    """One scope: the module, a function call, a class body or a comprehension."""

    __slots__ = ("locals", "parent", "qualname", "returns", "returned", "global_names", "is_generator", "cls")

    def __init__(self, parent: Frame | None, qualname: str, cls: InFileClass | None = None) -> None:
        self.locals: dict[str, Value] = {}
        self.parent = parent
        self.qualname = qualname
        self.returns: list[Value] = []
        self.returned = False
        self.global_names: set[str] = set()
        self.is_generator = False
        self.cls = cls  # the class whose method this frame runs (for `super()`)

    def lookup(self, name: str) -> Value | None:
        frame: Frame | None = self
        while frame is not None:
            if name in frame.locals:
                return frame.locals[name]
            frame = frame.parent
        return None

    def root(self) -> Frame:
        frame = self
        while frame.parent is not None:
            frame = frame.parent
        return frame


@dataclass(frozen=True)
class _Context:
    """What the walk is inside of; copied into every event's `Where`."""

    function: str = ""
    loops: tuple[Loop, ...] = ()
    branches: tuple = ()
    calls: tuple[cst.Call, ...] = ()
    callback_of: Trainer | None = None
    no_grad: bool = False
    standalone: bool = False
    lazy: LazyMap | None = None
    statement: cst.CSTNode | None = None


def literal(node: cst.BaseExpression | None) -> object:
    """The Python value of a constant expression, or `NotImplemented` when it is not one."""
    if node is None:
        return NotImplemented
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, cst.SimpleString):
        return _constant(node.value, str)
    if isinstance(node, cst.ConcatenatedString):
        value = node.evaluated_value
        return value if isinstance(value, str) else NotImplemented
    if isinstance(node, (cst.Integer, cst.Float)):
        return _constant(node.value, (int, float))
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = literal(node.expression)
        return -inner if isinstance(inner, (int, float)) and not isinstance(inner, bool) else NotImplemented
    return NotImplemented


def _constant(text: str, kind: type | tuple[type, ...]) -> object:
    """The value of a literal's source text, when it is of `kind`."""
    value = _literal_value(text)
    return value if isinstance(value, kind) else NotImplemented


@functools.lru_cache(maxsize=50_000)
def _literal_value(text: str) -> object:
    # The same literals recur thousands of times in a file, and `ast.literal_eval` was the walk's most frequent call.
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError):
        return NotImplemented


def dotted(node: cst.BaseExpression) -> str | None:
    """`a.b.c` as a string, when the expression is a plain dotted name."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr.value}" if head else None
    return None


def _module_like_name(name: str) -> bool:
    """Attribute names that, off an nn.Module of unknown layout, are evidence of a sub-module."""
    return bool(_MODULE_NAMES.search(name))


_MODULE_NAMES = re.compile(
    r"(^|_)(bert|roberta|deberta|distilbert|albert|electra|xlnet|gpt2?|llama|t5|bart|vit|clip|wav2vec2|hubert|whisper"
    r"|encoder|decoder|backbone|body|stem|trunk|neck|head|heads|classifier|embeddings|embedder|transformer|model"
    r"|layers?|blocks?|features|extractor|feature_extractor|resnet|cnn|rnn|lstm|gru|conv\d*|fc\d*|mlp|ffn|attention"
    r"|attn|pooler|projection|proj|projector|adapter|net|network|module|modules|tower|text_model|vision_model"
    r"|language_model|visual|lm|lm_head|qformer|unet|vae|text_encoder|image_encoder)($|_|\d)",
    re.IGNORECASE,
)
_TENSOR_FACTORIES = re.compile(
    r"^torch\.(zeros|ones|randn|rand|empty|full|tensor|arange|linspace|eye|randint|zeros_like|ones_like|randn_like"
    r"|empty_like|full_like|from_numpy|as_tensor|stack|cat)$"
)


class Collector:
    """Walks one module and returns its facts. Use `collect(source, module)`."""

    def __init__(self, source: Source, module: cst.Module, options: Options | None = None) -> None:
        self.facts = Facts(source=source, module=module, options=options or Options())
        self.order = 0
        self.steps = 0
        self.context = _Context()
        self.frame = Frame(None, "")
        self.active_calls: list[cst.CSTNode] = []
        self.functions: list[InFileFunction] = self.facts.functions  # every def seen, for the standalone walk
        self.walked: set[int] = set()  # id() of FunctionDef nodes already walked
        self.abstract_selves: dict[int, Value] = {}
        self.trainer_values: dict[int, Trainer] = {}

    # --- entry ---------------------------------------------------------------------------------------------------

    def run(self) -> Facts:
        self.exec_block(self.facts.module.body)
        self.walk_uncalled()
        return self.facts

    def walk_uncalled(self) -> None:
        index = 0
        while index < len(self.functions):
            function = self.functions[index]
            index += 1
            if id(function.node) in self.walked or isinstance(function.node, cst.Lambda):
                continue
            self_value: Value | None = None
            if function.owner is not None and not _is_static(function.node):
                self_value = self.abstract_self(function.owner)
            with self.within(standalone=True, calls=(), loops=(), branches=(), callback_of=None, lazy=None):
                self.call_function(function, [], {}, None, self_value=self_value, force=True)

    def abstract_self(self, cls: InFileClass) -> Value:
        """The `self` of a class's methods walked without an instance."""
        key = id(cls)
        if key not in self.abstract_selves:
            if self.is_module_class(cls):
                model = Model(
                    source=ModelSource.CUSTOM,
                    factory=cls.name,
                    qualname=cls.qualname,
                    node=cls.node,
                    where=self.where(cls.node),
                    class_name=cls.name,
                    cls=cls,
                    abstract=True,
                )
                self.abstract_selves[key] = model
                init = cls.find_method("__init__")
                if init is not None and id(init.node) not in self.walked:
                    with self.within(standalone=True):
                        self.call_function(init, [], {}, None, self_value=model, force=True)
            else:
                self.abstract_selves[key] = Instance(cls)
        return self.abstract_selves[key]

    # --- context -------------------------------------------------------------------------------------------------

    @contextmanager
    def within(self, **changes: object) -> Iterator[None]:
        saved = self.context
        self.context = replace(saved, **changes)
        try:
            yield
        finally:
            self.context = saved

    def where(self, node: cst.CSTNode) -> Where:
        self.order += 1
        c = self.context
        return Where(
            order=self.order,
            node=node,
            statement=c.statement,
            function=c.function,
            loops=c.loops,
            branches=c.branches,
            calls=c.calls,
            callback_of=c.callback_of,
            no_grad=c.no_grad,
            standalone=c.standalone,
            lazy=c.lazy,
        )

    def emit(self, event: Event) -> None:
        self.facts.events.append(event)

    # --- statements ----------------------------------------------------------------------------------------------

    def exec_block(self, body: Sequence[cst.CSTNode]) -> None:
        for statement in body:
            if self.frame.returned:
                break
            self.exec_statement(statement)

    def exec_suite(self, suite: cst.BaseSuite) -> None:
        self.exec_block(suite.body)

    def exec_statement(self, node: cst.CSTNode) -> None:
        self.steps += 1
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                with self.within(statement=small):
                    self.exec_small(small)
            return
        if isinstance(node, cst.BaseSmallStatement):
            # The body of a one-line compound statement: `for p in params: p.requires_grad = False`.
            with self.within(statement=node):
                self.exec_small(node)
            return
        with self.within(statement=node):
            method = getattr(self, "exec_" + type(node).__name__, None)
            if method is not None:
                method(node)

    def exec_small(self, node: cst.BaseSmallStatement) -> None:
        if isinstance(node, cst.Expr):
            self.exec_expression_statement(node.value)
        elif isinstance(node, cst.Assign):
            value = self.eval(node.value)
            for target in node.targets:
                self.assign(target.target, value, node.value)
            if isinstance(node.value, cst.Dict) and all(isinstance(t.target, cst.Name) for t in node.targets):
                for element in node.value.elements:
                    key = literal(element.key) if isinstance(element, cst.DictElement) else None
                    if isinstance(key, str) and key.isidentifier():
                        self.emit(OptionDefinition(self.where(element), name=key, kind="config key", spelled=f'"{key}"'))
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.eval(node.value), node.value)
        elif isinstance(node, cst.AugAssign):
            self.exec_aug_assign(node)
        elif isinstance(node, cst.Return):
            value = self.eval(node.value) if node.value is not None else Literal(None)
            self.frame.returns.append(value)
            if not self.in_nested_flow():
                self.frame.returned = True
        elif isinstance(node, (cst.Import, cst.ImportFrom)):
            self.exec_import(node)
        elif isinstance(node, cst.Global):
            self.frame.global_names.update(item.name.value for item in node.names)
        elif isinstance(node, cst.Del):
            self.exec_del(node.target)
        elif isinstance(node, cst.Raise):
            if node.exc is not None:
                self.eval(node.exc)
            if not self.in_nested_flow():
                self.frame.returned = True
        elif isinstance(node, cst.Assert):
            self.eval(node.test)

    def in_nested_flow(self) -> bool:
        """True inside an `if`/loop of the current function (a `return` there does not end the walk of the body)."""
        return self._flow_depth > 0

    _flow_depth = 0

    @contextmanager
    def nested_flow(self) -> Iterator[None]:
        self._flow_depth += 1
        try:
            yield
        finally:
            self._flow_depth -= 1

    def exec_expression_statement(self, expression: cst.BaseExpression) -> None:
        attempt = _attempted_freeze(expression)
        if attempt is not None:
            # `x.requires_grad == False` / `x.requires_grad_` as a statement: a freeze meant, nothing done.
            receiver, form, value_node = attempt
            flag = literal(value_node)
            owner = self.eval(receiver)
            if value_node is not None:
                self.eval(value_node)
            for option in owner.candidates():
                self.freeze(expression, option, flag if isinstance(flag, bool) else None, form, "requires_grad", value_node)
            value: Value = UNKNOWN
        else:
            value = self.eval(expression)
        if isinstance(expression, (cst.Comparison, cst.Attribute, cst.GeneratorExp)) or any(
            isinstance(option, LazyMap) for option in value.candidates()
        ):
            self.emit(ExpressionStatement(self.where(expression), expression=expression, value=value))

    def exec_aug_assign(self, node: cst.AugAssign) -> None:
        value = self.eval(node.value)
        if isinstance(node.target, cst.Name) and isinstance(node.operator, cst.AddAssign):
            old = self.frame.lookup(node.target.value)
            if isinstance(old, ListValue):
                if value is not old:
                    old.items.append(value)
                self.consume(value)
                return
            if old is not None and (_is_params(old) or _is_params(value)):
                self.bind(node.target.value, ParamGroups((old, value), node), node)
                return
        if isinstance(node.target, cst.Name):
            self.bind(node.target.value, UNKNOWN, node)
        else:
            self.eval(node.target)

    def exec_import(self, node: cst.Import | cst.ImportFrom) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = dotted(alias.name) or ""
                self.facts.imports.add(full)
                if alias.asname is not None:
                    self.bind(alias.asname.name.value, Imported(full), node)
                else:
                    head = full.split(".", 1)[0]
                    self.bind(head, Imported(head), node)
            return
        base = dotted(node.module) if node.module is not None else ""
        if node.relative:
            base = "." * len(node.relative) + (base or "")
        if isinstance(node.names, cst.ImportStar):
            self.facts.imports.add(f"{base}.*")
            return
        for alias in node.names:
            name = dotted(alias.name) or ""
            qualname = f"{base}.{name}" if base and not base.endswith(".") else f"{base}{name}"
            self.facts.imports.add(qualname)
            bound = alias.asname.name.value if alias.asname is not None else name
            self.bind(bound, Imported(qualname), node)

    def exec_del(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.frame.locals.pop(target.value, None)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.exec_del(element.value)

    def exec_FunctionDef(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            self.eval(decorator.decorator)
            declares = self.called_name(decorator.decorator)
            if declares in kb.CLI_OPTION_DECORATORS and isinstance(decorator.decorator, cst.Call):
                self.define_option(decorator.decorator, declares.split(".", 1)[0], node)
        defaults: dict[str, Value] = {}
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            if param.default is not None:
                defaults[param.name.value] = self.eval(param.default)
            annotation = param.annotation.annotation if param.annotation is not None else None
            if any(self.called_name(part) in kb.TYPER_PARAMETERS for part in (param.default, *_subscript_items(annotation))):
                self.emit(OptionDefinition(self.where(param), name=param.name.value, kind="typer", spelled=param.name.value, scope=node))
        prefix = self.frame.qualname
        qualname = f"{prefix}.{node.name.value}" if prefix else node.name.value
        function = InFileFunction(node=node, qualname=qualname, closure=self.frame, defaults=defaults)
        self.functions.append(function)
        self.frame.locals[node.name.value] = function

    def exec_ClassDef(self, node: cst.ClassDef) -> None:
        bases = tuple(self.eval(arg.value) for arg in node.bases if not arg.keyword)
        if any(self.called_name(d.decorator, bare=True) in kb.DATACLASS_DECORATORS for d in node.decorators):
            for statement in node.body.body:
                if isinstance(statement, cst.SimpleStatementLine):
                    for small in statement.body:
                        if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                            name = small.target.value
                            self.emit(OptionDefinition(self.where(small), name=name, kind="dataclass field", spelled=name))
        prefix = self.frame.qualname
        qualname = f"{prefix}.{node.name.value}" if prefix else node.name.value
        cls = InFileClass(node=node, qualname=qualname, bases=bases, methods={}, class_attrs={})
        outer = self.frame
        body_frame = Frame(outer, qualname, cls)
        self.frame = body_frame
        try:
            self.exec_suite(node.body)
        finally:
            self.frame = outer
        for name, value in body_frame.locals.items():
            if isinstance(value, InFileFunction):
                # Methods see the enclosing scope, not the class body.
                value.closure = outer
                value.owner = cls
                cls.methods[name] = value
            else:
                cls.class_attrs[name] = value
        self.facts.classes.append(cls)
        self.bind(node.name.value, cls, node)

    def exec_If(self, node: cst.If) -> None:
        self.eval(node.test)
        depth = len(self.context.loops)
        snapshot = dict(self.frame.locals)
        with self.nested_flow():
            with self.within(branches=(*self.context.branches, Branch(node, node.test, True, depth))):
                self.exec_suite(node.body)
            body_locals, body_returned = self.frame.locals, self.frame.returned
            self.frame.locals, self.frame.returned = dict(snapshot), False
            if node.orelse is not None:
                with self.within(branches=(*self.context.branches, Branch(node, node.test, False, depth))):
                    if isinstance(node.orelse, cst.If):
                        self.exec_If(node.orelse)
                    else:
                        self.exec_suite(node.orelse.body)
        self.merge_locals(snapshot, body_locals, self.frame.locals)
        self.frame.returned = body_returned and self.frame.returned

    def merge_locals(self, before: dict[str, Value], *arms: dict[str, Value]) -> None:
        merged: dict[str, Value] = {}
        for name in set().union(*arms):
            values = [arm.get(name, before.get(name, UNKNOWN)) for arm in arms]
            merged[name] = values[0] if all(v is values[0] for v in values) else one_of(values)
        self.frame.locals = merged

    def exec_For(self, node: cst.For) -> None:
        iterated = self.eval(node.iter)
        self.consume(iterated)
        loop = Loop(node, iterated)
        with self.nested_flow(), self.within(loops=(*self.context.loops, loop)):
            self.assign(node.target, self.element_of(iterated), node.iter)
            self.exec_suite(node.body)
        if node.orelse is not None:
            self.exec_suite(node.orelse.body)

    def exec_While(self, node: cst.While) -> None:
        loop = Loop(node, UNKNOWN)
        with self.nested_flow(), self.within(loops=(*self.context.loops, loop)):
            self.eval(node.test)
            self.exec_suite(node.body)
        if node.orelse is not None:
            self.exec_suite(node.orelse.body)

    def exec_With(self, node: cst.With) -> None:
        no_grad = self.context.no_grad
        for item in node.items:
            value = self.eval(item.item)
            for option in value.candidates():
                if isinstance(option, GradContext):
                    no_grad = not option.enabled
            if item.asname is not None:
                self.assign(item.asname.name, UNKNOWN, item.item)
        with self.within(no_grad=no_grad):
            self.exec_suite(node.body)

    def exec_Try(self, node: cst.Try | cst.TryStar) -> None:
        self.exec_suite(node.body)
        depth = len(self.context.loops)
        with self.nested_flow():
            for handler in node.handlers:
                with self.within(branches=(*self.context.branches, Branch(handler, None, True, depth))):
                    if handler.type is not None:
                        self.eval(handler.type)
                    self.exec_suite(handler.body)
        if node.orelse is not None:
            self.exec_suite(node.orelse.body)
        if node.finalbody is not None:
            self.exec_suite(node.finalbody.body)

    exec_TryStar = exec_Try

    def exec_Match(self, node: cst.Match) -> None:
        self.eval(node.subject)
        depth = len(self.context.loops)
        with self.nested_flow():
            for case in node.cases:
                with self.within(branches=(*self.context.branches, Branch(case, None, True, depth))):
                    self.exec_suite(case.body)

    # --- binding -------------------------------------------------------------------------------------------------

    def bind(self, name: str, value: Value, node: cst.CSTNode) -> None:
        frame = self.frame.root() if name in self.frame.global_names else self.frame
        old = frame.locals.get(name)
        if old is not None and old is not value and _holds_model(old):
            self.emit(Rebind(self.where(node), name=name, old=old, new=value))
        frame.locals[name] = value
        for option in value.candidates():
            if isinstance(option, Model):
                option.names.append(name)
            elif isinstance(option, ModuleRef) and not option.path:
                option.model.names.append(name)
            elif isinstance(option, Trainer):
                option.build.names.append(name)
            elif isinstance(option, Optimizer):
                option.build.names.append(name)

    def assign(self, target: cst.BaseExpression, value: Value, value_node: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.bind(target.value, value, target)
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            items = _tuple_items(value, len(elements))
            for element, item in zip(elements, items):
                if isinstance(element, cst.StarredElement):
                    self.assign(element.value, UNKNOWN, value_node)
                else:
                    self.assign(element.value, item, value_node)
        elif isinstance(target, cst.Attribute):
            self.assign_attribute(target, value, value_node)
        elif isinstance(target, cst.Subscript):
            owner = self.eval(target.value)
            key = _subscript_literal(target)
            for option in owner.candidates():
                if isinstance(option, DictValue) and isinstance(key, str):
                    option.entries[key] = value
        elif isinstance(target, cst.StarredElement):
            self.assign(target.value, UNKNOWN, value_node)

    def assign_attribute(self, target: cst.Attribute, value: Value, value_node: cst.BaseExpression) -> None:
        owner = self.eval(target.value)
        attribute = target.attr.value
        form = None
        if attribute == "requires_grad":
            form = FreezeForm.STORE
        elif attribute in kb.MISSPELLED_REQUIRES_GRAD or attribute in kb.FOREIGN_FREEZE_ATTRIBUTES:
            form = FreezeForm.MISSPELLED_STORE
        elif attribute == "requires_grad_":
            form = FreezeForm.METHOD_OVERWRITE
        if form is not None:
            flag = literal(value_node)
            if isinstance(flag, bool) and attribute in kb.INVERTED_FREEZE_ATTRIBUTES:
                flag = not flag  # `stop_gradient = True` means to freeze
            for option in owner.candidates():
                self.freeze(target, option, flag if isinstance(flag, bool) else None, form, attribute, value_node)
            return
        for option in owner.candidates():
            if isinstance(option, Model):
                option = ModuleRef(option)
            if isinstance(option, ModuleRef):
                if not option.path:
                    option.model.attrs[attribute] = value
                    for inner in value.candidates():
                        if isinstance(inner, Model):
                            inner.names.append(self.facts.code(target))
                self.emit(AttributeAssign(self.where(target), owner=option, attribute=attribute, value=value, value_node=value_node))
            elif isinstance(option, Instance):
                option.attrs[attribute] = value
                for inner in value.candidates():
                    if isinstance(inner, Model):
                        inner.names.append(self.facts.code(target))
            elif isinstance(option, (ParamRef, Trainer, Optimizer)):
                self.emit(AttributeAssign(self.where(target), owner=option, attribute=attribute, value=value, value_node=value_node))

    # --- options a user can set -----------------------------------------------------------------------------------

    def called_name(self, node: cst.BaseExpression | None, bare: bool = False) -> str | None:
        """The qualified name of the imported function `node` calls (with `bare`, also one it just names:
        `@dataclass`), or None."""
        if isinstance(node, cst.Call):
            node = node.func
        elif not bare:
            return None
        value = self.eval(node) if isinstance(node, (cst.Name, cst.Attribute)) else UNKNOWN
        return value.qualname if isinstance(value, Imported) else None

    def define_option(self, call: cst.Call, kind: str, scope: cst.FunctionDef | None) -> None:
        """`add_argument("--freeze-encoder", ...)`, `@click.option("--freeze-encoder/--no-freeze-encoder")`: the
        name code reads it by is the `dest=`, an undashed name, or the first long (else short) option, dashes made
        underscores, as argparse and click derive it."""
        spelled = [v for v in (literal(a.value) for a in call.args if a.keyword is None) if isinstance(v, str)]
        dest = next((literal(a.value) for a in call.args if a.keyword is not None and a.keyword.value == "dest"), None)
        names = [part for text in spelled for part in text.split("/")[:1]]
        undashed = [n for n in names if not n.startswith("-")]
        long = [n for n in names if n.startswith("--")]
        short = [n for n in names if n.startswith("-") and not n.startswith("--")]
        chosen = dest if isinstance(dest, str) else (undashed or long or short or [None])[0]
        if chosen:
            name = chosen.lstrip("-").replace("-", "_")
            if name.isidentifier():
                self.emit(OptionDefinition(self.where(call), name=name, kind=kind, spelled=spelled[0] if spelled else name, scope=scope))

    # --- freezing ------------------------------------------------------------------------------------------------

    def freeze(
        self,
        node: cst.CSTNode,
        target: Value,
        value: bool | None,
        form: FreezeForm,
        attribute: str = "requires_grad",
        value_node: cst.BaseExpression | None = None,
        partial: bool = False,
    ) -> None:
        if isinstance(target, Model):
            target = ModuleRef(target)
        loop, filters = self.filters_for(target)
        self.emit(
            FreezeOp(
                self.where(node),
                target=target,
                value=value,
                form=form,
                attribute=attribute,
                value_node=value_node,
                filters=filters,
                loop=loop,
                partial=partial,
            )
        )

    def filters_for(self, value: Value) -> tuple[Loop | None, tuple[Branch, ...]]:
        """The loop that drew `value` from its parameter set (or from a module iteration: `named_modules()`, a
        ModuleList), and the `if` tests inside that loop."""
        if isinstance(value, ParamRef) and value.source is not None:
            source = value.source
            draws = lambda iterated: _draws_from(iterated, source)  # noqa: E731
        elif isinstance(value, ModuleRef) and any(c in (ANY_CHILD, ANY_DESCENDANT) for c in value.path):
            draws = lambda iterated: _yields_module(iterated, value)  # noqa: E731
        else:
            return None, ()
        for index in range(len(self.context.loops) - 1, -1, -1):
            loop = self.context.loops[index]
            if any(draws(option) for option in loop.iterates.candidates()):
                filters = tuple(b for b in self.context.branches if isinstance(b, Branch) and b.depth > index)
                return loop, filters
        return None, ()

    # --- expressions ---------------------------------------------------------------------------------------------

    def eval(self, node: cst.BaseExpression | None) -> Value:
        if node is None:
            return UNKNOWN
        method = getattr(self, "eval_" + type(node).__name__, None)
        if method is None:
            return UNKNOWN
        return method(node)

    def eval_Name(self, node: cst.Name) -> Value:
        name = node.value
        if name in ("True", "False", "None"):
            return Literal(literal(node))
        value = self.frame.lookup(name)
        if value is not None:
            return value
        if name in _BUILTIN_NAMES:
            return Builtin(name)
        return UNKNOWN

    def eval_SimpleString(self, node: cst.SimpleString) -> Value:
        value = literal(node)
        return Literal(value) if value is not NotImplemented else UNKNOWN

    eval_ConcatenatedString = eval_SimpleString

    def eval_FormattedString(self, node: cst.FormattedString) -> Value:
        for part in node.parts:
            if isinstance(part, cst.FormattedStringExpression):
                self.eval(part.expression)
        return UNKNOWN

    def eval_Integer(self, node: cst.Integer) -> Value:
        return Literal(literal(node))

    eval_Float = eval_Integer

    def eval_Attribute(self, node: cst.Attribute) -> Value:
        owner = self.eval(node.value)
        return one_of([self.attribute_of(option, node.attr.value) for option in owner.candidates()])

    def eval_Subscript(self, node: cst.Subscript) -> Value:
        owner = self.eval(node.value)
        for element in node.slice:
            if isinstance(element.slice, cst.Index):
                self.eval(element.slice.value)
        component = _subscript_component(node)
        key = _subscript_literal(node)
        results: list[Value] = []
        for option in owner.candidates():
            if isinstance(option, Model):
                option = ModuleRef(option)
            if isinstance(option, ModuleRef) and _holds_parameters(option):
                results.append(ParamRef(owner=replace(option, path=(*option.path, component), kind=Kind.PARAMETER), node=node))
            elif isinstance(option, ModuleRef):
                kind = option.kind if option.kind is not Kind.PARAMETER else Kind.UNKNOWN
                results.append(replace(option, path=(*option.path, component), kind=kind))
            elif isinstance(option, (TupleValue, ListValue)) and isinstance(key, int):
                items = option.items
                results.append(items[key] if -len(items) <= key < len(items) else UNKNOWN)
            elif isinstance(option, DictValue) and isinstance(key, str):
                results.append(option.entries.get(key, UNKNOWN))
            elif isinstance(option, ParamSet) and option.copies:
                results.append(ParamRef(owner=option.module, source=option, copy=True, node=node))
            elif isinstance(option, (ParamSet, ModuleIter)) and component != ANY_CHILD:
                # `list(model.parameters())[:-2]`, `list(model.children())[0]`: a part of what iterating yields.
                if isinstance(key, int):
                    results.append(self.element_of(option))
                elif isinstance(option, ParamSet):
                    results.append(replace(option, node=node, name_filtered=True))
                else:
                    results.append(option)
            else:
                results.append(UNKNOWN)
        return one_of(results)

    def eval_Tuple(self, node: cst.Tuple | cst.List) -> Value:
        items: list[Value] = []
        starred = False
        for element in node.elements:
            value = self.eval(element.value)
            if isinstance(element, cst.StarredElement):
                starred = True
                self.consume(value)
            items.append(value)
        if any(_is_params(item) for item in items):
            return ParamGroups(tuple(items), node)
        if starred:
            return UNKNOWN
        if isinstance(node, cst.List):
            return ListValue(items, node)
        return TupleValue(tuple(items))

    eval_List = eval_Tuple

    def eval_Set(self, node: cst.Set) -> Value:
        for element in node.elements:
            self.eval(element.value)
        return UNKNOWN

    def eval_Dict(self, node: cst.Dict) -> Value:
        entries: dict[str, Value] = {}
        for element in node.elements:
            if isinstance(element, cst.DictElement):
                key = literal(element.key)
                value = self.eval(element.value)
                if isinstance(key, str):
                    entries[key] = value
            else:
                self.eval(element.value)
        return DictValue(entries)

    def eval_BinaryOperation(self, node: cst.BinaryOperation) -> Value:
        left, right = self.eval(node.left), self.eval(node.right)
        if isinstance(node.operator, cst.Add) and (_is_params(left) or _is_params(right)):
            return ParamGroups((left, right), node)
        return UNKNOWN

    def eval_BooleanOperation(self, node: cst.BooleanOperation) -> Value:
        left, right = self.eval(node.left), self.eval(node.right)
        tracked = [v for v in (left, right) if not isinstance(v, (Literal, Unknown))]
        return one_of(tracked) if tracked else UNKNOWN

    def eval_UnaryOperation(self, node: cst.UnaryOperation) -> Value:
        value = self.eval(node.expression)
        if isinstance(node.operator, cst.Not) and isinstance(value, Literal) and isinstance(value.value, bool):
            return Literal(not value.value)
        constant = literal(node)
        return Literal(constant) if constant is not NotImplemented else UNKNOWN

    def eval_Comparison(self, node: cst.Comparison) -> Value:
        self.eval(node.left)
        for target in node.comparisons:
            self.eval(target.comparator)
        return UNKNOWN

    def eval_IfExp(self, node: cst.IfExp) -> Value:
        self.eval(node.test)
        return one_of([self.eval(node.body), self.eval(node.orelse)])

    def eval_Await(self, node: cst.Await) -> Value:
        return self.eval(node.expression)

    def eval_Yield(self, node: cst.Yield) -> Value:
        self.frame.is_generator = True
        if isinstance(node.value, cst.From):
            self.eval(node.value.item)
        elif node.value is not None:
            self.eval(node.value)
        return UNKNOWN

    def eval_NamedExpr(self, node: cst.NamedExpr) -> Value:
        value = self.eval(node.value)
        self.assign(node.target, value, node.value)
        return value

    def eval_Lambda(self, node: cst.Lambda) -> Value:
        defaults = {p.name.value: self.eval(p.default) for p in node.params.params if p.default is not None}
        return InFileFunction(node=node, qualname=f"{self.frame.qualname}.<lambda>", closure=self.frame, defaults=defaults)

    def eval_ListComp(self, node: cst.BaseComprehension) -> Value:
        return self.eval_comprehension(node)

    eval_SetComp = eval_ListComp
    eval_GeneratorExp = eval_ListComp
    eval_DictComp = eval_ListComp

    def eval_comprehension(self, node: cst.BaseComprehension) -> Value:
        lazy = LazyMap(node) if isinstance(node, cst.GeneratorExp) else None
        outer_frame, saved = self.frame, self.context
        self.frame = Frame(outer_frame, outer_frame.qualname)
        element: Value = UNKNOWN
        try:
            if lazy is not None:
                self.context = replace(self.context, lazy=lazy)
            clause: cst.CompFor | None = node.for_in
            while clause is not None:
                iterated = self.eval(clause.iter)
                self.consume(iterated)
                loop = Loop(clause, iterated)
                self.context = replace(self.context, loops=(*self.context.loops, loop))
                self.assign(clause.target, self.element_of(iterated), clause.iter)
                for condition in clause.ifs:
                    self.eval(condition.test)
                    branch = Branch(condition, condition.test, True, len(self.context.loops))
                    self.context = replace(self.context, branches=(*self.context.branches, branch))
                clause = clause.inner_for_in
            if isinstance(node, cst.DictComp):
                self.eval(node.key)
                element = self.eval(node.value)
            else:
                element = self.eval(node.elt)
            derived = self.derive_param_set(element, node, one_shot=lazy is not None)
        finally:
            self.frame, self.context = outer_frame, saved
        if derived is not None:
            derived.lazy = lazy
            return derived
        return lazy if lazy is not None else UNKNOWN

    def derive_param_set(self, element: Value, node: cst.CSTNode, one_shot: bool) -> ParamSet | None:
        """A comprehension or append loop over parameters: the subset it keeps, judged by its `if` tests."""
        named = False
        if isinstance(element, TupleValue) and len(element.items) == 2 and isinstance(element.items[1], ParamRef):
            element, named = element.items[1], True
        if not isinstance(element, ParamRef) or element.source is None:
            return None
        _, filters = self.filters_for(element)
        only_trainable = name_filtered = False
        for branch in filters:
            test = branch.test
            if test is None:
                continue
            text = self.facts.module.code_for_node(test)
            negated = isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not)
            if "requires_grad" in text and not negated and "== False" not in text and "is False" not in text:
                only_trainable = True
            else:
                name_filtered = True
        source = element.source
        return ParamSet(
            module=source.module,
            node=node,
            named=named,
            only_trainable=only_trainable or source.only_trainable,
            name_filtered=name_filtered or source.name_filtered,
            one_shot=one_shot,
            copies=source.copies or element.copy,
        )

    # --- attribute access ----------------------------------------------------------------------------------------

    def attribute_of(self, owner: Value, attribute: str) -> Value:
        if isinstance(owner, Imported):
            return Imported(f"{owner.qualname}.{attribute}")
        if isinstance(owner, Model):
            owner = ModuleRef(owner)
        if isinstance(owner, ModuleRef):
            return self.module_attribute(owner, attribute)
        if isinstance(owner, ParamRef):
            if attribute == "data":
                return replace(owner, copy=True)
            return UNKNOWN
        if isinstance(owner, Trainer):
            build = owner.build
            if attribute == "model" or attribute == "model_wrapped":
                return owner.current_model
            if attribute == "optimizer":
                return build.optimizer
            if attribute == "args":
                return build.args
            return UNKNOWN
        if isinstance(owner, Instance):
            if attribute in owner.attrs:
                return owner.attrs[attribute]
            return self.class_attribute(owner.cls, attribute, owner)
        if isinstance(owner, InFileClass):
            return self.class_attribute(owner, attribute, None)
        if isinstance(owner, Config):
            return owner.kwargs.get(attribute, UNKNOWN)
        if isinstance(owner, LibraryObject):
            return LibraryObject(f"{owner.qualname}.{attribute}")
        if isinstance(owner, Super):
            for cls in list(owner.cls.mro())[1:]:
                if attribute in cls.methods:
                    return replace(cls.methods[attribute], bound_self=owner.self_value)
            return UNKNOWN
        return UNKNOWN

    def class_attribute(self, cls: InFileClass, attribute: str, instance: Value | None) -> Value:
        for klass in cls.mro():
            if attribute in klass.methods:
                method = klass.methods[attribute]
                return replace(method, bound_self=instance) if instance is not None else method
            if attribute in klass.class_attrs:
                return klass.class_attrs[attribute]
        return UNKNOWN

    def module_attribute(self, ref: ModuleRef, attribute: str) -> Value:
        model = ref.model
        if attribute in kb.UNWRAPPING_ATTRIBUTES and (ref.wrapper is not None or attribute == "_orig_mod"):
            return replace(ref, wrapper=None)
        if not ref.path:
            # An in-file module's attribute assigned from code the analysis cannot see (`self.backbone =
            # build_backbone(cfg)`) is judged by its name below, like one never assigned.
            unseen = model.cls is not None and isinstance(model.attrs.get(attribute), Unknown)
            if attribute in model.attrs and not unseen:
                return _normalize(model.attrs[attribute], ModuleRef(model, (attribute,), Kind.PARAMETER, ref.wrapper))
            if model.cls is not None:
                found = self.class_attribute(model.cls, attribute, ref)
                if found is not UNKNOWN:
                    return found
            if model.inner is not None and attribute == "base_model":
                return ModuleRef(model, ("base_model",))
        if attribute in kb.MODULE_NON_MODULE_ATTRIBUTES:
            return UNKNOWN
        if attribute == "data":
            # Modules have no `.data`: the reference was a parameter or tensor, and this is a detached view of it.
            return ParamRef(owner=replace(ref, kind=Kind.PARAMETER), copy=True)
        path = (*ref.path, attribute)
        if kb.PARAMETER_ATTRIBUTE.match(attribute):
            return ParamRef(owner=ModuleRef(model, path, Kind.PARAMETER, ref.wrapper))
        if ref.kind is Kind.PARAMETER:
            return UNKNOWN
        return ModuleRef(model, path, self.classify(ref, attribute), ref.wrapper)

    def classify(self, parent: ModuleRef, attribute: str) -> Kind:
        """Is `parent.attribute` a sub-module? Library models are made of modules; in-file classes need evidence."""
        model = parent.model
        if attribute in kb.LIBRARY_TENSOR_NAMES:
            return Kind.UNKNOWN  # an nn.Parameter in some architectures, a sub-module in others
        library_model = model.source is not ModelSource.CUSTOM or model.library is not None
        if parent.kind is Kind.MODULE and library_model:
            return Kind.MODULE
        if parent.kind is Kind.MODULE and parent.path and _module_like_name(parent.path[-1]):
            return Kind.MODULE if _module_like_name(attribute) else Kind.UNKNOWN
        return Kind.MODULE if _module_like_name(attribute) else Kind.UNKNOWN

    # --- calls ---------------------------------------------------------------------------------------------------

    def eval_Call(self, node: cst.Call) -> Value:
        func = node.func
        receiver: Value | None = None
        if isinstance(func, cst.Attribute) and func.attr.value == "add_argument":
            self.define_option(node, "argparse", None)
        if isinstance(func, cst.Attribute):
            receiver = self.eval(func.value)
        else:
            callee = self.eval(func)
        args: list[Value] = []
        kwargs: dict[str, Value] = {}
        for arg in node.args:
            value = self.eval(arg.value)
            if arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            elif arg.star == "*":
                self.consume(value)
                if isinstance(value, TupleValue):
                    args.extend(value.items)
                else:
                    args.append(UNKNOWN)
            elif arg.star == "**":
                if isinstance(value, DictValue):
                    kwargs.update(value.entries)
            else:
                args.append(value)
        results: list[Value] = []
        if receiver is not None:
            method = func.attr.value  # type: ignore[union-attr]
            for option in receiver.candidates():
                results.append(self.call_method(option, method, args, kwargs, node))
        else:
            for option in callee.candidates():
                results.append(self.call_value(option, args, kwargs, node))
        return one_of(results)

    def call_value(self, callee: Value, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
        if isinstance(callee, Imported):
            return self.call_library(callee.qualname, args, kwargs, node)
        if isinstance(callee, Builtin):
            return self.call_builtin(callee.name, args, kwargs, node)
        if isinstance(callee, InFileFunction):
            return self.call_function(callee, args, kwargs, node)
        if isinstance(callee, InFileClass):
            return self.instantiate(callee, args, kwargs, node)
        if isinstance(callee, (Model, ModuleRef)):
            ref = callee if isinstance(callee, ModuleRef) else ModuleRef(callee)
            return self.forward(ref, args, kwargs, node)
        if isinstance(callee, LibraryObject):
            return self.call_library(callee.qualname + ".__call__", args, kwargs, node)
        self.opaque(args, kwargs, node, "an unknown callable")
        return UNKNOWN

    def call_method(self, receiver: Value, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
        if isinstance(receiver, Imported):
            return self.call_library(f"{receiver.qualname}.{method}", args, kwargs, node, receiver=receiver)
        if isinstance(receiver, Model):
            receiver = ModuleRef(receiver)
        if isinstance(receiver, ModuleRef):
            return self.module_method(receiver, method, args, kwargs, node)
        if isinstance(receiver, ParamRef):
            return self.param_method(receiver, method, args, kwargs, node)
        if isinstance(receiver, ParamSet):
            if receiver.copies and method in ("items", "values"):
                return replace(receiver, named=method == "items")
            return UNKNOWN
        if isinstance(receiver, Optimizer):
            self.emit(OptimizerCall(self.where(node), optimizer=receiver, method=method, call=node))
            if method == "add_param_group":
                self.consume(args[0] if args else UNKNOWN)
            return UNKNOWN
        if isinstance(receiver, Trainer):
            return self.trainer_method(receiver, method, args, kwargs, node)
        if isinstance(receiver, (Instance, InFileClass, Super)):
            return self.object_method(receiver, method, args, kwargs, node)
        if isinstance(receiver, LibraryObject):
            return self.call_library(f"{receiver.qualname}.{method}", args, kwargs, node, receiver=receiver)
        if isinstance(receiver, ListValue):
            if method in ("append", "extend", "insert"):
                value = args[-1] if args else UNKNOWN
                self.consume(value)
                derived = self.derive_param_set(value, node, one_shot=False) if method == "append" else None
                if value is not receiver:
                    receiver.items.append(derived if derived is not None else value)
            return UNKNOWN
        if isinstance(receiver, DictValue):
            if method == "get" and args and isinstance(args[0], Literal):
                return receiver.entries.get(str(args[0].value), args[1] if len(args) > 1 else UNKNOWN)
            if method == "items":
                return IterableOf(TupleValue((UNKNOWN, one_of(list(receiver.entries.values())))))
            if method == "values":
                return IterableOf(one_of(list(receiver.entries.values())))
            return UNKNOWN
        if isinstance(receiver, InFileFunction):
            return UNKNOWN
        if isinstance(receiver, ModuleOutput) and method != "backward":
            # `self.backbone(x).detach()`: what is done with a module's output (gradients cut off after it).
            self.emit(ModuleCall(self.where(node), receiver=receiver, method=method, call=node, args=tuple(args), kwargs=kwargs))
        if method == "backward":
            self.emit(Backward(self.where(node)))
            return UNKNOWN
        if method == "requires_grad_" and isinstance(receiver, Unknown):
            self.freeze(node, receiver, _requires_grad_flag(node), FreezeForm.CALL, method, _argument(node, 0, "requires_grad"))
            return UNKNOWN
        if method in kb.FREEZE_METHODS and isinstance(receiver, Unknown):
            self.freeze(node, receiver, kb.FREEZE_METHODS[method], FreezeForm.HELPER, method, partial=True)
            return UNKNOWN
        if isinstance(receiver, Unknown):
            # A method of an object we do not track: a model handed to it may be changed there.
            self.opaque(args, kwargs, node, f".{method}()", only_unknown_packages=False)
        return UNKNOWN

    def forward(self, ref: ModuleRef, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
        self.emit(Forward(self.where(node), module=ref))
        model = ref.model
        if not ref.path and model.cls is not None:
            method = model.cls.find_method("forward")
            if method is not None:
                return self.call_function(method, args, kwargs, node, self_value=ref)
        return ModuleOutput(ref, (*args, *kwargs.values()))

    def module_method(self, ref: ModuleRef, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
        model = ref.model
        held = [as_ref(option) for option in model.attrs[method].candidates()] if not ref.path and method in model.attrs else []
        if held and all(sub is not None for sub in held):
            # `self.encoder(x)`: a sub-module assigned in this file, called on inputs.
            return one_of([self.forward(sub, args, kwargs, node) for sub in held if sub is not None])
        self.emit(ModuleCall(self.where(node), receiver=ref, method=method, call=node, args=tuple(args), kwargs=kwargs))
        # A method the file defines on its own class runs its body.
        if not ref.path and model.cls is not None:
            defined = model.cls.find_method(method)
            if defined is not None:
                return self.call_function(defined, args, kwargs, node, self_value=ref)
        if method in kb.PARAMETER_ITERATORS:
            return ParamSet(module=ref, node=node, named=kb.PARAMETER_ITERATORS[method])
        if method in kb.MODULE_ITERATORS:
            named = kb.MODULE_ITERATORS[method]
            return ModuleIter(ref, named=named, recursive=method in ("modules", "named_modules"))
        if method == "state_dict":
            return ParamSet(module=ref, node=node, named=True, one_shot=False, copies=True)
        if method in kb.TENSOR_COPY_METHODS:
            # Modules have no `detach()`/`clone()`: the reference was a parameter or tensor; this is a copy of it.
            return ParamRef(owner=replace(ref, kind=Kind.PARAMETER), copy=True, node=node)
        if method == "requires_grad_":
            self.freeze(node, ref, _requires_grad_flag(node), FreezeForm.CALL, method, _argument(node, 0, "requires_grad"))
            return ref
        if method in kb.FREEZE_METHODS:
            self.freeze(node, ref, kb.FREEZE_METHODS[method], FreezeForm.HELPER, method, partial=True)
            return UNKNOWN
        if method in kb.PEFT_METHODS:
            config = args[0] if args else kwargs.get("adapter_config", kwargs.get("peft_config", UNKNOWN))
            if method in ("add_adapter", "load_adapter"):
                self.emit(PeftApply(self.where(node), model=ref, result=ref, how=method, config=config, call=node))
            return UNKNOWN
        if method in kb.SUBMODULE_METHODS:
            name = literal(_argument(node, 0, "target"))
            if method == "get_submodule" and isinstance(name, str):
                return ModuleRef(model, (*ref.path, *name.split(".")), Kind.MODULE, ref.wrapper)
            if method in ("get_base_model", "get_model") and model.inner is not None:
                return ModuleRef(model.inner)
            return ModuleRef(model, (*ref.path, f"{method}()"), Kind.MODULE, ref.wrapper)
        if method in ("merge_and_unload", "unload") and model.inner is not None:
            return ModuleRef(model.inner)
        if method in kb.SELF_RETURNING_METHODS:
            if method == "apply" and args and isinstance(args[0], InFileFunction):
                descendant = ModuleRef(model, (*ref.path, ANY_DESCENDANT), Kind.MODULE, ref.wrapper)
                self.call_function(args[0], [descendant], {}, node)
            return ref
        if method == "forward":
            return self.forward(ref, args, kwargs, node)
        if method == "backward":
            self.emit(Backward(self.where(node)))
        return UNKNOWN

    def param_method(self, ref: ParamRef, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
        if method == "requires_grad_":
            self.freeze(node, ref, _requires_grad_flag(node), FreezeForm.CALL, method, _argument(node, 0, "requires_grad"))
            return ref
        if method in kb.TENSOR_COPY_METHODS:
            return replace(ref, copy=True, node=node)
        if method == "detach_":
            return ref  # in place: on a leaf parameter it clears requires_grad of the parameter itself
        if method == "backward":
            self.emit(Backward(self.where(node)))
        self.emit(ModuleCall(self.where(node), receiver=ref, method=method, call=node, args=tuple(args), kwargs=kwargs))
        return UNKNOWN

    def trainer_method(self, trainer: Trainer, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
        build = trainer.build
        self.emit(ModuleCall(self.where(node), receiver=trainer, method=method, call=node, args=tuple(args), kwargs=kwargs))
        if method == "add_callback" and args:
            trainer.callbacks.append(args[0])
            return UNKNOWN
        if method in kb.TRAIN_METHODS:
            model = args[0] if (args and build.library == "lightning") else kwargs.get("model", UNKNOWN)
            if build.library != "lightning":
                if isinstance(build.model_init, InFileFunction):
                    # HF Trainer calls model_init again at train(): a fresh model replaces whatever was frozen.
                    trainer.current_model = self.call_function(build.model_init, [], {}, node)
                model = trainer.current_model
            self.emit(TrainCall(self.where(node), trainer=trainer, model=model))
            self.run_callbacks(trainer, model, node)
            self.run_training_steps(build.library, model, node)
            return UNKNOWN
        if method == "create_optimizer":
            return UNKNOWN
        return UNKNOWN

    def run_training_steps(self, library: str, model: Value, node: cst.Call) -> None:
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
            with self.within(loops=(*self.context.loops, loop)):
                if step == "forward":
                    self.forward(ref, [UNKNOWN], {}, node)
                else:
                    self.call_function(method, [UNKNOWN, UNKNOWN], {}, node, self_value=ref)

    def run_callbacks(self, trainer: Trainer, model: Value, node: cst.Call) -> None:
        """Walk the hooks of the trainer's callbacks (and a Lightning module's own hooks) as training runs them.

        Lightning runs set-up hooks (a `BaseFinetuning`'s `freeze_before_training`), then the module's
        `configure_optimizers`, then the per-epoch hooks (`finetune_function` gets that optimizer). The HF Trainer
        builds its optimizer before any hook. Per-epoch hooks are walked inside a loop: they run again and again.
        """
        lightning = trainer.build.library == "lightning"
        setup: list[tuple[InFileFunction, Value]] = []
        configure: list[tuple[InFileFunction, Value]] = []
        epoch: list[tuple[InFileFunction, Value]] = []
        for callback in trainer.callbacks:
            for option in callback.candidates():
                instance = self.instantiate(option, [], {}, node) if isinstance(option, InFileClass) else option
                if not isinstance(instance, Instance):
                    continue
                finetuning = bool(set(instance.cls.library_bases()) & set(kb.LIGHTNING_CALLBACK_BASES))
                for name, method in _methods(instance.cls):
                    if lightning and (name in kb.LIGHTNING_SETUP_HOOKS or (name == "freeze_before_training" and finetuning)):
                        setup.append((method, instance))
                    elif name.startswith("on_") or name == "finetune_function":
                        epoch.append((method, instance))
        if lightning:
            for option in model.candidates():
                target = option.model if isinstance(option, ModuleRef) else option
                if isinstance(target, Model) and target.cls is not None:
                    for name, method in _methods(target.cls):
                        phase = setup if name in kb.LIGHTNING_SETUP_HOOKS else configure if name == "configure_optimizers" else (
                            epoch if name in kb.LIGHTNING_MODULE_HOOKS else None
                        )
                        if phase is not None:
                            phase.append((method, ModuleRef(target)))
        if not (setup or configure or epoch):
            return
        bindings: dict[str, Value] = {"model": model, "pl_module": model, "optimizer": trainer.build.optimizer, "trainer": trainer}
        with self.within(callback_of=trainer):
            self.run_hooks(setup, bindings, node)
            optimizers = [_optimizers_in(self.run_hooks([hook], bindings, node)) for hook in configure]
            if optimizers:
                bindings["optimizer"] = one_of(optimizers)
            with self.within(loops=(*self.context.loops, Loop(node, UNKNOWN))):
                self.run_hooks(epoch, bindings, node)

    def run_hooks(self, hooks: list[tuple[InFileFunction, Value]], bindings: dict[str, Value], node: cst.Call) -> Value:
        """Call each hook with the arguments it names; the value the last one returned."""
        result: Value = UNKNOWN
        for method, self_value in hooks:
            kwargs = {name: value for name, value in bindings.items() if _has_parameter(method.node, name)}
            result = self.call_function(method, [], kwargs, node, self_value=self_value, extra_kwargs=DictValue(dict(bindings)))
        return result

    def object_method(self, receiver: Value, method: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
        if isinstance(receiver, Super):
            if method == "__init__":
                for cls in list(receiver.cls.mro())[1:]:
                    if "__init__" in cls.methods:
                        return self.call_function(cls.methods["__init__"], args, kwargs, node, self_value=receiver.self_value)
            return UNKNOWN
        cls = receiver.cls if isinstance(receiver, Instance) else receiver
        assert isinstance(cls, InFileClass)
        defined = cls.find_method(method)
        if isinstance(receiver, InFileClass) and method in ("from_pretrained", "from_config") and defined is None:
            return self.instantiate(receiver, args, kwargs, node, factory=method)
        if defined is not None:
            self_value = receiver if isinstance(receiver, Instance) else None
            if _is_classmethod(defined.node):
                self_value = cls
            return self.call_function(defined, args, kwargs, node, self_value=self_value)
        bases = set(cls.library_bases())
        if method in kb.LIGHTNING_FINETUNING_METHODS and bases & set(kb.LIGHTNING_CALLBACK_BASES):
            modules = args[0] if args else kwargs.get("modules", kwargs.get("module", UNKNOWN))
            for target in _flatten([modules]):
                for option in target.candidates():
                    self.freeze(node, option, kb.LIGHTNING_FINETUNING_METHODS[method], FreezeForm.HELPER, method)
            if method == "unfreeze_and_add_param_group":
                # Lightning adds the unfrozen parameters to the optimizer it is given.
                optimizer = args[1] if len(args) > 1 else kwargs.get("optimizer", UNKNOWN)
                for option in optimizer.candidates():
                    if isinstance(option, Optimizer):
                        self.emit(OptimizerCall(self.where(node), optimizer=option, method="add_param_group", call=node))
            return UNKNOWN
        return UNKNOWN

    def call_builtin(self, name: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
        first = args[0] if args else UNKNOWN
        if name == "filter" and len(args) == 2:
            self.consume(args[1])
            return one_of([self.filtered(option, args[0], node) for option in args[1].candidates()])
        if name == "map" and len(args) >= 2:
            lazy = LazyMap(node)
            function = args[0]
            if isinstance(function, InFileFunction):
                with self.within(lazy=lazy):
                    iterated = args[1]
                    loop = Loop(node, iterated)
                    with self.within(loops=(*self.context.loops, loop)):
                        self.call_function(function, [self.element_of(iterated)], {}, node)
            return lazy
        if name in ("list", "tuple", "sorted", "set"):
            self.consume(first)
            for option in first.candidates():
                if isinstance(option, (ParamSet, ParamGroups)):
                    return replace(option, one_shot=False)
                if isinstance(option, ModuleIter):
                    return option  # `list(model.children())`: the same modules
            if isinstance(first, (TupleValue, ListValue)):
                return ListValue(list(first.items), node)
            return UNKNOWN
        if name in ("iter", "reversed"):
            return first
        if name == "enumerate":
            self.consume(first)
            return IterableOf(TupleValue((UNKNOWN, self.element_of(first))))
        if name == "zip":
            for value in args:
                self.consume(value)
            return IterableOf(TupleValue(tuple(self.element_of(a) for a in args)))
        if name == "next":
            self.consume(first, partial=True)
            return self.element_of(first)
        if name == "getattr" and len(args) >= 2 and isinstance(args[1], Literal) and isinstance(args[1].value, str):
            return one_of([self.attribute_of(option, args[1].value) for option in first.candidates()])
        if name == "setattr" and len(args) == 3 and isinstance(args[1], Literal) and args[1].value == "requires_grad":
            flag = args[2].value if isinstance(args[2], Literal) and isinstance(args[2].value, bool) else None
            for option in first.candidates():
                self.freeze(node, option, flag, FreezeForm.STORE, "requires_grad", _argument(node, 2, "value"))
            return UNKNOWN
        if name == "super":
            cls = self.frame.cls
            self_value = self.frame.lookup("self")
            if cls is not None and self_value is not None:
                return Super(cls, self_value)
            return UNKNOWN
        if name in kb.CONSUMING_BUILTINS:  # `print(params)` or `id(params)` does not iterate
            for value in (*args, *kwargs.values()):
                self.consume(value)
        return UNKNOWN

    def filtered(self, iterable: Value, predicate: Value, node: cst.Call) -> Value:
        if not isinstance(iterable, ParamSet):
            return UNKNOWN
        text = ""
        if isinstance(predicate, InFileFunction):
            text = self.facts.module.code_for_node(predicate.node)
        trainable = "requires_grad" in text and "not " not in text
        return ParamSet(
            module=iterable.module,
            node=node,
            named=iterable.named,
            only_trainable=trainable or iterable.only_trainable,
            name_filtered=not trainable or iterable.name_filtered,
            one_shot=True,
            copies=iterable.copies,
        )

    # --- library calls -------------------------------------------------------------------------------------------

    def call_library(
        self,
        qualname: str,
        args: list[Value],
        kwargs: dict[str, Value],
        node: cst.Call,
        receiver: Value | None = None,
    ) -> Value:
        self.emit(LibraryCall(self.where(node), qualname=qualname, call=node, args=tuple(args), kwargs=kwargs))
        head, _, last = qualname.rpartition(".")
        first = args[0] if args else UNKNOWN

        if last in ("from_pretrained", "from_config", "_from_config"):
            made = self.load_model(head, last, args, kwargs, node)
            if made is not None:
                return made
        if qualname in kb.MODEL_FACTORIES or (qualname.startswith(kb.TORCHVISION_MODELS) and last[:1].islower()):
            library = kb.MODEL_FACTORIES.get(qualname, "torchvision")
            checkpoint = literal(_argument(node, 0, "model_name"))
            made_model = self.new_model(
                ModelSource.FACTORY, qualname, node, class_name=checkpoint if isinstance(checkpoint, str) else last,
                checkpoint=checkpoint if isinstance(checkpoint, str) else None, library=library,
            )
            if qualname.endswith("create_model_and_transforms"):
                return TupleValue((made_model, UNKNOWN, UNKNOWN))
            return made_model
        if qualname in kb.PEFT_WRAPPERS:
            return self.wrap_peft(first, kwargs.get("peft_config", args[1] if len(args) > 1 else UNKNOWN), node, kb.PEFT_WRAPPERS[qualname])
        if qualname in kb.PEFT_IN_PLACE:
            index = kb.PEFT_IN_PLACE[qualname]
            model = args[index] if len(args) > index else kwargs.get("model", UNKNOWN)
            self.emit(PeftApply(self.where(node), model=model, result=model, how=last, config=first, call=node))
            return model
        if kb.PEFT_CONFIGS.match(qualname) or kb.TRAINING_ARGUMENTS.match(qualname):
            return Config(qualname, node, dict(kwargs))
        if receiver is None and _is_transformers_model_class(qualname) and (args or kwargs):
            # `BertForSequenceClassification(config)`: a model with random weights, built from its configuration.
            built = self.new_model(
                ModelSource.FROM_CONFIG, qualname, node, class_name=last, library="transformers",
                num_layers=_layer_count(args, kwargs, None),
            )
            built.factory = last
            return built
        if qualname in kb.FREEZE_FUNCTIONS or qualname in self.facts.options.freeze_helpers:
            form = FreezeForm.KBIT_PREPARE if "prepare_model_for" in qualname else FreezeForm.HELPER
            model = first if args else kwargs.get("model", kwargs.get("module", UNKNOWN))
            # A project's own helper freezes some of its argument; which part, the configuration does not say.
            partial = qualname not in kb.FREEZE_FUNCTIONS
            for option in model.candidates():
                self.freeze(node, option, kb.FREEZE_FUNCTIONS.get(qualname, False), form, last, partial=partial)
            return model
        if qualname in kb.WRAPPERS:
            return self.wrap(first, kb.WRAPPERS[qualname], node)
        if qualname == kb.DEEPSPEED_INITIALIZE:
            model = kwargs.get("model", first)
            wrapped = self.wrap(model, "deepspeed", node)
            optimizer: Value = kwargs.get("optimizer", UNKNOWN)
            if "model_parameters" in kwargs and optimizer is UNKNOWN:
                optimizer = self.build_optimizer(qualname, kwargs["model_parameters"], node)
            return TupleValue((wrapped, optimizer, UNKNOWN, UNKNOWN))
        if last in kb.PREPARE_METHODS and receiver is not None and head.split(".", 1)[0] in ("accelerate", "lightning", "pytorch_lightning"):
            wrapped_args = [self.wrap(a, kb.PREPARE_METHODS[last], node) if _holds_model(a) else a for a in args]
            return wrapped_args[0] if len(wrapped_args) == 1 else TupleValue(tuple(wrapped_args))
        if last == "backward" and receiver is not None:
            self.emit(Backward(self.where(node)))
            return UNKNOWN
        if last == "unwrap_model" and receiver is not None:
            return first
        if qualname.startswith("torch.nn.") and qualname.count(".") == 2:
            if last == "Parameter":
                return ParamRef(new=True, node=node)
            if last[:1].isupper() and last not in kb.TORCH_NN_NON_MODULES:
                layer = self.new_model(ModelSource.LAYER, qualname, node, class_name=last, library="torch")
                if last in ("Sequential", "ModuleList"):
                    for index, part in enumerate(_flatten(args)):
                        layer.attrs[f"[{index}]"] = part
                elif last == "ModuleDict" and args and isinstance(args[0], DictValue):
                    layer.attrs.update({f"[{k!r}]": v for k, v in args[0].entries.items()})
                return layer
        if _TENSOR_FACTORIES.match(qualname):
            return ParamRef(node=node)  # a plain tensor: evidence that it is not a module
        if qualname in ("torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad"):
            return GradContext(enabled=False)
        if qualname in ("torch.enable_grad",):
            return GradContext(enabled=True)
        if qualname in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled"):
            flag = literal(_argument(node, 0, "mode"))
            return GradContext(enabled=bool(flag)) if isinstance(flag, bool) else UNKNOWN
        if qualname in ("itertools.chain", "itertools.chain.from_iterable"):
            parts = (self.element_of(args[0]),) if last == "from_iterable" and args else tuple(args)
            for part in args:
                self.consume(part)
            return ParamGroups(parts, node, one_shot=True)
        if qualname == "copy.deepcopy":
            for option in first.candidates():
                if isinstance(option, (Model, ModuleRef)):
                    original = option if isinstance(option, Model) else option.model
                    return self.new_model(
                        ModelSource.COPY, qualname, node, class_name=original.class_name,
                        checkpoint=original.checkpoint, library=original.library,
                    )
            return UNKNOWN
        if _is_optimizer(qualname):
            params = kwargs.get("params", first)
            if qualname in kb.OPTIMIZER_FROM_MODEL:
                params = one_of([
                    ParamSet(module=o if isinstance(o, ModuleRef) else ModuleRef(o), node=node, one_shot=False)
                    for o in first.candidates() if isinstance(o, (Model, ModuleRef))
                ]) if _holds_model(first) else UNKNOWN
            return self.build_optimizer(qualname, params, node)
        if qualname.startswith(kb.SCHEDULER_MODULES) or kb.SCHEDULER_FUNCTIONS.match(qualname):
            return Scheduler(kwargs.get("optimizer", first), node, qualname)
        if qualname in kb.TRAINERS or kb.TRL_TRAINER.match(qualname):
            return self.build_trainer(qualname, kb.TRAINERS.get(qualname, "trl"), args, kwargs, node, None)
        if (receiver is None and qualname.split(".", 1)[0] == "transformers" and kb.TASK_HEAD.search(last)
                and not last.startswith(kb.NOT_A_MODEL_PREFIXES)):
            # `BertForSequenceClassification(config)`: a task model with random weights.
            return self.new_model(ModelSource.FROM_CONFIG, qualname, node, class_name=last, library="transformers")
        for value in (*args, *kwargs.values()):
            self.consume(value)
        package = qualname.split(".", 1)[0]
        if package.startswith(".") or (package not in kb.INERT_PACKAGES and package not in _STDLIB):
            self.opaque(args, kwargs, node, qualname)
        if last[:1].isupper() and receiver is None:
            return LibraryObject(qualname)
        return UNKNOWN

    def load_model(self, class_qualname: str, how: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value | None:
        """`<Class>.from_pretrained(...)` / `.from_config(...)` of an imported class, when the class is a model."""
        class_name = class_qualname.rsplit(".", 1)[-1]
        qualname = f"{class_qualname}.{how}"
        if kb.PEFT_LOADERS.match(qualname):
            base = args[0] if args else kwargs.get("model", UNKNOWN)
            return self.wrap_peft(base, UNKNOWN, node, f"{class_name}.from_pretrained")
        if class_qualname == "torch.nn.Embedding" or class_qualname == "torch.nn.EmbeddingBag":
            return self.new_model(ModelSource.LAYER, qualname, node, class_name=class_name, library="torch")
        if class_name.endswith(kb.NOT_A_MODEL_SUFFIXES) or class_name.startswith("Auto") and class_name[4:] in ("Tokenizer", "Config", "Processor", "FeatureExtractor", "ImageProcessor"):
            return None
        package = class_qualname.split(".", 1)[0]
        if package not in kb.MODEL_LIBRARIES and not kb.MODEL_CLASS_NAME.search(class_name):
            return None
        checkpoint = literal(_argument(node, 0, "pretrained_model_name_or_path"))
        source = ModelSource.PRETRAINED if how == "from_pretrained" else ModelSource.FROM_CONFIG
        checkpoint = checkpoint if isinstance(checkpoint, str) else None
        model = self.new_model(
            source, qualname, node, class_name=class_name, checkpoint=checkpoint,
            library=package if package in kb.MODEL_LIBRARIES else None,
            num_layers=_layer_count(args, kwargs, checkpoint),
        )
        if class_qualname.startswith("unsloth."):
            return TupleValue((model, UNKNOWN))
        return model

    def new_model(self, source: ModelSource, qualname: str, node: cst.CSTNode, **details: object) -> Model:
        parts = qualname.split(".")
        factory = ".".join(parts[-2:]) if parts[-1] in ("from_pretrained", "from_config", "_from_config") else qualname
        model = Model(source=source, factory=factory, qualname=qualname, node=node, where=self.where(node), **details)  # type: ignore[arg-type]
        self.facts.models.append(model)
        return model

    def wrap_peft(self, base: Value, config: Value, node: cst.Call, how: str) -> Value:
        inner = next((o.model if isinstance(o, ModuleRef) else o for o in base.candidates() if isinstance(o, (Model, ModuleRef))), None)
        wrapper = self.new_model(
            ModelSource.PEFT, how, node, class_name="PeftModel", library="peft",
            inner=inner if isinstance(inner, Model) else None,
        )
        self.emit(PeftApply(self.where(node), model=base, result=wrapper, how=how, config=config, call=node))
        return wrapper

    def wrap(self, value: Value, kind: str, node: cst.Call) -> Value:
        results: list[Value] = []
        for option in value.candidates():
            if isinstance(option, Model):
                option = ModuleRef(option)
            if isinstance(option, ModuleRef):
                self.emit(Wrap(self.where(node), module=option, kind=kind, call=node))
                results.append(replace(option, wrapper=kind))
            else:
                results.append(option)
        return one_of(results)

    def build_optimizer(self, qualname: str, params: Value, node: cst.Call) -> Optimizer:
        self.consume(params)
        params = _as_groups(params, node)
        build = OptimizerBuild(self.where(node), qualname=qualname, params=params)
        self.emit(build)
        return Optimizer(build)

    def build_trainer(
        self, qualname: str, library: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call, cls: InFileClass | None
    ) -> Trainer:
        named = dict(kwargs)
        for name, value in zip(kb.TRAINER_POSITIONAL, args):
            named.setdefault(name, value)
        model_init = named.get("model_init")
        model = named.get("model", UNKNOWN)
        if isinstance(model_init, InFileFunction) and model is UNKNOWN:
            model = self.call_function(model_init, [], {}, node)
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
        build = TrainerBuild(
            self.where(node), qualname=qualname, library=library, model=model, args=named.get("args", UNKNOWN),
            optimizer=optimizer, callbacks=callbacks, model_init=model_init, peft_config=peft_config, call=node, cls=cls,
            given=frozenset(named),
        )
        self.emit(build)
        trainer = Trainer(build, callbacks=list(callbacks), current_model=model)
        if peft_config is not None and not (isinstance(peft_config, Literal) and peft_config.value is None):
            self.emit(PeftApply(self.where(node), model=model, result=model, how="peft_config", config=peft_config, call=node))
        return trainer

    # --- the file's own functions and classes ----------------------------------------------------------------------

    def call_function(
        self,
        function: InFileFunction,
        args: list[Value],
        kwargs: dict[str, Value],
        node: cst.Call | None,
        self_value: Value | None = None,
        force: bool = False,
        extra_kwargs: DictValue | None = None,
    ) -> Value:
        """Walk a function of this file with its arguments bound; the result is what it returns."""
        definition = function.node
        if self_value is None:
            self_value = function.bound_self
        if not force and (
            len(self.active_calls) >= MAX_CALL_DEPTH or definition in self.active_calls or self.steps > MAX_STEPS
        ):
            self.facts.truncated = True
            self.opaque(args, kwargs, node, function.qualname, only_unknown_packages=False)
            return UNKNOWN
        self.walked.add(id(definition))
        frame = Frame(function.closure if isinstance(function.closure, Frame) else self.frame.root(), function.qualname)
        frame.cls = function.owner
        self.bind_parameters(frame, function, args, kwargs, self_value, extra_kwargs)
        no_grad = self.context.no_grad or _decorated_no_grad(definition)
        outer = self.frame
        self.frame = frame
        self.active_calls.append(definition)
        calls = (*self.context.calls, node) if node is not None else self.context.calls
        try:
            with self.within(function=function.qualname, calls=calls, no_grad=no_grad), _reset_flow(self):
                if isinstance(definition, cst.Lambda):
                    return self.eval(definition.body)
                self.exec_suite(definition.body)
        finally:
            self.active_calls.pop()
            self.frame = outer
        if frame.is_generator:
            return UNKNOWN
        return one_of(frame.returns) if frame.returns else Literal(None)

    def bind_parameters(
        self,
        frame: Frame,
        function: InFileFunction,
        args: list[Value],
        kwargs: dict[str, Value],
        self_value: Value | None,
        extra_kwargs: DictValue | None,
    ) -> None:
        params = function.node.params
        positional = [*params.posonly_params, *params.params]
        values = list(args)
        if self_value is not None and positional and not _is_static(function.node):
            values.insert(0, self_value)
        remaining = dict(kwargs)
        for index, param in enumerate(positional):
            name = param.name.value
            if index < len(values):
                frame.locals[name] = values[index]
            elif name in remaining:
                frame.locals[name] = remaining.pop(name)
            else:
                frame.locals[name] = function.defaults.get(name, UNKNOWN)
        for param in params.kwonly_params:
            name = param.name.value
            frame.locals[name] = remaining.pop(name, function.defaults.get(name, UNKNOWN))
        if isinstance(params.star_arg, cst.Param):
            frame.locals[params.star_arg.name.value] = TupleValue(tuple(values[len(positional):]))
        if params.star_kwarg is not None:
            entries = dict(extra_kwargs.entries) if extra_kwargs is not None else {}
            entries.update(remaining)
            frame.locals[params.star_kwarg.name.value] = DictValue(entries)

    def instantiate(self, cls: InFileClass, args: list[Value], kwargs: dict[str, Value], node: cst.Call, factory: str | None = None) -> Value:
        bases = list(cls.library_bases())
        if any(base in kb.TRAINERS or kb.TRL_TRAINER.match(base) for base in bases):
            library = next((kb.TRAINERS.get(base, "trl") for base in bases if base in kb.TRAINERS or kb.TRL_TRAINER.match(base)), "transformers")
            qualname = next(base for base in bases if base in kb.TRAINERS or kb.TRL_TRAINER.match(base))
            return self.build_trainer(qualname, library, args, kwargs, node, cls)
        if self.is_module_class(cls) or factory is not None:
            source = ModelSource.PRETRAINED if factory == "from_pretrained" else (
                ModelSource.FROM_CONFIG if factory else ModelSource.CUSTOM
            )
            checkpoint = literal(_argument(node, 0, "pretrained_model_name_or_path")) if factory else None
            model = self.new_model(
                source, f"{cls.qualname}.{factory}" if factory else cls.qualname, node, class_name=cls.name, cls=cls,
                checkpoint=checkpoint if isinstance(checkpoint, str) else None,
            )
            model.factory = f"{cls.name}.{factory}" if factory else cls.name
            init = cls.find_method("__init__")
            if init is not None:
                self.call_function(init, [] if factory else args, {} if factory else kwargs, node, self_value=model)
            return model
        instance = Instance(cls)
        init = cls.find_method("__init__")
        if init is not None:
            self.call_function(init, args, kwargs, node, self_value=instance)
        return instance

    def is_module_class(self, cls: InFileClass) -> bool:
        return any(base in kb.MODULE_BASES or kb.PRETRAINED_BASE.match(base) for base in cls.library_bases())

    # --- iteration and consumption -------------------------------------------------------------------------------

    def element_of(self, iterable: Value) -> Value:
        results: list[Value] = []
        for option in iterable.candidates():
            if isinstance(option, ParamSet):
                param = ParamRef(owner=option.module, source=option, copy=option.copies, node=option.node)
                results.append(TupleValue((ParamName(option), param)) if option.named else param)
            elif isinstance(option, ParamGroups):
                sets = list(option.sets())
                results.append(one_of([self.element_of(s) for s in sets]) if sets else UNKNOWN)
            elif isinstance(option, ModuleIter):
                component = ANY_DESCENDANT if option.recursive else ANY_CHILD
                child = ModuleRef(option.module.model, (*option.module.path, component), Kind.MODULE, option.module.wrapper)
                results.append(TupleValue((UNKNOWN, child)) if option.named else child)
            elif isinstance(option, (Model, ModuleRef)) and _holds_parameters(as_ref(option)):
                ref = as_ref(option)
                results.append(ParamRef(owner=replace(ref, path=(*ref.path, ANY_CHILD), kind=Kind.PARAMETER)))
            elif isinstance(option, Model):
                results.append(ModuleRef(option, (ANY_CHILD,)))
            elif isinstance(option, ModuleRef):
                results.append(replace(option, path=(*option.path, ANY_CHILD), kind=Kind.MODULE if option.kind is Kind.MODULE else option.kind))
            elif isinstance(option, (TupleValue, ListValue)):
                results.append(one_of(list(option.items)) if option.items else UNKNOWN)
            elif isinstance(option, IterableOf):
                results.append(option.element)
            else:
                results.append(UNKNOWN)
        return one_of(results)

    def consume(self, value: Value, partial: bool = False) -> None:
        """Mark generators as run (their freezes happen once something iterates them) and record one-shot uses
        (`partial`: `next()` takes one element and leaves the rest, which is not a use up)."""
        for option in value.candidates():
            one_shot = isinstance(option, LazyMap) or (isinstance(option, (ParamSet, ParamGroups)) and option.one_shot)
            if one_shot and not partial:
                self.emit(Consumption(self.where(self.context.statement or option.node), value=option))
            if isinstance(option, LazyMap):
                option.consumed = True
            elif isinstance(option, ParamSet) and option.lazy is not None:
                option.lazy.consumed = True
            elif isinstance(option, (TupleValue, ListValue)):
                for item in option.items:
                    if isinstance(item, LazyMap):
                        item.consumed = True

    def opaque(self, args: list[Value], kwargs: dict[str, Value], node: cst.Call | None, callee: str, only_unknown_packages: bool = True) -> None:
        """Models handed to code we cannot see: it may freeze them."""
        if node is None:
            return
        for value in (*args, *kwargs.values()):
            for option in value.candidates():
                if isinstance(option, Model):
                    option = ModuleRef(option)
                if isinstance(option, ModuleRef):
                    self.emit(OpaqueUse(self.where(node), module=option, callee=callee))
                elif isinstance(option, ParamSet):
                    self.emit(OpaqueUse(self.where(node), module=option.module, callee=callee))


# --- small helpers ----------------------------------------------------------------------------------------------------

def _methods(cls: InFileClass) -> Iterator[tuple[str, InFileFunction]]:
    """The methods of an in-file class and its in-file bases, by name, the most derived definition first."""
    seen: set[str] = set()
    for klass in cls.mro():
        for name, method in klass.methods.items():
            if name not in seen:
                seen.add(name)
                yield name, method


def _optimizers_in(value: Value) -> Value:
    """The optimizers in what a Lightning `configure_optimizers` returns: one, a list, `([opts], [scheds])`, or a
    dict with an "optimizer" key."""
    found: list[Value] = []
    for option in value.candidates():
        if isinstance(option, Optimizer):
            found.append(option)
        elif isinstance(option, (TupleValue, ListValue)):
            found.extend(o for item in option.items for o in _optimizers_in(item).candidates() if isinstance(o, Optimizer))
        elif isinstance(option, DictValue):
            found.extend(o for o in _optimizers_in(option.entries.get("optimizer", UNKNOWN)).candidates() if isinstance(o, Optimizer))
    return one_of(found)


def _subscript_items(node: cst.BaseExpression | None) -> list[cst.BaseExpression]:
    """The elements of a subscript (`Annotated[bool, typer.Option()]`), or nothing."""
    if not isinstance(node, cst.Subscript):
        return []
    return [element.slice.value for element in node.slice if isinstance(element.slice, cst.Index)]


def _holds_parameters(ref: ModuleRef | None) -> bool:
    """`nn.ParameterList` / `nn.ParameterDict`: its items are parameters, not sub-modules."""
    return ref is not None and not ref.path and ref.model.class_name in kb.PARAMETER_CONTAINERS


def _holds_model(value: Value) -> bool:
    return any(isinstance(option, (Model, ModuleRef)) for option in value.candidates())


def _is_params(value: Value, seen: frozenset[int] = frozenset()) -> bool:
    """True for parameter sets, or lists holding some (lists may contain themselves: `xs.append(xs)`)."""
    if any(isinstance(option, (ParamSet, ParamGroups)) for option in value.candidates()):
        return True
    if isinstance(value, ListValue) and id(value) not in seen:
        inner = seen | {id(value)}
        return any(_is_params(item, inner) for item in value.items)
    return False


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


def _draws_from(iterated: Value, source: ParamSet) -> bool:
    if iterated is source:
        return True
    if isinstance(iterated, ParamGroups):
        return any(part is source for part in iterated.sets())
    if isinstance(iterated, IterableOf):
        # `enumerate(...)`, `zip(...)`, `d.items()`: the elements were drawn already (or are sets themselves).
        return any(
            _draws_from(leaf, source) or (isinstance(leaf, ParamRef) and leaf.source is source)
            for leaf in _leaves(iterated.element)
        )
    return False


def _yields_module(iterated: Value, ref: ModuleRef) -> bool:
    """True when iterating `iterated` (`m.named_modules()`, a ModuleList, `enumerate(...)` of those) yields the
    sub-module that `ref` is, or contains."""
    if isinstance(iterated, IterableOf):
        return any(
            isinstance(leaf, ModuleRef) and leaf.model is ref.model and ref.path[: len(leaf.path)] == leaf.path
            for leaf in _leaves(iterated.element)
        )
    if isinstance(iterated, ModuleIter):
        parent, step = iterated.module, ANY_DESCENDANT if iterated.recursive else ANY_CHILD
    elif isinstance(iterated, Model):
        parent, step = ModuleRef(iterated), ANY_CHILD
    elif isinstance(iterated, ModuleRef):
        parent, step = iterated, ANY_CHILD
    else:
        return False
    return parent.model is ref.model and ref.path[: len(parent.path) + 1] == (*parent.path, step)


def _leaves(value: Value, depth: int = 0) -> Iterator[Value]:
    """The values inside (nested) tuples: the loop variables one iteration binds."""
    for option in value.candidates():
        if isinstance(option, (TupleValue, ListValue)) and depth < 4:
            for item in option.items:
                yield from _leaves(item, depth + 1)
        else:
            yield option


def _tuple_items(value: Value, count: int) -> list[Value]:
    if isinstance(value, (TupleValue, ListValue)) and len(value.items) == count:
        return list(value.items)
    if isinstance(value, OneOf):
        columns = [_tuple_items(option, count) for option in value.options]
        return [one_of([column[i] for column in columns]) for i in range(count)]
    return [UNKNOWN] * count


def _flatten(values: list[Value]) -> list[Value]:
    flat: list[Value] = []
    for value in values:
        if isinstance(value, (ListValue, TupleValue)):
            flat.extend(value.items)
        else:
            flat.append(value)
    return flat


def _normalize(value: Value, place: ModuleRef) -> Value:
    """An attribute holding a model is a reference to that model's root; a parameter attribute learns its owner."""
    results: list[Value] = []
    for option in value.candidates():
        if isinstance(option, Model):
            option = ModuleRef(option)
        elif isinstance(option, ParamRef) and option.owner is None and not option.copy:
            option = replace(option, owner=place)
        results.append(option)
    return one_of(results)


def _argument(node: cst.Call, index: int, keyword: str) -> cst.BaseExpression | None:
    """The expression passed for a parameter, by keyword or position."""
    positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    return positional[index].value if index < len(positional) else None


def _attempted_freeze(expression: cst.BaseExpression) -> tuple[cst.BaseExpression, FreezeForm, cst.BaseExpression | None] | None:
    """`x.requires_grad == v` (one `==`) or a bare `x.requires_grad_`: the receiver, the form and the value meant."""
    if isinstance(expression, cst.Attribute) and expression.attr.value == "requires_grad_":
        return expression.value, FreezeForm.UNCALLED, None
    if (
        isinstance(expression, cst.Comparison)
        and len(expression.comparisons) == 1
        and isinstance(expression.comparisons[0].operator, cst.Equal)
        and isinstance(expression.left, cst.Attribute)
        and expression.left.attr.value == "requires_grad"
    ):
        return expression.left.value, FreezeForm.COMPARISON, expression.comparisons[0].comparator
    return None


def _is_transformers_model_class(qualname: str) -> bool:
    package, _, last = qualname.partition(".")
    name = last.rsplit(".", 1)[-1]
    return (
        package == "transformers"
        and bool(kb.MODEL_CLASS_NAME.search(name))
        and not name.endswith(kb.NOT_A_MODEL_SUFFIXES)
        and not name.startswith(("Auto", *kb.NOT_A_MODEL_PREFIXES))
    )


def _layer_count(args: list[Value], kwargs: dict[str, Value], checkpoint: str | None) -> int | None:
    """A model's number of stacked layers: a literal keyword (`num_hidden_layers=6`) of the call or of the
    configuration it is given, else the known layer count of its checkpoint."""
    sources = [kwargs]
    for config in (kwargs.get("config"), args[0] if args else None):
        if isinstance(config, Config):
            sources.append(config.kwargs)
    for values in sources:
        for keyword in kb.LAYER_COUNT_KEYWORDS:
            value = values.get(keyword)
            if isinstance(value, Literal) and isinstance(value.value, int) and not isinstance(value.value, bool):
                return value.value
    return kb.layer_count(checkpoint)


def _requires_grad_flag(node: cst.Call) -> bool | None:
    """The flag `requires_grad_(...)` sets: its literal argument, True when called without one (the default)."""
    argument = _argument(node, 0, "requires_grad")
    if argument is None:
        return True
    flag = literal(argument)
    return flag if isinstance(flag, bool) else None


def _subscript_component(node: cst.Subscript) -> str:
    if len(node.slice) != 1:
        return ANY_CHILD
    element = node.slice[0].slice
    if isinstance(element, cst.Index):
        value = literal(element.value)
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            return f"[{value!r}]" if isinstance(value, str) else f"[{value}]"
        return ANY_CHILD
    if isinstance(element, cst.Slice):
        lower, upper = literal(element.lower), literal(element.upper)
        if element.step is None and lower in (NotImplemented, None) and upper in (NotImplemented, None):
            if element.lower is None and element.upper is None:
                return "[:]"
        parts = ["" if b is None else (str(v) if v is not NotImplemented else "?") for b, v in ((element.lower, lower), (element.upper, upper))]
        return f"[{parts[0]}:{parts[1]}]"
    return ANY_CHILD


def _subscript_literal(node: cst.Subscript) -> object:
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        return literal(node.slice[0].slice.value)
    return NotImplemented


def _is_optimizer(qualname: str) -> bool:
    last = qualname.rsplit(".", 1)[-1]
    if qualname in kb.OPTIMIZER_FROM_MODEL:
        return True
    if qualname.startswith("torch.optim.lr_scheduler"):
        return False
    return qualname.startswith(kb.OPTIMIZER_MODULES) and bool(kb.OPTIMIZER_NAME.match(last))


def _is_static(node: cst.FunctionDef | cst.Lambda) -> bool:
    return isinstance(node, cst.FunctionDef) and any(
        dotted(d.decorator) == "staticmethod" for d in node.decorators
    )


def _is_classmethod(node: cst.FunctionDef | cst.Lambda) -> bool:
    return isinstance(node, cst.FunctionDef) and any(dotted(d.decorator) == "classmethod" for d in node.decorators)


def _decorated_no_grad(node: cst.FunctionDef | cst.Lambda) -> bool:
    if not isinstance(node, cst.FunctionDef):
        return False
    for decorator in node.decorators:
        expression = decorator.decorator
        name = dotted(expression.func if isinstance(expression, cst.Call) else expression) or ""
        if name.endswith(("no_grad", "inference_mode")):
            return True
    return False


def _has_parameter(node: cst.FunctionDef | cst.Lambda, name: str) -> bool:
    params = node.params
    return any(p.name.value == name for p in (*params.posonly_params, *params.params, *params.kwonly_params))


@contextmanager
def _reset_flow(collector: Collector) -> Iterator[None]:
    """A called function's `return` ends its own body, whatever `if` the call sits in."""
    saved = collector._flow_depth
    collector._flow_depth = 0
    try:
        yield
    finally:
        collector._flow_depth = saved


def collect(source: Source, module: cst.Module, options: Options | None = None) -> Facts:
    """Walk `module` (parsed from `source`) once and return what it does to its models."""
    return Collector(source, module, options).run()
