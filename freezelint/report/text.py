"""`path:row:col: CODE [level] message` lines, then a one-line summary."""

from __future__ import annotations

import os
from collections import Counter

from freezelint.findings import FileResult, Level


def display_path(path: str) -> str:
    """Paths as the user would type them: relative to the working directory when below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return os.path.normpath(path) if relative.startswith("..") else relative


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary(results: list[FileResult], checked: int) -> str:
    findings = [finding for result in results for finding in result.findings]
    errors = [result.error for result in results if result.error is not None]
    unreadable = f"; {plural(len(errors), 'file')} could not be checked" if errors else ""
    if not findings:
        return f"No problems found ({plural(checked, 'file')} checked{unreadable})."
    by_level = Counter(finding.level for finding in findings)
    levels = ", ".join(plural(by_level[level], str(level)) for level in sorted(by_level, reverse=True))
    files = len({finding.path for finding in findings})
    return f"Found {plural(len(findings), 'problem')} ({levels}) in {plural(files, 'file')}{unreadable}."


def format_text(results: list[FileResult], checked: int) -> str:
    lines = []
    for result in results:
        for finding in result.findings:
            lines.append(
                f"{display_path(finding.path)}:{finding.start.row}:{finding.start.column}: "
                f"{finding.code} [{finding.level}] {finding.message}"
            )
    lines.append(summary(results, checked))
    return "\n".join(lines) + "\n"


__all__ = ["format_text", "summary", "display_path", "Level"]
