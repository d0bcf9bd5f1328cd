"""The program a replay runs: the statements of the slice (`freezelint.runtime.slicer`) as an `ast` module, so compiled
code keeps the script's own line numbers, with calls into the harness (`__freezelint__`): before each statement (which
lines ran), around freeze statements (to measure what each one changed), around each statement of the slice (one
failing statement does not end the replay) and at the end of each function (to keep its local models and
optimizers)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

HARNESS = "__freezelint__"


@dataclass
class Probe:
    """A replayed region (a freeze statement, or the loop around it) whose effect the harness measures."""

    id: int
    start: int
    end: int
    codes: set[str] = field(default_factory=set)  # kinds of events inside: "freeze", "peft", "head"


class Instrument(ast.NodeTransformer):
    """Prunes bodies to the slice and adds the harness calls."""

    def __init__(
        self, kept: set[int] | None, probes: dict[int, Probe], guard_errors: bool, sentinel: int,
        needed: set[str] | None = None, headers: dict[int, tuple[int, int]] | None = None,
    ) -> None:
        self.kept = kept  # None: keep everything (--exec)
        self.needed = needed  # the names the kept statements read (None: keep every name an import binds)
        self.headers = headers or {}  # id(stmt) -> the lines it runs when reached (a compound statement's header)
        self.sentinel = sentinel  # the line of code the script does not have (handlers, finally blocks)
        self.probes = probes
        self.guard_errors = guard_errors
        self.whole = 0  # inside a class: kept whole (its methods run when the slice instantiates it)

    def body(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for stmt in statements:
            structural = isinstance(stmt, (ast.Global, ast.Nonlocal)) or (
                isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
            )
            if self.kept is not None and not self.whole and not structural and id(stmt) not in self.kept:
                continue
            if self.needed is not None and not self.whole and not structural and isinstance(stmt, (ast.Import, ast.ImportFrom)):
                # `from transformers import AutoModel, Trainer`: importing the Trainer costs seconds the slice never uses.
                stmt.names = [a for a in stmt.names if a.name == "*" or (a.asname or a.name.split(".")[0]) in self.needed]
                if not stmt.names:
                    continue
            probe = self.probes.get(id(stmt))
            start, end = self.headers.get(id(stmt), (stmt.lineno, stmt.lineno))
            visited = self.visit(stmt)
            new: list[ast.stmt] = visited if isinstance(visited, list) else [visited]
            if not structural:  # line coverage, counted by the program itself: a tracer slows every library call
                new = [_harness_call("reached", stmt, ast.Constant(start), ast.Constant(end)), *new]
            if probe is not None:
                new = [_probe(probe.id, new, stmt, self.sentinel)]
            if self.guard_errors and not self.whole and not structural:
                new = [_guarded(new, stmt, self.sentinel)]
            result.extend(new)
        if not result:
            result = [ast.copy_location(ast.Pass(), statements[0]) if statements else ast.Pass()]
        return result

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for name in ("body", "orelse", "finalbody"):
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                pruned = self.body(value)
                if name != "body" and all(isinstance(s, ast.Pass) for s in pruned) and self.kept is not None:
                    pruned = []
                setattr(node, name, pruned)
        for handler in getattr(node, "handlers", []) or []:
            handler.body = self.body(handler.body)
        for case in getattr(node, "cases", []) or []:
            case.body = self.body(case.body)
        return node

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node.body = self.body(node.body)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.whole += 1
        try:
            node.body = self.body(node.body)
        finally:
            self.whole -= 1
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        body = self.body(node.body)
        if not self.whole:
            body = [_capture_locals(body, node, self.sentinel)]
        node.body = body
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]


def _harness_call(method: str, node: ast.AST, *args: ast.expr) -> ast.stmt:
    call = ast.Call(
        func=ast.Attribute(value=ast.Name(id=HARNESS, ctx=ast.Load()), attr=method, ctx=ast.Load()),
        args=list(args),
        keywords=[],
    )
    statement = ast.Expr(value=call)
    for sub in ast.walk(statement):
        if isinstance(sub, (ast.stmt, ast.expr)):
            # On the statement's first line only: a method call's position ends where its attribute ends.
            sub.lineno = sub.end_lineno = node.lineno  # type: ignore[attr-defined]
            sub.col_offset = sub.end_col_offset = getattr(node, "col_offset", 0)
    return statement


def _locals_call() -> ast.expr:
    return ast.Call(func=ast.Name(id="locals", ctx=ast.Load()), args=[], keywords=[])


def _synthetic(node: ast.AST, line: int) -> ast.AST:
    """Place code the instrumentation adds on a line the script does not have, so that line coverage of the
    script's own lines stays exact (Python attributes jumps to the last code a block contains)."""
    for sub in ast.walk(node):
        if isinstance(sub, (ast.stmt, ast.expr, ast.excepthandler)):
            sub.lineno = sub.end_lineno = line
            sub.col_offset = sub.end_col_offset = 0
    return node


def _probe(probe_id: int, body: list[ast.stmt], original: ast.stmt, sentinel: int) -> ast.stmt:
    """`enter(id, locals()); try: <stmt> finally: leave(id, locals())`."""
    enter = _harness_call("enter", original, ast.Constant(probe_id), _locals_call())
    leave = _synthetic(_harness_call("leave", original, ast.Constant(probe_id), _locals_call()), sentinel)
    wrapped = ast.Try(body=body, handlers=[], orelse=[], finalbody=[leave])  # type: ignore[list-item]
    ast.copy_location(wrapped, original)
    return ast.copy_location(ast.If(test=ast.Constant(True), body=[enter, wrapped], orelse=[]), original)


def _guarded(body: list[ast.stmt], original: ast.stmt, sentinel: int) -> ast.stmt:
    """`try: <stmt> except (Exception, SystemExit) as error: failed(line, error)`: one failing statement of the slice
    does not end the replay; the ones that needed it fail in turn and are reported with it."""
    name = "__freezelint_error__"
    handler = ast.ExceptHandler(
        type=ast.Tuple(elts=[ast.Name(id=kind, ctx=ast.Load()) for kind in ("Exception", "SystemExit")], ctx=ast.Load()),
        name=name,
        body=[_harness_call("failed", original, ast.Constant(original.lineno), ast.Name(id=name, ctx=ast.Load()))],
    )
    _synthetic(handler, sentinel)
    return ast.copy_location(ast.Try(body=body, handlers=[handler], orelse=[], finalbody=[]), original)


def _capture_locals(body: list[ast.stmt], function: ast.AST, sentinel: int) -> ast.stmt:
    """`try: <body> finally: capture(locals())`: a function's models outlive its return for the report."""
    capture = _synthetic(_harness_call("capture", function, _locals_call()), sentinel)
    return ast.copy_location(ast.Try(body=body, handlers=[], orelse=[], finalbody=[capture]), function)  # type: ignore[list-item]
