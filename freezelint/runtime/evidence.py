"""What the replay measured, read for the rules' runtime hooks: where a statement is, which model a finding is about,
the name filters of freeze loops and the names they meet, the BatchNorm layers training moves, the parameters an
optimizer lacks. Rules reach these through `RuntimeView` (`freezelint.runtime.view`), never by importing this module.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Iterator

from freezelint import facts as F
from freezelint import knowledge
from freezelint.rules.runtime_hooks import (
    CONFIRMED,
    NOT_CHECKABLE,
    REFUTED,
    Found,
    StaticFinding,
    Verdict,
    number,
    plural,
)
from freezelint.runtime.state import State, TopModel


def at(state: State, stmt: ast.stmt, code: str, message: str, evidence: str, model: TopModel | None) -> Found:
    row, column, end_row, end_column = state.plan.index.span(stmt)
    return Found(code, row, column, end_row, end_column, message, evidence, model.name if model else None)


def at_node(state: State, node: ast.expr, code: str, message: str, evidence: str, model: TopModel | None) -> Found:
    index = state.plan.index
    end_row = node.end_lineno or node.lineno
    return Found(
        code, node.lineno, index.char_column(node.lineno, node.col_offset) + 1, end_row,
        index.char_column(end_row, node.end_col_offset or 0) + 1, message, evidence, model.name if model else None,
    )


def at_line(state: State, row: int, code: str, message: str, evidence: str, model: TopModel | None) -> Found:
    span = state.plan.statement_spans.get(row, (row, 1, row, 1))
    return Found(code, span[0], span[1], span[2], span[3], message, evidence, model.name if model else None)


def trainable_summary(top: TopModel) -> str:
    if top.trainable == top.total:
        return f"all {number(top.total)} parameters of `{top.name}` are trainable"
    return f"{number(top.trainable)} of {number(top.total)} parameters of `{top.name}` are trainable"


def prefixes(names: list[str], limit: int = 4) -> str:
    """`roberta.`, `classifier.`: the first components of parameter names, for messages."""
    seen: list[str] = []
    for name in names:
        head = name.split(".", 1)[0] + ("." if "." in name else "")
        if head not in seen:
            seen.append(head)
    shown = ", ".join(f"`{h}`" for h in seen[:limit])
    return shown + (", ..." if len(seen) > limit else "")


def training_line(state: State, top: TopModel) -> int | None:
    for model in state.facts.models:
        if model.abstract or state.model_for_static(model) is not top:
            continue
        training = state.facts.training_of(model)
        if training is not None:
            return state.facts.line(training.event.where.statement or training.event.node)
    for record in state.optimizers_of(top):
        return record.line
    return None


@dataclass
class NameFilter:
    """A freeze statement inside a loop over `(name, value)` pairs, and the string tests its names go through."""

    stmt: ast.stmt
    loop: ast.For
    name_var: str
    tests: list[ast.expr]  # the `if` tests between loop and statement, and the assigned value when not a constant
    literals: list[tuple[str, str, ast.expr]]  # (literal, how: "in" | "prefix" | "suffix" | "equals", node)
    op: F.FreezeOp


def name_filters(state: State) -> list[NameFilter]:
    index = state.plan.index
    filters: list[NameFilter] = []
    seen: set[int] = set()
    for op in state.facts.of(F.FreezeOp, uncalled=True):
        if op.where.callback_of is not None:
            continue
        span = state.facts.positions().get(op.node)
        if span is None:
            continue
        stmt = index.at(span.start.line, span.start.column)
        if stmt is None or id(stmt) in seen:
            continue
        seen.add(id(stmt))
        tests: list[ast.expr] = []
        loop: ast.For | None = None
        for ancestor in index.ancestors(stmt):
            if isinstance(ancestor, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                break
            if isinstance(ancestor, ast.If):
                tests.append(ancestor.test)
            if isinstance(ancestor, ast.For) and _named_target(ancestor) is not None:
                loop = ancestor
                break
        if loop is None:
            continue
        name_var = _named_target(loop)
        assert name_var is not None
        if isinstance(stmt, ast.Assign) and not isinstance(stmt.value, ast.Constant):
            tests.append(stmt.value)
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and stmt.value.args:
            if not isinstance(stmt.value.args[0], ast.Constant):
                tests.append(stmt.value.args[0])
        literals = [item for test in tests for item in _name_literals(test, name_var)]
        if literals:
            filters.append(NameFilter(stmt, loop, name_var, tests, literals, op))
    return filters


def _named_target(loop: ast.For) -> str | None:
    """`n` in `for n, p in model.named_parameters()` (any loop over pairs whose first element is a name)."""
    target = loop.target
    if isinstance(target, ast.Tuple) and len(target.elts) == 2 and isinstance(target.elts[0], ast.Name):
        return target.elts[0].id
    return None


def _mentions(expression: ast.AST, name: str) -> bool:
    return any(isinstance(node, ast.Name) and node.id == name for node in ast.walk(expression))


def _strings(expression: ast.AST) -> list[ast.Constant]:
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        return [expression]
    if isinstance(expression, (ast.Tuple, ast.List, ast.Set)):
        return [s for element in expression.elts for s in _strings(element)]
    return []


def _name_literals(test: ast.AST, name: str) -> list[tuple[str, str, ast.expr]]:
    """String literals a name is tested against: `"x" in n`, `n.startswith("x")`, `n == "x"`, `any(k in n for k in
    ["x", "y"])`, `n in ["x", "y"]`, and the patterns `any(f"x.{i}" in n for i in range(2))` generates."""
    found: list[tuple[ast.Constant, str]] = []
    generated: list[tuple[str, str, ast.expr]] = []
    for node in ast.walk(test):
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right, op = node.left, node.comparators[0], node.ops[0]
            if isinstance(op, (ast.In, ast.NotIn)) and _mentions(right, name):
                found += [(s, "in") for s in _strings(left)]
            elif isinstance(op, (ast.In, ast.NotIn)) and _mentions(left, name):
                found += [(s, "equals") for s in _strings(right)]
            elif isinstance(op, (ast.Eq, ast.NotEq)) and (_mentions(left, name) or _mentions(right, name)):
                found += [(s, "equals") for s in _strings(left) + _strings(right)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _mentions(node.func.value, name):
            how = {"startswith": "prefix", "endswith": "suffix"}.get(node.func.attr)
            if how is not None and node.args:
                found += [(s, how) for s in _strings(node.args[0])]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("any", "all") and node.args:
            generator = node.args[0]
            if isinstance(generator, (ast.GeneratorExp, ast.ListComp)) and _mentions(generator.elt, name):
                for clause in generator.generators:
                    how = "prefix" if "startswith" in ast.unparse(generator.elt) else "in"
                    found += [(s, how) for s in _strings(clause.iter)]
                    generated += _generated(generator.elt, clause, how)
    literals = [(node.value, how, node) for node, how in found if isinstance(node.value, str) and node.value]
    return [*literals, *generated]


def _generated(element: ast.expr, clause: ast.comprehension, how: str) -> list[tuple[str, str, ast.expr]]:
    """`f"encoder.layer.{i}"` for `i in range(2)`: the pattern for each index (`encoder.layer.0`, `encoder.layer.1`)."""
    iterable = clause.iter
    if not (isinstance(clause.target, ast.Name) and isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name)
            and iterable.func.id == "range" and 1 <= len(iterable.args) <= 2
            and all(isinstance(a, ast.Constant) and type(a.value) is int for a in iterable.args)):
        return []
    variable = clause.target.id
    for node in ast.walk(element):
        if isinstance(node, ast.JoinedStr) and node.values:
            *texts, last = node.values
            if (isinstance(last, ast.FormattedValue) and isinstance(last.value, ast.Name) and last.value.id == variable
                    and all(isinstance(t, ast.Constant) for t in texts)):
                prefix = "".join(str(t.value) for t in texts if isinstance(t, ast.Constant))
                bounds = [a.value for a in iterable.args if isinstance(a, ast.Constant) and type(a.value) is int]
                return [(prefix + str(i), how, node) for i in range(*bounds)]
    return []


def matches(literal: str, how: str, name: str) -> bool:
    if how == "prefix":
        return name.startswith(literal)
    if how == "suffix":
        return name.endswith(literal)
    if how == "equals":
        return name == literal
    return literal in name


@dataclass
class Iterated:
    """What a named loop went over at runtime: its model, and the names it saw (and the tied names it did not)."""

    top: TopModel
    kind: str  # "parameter" or "module"
    names: list[str]
    hidden: list[str]  # names of tied parameters that `named_parameters()` leaves out


def iterated(state: State, item: NameFilter) -> Iterated | None:
    header_end = item.loop.iter.end_lineno or item.loop.lineno
    for method, kind in (("named_parameters", "parameter"), ("named_modules", "module"), ("named_children", "module")):
        modules = state.harness.modules_called_between(item.loop.lineno, header_end, (method,))
        if not modules:
            continue
        module = modules[0]
        top = state.model_of(module)
        if top is None:
            return None
        if kind == "parameter":
            names = [name for name, _ in module.named_parameters()]
            every = [name for name, _ in module.named_parameters(remove_duplicate=False)]
            hidden = [name for name in every if name not in set(names)]
        else:
            getter = module.named_modules if method == "named_modules" else module.named_children
            names, hidden = [name for name, _ in getter()], []
        return Iterated(top, kind, names, hidden)
    return None


def filter_text(state: State, item: NameFilter) -> str:
    parts = [ast.unparse(test) for test in item.tests]
    return " and ".join(parts) if parts else ast.unparse(item.stmt)


LAYER_INDEX = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks|blk|stage|stages|res\d?|encoder\.layer)\.(\d+)$")


def layer_collisions(state: State, item: NameFilter) -> tuple[Iterated, str, list[str], list[str], ast.expr] | None:
    """For a filter with a layer-index literal (`"layer.1"`): the names it matches in other layers (10, 11...)."""
    if not state.ran(item.stmt.lineno):
        return None
    seen = iterated(state, item)
    if seen is None:
        return None
    meant = {literal for literal, _, _ in item.literals}
    for literal, how, node in item.literals:
        if how not in ("in", "prefix") or not LAYER_INDEX.search(literal):
            continue
        extra: set[str] = set()
        hit: list[str] = []
        for name in seen.names:
            position = name.find(literal) if how == "in" else (0 if name.startswith(literal) else -1)
            if position < 0:
                continue
            after = name[position + len(literal):]
            if after[:1].isdigit():
                digits = re.match(r"\d+", after)
                assert digits is not None
                if literal + digits.group(0) in meant:
                    continue  # layer 10, also named by the filter itself (`range(12)`)
                extra.add(literal.rsplit(".", 1)[1] + digits.group(0))
                hit.append(name)
        if extra:
            return seen, literal, sorted(extra, key=int), hit, node
    return None


def statement_starting(state: State, row: int) -> ast.stmt | None:
    for stmt in state.plan.index.statements():
        if stmt.lineno == row:
            return stmt
    return None


def inside_any(top: TopModel, name: str, targets: list[Any]) -> bool:
    owner_path = name.rsplit(".", 1)[0] if "." in name else ""
    try:
        owner = top.module.get_submodule(owner_path)
    except AttributeError:
        return False
    return any(target is owner or any(m is owner for m in target.modules()) for target in targets)


def trainable_under(top: TopModel, owners: list[str]) -> str:
    total = 0
    for owner in owners:
        try:
            module = top.module.get_submodule(owner)
        except AttributeError:
            continue
        total += sum(p.numel() for p in module.parameters() if p.requires_grad)
    return number(total)


def module_for_static(state: State, ref: F.ModuleRef) -> Any | None:
    """The runtime module a static reference names (`model.bert.encoder`, `model.layers[-1]`); None where a step of its
    path cannot be followed (a slice, an element of a loop, an attribute the real model lacks)."""
    top = state.model_for_static(ref.model)
    module = top.module if top is not None else None
    for step in ref.path:
        if module is None:
            return None
        if step.startswith("["):
            index = step[1:-1]
            if not index.lstrip("-").isdigit():
                return None
            try:
                module = module[int(index)]
            except (IndexError, TypeError, KeyError):
                return None
        else:
            module = getattr(module, step, None)
    return module


def mode_switched_module(finding: StaticFinding, state: State) -> tuple[str, Any] | None:
    """(as written, runtime module) of the `.eval()` or `.train(False)` call on the finding's line."""
    for call in state.facts.of(F.ModuleCall, uncalled=True):
        if call.method not in ("eval", "train") or not isinstance(call.receiver, F.ModuleRef):
            continue
        if state.facts.line(call.where.statement or call.call) != finding.row:
            continue
        module = module_for_static(state, call.receiver)
        if module is not None:
            return call.receiver.describe(), module
    return None


