"""The findings on the benchmark corpora (the sources of transformers and torch, at pinned versions) against their
reviewed snapshots: a change in behaviour on thousands of real library files shows up in review.

The versions are pinned in the `test` extra; with other versions installed, or none, the test skips and says so
(the snapshot holds for the pinned sources only). Slow: about 1.5 minutes on 2 cores."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli
from snapshots import TextSnapshot, render

CORPORA = {"transformers": "5.25.0", "torch": "2.13.0+cpu"}
# Files written for a newer Python than the one running the tests: its parser rejects them, so freezelint reports
# them as files it could not check (exit status 2), whatever they hold.
NEWER_SYNTAX = {"torch": {"torch/testing/_internal/py312_intrinsics.py": (3, 12)}}


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(CORPORA))
def test_corpus_findings_match_their_snapshot(package: str, snapshot) -> None:
    try:
        installed = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{package} is not installed; the snapshot is of {package} {CORPORA[package]}")
    if installed != CORPORA[package]:
        pytest.skip(f"{package} {installed} is installed; the snapshot is of {CORPORA[package]}")
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations
    directory = Path(list(spec.submodule_search_locations)[0])
    completed = run_cli("--output-format", "json", "--no-cache", "--isolated", str(directory))
    unchecked = sorted(line.split(": error: ")[0] for line in completed.stderr.splitlines() if ": error: " in line)
    expected = sorted(path for path, version in NEWER_SYNTAX.get(package, {}).items() if sys.version_info < version)
    assert len(unchecked) == len(expected), completed.stderr
    assert all(path.replace("\\", "/").endswith(name) for path, name in zip(unchecked, expected)), completed.stderr
    assert completed.returncode in ((2,) if expected else (0, 1)), completed.stderr
    records = json.loads(completed.stdout)
    assert render(records, directory.parent) == snapshot(extension_class=TextSnapshot)
