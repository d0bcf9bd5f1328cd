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
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Union

from freezelint.findings import Applicability, Evidence, Level

if TYPE_CHECKING:  # the registry itself stays light: `freezelint --version` and cache hits never import libcst
    import ast

    import libcst as cst

    from freezelint.facts import Facts


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
class Message:
    """A finding's wording: a template with named fields (`"`{module}` is an nn.Module: ..."`), rendered in one place
    (`str(message)`), so that a rule's wording sits in its module's templates and the fields travel with the finding
    (to the editor, to the runtime verdict)."""

    template: str
    fields: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template.format_map(self.fields)


@dataclass(frozen=True)
class Report:
    """What a rule says about one place in the file."""

    node: cst.CSTNode
    message: Message
    fix: FixProposal | None = None
    level: Level | None = None  # this finding's own level, for rules whose severity depends on the target version
    evidence: Evidence = Evidence.TRACED  # NAME where a step rests on a name alone: at most a warning


Check = Callable[["Facts"], Iterable[Report]]
# A rule's `tokens`: strings, one of which the file's code must contain (`("requires_grad", "freeze")`), or groups of
# them, each of which must be satisfied (`(FREEZE_TOKENS, OPTIMIZER_TOKENS)`: a freeze and an optimizer).
Tokens = Union[tuple[str, ...], tuple[tuple[str, ...], ...]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    level: Level
    check: Check = field(repr=False)
    doc: str = field(repr=False)
    fix: Applicability | None = None  # the best fix it can offer, for the rule table
    # The rule can only fire in a file whose code (comments and docstrings aside) contains one of these strings, or
    # one string of every group. Files that satisfy no selected rule are not parsed (`freezelint.prefilter`), so the
    # tokens must be sound: `tests/test_prefilter.py` checks them on every fixture.
    tokens: Tokens = ()
    runtime_only: bool = False
    # A second, finer pre-filter on Python's own syntax tree (built anyway, to guard libcst): False when the rule
    # cannot fire in this file. Sound in the same way as the tokens, and checked by the same tests.
    possible: Callable[[ast.Module], bool] | None = field(default=None, repr=False)
    level_configured: bool = False  # the project set this rule's level: it wins over a finding's own level
    # Rules whose finding in a file makes this one redundant there (FRZ201's note is silent where FRZ206 reports the
    # harm the same optimizer does). Declared here, never by one rule running another.
    silenced_by: tuple[str, ...] = ()
    # The highest level of a finding whose evidence is a name alone. A warning by default; a rule may keep its level
    # when the real-code corpus shows its name-only findings precise (at least 0.95 on at least 20), said in its docs.
    name_evidence_level: Level = Level.WARNING

    @property
    def url(self) -> str:
        """The rule's documentation page (generated from this module by `scripts/generate_rule_docs.py`)."""
        return f"{DOCS_URL}/{self.code}.md"

    @property
    def summary(self) -> str:
        """The first sentence of the "What it does" section."""
        match = re.search(r"## What it does\s+(.+?)(?:\n\n|\n##|$)", self.doc, re.S)
        text = " ".join((match.group(1) if match else self.doc).split())
        return text.split(". ")[0].rstrip(".") + "."


DOCS_URL = "https://github.com/freezelint/freezelint/blob/main/docs/rules"
_REGISTRY: dict[str, Rule] = {}
_CODE = re.compile(r"^FRZ\d{3}$")


def rule(
    code: str,
    name: str,
    level: Level,
    *,
    fix: Applicability | None = None,
    tokens: Tokens = (),
    runtime_only: bool = False,
    possible: Callable[[ast.Module], bool] | None = None,
    silenced_by: tuple[str, ...] = (),
    name_evidence_level: Level = Level.WARNING,
) -> Callable[[Check], Check]:
    """Register a rule; its docs are the docstring of the module that defines it."""
    if not _CODE.match(code):
        raise ValueError(f"rule code {code!r} is not FRZ followed by three digits")

    def register(check: Check) -> Check:
        doc = sys.modules[check.__module__].__doc__ or ""
        if code in _REGISTRY and _REGISTRY[code].check.__module__ != check.__module__:
            raise ValueError(f"rule code {code} registered twice")
        _REGISTRY[code] = Rule(
            code, name, level, check, doc.strip(), fix, tokens, runtime_only, possible, silenced_by=silenced_by,
            name_evidence_level=name_evidence_level,
        )
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


def specificity(code: str, selectors: Iterable[str]) -> int:
    """How specifically `selectors` name `code`: the length of the longest matching prefix, 0 for `ALL`, -1 for
    none of them."""
    return max(
        (0 if s.upper() == "ALL" else len(s) for s in selectors if s.upper() == "ALL" or code.startswith(s.upper())),
        default=-1,
    )


def chooses(
    code: str,
    select: Iterable[str] | None,
    ignore: Iterable[str],
    extend_select: Iterable[str],
    base: bool | None = None,
) -> bool:
    """Whether one selection layer keeps `code`. `base` says whether the earlier layers kept it (None: no earlier
    layer): without a `select` of its own, a layer keeps the base except where `extend_select`/`ignore` say otherwise."""
    if select is None and base is None:
        select = ["ALL"]
    chosen = list(select) if select is not None else []
    positive = max(specificity(code, chosen), specificity(code, list(extend_select)))
    negative = specificity(code, list(ignore))
    if positive < 0 and negative < 0:
        return select is None and bool(base)
    return positive > negative


def select_rules(
    select: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    extend_select: Iterable[str] = (),
    base: set[str] | None = None,
) -> list[Rule]:
    """The rules chosen by code prefixes (`FRZ1`, `FRZ302`, `ALL`), as ruff's `--select`/`--ignore` do: the longest
    matching prefix wins, so `--select FRZ1 --ignore FRZ108` keeps FRZ101 and drops FRZ108.

    `base` is what an earlier layer chose (the configuration file, refined by command-line flags): without a
    `select` of its own, a layer keeps the base except where its `extend_select`/`ignore` say otherwise.
    Runtime-only rules are never chosen here: only the runtime mode finds them."""
    select = list(select) if select is not None else None
    ignore, extend_select = list(ignore), list(extend_select)
    return [
        candidate
        for candidate in all_rules()
        if not candidate.runtime_only
        and chooses(candidate.code, select, ignore, extend_select, None if base is None else candidate.code in base)
    ]


def known_codes() -> list[str]:
    """Every rule's code, read from the module names (`frz302_full_fine_tuning` is FRZ302) without importing them."""
    return sorted({module.name[:6].upper() for module in pkgutil.iter_modules(__path__) if _CODE.match(module.name[:6].upper())})


def validate_codes(codes: Iterable[str]) -> list[str]:
    """The selectors that match no rule (for a clear error on typos)."""
    known = known_codes()
    return [c for c in codes if c.upper() != "ALL" and not any(k.startswith(c.upper()) for k in known)]
