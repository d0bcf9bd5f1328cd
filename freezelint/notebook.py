"""Jupyter notebooks: a `.ipynb` file read as one Python program, and a changed program written back into its cells.

Reading: the code cells, in order, each ending with a newline, make one program (a name defined in one cell is used in
the next, as in the kernel). Markdown and raw cells add nothing but are counted, so cell numbers are the ones the user
sees (from 1, as ruff numbers them). IPython syntax that is not Python is blanked line by line, so that every row of the
program is one row of one cell and findings map back exactly:

* line magics and shell escapes (`%pip install peft`, `!nvidia-smi`, `files = !ls`, `%env X=1`) and help (`model?`)
  become `pass` (indented as written, so a block holding only a magic stays valid); their continuation lines become
  empty;
* `%time statement` keeps its statement, shifted left (the shift is recorded, so columns still map back);
* a cell magic whose body runs in the kernel as Python (`%%time`, `%%capture out`) keeps its body; any other
  (`%%bash`, `%%writefile train.py`, `%%html`) blanks the whole cell: that code does not run in the notebook.

Writing (`Notebook.updated`, also reached through `NotebookSource.encode`, so code that writes a fixed `Source` back
needs no notebook knowledge): the fixed program is matched line by line against the original one; only the cells whose
lines changed get a new `source`, and the JSON is written in the file's own formatting (indentation, key order,
escaping, line endings, final newline). Outputs, metadata and every other cell stay as they were.
"""

from __future__ import annotations

import bisect
import codecs
import copy
import dataclasses
import difflib
import io
import json
import re
import tokenize
from dataclasses import dataclass, field
from typing import Any

from freezelint.findings import CellIndex, Location
from freezelint.source import Source, SourceError

# Cell magics whose body is Python run in the kernel's namespace.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit", "skip"})
# Kernel languages that are Python (anything else, R or Julia, has no Python to lint).
PYTHON_LANGUAGES = frozenset({"python", "python2", "python3", "ipython", "ipython3"})

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_CELL_MAGIC = re.compile(r"%%(\w+)")
_ESCAPE = re.compile(r"[ \t]*(?:%|!)")  # `%magic`, `%%magic`, `!cmd`, `!!cmd`
_ASSIGNED_ESCAPE = re.compile(r"[ \t]*[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*[ \t]*=[ \t]*[%!]")  # `x = !ls`
_HELP = re.compile(r"[ \t]*(?:\?\??[\w.]+|[\w.\[\]]+\?\??)[ \t]*$")  # `model?`, `??model.forward`
_TIMED = re.compile(r"([ \t]*)%time[ \t]+(?=\S)")  # `%time trainer.train()`

# JSON, for finding where each cell's `source` strings sit in the file: what comes after whitespace, the rest of a
# string after its opening quote, one character of a string as written (an escape, a surrogate pair), line breaks.
_JSON_TOKEN = re.compile(r'[ \t\n\r]*(?:(")|([{}\[\]:,])|(-?(?:Infinity|\d[\d.eE+-]*)|true|false|null|NaN))')
_JSON_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_JSON_ESCAPE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\.", re.S)
_FILE_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class NotebookError(SourceError):
    """A notebook that cannot be read, or a change that cannot be written back into its cells."""


@dataclass(frozen=True)
class ProgramRow:
    """One row of the program: which cell (position in the notebook's `cells` list) and row it comes from."""

    cell: int
    row: int  # 1-based, in the cell
    text: str  # the program's text for it (without line ending)
    original: str  # the cell's line as written, with its line ending
    shift: int = 0  # columns removed at its start (`%time `)
    rewritten: bool = False  # IPython syntax replaced: no change may touch it


@dataclass(frozen=True)
class Piece:
    """A run of a cell line's characters that sits in one JSON string of the notebook file (a line is one piece,
    unless the cell's `source` list splits it between two strings)."""

    start: int  # index, in the cell line, of its first character
    line: int  # where that character is written in the file: 1-based line...
    column: int  # ...and column (counting code points, as SARIF's `unicodeCodePoints` does)
    escaped: tuple[tuple[int, int], ...] = ()  # (index in the cell line, columns in the file) of escaped characters