def adapter_parameters(top: TopModel) -> list[tuple[str, Any]]:
    return [(name, p) for name, p in top.named if any(marker in name for marker in knowledge.ADAPTER_PARAMETER_MARKERS)]


def batchnorm_drifting(state: State, top: TopModel) -> list[tuple[str, Any]]:
    """BatchNorm layers whose parameters are all frozen and that training puts in train mode."""
    import torch

    module = top.module
    calls_train = state.trained_by_trainer(top) or any(
        call.method == "train" and not call.where.standalone and call.where.callback_of is None
        for call in state.facts.of(F.ModuleCall, uncalled=True)
    )
    handled_in_callback = any(
        call.method == "eval" and call.where.callback_of is not None for call in state.facts.of(F.ModuleCall, uncalled=True)
    )
    if handled_in_callback:
        return []
    saved = {id(m): m.training for m in module.modules()}
    try:
        if calls_train:
            module.train()  # runs an overridden train() too: code that re-freezes BatchNorm there is honoured
        found = []
        for name, layer in module.named_modules():
            if not isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
                continue
            parameters = list(layer.parameters())
            if not parameters or any(p.requires_grad for p in parameters):
                continue
            if layer.training and layer.track_running_stats and layer.momentum != 0:
                found.append((name, layer))
        return found
    finally:
        for m in module.modules():
            m.training = saved.get(id(m), m.training)


