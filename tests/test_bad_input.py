"""Bad input: one line naming the file and the cause, never a traceback; other files still checked; exit 2."""

from __future__ import annotations

import os
import signal

from cli_helpers import FIXTURES, run_cli

from freezelint.findings import FileResult
from freezelint.rules import Report, Rule, all_rules
from freezelint.findings import Level
from freezelint.runner import lint_file, lint_files

PREMISE = (FIXTURES / "FRZ302" / "article_premise.py").read_text()
# What makes a file worth parsing (FRZ302's tokens: a pretrained model and a trainer); without it a file is skipped.
TOKENS = "model = AutoModel.from_pretrained('x'); trainer = Trainer(model)\n"


def check_one_line_error(tmp_path, name: str, content: bytes, cause: str):
    (tmp_path / name).write_bytes(content)
    (tmp_path / "good.py").write_text(PREMISE)
    completed = run_cli(".", "--fail-on", "note", cwd=tmp_path)
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr + completed.stdout
    error_lines = completed.stderr.strip().splitlines()
    assert len(error_lines) == 1 and error_lines[0].startswith(f"{name}: error: ") and cause in error_lines[0]
    assert "good.py:4:1: FRZ302" in completed.stdout, "the other files are still checked"
    return error_lines[0]


def test_syntax_error(tmp_path):
    check_one_line_error(tmp_path, "broken.py", (TOKENS + "def f(:\n").encode(), "syntax error at line 2")


def test_not_utf8_without_cookie(tmp_path):
    check_one_line_error(tmp_path, "latin.py", TOKENS.encode() + "s = 'café'\n".encode("latin-1"), "not valid UTF-8")


def test_binary_file(tmp_path):
    check_one_line_error(tmp_path, "blob.py", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file")


def test_directory_named_like_a_file_is_walked_not_read(tmp_path):
    (tmp_path / "x.py").mkdir()
    (tmp_path / "x.py" / "inner.py").write_text(PREMISE)
    completed = run_cli(".", "--fail-on", "note", cwd=tmp_path)
    assert completed.returncode == 1 and completed.stderr == ""
    assert "x.py/inner.py:4:1: FRZ302" in completed.stdout


def test_missing_path(tmp_path):
    (tmp_path / "good.py").write_text(PREMISE)
    completed = run_cli("nope.py", "good.py", "--fail-on", "note", cwd=tmp_path)
    assert completed.returncode == 2 and completed.stderr.strip() == "nope.py: error: no such file or directory"
    assert "good.py:4:1: FRZ302" in completed.stdout


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.py"
    path.write_text(PREMISE)

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", deny)
    result = lint_file(str(path), all_rules())
    assert result.error is not None and result.error.message == "cannot be read: Permission denied"


def test_pathological_nesting_is_an_error_not_a_crash(tmp_path):
    nested = TOKENS + "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    check_one_line_error(tmp_path, "deep.py", nested.encode(), "too many nested parentheses")


def test_long_attribute_chains_and_operator_chains_lint(tmp_path):
    chain = TOKENS + "x = a" + ".b" * 900 + "\n" + "y = " + " + ".join(["a"] * 900) + "\n"
    (tmp_path / "long.py").write_text(chain)
    completed = run_cli("long.py", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr


def test_valid_oddities_lint_normally(tmp_path):
    (tmp_path / "empty.py").write_bytes(b"")
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf" + PREMISE.encode())
    (tmp_path / "crlf.py").write_bytes(PREMISE.replace("\n", "\r\n").encode())
    (tmp_path / "latin1.py").write_bytes(("# -*- coding: latin-1 -*-\n# café\n" + PREMISE).encode("latin-1"))
    completed = run_cli(".", "--fail-on", "note", cwd=tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr == ""
    for expected in ("bom.py:4:1: FRZ302", "crlf.py:4:1: FRZ302", "latin1.py:6:1: FRZ302"):
        assert expected in completed.stdout


def _crash_on_marked_files(facts):
    if "CRASH-HERE" in facts.source.text:
        os.kill(os.getpid(), signal.SIGSEGV)
    return iter(())


def test_a_crash_while_analysing_one_file_costs_only_that_file(tmp_path):
    crashing = Rule("FRZ999", "crash", Level.ERROR, _crash_on_marked_files, "")
    paths = []
    for index in range(6):
        path = tmp_path / f"f{index}.py"
        path.write_text(PREMISE + ("# CRASH-HERE\n" if index == 2 else ""))
        paths.append(str(path))
    results = lint_files(paths, [crashing, *all_rules()], jobs=2)
    assert [r.path for r in results] == paths
    crashed = results[2]
    assert crashed.error is not None and "crashed" in crashed.error.message and "SIGSEGV" in crashed.error.message
    for result in results[:2] + results[3:]:
        assert result.error is None and [f.code for f in result.findings] == ["FRZ302"]


def test_internal_errors_are_one_line(tmp_path):
    def broken(facts):
        raise KeyError("oops")

    path = tmp_path / "a.py"
    path.write_text(PREMISE)
    result: FileResult = lint_file(str(path), [Rule("FRZ998", "broken", Level.ERROR, broken, "")])
    assert result.error is not None and result.error.message.startswith("internal error while analysing (KeyError")


def test_report_is_importable():
    assert Report