@dataclass(frozen=True)
class FileLayout:
    """Where each row of a notebook's program is written in the notebook file itself, for reports that address the
    file (GitHub annotations, SARIF, GitLab, JUnit): the JSON line and column that hold a character of a cell.

    In a notebook saved by Jupyter each cell line is one string on its own JSON line. A cell whose `source` is one
    string, and a minified notebook, have several cell lines on one JSON line: the columns still point at the
    character (`\\n` and other escapes counted as written), and reports name the cell and its line as well."""

    pieces: tuple[tuple[Piece, ...], ...]  # by program row
    lengths: tuple[int, ...]  # by program row: the cell line's length, its line ending included
    endings: tuple[str, ...]  # by program row: the cell line's line ending ("" for a cell's unterminated last line)
    rewritten: tuple[bool, ...]  # by program row: IPython syntax, which no fix may touch

    def locate(self, row: int, column: int) -> Location:
        """The file location of program row `row`, 1-based `column` in its cell line (past the line's end: just
        after its last character as written)."""
        if not self.pieces:
            return Location(1, 1)
        pieces = self.pieces[min(max(row, 1), len(self.pieces)) - 1]
        index = max(column - 1, 0)
        piece = pieces[0]
        for candidate in pieces:
            if candidate.start <= index:
                piece = candidate
        wider = sum(width - 1 for at, width in piece.escaped if piece.start <= at < index)
        return Location(piece.line, piece.column + index - piece.start + wider)


