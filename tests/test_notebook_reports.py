"""Reports that address the file itself (GitHub annotations, SARIF, GitLab, JUnit) point a notebook finding at the
line and column of the notebook's JSON text that hold the code, whatever the JSON looks like (Jupyter's one string
per line, `source` as one string, minified, ASCII-escaped), and SARIF fixes are edits of that text: applied to the
notebook's bytes they give what `--fix` writes."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cli_helpers import notebook_place, run_cli

from freezelint.findings import Edit, FileResult, Location
from freezelint.notebook import Notebook
from freezelint.report import file_edit

LOADING = [
    "%pip install -q transformers\n",
    "from transformers import AutoModelForSequenceClassification\n",
    "\n",
    'model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")\n',
]
# Escaped characters (é, a tab, a quote) before the finding on its line move its column in the JSON text.
FREEZING = ["# Freeze the encoder (ünïcode comment)\n", 'note = "é\\t\\""; model.bert.requires_grad = False\n', "print(note)"]


def notebook(single_string: bool = False) -> dict:
    def cell(kind: str, lines: list[str]) -> dict:
        extra = {"execution_count": None, "outputs": []} if kind == "code" else {}
        return {"cell_type": kind, "metadata": {}, **extra, "source": "".join(lines) if single_string else lines}

    cells = [cell("markdown", ["# Fine-tuning\n", "Freeze the encoder, train the head."]), cell("code", LOADING), cell("code", FREEZING)]
    return {"cells": cells, "metadata": {"kernelspec": {"language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


VARIANTS = {
    "jupyter": lambda: json.dumps(notebook(), indent=1, ensure_ascii=False) + "\n",
    "ascii-escaped": lambda: json.dumps(notebook(), indent=2, ensure_ascii=True) + "\n",
    "source-as-one-string": lambda: json.dumps(notebook(single_string=True), indent=1, ensure_ascii=False) + "\n",
    "minified": lambda: json.dumps(notebook(), separators=(",", ":")),
    "crlf": lambda: json.dumps(notebook(), indent=1).replace("\n", "\r\n") + "\r\n",
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Every variant in one directory, and each format's report on it (one run per format)."""
    directory = tmp_path_factory.mktemp("notebooks")
    for name, render in VARIANTS.items():
        (directory / f"{name}.ipynb").write_bytes(render().encode("utf-8"))
    outputs = {}
    for fmt in ("github", "sarif", "gitlab", "junit"):
        completed = run_cli(".", "--output-format", fmt, "--no-cache", cwd=directory)
        assert completed.returncode == 1, completed.stderr
        outputs[fmt] = completed.stdout
    return directory, outputs


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_github_sarif_gitlab_and_junit_point_at_the_json_line_of_the_code(reports, variant):
    directory, outputs = reports
    name = f"{variant}.ipynb"
    path = directory / name
    # The finding: `model.bert.requires_grad = False`, cell 3, line 2, column 17 of the cell.
    line, column = notebook_place(path, 3, 2, 17)
    end_line, end_column = notebook_place(path, 3, 2, 49)
    if variant == "jupyter":
        assert path.read_text().splitlines()[line - 1].strip().startswith('"note = ')
    if variant == "minified":
        assert line == 1

    (annotation,) = [entry for entry in outputs["github"].splitlines() if "FRZ101" in entry and f"file={name}," in entry]
    assert f"file={name},line={line},col={column},endLine={end_line},endColumn={end_column}::" in annotation
    assert f"::{name}:cell 3:2:17: FRZ101 [error]" in annotation  # the message keeps the cell and its row

    sarif = json.loads(outputs["sarif"])
    (result,) = [
        r for r in sarif["runs"][0]["results"]
        if r["ruleId"] == "FRZ101" and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == name
    ]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column}
    assert result["message"]["text"].startswith("cell 3:2:17: ") and result["properties"]["cell"] == 3

    (issue,) = [i for i in json.loads(outputs["gitlab"]) if i["check_name"] == "FRZ101" and i["location"]["path"] == name]
    assert issue["location"]["lines"] == {"begin": line, "end": end_line}
    assert issue["description"].startswith("cell 3:2:17: FRZ101")

    junit = ET.fromstring(outputs["junit"])
    (case,) = [c for c in junit.iter("testcase") if c.get("name").startswith("FRZ101") and c.get("file") == name]
    assert case.get("line") == str(line) and case.get("name") == "FRZ101 (cell 3:2:17)"


