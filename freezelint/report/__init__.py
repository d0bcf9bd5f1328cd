"""Output formats: one module per format, each a function `(results, checked, options) -> text`.

Findings keep program coordinates (what fixes and suppressions need); `shown()` turns them into what the user sees:
the path as typed, and for a notebook the cell and the row and column inside it, as ruff shows them.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

from freezelint.findings import Edit, FileResult, Finding, Location

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
}


@dataclass(frozen=True)
class ReportOptions:
    color: bool = False  # ANSI colours (text only): on a terminal, unless NO_COLOR is set
    show_fixes: bool = False  # each finding's fix under it, and how many are fixable
    quiet: bool = False  # findings only, no summary
    rules: tuple[Rule, ...] | None = None  # the rules that ran (SARIF lists them); None: every rule


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

    def edit_range(self, edit: Edit) -> tuple[Location, Location]:
        return locate(self.result, edit.start)[1], locate(self.result, edit.end)[1]


def locate(result: FileResult, location: Location) -> tuple[int | None, Location]:
    if result.cells is None:
        return None, location
    return result.cells.locate(location)


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
