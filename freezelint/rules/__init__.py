"""The rule registry. Every rule is one module in this package, named by its code (`frz302_full_fine_tuning.py`):
its docstring is the rule's documentation, and one function decorated with `@rule` reads the facts and yields
`Report`s. `freezelint rule FRZ302`, the README table and the docs pages are all generated from these modules.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import libcst as cst

from freezelint.facts import Facts
from freezelint.findings import Applicability, Level


@dataclass(frozen=True)
class Replacement:
    """Replace one node of the tree with another node (or with code text)."""

    node: cst.CSTNode
    new: cst.CSTNode | str


@dataclass(frozen=True)
class FixProposal:
    applicability: Applicability
    message: str
    replacements: tuple[Replacement, ...]


@dataclass(frozen=True)
class Report:
    """What a rule says about one place in the file."""

    node: cst.CSTNode
    message: str
    fix: FixProposal | None = None


Check = Callable[[Facts], Iterable[Report]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    level: Level
    check: Check = field(repr=False)
    doc: str = field(repr=False)
    fix: Applicability | None = None  # the best fix it can offer, for the rule table
    tokens: tuple[str, ...] = ()  # the rule can only fire in files that contain one of these strings
    runtime_only: bool = False

    @property
    def summary(self) -> str:
        """The first sentence of the "What it does" section."""
        match = re.search(r"## What it does\s+(.+?)(?:\n\n|\n##|$)", self.doc, re.S)
        text = " ".join((match.group(1) if match else self.doc).split())
        return text.split(". ")[0].rstrip(".") + "."


_REGISTRY: dict[str, Rule] = {}
_CODE = re.compile(r"^FRZ\d{3}$")


def rule(
    code: str,
    name: str,
    level: Level,
    *,
    fix: Applicability | None = None,
    tokens: tuple[str, ...] = (),
    runtime_only: bool = False,
) -> Callable[[Check], Check]:
    """Register a rule; its docs are the docstring of the module that defines it."""
    if not _CODE.match(code):
        raise ValueError(f"rule code {code!r} is not FRZ followed by three digits")

    def register(check: Check) -> Check:
        doc = sys.modules[check.__module__].__doc__ or ""
        if code in _REGISTRY and _REGISTRY[code].check.__module__ != check.__module__:
            raise ValueError(f"rule code {code} registered twice")
        _REGISTRY[code] = Rule(code, name, level, check, doc.strip(), fix, tokens, runtime_only)
        return check

    return register


_loaded = False


def all_rules() -> list[Rule]:
    """Every rule, by code."""
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            if module.name.startswith("frz"):
                importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True
    return sorted(_REGISTRY.values(), key=lambda r: r.code)


def get_rule(code_or_name: str) -> Rule | None:
    for candidate in all_rules():
        if code_or_name.upper() == candidate.code or code_or_name == candidate.name:
            return candidate
    return None


def selects(
    code: str,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    extend_select: Iterable[str] = (),
) -> bool:
    """True when code prefixes (`FRZ1`, `FRZ302`, `ALL`) choose `code`, as ruff's `--select`/`--ignore` do: the longest
    matching prefix wins, so `--select FRZ1 --ignore FRZ108` keeps FRZ101 and drops FRZ108."""
    chosen = [*(list(select) if select is not None else ["ALL"]), *extend_select]

    def best(prefixes: Iterable[str]) -> int:
        """How specifically a list of selectors names `code` (-1: not at all; `ALL` is least specific)."""
        return max((0 if p.upper() == "ALL" else len(p) for p in prefixes if p.upper() == "ALL" or code.startswith(p.upper())), default=-1)

    selected = best(chosen)
    return selected >= 0 and selected > best(ignore)


def select_rules(
    select: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    extend_select: Iterable[str] = (),
) -> list[Rule]:
    """The static rules chosen by code prefixes (see `selects`); runtime-only rules run only in the runtime mode."""
    select = list(select) if select is not None else None
    ignore, extend_select = list(ignore), list(extend_select)
    return [r for r in all_rules() if not r.runtime_only and selects(r.code, select, ignore, extend_select)]


def validate_codes(codes: Iterable[str]) -> list[str]:
    """The selectors that match no rule (for a clear error on typos)."""
    known = [r.code for r in all_rules()]
    return [c for c in codes if c.upper() != "ALL" and not any(k.startswith(c.upper()) for k in known)]


def iter_reports(rules: list[Rule], facts: Facts) -> Iterator[tuple[Rule, Report]]:
    for selected in rules:
        for report in selected.check(facts):
            yield selected, report
