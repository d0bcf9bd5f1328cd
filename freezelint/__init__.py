"""freezelint: catch parameter-freezing mistakes in PyTorch and Hugging Face fine-tuning code.

The public API is small and imports nothing heavy until used:

    from freezelint import lint_text
    for finding in lint_text("model.bert.requires_grad = False\n", path="train.py"):
        print(finding.code, finding.message)
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
    import dataclasses

    from freezelint.config import RuleSelection, Settings
    from freezelint.linter import lint_source
    from freezelint.source import Source

    settings = settings or Settings()
    if select is not None:  # like --select on the command line: replaces the configuration's choice
        settings = dataclasses.replace(settings, selections=(*settings.selections, RuleSelection(select=tuple(select))))
    result = lint_source(Source(path=path, text=text), settings.rules(), settings)
    if result.error is not None:
        raise ValueError(f"{path}: {result.error.message}")
    return result.findings
