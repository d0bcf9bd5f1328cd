"""What the server lints, and the way back to the editor.

An open document is taken as a `Snapshot`: a `.py` file's text, or a notebook's cells as the editor holds them (LSP
3.17 notebook sync: one text document per cell). It is read as one program exactly as a `.ipynb` file on disk is
(`NotebookSource`: code cells in order, IPython syntax blanked, rows mapped back to cells), so the editor and the CLI
find the same things. Locations go back as LSP ranges on the right document (the text document, or the cell), in
the position encoding the client chose; a changed program goes back as text edits on the documents whose text
changes.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from freezelint.findings import Location
from freezelint.notebook import NotebookSource
from freezelint.source import Source

# Lines as Python and LSP both break them (`str.splitlines` also breaks at form feeds, which neither does).
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def split_lines(text: str) -> list[str]:
    """The lines of `text`, each with its line ending."""
    return _LINES.findall(text)


@dataclass(frozen=True)
class Cell:
    """One cell of an open notebook."""

    uri: str
    text: str
    code: bool  # a Python code cell; markdown cells and cells in other languages are counted, never linted


@dataclass(frozen=True)
class Snapshot:
    """An open document as it is now: a text document, or a notebook (`cells` set; `uri` is the notebook's)."""

    uri: str
    path: str  # its file, for the settings (which configuration, per-file ignores); it need not exist
    version: int | None
    text: str = ""
    cells: tuple[Cell, ...] | None = None

    @property
    def uris(self) -> tuple[str, ...]:
        """The documents diagnostics go to: the text document, or every cell."""
        return (self.uri,) if self.cells is None else tuple(cell.uri for cell in self.cells)

    @cached_property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        if self.cells is None:
            digest.update(self.text.encode("utf-8", "surrogatepass"))
        else:  # the cells' order, kinds and texts: a moved cell changes what the program means
            digest.update(json.dumps([(cell.uri, cell.code, cell.text) for cell in self.cells]).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def source(self) -> Source:
        """The program to lint (raises `SourceError` when there is none)."""
        if self.cells is None:
            return Source(path=self.path, text=self.text)
        notebook = {
            "cells": [
                {"cell_type": "code" if cell.code else "raw", "metadata": {}, "source": cell.text} for cell in self.cells
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        return NotebookSource.from_notebook_bytes(self.path, json.dumps(notebook).encode("utf-8", "surrogatepass"))

    def text_of(self, uri: str) -> str:
        if self.cells is None:
            return self.text
        return next(cell.text for cell in self.cells if cell.uri == uri)


@dataclass(frozen=True)
class Place:
    """A range on one document: the text document, or a notebook's cell."""

    uri: str
    range: types.Range

    def contains(self, position: types.Position) -> bool:
        start, end = self.range.start, self.range.end
        return (start.line, start.character) <= (position.line, position.character) <= (end.line, end.character)

    def overlaps(self, other: types.Range) -> bool:
        start, end = self.range.start, self.range.end
        return (start.line, start.character) <= (other.end.line, other.end.character) and (
            other.start.line,
            other.start.character,
        ) <= (end.line, end.character)


class Positions:
    """Program locations (1-based rows, columns counting characters) to LSP ranges in the client's encoding."""

    def __init__(self, snapshot: Snapshot, source: Source, codec: PositionCodec) -> None:
        self.snapshot = snapshot
        self.source = source
        self.codec = codec
        self._lines: dict[str, list[str]] = {}

    def lines(self, uri: str) -> list[str]:
        if uri not in self._lines:
            self._lines[uri] = split_lines(self.snapshot.text_of(uri))
        return self._lines[uri]

    def place(self, start: Location, end: Location) -> Place:
        if self.snapshot.cells is None or self.source.cells is None:
            uri = self.snapshot.uri
            return Place(uri, types.Range(self._position(uri, start), self._position(uri, end)))
        cells = self.snapshot.cells
        start_cell, start_in_cell = self.source.cells.locate(start)
        end_cell, end_in_cell = self.source.cells.locate(end)
        uri = cells[start_cell - 1].uri
        if end_cell != start_cell:  # no statement spans cells; clip at the end of the cell, to be sure
            lines = self.lines(uri)
            end_position = self._at_offset(uri, sum(len(line) for line in lines))
        else:
            end_position = self._position(uri, end_in_cell)
        return Place(uri, types.Range(self._position(uri, start_in_cell), end_position))

    def _position(self, uri: str, location: Location) -> types.Position:
        lines = self.lines(uri)
        row, column = max(location.row - 1, 0), max(location.column - 1, 0)
        if row >= len(lines):
            return self._at_offset(uri, sum(len(line) for line in lines))
        return self.codec.position_to_client_units(lines, types.Position(row, column))

    def _at_offset(self, uri: str, offset: int) -> types.Position:
        return position_at(self.lines(uri), offset, self.codec)


def position_at(lines: list[str], offset: int, codec: PositionCodec) -> types.Position:
    """The LSP position of a string offset into the text made of `lines`."""
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    row = bisect.bisect_right(starts, offset) - 1
    if row >= len(lines):
        if lines and not lines[-1].endswith(("\n", "\r")):  # the end of a last line without a line break
            row = len(lines) - 1
            return codec.position_to_client_units(lines, types.Position(row, len(lines[row].rstrip("\r\n"))))
        return types.Position(len(lines), 0)
    return codec.position_to_client_units(lines, types.Position(row, offset - starts[row]))


def text_edit(old: str, new: str, codec: PositionCodec) -> types.TextEdit | None:
    """One edit that turns `old` into `new`: the lines that differ, those before and after left alone (so the
    editor keeps the cursor, folds and marks there). None when nothing changes."""
    if old == new:
        return None
    before, after = split_lines(old), split_lines(new)
    common = 0
    while common < min(len(before), len(after)) and before[common] == after[common]:
        common += 1
    tail = 0
    while tail < min(len(before), len(after)) - common and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    start = sum(len(line) for line in before[:common])
    end = len(old) - sum(len(line) for line in before[len(before) - tail:])
    replacement = "".join(after[common: len(after) - tail])
    return types.TextEdit(
        range=types.Range(position_at(before, start, codec), position_at(before, end, codec)), new_text=replacement
    )


def program_edits(snapshot: Snapshot, source: Source, program: str, codec: PositionCodec) -> dict[str, list[types.TextEdit]]:
    """The edits that make the documents hold `program` (a changed version of `source.text`), by document URI.

    A notebook's change goes into its cells as `--fix` would write it (only changed cells; raises `SourceError` when a
    change touches IPython syntax or spans two cells)."""
    if snapshot.cells is None:
        edit = text_edit(snapshot.text, program, codec)
        return {snapshot.uri: [edit]} if edit else {}
    assert isinstance(source, NotebookSource) and source.notebook is not None
    edits: dict[str, list[types.TextEdit]] = {}
    for position, text in source.notebook.cell_changes(program).items():
        cell = snapshot.cells[position]
        edit = text_edit(cell.text, text, codec)
        if edit is not None:
            edits[cell.uri] = [edit]
    return edits
