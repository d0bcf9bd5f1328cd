"""Apply the fixes rules propose: to a program's text (`fix_source`), then to its file (`fix_file`).

A fix is a set of edits computed from one parse. Fixes whose edits do not overlap are applied together; the result
is parsed and linted again, and the loop goes on until nothing fixable is left (bounded). Text that would not parse
is never kept, and a file is written only as a whole (a temporary file in the same directory, then `os.replace`),
with its permissions, encoding, BOM and line endings, and every byte outside the edited nodes, unchanged.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterable

from freezelint.decoding import decode
from freezelint.files import WriteRefused, write_atomically
from freezelint.findings import Applicability, FileError, FileResult, Fix
from freezelint.linter import lint_source, parse, run_with_deep_stack
from freezelint.report import display_path
from freezelint.rules import Rule
from freezelint.source import Source, SourceError

if TYPE_CHECKING:
    from freezelint.config import Settings

MAX_PASSES = 10  # fix, re-lint, fix again: a fix may reveal another (or let an overlapping one apply)

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


@dataclass(frozen=True)
class FixMode:
    """What `check` does with fixes: `unsafe` also applies unsafe ones; `write` False only shows the diff."""

    unsafe: bool = False
    write: bool = True


def applies(fix: Fix | None, unsafe: bool) -> bool:
    """True when `fix` is applied in this mode (display-only fixes never are)."""
    if fix is None or fix.applicability is Applicability.DISPLAY:
        return False
    return fix.applicability is Applicability.SAFE or unsafe


@dataclass(frozen=True)
class FixOutcome:
    source: Source  # the fixed program (`source.encode()` gives the file's new bytes)
    applied: int  # fixes applied, over every pass
    result: FileResult  # the lint of the final text: what remains
    initial: FileResult  # the lint of the text as it was

    @property
    def text(self) -> str:
        return self.source.text


def fix_source(source: Source, rules: list[Rule], unsafe: bool = False, settings: Settings | None = None) -> FixOutcome:
    """Apply fixes to `source` until none applies; the final text always parses."""
    current, applied = source, 0
    initial = result = lint_source(source, rules, settings)
    for _ in range(MAX_PASSES):
        if result.error is not None:
            break
        fixes = [finding.fix for finding in result.findings if applies(finding.fix, unsafe)]
        if not fixes:
            break
        new_text, count = _apply_parseable(current, fixes)  # type: ignore[arg-type]
        if count == 0 or new_text == current.text:
            break
        try:
            current = _with_text(current, new_text)
        except SourceError:
            break  # a change a notebook cannot take back (it touches IPython syntax or spans cells)
        applied += count
        result = lint_source(current, rules, settings)
    return FixOutcome(current, applied, result, initial)


def apply_fixes(text: str, fixes: Iterable[Fix]) -> tuple[str, int]:
    """Apply every fix whose edits overlap no fix applied before it (in order of position); return the new text and
    how many were applied. Overlapping ones are left for the next pass."""
    offsets = _LineOffsets(text)
    chosen: list[tuple[int, int, str]] = []
    count = 0
    for fix in sorted(fixes, key=lambda f: min((e.start, e.end) for e in f.edits) if f.edits else ((0, 0), (0, 0))):
        spans = _spans(offsets, fix)
        if not spans or any(_overlap(span, other) for span in spans for other in chosen):
            continue
        chosen.extend(spans)
        count += 1
    for start, end, content in sorted(chosen, reverse=True):
        text = text[:start] + content + text[end:]
    return text, count


def _spans(offsets: _LineOffsets, fix: Fix) -> list[tuple[int, int, str]] | None:
    """The fix's edits as (start, end, content) string offsets; None when one falls outside the text."""
    spans = []
    for edit in fix.edits:
        start, end = offsets.at(edit.start.row, edit.start.column), offsets.at(edit.end.row, edit.end.column)
        if start is None or end is None or end < start:
            return None
        spans.append((start, end, edit.content))
    return spans


