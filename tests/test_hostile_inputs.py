"""Hostile and odd inputs, each linted next to a good file: a one-line error naming the file and the cause (never a
traceback) or normal findings, quickly; the good file's findings are always there.

Already covered in `test_bad_input.py`: syntax errors, undecodable bytes, binary files, 5,000 nested brackets, 900-long
chains, a directory named `x.py`, a missing path, an unreadable file, BOM / CRLF / latin-1 with a cookie, a parser
crash and an internal error costing one file. In `test_fixes.py`: a file without its owner write bit under `--fix`,
symbolic links written through, mode / encoding / BOM / line endings kept.
"""

from __future__ import annotations

import codecs
import json
import os
import time

import pytest

from cli_helpers import FIXTURES, run_cli
from figures import count

from freezelint.findings import FileResult
from freezelint.fixes import FixMode
from freezelint.linter import MAX_NESTING, MAX_SOURCE_CHARACTERS
from freezelint.rules import select_rules
from freezelint.runner import lint_file, lint_files

PREMISE = (FIXTURES / "FRZ302" / "article_premise.py").read_text()
BUGGY = (FIXTURES / "FRZ101" / "bert_attribute.py").read_text()  # FRZ101 at line 5, fixable
FIXED = BUGGY.replace("model.bert.requires_grad = False", "model.bert.requires_grad_(False)")
HEADER = "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('x')\nmodel.requires_grad = False\n"


def lint_next_to_a_good_file(tmp_path, *names: str, args: tuple[str, ...] = ()) -> tuple[dict[str, str], list[dict]]:
    """Lint the tree under tmp_path (a good file added); return {name: its one error line} and the JSON findings."""
    (tmp_path / "good.py").write_text(PREMISE)
    started = time.monotonic()
    completed = run_cli("--output-format", "json", "--fail-on", "note", *args, *(names or (".",)), cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert "Traceback" not in completed.stderr + completed.stdout
    findings = json.loads(completed.stdout)
    assert any(f["filename"].endswith("good.py") and f["code"] == "FRZ302" for f in findings), "the good file is checked"
    errors = {}
    for line in completed.stderr.strip().splitlines():
        name, _, message = line.partition(": error: ")
        assert message, f"not a one-line error: {line!r}"
        errors[name] = message
    assert completed.returncode == (2 if errors else 1)
    assert elapsed < 120, f"took {elapsed:.0f} s"
    count("hostile or odd inputs linted by the command line next to a good file", max(1, len(names)))
    return errors, findings


def codes_of(findings: list[dict], name: str) -> list[tuple[str, int]]:
    return [(f["code"], f["location"]["row"]) for f in findings if os.path.basename(f["filename"]) == name]


@pytest.mark.parametrize(
    "shape",
    [
        "a" + ".b" * 5_000,  # an attribute chain
        "a" + "[0]" * 5_000,  # subscripts
        "f" + "()" * 5_000,  # calls
        "a" + ".b()" * 3_000,  # a method chain
        " + ".join(["a"] * 20_000),  # a long operator chain
        " if a else ".join(["b"] * 3_000),  # nested conditional expressions
    ],
    ids=["attributes", "subscripts", "calls", "methods", "operators", "conditionals"],
)
def test_deeply_nested_code_is_refused_quickly(tmp_path, shape):
    (tmp_path / "deep.py").write_text(HEADER + "x = " + shape + "\n")
    errors, _ = lint_next_to_a_good_file(tmp_path, "deep.py", "good.py")
    assert errors["deep.py"].startswith("too deeply nested to analyse (code nested ")
    assert f"levels deep at line 4; the limit is {MAX_NESTING:,})" in errors["deep.py"]


def test_nesting_just_under_the_limit_is_analysed(tmp_path):
    (tmp_path / "deep.py").write_text(HEADER + "x = a" + "[0]" * (MAX_NESTING - 10) + "\n")
    errors, findings = lint_next_to_a_good_file(tmp_path, "deep.py", "good.py")
    assert not errors and codes_of(findings, "deep.py") == [("FRZ101", 3)]


def test_a_10_mb_file(tmp_path):
    text = HEADER + "".join(f"row_{i} = model.encoder.layer[{i % 12}].output.dense.weight.sum() + {i}\n" for i in range(150_000))
    assert len(text) > 10_000_000
    (tmp_path / "big.py").write_text(text)
    # The same size without any freezing vocabulary: never parsed, so linted at once.
    (tmp_path / "data.py").write_text("".join(f"row_{i} = table.column[{i % 12}].value + {i}\n" for i in range(250_000)))
    errors, findings = lint_next_to_a_good_file(tmp_path)
    assert errors == {
        "big.py": f"too large to analyse ({len(text) / 1e6:.1f} million characters; the limit is {MAX_SOURCE_CHARACTERS / 1e6:g} million)"
    }
    assert codes_of(findings, "data.py") == []


def test_very_long_lines(tmp_path):
    long_string = "x = '" + "a" * 1_000_000 + "'; model.requires_grad = False\n"
    (tmp_path / "long_line.py").write_text(HEADER.replace("model.requires_grad = False\n", "") + long_string)
    (tmp_path / "long_list.py").write_text(BUGGY + "values = [" + ", ".join(map(str, range(100_000))) + "]\n")
    errors, findings = lint_next_to_a_good_file(tmp_path)
    assert not errors
    assert codes_of(findings, "long_line.py") == [("FRZ101", 3)]
    assert codes_of(findings, "long_list.py") == [("FRZ101", 5)]
    line_finding = next(f for f in findings if f["filename"].endswith("long_line.py"))
    assert line_finding["location"]["column"] == len("x = '" + "a" * 1_000_000 + "'; ") + 1
    # The text output shows a window of the line, not a megabyte of it, with the caret under the finding.
    text = run_cli("long_line.py", cwd=tmp_path).stdout.splitlines()
    source, caret = text[2], text[3]
    assert source.startswith("3 | ...aaa") and source.endswith("'; model.requires_grad = False") and len(source) < 300
    assert caret.index("^") == source.index("model.requires_grad") and caret.count("^") == len("model.requires_grad = False")


def test_nul_bytes_in_a_file_and_in_a_notebook(tmp_path):
    (tmp_path / "nul.py").write_bytes(BUGGY.encode() + b"s = 'a\x00b'\n")
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "source": BUGGY + "s = 'a\x00b'\n", "outputs": [],
                           "execution_count": None}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "nul.ipynb").write_text(json.dumps(notebook))
    errors, _ = lint_next_to_a_good_file(tmp_path)
    assert errors["nul.py"] == "binary file (it contains NUL bytes)"
    assert "null" in errors["nul.ipynb"].lower() and set(errors) == {"nul.py", "nul.ipynb"}


