"""Fix properties on programs built from the fixtures (mutated, reordered, nested, renamed; see `programs.py`),
written in every file style (line endings, BOM, latin-1 with a cookie, tabs):

* the analysis of a valid program never fails;
* every fixed program parses and compiles;
* fixing twice equals fixing once;
* nothing outside the ranges the fixes declare changes, and what a fix adds follows the file's line endings and
  indentation (what a fix must write is checked against hand-written files in test_fix_cases.py);
* the BOM and the encoding survive;
* in a notebook (the program split into cells, with IPython syntax, outputs and markdown), only code cells' sources
  change, in the notebook's own JSON formatting.
"""

from __future__ import annotations

import codecs
import json
import re
from unittest import mock

from figures import count, scaled
from hypothesis import HealthCheck, given, settings, strategies as st
from programs import FileStyle, file_styles, fixture_programs, notebooks

from freezelint.findings import FileResult
from freezelint import fixes
from freezelint.fixes import applies, fix_source
from freezelint.rules import select_rules
from freezelint.decoding import decode
from freezelint.source import Source

RULES = select_rules()
PROPERTY_SETTINGS = settings(
    max_examples=scaled(60),
    deadline=None,
    database=None,  # no .hypothesis/ directory in the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def edited_spans(source: Source, result: FileResult, unsafe: bool) -> list[tuple[int, int]]:
    """The text ranges (offsets into `source.text`) of every edit of every fix that this mode applies."""
    spans = []
    for finding in result.findings:
        if applies(finding.fix, unsafe):
            for edit in finding.fix.edits:
                start = source.offset(edit.start.row, edit.start.column - 1)
                end = source.offset(edit.end.row, edit.end.column - 1)
                spans.append((start, end))
    return sorted(spans)


def kept_outside(before: str, spans: list[tuple[int, int]], after: str) -> bool:
    """True when `after` is `before` with only the given ranges replaced: the text between the ranges appears in
    `after` in order, the first piece at its start and the last at its end."""
    pieces, position = [], 0
    for start, end in spans:
        pieces.append(before[position:max(position, start)])
        position = max(position, end)
    pieces.append(before[position:])
    if not after.startswith(pieces[0]) or not after.endswith(pieces[-1]):
        return False
    cursor = len(pieces[0])
    for piece in pieces[1:-1]:
        found = after.find(piece, cursor)
        if found < 0:
            return False
        cursor = found + len(piece)
    return cursor <= len(after) - len(pieces[-1]) if len(pieces) > 1 else after == before


def fixed_pass_by_pass(source: Source, unsafe: bool) -> Source:
    """Fix one pass at a time, checking that each pass changes nothing outside the nodes its fixes replace (a fix can
    reveal another, fixed in the next pass)."""
    passes, limit = 0, fixes.MAX_PASSES
    with mock.patch.object(fixes, "MAX_PASSES", 1):
        while True:
            step = fix_source(source, RULES, unsafe)
            if step.text == source.text:
                return source
            assert kept_outside(source.text, edited_spans(source, step.initial, unsafe), step.text), "changed outside"
            source, passes = step.source, passes + 1
            assert passes <= limit


def added_lines(before: str, after: str) -> list[str]:
    old = set(before.splitlines())
    return [line for line in after.splitlines() if line not in old]


@PROPERTY_SETTINGS
@given(program=fixture_programs(), style=file_styles(), unsafe=st.booleans())
def test_fixes_parse_compile_converge_and_touch_nothing_else(program: str, style: FileStyle, unsafe: bool) -> None:
    data = style.encode(program)
    source = Source.from_bytes("program.py", data)
    outcome = fix_source(source, RULES, unsafe)
    count("programs built from the fixtures, linted and fixed (no analysis error)")
    assert outcome.initial.error is None, outcome.initial.error

    fixed = outcome.source.encode()
    compile(fixed, "program.py", "exec")  # bytes: compile() honours the BOM and the coding cookie itself
    again = fix_source(Source.from_bytes("program.py", fixed), RULES, unsafe)
    assert again.source.encode() == fixed, "fixing twice changed more than fixing once"

    assert fixed_pass_by_pass(source, unsafe).text == outcome.text
    assert fixed.startswith(codecs.BOM_UTF8) == data.startswith(codecs.BOM_UTF8)
    assert Source.from_bytes("program.py", fixed).encoding == source.encoding
    if outcome.applied:
        count("fixes applied to them", outcome.applied)
        count("fixed programs compiled, fixed again unchanged, unchanged outside the fixed nodes")
        new = added_lines(source.text, outcome.text)
        if style.newline in ("\r\n", "\r"):
            assert "\n" not in outcome.text.replace("\r\n", ""), "a fix brought a line ending the file does not use"
        for line in new:
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            assert indent == style.indent * (len(indent) // len(style.indent)), f"indentation of {line!r}"


@PROPERTY_SETTINGS
@given(data=st.data(), program=fixture_programs(), unsafe=st.booleans())
def test_notebook_fixes_change_only_code_cell_sources(data, program: str, unsafe: bool) -> None:
    notebook = data.draw(notebooks(program))
    outcome = fix_source(decode("program.ipynb", notebook), RULES, unsafe)
    count("notebooks built from the fixtures, linted and fixed (no analysis error)")
    assert outcome.initial.error is None, outcome.initial.error
    fixed = outcome.source.encode()
    before, after = json.loads(notebook), json.loads(fixed)
    for old, new in zip(before["cells"], after["cells"]):
        if old["cell_type"] == "code":
            old.pop("source"), new.pop("source")
    assert after == before, "only code cells' sources change"
    compile(decode("program.ipynb", fixed).text, "program.ipynb", "exec")
    again = fix_source(decode("program.ipynb", fixed), RULES, unsafe)
    assert again.source.encode() == fixed, "fixing twice changed more than fixing once"
    if outcome.applied:
        indent = re.compile(rb"\{\r?\n( *)")
        assert (b"\r\n" in fixed) == (b"\r\n" in notebook) and indent.match(fixed)[1] == indent.match(notebook)[1]
        count("notebook fixes applied (outputs, metadata, markdown, formatting kept; fixed twice unchanged)", outcome.applied)
