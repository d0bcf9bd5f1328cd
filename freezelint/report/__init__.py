"""Output formats: one module per format, each a function from results to text."""

from __future__ import annotations

from typing import Callable

from freezelint.findings import FileResult

Formatter = Callable[[list[FileResult], int], str]


def formatter(name: str) -> Formatter:
    if name == "json":
        from freezelint.report.json import format_json

        return format_json
    from freezelint.report.text import format_text

    return format_text


FORMATS = ("text", "json")
