"""Discovery respects ignore files as git does: a tree of tricky cases is compared with git itself (`git ls-files
--others --exclude-standard` and `git check-ignore`), and the command line shows it as a user meets it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cli_helpers import FIXTURES, run_cli

from freezelint.files import discover

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git as the oracle")

ROOT_GITIGNORE = r"""
# comment.py is a comment, not a pattern
gen/
build/
!build/keep.py
out/*
!out/keep.py
/top.py
*_tmp.py
docs/**/gen_*.py
\#hash.py
trailing.py   
\!bang.py
**/cache/
nested/deep/*.py
!nested/deep/wanted.py
data
*.ipynb
!keep.ipynb
"""
SUB_GITIGNORE = "!keep_tmp.py\n/anchored.py\nlocal/\n"
DEEPER_GITIGNORE = "!*.py\n"

FILES = [
    "plain.py", "comment.py", "gen/a.py", "sub/gen/z.py", "build/keep.py", "build/x.py", "out/keep.py", "out/x.py",
    "top.py", "sub/top.py", "x_tmp.py", "sub/keep_tmp.py", "sub/other_tmp.py", "docs/a/b/gen_x.py", "docs/gen_y.py",
    "docs/keep.py", "#hash.py", "trailing.py", "!bang.py", "a/cache/c.py", "cache.py", "nested/deep/x.py",
    "nested/deep/wanted.py", "nested/deep/more/m.py", "data/d.py", "nb.ipynb", "keep.ipynb", "sub/anchored.py",
    "sub/x/anchored.py", "sub/local/l.py", "sub/deeper/y_tmp.py", "exclude_only.py", "global_only.py",
    "sub/ünïcode.py",
]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch) -> Path:
    """A git repository with every tricky case, and a global excludes file set in a private git configuration."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "global_ignore").write_text("global_only.py\n")
    (home / "gitconfig").write_text("[user]\n\tname = t\n[core]\n\texcludesFile = ~/global_ignore\n")
    for name, value in (("HOME", home), ("GIT_CONFIG_GLOBAL", home / "gitconfig"), ("XDG_CONFIG_HOME", home / ".config")):
        monkeypatch.setenv(name, str(value))
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / ".gitignore").write_text(ROOT_GITIGNORE.lstrip("\n"))
    (repo / "sub").mkdir()
    (repo / "sub" / ".gitignore").write_text(SUB_GITIGNORE)
    (repo / "sub" / "deeper").mkdir()
    (repo / "sub" / "deeper" / ".gitignore").write_text(DEEPER_GITIGNORE)
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("exclude_only.py\n")
    for name in FILES:
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n" if name.endswith(".ipynb") else "x = 1\n")
    return repo


def git_lines(repo: Path, *args: str, stdin: str | None = None) -> set[str]:
    completed = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, text=True)
    assert completed.returncode in (0, 1), completed.stderr
    return {line for line in completed.stdout.split("\0") if line}


def test_the_tricky_tree_agrees_with_git(tree, monkeypatch):
    kept = {name for name in git_lines(tree, "ls-files", "-z", "--others", "--exclude-standard") if name.endswith((".py", ".ipynb"))}
    ignored = git_lines(tree, "check-ignore", "-z", "--no-index", "--stdin", stdin="\0".join(FILES) + "\0")
    assert kept == set(FILES) - ignored, "git's two answers agree"
    assert {"plain.py", "out/keep.py", "sub/keep_tmp.py", "nested/deep/wanted.py", "sub/deeper/y_tmp.py"} <= kept
    assert {"build/keep.py", "gen/a.py", "global_only.py", "exclude_only.py"} <= ignored

    monkeypatch.chdir(tree)
    found = {os.path.relpath(path, ".") for path in discover(["."], ()).files}
    assert found == kept
    # Named explicitly, each path is checked anyway; with --force-exclude exactly git's ignored ones are left out.
    forced = {os.path.relpath(path, ".") for path in discover(FILES, (), force_exclude=True).files}
    assert forced == kept
    assert {os.path.relpath(path, ".") for path in discover(FILES, ()).files} == set(FILES)


def test_the_walk_starting_below_the_root_reads_the_ignore_files_above(tree, monkeypatch):
    monkeypatch.chdir(tree / "sub")
    found = {os.path.relpath(path, ".") for path in discover(["."], ()).files}
    assert found == {"top.py", "keep_tmp.py", "x/anchored.py", "deeper/y_tmp.py", "ünïcode.py"}


def test_respect_gitignore_off_lints_everything(tree, monkeypatch):
    monkeypatch.chdir(tree)
    found = {os.path.relpath(path, ".") for path in discover(["."], (), respect_gitignore=False).files}
    assert found == set(FILES)


def test_dot_ignore_applies_outside_a_repository_and_gitignore_does_not(tmp_path, monkeypatch):
    (tmp_path / ".gitignore").write_text("a.py\n")
    (tmp_path / ".ignore").write_text("b.py\n")
    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / name).write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    assert sorted(os.path.relpath(p) for p in discover(["."], ()).files) == ["a.py", "c.py"]


def test_dot_ignore_wins_over_gitignore_in_the_same_directory(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("*.py\n")
    (tmp_path / ".ignore").write_text("!keep.py\n")
    for name in ("keep.py", "drop.py"):
        (tmp_path / name).write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    assert [os.path.relpath(p) for p in discover(["."], ()).files] == ["keep.py"]


BUGGY = (FIXTURES / "FRZ101" / "bert_attribute.py").read_text()


def test_an_ignored_folder_is_not_linted_unless_asked(tmp_path):
    """The issue's case: a fresh git repository whose .gitignore lists the folder holding a buggy file."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("outputs/\n")
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "train_copy.py").write_text(BUGGY)
    (tmp_path / "train.py").write_text("print('clean')\n")
    default = run_cli(".", "--no-cache", cwd=tmp_path)
    assert default.returncode == 0 and default.stdout == "No problems found (1 file checked).\n"
    everything = run_cli("--no-respect-gitignore", ".", "--no-cache", cwd=tmp_path)
    assert everything.returncode == 1 and "outputs/train_copy.py:5:1: FRZ101" in everything.stdout
    named = run_cli("outputs/train_copy.py", "--no-cache", cwd=tmp_path)
    assert named.returncode == 1, "a file named on the command line is checked"
    forced = run_cli("outputs/train_copy.py", "--force-exclude", "--no-cache", cwd=tmp_path)
    assert forced.returncode == 0 and "FRZ101" not in forced.stdout and forced.stderr == ""
    # A directory named on the command line is linted whole, whatever pattern ignores it (as with excludes).
    (tmp_path / ".gitignore").write_text("outputs/\nexperiments/old/\n")
    (tmp_path / "experiments" / "old").mkdir(parents=True)
    (tmp_path / "experiments" / "old" / "run.py").write_text(BUGGY)
    assert "experiments" not in run_cli(".", "--no-cache", cwd=tmp_path).stdout
    for directory in ("outputs", "experiments/old", "experiments"):
        named_directory = run_cli(directory, "--no-cache", "--output-format", "concise", cwd=tmp_path)
        assert named_directory.returncode == (0 if directory == "experiments" else 1), (directory, named_directory.stdout)
    (tmp_path / "pyproject.toml").write_text("[tool.freezelint]\nrespect-gitignore = false\n")
    configured = run_cli(".", "--no-cache", cwd=tmp_path)
    assert configured.returncode == 1 and "outputs/train_copy.py" in configured.stdout and "experiments/old/run.py" in configured.stdout
    assert run_cli(".", "--respect-gitignore", "--no-cache", cwd=tmp_path).returncode == 0, "the flag wins"


def test_include_extend_include_and_leaving_notebooks_out(tmp_path):
    shutil.copy(FIXTURES / "notebooks" / "no_op_freezes.ipynb", tmp_path / "explore.ipynb")
    (tmp_path / "job.pyw").write_text(BUGGY)
    (tmp_path / "train.py").write_text(BUGGY)
    default = run_cli(".", "--no-cache", "--output-format", "concise", cwd=tmp_path)
    assert "explore.ipynb" in default.stdout and "train.py" in default.stdout and "job.pyw" not in default.stdout
    no_notebooks = run_cli(".", "--no-cache", "--extend-exclude", "*.ipynb", "--output-format", "concise", cwd=tmp_path)
    assert "explore.ipynb" not in no_notebooks.stdout and "train.py" in no_notebooks.stdout
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nextend-include = ["*.pyw"]\n')
    extended = run_cli(".", "--no-cache", "--output-format", "concise", cwd=tmp_path)
    assert "job.pyw:5:1: FRZ101" in extended.stdout and "explore.ipynb" in extended.stdout
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\ninclude = ["*.pyw"]\n')
    only = run_cli(".", "--no-cache", "--output-format", "concise", cwd=tmp_path)
    assert "job.pyw" in only.stdout and "train.py" not in only.stdout and "explore.ipynb" not in only.stdout
