"""Output formats: one module per format, each a function `(results, checked, options) -> text`.

Findings keep program coordinates (what fixes and suppressions need); `shown()` turns them into what the user sees:
the path as typed, and for a notebook the cell and the row and column inside it, as ruff shows them. Formats that
address the file itself (GitHub annotations, SARIF, GitLab, JUnit) use `Shown.in_file`: for a notebook, the line and
column of its JSON text that hold the code, the cell and its row named in the message.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

from freezelint.findings import Edit, FileResult, Finding, Level, Location

if TYPE_CHECKING:
    from freezelint.rules import Rule

FORMATS = {
    "text": ("freezelint.report.text", "format_text"),
    "concise": ("freezelint.report.text", "format_concise"),
    "json": ("freezelint.report.json", "format_json"),
    "json-lines": ("freezelint.report.json", "format_json_lines"),
    "github": ("freezelint.report.github", "format_github"),
    "sarif": ("freezelint.report.sarif", "format_sarif"),
    "junit": ("freezelint.report.junit", "format_junit"),
    "gitlab": ("freezelint.report.gitlab", "format_gitlab"),
    "markdown": ("freezelint.report.markdown", "format_markdown"),
}


@dataclass(frozen=True)
class ReportOptions:
    color: bool = False  # ANSI colours (text only): on a terminal, unless NO_COLOR is set
    show_fixes: bool = False  # each finding's fix under it, and how many are fixable
    quiet: bool = False  # findings only, no summary
    rules: tuple[Rule, ...] | None = None  # the rules that ran (SARIF lists them); None: every rule
    fail_on: Level = Level.WARNING  # findings below it do not fail (JUnit shows them as passed test cases)


Formatter = Callable[[list[FileResult], int, ReportOptions], str]


def formatter(name: str) -> Formatter:
    module, function = FORMATS[name]
    return getattr(importlib.import_module(module), function)


def display_path(path: str) -> str:
    """Paths as the user would type them: relative to the working directory when below it."""
    if path == "-":
        return path
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return os.path.normpath(path) if relative.startswith("..") else relative


@dataclass(frozen=True)
class Shown:
    """A finding as the user sees it: display path, and for a notebook its cell and cell-relative positions."""

    result: FileResult
    finding: Finding
    path: str
    cell: int | None
    start: Location
    end: Location

    @property
    def where(self) -> str:
        """`path:row:col`, or `path:cell 4:row:col` in a notebook (ruff's form)."""
        cell = f"cell {self.cell}:" if self.cell is not None else ""
        return f"{self.path}:{cell}{self.start.row}:{self.start.column}"

    @property
    def line(self) -> str:
        """`path:row:col: CODE [level] message`: the one-line form every text format starts with."""
        finding = self.finding
        return f"{self.where}: {finding.code} [{finding.level}] {finding.message}"

    @property
    def place(self) -> str:
        """`cell 3:2:5` in a notebook (what a report that addresses the notebook's JSON adds to the message), else ""."""
        return f"cell {self.cell}:{self.start.row}:{self.start.column}" if self.cell is not None else ""

    @property
    def in_file(self) -> tuple[Location, Location]:
        """Start and end in the file as it is stored: for a notebook, the lines and columns of its JSON text."""
        return file_location(self.result, self.finding.start), file_location(self.result, self.finding.end)

    def edit_range(self, edit: Edit) -> tuple[Location, Location]:
        return locate(self.result, edit.start)[1], locate(self.result, edit.end)[1]


def locate(result: FileResult, location: Location) -> tuple[int | None, Location]:
    if result.cells is None:
        return None, location
    return result.cells.locate(location)


def fails(finding: Finding, options: ReportOptions) -> bool:
    """Whether a finding counts toward the exit status: at or above --fail-on, and not refuted by --runtime."""
    return finding.level >= options.fail_on and not finding.refuted


def file_location(result: FileResult, location: Location) -> Location:
    """A program location as a location in the file: for a notebook, the JSON line and column holding that character
    of the cell (see `notebook.FileLayout`)."""
    cells = result.cells
    if cells is None or cells.layout is None:
        return location
    _, in_cell = cells.locate(location)
    return cells.layout.locate(location.row, in_cell.column)


def file_edit(result: FileResult, edit: Edit) -> Edit | None:
    """An edit of the program as an edit of the file's text (for SARIF fixes): in a notebook, positions in its JSON
    and the new text escaped as a JSON string's content. None when the edit cannot be made in the file: it touches
    IPython syntax (which `--fix` refuses too) or spans two cells."""
    cells = result.cells
    if cells is None:
        return edit
    layout = cells.layout
    rows = len(cells.cells)
    if layout is None or not 1 <= edit.start.row <= rows:
        return None
    start, end = edit.start, edit.end
    if end.column == 1 and end.row > start.row and (end.row > rows or cells.cells[end.row - 1] != cells.cells[start.row - 1]):
        # A deleted last line of a cell ends at the start of the next cell's first row: end it after its own line.
        end = Location(end.row - 1, layout.lengths[end.row - 2] + 1 - cells.shifts[end.row - 2])
    if end.row > rows or cells.cells[end.row - 1] != cells.cells[start.row - 1]:
        return None
    if any(layout.rewritten[row - 1] for row in range(start.row, end.row + 1)):
        return None
    content = edit.content
    ending = layout.endings[start.row - 1]
    if ending not in ("", "\n"):
        content = content.replace("\n", ending)
    return Edit(file_location(result, start), file_location(result, end), json.dumps(content, ensure_ascii=False)[1:-1])


def shown(results: list[FileResult]) -> Iterator[Shown]:
    for result in results:
        if not result.findings:
            continue
        path = display_path(result.path)
        for finding in result.findings:
            cell, start = locate(result, finding.start)
            _, end = locate(result, finding.end)
            yield Shown(result, finding, path, cell, start, end)


def fingerprints(results: list[FileResult]) -> dict[int, str]:
    """A stable identity per finding (by `id`): file, code, the squeezed text of its line, and which occurrence of
    that triple it is. Line numbers are left out, so a finding keeps its identity when code above it moves."""
    seen: Counter = Counter()
    result_map: dict[int, str] = {}
    for result in results:
        for finding in result.findings:
            key = (display_path(result.path).replace(os.sep, "/"), finding.code, " ".join(finding.source_line.split()))
            seen[key] += 1
            text = "\0".join((*key, str(seen[key])))
            result_map[id(finding)] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return result_map


def rules_for_report(options: ReportOptions) -> list[Rule]:
    if options.rules is not None:
        return list(options.rules)
    from freezelint.rules import all_rules

    return all_rules()
