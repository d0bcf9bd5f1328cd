"""Fixes: applied as libcst edits, re-linted until done, never unparseable, written back byte for byte (encoding,
BOM, line endings, mode); that a write is atomic, whenever it is interrupted, is test_never_lose_data's."""

from __future__ import annotations

import codecs
import json
import os
import stat
import textwrap

import libcst as cst
import pytest

from cli_helpers import FIXTURES, run_cli

from freezelint.findings import Applicability, Edit, Fix, Level, Location
from freezelint.fixes import apply_fixes, fix_source
from freezelint.linter import lint_source
from freezelint.rules import FixProposal, Replacement, Report, Rule, select_rules
from freezelint.source import Source

BUGGY = textwrap.dedent(
    """\
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    model.bert.embeddings.requires_grad = False
    for param in model.bert.encoder.layer[0].parameters():
        param.require_grad = False
    for name, tensor in model.state_dict().items():
        if name.startswith("bert.pooler."):
            tensor.requires_grad = False
    """
)
SAFE_FIXED = textwrap.dedent(
    """\
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    model.bert.embeddings.requires_grad_(False)
    for param in model.bert.encoder.layer[0].parameters():
        param.requires_grad = False
    for name, tensor in model.state_dict().items():
        if name.startswith("bert.pooler."):
            tensor.requires_grad = False
    """
)
UNSAFE_FIXED = SAFE_FIXED.replace("model.state_dict().items()", "model.named_parameters()")


def fix(text: str, unsafe: bool = False, path: str = "train.py"):
    return fix_source(Source(path, text), select_rules(), unsafe)


def test_safe_fixes_apply_and_unsafe_ones_wait_for_the_flag():
    outcome = fix(BUGGY)
    assert outcome.text == SAFE_FIXED and outcome.applied == 2
    assert [f.code for f in outcome.result.findings] == ["FRZ105"]
    assert outcome.result.findings[0].fix.applicability is Applicability.UNSAFE
    unsafe = fix(BUGGY, unsafe=True)
    assert unsafe.text == UNSAFE_FIXED and unsafe.applied == 3
    assert [f.code for f in unsafe.result.findings] == []


def test_fixing_twice_changes_nothing_more():
    once = fix(BUGGY, unsafe=True)
    twice = fix(once.text, unsafe=True)
    assert twice.text == once.text and twice.applied == 0


def test_display_only_fixes_are_never_applied():
    text = "import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.requires_grad_\n"
    outcome = fix(text, unsafe=True)
    (finding,) = outcome.result.findings
    assert finding.code == "FRZ103" and finding.fix.applicability is Applicability.DISPLAY
    assert outcome.text == text and outcome.applied == 0


def test_a_fix_that_would_freeze_a_whole_model_is_unsafe():
    whole = (FIXTURES / "FRZ101" / "whole_model.py").read_text()
    outcome = fix(whole)
    assert outcome.applied == 0 and outcome.result.findings[0].fix.applicability is Applicability.UNSAFE
    # The same freeze followed by an unfreeze of the head leaves something to train: safe.
    with_head = "import torch\nnet = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))\n"
    with_head += "net.requires_grad = False\nnet[1].requires_grad_(True)\n"
    assert fix(with_head).applied == 1


def test_text_that_would_not_parse_is_never_kept():
    def bogus(facts):
        for statement in facts.module.body:
            yield Report(statement, "bogus", FixProposal(Applicability.SAFE, "break it", (Replacement(statement, "def (:\n"),)))

    rule = Rule("FRZ999", "bogus", Level.ERROR, bogus, "")
    text = "x = 1\n"
    outcome = fix_source(Source("t.py", text), [rule])
    assert outcome.text == text and outcome.applied == 0


def test_overlapping_edits_wait_for_the_next_pass():
    first = Fix(Applicability.SAFE, "a", (Edit(Location(1, 1), Location(1, 4), "xyz"),))
    overlapping = Fix(Applicability.SAFE, "b", (Edit(Location(1, 3), Location(1, 6), "!!!"),))
    later = Fix(Applicability.SAFE, "c", (Edit(Location(2, 1), Location(2, 2), "B"),))
    assert apply_fixes("abcdef\nb\n", [later, overlapping, first]) == ("xyzdef\nB\n", 2)


def test_nested_fixes_converge_over_passes():
    # `==` becomes `=` on `.data`, then the copy is dropped: two passes, one file.
    text = "import torch\nlayer = torch.nn.Linear(2, 2)\nlayer.weight.data.requires_grad == False\n"
    outcome = fix(text)
    assert outcome.text == "import torch\nlayer = torch.nn.Linear(2, 2)\nlayer.weight.requires_grad = False\n"
    assert outcome.applied == 2


