"""The command line as a user meets it: shorthand, subcommands, exit codes, selection, output."""

from __future__ import annotations

import json

from cli_helpers import FIXTURES, run_cli

PREMISE = FIXTURES / "FRZ302" / "article_premise.py"
CLEAN = FIXTURES / "article" / "example1_freeze_all_bert.py"


def test_shorthand_equals_check(tmp_path):
    short = run_cli(str(PREMISE))
    explicit = run_cli("check", str(PREMISE))
    assert short.stdout == explicit.stdout and short.returncode == explicit.returncode
    assert "FRZ302 [note]" in short.stdout


def test_text_format_and_summary():
    completed = run_cli(str(PREMISE))
    first, *snippet, blank, summary = completed.stdout.splitlines()
    assert first.startswith("fixtures/FRZ302/article_premise.py:4:1: FRZ302 [note] `model` (BertForSequenceClassification")
    source_line = PREMISE.read_text().splitlines()[3]
    assert snippet == ["  |", f"4 | {source_line}", "  | " + "^" * len(source_line.split("  #")[0]), "  |"]
    assert blank == "" and summary == "Found 1 problem (1 note) in 1 file."
    concise = run_cli("--output-format", "concise", str(PREMISE)).stdout.splitlines()
    assert concise == [first, summary]


def test_summary_counts_levels_and_files():
    completed = run_cli(str(FIXTURES / "FRZ201"))
    summary = completed.stdout.strip().splitlines()[-1]
    assert summary.startswith("Found ") and "notes)" in summary and summary.endswith(" files.")


def test_clean_run_says_so_and_exits_zero():
    completed = run_cli(str(CLEAN))
    assert completed.returncode == 0
    assert completed.stdout.strip() == "No problems found (1 file checked)."


def test_fail_on_sets_the_exit_status():
    assert run_cli(str(PREMISE)).returncode == 0  # a note is below the default --fail-on warning
    assert run_cli("--fail-on", "note", str(PREMISE)).returncode == 1
    assert run_cli("--fail-on", "error", str(PREMISE)).returncode == 0


def test_select_and_ignore_by_prefix():
    assert "FRZ302" not in run_cli("--ignore", "FRZ3", str(PREMISE)).stdout
    assert "FRZ302" not in run_cli("--select", "FRZ2", str(PREMISE)).stdout
    assert "FRZ302" in run_cli("--select", "FRZ2,FRZ302", str(PREMISE)).stdout
    assert "FRZ302" in run_cli("--select", "ALL", "--ignore", "FRZ2", str(PREMISE)).stdout


def test_unknown_rule_code_is_a_usage_error():
    completed = run_cli("--select", "FRZ999", str(PREMISE))
    assert completed.returncode == 2 and "unknown rule code" in completed.stderr


def test_json_is_shaped_like_ruffs():
    completed = run_cli("--output-format", "json", str(PREMISE))
    (record,) = json.loads(completed.stdout)
    assert set(record) >= {"code", "message", "filename", "location", "end_location", "fix", "url", "level", "cell", "noqa_row"}
    assert record["code"] == "FRZ302" and record["level"] == "note"
    assert record["location"] == {"row": 4, "column": 1}
    assert record["filename"] == str(PREMISE)


def test_subcommand_name_wins_over_a_path_of_that_name(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "train.py").write_text(PREMISE.read_text())
    listing = run_cli("rules", cwd=tmp_path)
    assert listing.returncode == 0 and "FRZ302" in listing.stdout and "Found" not in listing.stdout
    as_path = run_cli("check", "rules", "--fail-on", "note", cwd=tmp_path)
    assert as_path.returncode == 1 and "rules/train.py:4:1: FRZ302" in as_path.stdout


def test_default_path_is_the_current_directory(tmp_path):
    (tmp_path / "train.py").write_text(PREMISE.read_text())
    completed = run_cli(cwd=tmp_path)
    assert "train.py:4:1: FRZ302" in completed.stdout


def test_default_excludes_and_extend_exclude(tmp_path):
    for directory in (".venv", "build", "src", "src/legacy"):
        (tmp_path / directory).mkdir(parents=True, exist_ok=True)
        (tmp_path / directory / "train.py").write_text(PREMISE.read_text())
    out = run_cli(".", cwd=tmp_path).stdout
    assert "src/train.py" in out and "src/legacy/train.py" in out
    assert ".venv" not in out and "build/" not in out
    out = run_cli(".", "--extend-exclude", "legacy", cwd=tmp_path).stdout
    assert "src/legacy" not in out and "src/train.py" in out
    # A file named explicitly is always checked.
    assert "build/train.py" in run_cli("build/train.py", cwd=tmp_path).stdout


