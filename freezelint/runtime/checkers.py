"""Confirm or refute each static finding with what the replay shows.

A static finding whose code a runtime detector also found on the same statement (or inside the loop the detection
covers) is confirmed by that detection. Otherwise the rule's own verdict hook decides (`@runtime_verdict` in the
rule's module, given a `RuntimeView`): "confirmed", "refuted" or "not-checkable", with the evidence. A rule without
one is "not-checkable".
"""

from __future__ import annotations

from freezelint.rules import all_rules
from freezelint.rules.runtime_hooks import (
    CONFIRMED,
    NOT_CHECKABLE,
    VERDICTS,
    Found,
    StaticFinding,
    Verdict,
)
from freezelint.runtime.state import State
from freezelint.runtime.view import RuntimeView

__all__ = ["StaticFinding", "Verdict", "verdict"]


def verdict(finding: StaticFinding, state: State, found: list[Found]) -> Verdict:
    """The runtime status of one static finding."""
    for item in found:
        same_place = finding.row <= item.row <= max(finding.end_row, finding.row) or item.row <= finding.row <= item.end_row
        if item.code == finding.code and not item.consumed and same_place:
            item.consumed = True
            return Verdict(CONFIRMED, item.evidence)
    all_rules()  # importing the rule modules registers their hooks
    check = VERDICTS.get(finding.code)
    if check is None:
        return Verdict(NOT_CHECKABLE, f"no runtime check for {finding.code} yet")
    try:
        return check(finding, RuntimeView(state, found))
    except Exception as error:  # noqa: BLE001 - a hook's bug must not cost the report
        return Verdict(NOT_CHECKABLE, f"the runtime check failed ({type(error).__name__}: {error})")
