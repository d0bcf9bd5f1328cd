"""A JSON array shaped like ruff's `--output-format json`, plus `level`, so existing tooling can read it."""

from __future__ import annotations

import json
import os

from freezelint.findings import FileResult, Finding, Fix


def _location(location) -> dict:
    return {"row": location.row, "column": location.column}


def _fix(fix: Fix | None) -> dict | None:
    if fix is None:
        return None
    return {
        "applicability": fix.applicability.value,
        "message": fix.message,
        "edits": [
            {"content": edit.content, "location": _location(edit.start), "end_location": _location(edit.end)}
            for edit in fix.edits
        ],
    }


def finding_to_dict(finding: Finding) -> dict:
    record = {
        "cell": None,
        "code": finding.code,
        "end_location": _location(finding.end),
        "filename": os.path.abspath(finding.path),
        "fix": _fix(finding.fix),
        "level": str(finding.level),
        "location": _location(finding.start),
        "message": finding.message,
        "noqa_row": finding.start.row,
        "url": finding.url,
    }
    record.update(finding.extra)
    return record


def format_json(results: list[FileResult], checked: int) -> str:
    records = [finding_to_dict(finding) for result in results for finding in result.findings]
    return json.dumps(records, indent=2) + "\n"
