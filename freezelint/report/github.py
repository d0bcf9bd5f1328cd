"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request's diff.

    ::warning title=FRZ101,file=train.py,line=4,col=1,endLine=4,endColumn=30::train.py:4:1: FRZ101 [error] ...

Levels map to `error`, `warning` and `notice`. In a notebook, `line` and `col` are those of the notebook's JSON text
that hold the code (GitHub shows the annotation on the `.ipynb` file as stored), and the message names the cell and
the row and column in it (`nb.ipynb:cell 3:2:5: ...`).
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
        start, end = item.in_file
        properties = {
            "title": finding.code,
            "file": item.path.replace("\\", "/"),
            "line": start.row,
            "col": start.column,
            "endLine": end.row,
            "endColumn": end.column,
        }
        rendered = ",".join(f"{key}={_property(str(value))}" for key, value in properties.items())
        lines.append(f"::{COMMANDS[finding.level]} {rendered}::{_data(item.line)}")
    for result in results:
        if result.error is not None:
            lines.append(f"::error title=freezelint,file={_property(result.path)}::{_data(result.error.message)}")
    return "".join(line + "\n" for line in lines)