def test_version_and_help():
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("freezelint ")
    help_text = run_cli("--help").stdout
    assert "freezelint [OPTIONS] [PATHS]" in help_text and "Exit status" in help_text
    check_help = run_cli("check", "--help").stdout
    assert "--fail-on" in check_help and "--select" in check_help


def test_rule_docs_command():
    completed = run_cli("rule", "FRZ302")
    assert completed.returncode == 0
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Fix safety", "## References"):
        assert section in completed.stdout
    assert run_cli("rule", "FRZ999").returncode == 2


def test_a_run_that_could_not_check_a_file_never_says_no_problems_found(tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n")
    (tmp_path / "fine.py").write_text("print('hello')\n")
    completed = run_cli(".", "--no-cache", cwd=tmp_path)
    assert completed.returncode == 2
    assert completed.stderr.startswith("broken.py: error: syntax error at line 1")
    assert completed.stdout == "1 file could not be checked (see the errors above); no problems found in the 1 other file checked.\n"
    alone = run_cli("broken.py", "--no-cache", cwd=tmp_path)
    assert alone.stdout == "1 file could not be checked (see the errors above); no other file was checked.\n"


def test_no_python_files_is_a_warning_not_a_clean_run(tmp_path):
    (tmp_path / "notes.txt").write_text("not python\n")
    (tmp_path / "empty").mkdir()
    for args in ([], ["empty"], ["empty", "."]):
        completed = run_cli(*args, cwd=tmp_path)
        assert completed.returncode == 0, completed.stderr
        assert completed.stderr == "freezelint: warning: no Python files found under the given paths\n"
        assert completed.stdout == "No Python files found: nothing was checked.\n"


def test_syntax_errors_are_reported_whether_or_not_the_file_has_freezing_code(tmp_path):
    """One behaviour: a file that does not parse could not be checked (exit 2), with or without code the rules read."""
    (tmp_path / "plain.py").write_text("x = (\n")
    (tmp_path / "freezing.py").write_text("from transformers import AutoModel\nmodel = AutoModel.from_pretrained('x')\nmodel.requires_grad = False\nx = (\n")
    for name in ("plain.py", "freezing.py"):
        completed = run_cli(name, "--no-cache", cwd=tmp_path)
        assert completed.returncode == 2, (name, completed.stdout)
        assert completed.stderr.startswith(f"{name}: error: syntax error at line ")
    # A file skipped on purpose (`# freezelint: noqa` on a line of its own) is not read at all.
    (tmp_path / "skipped.py").write_text("# freezelint: noqa\nx = (\n")
    assert run_cli("skipped.py", "--no-cache", cwd=tmp_path).returncode == 0


def test_output_file_and_a_second_format_in_one_run(tmp_path):
    (tmp_path / "train.py").write_text(PREMISE.read_text())
    completed = run_cli(
        "train.py", "--output-format", "github", "--also-output", "sarif:reports/freezelint.sarif",
        "--also-output", "junit:reports/junit.xml", "--fail-on", "note", cwd=tmp_path,
    )
    assert completed.returncode == 1
    assert completed.stdout.startswith("::notice title=FRZ302,file=train.py,line=4,")
    sarif = json.loads((tmp_path / "reports" / "freezelint.sarif").read_text())
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["FRZ302"]
    assert (tmp_path / "reports" / "junit.xml").read_text().count("<failure ") == 1
    to_file = run_cli("train.py", "--output-file", "out/report.txt", cwd=tmp_path, env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert to_file.stdout == "" and to_file.returncode == 0
    written = (tmp_path / "out" / "report.txt").read_text()
    assert written.startswith("train.py:4:1: FRZ302 [note]") and "\x1b[" not in written
    assert written.endswith("Found 1 problem (1 note) in 1 file.\n")


def test_bad_report_destinations_are_one_line_errors(tmp_path):
    (tmp_path / "train.py").write_text(PREMISE.read_text())
    unknown = run_cli("train.py", "--also-output", "xml:out.xml", cwd=tmp_path)
    assert unknown.returncode == 2 and "--also-output takes FORMAT:PATH" in unknown.stderr
    (tmp_path / "taken").write_text("a file, not a directory\n")
    unwritable = run_cli("train.py", "--output-file", "taken/report.txt", cwd=tmp_path)
    assert unwritable.returncode == 2
    assert unwritable.stderr.startswith("taken/report.txt: error: cannot write the report:")
    assert "Traceback" not in unwritable.stderr