def apply_sarif_fix(text: str, replacements: list[dict]) -> str:
    """Apply SARIF replacements (1-based lines and code-point columns of `text`) as a SARIF consumer does."""
    starts = [0] + [index + 1 for index, character in enumerate(text) if character == "\n"]

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    spans = []
    for replacement in replacements:
        region = replacement["deletedRegion"]
        spans.append((offset(region["startLine"], region["startColumn"]), offset(region["endLine"], region["endColumn"]),
                      replacement["insertedContent"]["text"]))
    for start, end, content in sorted(spans, reverse=True):
        text = text[:start] + content + text[end:]
    return text


@pytest.fixture(scope="module")
def fixed(reports, tmp_path_factory) -> Path:
    """A copy of the variants after `freezelint --fix`."""
    directory = tmp_path_factory.mktemp("fixed")
    for path in reports[0].glob("*.ipynb"):
        shutil.copy(path, directory / path.name)
    run_cli("--fix", "--no-cache", ".", cwd=directory)
    return directory


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_sarif_fix_applied_to_the_notebook_bytes_is_what_fix_writes(reports, fixed, variant):
    directory, outputs = reports
    name = f"{variant}.ipynb"
    original = (directory / name).read_bytes()
    results = json.loads(outputs["sarif"])["runs"][0]["results"]
    changes = [
        change for result in results if result["ruleId"] == "FRZ101"
        for change in result["fixes"][0]["artifactChanges"] if change["artifactLocation"]["uri"] == name
    ]
    (change,) = changes
    applied = apply_sarif_fix(original.decode("utf-8"), change["replacements"])
    assert json.loads(applied) == json.loads((fixed / name).read_text())
    assert applied.encode("utf-8") == (fixed / name).read_bytes()
    cell = json.loads(applied)["cells"][2]["source"]
    assert "model.bert.requires_grad_(False)" in "".join(cell)


def test_edits_that_cannot_be_written_into_the_file_are_left_out():
    data = (json.dumps(notebook(), indent=1) + "\n").encode()
    nb = Notebook.from_bytes("n.ipynb", data)
    result = FileResult("n.ipynb", cells=nb.index)
    # Program rows: 1-4 are cell 2 (row 1 is `%pip`), 5-7 cell 3.
    assert file_edit(result, Edit(Location(1, 1), Location(1, 5), "x")) is None, "it touches IPython syntax"
    assert file_edit(result, Edit(Location(4, 1), Location(5, 3), "")) is None, "it spans two cells"
    # Deleting the last line of cell 2 ends at the start of cell 3's first row: it becomes the end of its own line.
    deleted = file_edit(result, Edit(Location(4, 1), Location(5, 1), ""))
    assert deleted is not None
    text = data.decode()
    applied = apply_sarif_fix(text, [{"deletedRegion": {"startLine": deleted.start.row, "startColumn": deleted.start.column,
                                                        "endLine": deleted.end.row, "endColumn": deleted.end.column},
                                      "insertedContent": {"text": deleted.content}}])
    cells = json.loads(applied)["cells"]
    assert "".join(cells[1]["source"]) == "".join(LOADING[:3]) and cells[2]["source"] == FREEZING
    # New lines are written as JSON escapes.
    inserted = file_edit(result, Edit(Location(5, 1), Location(5, 1), 'x = "a"\n'))
    assert inserted is not None and inserted.content == 'x = \\"a\\"\\n'


def test_a_python_file_keeps_its_own_locations(tmp_path):
    """A `.py` file's locations are its own in every format."""
    path = tmp_path / "train.py"
    path.write_text('from transformers import AutoModel\nmodel = AutoModel.from_pretrained("x")\nmodel.bert.requires_grad = False\n')
    (annotation,) = run_cli("train.py", "--output-format", "github", "--no-cache", cwd=tmp_path).stdout.splitlines()
    assert "line=3,col=1," in annotation