def freezing_line(state: State, parameters: list[Any]) -> int | None:
    """The first line of the probe that froze any of these parameters."""
    keys = {id(p) for p in parameters}
    for record in sorted(state.harness.probes.values(), key=lambda r: r.probe.start):
        if keys & set(record.frozen):
            return record.probe.start
    return None


def unfrozen_after_build(state: State) -> Iterator[tuple[Any, TopModel, list[Any]]]:
    """Per optimizer of the script: the parameters of its model that were frozen when it was built, are trainable
    now, and are in no optimizer at all."""
    covered = {id(p) for record in state.harness.optimizers for p in record.parameters}
    for record in state.harness.optimizers:
        if rebuilt_where_unfrozen(state, record.line):
            continue
        for top in state.models:
            if not any(top.owns(p) for p in record.parameters):
                continue
            missing = [
                p for _, p in top.named
                if p.requires_grad and id(p) not in covered and id(p) in record.frozen_at_build
            ]
            if missing:
                yield record, top, missing


def rebuilt_where_unfrozen(state: State, line: int | None) -> bool:
    """The optimizer is built inside a loop that also unfreezes (a new optimizer per stage): each stage's optimizer
    gets what the previous stage unfroze."""
    builds = [b for b in state.facts.of(F.OptimizerBuild, uncalled=True) if state.facts.line(b.where.statement or b.node) == line]
    for build in builds:
        for op in state.facts.of(F.FreezeOp, uncalled=True):
            if op.value is not False and any(op.where.inside(loop) for loop in build.where.loops):
                return True
    return False


