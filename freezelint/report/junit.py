"""JUnit XML, for CI systems that show test reports: one test suite per file with findings, one test case per
finding, and an `error` for a file that could not be checked; a single passing case when there is nothing to report.

A finding fails its test case when it fails the run: at or above `--fail-on`, and not refuted by `--runtime`. Any
other finding is a passing test case with its text in `system-out`, so a report never shows failures for a run that
exits 0 because of its level (`--exit-zero` changes the exit status only). `line` is the line of the file as stored:
for a notebook, the line of its JSON text that holds the code; the test case's name gives the cell and its row.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from freezelint.report import ReportOptions, display_path, fails, shown


def format_junit(results, checked: int, options: ReportOptions = ReportOptions()) -> str:
    items = list(shown(results))
    errors = [result for result in results if result.error is not None]
    failing = [item for item in items if fails(item.finding, options)]
    root = ET.Element("testsuites", name="freezelint", tests=str(len(items) + len(errors) or 1))
    root.set("failures", str(len(failing)))
    root.set("errors", str(len(errors)))
    suites: dict[str, ET.Element] = {}

    def suite(path: str) -> ET.Element:
        if path not in suites:
            suites[path] = ET.SubElement(root, "testsuite", name=path, tests="0", failures="0", errors="0")
        return suites[path]

    def count(parent: ET.Element, key: str) -> None:
        parent.set(key, str(int(parent.get(key, "0")) + 1))

    for item in items:
        finding = item.finding
        parent = suite(item.path)
        count(parent, "tests")
        place = item.where[len(item.path) + 1 :]
        case = ET.SubElement(parent, "testcase", name=f"{finding.code} ({place})", classname=item.path)
        case.set("file", item.path)
        case.set("line", str(item.in_file[0].row))
        if fails(finding, options):
            count(parent, "failures")
            ET.SubElement(case, "failure", message=finding.message, type=finding.code).text = item.line
        else:
            ET.SubElement(case, "system-out").text = item.line
    for result in errors:
        path = display_path(result.path)
        parent = suite(path)
        count(parent, "tests")
        count(parent, "errors")
        case = ET.SubElement(parent, "testcase", name="could not be checked", classname=path)
        ET.SubElement(case, "error", message=result.error.message, type="FileError").text = result.error.message
    if not items and not errors:
        clean = ET.SubElement(root, "testsuite", name="freezelint", tests="1", failures="0", errors="0")
        ET.SubElement(clean, "testcase", name="no problems found", classname="freezelint")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
