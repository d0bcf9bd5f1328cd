"""Confirm or refute each static finding with what the replay shows, by code.

A checker is a small function registered for one or more codes (`@checker("FRZ101")`): it reads the finding's place
and the `State` and returns a `Verdict` ("confirmed", "refuted" or "not-checkable", with the evidence). A static
finding whose code the runtime detectors also found on the same statement (or inside the loop the detection covers)
is confirmed by that detection without a checker. Codes with neither are "not-checkable". New static rules plug in by registering a checker here; several
are registered ahead of their rules (FRZ101-FRZ105, FRZ108, FRZ202, FRZ301, FRZ503) and read only the runtime state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from freezelint import knowledge
from freezelint.runtime.detectors import (
    Found,
    batchnorm_drifting,
    layer_collisions,
    name_filters,
    number,
    plural,
    trainable_summary,
    unfrozen_after_build,
)
from freezelint.runtime.state import State, TopModel

CONFIRMED, REFUTED, NOT_CHECKABLE = "confirmed", "refuted", "not-checkable"


@dataclass(frozen=True)
class StaticFinding:
    """What the replay needs to know about one static finding."""

    code: str
    row: int
    end_row: int
    message: str


@dataclass(frozen=True)
class Verdict:
    status: str
    evidence: str


Checker = Callable[[StaticFinding, State, list[Found]], Verdict]
CHECKERS: dict[str, Checker] = {}


def checker(*codes: str) -> Callable[[Checker], Checker]:
    def register(function: Checker) -> Checker:
        for code in codes:
            CHECKERS[code] = function
        return function

    return register


def verdict(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    """The runtime status of one static finding."""
    for item in found:
        same_place = finding.row <= item.row <= max(finding.end_row, finding.row) or item.row <= finding.row <= item.end_row
        if item.code == finding.code and not item.consumed and same_place:
            item.consumed = True
            return Verdict(CONFIRMED, item.evidence)
    check = CHECKERS.get(finding.code)
    if check is None:
        return Verdict(NOT_CHECKABLE, f"no runtime check for {finding.code} yet")
    try:
        return check(finding, state, found)
    except Exception as error:  # noqa: BLE001 - a checker bug must not cost the report
        return Verdict(NOT_CHECKABLE, f"the runtime check failed ({type(error).__name__}: {error})")


def _not_run(finding: StaticFinding, state: State) -> Verdict | None:
    if not state.ran(finding.row):
        return Verdict(NOT_CHECKABLE, state.why_not_run(finding.row))
    return None


def _model_at(finding: StaticFinding, state: State) -> TopModel | None:
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


def _changes(finding: StaticFinding, state: State) -> tuple[int, int, int] | None:
    """(runs, frozen, unfrozen) measured for the statement at the finding's line, or None when unmeasured."""
    record = state.harness.probe_at(finding.row)
    if record is None or record.incomplete:
        return None
    return record.runs, len(record.frozen), len(record.unfrozen)


# --- no-op freezes ----------------------------------------------------------------------------------------------


def _no_op(finding: StaticFinding, state: State, detail: str) -> Verdict:
    """A freeze that should change nothing: confirmed when it ran and changed nothing, refuted when it changed."""
    missing = _not_run(finding, state)
    if missing is not None:
        return missing
    changes = _changes(finding, state)
    if changes is None:
        return Verdict(NOT_CHECKABLE, f"line {finding.row} ran but its effect was not measured")
    runs, frozen, unfrozen = changes
    if frozen or unfrozen:
        parts = [plural(n, "parameter tensor") + " " + verb for n, verb in ((frozen, "frozen"), (unfrozen, "unfrozen")) if n]
        return Verdict(REFUTED, f"line {finding.row} changed requires_grad at runtime: {' and '.join(parts)}")
    top = _model_at(finding, state)
    summary = f"; {trainable_summary(top)}" if top is not None else ""
    times = "once" if runs == 1 else f"{runs:,} times"
    return Verdict(CONFIRMED, f"{detail}line {finding.row} ran {times} and changed no parameter's requires_grad{summary}")


