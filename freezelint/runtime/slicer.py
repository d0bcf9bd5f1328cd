"""The slice of a script that decides what trains (the program that runs it: `freezelint.runtime.instrument`).

The static facts name the statements that matter (`criteria`): model construction, freeze and unfreeze operations,
PEFT calls, head replacements, optimizer construction. The slice is those statements plus, transitively, the
statements that bind the names they read (argument parsing, configs, helper definitions), plus statements that
only configure an object the slice already holds (`config.num_labels = 3`, `model.train()`). Statements that load
data, train, run the model forward or talk to the outside world are never run; when the slice needs one of them,
the statements depending on it are left out and the report names the blocker.

`plan` returns the slice compiled: the script's statements that are kept, with the harness calls `Instrument` adds.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from types import CodeType
from typing import TYPE_CHECKING, Iterator

from freezelint import facts as F
from freezelint.runtime.instrument import Instrument, Probe

if TYPE_CHECKING:
    import libcst as cst


# Library calls that are never replayed: data loading, logging services, the network, processes, the file system.
NEVER_RUN_LIBRARY = re.compile(
    r"^(datasets\.|torch\.utils\.data\.|pandas\.read_|numpy\.(load|loadtxt|genfromtxt|fromfile)$|evaluate\."
    r"|wandb\.|mlflow\.|comet_ml\.|neptune\.|clearml\.|tensorboard|torch\.utils\.tensorboard\.|requests\.|urllib\."
    r"|http\.|socket\.|subprocess\."
    r"|os\.(system|popen|remove|unlink|rmdir|removedirs|rename|replace|makedirs|mkdir|exec\w*|spawn\w*)$"
    r"|shutil\.|pathlib\.|glob\.|huggingface_hub\.|torch\.distributed\.|deepspeed\.|torch\.save$|torch\.hub\."
    r"|accelerate\.(utils\.)?(notebook_launcher|launch)|sklearn\.|cv2\.|PIL\.|torchvision\.datasets\.|timm\.data\.)"
)
NEVER_RUN_BUILTINS = frozenset({"open", "input", "exec", "eval", "breakpoint", "exit", "quit", "compile"})
# Methods never replayed on an object the slice holds (training, inference, saving).
NEVER_RUN_METHODS = frozenset(
    {
        "backward", "step", "zero_grad", "fit", "generate", "forward", "evaluate", "predict", "save_pretrained",
        "push_to_hub", "save_model", "save", "save_state", "log", "print_trainable_parameters", "train_model",
        "hyperparameter_search", "to_json_file", "save_checkpoint",
    }
)
WRAPS_NEVER_RUN = {"ddp": "DistributedDataParallel", "dp": "DataParallel", "fsdp": "FSDP", "fsdp2": "FSDP",
                   "deepspeed": "DeepSpeed", "accelerate": "accelerate's prepare()", "fabric": "Fabric's setup()"}
# A call into another module of the project that hands it a model is replayed only when its name says it freezes.
FREEZE_HELPER_NAME = re.compile(r"freez|requires_grad|trainable|lora|peft|adapter", re.IGNORECASE)

ScopeNode = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass
class Blocker:
    """A statement the slice needed but does not run."""

    line: int
    code: str
    reason: str


@dataclass
class Plan:
    """What the replay runs, and what it could not."""

    code: CodeType  # the compiled program
    statements: int  # statements replayed (simple statements of the slice)
    blockers: dict[int, Blocker]  # line of a left-out criterion -> the statement that blocks it
    probes: list[Probe]
    statement_spans: dict[int, tuple[int, int, int, int]]  # line -> (row, col, end_row, end_col) of its statement
    kept_lines: set[int]
    freezing_lines: set[int]  # lines of statements that change what trains (or call what does)
    index: Index
    exec_mode: bool = False


# --- indexing the module ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    """One statement with its place: parent statement and scope."""

    stmt: ast.stmt
    parent: Node | None
    scope: ScopeNode
    depth: int


class Index:
    """Every statement of a module with its parent and scope, and per scope the statements binding each name."""

    def __init__(self, tree: ast.Module, text: str) -> None:
        self.tree = tree
        self.lines = text.splitlines()
        self.nodes: dict[int, Node] = {}  # id(stmt) -> Node
        self.bindings: dict[int, dict[str, list[ast.stmt]]] = {}  # id(scope) -> name -> binding statements
        self.parameters: dict[int, set[str]] = {}  # id(function) -> parameter names
        self.scope_parent: dict[int, ScopeNode | None] = {id(tree): None}
        self.scope_node_of: dict[int, Node | None] = {id(tree): None}  # id(scope) -> the Node of its def/class
        self.globals: dict[int, set[str]] = {}
        self._children: dict[int, list[ast.stmt]] = {}  # id(stmt) -> its own statements, before instrumentation
        self._place: dict[int, tuple[list[ast.stmt], int]] = {}  # id(stmt) -> the body it is in, and where
        self._walk_body(tree.body, None, tree, 0)

    def _walk_body(self, body: list[ast.stmt], parent: Node | None, scope: ScopeNode, depth: int) -> None:
        for position, stmt in enumerate(body):
            node = Node(stmt, parent, scope, depth)
            self.nodes[id(stmt)] = node
            self._place[id(stmt)] = (body, position)
            if parent is not None:
                self._children.setdefault(id(parent.stmt), []).append(stmt)
            for name in _bound_names(stmt):
                self.bindings.setdefault(id(scope), {}).setdefault(name, []).append(stmt)
            if isinstance(stmt, ast.Global):
                self.globals.setdefault(id(scope), set()).update(stmt.names)
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.scope_parent[id(stmt)] = scope
                self.scope_node_of[id(stmt)] = node
                if not isinstance(stmt, ast.ClassDef):
                    args = stmt.args
                    self.parameters[id(stmt)] = {
                        a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg) if a
                    }
                self._walk_body(stmt.body, node, stmt, depth + 1)
            else:
                for child_body in _child_bodies(stmt):
                    self._walk_body(child_body, node, scope, depth + 1)

    def node(self, stmt: ast.stmt) -> Node:
        return self.nodes[id(stmt)]

    def children(self, stmt: ast.stmt) -> list[ast.stmt]:
        """The statements directly inside a compound statement, as the script wrote them (the replayed program
        rewrites bodies in place)."""
        return self._children.get(id(stmt), [])

    def statements(self) -> Iterator[ast.stmt]:
        return (node.stmt for node in self.nodes.values())

    def control_jumps(self, stmt: ast.stmt) -> list[ast.stmt]:
        """The `continue`, `break` and `return` statements, earlier in the blocks around `stmt` (up to its function),
        that decide whether it runs: `if name.startswith("classifier"): continue` before a freeze in a loop."""
        found: list[ast.stmt] = []
        current = stmt
        while True:
            body, position = self._place[id(current)]
            for earlier in body[:position]:
                found.extend(_jumps_out(earlier))
            parent = self.nodes[id(current)].parent
            if parent is None or isinstance(parent.stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                return found
            current = parent.stmt

    def at(self, line: int, column: int) -> ast.stmt | None:
        """The innermost statement containing a position (1-based line, 0-based character column)."""
        best: Node | None = None
        for node in self.nodes.values():
            stmt = node.stmt
            if not (stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno)):
                continue
            start = (stmt.lineno, self.char_column(stmt.lineno, stmt.col_offset))
            end = (stmt.end_lineno or stmt.lineno, self.char_column(stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0))
            if start <= (line, column) <= end and (best is None or node.depth >= best.depth):
                best = node
        return best.stmt if best is not None else None

    def char_column(self, line: int, byte_column: int) -> int:
        """ast counts columns in UTF-8 bytes; libcst and editors count characters."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return len(text.encode("utf-8")[:byte_column].decode("utf-8", errors="ignore"))

    def span(self, stmt: ast.stmt) -> tuple[int, int, int, int]:
        """1-based (row, column, end row, end column) of a statement, columns in characters."""
        end_line = stmt.end_lineno or stmt.lineno
        return (
            stmt.lineno,
            self.char_column(stmt.lineno, stmt.col_offset) + 1,
            end_line,
            self.char_column(end_line, stmt.end_col_offset or 0) + 1,
        )

    def code(self, stmt: ast.stmt) -> str:
        """The statement's first line, for messages."""
        text = self.lines[stmt.lineno - 1].strip() if stmt.lineno <= len(self.lines) else ""
        if isinstance(stmt, (ast.If, ast.For, ast.While, ast.With, ast.FunctionDef, ast.ClassDef, ast.Try)):
            return text
        return text if len(text) <= 90 else text[:87] + "..."

    def ancestors(self, stmt: ast.stmt) -> Iterator[ast.stmt]:
        """Enclosing statements, innermost first, across scopes (a function's def, its class...)."""
        node = self.node(stmt).parent
        while node is not None:
            yield node.stmt
            node = node.parent

    def resolve(self, name: str, scope: ScopeNode) -> tuple[list[ast.stmt], bool]:
        """The statements binding `name` as seen from `scope`, and whether it is a parameter of an enclosing function.
        Flow-insensitive: every binding in the nearest scope that binds the name."""
        current: ScopeNode | None = scope
        if name in self.globals.get(id(scope), set()):
            current = self.tree
        while current is not None:
            if not isinstance(current, ast.ClassDef) or current is scope:
                if name in self.parameters.get(id(current), set()):
                    return self.bindings.get(id(current), {}).get(name, []), True
                found = self.bindings.get(id(current), {}).get(name)
                if found:
                    return found, False
            current = self.scope_parent.get(id(current))
        return [], False


