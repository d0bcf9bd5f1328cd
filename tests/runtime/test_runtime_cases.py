"""Each case under `cases/` gets exactly the runtime results its `# expect-runtime:` comments name: findings found at
runtime (`FRZ107`) and the status of each static finding (`FRZ201 confirmed`). Checkpoints are tiny configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runtime_support import CASES, expectations, replay_file, script_args, tiny  # noqa: F401 - fixture
from snapshots import TextSnapshot

CASE_FILES = sorted(CASES.glob("*.py"))


@pytest.mark.parametrize("case", CASE_FILES, ids=[path.stem for path in CASE_FILES])
def test_case_gets_exactly_the_expected_runtime_results(case: Path, tiny: dict[str, str], snapshot) -> None:
    static, result = replay_file(case, tiny, script_args(case))
    assert "error" not in result, result
    actual = {(f.start.row, f.code, v["status"]) for f, v in zip(static, result["verdicts"])}
    actual |= {(item["row"], item["code"], "found") for item in result["found"]}
    assert actual == expectations(case), result
    assert _reviewable(static, result, tiny) == snapshot(extension_class=TextSnapshot)


def _reviewable(static: list, result: dict, tiny: dict[str, str]) -> str:
    """The static findings with their runtime verdicts, what the replay found on its own, and the models it built, as
    text for a snapshot (without the replay's duration or the temporary directory of the tiny configs)."""
    lines = []
    for finding, verdict in zip(static, result["verdicts"]):
        lines.append(f"{finding.code} {finding.start.row}:{finding.start.column} {json.dumps(verdict, sort_keys=True)}")
    for item in result["found"]:
        lines.append(f"found {json.dumps(item, sort_keys=True)}")
    for model in result["models"]:
        lines.append(f"model {json.dumps(model, sort_keys=True)}")
    for key in ("blockers", "failures", "stopped", "mode", "statements"):
        lines.append(f"{key} {json.dumps(result.get(key), sort_keys=True)}")
    text = "\n".join(lines) + "\n"
    for name, path in tiny.items():
        text = text.replace(path, f"<tiny {name}>")
    return text


def test_every_runtime_only_rule_has_a_positive_and_a_negative_case() -> None:
    from freezelint.rules import all_rules

    for rule in all_rules():
        if not rule.runtime_only:
            continue
        cases = [path for path in CASE_FILES if path.stem.startswith(rule.code.lower())]
        positive = [path for path in cases if any(code == rule.code for _, code, _ in expectations(path))]
        assert positive, f"{rule.code} has no positive case"
        assert any("negative" in path.stem for path in cases), f"{rule.code} has no negative case"