@checker("FRZ101")
def module_requires_grad_attribute(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    holders = [
        (top, name) for top in state.models for name, module in top.module.named_modules()
        if "requires_grad" in module.__dict__
    ]
    wanted = _receiver_component(state, finding.row)
    holders.sort(key=lambda item: (item[1].rsplit(".", 1)[-1] != wanted, len(item[1])))
    if not holders and state.ran(finding.row):
        changes = _changes(finding, state)
        if changes is not None and not (changes[1] or changes[2]):
            return Verdict(NOT_CHECKABLE, f"line {finding.row} ran, but no module holds a `requires_grad` attribute")
    detail = ""
    if holders:
        top, name = holders[0]
        detail = f"`requires_grad` stored in `{(top.name + '.' + name) if name else top.name}.__dict__` (a plain attribute); "
    return _no_op(finding, state, detail)


@checker("FRZ102")
def misspelled_requires_grad(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    names = knowledge.MISSPELLED_REQUIRES_GRAD | knowledge.FOREIGN_FREEZE_ATTRIBUTES
    stored: dict[str, int] = {}
    for top in state.models:
        objects = [p for _, p in top.named] + list(top.module.modules())
        for item in objects:
            for attribute in names & set(getattr(item, "__dict__", {})):
                stored[attribute] = stored.get(attribute, 0) + 1
    detail = ""
    if stored:
        attribute, count = max(stored.items(), key=lambda kv: kv[1])
        detail = f"`{attribute}` stored as a plain attribute on {plural(count, 'object')}; "
    return _no_op(finding, state, detail)


@checker("FRZ103")
def method_not_called(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    shadowed = sum(
        1 for top in state.models for module in top.module.modules() if "requires_grad_" in module.__dict__
    ) + sum(1 for top in state.models for _, p in top.named if "requires_grad_" in getattr(p, "__dict__", {}))
    detail = f"`requires_grad_` overwritten by a plain attribute on {plural(shadowed, 'object')}; " if shadowed else ""
    return _no_op(finding, state, detail)


@checker("FRZ104", "FRZ105")
def statement_without_effect(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    return _no_op(finding, state, "")


def _receiver_component(state: State, row: int) -> str:
    """`bert` for `model.bert.requires_grad = False` on that line."""
    lines = state.plan.index.lines
    text = lines[row - 1] if 0 < row <= len(lines) else ""
    match = re.search(r"(\w+)\s*\.\s*requires_grad\s*=", text)
    return match.group(1) if match else ""


# --- name filters -----------------------------------------------------------------------------------------------


@checker("FRZ108")
def prefix_collision(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    missing = _not_run(finding, state)
    for item in name_filters(state):
        on_filter = item.loop.lineno <= finding.row <= (item.stmt.end_lineno or item.stmt.lineno)
        if not (finding.row <= item.stmt.lineno <= max(finding.end_row, finding.row) or on_filter):
            continue
        if missing is not None and not state.ran(item.stmt.lineno):
            return missing
        collisions = layer_collisions(state, item)
        if collisions is None:
            seen = item.literals[0][0]
            return Verdict(REFUTED, f"`{seen!r}` matches no other layer on this architecture (no layer index extends it)")
        top_seen, literal, layers, hit, _ = collisions
        return Verdict(
            CONFIRMED,
            f"`{literal!r}` also matches layers {', '.join(layers)} of `{top_seen.top.name}` "
            f"({plural(len(hit), 'parameter name')}, e.g. `{hit[0]}`)",
        )
    return missing or Verdict(NOT_CHECKABLE, f"no name filter measured at line {finding.row}")


# --- whole model ------------------------------------------------------------------------------------------------


def _incomplete(state: State) -> Verdict | None:
    reason = state.incomplete()
    return Verdict(NOT_CHECKABLE, reason) if reason is not None else None


@checker("FRZ301")
def nothing_trainable(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    if (verdict := _incomplete(state)) is not None:
        return verdict
    top = _model_at(finding, state)
    if top is None:
        return Verdict(NOT_CHECKABLE, "the replay did not produce the model this finding is about")
    for item in found:
        if item.code == "FRZ301" and item.model == top.name and not item.consumed:
            item.consumed = True
            return Verdict(CONFIRMED, item.evidence)
    if top.trainable == 0:
        return Verdict(CONFIRMED, f"0 of {number(top.total)} parameters of `{top.name}` trainable")
    return Verdict(REFUTED, trainable_summary(top) + _largest_trainable(top))


@checker("FRZ302")
def full_fine_tuning(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    if (verdict := _incomplete(state)) is not None:
        return verdict
    start, end = state.statement_lines(finding.row)
    top = state.model_loaded_between(start, end)
    if top is None:
        failure = next((f for f in state.harness.failures if start <= f.line <= end), None)
        if failure is not None:
            return Verdict(NOT_CHECKABLE, f"the model at line {finding.row} could not be built: {failure.describe()}")
        return Verdict(NOT_CHECKABLE, state.why_not_run(finding.row))
    if top.trainable == top.total:
        return Verdict(CONFIRMED, trainable_summary(top))
    froze = sorted({r.probe.start for r in state.harness.probes.values() if any(top.owns(p) for p in r.frozen.values())})
    where = f" (frozen at line {', '.join(map(str, froze))})" if froze else ""
    return Verdict(REFUTED, f"{number(top.frozen)} of {number(top.total)} parameters of `{top.name}` are frozen{where}")


@checker("FRZ503")
def frozen_batchnorm(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    if (verdict := _incomplete(state)) is not None:
        return verdict
    top = _model_at(finding, state)
    if top is None:
        return Verdict(NOT_CHECKABLE, "the replay did not produce the model this finding is about")
    for item in found:
        if item.code == "FRZ503" and item.model == top.name and not item.consumed:
            item.consumed = True
            return Verdict(CONFIRMED, item.evidence)
    if batchnorm_drifting(state, top):
        return Verdict(CONFIRMED, f"frozen BatchNorm layers of `{top.name}` run in train mode")
    return Verdict(REFUTED, f"no frozen BatchNorm layer of `{top.name}` runs in train mode")


def _largest_trainable(top: TopModel) -> str:
    prefix, rows = top.rows()
    trainable = [row for row in rows if row.trainable]
    if not trainable:
        return ""
    shown = ", ".join(f"`{prefix}{row.name}`: {number(row.trainable)}" for row in trainable[:3])
    return f" ({shown})"


# --- optimizers -------------------------------------------------------------------------------------------------


@checker("FRZ201")
def optimizer_over_frozen(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    start, end = state.statement_lines(finding.row)
    records = [r for r in state.harness.optimizers if r.line is not None and start <= r.line <= end]
    if not records:
        return Verdict(NOT_CHECKABLE, state.why_not_run(finding.row))
    record = records[0]
    frozen = [p for p in record.parameters if not p.requires_grad]
    if frozen:
        count = sum(p.numel() for p in frozen)
        return Verdict(
            CONFIRMED,
            f"it holds {plural(len(record.parameters), 'tensor')}, {len(frozen):,} of them frozen "
            f"({plural(count, 'parameter')}); they keep no optimizer state while their grad is None",
        )
    return Verdict(REFUTED, f"every one of its {plural(len(record.parameters), 'tensor')} is trainable")


@checker("FRZ202")
def unfrozen_after_filtered_optimizer(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    if (verdict := _incomplete(state)) is not None:
        return verdict
    if not state.harness.optimizers:
        return Verdict(NOT_CHECKABLE, "the replay built no optimizer of the script")
    missing = list(unfrozen_after_build(state))
    if missing:
        record, top, parameters = missing[0]
        count = sum(p.numel() for p in parameters)
        return Verdict(
            CONFIRMED,
            f"{plural(count, 'parameter')} of `{top.name}` (e.g. `{top.describe(parameters[0])}`) are trainable but "
            f"not in the optimizer built at line {record.line}",
        )
    lines = ", ".join(str(r.line) for r in state.harness.optimizers)
    return Verdict(REFUTED, f"every trainable parameter is in an optimizer (built at line {lines})")
