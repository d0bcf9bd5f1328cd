"""SARIF 2.1.0, for GitHub code scanning and other static-analysis dashboards.

One run: the tool with the rules that ran (id, name, summary, full documentation as help text and markdown, help
URI, default level), and one result per finding with its location, level, a stable fingerprint and its fix. Paths are
relative to the working directory (`%SRCROOT%`, which GitHub resolves to the repository). Columns count characters
(`unicodeCodePoints`). Files that could not be checked are tool notifications.

A notebook's regions are in its JSON text as stored (the lines and columns that hold the code), and the message starts
with the cell and the row and column in it (`cell 3:2:5: ...`). Its fixes are edits of that JSON text too, the new
code written as JSON string content; a fix that touches IPython syntax or spans two cells is left out (`--fix` does
not apply those either).
"""

from __future__ import annotations

import json
import os
import pathlib
import urllib.parse

from freezelint import __version__
from freezelint.findings import Evidence, Location
from freezelint.report import ReportOptions, Shown, display_path, file_edit, fingerprints, rules_for_report, shown

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/freezelint/freezelint"


def _uri(path: str) -> str:
    return urllib.parse.quote(path.replace(os.sep, "/"))


def _artifact(path: str) -> dict:
    return {"uri": _uri(path), "uriBaseId": "%SRCROOT%"}


def _region(start: Location, end: Location) -> dict:
    return {"startLine": start.row, "startColumn": start.column, "endLine": end.row, "endColumn": end.column}


RANKS = {Evidence.TRACED: 90.0, Evidence.NAME: 50.0}


def _result(item: Shown, index: dict[str, int], identity: str) -> dict:
    finding = item.finding
    region = _region(*item.in_file)
    if finding.source_line and item.cell is None:  # a snippet is the artifact's text: a notebook's is JSON
        region["snippet"] = {"text": finding.source_line}
    location: dict = {"physicalLocation": {"artifactLocation": _artifact(item.path), "region": region}}
    result: dict = {
        "ruleId": finding.code,
        "level": str(finding.level),
        "message": {"text": f"{item.place}: {finding.message}" if item.place else finding.message},
        "locations": [location],
        "partialFingerprints": {"freezelint/v1": identity},
    }
    if finding.code in index:
        result["ruleIndex"] = index[finding.code]
    # `rank` orders results by how much to trust them (SARIF 2.1.0, 3.27.28): a traced value above a name alone.
    result["rank"] = RANKS[finding.evidence]
    properties: dict = {"cell": item.cell} if item.cell is not None else {}
    properties["evidence"] = str(finding.evidence)
    if "runtime" in finding.extra:  # confirmed, refuted, not-checkable or found by `--runtime`, with its evidence
        properties["runtime"] = finding.extra["runtime"]
    if properties:
        result["properties"] = properties
    edits = [file_edit(item.result, edit) for edit in finding.fix.edits] if finding.fix is not None else []
    if edits and all(edit is not None for edit in edits):
        assert finding.fix is not None
        replacements = [
            {"deletedRegion": _region(edit.start, edit.end), "insertedContent": {"text": edit.content}}
            for edit in edits
            if edit is not None
        ]
        result["fixes"] = [
            {
                "description": {"text": f"{finding.fix.message} ({finding.fix.applicability.value} fix)"},
                "artifactChanges": [{"artifactLocation": _artifact(item.path), "replacements": replacements}],
            }
        ]
    return result


def format_sarif(results, checked: int, options: ReportOptions = ReportOptions()) -> str:
    rules = rules_for_report(options)
    descriptors = []
    for rule in rules:
        descriptors.append(
            {
                "id": rule.code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.summary},
                "help": {"text": rule.doc, "markdown": rule.doc},
                "helpUri": rule.url,
                "defaultConfiguration": {"level": str(rule.level)},
                "properties": {"tags": ["freezing", rule.name], "fix": rule.fix.value if rule.fix else "none"},
            }
        )
    index = {rule.code: position for position, rule in enumerate(rules)}
    identities = fingerprints(results)
    notifications = [
        {
            "level": "error",
            "message": {"text": result.error.message},
            "locations": [{"physicalLocation": {"artifactLocation": _artifact(display_path(result.path))}}],
        }
        for result in results
        if result.error is not None
    ]
    run = {
        "tool": {
            "driver": {
                "name": "freezelint",
                "semanticVersion": __version__,
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": descriptors,
            }
        },
        "invocations": [{"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}],
        "originalUriBaseIds": {"%SRCROOT%": {"uri": pathlib.Path(os.getcwd()).as_uri() + "/"}},
        "columnKind": "unicodeCodePoints",
        "results": [_result(item, index, identities[id(item.finding)]) for item in shown(results)],
    }
    document = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
