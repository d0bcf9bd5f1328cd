"""The README's commands work as written: every block marked `<!-- ci:block NAME -->` is run here (the test command
between the `ci:test-command` markers is `.ci/run`'s own, the pre-commit snippet runs in `test_precommit.py`, the
GitHub Action's workflow in `test_action.py`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import readme
from cli_helpers import FIXTURES, ROOT

BIN = Path(sys.executable).parent  # the test environment's `freezelint` and `python`

# Each marked block, and the test that runs it.
RUN_BY = {
    "setup": "test_setup_installs_and_lints_the_fixtures",
    "fast-tests": "test_the_fast_tier_leaves_out_the_slow_tests",
    "usage": "test_usage_commands",
    "fixes": "test_fix_commands",
    "runtime": "test_runtime_commands",
    "server": "test_server_install",
    "pre-commit": "test_precommit.py::test_the_readmes_snippet_runs_with_real_pre_commit",
    "github-workflow": "test_action.py::test_the_readmes_workflow_runs_the_action",
    "gitlab-job": "test_gitlab_job_runs_its_script",
}


def test_every_marked_block_is_run_by_a_test():
    assert set(readme.blocks()) == set(RUN_BY)
    here = Path(__file__).read_text()
    for name, test in RUN_BY.items():
        module, _, function = test.rpartition("::")
        text = (Path(__file__).parent / module).read_text() if module else here
        assert f"def {function}(" in text, f"README block {name!r}: no test {test}"


def test_every_shell_command_block_is_marked_or_is_the_test_command():
    text = readme.README.read_text()
    for match in re.finditer(r"(?P<before>[^\n]*)\n```sh\n", text):
        assert match["before"].startswith(("<!-- ci:block ", "<!-- ci:test-command")), f"an unmarked shell block after {match['before']!r}"


def shell(command: str, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, NO_COLOR="1", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", FREEZELINT_NO_CACHE="1")
    full_env.update(env or {})
    return subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project with the paths the README's examples name: train.py (with safe and unsafe fixes), src/,
    notebooks/."""
    shutil.copy(FIXTURES / "FRZ101" / "helper_loop_over_children.py", tmp_path / "train.py")
    shutil.copytree(FIXTURES / "FRZ201", tmp_path / "src")
    shutil.copytree(FIXTURES / "notebooks", tmp_path / "notebooks")
    return tmp_path


def test_usage_commands(project):
    for command in readme.commands("usage"):
        completed = shell(command, project)
        assert completed.returncode in (0, 1), (command, completed.stderr)
        assert "error:" not in completed.stderr and completed.stdout.rstrip().splitlines()[-1].startswith(("Found ", "No problems")), command


def test_fix_commands(project):
    before = (project / "train.py").read_text()
    diff, fix, unsafe = readme.commands("fixes")
    shown = shell(diff, project)
    assert shown.returncode == 1 and shown.stdout.startswith("--- ") and (project / "train.py").read_text() == before
    assert shell(fix, project).returncode in (0, 1)
    assert (project / "train.py").read_text() != before
    assert shell(unsafe, project).returncode in (0, 1)


@pytest.mark.slow
def test_setup_installs_and_lints_the_fixtures(tagged_clone):
    """The README's first command, in a fresh copy of the checkout: a new venv, pip install, lint the fixtures."""
    clone, _ = tagged_clone
    (command,) = readme.commands("setup")
    completed = shell(command, clone, env={"PATH": os.environ["PATH"]}, timeout=900)
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert completed.stdout.rstrip().splitlines()[-1].startswith("Found ")


@pytest.mark.slow  # it collects the whole suite twice
def test_the_fast_tier_leaves_out_the_slow_tests():
    (command,) = readme.commands("fast-tests")
    assert command.startswith(".venv/bin/python -m pytest ")
    arguments = command.split(" ", 3)[3]
    fast = shell(f"{sys.executable} -m pytest {arguments} --collect-only -q -p no:cacheprovider -p no:xdist -p no:syrupy".replace(" -n auto", ""), ROOT)
    everything = shell(f"{sys.executable} -m pytest --collect-only -q -p no:cacheprovider -p no:syrupy", ROOT)  # no snapshot runs
    assert fast.returncode == 0 and everything.returncode == 0, fast.stdout[-2000:]

    def collected(output: str) -> set[str]:
        return {line for line in output.splitlines() if "::" in line}

    selected, every = collected(fast.stdout), collected(everything.stdout)
    assert selected and selected < every
    assert not any(item.startswith(("tests/runtime/", "tests/test_precommit.py")) for item in selected)


