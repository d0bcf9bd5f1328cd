"""A rule's optional runtime hooks, kept in the rule's own module next to its static check.

`@runtime_verdict("FRZ101")` marks the function that confirms or refutes one static finding with what the replay
measured; `@runtime_detector("FRZ107")` the one that finds the rule's mistake on the real architecture by itself
(runtime-only rules have only that). Both receive a `RuntimeView` (`freezelint.runtime.view`): the replay's state and
the measuring helpers. This module is part of the static core: it imports nothing of the runtime, so a rule module
that defines hooks still never imports torch; only `freezelint --runtime` calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

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
    status: str  # CONFIRMED, REFUTED or NOT_CHECKABLE
    evidence: str


@dataclass
class Found:
    """A mistake a runtime detector found on the real architecture."""

    code: str
    row: int
    column: int
    end_row: int
    end_column: int
    message: str
    evidence: str
    model: str | None = None
    consumed: bool = False  # confirmed a static finding instead of being reported on its own


VerdictHook = Callable[[StaticFinding, "RuntimeView"], Verdict]
DetectorHook = Callable[["RuntimeView"], Iterator[Found]]
VERDICTS: dict[str, VerdictHook] = {}
DETECTORS: dict[str, DetectorHook] = {}
# Detectors that conclude about a model's final state: not run when the replay could not run all of its freezing.
WHOLE_MODEL: set[str] = set()


def runtime_verdict(code: str) -> Callable[[VerdictHook], VerdictHook]:
    def register(function: VerdictHook) -> VerdictHook:
        VERDICTS[code] = function
        return function

    return register


def runtime_detector(code: str, whole_model: bool = False) -> Callable[[DetectorHook], DetectorHook]:
    def register(function: DetectorHook) -> DetectorHook:
        DETECTORS[code] = function
        if whole_model:
            WHOLE_MODEL.add(code)
        return function

    return register


def number(count: int) -> str:
    return f"{count:,}"


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"
