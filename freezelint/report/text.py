"""`path:row:col: CODE [level] message` lines, then a one-line summary."""

from __future__ import annotations

import os
from collections import Counter

from freezelint.findings import Applicability, FileResult, Level


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
    fixed = sum(result.fixes_applied for result in results)
    unreadable = f"; {plural(len(errors), 'file')} could not be checked" if errors else ""
    if not findings and not fixed:
        return f"No problems found ({plural(checked, 'file')} checked{unreadable})."
    by_level = Counter(finding.level for finding in findings)
    levels = ", ".join(plural(by_level[level], str(level)) for level in sorted(by_level, reverse=True))
    files = len({finding.path for finding in findings} | {result.path for result in results if result.fixes_applied})
    if fixed:
        remaining = f"{len(findings)} remaining" + (f": {levels}" if findings else "")
        counts = f"{plural(fixed + len(findings), 'problem')} ({fixed} fixed, {remaining})"
    else:
        counts = f"{plural(len(findings), 'problem')} ({levels})"
    return f"Found {counts} in {plural(files, 'file')}{unreadable}{_fixable(findings)}."


def _fixable(findings: list) -> str:
    """`; 2 fixable with `--fix` (1 more with `--unsafe-fixes`)`, for the fixes still available."""
    safe = sum(1 for f in findings if f.fix is not None and f.fix.applicability is Applicability.SAFE)
    unsafe = sum(1 for f in findings if f.fix is not None and f.fix.applicability is Applicability.UNSAFE)
    if safe and unsafe:
        return f"; {safe} fixable with `--fix` ({unsafe} more with `--unsafe-fixes`)"
    if safe:
        return f"; {safe} fixable with `--fix`"
    if unsafe:
        return f"; {unsafe} fixable with `--fix --unsafe-fixes`"
    return ""


def diff_summary(results: list[FileResult]) -> str:
    """What `--diff` would fix, for standard error."""
    fixes = sum(result.fixes_applied for result in results if result.diff)
    files = sum(1 for result in results if result.diff)
    findings = [finding for result in results for finding in result.findings]
    unsafe = sum(1 for f in findings if f.fix is not None and f.fix.applicability is Applicability.UNSAFE)
    hidden = f" ({unsafe} more with `--unsafe-fixes`)" if unsafe else ""
    if not fixes:
        return f"No fixes to apply{hidden}."
    return f"Would fix {plural(fixes, 'problem')} in {plural(files, 'file')}{hidden}."


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
