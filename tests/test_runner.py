"""The pool: results in the order of the paths whatever the workers do, a crash costs only its file (see also
test_bad_input), and excludes match as plainly defined."""

from __future__ import annotations

import os
import signal

from cli_helpers import FIXTURES

from freezelint.findings import Level
from freezelint.rules import Rule, all_rules
from freezelint.runner import lint_files

PREMISE = (FIXTURES / "FRZ302" / "article_premise.py").read_text()


def _files(tmp_path, count: int, crash: set[int] = frozenset()) -> list[str]:
    paths = []
    for index in range(count):
        path = tmp_path / f"f{index:02}.py"
        padding = "# padding\n" * (index * 37 % 500)  # sizes vary, so the largest-first order differs from this one
        path.write_text(padding + PREMISE + ("# CRASH-HERE\n" if index in crash else ""))
        paths.append(str(path))
    return paths


def _crash_on_marked_files(facts):
    if "CRASH-HERE" in facts.source.text:
        os.kill(os.getpid(), signal.SIGSEGV)
    return iter(())


def test_results_come_back_in_the_order_of_the_paths_whatever_the_workers_do(tmp_path):
    paths = _files(tmp_path, 40)
    parallel = lint_files(paths, all_rules(), jobs=2)
    assert [result.path for result in parallel] == paths
    assert parallel == lint_files(paths, all_rules(), jobs=1)
    assert all([f.code for f in result.findings] == ["FRZ302"] for result in parallel)


def test_crashes_cost_only_their_files_and_the_rest_of_their_chunk_is_linted(tmp_path):
    crashing = Rule("FRZ999", "crash", Level.ERROR, _crash_on_marked_files, "")
    paths = _files(tmp_path, 40, crash={3, 17, 18})
    results = lint_files(paths, [crashing, *all_rules()], jobs=2)
    assert [result.path for result in results] == paths
    for index, result in enumerate(results):
        if index in (3, 17, 18):
            assert result.error is not None and "crashed" in result.error.message and "SIGSEGV" in result.error.message
        else:
            assert result.error is None and [f.code for f in result.findings] == ["FRZ302"], index


def _reference_matches(path: str, patterns: tuple[str, ...]) -> bool:
    """The definition of an exclude match, written plainly: a component, or a leading path, matches a pattern."""
    import fnmatch

    parts = [part for part in path.split("/") if part not in ("", ".")]
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    for pattern in (p.rstrip("/").removeprefix("./") for p in patterns):
        if "/" not in pattern and any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
        if "/" in pattern and any(fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(p, f"*/{pattern}") for p in prefixes):
            return True
    return False


def test_exclude_matching_and_the_walk_agree_with_the_plain_definition(tmp_path):
    from freezelint.config import DEFAULT_EXCLUDES
    from freezelint.files import discover, path_matches

    patterns = (*DEFAULT_EXCLUDES, "experiments/old", "tests/*", "*.ipynb", "./gen/", "a*/b?")
    names = ["src", "build", "experiments", "old", "tests", "gen", "abc", "bx", "venv", "x.ipynb", "y.py"]
    paths = [f"{a}/{b}/{c}" for a in names for b in names for c in ("m.py", "x.ipynb")]
    for path in paths:
        assert path_matches(path, patterns) == _reference_matches(path, patterns), path
    for path in paths[::7]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x = 1\n")
    found = discover([str(tmp_path)], patterns).files
    expected = sorted(str(tmp_path / p) for p in paths[::7] if not _reference_matches(p, patterns))
    assert found == expected
