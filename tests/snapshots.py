"""Reviewed snapshots of freezelint's whole output, the way ruff's rule tests snapshot their diagnostics.

A snapshot is the JSON report of one file (or one corpus) rendered as plain text: every finding's code, level,
place, message, fix edits and anything else the report carries (runtime verdicts, evidence), with the source line it
points at. A change in wording, column or fix shows up as a changed snapshot in review, never silently.

    pytest tests/test_snapshots.py                    # compare
    pytest tests/test_snapshots.py --snapshot-update  # write what the code says now; review the diff, then commit

The files are written by syrupy (`tests/__snapshots__/<test file>/<test>[<id>].txt`); the fixtures, the runtime
cases, the benchmark corpora and the real-code corpus all use this one mechanism.
"""

from __future__ import annotations

import json
from pathlib import Path

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

# Keys of a JSON record shown in the finding's own lines; any other key (runtime, evidence...) is shown as `key: value`.
_PLACED = {"cell", "code", "end_location", "evidence", "filename", "fix", "level", "location", "message", "noqa_row", "url"}


class TextSnapshot(SingleFileSnapshotExtension):
    """One plain-text file per snapshot, so that a review reads it as it reads code."""

    file_extension = "txt"
    _write_mode = WriteMode.TEXT


def _place(record: dict) -> str:
    start, end = record["location"], record["end_location"]
    cell = f"cell {record['cell']} " if record.get("cell") is not None else ""
    return f"{cell}{start['row']}:{start['column']}-{end['row']}:{end['column']}"


def _source_lines(path: Path) -> dict[int | None, list[str]]:
    """The lines of a file, or of each cell of a notebook (cells counted from 1), for showing the flagged line."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return {None: text.splitlines()}
    cells = json.loads(text)["cells"]
    return {
        number: ("".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]).splitlines()
        for number, cell in enumerate(cells, start=1)
    }


def render(records: list[dict], root: Path) -> str:
    """The JSON report's records, rendered for review: grouped by file (relative to `root`), in report order."""
    lines: list[str] = []
    sources: dict[str, dict[int | None, list[str]]] = {}
    current = None
    for record in records:
        path = Path(record["filename"])
        name = path.relative_to(root).as_posix() if path.is_absolute() else path.as_posix()
        if name != current:
            if lines:
                lines.append("")
            lines.append(f"== {name}")
            current = name
        if name not in sources:
            sources[name] = _source_lines(path) if path.exists() else {}
        evidence = " (evidence: name)" if record.get("evidence") == "name" else ""
        lines.append(f"{record['code']} {record['level']} {_place(record)}{evidence}")
        source = sources[name].get(record.get("cell"), [])
        row = record["location"]["row"]
        if 0 < row <= len(source):
            lines.append(f"  | {source[row - 1].rstrip()}")
        lines.append(f"  {record['message']}")
        fix = record.get("fix")
        if fix:
            lines.append(f"  fix ({fix['applicability']}): {fix['message']}")
            for edit in fix["edits"]:
                start, end = edit["location"], edit["end_location"]
                span = f"{start['row']}:{start['column']}-{end['row']}:{end['column']}"
                lines.append(f"    {span} -> {json.dumps(edit['content'], ensure_ascii=False)}")
        for key in sorted(set(record) - _PLACED):
            lines.append(f"  {key}: {json.dumps(record[key], ensure_ascii=False, sort_keys=True)}")
    return "\n".join(lines) + "\n" if lines else "(no findings)\n"


def render_findings(results: dict[Path, list | str], root: Path) -> str:
    """Findings (`freezelint.findings.Finding`, program rows: a notebook's code cells joined in order) or one-line
    errors, by file, rendered like `render` for the files' reviewed snapshot."""
    lines: list[str] = []
    for path, found in results.items():
        if not found:
            continue
        if lines:
            lines.append("")
        lines.append(f"== {path.relative_to(root).as_posix()}")
        if isinstance(found, str):
            lines.append(f"error: {found}")
            continue
        for finding in found:
            start, end = finding.start, finding.end
            evidence = " (evidence: name)" if str(finding.evidence) == "name" else ""
            lines.append(f"{finding.code} {finding.level} {start.row}:{start.column}-{end.row}:{end.column}{evidence}")
            if finding.source_line:
                lines.append(f"  | {finding.source_line.rstrip()}")
            lines.append(f"  {finding.message}")
            if finding.fix is not None:
                lines.append(f"  fix ({finding.fix.applicability.value}): {finding.fix.message}")
            for key, value in sorted(finding.extra.items()):
                lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False, sort_keys=True)}")
    return "\n".join(lines) + "\n" if lines else "(no findings)\n"
