"""One file's text, decoded the way Python decodes it, and what the linter needs to read about its lines."""

from __future__ import annotations

import codecs
import io
import re
import tokenize
from dataclasses import dataclass, field
from functools import cached_property

from freezelint.findings import CellIndex, Location

# Python's line breaks (str.splitlines also splits on form feeds and other characters Python does not).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class SourceError(Exception):
    """A file that cannot be linted; the message is one line naming the cause."""


@dataclass(eq=False)
class Source:
    """The text of one Python program (a `.py` file, or the code cells of a notebook: `notebook.NotebookSource`).

    `text` is what the analysis reads: decoded, without a BOM. `encoding` and `bom` say how to write it back.
    `cells` maps a notebook program's rows to its cells (None for a `.py` file).
    """

    path: str
    text: str
    encoding: str = "utf-8"
    bom: bool = False
    _line_starts: list[int] | None = field(default=None, repr=False)
    cells: CellIndex | None = field(default=None, repr=False)

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> Source:
        """Decode bytes as Python would: a BOM, else a coding cookie, else UTF-8."""
        if b"\x00" in data:
            raise SourceError("binary file (it contains NUL bytes)")
        bom = data.startswith(codecs.BOM_UTF8)
        try:
            # Python ends a line at a lone `\r` too (old Mac files); `detect_encoding` reads lines split at `\n` only.
            head = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            encoding, _ = tokenize.detect_encoding(io.BytesIO(head).readline)
        except SyntaxError:
            # detect_encoding also fails on undecodable first lines; say which it is.
            head = b"\n".join(data.splitlines()[:2])
            if re.search(rb"^[ \t\f]*#.*?coding[:=]", head, re.M):
                raise SourceError("unknown or invalid encoding in its coding cookie") from None
            encoding = "utf-8"
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as error:
            if encoding in ("utf-8", "utf-8-sig"):
                raise SourceError(
                    f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}) and no coding cookie"
                ) from None
            raise SourceError(f"cannot be decoded as {encoding} (declared by its coding cookie)") from None
        except LookupError:
            raise SourceError(f"unknown encoding {encoding!r} in its coding cookie") from None
        if text.startswith("\ufeff"):
            text = text[1:]
        return cls(path=path, text=text, encoding="utf-8" if encoding == "utf-8-sig" else encoding, bom=bom)

    def encode(self, text: str | None = None) -> bytes:
        """Bytes to write back: the original encoding, with the BOM if it had one."""
        data = (self.text if text is None else text).encode(self.encoding)
        return codecs.BOM_UTF8 + data if self.bom else data

    @cached_property
    def comments(self) -> dict[int, str]:
        """Comment text by 1-based line number (tokenized, so `#` inside strings does not count)."""
        found: dict[int, str] = {}
        if "#" not in self.text:
            return found
        try:
            for token in tokenize.generate_tokens(io.StringIO(self.text).readline):
                if token.type == tokenize.COMMENT:
                    found[token.start[0]] = token.string
        except (tokenize.TokenError, SyntaxError, IndentationError):
            pass
        return found

    def line(self, row: int) -> str:
        """The text of a 1-based line, without its line ending."""
        lines = _LINE_BREAK.split(self.text)
        return lines[row - 1] if 0 < row <= len(lines) else ""

    @property
    def row_count(self) -> int:
        """How many lines the text has (a text ending in a line break has an empty last one)."""
        return len(_LINE_BREAK.findall(self.text)) + 1

    def display_line(self, row: int) -> str:
        """The line as the user wrote it (in a notebook, the cell's line, magics included)."""
        return self.line(row)

    def describe(self, row: int, column: int | None = None) -> str:
        """A place for messages: `line 4, column 2`, or `cell 3, line 2, column 2` in a notebook."""
        where = f"line {row}"
        if self.cells is not None:
            cell, location = self.cells.locate(Location(row, column or 1))
            where = f"cell {cell}, line {location.row}"
            column = location.column if column else None
        return where + (f", column {column}" if column else "")

    def offset(self, row: int, column: int) -> int:
        """String offset of a 1-based row and 0-based column."""
        if self._line_starts is None:
            self._line_starts = [0] + [match.end() for match in _LINE_BREAK.finditer(self.text)]
        starts = self._line_starts
        return (starts[row - 1] if row - 1 < len(starts) else len(self.text)) + column
