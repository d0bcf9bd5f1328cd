"""Every fixture's whole output (codes, levels, places, messages, fix edits) against its reviewed snapshot.

One test per fixture file, so a failure names the file. The fixtures are linted once, through the real CLI, as a
user would; `# expect:` comments (tests/test_fixtures.py) say which codes belong where, the snapshots say everything
else. Update with `pytest tests/test_snapshots.py --snapshot-update` and review the diff before committing."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import FIXTURES, run_json
from snapshots import TextSnapshot, render

FIXTURE_FILES = sorted(path.relative_to(FIXTURES).as_posix() for pattern in ("*.py", "*.ipynb") for path in FIXTURES.rglob(pattern))


@pytest.fixture(scope="module")
def fixture_findings() -> dict[str, list[dict]]:
    """The JSON report of the whole fixture tree, by file relative to the tree."""
    by_file: dict[str, list[dict]] = {name: [] for name in FIXTURE_FILES}
    for record in run_json("--no-cache", str(FIXTURES)):
        by_file[Path(record["filename"]).relative_to(FIXTURES).as_posix()].append(record)
    return by_file


@pytest.mark.parametrize("name", FIXTURE_FILES, ids=[name.replace("/", "-") for name in FIXTURE_FILES])
def test_fixture_output_matches_its_snapshot(name: str, fixture_findings: dict[str, list[dict]], snapshot) -> None:
    assert render(fixture_findings[name], FIXTURES) == snapshot(extension_class=TextSnapshot)
