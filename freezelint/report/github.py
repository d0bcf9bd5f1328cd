"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request's diff.

    ::warning title=FRZ101,file=train.py,line=4,col=1,endLine=4,endColumn=30::train.py:4:1: FRZ101 [error] ...

Levels map to `error`, `warning` and `notice`. In a notebook the line is the cell's (GitHub cannot point inside a
cell), and the message names the cell.
"""

from __future__ import annotations

from freezelint.findings import Level
from freezelint.report import ReportOptions, shown

COMMANDS = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(results, checked: int, options: ReportOptions = ReportOptions()) -> str:
    lines = []
    for item in shown(results):
        finding = item.finding
        properties = {
            "title": finding.code,
            "file": item.path.replace("\\", "/"),
            "line": item.start.row,
            "col": item.start.column,
            "endLine": item.end.row,
            "endColumn": item.end.column,
        }
        rendered = ",".join(f"{key}={_property(str(value))}" for key, value in properties.items())
        lines.append(f"::{COMMANDS[finding.level]} {rendered}::{_data(item.line)}")
    for result in results:
        if result.error is not None:
            lines.append(f"::error title=freezelint,file={_property(result.path)}::{_data(result.error.message)}")
    return "".join(line + "\n" for line in lines)
