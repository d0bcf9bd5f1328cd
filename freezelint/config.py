"""Settings for one run: which rules, which files, what fails. Filled from command-line flags."""

from __future__ import annotations

from dataclasses import dataclass, field

from freezelint.findings import Level
from freezelint.rules import Rule, selects, select_rules

DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "__pycache__",
    "build",
    "dist",
    "node_modules",
    ".tox",
    ".nox",
    "site-packages",
    ".eggs",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".freezelint_cache",
)


@dataclass
class Settings:
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    extend_exclude: tuple[str, ...] = ()
    fail_on: Level = Level.WARNING
    freeze_helpers: tuple[str, ...] = ()  # qualified names of the project's own functions that freeze their argument
    target_transformers: int = 5

    def rules(self) -> list[Rule]:
        return select_rules(self.select, self.ignore, self.extend_select)

    def selects(self, code: str) -> bool:
        """True when the selection includes `code` (runtime-only rules included)."""
        return selects(code, self.select, self.ignore, self.extend_select)