def unfreezes_later(state: State, line: int) -> bool:
    """The file unfreezes something after building this optimizer (gradual unfreezing: an optimizer over all
    parameters is then the right choice, as the static FRZ201 knows)."""
    builds = [b for b in state.facts.of(F.OptimizerBuild, uncalled=True) if state.facts.line(b.where.statement or b.node) == line]
    return any(
        op.value is not False and not op.where.standalone and any(op.order > b.order for b in builds)
        for op in state.facts.of(F.FreezeOp, uncalled=True)
    )


def still_trainable(finding: StaticFinding, state: State) -> Verdict:
    """For a mode switch taken for a freeze: confirmed when the module put in eval mode still has parameters that
    require grad once the replay's freezing has run, refuted when none does."""
    if (stopped := not_run(finding, state) or incomplete(state)) is not None:
        return stopped
    switched = mode_switched_module(finding, state)
    if switched is None:
        return Verdict(NOT_CHECKABLE, f"the module switched to eval mode at line {finding.row} was not found in the replay")
    written, module = switched
    parameters = list(module.parameters())
    trainable = sum(p.numel() for p in parameters if p.requires_grad)
    total = sum(p.numel() for p in parameters)
    if trainable:
        return Verdict(
            CONFIRMED,
            f"`{written}` was put in eval mode, yet {number(trainable)} of its {number(total)} parameters still "
            "require grad",
        )
    return Verdict(REFUTED, f"every parameter of `{written}` is frozen ({number(total)})")


