#!/usr/bin/env python3
"""Precision and recall of freezelint on the hand-labelled real-code corpus (benchmarks/real-code), per rule and per
family of mistakes.

    python benchmarks/accuracy.py                 # the table, and every finding that matches no label
    python benchmarks/accuracy.py --readme        # also write the table into README.md between its markers
    python benchmarks/accuracy.py --json out.json # everything, for tools

Each repository folder is linted as its own project (its settings and requirements are read, as a user's would be).
A finding is right when a label of the same rule names its file and its line (or one of the label's `alt_lines`);
a label no finding matches is missed. Notebook rows are rows of the code cells joined in order, as freezelint
counts them. Labels were written by reading each file before freezelint was run on it (benchmarks/real-code/README.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = HERE / "real-code"
sys.path.insert(0, str(REPO))

from freezelint.config import load_settings  # noqa: E402
from freezelint.findings import Finding, Level  # noqa: E402
from freezelint.rules import all_rules  # noqa: E402
from freezelint.runner import lint_file  # noqa: E402

# Families of mistakes, as the issue that asked for this corpus names them.
FAMILIES = {
    "no-op freezes": ("FRZ101", "FRZ102", "FRZ103", "FRZ104", "FRZ105"),
    "name filters": ("FRZ107", "FRZ108"),
    "optimizer and unfreeze order": ("FRZ109", "FRZ110", "FRZ202", "FRZ203", "FRZ204", "FRZ205", "FRZ206"),
    "nothing left to train, intent not applied": ("FRZ301", "FRZ303", "FRZ304"),
    "PEFT order": ("FRZ401", "FRZ402", "FRZ403", "FRZ404"),
    "checkpointing with frozen inputs": ("FRZ501", "FRZ502"),
    "training mode (BatchNorm, eval)": ("FRZ106", "FRZ113", "FRZ503"),
    "distributed and compiled": ("FRZ504", "FRZ505", "FRZ506", "FRZ507", "FRZ508"),
    "library versions": ("FRZ111", "FRZ112"),
    "notes": ("FRZ201", "FRZ302"),
}
TABLE_START, TABLE_END = "<!-- accuracy:table -->", "<!-- /accuracy:table -->"


@dataclass(frozen=True)
class Label:
    path: Path
    rule: str
    lines: frozenset[int]
    note: str


@dataclass
class Score:
    right: int = 0
    wrong: int = 0
    missed: int = 0

    @property
    def precision(self) -> float | None:
        return self.right / (self.right + self.wrong) if self.right + self.wrong else None

    @property
    def recall(self) -> float | None:
        return self.right / (self.right + self.missed) if self.right + self.missed else None


@dataclass
class Outcome:
    scores: dict[str, Score] = field(default_factory=dict)
    wrong: list[Finding] = field(default_factory=list)
    missed: list[Label] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    files: int = 0
    repositories: int = 0

    def score(self, code: str) -> Score:
        return self.scores.setdefault(code, Score())


def manifests() -> list[tuple[Path, dict]]:
    return [(path.parent, tomllib.loads(path.read_text(encoding="utf-8"))) for path in sorted(CORPUS.glob("*/manifest.toml"))]


def labels_of(folder: Path, entry: dict) -> list[Label]:
    return [
        Label(folder / entry["path"], label["rule"], frozenset([label["line"], *label.get("alt_lines", [])]), label.get("note", ""))
        for label in entry.get("labels", [])
    ]


def lint_repository(folder: Path, entries: list[dict]) -> dict[Path, list[Finding] | str]:
    """Each stored file's findings (or its one-line error), linted as the repository's own project would be."""
    settings = load_settings(str(folder))
    rules = settings.rules()
    results: dict[Path, list[Finding] | str] = {}
    for entry in entries:
        path = folder / entry["path"]
        result = lint_file(str(path), rules, settings)
        results[path] = f"{result.error.message}" if result.error is not None else result.findings
    return results


def measure() -> tuple[Outcome, dict[Path, list[Finding] | str]]:
    outcome = Outcome()
    every: dict[Path, list[Finding] | str] = {}
    for folder, manifest in manifests():
        entries = manifest.get("files", [])
        outcome.repositories += 1
        outcome.files += len(entries)
        results = lint_repository(folder, entries)
        every.update(results)
        for entry in entries:
            path = folder / entry["path"]
            found = results[path]
            if isinstance(found, str):
                outcome.errors.append(f"{path.relative_to(CORPUS)}: {found}")
                found = []
            _match(outcome, labels_of(folder, entry), found)
    return outcome, every


def _match(outcome: Outcome, labels: list[Label], findings: list[Finding]) -> None:
    unmatched = list(labels)
    for finding in findings:
        label = next((lab for lab in unmatched if lab.rule == finding.code and finding.start.row in lab.lines), None)
        if label is not None:
            unmatched.remove(label)
            outcome.score(finding.code).right += 1
        elif any(lab.rule == finding.code and finding.start.row in lab.lines for lab in labels):
            continue  # a second report of a bug already counted (a helper called twice)
        else:
            outcome.score(finding.code).wrong += 1
            outcome.wrong.append(finding)
    for label in unmatched:
        outcome.score(label.rule).missed += 1
        outcome.missed.append(label)


def total(outcome: Outcome, codes: tuple[str, ...] | list[str]) -> Score:
    result = Score()
    for code in codes:
        score = outcome.scores.get(code, Score())
        result.right += score.right
        result.wrong += score.wrong
        result.missed += score.missed
    return result


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(outcome: Outcome) -> str:
    levels = {rule.code: rule.level for rule in all_rules()}
    serious = [code for code, level in levels.items() if level >= Level.WARNING]
    lines = [
        f"Measured on {outcome.files} files from {outcome.repositories} repositories (benchmarks/real-code), "
        "by `python benchmarks/accuracy.py`.",
        "",
        "| rules | right | wrong | missed | precision | recall |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def row(name: str, score: Score) -> str:
        return f"| {name} | {score.right} | {score.wrong} | {score.missed} | {_ratio(score.precision)} | {_ratio(score.recall)} |"

    lines.append(row("**errors and warnings, all rules**", total(outcome, serious)))
    for family, codes in FAMILIES.items():
        lines.append(row(f"{family} ({', '.join(codes)})", total(outcome, codes)))
    lines += ["", "| rule | level | right | wrong | missed | precision | recall |", "|---|---|---:|---:|---:|---:|---:|"]
    for code in sorted(outcome.scores):
        score = outcome.scores[code]
        level = str(levels[code]) if code in levels else "(no rule yet)"
        lines.append(f"| {code} | {level} | {score.right} | {score.wrong} | {score.missed} | {_ratio(score.precision)} | {_ratio(score.recall)} |")
    return "\n".join(lines) + "\n"


def details(outcome: Outcome) -> str:
    lines = ["", "Findings that match no label:"]
    for finding in outcome.wrong:
        lines.append(f"  {Path(finding.path).relative_to(CORPUS)}:{finding.start.row} {finding.code} {finding.message[:160]}")
    lines += ["", "Labels no finding matches:"]
    for label in outcome.missed:
        lines.append(f"  {label.path.relative_to(CORPUS)}:{min(label.lines)} {label.rule} {label.note[:160]}")
    if outcome.errors:
        lines += ["", "Files that could not be checked:", *(f"  {error}" for error in outcome.errors)]
    return "\n".join(lines) + "\n"


def write_readme(text: str) -> None:
    readme = REPO / "README.md"
    content = readme.read_text(encoding="utf-8")
    start, end = content.index(TABLE_START) + len(TABLE_START), content.index(TABLE_END)
    readme.write_text(content[:start] + "\n" + text + content[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="write the table into README.md between its markers")
    parser.add_argument("--json", metavar="PATH", help="write every score, wrong finding and missed label as JSON")
    parser.add_argument("--quiet", action="store_true", help="the table only")
    options = parser.parse_args()
    outcome, _ = measure()
    text = table(outcome)
    print(text, end="")
    if not options.quiet:
        print(details(outcome), end="")
    if options.readme:
        write_readme(text)
    if options.json:
        data = {
            "scores": {code: vars(score) for code, score in sorted(outcome.scores.items())},
            "wrong": [{"path": f.path, "row": f.start.row, "code": f.code, "message": f.message} for f in outcome.wrong],
            "missed": [{"path": str(lab.path), "rule": lab.rule, "lines": sorted(lab.lines), "note": lab.note} for lab in outcome.missed],
            "errors": outcome.errors,
        }
        Path(options.json).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