def test_map_becomes_a_loop_with_the_files_indentation_and_line_endings():
    text = (
        "from transformers import AutoModel\r\n"
        "def setup(model):\r\n"
        "\tmap(lambda q: q.requires_grad_(False), model.pooler.parameters())  # freeze the pooler\r\n"
        "\treturn model\r\n"
        "setup(AutoModel.from_pretrained('x'))\r\n"
    )
    outcome = fix(text)
    assert outcome.text == text.replace(
        "\tmap(lambda q: q.requires_grad_(False), model.pooler.parameters())",
        "\tfor q in model.pooler.parameters():\r\n\t\tq.requires_grad_(False)",
    )
    compile(outcome.text, "t.py", "exec")


def test_files_libcst_cannot_reproduce_get_no_fix():
    # A form feed shifts libcst's columns: an edit placed by them could land in the wrong place.
    text = "import torch\nlayer = torch.nn.Linear(2, 2)\n\x0clayer.requires_grad = False\n"
    assert cst.parse_module(text).code != text
    outcome = fix(text)
    assert outcome.applied == 0 and outcome.result.findings[0].fix is None


# --- the command line ------------------------------------------------------------------------------------------------


def test_fix_rewrites_the_file_and_reports_what_remains(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(BUGGY)
    completed = run_cli("check", "--fix", str(path), cwd=tmp_path)
    assert path.read_text() == SAFE_FIXED
    assert completed.returncode == 1, "a finding remains"
    assert completed.stdout.strip().splitlines()[-1] == "Found 3 problems (2 fixed, 1 remaining: 1 error) in 1 file."
    again = run_cli("check", "--fix", "--unsafe-fixes", str(path), cwd=tmp_path)
    assert again.returncode == 0 and "Found 1 problem (1 fixed, 0 remaining) in 1 file." in again.stdout
    assert run_cli("check", "--fix", "--unsafe-fixes", str(path), cwd=tmp_path).stdout.startswith("No problems found")


def test_show_fixes_says_what_is_fixable(tmp_path):
    (tmp_path / "train.py").write_text(BUGGY)
    completed = run_cli("check", "--show-fixes", "train.py", cwd=tmp_path)
    assert "  = fix (safe): Call `requires_grad_(False)`" in completed.stdout
    assert completed.stdout.strip().splitlines()[-2:] == [
        "Found 3 problems (3 errors) in 1 file.",
        "[*] 2 fixable with the `--fix` option (1 more with `--unsafe-fixes`).",
    ]


def test_diff_prints_and_writes_nothing(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(BUGGY)
    completed = run_cli("check", "--diff", "train.py", cwd=tmp_path)
    assert completed.returncode == 1 and path.read_text() == BUGGY
    assert completed.stdout.startswith("--- train.py\n+++ train.py\n@@ ")
    assert "-model.bert.embeddings.requires_grad = False\n+model.bert.embeddings.requires_grad_(False)\n" in completed.stdout
    assert "Would fix 2 problems in 1 file (1 more with `--unsafe-fixes`)." in completed.stderr
    clean = tmp_path / "clean.py"
    clean.write_text(SAFE_FIXED.replace("tensor.requires_grad = False", "pass"))
    nothing = run_cli("check", "--diff", "clean.py", cwd=tmp_path)
    assert nothing.returncode == 0 and nothing.stdout == ""


def test_json_carries_each_fix(tmp_path):
    (tmp_path / "train.py").write_text(BUGGY)
    records = json.loads(run_cli("check", "--output-format", "json", "train.py", cwd=tmp_path).stdout)
    by_code = {record["code"]: record for record in records}
    assert by_code["FRZ101"]["fix"] == {
        "applicability": "safe",
        "message": "Call `requires_grad_(False)`",
        "edits": [
            {
                "content": "model.bert.embeddings.requires_grad_(False)",
                "location": {"row": 4, "column": 1},
                "end_location": {"row": 4, "column": 44},
            }
        ],
    }
    assert by_code["FRZ105"]["fix"]["applicability"] == "unsafe"


def test_encoding_bom_line_endings_and_mode_survive(tmp_path):
    crlf, fixed = BUGGY.replace("\n", "\r\n"), SAFE_FIXED.replace("\n", "\r\n")
    bom = tmp_path / "bom.py"
    bom.write_bytes(codecs.BOM_UTF8 + ("# café\r\n" + crlf).encode("utf-8"))
    latin_header = "# -*- coding: latin-1 -*-\n# café\n"
    latin = tmp_path / "latin.py"
    latin.write_bytes((latin_header + BUGGY).encode("latin-1"))
    os.chmod(latin, 0o640)
    run_cli("check", "--fix", ".", cwd=tmp_path)
    assert bom.read_bytes() == codecs.BOM_UTF8 + ("# café\r\n" + fixed).encode("utf-8")
    assert latin.read_bytes() == (latin_header + SAFE_FIXED).encode("latin-1")
    assert stat.S_IMODE(os.stat(latin).st_mode) == 0o640
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".freezelint")], "no temporary file left behind"


