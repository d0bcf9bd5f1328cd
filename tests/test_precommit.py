"""The real pre-commit client runs the hook from this checkout: a finding at the fail level fails, clean passes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import readme
from cli_helpers import FIXTURES, ROOT

pytest.importorskip("pre_commit")


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("project")
    git("init", "-q", cwd=repo)
    git("config", "user.email", "t@example.com", cwd=repo)
    git("config", "user.name", "t", cwd=repo)
    (repo / "bad.py").write_text((FIXTURES / "FRZ302" / "article_premise.py").read_text())
    (repo / "good.py").write_text((FIXTURES / "article" / "example3_requires_grad_method.py").read_text())
    (repo / "notes.txt").write_text("not python\n")
    premise = (FIXTURES / "FRZ302" / "article_premise.py").read_text()
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": premise.splitlines(True)}
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# notes"]}, cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (repo / "nb.ipynb").write_text(json.dumps(notebook, indent=1) + "\n")
    (repo / "legacy").mkdir()
    (repo / "legacy" / "old.py").write_text(premise)
    (repo / "pyproject.toml").write_text('[tool.freezelint]\nextend-exclude = ["legacy"]\n')
    git("add", ".", cwd=repo)
    return repo


def try_repo(project: Path, *files: str, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    pre_commit = [sys.executable, "-m", "pre_commit"]
    env = dict(os.environ, PRE_COMMIT_HOME=str(project.parent / "pre-commit-home"))
    command = [*pre_commit, "try-repo", str(ROOT), "freezelint", "--files", *files, "--verbose"]
    if args:
        # try-repo cannot pass args; a local config with the same hook id can.
        config = project / ".pre-commit-config.yaml"
        revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        config.write_text(
            f"repos:\n- repo: {ROOT}\n  rev: {revision}\n  hooks:\n  - id: freezelint\n    args: [{', '.join(args)}]\n"
        )
        command = [*pre_commit, "run", "freezelint", "--files", *files, "--verbose"]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_hook_passes_clean_files_and_fails_findings_at_the_fail_level(project):
    clean = try_repo(project, "good.py", "notes.txt")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    # FRZ302 is a note: below the default fail level, so the hook passes but shows it.
    noted = try_repo(project, "bad.py")
    assert noted.returncode == 0, noted.stdout + noted.stderr
    assert "FRZ302" in noted.stdout
    failing = try_repo(project, "bad.py", args=("--fail-on", "note"))
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "bad.py:4:1: FRZ302" in failing.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_hook_covers_notebooks_and_honours_excludes(project):
    # pre-commit names every staged file; the hook's --force-exclude keeps the configuration's excludes in force.
    completed = try_repo(project, "nb.ipynb", "legacy/old.py", args=("--fail-on", "note"))
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "nb.ipynb:cell 2:4:1: FRZ302" in completed.stdout
    assert "legacy" not in completed.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_readmes_snippet_runs_with_real_pre_commit(project, tagged_clone):
    """The README's configuration as a user pastes it, its `repo:` pointing at a clone that carries the release tag:
    pre-commit installs the hook at that tag and runs it on every file at once, in one process, so the output reads
    as one run (no summary line per batch)."""
    clone, tag = tagged_clone
    snippet = readme.block("pre-commit")
    assert f"repo: {readme.REPOSITORY}" in snippet and f"rev: {tag}" in snippet
    config = project / ".pre-commit-config.yaml"
    env = dict(os.environ, PRE_COMMIT_HOME=str(project.parent / "pre-commit-home-readme"))
    command = [sys.executable, "-m", "pre_commit", "run", "--all-files", "--verbose"]

    config.write_text(snippet.replace(readme.REPOSITORY, str(clone)))
    noted = subprocess.run(command, cwd=project, capture_output=True, text=True, env=env, timeout=900)
    assert noted.returncode == 0, noted.stdout + noted.stderr  # FRZ302 is a note, below the default fail level
    assert "bad.py:4:1: FRZ302" in noted.stdout and "nb.ipynb:cell 2:4:1: FRZ302" in noted.stdout
    assert "legacy" not in noted.stdout, "the configuration's excludes apply to the files pre-commit names"
    assert "Found " not in noted.stdout and "No problems" not in noted.stdout

    config.write_text(snippet.replace(readme.REPOSITORY, str(clone)).replace("# args:", "args:"))
    failing = subprocess.run(command, cwd=project, capture_output=True, text=True, env=env, timeout=900)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert failing.stdout.count(": FRZ302 [note]") == 2
    config.unlink()


def test_the_hook_runs_as_one_process_without_a_summary():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["require_serial"] is True and "--quiet" in hook["entry"].split() and "--force-exclude" in hook["entry"].split()
