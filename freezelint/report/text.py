"""Text for people: `concise` is one line per finding, `text` (the default) adds the source line with a caret under
the finding. Both start each finding with `path:row:col: CODE [level] message`, and end with a one-line summary."""

from __future__ import annotations

from collections import Counter

import click

from freezelint.findings import Applicability, FileResult, Level
from freezelint.report import ReportOptions, Shown, display_path, shown

LEVEL_COLORS = {Level.ERROR: "red", Level.WARNING: "yellow", Level.NOTE: "cyan"}


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary(results: list[FileResult], checked: int) -> str:
    """The last line of a run. `checked` counts the files that were checked; a file that could not be checked is never
    reported as free of problems."""
    findings = [finding for result in results for finding in result.findings]
    errors = [result.error for result in results if result.error is not None]
    fixed = sum(result.fixes_applied for result in results)
    unreadable = f"; {plural(len(errors), 'file')} could not be checked" if errors else ""
    baselined = sum(result.baselined for result in results)
    known = f"; {plural(baselined, 'known finding')} hidden by the baseline" if baselined else ""
    if not findings and not fixed:
        new = "new " if baselined else ""
        if errors:
            others = f"no {new}problems found in the {plural(checked, 'other file')} checked" if checked else "no other file was checked"
            return f"{plural(len(errors), 'file')} could not be checked (see the errors above); {others}{known}."
        if not checked:
            return "No Python files found: nothing was checked."
        return f"No {new}problems found ({plural(checked, 'file')} checked{known})."
    by_level = Counter(finding.level for finding in findings)
    levels = ", ".join(plural(by_level[level], str(level)) for level in sorted(by_level, reverse=True))
    files = len({finding.path for finding in findings} | {result.path for result in results if result.fixes_applied})
    if fixed:  # after --fix: what was fixed, and what remains
        remaining = f"{len(findings)} remaining" + (f": {levels}" if findings else "")
        counts = f"{plural(fixed + len(findings), 'problem')} ({fixed} fixed, {remaining})"
    else:
        counts = f"{plural(len(findings), 'problem')} ({levels})"
    return f"Found {counts} in {plural(files, 'file')}{unreadable}{known}."


def diff_summary(results: list[FileResult]) -> str:
    """What `--diff` would fix (for standard error, the diff itself going to standard output)."""
    fixes = sum(result.fixes_applied for result in results if result.diff)
    files = sum(1 for result in results if result.diff)
    findings = [finding for result in results for finding in result.findings]
    unsafe = sum(1 for f in findings if f.fix is not None and f.fix.applicability is Applicability.UNSAFE)
    hidden = f" ({unsafe} more with `--unsafe-fixes`)" if unsafe else ""
    if not fixes:
        return f"No fixes to apply{hidden}."
    return f"Would fix {plural(fixes, 'problem')} in {plural(files, 'file')}{hidden}."


def fixable_summary(results: list[FileResult]) -> str | None:
    fixes = Counter(finding.fix.applicability for result in results for finding in result.findings if finding.fix)
    if not fixes[Applicability.SAFE] and not fixes[Applicability.UNSAFE]:
        return None
    line = f"[*] {fixes[Applicability.SAFE]} fixable with the `--fix` option"
    if fixes[Applicability.UNSAFE]:
        line += f" ({fixes[Applicability.UNSAFE]} more with `--unsafe-fixes`)"
    return line + "."


def format_concise(results: list[FileResult], checked: int, options: ReportOptions = ReportOptions()) -> str:
    lines = [_headline(item, options.color) for item in shown(results)]
    if not options.quiet:
        lines.append(summary(results, checked))
    return "".join(line + "\n" for line in lines)


def format_text(results: list[FileResult], checked: int, options: ReportOptions = ReportOptions()) -> str:
    blocks = []
    for item in shown(results):
        block = [_headline(item, options.color), *_snippet(item, options.color)]
        fix = item.finding.fix
        if options.show_fixes and fix is not None:
            block.append(f"  = fix ({fix.applicability.value}): {fix.message}")
        blocks.append("\n".join(block) + "\n")
    text = "\n".join(blocks)
    if options.quiet:
        return text
    tail = [summary(results, checked)]
    fixable = fixable_summary(results) if options.show_fixes else None
    if fixable:
        tail.append(fixable)
    return text + ("\n" if blocks else "") + "".join(line + "\n" for line in tail)


def _headline(item: Shown, color: bool) -> str:
    finding = item.finding
    if not color:
        return item.line
    return (
        f"{click.style(item.where, bold=True)}: {click.style(finding.code, fg='red', bold=True)} "
        f"[{click.style(str(finding.level), fg=LEVEL_COLORS[finding.level])}] {finding.message}"
    )


# Columns of a source line shown around a finding: generated or minified lines can run to megabytes.
SNIPPET_WIDTH = 200
_ELLIPSIS = "..."


def _snippet(item: Shown, color: bool) -> list[str]:
    """The finding's first line with a caret under it, in ruff's gutter style."""
    line = item.finding.source_line
    if not line.strip():
        return []
    start = item.start.column
    end = item.end.column if item.end.row == item.start.row else len(line.rstrip()) + 1
    if len(line) > SNIPPET_WIDTH:  # a window of the line, starting a little before the finding
        first = max(0, start - 1 - SNIPPET_WIDTH // 5)
        window = line[first:first + SNIPPET_WIDTH]
        prefix = _ELLIPSIS if first else ""
        line = prefix + window + (_ELLIPSIS if first + SNIPPET_WIDTH < len(item.finding.source_line) else "")
        start += len(prefix) - first
        end = max(start + 1, min(end + len(prefix) - first, len(prefix) + len(window) + 1))
    shown_line = line.expandtabs(4)
    left = len(line[: start - 1].expandtabs(4))
    width = max(1, len(line[: max(end, start + 1) - 1].expandtabs(4)) - left)
    number = str(item.start.row)
    gutter = " " * len(number)
    caret = " " * left + "^" * width
    if color:
        bar = click.style("|", fg="blue", bold=True)
        return [
            f"{gutter} {bar}",
            f"{click.style(number, fg='blue', bold=True)} {bar} {shown_line}",
            f"{gutter} {bar} {click.style(caret, fg='red', bold=True)}",
            f"{gutter} {bar}",
        ]
    return [f"{gutter} |", f"{number} | {shown_line}".rstrip(), f"{gutter} | {caret}", f"{gutter} |"]


def format_statistics(results: list[FileResult], checked: int, options: ReportOptions = ReportOptions()) -> str:
    """`--statistics`: how many findings per code, most frequent first."""
    rows = statistics(results)
    if not rows:
        return "" if options.quiet else summary(results, checked) + "\n"
    width = max(len(str(row["count"])) for row in rows)
    return "".join(
        f"{row['count']:>{width}}\t{row['code']}\t{'[*] ' if row['fixable'] else ''}[{row['level']}] {row['name']}\n"
        for row in rows
    )


def statistics(results: list[FileResult]) -> list[dict]:
    counts: Counter = Counter()
    fixable: Counter = Counter()
    names: dict[str, tuple[str, str]] = {}
    for result in results:
        for finding in result.findings:
            counts[finding.code] += 1
            fixable[finding.code] += bool(finding.fix and finding.fix.applicability is not Applicability.DISPLAY)
            names[finding.code] = (finding.name, str(finding.level))
    return [
        {"code": code, "name": names[code][0], "level": names[code][1], "count": count, "fixable": fixable[code] > 0}
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


__all__ = ["format_text", "format_concise", "format_statistics", "summary", "diff_summary", "display_path", "statistics"]
