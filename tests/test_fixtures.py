"""Every fixture produces exactly the findings its `# expect:` comments name, through the real CLI.

Notebook fixtures (`*.ipynb`) carry the comments in their cells; their findings are keyed by cell and cell row."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from cli_helpers import FIXTURES, run_json

EXPECT = re.compile(r"#\s*expect:\s*([A-Z0-9, ]+)")


def _sources(path: Path) -> list[tuple[int | None, str]]:
    """(cell number or None, text) of a fixture: the file, or each cell of a notebook (counted from 1)."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return [(number, "".join(cell["source"])) for number, cell in enumerate(cells, start=1)]
    return [(None, path.read_text(encoding="utf-8"))]


def expected_findings() -> Counter:
    expected: Counter = Counter()
    for path in sorted([*FIXTURES.rglob("*.py"), *FIXTURES.rglob("*.ipynb")]):
        for cell, text in _sources(path):
            for row, line in enumerate(text.splitlines(), start=1):
                match = EXPECT.search(line)
                if match:
                    for code in match.group(1).replace(" ", "").split(","):
                        if code:
                            expected[(str(path.relative_to(FIXTURES)), cell, row, code)] += 1
    return expected


def test_fixtures_produce_exactly_the_expected_findings():
    findings = run_json(str(FIXTURES))
    actual = Counter(
        (str(Path(f["filename"]).relative_to(FIXTURES)), f["cell"], f["location"]["row"], f["code"]) for f in findings
    )
    expected = expected_findings()
    missing = sorted(expected - actual)
    extra = sorted(actual - expected)
    assert not missing and not extra, f"missing: {missing}\nextra: {extra}"


def test_fixture_set_covers_every_rule_and_the_article():
    from freezelint.rules import all_rules

    expected_codes = {code for (_, _, _, code) in expected_findings()}
    static_codes = {rule.code for rule in all_rules() if not rule.runtime_only}
    assert static_codes <= expected_codes, f"rules without a positive fixture: {sorted(static_codes - expected_codes)}"
    articles = sorted(p.name for p in (FIXTURES / "article").glob("*.py"))
    assert len(articles) == 3


def test_article_examples_lint_clean():
    assert run_json(str(FIXTURES / "article")) == []