def _jumps_out(stmt: ast.stmt) -> list[ast.stmt]:
    """The jumps inside `stmt` that leave the block around it: `continue` and `break` not inside a loop of their own,
    `return` not inside a function of its own. (A `raise` is left to the replay's failure handling: it usually
    guards data files the replay does not have.)"""
    found: list[ast.stmt] = []
    stack: list[tuple[ast.AST, bool]] = [(stmt, False)]
    while stack:
        node, in_loop = stack.pop()
        if isinstance(node, (ast.Continue, ast.Break)) and not in_loop:
            found.append(node)
        elif isinstance(node, ast.Return):
            found.append(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        nested = in_loop or isinstance(node, (ast.For, ast.AsyncFor, ast.While))
        stack.extend((child, nested) for child in ast.iter_child_nodes(node))
    return found


def _child_bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    bodies: list[list[ast.stmt]] = []
    for name in ("body", "orelse", "finalbody"):
        value = getattr(stmt, name, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            bodies.append(value)
    for handler in getattr(stmt, "handlers", []) or []:
        bodies.append(handler.body)
    for case in getattr(stmt, "cases", []) or []:
        bodies.append(case.body)
    return bodies


def _target_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _bound_names(stmt: ast.stmt) -> set[str]:
    """Names a statement binds in its own scope (not inside nested functions or classes)."""
    names: set[str] = set()
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            names.update(_target_names(target))
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        names.update(_target_names(stmt.target))
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        names.update(_target_names(stmt.target))
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        for item in stmt.items:
            if item.optional_vars is not None:
                names.update(_target_names(item.optional_vars))
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for alias in stmt.names:
            if alias.name != "*":
                names.add(alias.asname or alias.name.split(".")[0])
    elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
        for handler in stmt.handlers:  # type: ignore[attr-defined]
            if handler.name:
                names.add(handler.name)
    for expression in _header_expressions(stmt):
        for sub in ast.walk(expression):
            if isinstance(sub, ast.NamedExpr):
                names.update(_target_names(sub.target))
    return names


def _header_expressions(stmt: ast.stmt) -> list[ast.AST]:
    """The expressions a statement evaluates itself (for a compound statement: its header, not its body)."""
    if isinstance(stmt, (ast.If, ast.While)):
        return [stmt.test]
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.iter]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [item.context_expr for item in stmt.items]
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = stmt.args
        parts: list[ast.AST] = [*stmt.decorator_list, *args.defaults, *[d for d in args.kw_defaults if d is not None]]
        return parts
    if isinstance(stmt, ast.ClassDef):
        return [stmt]  # a class is kept whole: everything it reads
    if isinstance(stmt, ast.Match):
        return [stmt.subject]
    if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
        return [h.type for h in stmt.handlers if h.type is not None]  # type: ignore[attr-defined]
    return [stmt]


def _loaded_names(stmt: ast.stmt) -> set[str]:
    """Names a statement reads (its header for compound statements), minus names bound inside its own
    comprehensions, lambdas and (for classes) methods."""
    loaded: set[str] = set()
    local: set[str] = set()
    for expression in _header_expressions(stmt):
        for sub in ast.walk(expression):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                loaded.add(sub.id)
            elif isinstance(sub, ast.Name):
                local.add(sub.id)
            elif isinstance(sub, ast.arg):
                local.add(sub.arg)
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub is not stmt:
                local.add(sub.name)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                local.update(_bound_names(sub))
    if isinstance(stmt, ast.ClassDef):
        return loaded - local
    return loaded - (local - _assigned_names(stmt))


def _assigned_names(stmt: ast.stmt) -> set[str]:
    """Names assigned by the statement itself (they stay dependencies when also read: `x = x + 1`)."""
    return _bound_names(stmt) if not isinstance(stmt, ast.ClassDef) else set()


def _root_name(expression: ast.expr) -> str | None:
    """`model` for `model.config.num_labels`, `model.layers[0].attn`, `model.train()` ..."""
    while True:
        if isinstance(expression, ast.Attribute):
            expression = expression.value
        elif isinstance(expression, ast.Subscript):
            expression = expression.value
        elif isinstance(expression, ast.Call):
            expression = expression.func
        elif isinstance(expression, ast.Name):
            return expression.id
        else:
            return None


# --- choosing the slice --------------------------------------------------------------------------------------------


class Slicer:
    """Computes the slice of one script from its facts."""

    def __init__(self, facts: F.Facts, tree: ast.Module, text: str) -> None:
        self.facts = facts
        self.tree = tree
        self.index = Index(tree, text)
        self.never_run: dict[int, str] = {}  # id(stmt) -> why it is never replayed
        self.criteria: list[ast.stmt] = []
        self.probe_regions: dict[int, set[str]] = {}  # id(stmt) -> event kinds
        self.freezing: set[int] = set()  # statements that change what trains, and the call sites leading to them
        self.required: set[int] = set()
        self.optional: set[int] = set()
        self.stmt_by_id: dict[int, ast.stmt] = {id(s): s for s in self.index.statements()}
        self._dependencies: dict[int, list[tuple[str, list[ast.stmt]]]] = {}
        self.entries: list[ast.stmt] = []

    # positions -----------------------------------------------------------------------------------------------------

    def stmt_of(self, node: cst.CSTNode) -> ast.stmt | None:
        span = self.facts.positions().get(node)
        if span is None:
            return None
        return self.index.at(span.start.line, span.start.column)

    # what never runs ------------------------------------------------------------------------------------------------

    def mark_never_run(self) -> None:
        def mark(node: cst.CSTNode, reason: str) -> None:
            stmt = self.stmt_of(node)
            if stmt is not None:
                self.never_run.setdefault(id(stmt), reason)

        for event in self.facts.all_events(uncalled=True):
            if isinstance(event, F.TrainCall):
                mark(event.node, "trains the model")
            elif isinstance(event, F.Backward):
                mark(event.node, "runs a backward pass")
            elif isinstance(event, F.Forward) and not _in_constructor(event.where):
                # A call in `__init__` (`self.features(torch.zeros(...)).shape`) is a size probe: part of building.
                mark(event.node, "runs the model on data")
            elif isinstance(event, F.OptimizerCall) and event.method in ("step", "zero_grad", "load_state_dict"):
                mark(event.node, f"runs `{event.method}()` of an optimizer")
            elif isinstance(event, F.TrainerBuild):
                mark(event.node, f"builds a {event.class_name} (it needs the data; the replay stops before training)")
            elif isinstance(event, F.Wrap) and event.kind in WRAPS_NEVER_RUN:
                mark(event.node, f"wraps the model for distributed training ({WRAPS_NEVER_RUN[event.kind]})")
            elif isinstance(event, F.LibraryCall) and NEVER_RUN_LIBRARY.match(event.qualname):
                mark(event.node, f"calls `{event.qualname}` (data, files or the network)")
            elif isinstance(event, F.ModuleCall) and event.method in NEVER_RUN_METHODS:
                mark(event.node, f"calls `.{event.method}()`")
        for model in self.facts.models:
            if model.source is F.ModelSource.FACTORY:
                mark(model.node, f"builds a {model.library} model (timm, torchvision and torch.hub models stay static-only)")
        for stmt in self.index.statements():
            for expression in _header_expressions(stmt) if not isinstance(stmt, ast.ClassDef) else []:
                for sub in ast.walk(expression):
                    if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in NEVER_RUN_BUILTINS:
                        self.never_run.setdefault(id(stmt), f"calls `{sub.func.id}()`")

    # criteria -------------------------------------------------------------------------------------------------------

    def collect_criteria(self) -> None:
        def add(where: F.Where, node: cst.CSTNode, kind: str | None) -> None:
            if where.callback_of is not None:
                return  # runs during training, in a callback: after the point the replay describes
            stmt = self.stmt_of(node)
            if stmt is None:
                return
            self.criteria.append(stmt)
            if kind is not None:
                self.probe_regions.setdefault(id(stmt), set()).add(kind)
                self.freezing.add(id(stmt))
            for call in where.calls:
                site = self.stmt_of(call)
                if site is not None:
                    self.criteria.append(site)
                    if kind is not None:
                        self.freezing.add(id(site))

        for model in self.facts.models:
            if model.abstract or model.source in (F.ModelSource.LAYER, F.ModelSource.FACTORY):
                continue
            add(model.where, model.node, None)
        reused = _reused_iterators(self.facts)
        for event in self.facts.all_events(uncalled=True):
            if isinstance(event, F.Consumption) and id(event.value) in reused:
                add(event.where, event.node, None)  # what a one-shot iterator's first use leaves for the next one
            elif isinstance(event, F.FreezeOp):
                add(event.where, event.node, "freeze")
                if event.loop is not None:
                    loop_stmt = self.stmt_of(event.loop.node)
                    if loop_stmt is not None and isinstance(loop_stmt, (ast.For, ast.AsyncFor)):
                        self.probe_regions.setdefault(id(loop_stmt), set()).add("freeze")
            elif isinstance(event, F.PeftApply) and event.call is not None:
                add(event.where, event.node, "peft")
            elif isinstance(event, F.OptimizerBuild):
                add(event.where, event.node, None)
            elif isinstance(event, F.AttributeAssign) and _assigns_module(event):
                add(event.where, event.node, "head")
            elif isinstance(event, F.OpaqueUse) and FREEZE_HELPER_NAME.search(event.callee):
                add(event.where, event.node, "freeze")
            elif isinstance(event, F.ExpressionStatement) and _about_freezing(self.facts, event):
                add(event.where, event.node, "freeze")  # `p.requires_grad == False`: measured to show it does nothing

    # closure --------------------------------------------------------------------------------------------------------

    def dependencies(self, stmt: ast.stmt) -> list[tuple[str, list[ast.stmt]]]:
        """For each name the statement reads, the statements that may bind it. A loop variable depends only on the
        enclosing loop that binds it; parameters, builtins and unknown names depend on nothing."""
        cached = self._dependencies.get(id(stmt))
        if cached is not None:
            return cached
        node = self.index.node(stmt)
        enclosing = list(self.index.ancestors(stmt))
        found = []
        for name in sorted(_loaded_names(stmt)):
            bindings, is_parameter = self.index.resolve(name, node.scope)
            bindings = [b for b in bindings if b is not stmt]
            around = [b for b in bindings if any(b is a for a in enclosing)]
            if around:
                bindings = around[:1]
            if bindings:
                found.append((name, bindings))
        self._dependencies[id(stmt)] = found
        return found

    def close(self, seeds: list[ast.stmt], into: set[int]) -> None:
        """Add statements, their enclosing statements and what they read, transitively."""
        work = list(seeds)
        while work:
            stmt = work.pop()
            if id(stmt) in into:
                continue
            into.add(id(stmt))
            work.extend(self.index.ancestors(stmt))
            work.extend(self.index.control_jumps(stmt))
            for _, bindings in self.dependencies(stmt):
                work.extend(bindings)
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                # A kept function returns what it returns.
                work.extend(s for s in _walk_scope(stmt) if isinstance(s, ast.Return))

    def mutations(self) -> None:
        """Statements that only configure an object the slice holds (`config.x = ...`, `model.train()`,
        `parser.add_argument(...)`): kept when everything they need can run."""
        changed = True
        while changed:
            changed = False
            kept = self.required | self.optional
            for stmt in self.index.statements():
                if id(stmt) in kept or id(stmt) in self.never_run:
                    continue
                root = _mutated_root(stmt)
                if root is None:
                    continue
                node = self.index.node(stmt)
                if not self._scope_kept(node.scope, kept):
                    continue
                bindings, is_parameter = self.index.resolve(root, node.scope)
                if not (is_parameter or any(id(b) in kept for b in bindings)):
                    continue
                candidate: set[int] = set()
                self.close([stmt], candidate)
                new = candidate - kept
                if any(i in self.never_run for i in new):
                    continue
                self.optional |= new
                changed = True
                kept = self.required | self.optional

    def _scope_kept(self, scope: ScopeNode, kept: set[int]) -> bool:
        return isinstance(scope, ast.Module) or id(scope) in kept

    # runnability ----------------------------------------------------------------------------------------------------

    def runnable(self) -> tuple[set[int], dict[int, Blocker]]:
        """Drop kept statements that cannot run (never-run ones, and what needs them), and say why."""
        kept = self.required | self.optional
        dead: set[int] = {i for i in kept if i in self.never_run}
        changed = True
        while changed:
            changed = False
            for stmt_id in kept - dead:
                stmt = self.stmt_by_id[stmt_id]
                if any(id(a) in dead for a in self.index.ancestors(stmt) if id(a) in kept):
                    dead.add(stmt_id)
                    changed = True
                    continue
                for _, bindings in self.dependencies(stmt):
                    if bindings and all(id(b) in dead or id(b) not in kept for b in bindings):
                        dead.add(stmt_id)
                        changed = True
                        break
        blockers: dict[int, Blocker] = {}
        for stmt in self.criteria:
            if id(stmt) in dead:
                cause = self.root_cause(stmt, dead)
                if cause is not None:
                    blockers[stmt.lineno] = Blocker(cause.lineno, self.index.code(cause), self.never_run[id(cause)])
        # What only the left-out statements needed (their imports, their arguments) is left out with them.
        needed: set[int] = set()
        self.close([c for c in self.criteria if id(c) not in dead], needed)
        self.close([e for e in self.entries if id(e) not in dead], needed)
        return self.without_orphans((needed | self.optional) - dead, needed), blockers

    def without_orphans(self, kept: set[int], needed: set[int]) -> set[int]:
        """Drop the optional statements (`tokenizer.pad_token = ...`) whose object is no longer made by the slice: its
        binding was kept only for a statement left out since (a Trainer's collator), and running the configuring
        statement alone would fail with a NameError."""
        changed = True
        while changed:
            changed = False
            for stmt_id in list(kept - needed):
                stmt = self.stmt_by_id[stmt_id]
                unbound = any(bindings and not any(id(b) in kept for b in bindings) for _, bindings in self.dependencies(stmt))
                enclosing_gone = any(id(a) not in kept for a in self.index.ancestors(stmt))
                if unbound or enclosing_gone:
                    kept.discard(stmt_id)
                    changed = True
        return kept

    def root_cause(self, stmt: ast.stmt, dead: set[int]) -> ast.stmt | None:
        seen: set[int] = set()
        work = [stmt]
        while work:
            current = work.pop(0)
            if id(current) in seen:
                continue
            seen.add(id(current))
            if id(current) in self.never_run:
                return current
            work.extend(a for a in self.index.ancestors(current) if id(a) in dead)
            for _, bindings in self.dependencies(current):
                work.extend(b for b in bindings if id(b) in dead)
        return None

    def entry_points(self) -> list[ast.stmt]:
        """Statements that hand a function of the slice to something that calls it (`fire.Fire(main)`,
        `typer.run(main)`), or call it, when the facts found no call site."""
        functions = {
            stmt.name
            for stmt in self.index.statements()
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and id(stmt) in self.required
            and isinstance(self.index.node(stmt).scope, ast.Module)
        }
        entries: list[ast.stmt] = []
        for stmt in self.index.statements():
            node = self.index.node(stmt)
            if id(stmt) in self.required or not isinstance(node.scope, ast.Module):
                continue
            if isinstance(stmt, (ast.Expr, ast.Assign)) and _loaded_names(stmt) & functions:
                entries.append(stmt)
        return entries

    def compute(self) -> tuple[set[int], dict[int, Blocker]]:
        self.mark_never_run()
        self.collect_criteria()
        self.close(self.criteria, self.required)
        self.entries = self.entry_points()
        self.close(self.entries, self.required)
        self.mutations()
        return self.runnable()


def _walk_scope(function: ast.stmt) -> Iterator[ast.stmt]:
    """Statements of a function body, not entering nested functions or classes."""
    work = list(getattr(function, "body", []))
    while work:
        stmt = work.pop()
        yield stmt
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for body in _child_bodies(stmt):
                work.extend(body)


def _mutated_root(stmt: ast.stmt) -> str | None:
    """The variable an attribute store or a method-call statement changes (`config` in `config.num_labels = 3`)."""
    if isinstance(stmt, ast.Assign):
        roots = {_root_name(t) for t in stmt.targets if isinstance(t, (ast.Attribute, ast.Subscript))}
        return roots.pop() if len(roots) == 1 and None not in roots else None
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and isinstance(stmt.target, (ast.Attribute, ast.Subscript)):
        return _root_name(stmt.target)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Attribute):
        if stmt.value.func.attr in NEVER_RUN_METHODS:
            return None
        return _root_name(stmt.value.func.value)
    return None


