"""Value types of results: levels, findings, fixes and their edits."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from freezelint.notebook import FileLayout


class Level(enum.IntEnum):
    """How bad a finding is. Ordered, so `--fail-on warning` fails on warnings and errors."""

    NOTE = 1  # worth knowing, often intended
    WARNING = 2  # training will likely change the wrong weights
    ERROR = 3  # the code does not do what it says: a freeze that freezes nothing, a crash

    @classmethod
    def parse(cls, text: str) -> Level:
        return cls[text.upper()]

    def __str__(self) -> str:
        return self.name.lower()


class Applicability(enum.Enum):
    """How far a fix can be trusted, as in ruff: safe fixes apply with `--fix`, unsafe ones need `--unsafe-fixes`,
    display-only ones are shown and never applied."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY = "display-only"


class Evidence(enum.Enum):
    """How strong the evidence behind a finding is, so that CI can gate on traced findings alone (`--evidence traced`).

    TRACED: the analysis followed the values involved (a model loaded here, an attribute assigned in this file, a
    loop over `children()`). NAME: a step rests on a name alone (`self.encoder` that no code of the file assigns, a
    model made by code the analysis cannot see, an optimizer passed in)."""

    TRACED = "traced"
    NAME = "name"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, order=True)
class Location:
    """1-based row and column (columns count characters, as ruff does)."""

    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    """Replace the text between two locations with `content`."""

    start: Location
    end: Location
    content: str


@dataclass(frozen=True)
class Fix:
    applicability: Applicability
    message: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Finding:
    """One problem found in one file."""

    path: str
    code: str
    name: str
    level: Level
    message: str
    start: Location
    end: Location
    fix: Fix | None = None
    url: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)  # e.g. runtime evidence
    source_line: str = field(default="", compare=False)  # the text of the start row, for snippets and baselines
    fields: dict = field(default_factory=dict, compare=False, hash=False, repr=False)  # the message's named parts
    evidence: Evidence = field(default=Evidence.TRACED, compare=False)

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.start, self.code, self.message)

    @property
    def refuted(self) -> bool:
        """The runtime mode showed the finding does not hold: it is shown, and does not count toward the exit status."""
        return self.extra.get("runtime", {}).get("status") == "refuted"


@dataclass(frozen=True)
class CellIndex:
    """Where each row of a notebook's program comes from. A notebook is linted as one program (its code cells
    joined in order); findings keep program rows, and reports show them as ruff does: the cell (counted from 1,
    markdown cells included) and the row and column inside it.

    `cells[row - 1]` and `rows[row - 1]` are the cell and the row in it; `shifts[row - 1]` the columns removed at the
    start of that row (the `%time ` before a timed statement)."""

    cells: tuple[int, ...]
    rows: tuple[int, ...]
    shifts: tuple[int, ...]
    layout: FileLayout | None = None  # where each row is written in the notebook file (reports that address the file)

    def locate(self, location: Location) -> tuple[int, Location]:
        """The cell and the cell-relative location of a program location."""
        index = min(max(location.row, 1), len(self.cells)) - 1 if self.cells else -1
        if index < 0:
            return 1, location
        return self.cells[index], Location(self.rows[index], location.column + self.shifts[index])


@dataclass(frozen=True)
class FileError:
    """A file that could not be checked, with a one-line cause."""

    path: str
    message: str


@dataclass
class FileResult:
    """What linting one file produced."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    error: FileError | None = None
    fixed_text: str | None = None  # set by --fix when fixes applied
    fixes_applied: int = 0
    cells: CellIndex | None = None  # a notebook's rows -> cells, for reports
    baselined: int = 0  # findings hidden because the baseline file lists them
    diff: str | None = None  # set by --diff: what --fix would change
    notice: str | None = None  # one line for the user that is not an error (a read-only file left unfixed)
