"""Markdown, for a GitHub job summary (`--also-output markdown:$GITHUB_STEP_SUMMARY`) or a merge-request comment:
the summary line, then every finding in a table (GitHub shows at most 10 annotations of each level per step and 50
per job; the summary keeps them all), then the files that could not be checked."""

from __future__ import annotations

from freezelint.report import ReportOptions, display_path, shown
from freezelint.report.text import summary


def _cell(text: str) -> str:
    """Text for a table cell: pipes escaped, line breaks and HTML kept out."""
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def format_markdown(results, checked: int, options: ReportOptions = ReportOptions()) -> str:
    lines = ["## freezelint", "", summary(results, checked), ""]
    items = list(shown(results))
    if items:
        lines += ["| where | rule | level | message |", "| --- | --- | --- | --- |"]
        for item in items:
            finding = item.finding
            code = f"[{finding.code}]({finding.url})" if finding.url else finding.code
            lines.append(f"| `{_cell(item.where)}` | {code} | {finding.level} | {_cell(finding.message)} |")
        lines.append("")
    errors = [result for result in results if result.error is not None]
    if errors:
        lines += ["Could not be checked:", ""]
        lines += [f"- `{_cell(display_path(result.path))}`: {_cell(result.error.message)}" for result in errors]
        lines.append("")
    return "\n".join(lines)
