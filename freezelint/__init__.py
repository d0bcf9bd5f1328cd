"""freezelint: catch parameter-freezing mistakes in PyTorch and Hugging Face fine-tuning code.

The public API is small and imports nothing heavy until used:

    from freezelint import fix_text, lint_text
    for finding in lint_text("model.bert.requires_grad = False\n", path="train.py"):
        print(finding.code, finding.message)
    fixed = fix_text(source)  # the text with every safe fix applied (`unsafe=True` for unsafe ones too)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from freezelint.config import Settings
    from freezelint.findings import Finding


def lint_text(
    text: str, path: str = "<string>", select: list[str] | None = None, settings: Settings | None = None
) -> list[Finding]:
    """Lint Python source text and return its findings (raises `ValueError` when it cannot be parsed).

    `settings` (for example `freezelint.config.load_settings(project_dir)`) applies a project's configuration;
    `select` narrows its rules further. `# noqa` comments are honoured as everywhere."""
    from freezelint.linter import lint_source
    from freezelint.source import Source

    settings = _narrowed(settings, select)
    result = lint_source(Source(path=path, text=text), settings.rules(), settings)
    if result.error is not None:
        raise ValueError(f"{path}: {result.error.message}")
    return result.findings


def fix_text(
    text: str, path: str = "<string>", unsafe: bool = False, select: list[str] | None = None, settings: Settings | None = None
) -> str:
    """Python source text with its fixes applied, as `--fix` (`unsafe`: `--fix --unsafe-fixes`) would write it
    (raises `ValueError` when it cannot be parsed). What remains is what `lint_text` of the result returns."""
    from freezelint.fixes import fix_source
    from freezelint.source import Source

    settings = _narrowed(settings, select)
    outcome = fix_source(Source(path=path, text=text), settings.rules(), unsafe, settings)
    if outcome.initial.error is not None:
        raise ValueError(f"{path}: {outcome.initial.error.message}")
    return outcome.text


def _narrowed(settings: Settings | None, select: list[str] | None) -> Settings:
    import dataclasses

    from freezelint.config import RuleSelection, Settings

    settings = settings or Settings()
    if select is not None:  # like --select on the command line: replaces the configuration's choice
        settings = dataclasses.replace(settings, selections=(*settings.selections, RuleSelection(select=tuple(select))))
    return settings
