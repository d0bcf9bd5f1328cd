"""Find freezing mistakes on the real architecture, with no static finding to start from: every rule's
`@runtime_detector` hook (in the rule's module) runs over the replay's state. Runtime-only rules (FRZ107 name filters
that match nothing, FRZ304 tied weights frozen on one side) have nothing else; the others' detections confirm static
findings at the same place, or stand as findings of their own.
"""

from __future__ import annotations

from freezelint.rules import all_rules
from freezelint.rules.runtime_hooks import DETECTORS, WHOLE_MODEL, Found
from freezelint.runtime.state import State
from freezelint.runtime.view import RuntimeView

__all__ = ["Found", "detect"]


def detect(state: State) -> list[Found]:
    all_rules()  # importing the rule modules registers their hooks
    found: list[Found] = []
    incomplete = state.incomplete() is not None
    view = RuntimeView(state, found)
    for code, function in sorted(DETECTORS.items()):
        if incomplete and code in WHOLE_MODEL:
            continue  # a conclusion about the model's final state, and the replay did not run all of its freezing
        for item in function(view):
            if not any(f.code == item.code and f.row == item.row and f.message == item.message for f in found):
                found.append(item)
    return sorted(found, key=lambda f: (f.row, f.column, f.code))
