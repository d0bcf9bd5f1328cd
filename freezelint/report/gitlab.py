"""GitLab code quality report (a JSON array of issues), for `artifacts: reports: codequality`.

Paths are relative to `CI_PROJECT_DIR` (or the working directory); fingerprints stay the same when code above a
finding moves, so GitLab tracks a finding across commits. Levels map to `major` (error), `minor` (warning) and
`info` (note). In a notebook the lines are those of its JSON text that hold the code, and the description names the
cell and the row and column in it.
"""

from __future__ import annotations

import json
import os

from freezelint.findings import Level
from freezelint.report import ReportOptions, fingerprints, shown

SEVERITIES = {Level.ERROR: "major", Level.WARNING: "minor", Level.NOTE: "info"}


def format_gitlab(results, checked: int, options: ReportOptions = ReportOptions()) -> str:
    root = os.environ.get("CI_PROJECT_DIR") or os.getcwd()
    identities = fingerprints(results)
    issues = []
    for item in shown(results):
        finding = item.finding
        path = os.path.relpath(os.path.abspath(finding.path), root) if finding.path != "-" else "-"
        cell = f"{item.place}: " if item.place else ""
        start, end = item.in_file
        issues.append(
            {
                "type": "issue",
                "check_name": finding.code,
                "description": f"{cell}{finding.code} [{finding.level}] {finding.message}",
                "categories": ["Bug Risk"],
                "severity": SEVERITIES[finding.level],
                "fingerprint": identities[id(finding)],
                "location": {"path": path.replace(os.sep, "/"), "lines": {"begin": start.row, "end": end.row}},
            }
        )
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
