"""flake8 plugin: `flake8 --select FRZ` reports freezelint's findings (registered under the `flake8.extension`
entry point `FRZ`).

It is a thin adapter over the same `lint_source` the CLI uses, with the settings of the nearest
`[tool.freezelint]`, so `# noqa`, per-file ignores, levels, freeze helpers and the target transformers version behave
exactly as with `freezelint` itself. Each finding reads `FRZ302 [note] message`; a file freezelint cannot analyse
(flake8 already reports syntax errors as E999) gets one `FRZ000` line naming the cause.
"""

from __future__ import annotations

import ast
import functools
import os
from typing import Iterator

from freezelint import __version__

Result = tuple[int, int, str, type]


@functools.lru_cache(maxsize=64)
def _settings(directory: str):
    from freezelint.config import load_settings

    settings = load_settings(directory)
    return settings, settings.rules()


class Flake8Plugin:
    name = "freezelint"
    version = __version__

    def __init__(self, tree: ast.AST, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[Result]:
        from freezelint.config import ConfigError
        from freezelint.linter import lint_source
        from freezelint.source import Source

        path = self.filename if self.filename not in ("stdin", "-") else "-"
        try:
            settings, rules = _settings(os.path.dirname(os.path.abspath(path)) if path != "-" else os.getcwd())
        except ConfigError as error:
            yield 1, 0, f"FRZ000 [error] freezelint: {error.path}: {error.message}", type(self)
            return
        result = lint_source(Source(path=path, text="".join(self.lines)), rules, settings)
        if result.error is not None:
            yield 1, 0, f"FRZ000 [error] freezelint could not check this file: {result.error.message}", type(self)
        for finding in result.findings:
            yield finding.start.row, finding.start.column - 1, f"{finding.code} [{finding.level}] {finding.message}", type(self)
