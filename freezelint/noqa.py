"""Suppression comments, as ruff and flake8 users write them.

* `# noqa: FRZ302` (one or more codes, separated by commas or spaces) silences those codes on its statement;
  a bare `# noqa` silences every code there. "Its statement" is the logical line, as in flake8: the comment may sit on
  any physical line of a statement that spans several (`)  # noqa: FRZ302` after a multi-line call works).
  `# noqa:` followed by no code silences nothing (as in ruff: it is a typo, not a blanket).
* On a line of its own: `# freezelint: noqa` skips the whole file; `# freezelint: noqa: FRZ302` or
  `# freezelint: disable=FRZ302,FRZ201` turns those rules off for the file.

`add_noqa` writes the comments that silence given findings (`freezelint --add-noqa`).
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Callable

from freezelint.findings import Finding
from freezelint.source import Source

_CODES = r"[A-Z]+[0-9]+(?:[ \t]*,?[ \t]*[A-Z]+[0-9]+)*"
NOQA = re.compile(rf"#[ \t]*noqa(?![\w-])(?P<colon>[ \t]*:[ \t]*(?P<codes>{_CODES})?)?", re.IGNORECASE)
FILE_NOQA = re.compile(rf"#[ \t]*freezelint[ \t]*:[ \t]*noqa(?![\w-])(?P<colon>[ \t]*:[ \t]*(?P<codes>{_CODES})?)?", re.I)
FILE_DISABLE = re.compile(rf"#[ \t]*freezelint[ \t]*:[ \t]*disable[ \t]*=[ \t]*(?P<codes>{_CODES})", re.IGNORECASE)


_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")  # Python's line breaks only (not form feeds)


def _code_list(text: str) -> frozenset[str]:
    return frozenset(code.upper() for code in re.findall(r"[A-Za-z]+[0-9]+", text))


@dataclass(frozen=True)
class FileDirectives:
    """What the file's own `# freezelint:` comments say: skip it entirely, or turn some rules off."""

    skip: bool = False
    disabled: frozenset[str] = frozenset()


def file_directives(source: Source) -> FileDirectives:
    if "freezelint" not in source.text:
        return FileDirectives()
    skip = False
    disabled: set[str] = set()
    for row, comment in source.comments.items():
        if not source.line(row).lstrip().startswith("#"):
            continue  # file-level directives stand on their own line
        match = FILE_NOQA.search(comment)
        if match is not None:
            if match.group("codes"):
                disabled |= _code_list(match.group("codes"))
            elif not match.group("colon"):
                skip = True
        match = FILE_DISABLE.search(comment)
        if match is not None:
            disabled |= _code_list(match.group("codes"))
    return FileDirectives(skip, frozenset(disabled))


def logical_lines(source: Source) -> dict[int, tuple[int, int]]:
    """For every row inside a multi-line statement, the statement's first and last row (rows of one-line statements
    are left out: they are their own statement)."""
    spans: dict[int, tuple[int, int]] = {}
    first: int | None = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(source.text).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING):
                continue
            if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if first is not None and token.start[0] > first:
                    for row in range(first, token.start[0] + 1):
                        spans[row] = (first, token.start[0])
                first = None
                continue
            if first is None:
                first = token.start[0]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return spans


def noqa_codes(comment: str) -> frozenset[str] | None:
    """The codes a `# noqa` comment silences: None for none, an empty set for all (a bare `# noqa`)."""
    match = NOQA.search(comment)
    if match is None or FILE_NOQA.search(comment):
        return None
    if not match.group("colon"):
        return frozenset()
    if not match.group("codes"):
        return None  # `# noqa:` with no code: a typo, not a blanket
    return _code_list(match.group("codes"))


def unsuppressed(source: Source, findings: list[Finding]) -> list[Finding]:
    """The findings no `# noqa` comment silences."""
    if not findings or "noqa" not in source.text.lower():
        return findings
    silenced: dict[int, frozenset[str]] = {}
    for row, comment in source.comments.items():
        codes = noqa_codes(comment)
        if codes is not None:
            silenced[row] = codes
    if not silenced:
        return findings
    spans = logical_lines(source)
    kept = []
    for finding in findings:
        first, last = spans.get(finding.start.row, (finding.start.row, finding.start.row))
        rows = [row for row in range(first, last + 1) if row in silenced]
        if any(not silenced[row] or finding.code in silenced[row] for row in rows):
            continue
        kept.append(finding)
    return kept


def add_noqa(source: Source, findings: list[Finding]) -> tuple[str, int]:
    """The program text with `# noqa: CODE` comments that silence `findings`, and how many comments it added or
    extended. Each goes at the end of the finding's statement (its last row); codes already there are kept."""
    if not findings:
        return source.text, 0
    spans = logical_lines(source)
    wanted: dict[int, set[str]] = {}
    for finding in findings:
        last = spans.get(finding.start.row, (finding.start.row, finding.start.row))[1]
        wanted.setdefault(last, set()).add(finding.code)
    lines = _LINES.findall(source.text)
    comments = source.comments
    changed = 0
    for row, codes in sorted(wanted.items()):
        if not 0 < row <= len(lines):
            continue
        line = lines[row - 1]
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        comment = comments.get(row)
        match = NOQA.search(comment) if comment else None
        if match is not None and match.group("codes"):
            merged = ", ".join(sorted(_code_list(match.group("codes")) | codes))
            start = body.rindex(comment) + match.start()
            end = body.rindex(comment) + match.end()
            body = f"{body[:start]}# noqa: {merged}{body[end:]}"
        elif match is not None:
            continue  # a bare `# noqa` already silences everything
        else:
            body = f"{body.rstrip()}  # noqa: {', '.join(sorted(codes))}"
        lines[row - 1] = body + ending
        changed += 1
    return "".join(lines), changed


def add_noqa_to_file(path: str, findings: list[Finding], write: Callable[[str, bytes], None]) -> int:
    """Add the `# noqa` comments for `findings` to the file at `path` (a notebook too: only the changed cells are
    rewritten) and return how many were added. Findings whose line changed since they were found are skipped."""
    from freezelint.decoding import decode

    with open(path, "rb") as handle:
        data = handle.read()
    source = decode(path, data)
    current = [f for f in findings if source.display_line(f.start.row) == f.source_line]
    text, added = add_noqa(source, current)
    if added:
        write(path, source.encode(text))
    return added
