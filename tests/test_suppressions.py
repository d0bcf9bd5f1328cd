"""`# noqa`, file-level directives, `--add-noqa` and the baseline: the ways to silence or adopt, all on one path."""

from __future__ import annotations

import json

import pytest

from cli_helpers import FIXTURES, run_cli

from freezelint import lint_text
from freezelint.linter import lint_source
from freezelint.noqa import add_noqa, file_directives, noqa_codes
from freezelint.rules import all_rules
from freezelint.source import Source

PREMISE = (FIXTURES / "FRZ302" / "article_premise.py").read_text()
LOAD = 'model = BertForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)  # expect: FRZ302'
assert LOAD in PREMISE


def with_load_line(replacement: str) -> str:
    return PREMISE.replace(LOAD, replacement)


@pytest.mark.parametrize(
    ("comment", "codes"),
    [
        ("# noqa", frozenset()),
        ("# NOQA", frozenset()),
        ("# noqa: FRZ302", {"FRZ302"}),
        ("# noqa:FRZ302,FRZ201", {"FRZ302", "FRZ201"}),
        ("# noqa: FRZ302 FRZ201 because it is intended", {"FRZ302", "FRZ201"}),
        ("# type: ignore  # noqa: E501, FRZ302", {"E501", "FRZ302"}),
        ("# noqa:", None),
        ("# noqa: we mean it", None),
        ("# noqanything", None),
        ("# freezelint: full-finetune", None),
    ],
)
def test_noqa_comment_parsing(comment, codes):
    assert noqa_codes(comment) == codes


@pytest.mark.parametrize(
    ("line", "silenced"),
    [
        (LOAD.replace("# expect: FRZ302", "# noqa: FRZ302"), True),
        (LOAD.replace("# expect: FRZ302", "# noqa"), True),
        (LOAD.replace("# expect: FRZ302", "# noqa: FRZ201"), False),
        (LOAD.replace("# expect: FRZ302", "# noqa: E501"), False),
        (LOAD.replace("# expect: FRZ302", "# noqa:"), False),
        # On any line of a multi-line statement, as flake8 allows.
        ('model = BertForSequenceClassification.from_pretrained(\n    "bert-base-uncased",\n)  # noqa: FRZ302', True),
        ('model = BertForSequenceClassification.from_pretrained(  # noqa: FRZ302\n    "bert-base-uncased",\n)', True),
    ],
)
def test_line_noqa(line, silenced):
    findings = lint_text(with_load_line(line), path="train.py")
    assert (findings == []) is silenced, findings


def test_noqa_on_another_statement_does_not_silence():
    text = with_load_line(LOAD + "\nx = 1  # noqa")
    assert [f.code for f in lint_text(text)] == ["FRZ302"]


def test_file_level_directives():
    assert file_directives(Source("t.py", "# freezelint: noqa\nx = 1\n")).skip
    assert not file_directives(Source("t.py", "x = 1  # freezelint: noqa\n")).skip, "only on a line of its own"
    disabled = file_directives(Source("t.py", "# freezelint: disable=FRZ302, FRZ201\n# freezelint: noqa: FRZ101\n"))
    assert disabled.disabled == {"FRZ302", "FRZ201", "FRZ101"} and not disabled.skip
    assert lint_text("# freezelint: noqa\n" + PREMISE) == []
    assert lint_text("# freezelint: disable=FRZ302\n" + PREMISE) == []
    assert [f.code for f in lint_text("# freezelint: disable=FRZ201\n" + PREMISE)] == ["FRZ302"]


def test_noqa_is_honoured_by_every_front_end(tmp_path):
    text = with_load_line(LOAD.replace("# expect: FRZ302", "# noqa: FRZ302"))
    (tmp_path / "train.py").write_text(text)
    assert run_cli("train.py", "--fail-on", "note", cwd=tmp_path).returncode == 0
    stdin = run_cli("-", "--stdin-filename", "train.py", "--fail-on", "note", input=text, cwd=tmp_path)
    assert stdin.returncode == 0 and stdin.stdout.startswith("No problems found")
    assert lint_source(Source("train.py", text), all_rules()).findings == []


