"""The findings on the hand-labelled real-code corpus (benchmarks/real-code) against their reviewed snapshot, one
test per repository: every change in behaviour on real code shows up in review, the way ruff's ecosystem check
shows it. `benchmarks/accuracy.py` scores the same findings against the labels."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cli_helpers import ROOT
from snapshots import TextSnapshot, render_findings

sys.path.insert(0, str(ROOT / "benchmarks"))
import accuracy  # noqa: E402

REPOSITORIES = accuracy.manifests()


@pytest.mark.slow
@pytest.mark.parametrize("folder, manifest", REPOSITORIES, ids=[folder.name for folder, _ in REPOSITORIES])
def test_real_code_findings_match_their_snapshot(folder: Path, manifest: dict, snapshot) -> None:
    results = accuracy.lint_repository(folder, manifest.get("files", []))
    assert render_findings(results, accuracy.CORPUS) == snapshot(extension_class=TextSnapshot)


def test_every_stored_file_is_in_a_manifest_with_its_licence() -> None:
    """Nothing stored without a row that says where it came from; every row's file is there."""
    listed = set()
    for folder, manifest in REPOSITORIES:
        assert {"repository", "commit", "license", "license_file"} <= set(manifest), folder.name
        assert (folder / manifest["license_file"]).is_file(), folder.name
        for entry in manifest.get("files", []):
            assert (folder / entry["path"]).is_file(), f"{folder.name}: {entry['path']}"
            assert entry.get("buggy", False) == bool(entry.get("labels")), f"{folder.name}: {entry['path']}"
            listed.add(folder / entry["path"])
    reserved = {line.strip().lower() for line in (accuracy.CORPUS / "RESERVED").read_text().splitlines() if line.strip()}
    taken = {manifest["repository"].lower() for _, manifest in REPOSITORIES}
    assert not reserved & taken
    # Beside the labelled files, a repository may keep what says which versions it runs on (setup.py).
    stored = {p for p in accuracy.CORPUS.rglob("*") if p.suffix in (".py", ".ipynb") and p.name != "setup.py"}
    extra = sorted(str(p.relative_to(accuracy.CORPUS)) for p in stored - listed)
    assert not extra, f"stored but in no manifest: {extra}"


@pytest.mark.slow
def test_readme_accuracy_table_is_current() -> None:
    """The accuracy the README quotes is what the corpus measures now (`python benchmarks/accuracy.py --readme`)."""
    outcome, _ = accuracy.measure()
    readme = (ROOT / "README.md").read_text()
    quoted = readme.split(accuracy.TABLE_START, 1)[1].split(accuracy.TABLE_END, 1)[0].strip()
    assert quoted == accuracy.table(outcome).strip(), "run `python benchmarks/accuracy.py --readme`"
