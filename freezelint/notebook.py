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

import codecs
import copy
import difflib
import io
import json
import re
import tokenize
from dataclasses import dataclass, field
from typing import Any

from freezelint.findings import CellIndex
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
        """Program rows -> cell numbers (from 1, every cell counted) and rows in the cell."""
        return CellIndex(
            cells=tuple(row.cell + 1 for row in self.rows),
            rows=tuple(row.row for row in self.rows),
            shifts=tuple(row.shift for row in self.rows),
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