def test_symlinks_are_written_through(tmp_path):
    real = tmp_path / "real.py"
    real.write_text(BUGGY)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    run_cli("check", "--fix", "link.py", cwd=tmp_path)
    assert link.is_symlink() and real.read_text() == SAFE_FIXED


def test_a_file_without_its_owner_write_bit_is_left_alone(tmp_path):
    locked = tmp_path / "locked.py"
    locked.write_text(BUGGY)
    os.chmod(locked, 0o444)
    other = tmp_path / "other.py"
    other.write_text(BUGGY)
    completed = run_cli("check", "--fix", ".", cwd=tmp_path)
    assert locked.read_text() == BUGGY, "left alone, even as root"
    assert other.read_text() == SAFE_FIXED, "the other file is still fixed"
    assert completed.stderr.strip() == "locked.py: notice: not fixed: the file is read-only (no owner write permission)"
    assert "locked.py:4:1: FRZ101" in completed.stdout, "its findings are still reported"
    assert completed.returncode == 1


def test_a_loop_over_all_of_something_unseen_is_unsafe_and_a_filtered_one_safe():
    text = (FIXTURES / "FRZ101" / "helper_loop_over_children.py").read_text()
    findings = lint_source(Source("helper.py", text), select_rules()).findings
    assert [f.fix.applicability for f in findings] == [Applicability.UNSAFE, Applicability.SAFE]


def test_notebooks_are_fixed_in_their_changed_cells_only(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("Freeze the encoder."),
        nbformat.v4.new_code_cell("!pip install -q transformers\nfrom transformers import AutoModelForSequenceClassification"),
        nbformat.v4.new_code_cell('model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")'),
        nbformat.v4.new_code_cell(
            "model.bert.requires_grad = False\nmap(lambda q: q.requires_grad_(False), model.classifier.parameters())",
            outputs=[nbformat.v4.new_output("stream", text="done\n")],
        ),
    ]
    path = tmp_path / "train.ipynb"
    path.write_text(nbformat.writes(notebook))
    before = json.loads(path.read_text())

    diff = run_cli("check", "--diff", "train.ipynb", cwd=tmp_path)
    assert diff.returncode == 1 and "model.bert.requires_grad_(False)" in diff.stdout
    assert json.loads(path.read_text()) == before, "--diff writes nothing"

    completed = run_cli("check", "--fix", "train.ipynb", cwd=tmp_path)
    after = json.loads(path.read_text())
    assert "".join(after["cells"][3]["source"]) == (
        "model.bert.requires_grad_(False)\nfor q in model.classifier.parameters():\n    q.requires_grad_(False)"
    )
    after["cells"][3]["source"] = before["cells"][3]["source"]
    assert after == before, "outputs, metadata and the other cells are kept"
    assert "Found 2 problems (2 fixed, 0 remaining) in 1 file." in completed.stdout


def test_public_fix_text():
    import freezelint

    assert freezelint.fix_text(BUGGY, path="train.py") == SAFE_FIXED
    assert freezelint.fix_text(BUGGY, path="train.py", unsafe=True) == UNSAFE_FIXED
    assert freezelint.fix_text(BUGGY, select=["FRZ102"]) == BUGGY.replace("param.require_grad", "param.requires_grad")
    with pytest.raises(ValueError, match="syntax error"):
        freezelint.fix_text("model.requires_grad = (\n")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_moved_statement_leaves_no_line_behind(newline):
    """Deleting a statement takes its line (indentation, trailing comment, line break), also as the last line."""
    lines = [
        "from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training",
        "if True:",
        "    model = get_peft_model(model, LoraConfig(r=8))",
        "    model = prepare_model_for_kbit_training(model)  # late",
    ]
    outcome = fix(newline.join(lines), unsafe=True)
    assert outcome.text == newline.join(
        [lines[0], lines[1], "    model = prepare_model_for_kbit_training(model)", lines[2], ""]
    )
