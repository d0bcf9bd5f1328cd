"""The GitHub Action (`action.yml`): its required keys, and its steps run as GitHub runs them (bash, the inputs
substituted into their environment, GITHUB_ACTION_PATH at a checkout of the action's ref, a job summary and an output
file per step), on their own and as the README's workflow uses them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import readme
from cli_helpers import FIXTURES, ROOT

ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")


def action() -> dict:
    return yaml.safe_load(ACTION.read_text())


def test_the_action_has_its_required_keys():
    data = action()
    assert data["name"] and data["description"]
    assert data["runs"]["using"] == "composite"
    steps = data["runs"]["steps"]
    assert steps and all(step.get("shell") == "bash" for step in steps if "run" in step), "every run step names its shell"
    for name, spec in data["inputs"].items():
        assert spec["description"] and "default" in spec, name
    ids = {step.get("id") for step in steps}
    for name, spec in data["outputs"].items():
        assert re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.[\w-]+ \}\}", spec["value"]).group(1) in ids, name
    for step in steps:
        assert "${{" not in step.get("run", ""), "inputs reach scripts through env, never pasted into the script"
        for value in step.get("env", {}).values():
            assert EXPRESSION.fullmatch(value), value


def run_action(inputs: dict[str, str], workspace: Path, runner: Path, action_path: Path) -> tuple[int, str, list[str], dict]:
    """Run the action's steps in order as GitHub does; returns the exit status of the last step run, the standard
    output of all steps, each step's job-summary text, and the outputs it set."""
    data = action()
    given = {name: str(spec.get("default", "")) for name, spec in data["inputs"].items()}
    unknown = set(inputs) - set(given)
    assert not unknown, f"the action has no inputs {unknown}"
    given.update(inputs)
    output_file = runner / "github_output"
    output_file.write_text("")
    stdout, summaries = "", []
    status = 0
    for number, step in enumerate(data["runs"]["steps"]):
        summary = runner / f"step_summary_{number}"
        summary.write_text("")
        env = dict(os.environ, GITHUB_ACTION_PATH=str(action_path), RUNNER_TEMP=str(runner), GITHUB_STEP_SUMMARY=str(summary),
                   GITHUB_OUTPUT=str(output_file), GITHUB_ACTIONS="true", CI="true")
        env.update({key: EXPRESSION.sub(lambda match: given[match.group(1)], value) for key, value in step.get("env", {}).items()})
        script = runner / f"step_{number}.sh"
        script.write_text(step["run"])
        completed = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace, env=env,
                                   capture_output=True, text=True, timeout=900)
        stdout += completed.stdout
        summaries.append(summary.read_text())
        status = completed.returncode
        if status != 0:
            assert number == len(data["runs"]["steps"]) - 1, completed.stderr[-3000:]
            break
    outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
    return status, stdout, summaries, outputs


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> Path:
    """RUNNER_TEMP, shared by the runs below (as a job's steps share it)."""
    return tmp_path_factory.mktemp("runner-temp")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A repository with more findings than GitHub shows annotations per level (10), a notebook among them."""
    shutil.copytree(FIXTURES / "FRZ101", tmp_path / "src")
    shutil.copytree(FIXTURES / "FRZ104", tmp_path / "more")
    shutil.copy(FIXTURES / "notebooks" / "no_op_freezes.ipynb", tmp_path / "explore.ipynb")
    return tmp_path


@pytest.mark.slow
def test_the_action_annotates_summarises_every_finding_and_writes_sarif(tagged_clone, runner, workspace):
    clone, _ = tagged_clone
    status, stdout, summaries, outputs = run_action({"paths": "src more explore.ipynb", "sarif-file": "out/freezelint.sarif"},
                                                    workspace, runner, clone)
    assert status == 1, "findings at the fail level fail the step"
    annotations = [line for line in stdout.splitlines() if line.startswith("::")]
    errors = [line for line in annotations if line.startswith("::error ")]
    assert len(errors) > 10, "more than GitHub shows per step: the summary must keep them all"
    summary = summaries[-1]
    rows = [line for line in summary.splitlines() if line.startswith("| `")]
    assert len(rows) == len(annotations)
    assert "| `explore.ipynb:cell 3:1:1` | [FRZ101]" in summary and summary.splitlines()[2].startswith("Found ")
    sarif = json.loads((workspace / "out" / "freezelint.sarif").read_text())
    assert len(sarif["runs"][0]["results"]) == len(annotations)
    assert outputs["sarif-file"] == "out/freezelint.sarif"
    # Options reach freezelint: selecting one rule changes what it reports; no SARIF file unless asked.
    status, stdout, _, outputs = run_action({"paths": "src", "args": "--select FRZ104"}, workspace, runner, clone)
    assert status == 0 and "::" not in stdout and outputs["sarif-file"] == ""


@pytest.mark.slow
def test_the_readmes_workflow_runs_the_action(tagged_clone, runner, workspace):
    clone, tag = tagged_clone
    workflow = yaml.safe_load(readme.block("github-workflow"))
    (job,) = workflow["jobs"].values()
    assert job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    uses = [step["uses"] for step in steps]
    assert uses[0].startswith("actions/checkout@")
    (ours,) = [step for step in steps if step["uses"].split("@")[0] == readme.REPOSITORY.removeprefix("https://github.com/")]
    assert ours["uses"].endswith(f"@{tag}")
    status, stdout, summaries, _ = run_action(ours.get("with", {}), workspace, runner, clone)
    assert status == 1 and "::error title=FRZ101" in stdout and summaries[-1].startswith("## freezelint")
    upload = next(step for step in steps if step["uses"].startswith("github/codeql-action/upload-sarif@"))
    assert upload["if"] == "${{ !cancelled() }}", "the findings are uploaded even when the check failed the job"
    sarif = json.loads((workspace / upload["with"]["sarif_file"]).read_text())
    assert sarif["runs"][0]["results"]
