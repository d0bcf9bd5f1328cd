"""The generic interpreter: walks one module top to bottom, binding names to abstract values and recording events in
execution order. It knows Python, not libraries:

* imports bind qualified names, so aliases resolve (`import transformers as tf; tf.Trainer` is `transformers.Trainer`);
* a call to a function or class defined in the file is followed into its body at the call site, with the arguments
  bound, so a helper that freezes its argument freezes the caller's model, in the caller's order;
* both arms of an `if` are walked and the names they bind are merged; loop bodies are walked once, inside a `Loop`;
* functions and methods nothing called are walked last, "standalone", with unknown arguments.

What a call of an imported name, or a method of a library value (a module, an optimizer, a trainer), does is asked of
the library models (`freezelint.analysis.libraries`), by qualified name or by value type.

It never imports or runs the code it reads. Where it cannot see (a helper imported from elsewhere, a budget
exhausted) it records an `OpaqueUse` and returns `UNKNOWN`: rules stay silent rather than guess.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator, Sequence

import libcst as cst

from freezelint.analysis import expressions, flow, libraries, options, standalone
from freezelint.analysis.frames import Context, Frame
from freezelint.analysis.syntax import (
    dotted,
    has_parameter,
    is_static,
    subscript_literal,
)
from freezelint.analysis.walk_values import (
    GradContext,
    IterableOf,
    LibraryObject,
    ListValue,
    Super,
    is_params,
)
from freezelint.facts import (
    UNKNOWN,
    AttributeAssign,
    Branch,
    Config,
    Consumption,
    DictValue,
    Event,
    ExpressionStatement,
    Facts,
    FreezeForm,
    FreezeOp,
    Imported,
    InFileClass,
    InFileFunction,
    Instance,
    LazyMap,
    Literal,
    Loop,
    Model,
    ModelSource,
    ModuleRef,
    OneOf,
    OpaqueUse,
    Optimizer,
    Options,
    ParamGroups,
    ParamRef,
    ParamSet,
    Rebind,
    Trainer,
    TupleValue,
    Value,
    Where,
    holds_model,
    one_of,
)
from freezelint.source import Source

# Walking budget: beyond these, calls into the file's own functions are treated as opaque (precision over recall).
MAX_CALL_DEPTH = 12
MAX_STEPS = 150_000

class Interpreter:
    """Walks one module and returns its facts. Use `freezelint.analysis.collect(source, module)`.

    Library models call back into it through a few services: `eval`, `where`/`emit`/`within`, `freeze`,
    `new_model`, `call_function`/`instantiate`, `element_of`/`consume`, `opaque`."""

    def __init__(self, source: Source, module: cst.Module, options: Options | None = None) -> None:
        self.facts = Facts(source=source, module=module, options=options or Options())
        self.order = 0
        self.steps = 0
        self.context = Context()
        self.frame = Frame(None, "")
        self.active_calls: list[cst.CSTNode] = []
        self.functions: list[InFileFunction] = self.facts.functions  # every def seen, for the standalone walk
        self.walked: set[int] = set()  # id() of FunctionDef nodes already walked
        self.abstract_selves: dict[int, Value] = {}
        self.flow_depth = 0  # `if`s and loops open in the current function: a `return` there does not end its walk
        self.decided: set[int] = set()  # `if`s whose test is a constant: only one arm runs

    # --- entry ---------------------------------------------------------------------------------------------------

    def run(self) -> Facts:
        self.exec_block(self.facts.module.body)
        standalone.walk_entry_points(self)
        standalone.walk_uncalled(self)
        return self.facts

    # --- services for the library models ---------------------------------------------------------------------------

    @contextmanager
    def within(self, **changes: object) -> Iterator[None]:
        saved = self.context
        self.context = replace(saved, **changes)  # type: ignore[arg-type]
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
        self.facts.record(event)

    def new_model(self, source: ModelSource, qualname: str, node: cst.CSTNode, **details: object) -> Model:
        parts = qualname.split(".")
        factory = ".".join(parts[-2:]) if parts[-1] in ("from_pretrained", "from_config", "_from_config") else qualname
        model = Model(source=source, factory=factory, qualname=qualname, node=node, where=self.where(node), **details)  # type: ignore[arg-type]
        self.facts.models.append(model)
        return model

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
        """Record an attempt to set `requires_grad` of `target`'s parameters, with the loop over them and the tests
        that filter them."""
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
        for index in range(len(self.context.loops) - 1, -1, -1):
            loop = self.context.loops[index]
            if libraries.draws(loop.iterates, value):
                filters = tuple(b for b in self.context.branches if isinstance(b, Branch) and b.depth > index)
                return loop, filters
        return None, ()

    def called_name(self, node: cst.BaseExpression | None, bare: bool = False) -> str | None:
        """The qualified name of the imported function `node` calls (with `bare`, also one it just names:
        `@dataclass`), or None."""
        if isinstance(node, cst.Call):
            node = node.func
        elif not bare:
            return None
        value = self.eval(node) if isinstance(node, (cst.Name, cst.Attribute)) else UNKNOWN
        return value.qualname if isinstance(value, Imported) else None

    # --- statements ----------------------------------------------------------------------------------------------

    def exec_block(self, body: Sequence[cst.CSTNode]) -> None:
        # After `if test: continue` (or break, return, raise), the rest of the block runs only where `test` is false:
        # it carries that arm of the `if` as a branch, so a freeze there is filtered by the test.
        guards: tuple[Branch, ...] = ()
        for statement in body:
            if self.frame.returned:
                break
            if guards:
                with self.within(branches=(*self.context.branches, *guards)):
                    self.exec_statement(statement)
            else:
                self.exec_statement(statement)
            if isinstance(statement, cst.If):
                guard = self.guard_after(statement)
                if guard is not None:
                    guards = (*guards, guard)

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
            options.config_keys(self, node)
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.eval(node.value), node.value)
        elif isinstance(node, cst.AugAssign):
            self.exec_aug_assign(node)
        elif isinstance(node, cst.Return):
            value = self.eval(node.value) if node.value is not None else Literal(None)
            self.frame.returns.append(value)
            if not self.flow_depth:
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
            if not self.flow_depth:
                self.frame.returned = True
        elif isinstance(node, cst.Assert):
            self.eval(node.test)

    @contextmanager
    def nested_flow(self) -> Iterator[None]:
        self.flow_depth += 1
        try:
            yield
        finally:
            self.flow_depth -= 1

    def exec_expression_statement(self, expression: cst.BaseExpression) -> None:
        if libraries.attempted_freeze(self, expression):
            value: Value = UNKNOWN  # `x.requires_grad == False` / `x.requires_grad_` as a statement
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
            if old is not None and (is_params(old) or is_params(value)):
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
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
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
            bound = alias.asname.name.value if alias.asname is not None and isinstance(alias.asname.name, cst.Name) else name
            self.bind(bound, Imported(qualname), node)

    def exec_del(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.frame.locals.pop(target.value, None)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.exec_del(element.value)

    def exec_FunctionDef(self, node: cst.FunctionDef) -> None:
        options.function_options(self, node)
        defaults: dict[str, Value] = {}
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            if param.default is not None:
                defaults[param.name.value] = self.eval(param.default)
            options.typer_parameter(self, param, node)
        prefix = self.frame.qualname
        qualname = f"{prefix}.{node.name.value}" if prefix else node.name.value
        function = InFileFunction(node=node, qualname=qualname, closure=self.frame, defaults=defaults)
        self.functions.append(function)
        self.frame.locals[node.name.value] = function

    def exec_ClassDef(self, node: cst.ClassDef) -> None:
        bases = tuple(self.eval(arg.value) for arg in node.bases if not arg.keyword)
        options.dataclass_fields(self, node)
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
        test = self.eval(node.test)
        if isinstance(test, Literal) and isinstance(test.value, bool) and not self.context.standalone:
            # A constant test (`FREEZE = False` ... `if FREEZE:`, `Model(freeze=False)` into `if freeze:`): only the
            # arm it picks runs (still inside that arm, so rules see what the freeze depends on).
            arm = Branch(node, node.test, test.value, len(self.context.loops))
            taken = node.body if test.value else node.orelse
            with self.within(branches=(*self.context.branches, arm)):
                self.exec_arm(taken)
            self.decided.add(id(node))
            return
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
        # An arm that returns or raises hands none of its names to what follows.
        arms = [arm for arm, exits in ((body_locals, flow.exits(node.body)), (self.frame.locals, flow.exits(node.orelse))) if not exits]
        self.merge_locals(snapshot, *(arms or [body_locals, self.frame.locals]))
        self.frame.returned = body_returned and self.frame.returned
        guard = flow.isinstance_guard(node)
        if guard is not None and self.frame.locals.get(guard[0]) is UNKNOWN:
            narrowed = libraries.narrowed_by_isinstance(self, guard[0], guard[1], node)
            if narrowed is not None:
                self.frame.locals[guard[0]] = narrowed  # `if not isinstance(x, nn.Linear): raise`: x is a module now

    def exec_arm(self, arm: cst.BaseSuite | cst.Else | cst.If | None) -> None:
        if isinstance(arm, cst.If):
            self.exec_If(arm)
        elif isinstance(arm, cst.Else):
            self.exec_suite(arm.body)
        elif arm is not None:
            self.exec_suite(arm)

    def guard_after(self, node: cst.If) -> Branch | None:
        """The arm of `node` the rest of its block runs in, when the other arm always leaves the block (`continue`,
        `break`, `return`, `raise`) and this one does not; None otherwise."""
        body_leaves, else_leaves = flow.leaves(node.body), flow.leaves(node.orelse)
        if body_leaves == else_leaves or id(node) in self.decided:
            return None
        return Branch(node, node.test, not body_leaves, len(self.context.loops))

    def merge_locals(self, before: dict[str, Value], *arms: dict[str, Value]) -> None:
        """The names after an `if`: each one's values on the paths that bind it. A name bound in some arms only, and
        not before, is unbound on the others (using it there raises): those paths do not reach a use of it."""
        merged: dict[str, Value] = {}
        for name in set().union(*arms):
            values = [arm[name] if name in arm else before[name] for arm in arms if name in arm or name in before]
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
        if old is not None and old is not value and holds_model(old):
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
            self.bind(target.value, libraries.named_result(self, target.value, value, value_node), target)
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
            key = subscript_literal(target)
            for option in owner.candidates():
                if isinstance(option, DictValue) and isinstance(key, str):
                    option.entries[key] = value
        elif isinstance(target, cst.StarredElement):
            self.assign(target.value, UNKNOWN, value_node)

    def assign_attribute(self, target: cst.Attribute, value: Value, value_node: cst.BaseExpression) -> None:
        owner = self.eval(target.value)
        attribute = target.attr.value
        if libraries.stored_flag(self, target, owner, value_node):
            return  # `x.requires_grad = v` and its misspellings
        value = libraries.named_result(self, attribute, value, value_node)
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

    # --- expressions ---------------------------------------------------------------------------------------------

    def eval(self, node: cst.BaseExpression | None) -> Value:
        return expressions.evaluate(self, node) if node is not None else UNKNOWN

    # --- attribute access ----------------------------------------------------------------------------------------

    def attribute_of(self, owner: Value, attribute: str) -> Value:
        if isinstance(owner, Imported):
            return Imported(f"{owner.qualname}.{attribute}")
        if isinstance(owner, Instance):
            if attribute in owner.attrs:
                return owner.attrs[attribute]
            found = self.class_attribute(owner.cls, attribute, owner)
            if found is UNKNOWN:
                # Set by a base class of another file (`super().__init__(teacher_model, ...)`): known by its name only.
                found = libraries.inherited_attribute(self, owner.cls, attribute)
                owner.attrs[attribute] = found
            return found
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
        return libraries.attribute(self, owner, attribute)

    def class_attribute(self, cls: InFileClass, attribute: str, instance: Value | None) -> Value:
        for klass in cls.mro():
            if attribute in klass.methods:
                method = klass.methods[attribute]
                return replace(method, bound_self=instance) if instance is not None else method
            if attribute in klass.class_attrs:
                return klass.class_attrs[attribute]
        return UNKNOWN

    # --- calls ---------------------------------------------------------------------------------------------------

    def call_value(self, callee: Value, args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
        if isinstance(callee, Imported):
            return libraries.call(self, callee.qualname, args, kwargs, node)
        if isinstance(callee, InFileFunction):
            return self.call_function(callee, args, kwargs, node)
        if isinstance(callee, InFileClass):
            return self.instantiate(callee, args, kwargs, node)
        if isinstance(callee, LibraryObject):
            return libraries.call(self, callee.qualname + ".__call__", args, kwargs, node)
        called = libraries.call_value(self, callee, args, kwargs, node)
        if called is not None:
            return called
        self.opaque(args, kwargs, node, "an unknown callable")
        return UNKNOWN

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
            self.opaque(args, kwargs, node, function.qualname)
            return UNKNOWN
        self.walked.add(id(definition))
        frame = Frame(function.closure if isinstance(function.closure, Frame) else self.frame.root(), function.qualname)
        frame.cls = function.owner
        self.bind_parameters(frame, function, args, kwargs, self_value, extra_kwargs)
        no_grad = self.context.no_grad or libraries.decorated_no_grad(definition)
        outer, saved_depth = self.frame, self.flow_depth
        self.frame = frame
        self.flow_depth = 0  # a called function's `return` ends its own body, whatever `if` the call sits in
        self.active_calls.append(definition)
        calls = (*self.context.calls, node) if node is not None else self.context.calls
        try:
            with self.within(function=function.qualname, calls=calls, no_grad=no_grad):
                if isinstance(definition, cst.Lambda):
                    return self.eval(definition.body)
                self.exec_suite(definition.body)
        finally:
            self.active_calls.pop()
            self.frame, self.flow_depth = outer, saved_depth
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
        if self_value is not None and positional and not is_static(function.node):
            values.insert(0, self_value)
        remaining = dict(kwargs)
        for index, param in enumerate(positional):
            name = param.name.value
            if index < len(values):
                frame.locals[name] = values[index]
            elif name in remaining:
                frame.locals[name] = remaining.pop(name)
            else:
                frame.locals[name] = function.defaults.get(name) or self.unknown_argument(param)
        for param in params.kwonly_params:
            name = param.name.value
            frame.locals[name] = remaining.pop(name, function.defaults.get(name) or self.unknown_argument(param))
        if isinstance(params.star_arg, cst.Param):
            frame.locals[params.star_arg.name.value] = TupleValue(tuple(values[len(positional):]))
        if params.star_kwarg is not None:
            entries = dict(extra_kwargs.entries) if extra_kwargs is not None else {}
            entries.update(remaining)
            frame.locals[params.star_kwarg.name.value] = DictValue(entries)

    def unknown_argument(self, param: cst.Param) -> Value:
        """A parameter no caller gives a value, in a function walked on its own: a model when its name or annotation
        says so (`def freeze_backbone(model)`, `bert_model: Union[str, BertModel]`), whatever the caller passes."""
        if not self.context.standalone:
            return UNKNOWN
        annotation = param.annotation.annotation if param.annotation is not None else None
        return libraries.abstract_argument(self, param.name.value, annotation, param)

    def instantiate(self, cls: InFileClass, args: list[Value], kwargs: dict[str, Value], node: cst.Call, factory: str | None = None) -> Value:
        """An instance of a class of this file: its `__init__` walked with the arguments (a library base class may make
        it a model or a trainer)."""
        made = libraries.instantiate(self, cls, args, kwargs, node, factory)
        if made is not None:
            return made
        instance = Instance(cls)
        init = cls.find_method("__init__")
        if init is not None:
            self.call_function(init, args, kwargs, node, self_value=instance)
        return instance

    def call_hooks(self, hooks: list[tuple[InFileFunction, Value]], bindings: dict[str, Value], node: cst.Call) -> Value:
        """Call each hook (a method of this file a library calls) with the arguments it names; the value the last one
        returned."""
        result: Value = UNKNOWN
        for method, self_value in hooks:
            kwargs = {name: value for name, value in bindings.items() if has_parameter(method.node, name)}
            result = self.call_function(method, [], kwargs, node, self_value=self_value, extra_kwargs=DictValue(dict(bindings)))
        return result

    # --- iteration and consumption -------------------------------------------------------------------------------

    def element_of(self, iterable: Value) -> Value:
        results: list[Value] = []
        for option in iterable.candidates():
            if isinstance(option, (TupleValue, ListValue)):
                results.append(one_of(list(option.items)) if option.items else UNKNOWN)
            elif isinstance(option, IterableOf):
                results.append(option.element)
            else:
                results.append(libraries.element(self, option))
        return one_of(results)

    def consume(self, value: Value, partial: bool = False) -> None:
        """Mark generators as run (their freezes happen once something iterates them) and record one-shot uses
        (`partial`: `next()` takes one element and leaves the rest, which is not a use up)."""
        for option in value.candidates():
            one_shot = isinstance(option, LazyMap) or (isinstance(option, (ParamSet, ParamGroups)) and option.one_shot)
            if one_shot and not partial:
                self.emit(Consumption(self.where(self.context.statement or option.node), value=option))  # type: ignore[attr-defined]
            if isinstance(option, LazyMap):
                option.consumed = True
            elif isinstance(option, ParamSet) and option.lazy is not None:
                option.lazy.consumed = True
            elif isinstance(option, (TupleValue, ListValue)):
                for item in option.items:
                    if isinstance(item, LazyMap):
                        item.consumed = True

    def opaque(self, args: list[Value], kwargs: dict[str, Value], node: cst.Call | None, callee: str) -> None:
        """Models handed to code we cannot see: it may freeze them."""
        if node is None:
            return
        for value in (*args, *kwargs.values()):
            for option in value.candidates():
                if isinstance(option, Model):
                    option = ModuleRef(option)
                if isinstance(option, ModuleRef):
                    self.emit(OpaqueUse(self.where(node), module=option, callee=callee, args=tuple(args), kwargs=kwargs))
                elif isinstance(option, ParamSet):
                    self.emit(OpaqueUse(self.where(node), module=option.module, callee=callee, args=tuple(args), kwargs=kwargs))


# --- small helpers ----------------------------------------------------------------------------------------------------


def _tuple_items(value: Value, count: int) -> list[Value]:
    if isinstance(value, (TupleValue, ListValue)) and len(value.items) == count:
        return list(value.items)
    if isinstance(value, OneOf):
        columns = [_tuple_items(option, count) for option in value.options]
        return [one_of([column[i] for column in columns]) for i in range(count)]
    return [UNKNOWN] * count
