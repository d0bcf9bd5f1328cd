"""A baseline: the findings a codebase already had when it adopted freezelint, so that only new ones fail.

`freezelint --write-baseline --baseline FILE` records the current findings; later runs with `--baseline FILE` (or
`baseline = "FILE"` in `[tool.freezelint]`) hide the findings it lists and report only the others.

A finding is known by its file (relative to the baseline's directory), its code and the text of its line with
whitespace squeezed, and counted: line numbers shift whenever code above is edited, the offending line itself rarely
changes. Two identical findings in one file take two entries, so a third copy of the same mistake is new.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from dataclasses import dataclass

from freezelint.findings import FileResult, Finding

FORMAT = "freezelint-baseline"
VERSION = 1

Key = tuple[str, str]  # (code, squeezed line text)


class BaselineError(Exception):
    """A baseline file that cannot be read; the message is one line."""


@dataclass(frozen=True)
class Baseline:
    path: str
    known: dict[str, dict[Key, int]]  # file (relative, `/`-separated) -> key -> how many

    def file_key(self, path: str) -> str:
        root = os.path.dirname(os.path.abspath(self.path))
        relative = os.path.relpath(os.path.abspath(path), root)
        return relative.replace(os.sep, "/")

    def filter(self, path: str, findings: list[Finding]) -> tuple[list[Finding], int]:
        """The findings the baseline does not list, and how many it hid."""
        remaining = dict(self.known.get(self.file_key(path), {}))
        if not remaining:
            return findings, 0
        kept = []
        for finding in findings:
            key = finding_key(finding)
            if remaining.get(key, 0) > 0:
                remaining[key] -= 1
            else:
                kept.append(finding)
        return kept, len(findings) - len(kept)


def finding_key(finding: Finding) -> Key:
    return finding.code, " ".join(finding.source_line.split())


def load(path: str) -> Baseline:
    """Read a baseline file (cached while the file stays the same)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise BaselineError("no such baseline file (create it with --write-baseline)") from None
    except OSError as error:
        raise BaselineError(f"cannot be read: {error.strerror or error}") from None
    return _load(os.path.abspath(path), info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: int, size: int) -> Baseline:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        raise BaselineError(f"cannot be read: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BaselineError(f"not a freezelint baseline (invalid JSON: {error})") from None
    if not isinstance(data, dict) or data.get(FORMAT) != VERSION or not isinstance(data.get("findings"), list):
        raise BaselineError(f'not a freezelint baseline (expected {{"{FORMAT}": {VERSION}, "findings": [...]}})')
    known: dict[str, dict[Key, int]] = {}
    for entry in data["findings"]:
        try:
            file, code, line, count = entry["file"], entry["code"], entry["line"], int(entry.get("count", 1))
        except (TypeError, KeyError, ValueError):
            raise BaselineError(f"not a freezelint baseline (malformed entry: {json.dumps(entry)[:80]})") from None
        bucket = known.setdefault(file, {})
        bucket[(code, line)] = bucket.get((code, line), 0) + count
    return Baseline(path, known)


def render(path: str, results: list[FileResult]) -> tuple[str, int]:
    """The baseline file's new text for `results` (entries of files not linted in this run are kept), and how many
    findings it records."""
    baseline = Baseline(path, {})
    known: dict[str, Counter] = {}
    if os.path.exists(path):
        try:
            known = {file: Counter(keys) for file, keys in load(path).known.items()}
        except BaselineError:
            known = {}
    for result in results:
        known.pop(baseline.file_key(result.path), None)
    for result in results:
        for finding in result.findings:
            known.setdefault(baseline.file_key(result.path), Counter())[finding_key(finding)] += 1
    entries = [
        {"file": file, "code": code, "line": line, "count": count}
        for file in sorted(known)
        for (code, line), count in sorted(known[file].items())
        if count > 0
    ]
    text = json.dumps({FORMAT: VERSION, "findings": entries}, indent=2, ensure_ascii=False) + "\n"
    return text, sum(entry["count"] for entry in entries)