@dataclass(eq=False)
class Notebook:
    """A parsed `.ipynb`: its JSON (key order kept), its code as one program, and where each program row came from."""

    path: str
    data: bytes
    raw: dict[str, Any]
    rows: list[ProgramRow]
    bom: bool = False

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> Notebook:
        bom = data.startswith(codecs.BOM_UTF8)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise NotebookError(f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}), so not a notebook") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise NotebookError(f"invalid notebook JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
        except RecursionError:
            raise NotebookError("invalid notebook JSON: nested too deeply") from None
        if not isinstance(raw, dict):
            raise NotebookError("not a Jupyter notebook (the JSON is not an object)")
        if "worksheets" in raw or (isinstance(raw.get("nbformat"), int) and raw["nbformat"] < 4):
            raise NotebookError("nbformat 3 notebooks are not supported; convert with `jupyter nbconvert --to notebook`")
        cells = raw.get("cells")
        if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
            raise NotebookError("not a Jupyter notebook (no list of cells)")
        rows: list[ProgramRow] = []
        if _is_python(raw):
            for position, cell in enumerate(cells):
                if cell.get("cell_type") == "code":
                    source = cell.get("source", "")
                    if not isinstance(source, (str, list)) or (isinstance(source, list) and not all(isinstance(s, str) for s in source)):
                        raise NotebookError(f"not a Jupyter notebook (cell {position + 1} has a malformed source)")
                    rows.extend(_program_rows(position, _joined(source)))
        return cls(path=path, data=data, raw=raw, rows=rows, bom=bom)

    # -- reading ----------------------------------------------------------------------------------------------------

    @property
    def program(self) -> str:
        """The code cells as one Python program."""
        return "".join(row.text + "\n" for row in self.rows)

    @property
    def index(self) -> CellIndex:
        """Program rows -> cell numbers (from 1, every cell counted), rows in the cell, and where they are written in
        the file."""
        return CellIndex(
            cells=tuple(row.cell + 1 for row in self.rows),
            rows=tuple(row.row for row in self.rows),
            shifts=tuple(row.shift for row in self.rows),
            layout=self.layout(),
        )

    def layout(self) -> FileLayout:
        """Where each program row is written in the file's JSON text."""
        text = self.data.decode("utf-8-sig")
        strings = _source_strings(text)
        breaks = [0] + [match.end() for match in _FILE_LINE_BREAK.finditer(text)]
        by_cell: dict[int, list[tuple[Piece, ...]]] = {}
        for position in {row.cell for row in self.rows}:
            by_cell[position] = _cell_pieces(text, strings.get(position, []), breaks)
        pieces = []
        for row in self.rows:
            lines = by_cell[row.cell]
            pieces.append(lines[row.row - 1] if row.row <= len(lines) else (Piece(0, 1, 1),))
        return FileLayout(
            pieces=tuple(pieces),
            lengths=tuple(len(row.original) for row in self.rows),
            endings=tuple(row.original[len(row.original.rstrip("\r\n")):] for row in self.rows),
            rewritten=tuple(row.rewritten for row in self.rows),
        )

    def cell_source(self, position: int) -> str:
        """The source of the cell at `position` (0-based in the notebook's cell list), as one string."""
        return _joined(self.raw["cells"][position].get("source", ""))

    # -- writing ----------------------------------------------------------------------------------------------------

    def cell_changes(self, program: str) -> dict[int, str]:
        """The new source of every cell whose lines `program` (the fixed program) changes, by cell position.

        Raises `NotebookError` when a change touches a line of IPython syntax or spans two cells."""
        old = [row.text for row in self.rows]
        new = program.split("\n")
        if new and new[-1] == "":
            new.pop()
        if old == new:
            return {}
        if not self.rows:
            raise NotebookError("the notebook has no code cell to put the change in")
        lines: dict[int, list[str]] = {}
        changed: set[int] = set()
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                for row in self.rows[i1:i2]:
                    _append(lines.setdefault(row.cell, []), row.original)
                continue
            touched = self.rows[i1:i2]
            if any(row.rewritten for row in touched):
                row = next(row for row in touched if row.rewritten)
                raise NotebookError(f"a change touches IPython syntax at cell {row.cell + 1}, line {row.row}")
            if len({row.cell for row in touched}) > 1:
                raise NotebookError(f"a change spans cells {touched[0].cell + 1} and {touched[-1].cell + 1}")
            # An insertion between two cells goes to the end of the earlier one.
            target = touched[0].cell if touched else self.rows[i1 - 1 if i1 > 0 else 0].cell
            changed.add(target)
            newline = _newline(self.cell_source(target))
            bucket = lines.setdefault(target, [])
            for text in new[j1:j2]:
                _append(bucket, text + newline)
        result = {}
        for position in sorted(changed):
            text = "".join(lines.get(position, []))
            original = self.cell_source(position)
            if not original.endswith(("\n", "\r")) and text.endswith(("\n", "\r")):
                text = text[:-2] if text.endswith("\r\n") else text[:-1]  # the cell had no final newline
            if text != original:
                result[position] = text
        return result

    def updated(self, program: str) -> bytes:
        """The notebook's bytes with `program` (a fixed version of `self.program`) put back into its cells: only the
        changed cells' sources differ; outputs, metadata and the file's JSON formatting are kept."""
        changes = self.cell_changes(program)
        if not changes:
            return self.data
        raw = copy.copy(self.raw)
        raw["cells"] = list(raw["cells"])
        for position, text in changes.items():
            cell = dict(raw["cells"][position])
            original = cell.get("source", [])
            cell["source"] = text if isinstance(original, str) else _split_lines(text)
            raw["cells"][position] = cell
        text = self.format(raw)
        return (codecs.BOM_UTF8 if self.bom else b"") + text.encode("utf-8")

    def format(self, raw: dict[str, Any]) -> str:
        """JSON text for `raw` in this file's formatting (found by re-rendering the original until it matches
        byte for byte); Jupyter's own formatting when the file's cannot be reproduced."""
        style = self._style()
        indent, ensure_ascii, separators, newline, final = style or (1, False, (",", ": "), "\n", True)
        text = json.dumps(raw, indent=indent, ensure_ascii=ensure_ascii, separators=separators)
        if newline != "\n":
            text = text.replace("\n", newline)
        return text + (newline if final else "")

    def _style(self) -> tuple[Any, bool, tuple[str, str], str, bool] | None:
        original = self.data.decode("utf-8-sig")
        newline = "\r\n" if "\r\n" in original else "\n"
        match = re.search(r"\n([ \t]+)\S", original)
        if match is None:
            candidates: list[Any] = [None, 0]
        else:
            detected = match.group(1) if "\t" in match.group(1) else len(match.group(1))
            candidates = list(dict.fromkeys([detected, 1, 2, 4, "\t"]))
        for indent in candidates:
            for separators in [(",", ": ")] if indent is not None else [(", ", ": "), (",", ":")]:
                for ensure_ascii in (False, True):
                    text = json.dumps(self.raw, indent=indent, ensure_ascii=ensure_ascii, separators=separators)
                    if newline != "\n":
                        text = text.replace("\n", newline)
                    if original == text:
                        return indent, ensure_ascii, separators, newline, False
                    if original == text + newline:
                        return indent, ensure_ascii, separators, newline, True
        return None


