"""Jupyter notebooks: one program from the code cells, IPython syntax out of the way, findings by cell as ruff
names them, and a fixed program written back into only the changed cells, formatting kept."""

from __future__ import annotations

import ast
import json

import pytest

from cli_helpers import FIXTURES, run_cli

from freezelint.notebook import Notebook, NotebookError, NotebookSource
from freezelint.decoding import decode
from freezelint.source import SourceError

NOTEBOOK = FIXTURES / "notebooks" / "full_finetune_across_cells.ipynb"
PREMISE = (FIXTURES / "FRZ302" / "article_premise.py").read_text()


def notebook_json(*cells: str | tuple[str, str], indent=1, **metadata) -> dict:
    """A notebook with code cells (or `("markdown", text)` cells), sources as Jupyter writes them (lists of lines)."""
    built = []
    for cell in cells:
        kind, text = cell if isinstance(cell, tuple) else ("code", cell)
        entry = {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
        if kind == "code":
            entry.update(execution_count=None, outputs=[])
        built.append(entry)
    return {"cells": built, "metadata": metadata or {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def notebook_bytes(*cells, indent=1, **metadata) -> bytes:
    return (json.dumps(notebook_json(*cells, **metadata), indent=indent, ensure_ascii=False) + "\n").encode()


def expected_location(path) -> tuple[int, int]:
    """(cell, row) of the `# expect: FRZ302` line, counted as ruff counts (every cell from 1)."""
    for number, cell in enumerate(json.loads(path.read_text())["cells"], start=1):
        for row, line in enumerate("".join(cell["source"]).splitlines(), start=1):
            if "# expect: FRZ302" in line:
                return number, row
    raise AssertionError("no expectation")


def test_findings_name_cell_and_row_like_ruff():
    cell, row = expected_location(NOTEBOOK)
    completed = run_cli(str(NOTEBOOK), "--output-format", "concise")
    first = completed.stdout.splitlines()[0]
    assert first.startswith(f"fixtures/notebooks/{NOTEBOOK.name}:cell {cell}:{row}:1: FRZ302 [note] `model`")
    (record,) = json.loads(run_cli(str(NOTEBOOK), "--output-format", "json").stdout)
    assert record["cell"] == cell and record["location"] == {"row": row, "column": 1}
    assert record["end_location"]["row"] == row and record["noqa_row"] == row
    text = run_cli(str(NOTEBOOK)).stdout.splitlines()
    source_line = "".join(json.loads(NOTEBOOK.read_text())["cells"][cell - 1]["source"]).splitlines()[row - 1]
    assert text[2] == f"{row} | {source_line}", "the snippet shows the cell's line"


@pytest.mark.parametrize(
    ("cell", "program"),
    [
        ("%pip install -q peft\n!nvidia-smi\n!!ls\n%matplotlib inline", "pass\npass\npass\npass\n"),
        ("files = !ls data/\nout = %sx pwd\nx, y = !echo 1 2", "pass\npass\npass\n"),
        ("model?\n??model.forward\nmodel.bert.encoder?", "pass\npass\npass\n"),
        ("%time trainer.train()\n%timeit -n1 f()", "trainer.train()\npass\n"),
        ("for p in model.parameters():\n    !echo hi\n    p.requires_grad = False", "for p in model.parameters():\n    pass\n    p.requires_grad = False\n"),
        ("%pip install a \\\n    b \\\n    c\nx = 1", "pass\n\n\nx = 1\n"),
        ("%%time\nx = 1\n!ls", "\nx = 1\npass\n"),
        ("%%capture out\nmodel.train()", "\nmodel.train()\n"),
        ("%%bash\nfor f in *; do echo $f; done", "\n\n"),
        ("%%writefile train.py\nmodel = AutoModel.from_pretrained('x')", "\n\n"),
        ('doc = """\n%not a magic\n!nor this\n"""', 'doc = """\n%not a magic\n!nor this\n"""\n'),
        ("x = (1\n     % 2)\ny = x % 3", "x = (1\n     % 2)\ny = x % 3\n"),
        ("await asyncio.sleep(0)", "await asyncio.sleep(0)\n"),
    ],
)
def test_ipython_syntax_is_blanked_line_by_line(cell, program):
    notebook = Notebook.from_bytes("nb.ipynb", notebook_bytes(cell))
    assert notebook.program == program
    assert len(notebook.rows) == len(cell.splitlines()), "every cell line is one program row"
    ast.parse(notebook.program)


def test_cells_join_in_order_and_markdown_cells_count():
    notebook = Notebook.from_bytes("nb.ipynb", notebook_bytes(("markdown", "# Title"), "a = 1", ("markdown", "text"), "b = 2\nc = 3"))
    assert notebook.program == "a = 1\nb = 2\nc = 3\n"
    assert notebook.index.cells == (2, 4, 4) and notebook.index.rows == (1, 1, 2)


def test_timed_statement_keeps_its_columns():
    source = NotebookSource.from_notebook_bytes("nb.ipynb", notebook_bytes("x = 1\n%time model.train()"))
    from freezelint.findings import Location

    assert source.cells.locate(Location(2, 1)) == (1, Location(2, 7))
    assert source.display_line(2) == "%time model.train()"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"cells": [', "invalid notebook JSON at line 1, column 12: Expecting value"),
        (b"", "invalid notebook JSON at line 1, column 1: Expecting value"),
        (b"[1, 2]", "not a Jupyter notebook (the JSON is not an object)"),
        (b'{"nbformat": 4}', "not a Jupyter notebook (no list of cells)"),
        (b'{"worksheets": [], "nbformat": 3}', "nbformat 3 notebooks are not supported"),
        (b'{"cells": [{"cell_type": "code", "source": 3}]}', "cell 1 has a malformed source"),
        (b"\xff\xfe{}", "not valid UTF-8"),
    ],
)
def test_broken_notebooks_are_one_line_errors(tmp_path, data, message):
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode("nb.ipynb", data)
    (tmp_path / "nb.ipynb").write_bytes(data)
    (tmp_path / "train.py").write_text(PREMISE)
    completed = run_cli(".", "--fail-on", "note", cwd=tmp_path)
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    (line,) = completed.stderr.splitlines()
    assert line.startswith("nb.ipynb: error: ") and message in line
    assert "train.py:4:1: FRZ302" in completed.stdout, "other files are still checked"


def test_syntax_error_names_the_cell(tmp_path):
    (tmp_path / "nb.ipynb").write_bytes(notebook_bytes(("markdown", "m"), "model = AutoModel.from_pretrained(\"x\"); Trainer(model)", "y = 1\ndef f(:"))
    completed = run_cli("nb.ipynb", cwd=tmp_path)
    assert completed.returncode == 2
    assert completed.stderr.startswith("nb.ipynb: error: syntax error at cell 3, line 2, column "), completed.stderr


def test_non_python_kernels_are_skipped(tmp_path):
    data = notebook_bytes(PREMISE, language_info={"name": "R"}, kernelspec={"language": "R", "name": "ir"})
    assert Notebook.from_bytes("nb.ipynb", data).program == ""
    (tmp_path / "nb.ipynb").write_bytes(data)
    assert run_cli("nb.ipynb", "--fail-on", "note", cwd=tmp_path).returncode == 0


def test_noqa_stdin_and_add_noqa_in_notebooks(tmp_path):
    cells = [("markdown", "# BERT"), "%pip install transformers", PREMISE]
    (tmp_path / "nb.ipynb").write_bytes(notebook_bytes(*cells))
    assert run_cli("nb.ipynb", "--fail-on", "note", cwd=tmp_path).returncode == 1
    stdin = run_cli("-", "--stdin-filename", "nb.ipynb", "--output-format", "concise", input=(tmp_path / "nb.ipynb").read_text(), cwd=tmp_path)
    assert stdin.stdout.startswith("nb.ipynb:cell 3:4:1: FRZ302"), stdin.stdout + stdin.stderr
    before = json.loads((tmp_path / "nb.ipynb").read_text())
    added = run_cli("nb.ipynb", "--add-noqa", cwd=tmp_path)
    assert added.stdout.strip() == "Added 1 noqa directive.", added.stdout + added.stderr
    after = json.loads((tmp_path / "nb.ipynb").read_text())
    assert after["cells"][:2] == before["cells"][:2]
    assert after["cells"][2]["source"][3].endswith("# expect: FRZ302  # noqa: FRZ302\n")
    assert run_cli("nb.ipynb", "--fail-on", "note", cwd=tmp_path).returncode == 0


# --- writing a fixed program back ----------------------------------------------------------------------------------


def rich_notebook() -> dict:
    """A notebook as Jupyter saves it: outputs, execution counts, metadata, ids, non-ASCII text."""
    data = notebook_json(
        ("markdown", "# Fine-tuning — café"),
        "%pip install peft\nimport torch",
        "model = load()\nmodel.bert.requires_grad = False\nprint('done')",
        "trainer.train()",
    )
    data["cells"][2]["outputs"] = [{"name": "stdout", "output_type": "stream", "text": ["done\n"]}]
    data["cells"][2]["execution_count"] = 7
    data["cells"][2]["metadata"] = {"scrolled": True, "tags": ["train"]}
    data["cells"][3]["source"] = "trainer.train()"  # a single string, as some tools write it
    data["metadata"] = {"kernelspec": {"language": "python", "name": "python3"}, "custom": {"ünïcode": "✓"}}
    return data


@pytest.mark.parametrize(
    "dump",
    [
        lambda d: json.dumps(d, indent=1, sort_keys=True, ensure_ascii=False) + "\n",  # Jupyter / nbformat
        lambda d: json.dumps(d, indent=2, ensure_ascii=False),  # no final newline
        lambda d: json.dumps(d, indent=4, ensure_ascii=True) + "\n",  # escaped non-ASCII
        lambda d: json.dumps(d, indent="\t", ensure_ascii=False) + "\n",
        lambda d: (json.dumps(d, indent=1, ensure_ascii=False) + "\n").replace("\n", "\r\n"),  # Windows
        lambda d: json.dumps(d, separators=(",", ":")),  # minified
    ],
)
def test_fixed_program_goes_back_into_the_changed_cell_only(dump):
    original = dump(rich_notebook()).encode()
    source = decode("nb.ipynb", original)
    assert isinstance(source, NotebookSource) and source.encode() == original
    fixed = source.text.replace("model.bert.requires_grad = False", "model.bert.requires_grad_(False)")
    assert fixed != source.text
    written = source.encode(fixed)
    before, after = json.loads(original), json.loads(written)
    assert after["cells"][2]["source"] == ["model = load()\n", "model.bert.requires_grad_(False)\n", "print('done')"]
    after["cells"][2]["source"] = before["cells"][2]["source"]
    assert after == before, "outputs, metadata and every other cell unchanged"
    # The file's own formatting: the bytes differ only in the changed line.
    old_line = json.dumps("model.bert.requires_grad = False\n", ensure_ascii=False)
    new_line = json.dumps("model.bert.requires_grad_(False)\n", ensure_ascii=False)
    assert written.decode().replace(new_line, old_line) == original.decode()


def test_insertions_deletions_and_cells_without_final_newline():
    notebook = Notebook.from_bytes("nb.ipynb", notebook_bytes("a = 1\nb = 2", ("markdown", "m"), "c = 3"))
    changes = notebook.cell_changes("import torch\na = 1\nb = 2\nb2 = 4\nc = 3\n")
    assert changes == {0: "import torch\na = 1\nb = 2\nb2 = 4"}, "no final newline added to a cell that had none"
    assert notebook.cell_changes("a = 1\nc = 3\n") == {0: "a = 1"}
    assert notebook.cell_changes(notebook.program) == {}
    assert notebook.updated(notebook.program) == notebook.data


def test_changes_to_ipython_syntax_are_refused():
    notebook = Notebook.from_bytes("nb.ipynb", notebook_bytes("%time model.train()\nx = 1"))
    with pytest.raises(NotebookError, match="IPython syntax at cell 1, line 1"):
        notebook.updated("model.eval()\nx = 1\n")
    assert json.loads(notebook.updated("model.train()\nx = 2\n"))["cells"][0]["source"] == ["%time model.train()\n", "x = 2"]