def _reused_iterators(facts: F.Facts) -> set[int]:
    """ids of one-shot parameter iterators (a generator, `filter(...)`, `model.parameters()`) consumed more than once."""
    seen: set[int] = set()
    reused: set[int] = set()
    for use in facts.of(F.Consumption, uncalled=True):
        if isinstance(use.value, (F.ParamSet, F.ParamGroups)):
            (reused if id(use.value) in seen else seen).add(id(use.value))
    return reused


def _about_freezing(facts: F.Facts, event: F.ExpressionStatement) -> bool:
    """An expression statement that looks like freezing (`p.requires_grad == False`, an unconsumed `map` of freezes)."""
    if any(isinstance(option, F.LazyMap) for option in event.value.candidates()):
        return True
    return "requires_grad" in facts.code(event.expression) or "freeze" in facts.code(event.expression)


def _assigns_module(event: F.AttributeAssign) -> bool:
    """A head replacement or a new parameter: `model.classifier = nn.Linear(...)`, `m.weight = nn.Parameter(...)`."""
    if not isinstance(event.owner, (F.ModuleRef, F.Model)):
        return False
    return any(
        isinstance(option, (F.Model, F.ModuleRef)) or (isinstance(option, F.ParamRef) and option.new)
        for option in event.value.candidates()
    )


