"""Rule documentation has one source, the rule modules: `freezelint rule(s)`, the README table and docs/rules/ agree."""

from __future__ import annotations

import importlib.util
import json

from cli_helpers import ROOT, run_cli

from freezelint.docs import GENERATE, REQUIRED_SECTIONS
from freezelint.rules import all_rules

spec = importlib.util.spec_from_file_location("generate_rule_docs", ROOT / "scripts" / "generate_rule_docs.py")
generator = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generator)


def test_readme_table_and_docs_pages_match_the_rule_modules():
    problems = generator.differences()
    assert not problems, "\n".join(problems) + f"\nThe rule docs are generated: run `{GENERATE}` and commit the result."


def test_every_rule_documents_the_required_sections():
    for rule in all_rules():
        missing = [section for section in REQUIRED_SECTIONS if section not in rule.doc]
        assert not missing, f"{rule.code} ({rule.check.__module__}) docstring lacks {missing}"
        assert "Use instead" in rule.doc, f"{rule.code} docstring lacks a 'Use instead:' example"


def test_rule_and_rules_commands_in_text_and_json():
    rules = all_rules()
    listing = run_cli("rules").stdout.splitlines()
    assert [line.split()[0] for line in listing] == [rule.code for rule in rules]
    records = json.loads(run_cli("rules", "--output-format", "json").stdout)
    assert [record["code"] for record in records] == [rule.code for rule in rules]
    for record, rule in zip(records, rules):
        assert record["explanation"] == rule.doc and record["level"] == str(rule.level) and record["url"] == rule.url
        page = ROOT / "docs" / "rules" / f"{rule.code}.md"
        assert rule.url.endswith(f"/docs/rules/{rule.code}.md") and page.exists()
    one = json.loads(run_cli("rule", rules[0].code, "--output-format", "json").stdout)
    assert one == records[0]
    text = run_cli("rule", rules[0].code.lower()).stdout
    assert text.startswith(f"# {rules[0].code} {rules[0].name} (") and rules[0].doc in text