def test_add_noqa_then_clean(tmp_path):
    multi = 'model = BertForSequenceClassification.from_pretrained(\n    "bert-base-uncased",  # the base\n)'
    (tmp_path / "a.py").write_text(PREMISE)
    (tmp_path / "b.py").write_text(with_load_line(multi))
    (tmp_path / "c.py").write_text(with_load_line(LOAD.replace("# expect: FRZ302", "# noqa: E501")))
    before = run_cli(".", "--fail-on", "note", cwd=tmp_path)
    assert before.returncode == 1
    added = run_cli(".", "--add-noqa", cwd=tmp_path)
    assert added.returncode == 0 and added.stdout.strip() == "Added 3 noqa directives.", added.stdout + added.stderr
    assert LOAD.replace("# expect: FRZ302", "# expect: FRZ302  # noqa: FRZ302") in (tmp_path / "a.py").read_text()
    assert ")  # noqa: FRZ302\n" in (tmp_path / "b.py").read_text(), "at the end of the statement, not inside it"
    assert "# noqa: E501, FRZ302\n" in (tmp_path / "c.py").read_text(), "merged with the codes already there"
    assert run_cli(".", "--fail-on", "note", cwd=tmp_path).returncode == 0
    again = run_cli(".", "--add-noqa", cwd=tmp_path)
    assert again.stdout.strip() == "Added 0 noqa directives."


def test_add_noqa_keeps_line_endings_and_encoding():
    source = Source.from_bytes("t.py", ("# -*- coding: latin-1 -*-\n# café\r\n" + PREMISE).replace("\n", "\r\n").encode("latin-1"))
    findings = lint_source(source, all_rules()).findings
    text, count = add_noqa(source, findings)
    assert count == 1 and text.count("\r\n") == source.text.count("\r\n") and "  # noqa: FRZ302\r\n" in text
    assert source.encode(text).decode("latin-1").count("café") == 1


def test_baseline_hides_known_findings_and_fails_on_new_ones(tmp_path):
    (tmp_path / "old.py").write_text(PREMISE)
    baseline = tmp_path / "baseline.json"
    written = run_cli(".", "--baseline", "baseline.json", "--write-baseline", cwd=tmp_path)
    assert written.returncode == 0 and written.stdout.strip() == "Wrote 1 known finding to baseline.json."
    data = json.loads(baseline.read_text())
    assert data["findings"] == [{"file": "old.py", "code": "FRZ302", "line": " ".join(LOAD.split()), "count": 1}]

    # Known findings are hidden, even after the code above them moved.
    (tmp_path / "old.py").write_text("# a new comment\n\n" + PREMISE)
    quiet = run_cli(".", "--baseline", "baseline.json", "--fail-on", "note", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stdout
    assert quiet.stdout.strip() == "No new problems found (1 file checked; 1 known finding hidden by the baseline)."

    # A new finding (here: the same mistake copied into a new file, and a second copy in the old one) fails.
    (tmp_path / "new.py").write_text(PREMISE)
    doubled = PREMISE + "\n" + PREMISE.split("\n", 3)[3]
    (tmp_path / "old.py").write_text(doubled)
    first, second = [row for row, line in enumerate(doubled.splitlines(), start=1) if line == LOAD]
    loud = run_cli(".", "--baseline", "baseline.json", "--fail-on", "note", "--output-format", "json", cwd=tmp_path)
    assert loud.returncode == 1
    assert sorted((r["filename"].rsplit("/", 1)[1], r["location"]["row"]) for r in json.loads(loud.stdout)) == [
        ("new.py", first), ("old.py", second)
    ], "the first copy in old.py is the known one"

    # The configuration can name the baseline; a missing one is a clear error.
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nbaseline = "baseline.json"\n')
    assert "1 known finding hidden" in run_cli("old.py", cwd=tmp_path).stdout
    missing = run_cli(".", "--baseline", "nope.json", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip() == (
        "nope.json: error: no such baseline file (create it with --write-baseline)"
    )


def test_write_baseline_keeps_entries_of_files_not_linted(tmp_path):
    (tmp_path / "a.py").write_text(PREMISE)
    (tmp_path / "b.py").write_text(PREMISE)
    run_cli(".", "--baseline", "base.json", "--write-baseline", cwd=tmp_path)
    (tmp_path / "b.py").write_text("x = 1\n")
    run_cli("b.py", "--baseline", "base.json", "--write-baseline", cwd=tmp_path)
    assert [entry["file"] for entry in json.loads((tmp_path / "base.json").read_text())["findings"]] == ["a.py"]