# --- building the program ------------------------------------------------------------------------------------------


def _header_lines(stmt: ast.stmt) -> tuple[int, int]:
    """The lines a statement runs when it is reached: all of a simple statement; a compound statement's decorators and
    header, not its body."""
    start = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
    children = [child for body in _child_bodies(stmt) for child in body]
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        children = list(stmt.body)
    if not children:
        return start, stmt.end_lineno or stmt.lineno
    return start, max(stmt.lineno, min(child.lineno for child in children) - 1)


def plan(facts: F.Facts, text: str, path: str, exec_mode: bool = False) -> Plan:
    """The program to replay for one script: its slice (or, with `exec_mode`, all of it), instrumented."""
    tree = ast.parse(text, filename=path)
    slicer = Slicer(facts, tree, text)
    if exec_mode:
        slicer.mark_never_run()
        slicer.collect_criteria()
        kept: set[int] | None = None
        blockers: dict[int, Blocker] = {}
        kept_ids = {id(s) for s in slicer.index.statements()}
    else:
        kept_ids, blockers = slicer.compute()
        kept = kept_ids
    probes: dict[int, Probe] = {}
    regions = _regions(slicer, kept_ids)
    for number, stmt_id in enumerate(regions, start=1):
        stmt = slicer.stmt_by_id[stmt_id]
        probes[stmt_id] = Probe(number, stmt.lineno, stmt.end_lineno or stmt.lineno, set(regions[stmt_id]))
    index = slicer.index
    spans: dict[int, tuple[int, int, int, int]] = {}  # line -> its first statement's span
    for stmt in index.statements():
        spans.setdefault(stmt.lineno, index.span(stmt))
    sentinel = len(text.splitlines()) + 2
    needed = None if exec_mode else {name for i in kept_ids for name in _loaded_names(slicer.stmt_by_id[i])}
    headers = {id(stmt): _header_lines(stmt) for stmt in index.statements()}
    tree = Instrument(kept, probes, guard_errors=not exec_mode, sentinel=sentinel, needed=needed, headers=headers).visit(tree)
    ast.fix_missing_locations(tree)
    code = compile(tree, path, "exec", dont_inherit=True)
    simple = sum(
        1 for i in kept_ids
        if not isinstance(slicer.stmt_by_id[i], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For,
                                                 ast.While, ast.With, ast.Try, ast.AsyncFor, ast.AsyncWith, ast.Match))
    )
    return Plan(
        code=code,
        statements=simple,
        blockers=blockers,
        probes=list(probes.values()),
        statement_spans=spans,
        kept_lines={slicer.stmt_by_id[i].lineno for i in kept_ids},
        freezing_lines={slicer.stmt_by_id[i].lineno for i in slicer.freezing},
        index=index,
        exec_mode=exec_mode,
    )


def _regions(slicer: Slicer, kept: set[int]) -> dict[int, set[str]]:
    """Probe regions that are replayed. A freeze statement inside the loop over the parameters is measured twice: the
    loop as a whole (cheap: once per loop), and the statement itself (once per iteration, within a budget)."""
    return {i: kinds for i, kinds in slicer.probe_regions.items() if i in kept}


def _in_constructor(where: F.Where) -> bool:
    return where.function.rsplit(".", 1)[-1] == "__init__"