def not_run(finding: StaticFinding, state: State) -> Verdict | None:
    if not state.ran(finding.row):
        return Verdict(NOT_CHECKABLE, state.why_not_run(finding.row))
    return None


def model_at(finding: StaticFinding, state: State) -> TopModel | None:
    """The model a finding's statement is about: loaded there, changed there, or the only one."""
    start, end = state.statement_lines(finding.row)
    top = state.model_loaded_between(start, end)
    if top is not None:
        return top
    record = state.harness.probe_at(finding.row)
    if record is not None:
        for parameter in (*record.frozen.values(), *record.unfrozen.values()):
            top = state.model_of(parameter)
            if top is not None:
                return top
        for module in state.harness.modules_called_between(record.probe.start, record.probe.end):
            top = state.model_of(module)
            if top is not None:
                return top
    for module in state.harness.modules_called_between(start, end):
        top = state.model_of(module)
        if top is not None:
            return top
    trained = [top for top in state.models if state.trained(top)]
    candidates = trained or state.models
    return candidates[0] if len(candidates) == 1 else None


def changes(finding: StaticFinding, state: State) -> tuple[int, int, int] | None:
    """(runs, frozen, unfrozen) measured for the statement at the finding's line, or None when unmeasured."""
    record = state.harness.probe_at(finding.row)
    if record is None or record.incomplete:
        return None
    return record.runs, len(record.frozen), len(record.unfrozen)


def no_op(finding: StaticFinding, state: State, detail: str) -> Verdict:
    """A freeze that should change nothing: confirmed when it ran and changed nothing, refuted when it changed."""
    missing = not_run(finding, state)
    if missing is not None:
        return missing
    measured = changes(finding, state)
    if measured is None:
        return Verdict(NOT_CHECKABLE, f"line {finding.row} ran but its effect was not measured")
    runs, frozen, unfrozen = measured
    if frozen or unfrozen:
        parts = [plural(n, "parameter tensor") + " " + verb for n, verb in ((frozen, "frozen"), (unfrozen, "unfrozen")) if n]
        return Verdict(REFUTED, f"line {finding.row} changed requires_grad at runtime: {' and '.join(parts)}")
    top = model_at(finding, state)
    summary = f"; {trainable_summary(top)}" if top is not None else ""
    times = "once" if runs == 1 else f"{runs:,} times"
    return Verdict(CONFIRMED, f"{detail}line {finding.row} ran {times} and changed no parameter's requires_grad{summary}")


def receiver_component(state: State, row: int) -> str:
    """`bert` for `model.bert.requires_grad = False` on that line."""
    lines = state.plan.index.lines
    text = lines[row - 1] if 0 < row <= len(lines) else ""
    match = re.search(r"(\w+)\s*\.\s*requires_grad\s*=", text)
    return match.group(1) if match else ""


def incomplete(state: State) -> Verdict | None:
    reason = state.incomplete()
    return Verdict(NOT_CHECKABLE, reason) if reason is not None else None


def largest_trainable(top: TopModel) -> str:
    prefix, rows = top.rows()
    trainable = [row for row in rows if row.trainable]
    if not trainable:
        return ""
    shown = ", ".join(f"`{prefix}{row.name}`: {number(row.trainable)}" for row in trainable[:3])
    return f" ({shown})"
