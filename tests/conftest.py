from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cli_helpers import ROOT
from figures import pytest_terminal_summary  # noqa: F401 - prints what the reliability tests tried


@pytest.fixture
def write(tmp_path: Path):
    """Write a file under tmp_path and return its path."""

    def writer(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    return writer



def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="session")
def tagged_clone(tmp_path_factory) -> tuple[Path, str]:
    """This checkout as it is now (uncommitted changes included) in a new git repository whose one commit carries the
    release tag the README's install lines name (`v` + the version), as a clone of a released repository would."""
    from freezelint import __version__

    clone = tmp_path_factory.mktemp("freezelint-clone")
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = clone / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    tag = f"v{__version__}"
    git("init", "-q", cwd=clone)
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A", cwd=clone)
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "release", cwd=clone)
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "tag", "-a", tag, "-m", f"freezelint {__version__}", cwd=clone)
    return clone, tag


# Modules whose tests take long (runtime replays, property and kill tests, real pre-commit, pip and Neovim): `pytest -m
# "not slow"` leaves them out for everyday work; `.ci/run` runs everything.
SLOW_MODULES = {
    "test_any_python.py", "test_fix_properties.py", "test_never_lose_data.py", "test_hostile_inputs.py",
    "test_mutated_files.py", "test_precommit.py", "test_editors.py",
}
# Single tests as long as a slow module: every fixture linted rule by rule with and without the pre-filter, runs
# racing on one cache.
SLOW_TESTS = {
    "test_findings_identical_with_and_without_the_prefilter_for_every_rule",
    "test_the_cli_reports_the_same_with_and_without_the_prefilter",
    "test_runs_sharing_the_cache_at_the_same_time_all_report_correctly",
}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if path.name in SLOW_MODULES or "runtime" in path.relative_to(ROOT).parts[:2] or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