def test_byte_order_mark_and_line_endings(tmp_path):
    (tmp_path / "bom_crlf.py").write_bytes(codecs.BOM_UTF8 + BUGGY.replace("\n", "\r\n").encode())
    mixed = "".join(line + ("\r\n" if index % 2 else "\n") for index, line in enumerate(BUGGY.splitlines()))
    (tmp_path / "mixed.py").write_bytes(mixed.encode())
    (tmp_path / "old_mac.py").write_bytes(BUGGY.replace("\n", "\r").encode())
    (tmp_path / "latin1_old_mac.py").write_bytes(("# -*- coding: latin-1 -*-\r# café\r" + BUGGY.replace("\n", "\r")).encode("latin-1"))
    errors, findings = lint_next_to_a_good_file(tmp_path)
    assert not errors
    for name, row in (("bom_crlf.py", 5), ("mixed.py", 5), ("old_mac.py", 5), ("latin1_old_mac.py", 7)):
        assert codes_of(findings, name) == [("FRZ101", row)], name


def test_tabs(tmp_path):
    (tmp_path / "tabs.py").write_text("import torch\nnet = torch.nn.Linear(2, 2)\nif True:\n\tnet.requires_grad = False\n")
    (tmp_path / "mixed_tabs.py").write_text(HEADER + "if True:\n        x = 1\n\ty = 2\n")
    errors, findings = lint_next_to_a_good_file(tmp_path)
    assert codes_of(findings, "tabs.py") == [("FRZ101", 4)]
    assert errors == {"mixed_tabs.py": "syntax error at line 6, column 1: inconsistent use of tabs and spaces in indentation"}


@pytest.mark.parametrize(
    "statement, line, words",
    [
        ("print 'frozen'", 4, "Missing parentheses in call to 'print'"),
        ("exec 'x = 1'", 4, "Missing parentheses in call to 'exec'"),
        ("try:\n    pass\nexcept Exception, error:\n    pass", 6, "multiple exception types must be parenthesized"),
        ("x = 0777", 4, "leading zeros in decimal integer literals are not permitted"),
        ("x = `model`", 4, "invalid syntax"),
        ("if 1 <> 2:\n    pass", 4, "invalid syntax"),
        ("raise ValueError, 'x'", 4, "invalid syntax"),
        ("x = ur'text'", 4, "invalid syntax"),
    ],
    ids=["print", "exec", "except-comma", "octal", "backticks", "diamond", "raise-comma", "ur-prefix"],
)
def test_python_2_syntax(tmp_path, statement, line, words):
    (tmp_path / "py2.py").write_text(HEADER + statement + "\n")
    errors, _ = lint_next_to_a_good_file(tmp_path, "py2.py", "good.py")
    assert errors["py2.py"].startswith(f"syntax error at line {line}, column ") and words in errors["py2.py"]


