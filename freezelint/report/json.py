"""JSON shaped like ruff's `--output-format json` (plus `level`), so existing tooling can read it: an array
(`json`), or one object per line (`json-lines`). In a notebook, `cell` is the cell number and every location is
relative to that cell, as in ruff."""

from __future__ import annotations

import json
import os

from freezelint.findings import Fix, Location
from freezelint.report import ReportOptions, Shown, shown


def _location(location: Location) -> dict:
    return {"row": location.row, "column": location.column}


def _fix(item: Shown, fix: Fix | None) -> dict | None:
    if fix is None:
        return None
    edits = []
    for edit in fix.edits:
        start, end = item.edit_range(edit)
        edits.append({"content": edit.content, "location": _location(start), "end_location": _location(end)})
    return {"applicability": fix.applicability.value, "message": fix.message, "edits": edits}


def record(item: Shown) -> dict:
    finding = item.finding
    data = {
        "cell": item.cell,
        "code": finding.code,
        "end_location": _location(item.end),
        "evidence": str(finding.evidence),
        "filename": os.path.abspath(finding.path) if finding.path != "-" else finding.path,
        "fix": _fix(item, finding.fix),
        "level": str(finding.level),
        "location": _location(item.start),
        "message": finding.message,
        "noqa_row": item.start.row,
        "url": finding.url,
    }
    data.update(finding.extra)
    return data


def format_json(results, checked: int, options: ReportOptions = ReportOptions()) -> str:
    return json.dumps([record(item) for item in shown(results)], indent=2, ensure_ascii=False) + "\n"


def format_json_lines(results, checked: int, options: ReportOptions = ReportOptions()) -> str:
    return "".join(json.dumps(record(item), ensure_ascii=False) + "\n" for item in shown(results))


def finding_to_dict(finding) -> dict:
    """One finding of a `.py` file as a JSON record (outside a run's results)."""
    from freezelint.findings import FileResult

    return record(Shown(FileResult(finding.path), finding, finding.path, None, finding.start, finding.end))