@dataclass(eq=False)
class NotebookSource(Source):
    """A notebook's program as a `Source`: `cells` maps rows to cells, and `encode(fixed_text)` writes the fixed
    program back into the notebook's JSON (only changed cells), so whatever writes a `Source` handles notebooks."""

    notebook: Notebook | None = field(default=None, repr=False)

    @classmethod
    def from_notebook_bytes(cls, path: str, data: bytes) -> NotebookSource:
        notebook = Notebook.from_bytes(path, data)
        return cls(path=path, text=notebook.program, cells=notebook.index, notebook=notebook)

    def encode(self, text: str | None = None) -> bytes:
        assert self.notebook is not None
        if text is None or text == self.text:
            return self.notebook.data
        return self.notebook.updated(text)

    def display_line(self, row: int) -> str:
        assert self.notebook is not None
        rows = self.notebook.rows
        return rows[row - 1].original.rstrip("\r\n") if 0 < row <= len(rows) else ""


# --- where cell sources sit in the file -------------------------------------------------------------------------------


def _source_strings(text: str) -> dict[int, list[tuple[int, int]]]:
    """The (start, end) offsets of the contents of each cell's `source` string or strings, by cell position, read
    the way `json.loads` reads them (the last of two equal keys wins). The text is valid JSON: `json.loads` took it."""
    found: dict[int, list[tuple[int, int]]] = {}
    # One entry per open container: [is an object, its current key (object) or index (array)].
    stack: list[list[Any]] = []
    expecting_key = False
    position = 0

    def where() -> tuple[int, bool] | None:
        """(cell position, whether a list element) when the value now starting is a cell's source or one of its
        strings; None otherwise."""
        if len(stack) < 3 or not (stack[0][0] and stack[0][1] == "cells" and not stack[1][0]):
            return None
        if len(stack) == 3 and stack[2][0] and stack[2][1] == "source":
            return stack[1][1], False
        if len(stack) == 4 and stack[2][0] and stack[2][1] == "source" and not stack[3][0]:
            return stack[1][1], True
        return None

    def value_starts() -> None:
        if len(stack) == 1 and stack[0][0] and stack[0][1] == "cells":
            found.clear()  # a second `cells` key replaces the first
        place = where()
        if place is not None and not place[1]:
            found[place[0]] = []  # a second `source` key replaces the first

    while True:
        match = _JSON_TOKEN.match(text, position)
        if match is None:
            return found
        position = match.end()
        if match.group(1):  # a string
            end = _JSON_STRING_REST.match(text, position)
            assert end is not None
            content = (position, end.end() - 1)
            position = end.end()
            if expecting_key:
                stack[-1][1] = json.loads(text[content[0] - 1 : content[1] + 1])
                expecting_key = False
                continue
            value_starts()
            place = where()
            if place is not None:
                found.setdefault(place[0], []).append(content)
        elif match.group(2):
            token = match.group(2)
            if token in "{[":
                value_starts()
                stack.append([token == "{", None if token == "{" else 0])
                expecting_key = token == "{"
            elif token in "}]":
                stack.pop()
            elif token == ",":
                if stack[-1][0]:
                    expecting_key = True
                else:
                    stack[-1][1] += 1
        else:  # a number, true, false or null
            value_starts()