def test_symbolic_link_loops_and_dangling_links(tmp_path):
    (tmp_path / "loop_a.py").symlink_to("loop_b.py")
    (tmp_path / "loop_b.py").symlink_to("loop_a.py")
    (tmp_path / "self.py").symlink_to("self.py")
    (tmp_path / "dangling.py").symlink_to("gone.py")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to("..")  # a directory loop
    (tmp_path / "sub" / "inner.py").write_text(BUGGY)
    errors, findings = lint_next_to_a_good_file(tmp_path)
    assert errors == {
        "dangling.py": "dangling symbolic link",
        "loop_a.py": "symbolic link loop",
        "loop_b.py": "symbolic link loop",
        "self.py": "symbolic link loop",
    }
    assert codes_of(findings, "inner.py") == [("FRZ101", 5)], "linted once, not once per trip round the loop"
    named, _ = lint_next_to_a_good_file(tmp_path, "loop_a.py", "dangling.py", "good.py")
    assert named == {"loop_a.py": "symbolic link loop", "dangling.py": "dangling symbolic link"}


def test_a_directory_named_like_a_file_and_a_fifo(tmp_path):
    (tmp_path / "x.py").mkdir()
    (tmp_path / "x.py" / "inner.py").write_text(BUGGY)
    os.mkfifo(tmp_path / "pipe.py")  # reading it would wait forever
    errors, findings = lint_next_to_a_good_file(tmp_path)
    assert not errors, "a FIFO met while walking is not a Python file: skipped"
    assert codes_of(findings, "inner.py") == [("FRZ101", 5)]
    named, _ = lint_next_to_a_good_file(tmp_path, "pipe.py", "good.py")
    assert named == {"pipe.py": "not a regular file"}


def test_a_file_deleted_during_the_run(tmp_path):
    paths = []
    for index in range(4):
        path = tmp_path / f"f{index}.py"
        path.write_text(BUGGY)
        paths.append(str(path))
    os.unlink(paths[1])  # found by the walk, gone before its worker reads it
    results = lint_files(paths, select_rules(), jobs=2)
    assert results[1].error is not None and results[1].error.message == "no such file (deleted during the run?)"
    for result in results[:1] + results[2:]:
        assert result.error is None and [f.code for f in result.findings] == ["FRZ101"]
    count("hostile or odd inputs linted by the command line next to a good file")


def test_a_file_deleted_while_it_is_being_fixed_is_not_brought_back(tmp_path, monkeypatch):
    path = tmp_path / "gone.py"
    path.write_text(BUGGY)
    import freezelint.fixes as fixes

    original = fixes.fix_source

    def fix_then_delete(*args, **kwargs):
        outcome = original(*args, **kwargs)
        os.unlink(path)  # deleted after it was read and fixed, before it is written
        return outcome

    monkeypatch.setattr(fixes, "fix_source", fix_then_delete)
    result: FileResult = lint_file(str(path), select_rules(), fix=FixMode())
    assert result.error is not None and result.error.message == "cannot be fixed: No such file or directory"
    assert not path.exists() and os.listdir(tmp_path) == [], "not recreated, no temporary file"


def test_read_only_files_under_fix_as_root_and_otherwise(tmp_path):
    """The mode bits decide, not whether the write would succeed (as root it would)."""
    for name, mode in (("r444.py", 0o444), ("r464.py", 0o464), ("r400.py", 0o400), ("w644.py", 0o644), ("w755.py", 0o755)):
        (tmp_path / name).write_text(BUGGY)
        os.chmod(tmp_path / name, mode)
    completed = run_cli("--fix", ".", cwd=tmp_path)
    notices = sorted(completed.stderr.strip().splitlines())
    assert notices == [f"{name}: notice: not fixed: the file is read-only (no owner write permission)" for name in ("r400.py", "r444.py", "r464.py")]
    for name, mode in (("r444.py", 0o444), ("r464.py", 0o464), ("r400.py", 0o400)):
        assert (tmp_path / name).read_text() == BUGGY and os.stat(tmp_path / name).st_mode & 0o777 == mode
    for name, mode in (("w644.py", 0o644), ("w755.py", 0o755)):
        assert (tmp_path / name).read_text() == FIXED and os.stat(tmp_path / name).st_mode & 0o777 == mode
    count("hostile or odd inputs linted by the command line next to a good file", 5)
