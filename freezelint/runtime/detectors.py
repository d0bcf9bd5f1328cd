"""What only the real architecture shows: findings the replay itself finds, under the codes the static rules use.

Each detector reads the `State` a replay left and yields `Found`s, placed on the statement responsible:

* FRZ301: a trained model with no trainable parameter left;
* FRZ107: a parameter-name filter that matches no name of this architecture;
* FRZ108: a layer-index pattern that also matches other layers (`"layer.1"` hits layers 10 and 11), listing them;
* FRZ304: a tied weight frozen through one of its names, freezing the other side too;
* FRZ503: BatchNorm layers of a frozen module that training runs in train mode (their statistics keep moving);
* FRZ202: parameters unfrozen after an optimizer was built from the then-trainable ones (they never update);
* FRZ201: an optimizer holding frozen parameters (harmless as written; a note).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from freezelint import facts as F
from freezelint.runtime.state import State, TopModel


@dataclass
class Found:
    code: str
    row: int
    column: int
    end_row: int
    end_column: int
    message: str
    evidence: str
    model: str | None = None
    consumed: bool = False  # confirmed a static finding instead of being reported on its own


Detector = Callable[[State], Iterator[Found]]
DETECTORS: dict[str, Detector] = {}


def detector(code: str) -> Callable[[Detector], Detector]:
    def register(function: Detector) -> Detector:
        DETECTORS[code] = function
        return function

    return register


# Conclusions about a model's final state; not drawn when the replay could not run all of its freezing.
WHOLE_MODEL = frozenset({"FRZ301", "FRZ202", "FRZ201", "FRZ503", "FRZ304"})


def detect(state: State) -> list[Found]:
    found: list[Found] = []
    incomplete = state.incomplete() is not None
    for code, function in DETECTORS.items():
        if incomplete and code in WHOLE_MODEL:
            continue
        for item in function(state):
            if not any(f.code == item.code and f.row == item.row and f.message == item.message for f in found):
                found.append(item)
    return sorted(found, key=lambda f: (f.row, f.column, f.code))


def number(count: int) -> str:
    return f"{count:,}"


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


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


# --- FRZ301 ---------------------------------------------------------------------------------------------------------


@detector("FRZ301")
def nothing_trainable(state: State) -> Iterator[Found]:
    if state.unfrozen_in_callbacks():
        return  # a callback unfreezes when training starts: the replay's state is not the one that trains
    for top in state.models:
        if top.trainable or not top.total:
            continue
        how = state.trained(top)
        if how is None:
            continue  # a frozen model nothing trains: a teacher, a reference model
        row = training_line(state, top) or top.line
        if row is None:
            continue
        yield at_line(
            state, row, "FRZ301",
            f"`{top.name}` ({top.class_name}) has no trainable parameter left: all {number(top.total)} are frozen, "
            f"yet {how} trains it. The first backward() fails with 'element 0 of tensors does not require grad' (or, "
            "with gradient checkpointing on transformers 5, training runs and changes nothing). Unfreeze what should "
            "learn (the task head, `requires_grad_(True)`) after the freeze-all.",
            f"0 of {number(top.total)} parameters of `{top.name}` trainable",
            top,
        )


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


# --- name filters (FRZ107, FRZ108, FRZ304) --------------------------------------------------------------------------


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


def _filter_text(state: State, item: NameFilter) -> str:
    parts = [ast.unparse(test) for test in item.tests]
    return " and ".join(parts) if parts else ast.unparse(item.stmt)


@detector("FRZ107")
def filter_matches_nothing(state: State) -> Iterator[Found]:
    for item in name_filters(state):
        if not state.ran(item.loop.lineno) or not any(state.ran(s.lineno) for s in state.plan.index.children(item.loop)):
            continue
        seen = iterated(state, item)
        if seen is None or not seen.names:
            continue
        unmatched = [(lit, how, node) for lit, how, node in item.literals if not any(matches(lit, how, n) for n in seen.names)]
        never_ran = not state.ran(item.stmt.lineno)
        if not never_ran and len(unmatched) < len(item.literals):
            continue
        if not never_ran and not unmatched:
            continue
        if unmatched and all(any(matches(lit, how, h) for h in seen.hidden) for lit, how, _ in unmatched):
            continue  # a tied weight's hidden name: FRZ304 says it
        filter_text = _filter_text(state, item)
        loop_text = f"for {ast.unparse(item.loop.target).strip('()')} in {ast.unparse(item.loop.iter)}"
        sample = prefixes(seen.names)
        if never_ran:
            effect = f"the statement at line {item.stmt.lineno} never ran, so nothing was frozen or unfrozen there"
        else:
            record = state.harness.probe_at(item.stmt.lineno)
            frozen = len(record.frozen) if record else 0
            effect = (
                f"it applied to every {seen.kind} the loop saw ({plural(frozen, 'parameter tensor')} frozen)"
                if frozen else f"it applied to every {seen.kind} the loop saw"
            )
        literals = ", ".join(f"`{lit!r}`" for lit, _, _ in (unmatched or item.literals))
        evidence = (
            f"{literals} matches none of the {plural(len(seen.names), seen.kind + ' name')} of `{seen.top.name}` "
            f"({seen.top.class_name}; names start with {sample})"
        )
        yield at_node(
            state, (unmatched or item.literals)[0][2], "FRZ107",
            f"The name test `{filter_text}` in `{loop_text}` relies on a name this architecture does not have: {evidence}; "
            f"{effect}. Check the names (`[n for n, _ in {ast.unparse(item.loop.iter)}]`), or use module handles "
            "(`model.base_model`, `model.get_input_embeddings()`) instead of name strings.",
            evidence,
            seen.top,
        )


LAYER_INDEX = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks|blk|stage|stages|res\d?|encoder\.layer)\.(\d+)$")


@detector("FRZ108")
def prefix_collision(state: State) -> Iterator[Found]:
    for item in name_filters(state):
        found = layer_collisions(state, item)
        if found is None:
            continue
        seen, literal, extra_layers, hit, node = found
        record = state.harness.probe_at(item.stmt.lineno)
        changed = {seen.top.describe(p) for p in ((record.frozen | record.unfrozen).values() if record else [])}
        affected = sorted({name for name in hit if name in changed})
        if not affected:
            continue
        layers = ", ".join(extra_layers)
        evidence = (
            f"`{literal!r}` also matches layers {layers} of `{seen.top.name}`: {plural(len(affected), 'parameter tensor')} "
            f"there changed, e.g. `{affected[0]}`"
        )
        yield at_node(
            state, node, "FRZ108",
            f"The pattern `{literal!r}` in `{_filter_text(state, item)}` is a prefix of other layer indices: {evidence}. "
            f"End the pattern at the dot (`{literal + '.'!r}`), or index the layers (`layer[:2]`).",
            evidence,
            seen.top,
        )


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


@detector("FRZ304")
def tied_frozen_one_side(state: State) -> Iterator[Found]:
    reported: set[int] = set()
    filters = {id(item.stmt): item for item in name_filters(state)}
    for record in state.harness.probes.values():
        for key, parameter in record.frozen.items():
            if parameter.requires_grad or key in reported:
                continue
            top = state.model_of(parameter)
            if top is None or len(top.aliases.get(key, [])) < 2:
                continue
            aliases = top.aliases[key]
            stmt = _statement_starting(state, record.probe.start)
            if stmt is None:
                continue
            item = filters.get(id(stmt))
            if item is not None:
                unseen = [a for a in aliases if not any(matches(lit, how, a) for lit, how, _ in item.literals)]
                through = [a for a in aliases if a not in unseen] or [top.describe(parameter)]
                if not unseen:
                    continue
            else:
                targets = state.harness.modules_called_between(record.probe.start, record.probe.end)
                if not targets:
                    continue
                unseen = [a for a in aliases if not _inside_any(top, a, targets)]
                through = [a for a in aliases if a not in unseen]
                if not unseen or not through:
                    continue
            reported.add(key)
            owners = sorted({a.rsplit(".", 1)[0] for a in unseen if "." in a})
            owner_text = ", ".join(f"`{o}`" for o in owners) or f"`{unseen[0]}`"
            hidden = [a for a in aliases if a != top.describe(parameter)]
            evidence = (
                f"`{' = '.join(aliases)}` is one tied Parameter; it was frozen through `{through[0]}`, so "
                f"{owner_text} is frozen too"
            )
            note = (
                f" `named_parameters()` lists it once, as `{top.describe(parameter)}`, so a filter on "
                f"`{hidden[0].rsplit('.', 1)[0]}` never sees it." if hidden and item is not None else ""
            )
            yield at(
                state, stmt, "FRZ304",
                f"Tied weights: {evidence} ({owner_text} is left with "
                f"{_trainable_under(top, owners)} trainable parameters).{note} Decide deliberately: untie them "
                "(`tie_word_embeddings=False`), or train or freeze both sides.",
                evidence,
                top,
            )


def _statement_starting(state: State, row: int) -> ast.stmt | None:
    for stmt in state.plan.index.statements():
        if stmt.lineno == row:
            return stmt
    return None


def _inside_any(top: TopModel, name: str, targets: list[Any]) -> bool:
    owner_path = name.rsplit(".", 1)[0] if "." in name else ""
    try:
        owner = top.module.get_submodule(owner_path)
    except AttributeError:
        return False
    return any(target is owner or any(m is owner for m in target.modules()) for target in targets)


def _trainable_under(top: TopModel, owners: list[str]) -> str:
    total = 0
    for owner in owners:
        try:
            module = top.module.get_submodule(owner)
        except AttributeError:
            continue
        total += sum(p.numel() for p in module.parameters() if p.requires_grad)
    return number(total)


# --- FRZ503 ---------------------------------------------------------------------------------------------------------


@detector("FRZ503")
def frozen_batchnorm_updates(state: State) -> Iterator[Found]:
    for top in state.models:
        how = state.trained(top)
        if how is None:
            continue
        drifting = batchnorm_drifting(state, top)
        if not drifting:
            continue
        row = _freezing_line(state, [p for _, bn in drifting for p in bn.parameters()]) or top.line
        if row is None:
            continue
        names = [name for name, _ in drifting]
        shown = ", ".join(f"`{n}`" for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        trainer_note = (
            "the Trainer calls `model.train()` every step" if state.trained_by_trainer(top) else "training runs it in train mode"
        )
        evidence = f"{plural(len(names), 'BatchNorm layer')} of `{top.name}` frozen but in train mode: {shown}"
        yield at_line(
            state, row, "FRZ503",
            f"{evidence} ({trainer_note}). `requires_grad=False` freezes only their weight and bias: their "
            "running_mean/running_var keep changing on every batch, so the frozen part's outputs drift. Keep them in "
            "eval mode after every `model.train()` (override `train()`), or replace them with FrozenBatchNorm2d.",
            evidence,
            top,
        )


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


def _freezing_line(state: State, parameters: list[Any]) -> int | None:
    """The first line of the probe that froze any of these parameters."""
    keys = {id(p) for p in parameters}
    for record in sorted(state.harness.probes.values(), key=lambda r: r.probe.start):
        if keys & set(record.frozen):
            return record.probe.start
    return None


# --- optimizer coverage (FRZ202, FRZ201) ----------------------------------------------------------------------------


def unfrozen_after_build(state: State) -> Iterator[tuple[Any, TopModel, list[Any]]]:
    """Per optimizer of the script: the parameters of its model that were frozen when it was built, are trainable
    now, and are in no optimizer at all."""
    covered = {id(p) for record in state.harness.optimizers for p in record.parameters}
    for record in state.harness.optimizers:
        if _rebuilt_where_unfrozen(state, record.line):
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


@detector("FRZ202")
def unfrozen_not_in_optimizer(state: State) -> Iterator[Found]:
    for record, top, missing in unfrozen_after_build(state):
        names = [top.describe(p) for p in missing]
        count = sum(p.numel() for p in missing)
        unfreeze_line = next(
            (r.probe.start for r in sorted(state.harness.probes.values(), key=lambda r: r.probe.start)
             if any(id(p) in r.unfrozen for p in missing)),
            record.line,
        )
        evidence = (
            f"{plural(count, 'parameter')} of `{top.name}` ({plural(len(missing), 'tensor')}, e.g. `{names[0]}`) are "
            f"trainable but not in the optimizer built at line {record.line}"
        )
        yield at_line(
            state, unfreeze_line or record.line, "FRZ202",
            f"{evidence}: it was built from the parameters trainable then, and these were unfrozen later. They "
            "compute gradients but never update. Build the optimizer over all parameters (`model.parameters()`: "
            "frozen ones are skipped while their grad is None), or rebuild optimizer and scheduler after unfreezing.",
            evidence,
            top,
        )


def _rebuilt_where_unfrozen(state: State, line: int | None) -> bool:
    """The optimizer is built inside a loop that also unfreezes (a new optimizer per stage): each stage's optimizer
    gets what the previous stage unfroze."""
    builds = [b for b in state.facts.of(F.OptimizerBuild, uncalled=True) if state.facts.line(b.where.statement or b.node) == line]
    for build in builds:
        for op in state.facts.of(F.FreezeOp, uncalled=True):
            if op.value is not False and any(op.where.inside(loop) for loop in build.where.loops):
                return True
    return False


def _unfreezes_later(state: State, line: int) -> bool:
    """The file unfreezes something after building this optimizer (gradual unfreezing: an optimizer over all
    parameters is then the right choice, as the static FRZ201 knows)."""
    builds = [b for b in state.facts.of(F.OptimizerBuild, uncalled=True) if state.facts.line(b.where.statement or b.node) == line]
    return any(
        op.value is not False and not op.where.standalone and any(op.order > b.order for b in builds)
        for op in state.facts.of(F.FreezeOp, uncalled=True)
    )


@detector("FRZ201")
def optimizer_holds_frozen(state: State) -> Iterator[Found]:
    """Frozen parameters the script's own freeze statements froze (not PEFT's frozen base) in an optimizer."""
    frozen_here = {
        key for r in state.harness.probes.values() if r.probe.codes & {"freeze", "head"} for key in r.frozen
    }
    for record in state.harness.optimizers:
        frozen = [
            p for p in record.parameters
            if not p.requires_grad and id(p) in frozen_here and id(p) in record.frozen_at_build
        ]  # frozen before it was built: frozen later, mid-training, is FRZ206's concern
        if not frozen or record.line is None or _unfreezes_later(state, record.line):
            continue
        top = state.model_of(frozen[0])
        count = sum(p.numel() for p in frozen)
        evidence = (
            f"the optimizer built at line {record.line} holds {plural(len(record.parameters), 'tensor')}, "
            f"{len(frozen):,} of them frozen ({plural(count, 'parameter')})"
        )
        yield at_line(
            state, record.line, "FRZ201",
            f"{evidence[0].upper()}{evidence[1:]}. Harmless as written: a frozen parameter's .grad stays None and the "
            "optimizer skips it. Pass only trainable parameters to make the intent explicit.",
            evidence,
            top,
        )
