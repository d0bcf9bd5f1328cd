"""Fixes against hand-written expected files: each case under `tests/fix_cases/<CODE>/` is an input `<name>.py` with
that rule's finding, `<name>.fixed.py`, what `--fix` must write, and, only where `--unsafe-fixes` writes something
else, `<name>.unsafe-fixed.py`. The expected files are written from each rule's documented fix, never by running
the tool and copying its output; a case whose safe fix is not applied has a `.fixed.py` equal to its input.

Each fixed file must also compile, and fixing it again must change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from freezelint import fix_text, lint_text

CASES = Path(__file__).resolve().parent / "fix_cases"
EXPECTED_SUFFIXES = (".fixed.py", ".unsafe-fixed.py")
INPUTS = sorted(path for path in CASES.rglob("*.py") if not path.name.endswith(EXPECTED_SUFFIXES))


def expected(source: Path, unsafe: bool) -> Path:
    stem = source.with_suffix("")
    unsafe_file = stem.with_name(stem.name + ".unsafe-fixed.py")
    return unsafe_file if unsafe and unsafe_file.exists() else stem.with_name(stem.name + ".fixed.py")


def case_id(source: Path) -> str:
    return source.relative_to(CASES).with_suffix("").as_posix()


# Cases the tool gets wrong today, with what it writes instead; strict, so the fix of the bug shows up here too.
KNOWN_WRONG: dict[str, str] = {}
CASE_PARAMS = [
    pytest.param(path, id=case_id(path), marks=[pytest.mark.xfail(reason=KNOWN_WRONG[case_id(path)], strict=True)])
    if case_id(path) in KNOWN_WRONG
    else pytest.param(path, id=case_id(path))
    for path in INPUTS
]


@pytest.mark.parametrize("unsafe", [False, True], ids=["fix", "unsafe-fixes"])
@pytest.mark.parametrize("source", CASE_PARAMS)
def test_fix_writes_the_hand_written_result(source: Path, unsafe: bool) -> None:
    code = source.parent.name
    text = source.read_text(encoding="utf-8")
    assert code in [finding.code for finding in lint_text(text, path=source.name)], f"the input has no {code} finding"
    want = expected(source, unsafe).read_text(encoding="utf-8")
    fixed = fix_text(text, path=source.name, unsafe=unsafe)
    assert fixed == want
    compile(fixed, source.name, "exec")
    assert fix_text(fixed, path=source.name, unsafe=unsafe) == fixed, "fixing again changed it"
    if unsafe:
        assert code not in [finding.code for finding in lint_text(fixed, path=source.name)]


def test_every_case_has_its_expected_files() -> None:
    assert INPUTS
    for source in INPUTS:
        assert expected(source, unsafe=False).exists(), f"{case_id(source)} has no .fixed.py"
    for path in CASES.rglob("*.py"):
        if path.name.endswith(EXPECTED_SUFFIXES):
            name = path.name.removesuffix(".unsafe-fixed.py").removesuffix(".fixed.py")
            assert (path.parent / f"{name}.py").exists(), f"{path.relative_to(CASES)} has no input"
