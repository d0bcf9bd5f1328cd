"""Generate the rule documentation from the rule modules: the README's rule table and `docs/rules/<CODE>.md`.

    python scripts/generate_rule_docs.py            # write README.md and docs/rules/ (stale pages are removed)
    python scripts/generate_rule_docs.py --check    # exit 1 and say what differs, writing nothing

The rule modules are the single source (their docstrings and `@rule(...)` metadata): after adding or changing a rule,
or merging branches that did, run this script. `tests/test_rule_docs.py` fails until the output is up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from freezelint.docs import readme_with_table, rule_page  # noqa: E402
from freezelint.rules import all_rules  # noqa: E402

DOCS = ROOT / "docs" / "rules"
README = ROOT / "README.md"


def expected() -> dict[Path, str]:
    """Every generated file and its content."""
    rules = all_rules()
    files = {DOCS / f"{rule.code}.md": rule_page(rule) for rule in rules}
    files[README] = readme_with_table(README.read_text(encoding="utf-8"), rules)
    return files


def stale() -> list[Path]:
    """Pages of rules that no longer exist."""
    wanted = expected()
    return sorted(page for page in DOCS.glob("FRZ*.md") if page not in wanted)


def differences() -> list[str]:
    """What is out of date, one line each (empty when everything matches)."""
    problems = []
    for path, content in expected().items():
        if not path.exists():
            problems.append(f"{path.relative_to(ROOT)} is missing")
        elif path.read_text(encoding="utf-8") != content:
            problems.append(f"{path.relative_to(ROOT)} is out of date")
    problems += [f"{page.relative_to(ROOT)} documents a rule that no longer exists" for page in stale()]
    return problems


def main() -> int:
    if "--check" in sys.argv[1:]:
        problems = differences()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run `python scripts/generate_rule_docs.py` to regenerate them", file=sys.stderr)
        return 1 if problems else 0
    DOCS.mkdir(parents=True, exist_ok=True)
    for path, content in expected().items():
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    for page in stale():
        page.unlink()
        print(f"removed {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