@pytest.fixture(scope="module")
def ci_machine(tmp_path_factory, tagged_clone) -> tuple[Path, dict]:
    """A fresh virtual environment standing in for a CI machine's Python, with `pip` and what it installs first on
    PATH, and the repository the README names replaced by the tagged clone."""
    venv = tmp_path_factory.mktemp("ci-machine") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    # A current pip, as CI images have (the one bundled with Python 3.11 rejects `git+file:///` direct references).
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-U", "pip"], check=True, capture_output=True, timeout=600)
    return venv, {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}


def local(command: str, clone: Path) -> str:
    assert readme.REPOSITORY in command or "freezelint" in command
    return command.replace(readme.REPOSITORY, clone.as_uri())


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A project to check: a file with an error-level finding and a notebook."""
    shutil.copy(FIXTURES / "FRZ101" / "whole_model.py", tmp_path / "train.py")
    shutil.copy(FIXTURES / "notebooks" / "no_op_freezes.ipynb", tmp_path / "explore.ipynb")
    return tmp_path


@pytest.mark.slow
def test_gitlab_job_runs_its_script(ci_machine, tagged_clone, repository):
    _, env = ci_machine
    clone, tag = tagged_clone
    job = yaml.safe_load(readme.block("gitlab-job"))["freezelint"]
    install, lint = job["script"]
    assert f"@{tag}" in install
    assert shell(local(install, clone), repository, env=env, timeout=900).returncode == 0
    linted = shell(lint, repository, env={**env, "CI_PROJECT_DIR": str(repository)})
    assert linted.returncode == 1 and "FRZ101" in linted.stdout
    report = json.loads((repository / job["artifacts"]["reports"]["codequality"]).read_text())
    assert {issue["location"]["path"] for issue in report} == {"train.py", "explore.ipynb"}
    assert job["artifacts"]["when"] == "always"


@pytest.mark.slow
def test_runtime_commands(ci_machine, tagged_clone, project):
    """The runtime mode's install line names the tagged repository and its `runtime` extra (installed here without
    its dependencies: torch is the test environment's own), and its commands run."""
    _, env = ci_machine
    clone, tag = tagged_clone
    install, *commands = readme.commands("runtime")
    assert install.startswith('pip install "freezelint[runtime] @ git+') and f"@{tag}" in install
    installed = shell(local(install, clone).replace("pip install", "pip install --no-deps"), project, env=env, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    extras = shell("python -c \"import importlib.metadata as m; print(m.metadata('freezelint').get_all('Provides-Extra'))\"", project, env=env)
    assert "'runtime'" in extras.stdout, extras.stdout + extras.stderr
    shutil.copy(FIXTURES / "FRZ101" / "bert_attribute.py", project / "train.py")  # a script the replay can build
    for command in commands:
        completed = shell(command, project, env={"HF_HUB_OFFLINE": "1"}, timeout=600)
        assert completed.returncode == 1, (command, completed.stderr[-3000:])
        assert "FRZ101 [error]" in completed.stdout and "[runtime: confirmed" in completed.stdout, completed.stdout[-3000:]


@pytest.mark.slow
def test_server_install(ci_machine, tagged_clone, project):
    """The language server's install line names the tagged repository with its `server` extra, and the command it
    installs starts."""
    _, env = ci_machine
    clone, tag = tagged_clone
    install, start = readme.commands("server")
    assert install.startswith('pip install "freezelint[server] @ git+') and f"@{tag}" in install
    installed = shell(local(install, clone), project, env=env, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    started = shell(start, project, env=env)
    assert started.returncode == 0 and "language server" in started.stdout, started.stdout + started.stderr
