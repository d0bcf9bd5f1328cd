"""Every output format on the fixtures: each one carries every finding (the JSON output is the reference), in the
shape its consumer expects (SARIF validated against the 2.1.0 schema)."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cli_helpers import FIXTURES, ROOT, notebook_place, run_cli

from freezelint.findings import Applicability, Edit, FileResult, Finding, Fix, Level, Location
from freezelint.report import ReportOptions, formatter

# The OASIS SARIF 2.1.0 schema, kept with the tests so that a fresh clone validates against it.
SCHEMA = Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def reference() -> list[dict]:
    """The findings on the fixtures, from the JSON output, as (relative path, cell, row, column, code, level)."""
    completed = run_cli("fixtures", "--output-format", "json")
    assert completed.returncode in (0, 1), completed.stderr
    records = json.loads(completed.stdout)
    assert len(records) > 10 and any(record["cell"] for record in records), "fixtures include a notebook finding"
    return records


def keys(records: list[dict]) -> list[tuple]:
    return sorted(
        (os.path.relpath(r["filename"], ROOT), r["cell"], r["location"]["row"], r["location"]["column"], r["code"], r["level"])
        for r in records
    )


def in_file(records: list[dict]) -> list[tuple]:
    """(path, row, column, code, level) as formats that address the file give them: a notebook's rows and columns are
    those of its JSON text."""
    found = []
    for record in records:
        path = os.path.relpath(record["filename"], ROOT)
        row, column = record["location"]["row"], record["location"]["column"]
        if record["cell"] is not None:
            row, column = notebook_place(record["filename"], record["cell"], row, column)
        found.append((path, row, column, record["code"], record["level"]))
    return sorted(found)


def output(fmt: str, *extra: str) -> str:
    completed = run_cli("fixtures", "--output-format", fmt, *extra)
    assert completed.returncode in (0, 1), completed.stderr
    return completed.stdout


LINE = re.compile(r"^(?P<path>[^:\s]+?):(?:cell (?P<cell>\d+):)?(?P<row>\d+):(?P<col>\d+): (?P<code>FRZ\d{3}) \[(?P<level>\w+)\] ")


def parse_lines(lines: list[str]) -> list[tuple]:
    found = []
    for line in lines:
        match = LINE.match(line)
        if match:
            cell = int(match["cell"]) if match["cell"] else None
            found.append((match["path"], cell, int(match["row"]), int(match["col"]), match["code"], match["level"]))
    return sorted(found)


def test_concise_and_text_carry_every_finding(reference):
    concise = output("concise").splitlines()
    assert parse_lines(concise) == keys(reference)
    assert len(concise) == len(reference) + 1 and concise[-1].startswith("Found ")
    text = output("text").splitlines()
    assert parse_lines(text) == keys(reference)
    carets = [line for line in text if re.fullmatch(r" +\| +\^+", line)]
    assert len(carets) == len(reference), "a caret line under every finding"
    assert output("text", "--quiet").splitlines()[-1].strip() == "|", "--quiet drops the summary"


def test_json_lines(reference):
    lines = output("json-lines").splitlines()
    assert [json.loads(line) for line in lines] == reference


def test_github_annotations(reference):
    lines = output("github").splitlines()
    assert len(lines) == len(reference)
    commands = {"error": "error", "warning": "warning", "note": "notice"}
    parsed, placed = [], []
    for line in lines:
        match = re.fullmatch(r"::(\w+) (.*?)::(.*)", line)
        assert match, line
        properties = dict(item.split("=", 1) for item in match[2].split(","))
        assert set(properties) == {"title", "file", "line", "col", "endLine", "endColumn"}
        (record,) = parse_lines([match[3].replace("%3A", ":")])  # the message keeps the cell and the row in it
        assert commands[record[5]] == match[1] and properties["title"] == record[4] and properties["file"] == record[0]
        parsed.append(record)
        placed.append((properties["file"], int(properties["line"]), int(properties["col"]), record[4], record[5]))
    assert sorted(parsed) == keys(reference)
    assert sorted(placed) == in_file(reference)


def test_github_escapes_newlines_and_separators():
    finding = Finding("a,b:c.py", "FRZ999", "x", Level.ERROR, "one\ntwo 100%", Location(1, 1), Location(1, 2))
    text = formatter("github")([FileResult("a,b:c.py", findings=[finding])], 1, ReportOptions())
    assert text == "::error title=FRZ999,file=a%2Cb%3Ac.py,line=1,col=1,endLine=1,endColumn=2::a,b:c.py:1:1: FRZ999 [error] one%0Atwo 100%25\n"


def test_sarif_is_valid_and_complete(reference):
    jsonschema = pytest.importorskip("jsonschema")
    document = json.loads(output("sarif"))
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(document, schema)
    (run,) = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert {rule["id"] for rule in rules} >= {r["code"] for r in reference}
    for rule in rules:
        assert rule["help"]["markdown"].startswith("## What it does") and rule["helpUri"].endswith(f"/{rule['id']}.md")
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = run["results"]
    found, cells = [], []
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        region = location["region"]
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        path = location["artifactLocation"]["uri"]
        found.append((path, region["startLine"], region["startColumn"], result["ruleId"], result["level"]))
        if "cell" in result.get("properties", {}):
            cells.append(result["message"]["text"].split(":", 1)[0])
    assert sorted(found) == in_file(reference)
    assert sorted(cells) == sorted(f"cell {r['cell']}" for r in reference if r["cell"]), "the message names the cell"
    fingerprints = [result["partialFingerprints"]["freezelint/v1"] for result in results]
    assert len(set(fingerprints)) == len(fingerprints)


def test_sarif_fixes_and_errors_validate(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    fix = Fix(Applicability.SAFE, "Call `requires_grad_(False)`", (Edit(Location(2, 1), Location(2, 30), "model.requires_grad_(False)"),))
    finding = Finding("t.py", "FRZ101", "module-requires-grad", Level.ERROR, "m", Location(2, 1), Location(2, 30), fix=fix, source_line="x")
    from freezelint.findings import FileError

    results = [FileResult("t.py", findings=[finding]), FileResult("bad.py", error=FileError("bad.py", "syntax error at line 1"))]
    document = json.loads(formatter("sarif")(results, 2, ReportOptions()))
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    (result,) = document["runs"][0]["results"]
    replacement = result["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["deletedRegion"] == {"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 30}
    assert replacement["insertedContent"]["text"] == "model.requires_grad_(False)"
    invocation = document["runs"][0]["invocations"][0]
    assert not invocation["executionSuccessful"] and invocation["toolExecutionNotifications"][0]["message"]["text"] == "syntax error at line 1"
    # The same fix, shown by --show-fixes in text output.
    text = formatter("text")(results, 2, ReportOptions(show_fixes=True))
    assert "  = fix (safe): Call `requires_grad_(False)`" in text and "[*] 1 fixable with the `--fix` option." in text


def test_junit(reference):
    root = ET.fromstring(output("junit", "--fail-on", "note"))
    cases = [case for suite in root for case in suite]
    failures = [case.find("failure") for case in cases]
    assert len(cases) == len(reference) and all(failure is not None for failure in failures)
    assert int(root.get("failures")) == len(reference)
    assert parse_lines([failure.text for failure in failures]) == keys(reference)
    lines = sorted((case.get("file"), int(case.get("line")), case.get("name").split()[0]) for case in cases)
    assert lines == sorted((path, row, code) for path, row, _, code, _ in in_file(reference))
    clean = ET.fromstring(run_cli(str(FIXTURES / "article"), "--output-format", "junit").stdout)
    assert clean.get("failures") == "0" and clean.find("testsuite/testcase").get("name") == "no problems found"


def test_junit_follows_fail_on(reference):
    """Findings below --fail-on are passed test cases with their text in system-out: the report fails when the run
    does."""
    completed = run_cli("fixtures", "--output-format", "junit", "--fail-on", "warning")
    root = ET.fromstring(completed.stdout)
    cases = [case for suite in root for case in suite]
    failing = sorted(case.get("name").split()[0] for case in cases if case.find("failure") is not None)
    assert failing == sorted(r["code"] for r in reference if r["level"] in ("error", "warning"))
    passed = [case for case in cases if case.find("failure") is None]
    assert passed and all("[note]" in case.find("system-out").text for case in passed)
    assert int(root.get("failures")) == len(failing) == sum(int(suite.get("failures")) for suite in root)
    notes_only = run_cli(str(FIXTURES / "FRZ302" / "article_premise.py"), "--output-format", "junit", "--fail-on", "warning")
    assert notes_only.returncode == 0 and ET.fromstring(notes_only.stdout).get("failures") == "0"
    assert "FRZ302" in notes_only.stdout


def test_gitlab_code_quality(reference):
    issues = json.loads(output("gitlab"))
    assert len(issues) == len(reference)
    severities = {"error": "major", "warning": "minor", "note": "info"}
    by_key = sorted(
        (issue["location"]["path"], issue["location"]["lines"]["begin"], issue["check_name"], issue["severity"]) for issue in issues
    )
    assert by_key == sorted((path, row, code, severities[level]) for path, row, _, code, level in in_file(reference))
    assert len({issue["fingerprint"] for issue in issues}) == len(issues)
    assert all(issue["description"].startswith(("FRZ", "cell ")) for issue in issues)


def test_statistics(reference):
    counted: dict[str, int] = {}
    for record in reference:
        counted[record["code"]] = counted.get(record["code"], 0) + 1
    lines = run_cli("fixtures", "--statistics").stdout.splitlines()
    assert {line.split("\t")[1]: int(line.split("\t")[0]) for line in lines} == counted
    as_json = json.loads(run_cli("fixtures", "--statistics", "--output-format", "json").stdout)
    assert {row["code"]: row["count"] for row in as_json} == counted


def test_exit_zero_and_exit_codes():
    assert run_cli("fixtures", "--fail-on", "note").returncode == 1
    assert run_cli("fixtures", "--fail-on", "note", "--exit-zero").returncode == 0


def test_colour_follows_the_terminal_and_no_color():
    premise = str(FIXTURES / "FRZ302" / "article_premise.py")
    forced = run_cli(premise, env={"NO_COLOR": "", "FORCE_COLOR": "1"}).stdout
    assert "\x1b[" in forced and "\x1b[" not in run_cli(premise, env={"NO_COLOR": "1", "FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in run_cli(premise, env={"NO_COLOR": ""}).stdout, "not a terminal: no colour"
    assert "\x1b[" not in run_cli(premise, "--output-format", "json", env={"NO_COLOR": "", "FORCE_COLOR": "1"}).stdout
    plain = re.sub(r"\x1b\[[0-9;]*m", "", forced)
    assert plain == run_cli(premise, env={"NO_COLOR": "1"}).stdout


def test_stdin(tmp_path):
    text = (FIXTURES / "FRZ302" / "article_premise.py").read_text()
    completed = run_cli("-", "--stdin-filename", "src/train.py", "--output-format", "concise", input=text, cwd=tmp_path)
    assert completed.stdout.startswith("src/train.py:4:1: FRZ302 [note]")
    anonymous = run_cli("-", "--output-format", "concise", input=text, cwd=tmp_path)
    assert anonymous.stdout.startswith("-:4:1: FRZ302")
    (tmp_path / "pyproject.toml").write_text("[tool.freezelint]\nextend-exclude = ['generated']\n")
    excluded = run_cli("--stdin-filename", "generated/train.py", "--force-exclude", input=text, cwd=tmp_path)
    assert excluded.returncode == 0 and "FRZ302" not in excluded.stdout
    broken = run_cli("-", "--stdin-filename", "x.py", input="import transformers.from_pretrained, transformers.Trainer\ndef f(:\n", cwd=tmp_path)
    assert broken.returncode == 2 and broken.stderr.startswith("x.py: error: syntax error at line 2")


def test_markdown_lists_every_finding_for_a_job_summary(reference):
    text = output("markdown")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == len(reference) and text.startswith("## freezelint\n\nFound ")
    wheres = sorted(row.split("`")[1] for row in rows)
    expected = sorted(
        f"{path}:{f'cell {cell}:' if cell else ''}{row}:{column}" for path, cell, row, column, _, _ in keys(reference)
    )
    assert wheres == expected
    finding = Finding("a.py", "FRZ999", "x", Level.ERROR, "a | b\nc <d>", Location(1, 1), Location(1, 2))
    table = formatter("markdown")([FileResult("a.py", findings=[finding])], 1, ReportOptions())
    assert "| `a.py:1:1` | FRZ999 | error | a \\| b c &lt;d> |" in table