def unified_diff(path: str, before: str, after: str) -> str:
    """A unified diff of one file, lines split as Python splits them (`\\r\\n`, `\\r`, `\\n`)."""
    lines = difflib.unified_diff(_LINE.findall(before), _LINE.findall(after), path, path)
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n" for line in lines)


def fix_file(path: str, data: bytes, rules: list[Rule], mode: FixMode, settings: Settings | None = None) -> FileResult:
    """Fix one file's bytes (a notebook's code cells too); write the file back (atomically) or attach the diff, per
    `mode`. Standard input (`-`) is never written: its diff is attached."""
    try:
        source = decode(path, data)
    except SourceError as error:
        return FileResult(path=path, error=FileError(path, str(error)))
    outcome = fix_source(source, rules, mode.unsafe, settings)
    result = outcome.result
    result.path = path
    if outcome.applied == 0:
        return result
    try:
        fixed = outcome.source.encode()
    except UnicodeEncodeError:
        return _left_alone(outcome, path, f"not fixed: the fixed text cannot be encoded as {source.encoding}")
    if not mode.write or path == "-":
        if source.cells is None:
            before, after = source.text, outcome.text
        else:  # a notebook: its JSON, where only the changed cells' sources differ
            before, after = data.decode("utf-8-sig"), fixed.decode("utf-8-sig")
        result.diff = unified_diff(display_path(path), before, after)
        result.fixes_applied = outcome.applied
        return result
    try:
        write_atomically(path, fixed, expected=data)
    except WriteRefused as refusal:
        return _left_alone(outcome, path, f"not fixed: {refusal}")
    except OSError as error:
        left = _left_alone(outcome, path, None)
        left.error = FileError(path, f"cannot be fixed: {error.strerror or error}")
        return left
    result.fixed_text = outcome.text
    result.fixes_applied = outcome.applied
    return result


def _left_alone(outcome: FixOutcome, path: str, notice: str | None) -> FileResult:
    """A file not written: what was found in it as it is still stands, with the reason."""
    original = outcome.initial
    original.path, original.notice = path, notice
    return original


# --- helpers ------------------------------------------------------------------------------------------------------


def _apply_parseable(source: Source, fixes: list[Fix]) -> tuple[str, int]:
    """Apply the fixes together when the result parses; else one at a time, keeping those that leave it parseable."""
    text = source.text
    new_text, count = apply_fixes(text, fixes)
    if _parses(source, new_text):
        return new_text, count
    accepted: list[Fix] = []
    for fix in fixes:
        candidate, applied = apply_fixes(text, [*accepted, fix])
        if applied == len(accepted) + 1 and _parses(source, candidate):
            accepted.append(fix)
    return apply_fixes(text, accepted) if accepted else (text, 0)


def _parses(source: Source, text: str) -> bool:
    try:
        run_with_deep_stack(lambda: parse(replace(source, text=text, _line_starts=None)))
    except (SourceError, RecursionError, MemoryError):
        return False
    except Exception:  # noqa: BLE001 - whatever the parser fails on, that text is not written
        return False
    return True


def _with_text(source: Source, text: str) -> Source:
    """`source` with a fixed text. A notebook's program is put back into its cells and read again, so that rows map
    to cells as they now are (raises `SourceError` when the change cannot go back)."""
    if source.cells is None:
        return replace(source, text=text, _line_starts=None)
    return decode(source.path, source.encode(text))


def _overlap(a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    """Two edits conflict when their ranges overlap, or both insert at one point (their order would be a guess)."""
    return (a[0] < b[1] and b[0] < a[1]) or a[0] == b[0]


class _LineOffsets:
    """String offsets of 1-based (row, column) locations, lines broken as Python breaks them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [match.end() for match in re.finditer(r"\r\n|\r|\n", text)]

    def at(self, row: int, column: int) -> int | None:
        if not 0 < row <= len(self.starts) or column < 1:
            return None
        offset = self.starts[row - 1] + column - 1
        limit = self.starts[row] if row < len(self.starts) else len(self.text)
        return offset if offset <= limit else None
