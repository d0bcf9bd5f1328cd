"""The strength of each finding's evidence travels with it (JSON field, SARIF rank and property), and CI can gate on
traced findings alone (`--evidence traced`, `evidence = "traced"`)."""

from __future__ import annotations

import json

from cli_helpers import FIXTURES, run_cli

NAME_ONLY = FIXTURES / "FRZ113" / "distiller_class_in_a_module.py"  # the optimizer comes from code it cannot see
TRACED = FIXTURES / "FRZ113" / "distillation_teacher_in_eval.py"


def _findings(*args: str) -> list[dict]:
    completed = run_cli("--output-format", "json", "--no-cache", *args)
    assert completed.returncode in (0, 1), completed.stderr
    return json.loads(completed.stdout)


def test_json_says_the_evidence_of_each_finding() -> None:
    assert {f["evidence"] for f in _findings(str(NAME_ONLY))} == {"name"}
    assert {f["evidence"] for f in _findings(str(TRACED)) if f["code"] == "FRZ113"} == {"traced"}


def test_evidence_traced_leaves_out_what_rests_on_a_name_and_its_exit_status() -> None:
    completed = run_cli("--no-cache", "--evidence", "traced", str(NAME_ONLY), str(TRACED), "--output-format", "concise")
    assert "distiller_class_in_a_module.py" not in completed.stdout
    assert "distillation_teacher_in_eval.py:9:1: FRZ113" in completed.stdout
    alone = run_cli("--no-cache", "--evidence", "traced", str(NAME_ONLY))
    assert alone.returncode == 0, alone.stdout
    assert run_cli("--no-cache", str(NAME_ONLY)).returncode == 1


def test_the_configuration_sets_it_and_a_wrong_value_is_one_line(tmp_path) -> None:
    (tmp_path / "train.py").write_bytes(NAME_ONLY.read_bytes())
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nevidence = "traced"\n')
    assert run_cli("--no-cache", ".", cwd=tmp_path).returncode == 0
    (tmp_path / "pyproject.toml").write_text('[tool.freezelint]\nevidence = "strong"\n')
    broken = run_cli("--no-cache", ".", cwd=tmp_path)
    assert broken.returncode == 2 and "'evidence' must be one of 'any', 'traced'" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1


def test_sarif_ranks_traced_findings_above_those_on_a_name() -> None:
    completed = run_cli("--no-cache", "--output-format", "sarif", str(NAME_ONLY), str(TRACED))
    results = json.loads(completed.stdout)["runs"][0]["results"]
    ranks = {r["properties"]["evidence"]: r["rank"] for r in results if r["ruleId"] == "FRZ113"}
    assert ranks["traced"] > ranks["name"]
