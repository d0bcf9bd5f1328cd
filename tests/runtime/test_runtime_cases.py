"""Each case under `cases/` gets exactly the runtime results its `# expect-runtime:` comments name: findings found at
runtime (`FRZ107`) and the status of each static finding (`FRZ201 confirmed`). Checkpoints are tiny configs."""

from __future__ import annotations

from pathlib import Path

import pytest
from runtime_support import CASES, expectations, replay_file, script_args, tiny  # noqa: F401 - fixture

CASE_FILES = sorted(CASES.glob("*.py"))


@pytest.mark.parametrize("case", CASE_FILES, ids=[path.stem for path in CASE_FILES])
def test_case_gets_exactly_the_expected_runtime_results(case: Path, tiny: dict[str, str]) -> None:
    static, result = replay_file(case, tiny, script_args(case))
    assert "error" not in result, result
    actual = {(f.start.row, f.code, v["status"]) for f, v in zip(static, result["verdicts"])}
    actual |= {(item["row"], item["code"], "found") for item in result["found"]}
    assert actual == expectations(case), result


def test_every_runtime_only_rule_has_a_positive_and_a_negative_case() -> None:
    from freezelint.rules import all_rules

    for rule in all_rules():
        if not rule.runtime_only:
            continue
        cases = [path for path in CASE_FILES if path.stem.startswith(rule.code.lower())]
        positive = [path for path in cases if any(code == rule.code for _, code, _ in expectations(path))]
        assert positive, f"{rule.code} has no positive case"
        assert any("negative" in path.stem for path in cases), f"{rule.code} has no negative case"