def _cell_pieces(text: str, strings: list[tuple[int, int]], breaks: list[int]) -> list[tuple[Piece, ...]]:
    """The pieces of each line of one cell, given where its source strings' contents are in the file."""
    # Every character of the joined source: where it is written (an offset in the file) and how many columns it takes.
    offsets: list[int] = []
    widths: list[int] = []
    decoded: list[str] = []
    string_starts: set[int] = set()
    for start, end in strings:
        string_starts.add(len(offsets))
        at = start
        for escape in _JSON_ESCAPE.finditer(text, start, end):
            for offset in range(at, escape.start()):
                offsets.append(offset)
                widths.append(1)
            decoded.append(text[at:escape.start()])
            character = json.loads(f'"{escape.group()}"')
            offsets.append(escape.start())
            widths.append(escape.end() - escape.start())
            decoded.append(character)
            at = escape.end()
        offsets.extend(range(at, end))
        widths.extend([1] * (end - at))
        decoded.append(text[at:end])
        string_starts.add(len(offsets))  # the end of a string: the next character starts a piece
    source = "".join(decoded)
    assert len(source) == len(offsets)

    def place(offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(breaks, offset)
        return line, offset - breaks[line - 1] + 1

    lines: list[tuple[Piece, ...]] = []
    first = 0
    for line_text in _split_lines(source):
        pieces: list[Piece] = []
        escaped: list[tuple[int, int]] = []
        for index in range(first, first + len(line_text)):
            if index == first or index in string_starts:
                if pieces:
                    pieces[-1] = dataclasses.replace(pieces[-1], escaped=tuple(escaped))
                    escaped = []
                pieces.append(Piece(index - first, *place(offsets[index])))
            if widths[index] != 1:
                escaped.append((index - first, widths[index]))
        if pieces:
            pieces[-1] = dataclasses.replace(pieces[-1], escaped=tuple(escaped))
        lines.append(tuple(pieces))
        first += len(line_text)
    return lines


# --- helpers ----------------------------------------------------------------------------------------------------------


def _is_python(raw: dict[str, Any]) -> bool:
    metadata = raw.get("metadata")
    if not isinstance(metadata, dict):
        return True
    for table, key in (("language_info", "name"), ("kernelspec", "language")):
        value = metadata.get(table, {}).get(key) if isinstance(metadata.get(table), dict) else None
        if isinstance(value, str) and value:
            return value.lower() in PYTHON_LANGUAGES
    return True


def _joined(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _split_lines(text: str) -> list[str]:
    return _LINE.findall(text)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _append(lines: list[str], line: str) -> None:
    """Add a line, ending the previous one first if it was a cell's unterminated last line."""
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    lines.append(line)


def _program_rows(position: int, source: str) -> list[ProgramRow]:
    """The program rows of one code cell, IPython syntax blanked out."""
    lines = _split_lines(source)
    rows: list[ProgramRow] = []

    def add(text: str, original: str, shift: int = 0, rewritten: bool = False) -> None:
        rows.append(ProgramRow(position, len(rows) + 1, text, original, shift, rewritten))

    cell_magic = _CELL_MAGIC.match(lines[0]) if lines else None
    if cell_magic is not None:
        if cell_magic.group(1) not in PYTHON_CELL_MAGICS:
            for line in lines:
                add("", line, rewritten=True)
            return rows
        add("", lines[0], rewritten=True)
    continuing = False
    for line in lines[len(rows):]:
        bare = line.rstrip("\r\n")
        if continuing:  # a line magic continued with a backslash
            add("", line, rewritten=True)
            continuing = bare.endswith("\\")
            continue
        if _looks_like_ipython(bare) and _at_statement_start([row.text for row in rows]):
            timed = _TIMED.match(bare)
            if timed is not None and not bare.endswith("\\"):
                add(timed.group(1) + bare[timed.end():], line, shift=timed.end() - len(timed.group(1)), rewritten=True)
                continue
            indent = bare[: len(bare) - len(bare.lstrip(" \t"))]
            add(indent + "pass", line, rewritten=True)
            continuing = bare.endswith("\\")
            continue
        add(bare, line)
    return rows


def _looks_like_ipython(line: str) -> bool:
    return bool(_ESCAPE.match(line) or _ASSIGNED_ESCAPE.match(line) or _HELP.match(line))


def _at_statement_start(previous: list[str]) -> bool:
    """True unless the lines before leave a string, bracket or backslash continuation open (then a line starting
    with `%` or `!` is data inside it, not IPython syntax)."""
    if not previous:
        return True
    try:
        for _ in tokenize.generate_tokens(io.StringIO("\n".join(previous) + "\n").readline):
            pass
    except tokenize.TokenError:
        return False
    except (SyntaxError, IndentationError):
        return True
    return True
