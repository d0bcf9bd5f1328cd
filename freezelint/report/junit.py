"""JUnit XML, for CI systems that show test reports: one test suite per file with findings, one failing test case per
finding (and an `error` for a file that could not be checked); a single passing case when there is nothing to report."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from freezelint.report import ReportOptions, display_path, shown


def format_junit(results, checked: int, options: ReportOptions = ReportOptions()) -> str:
    items = list(shown(results))
    errors = [result for result in results if result.error is not None]
    root = ET.Element("testsuites", name="freezelint", tests=str(len(items) + len(errors) or 1))
    root.set("failures", str(len(items)))
    root.set("errors", str(len(errors)))
    suites: dict[str, ET.Element] = {}

    def suite(path: str) -> ET.Element:
        if path not in suites:
            suites[path] = ET.SubElement(root, "testsuite", name=path, tests="0", failures="0", errors="0")
        return suites[path]

    for item in items:
        finding = item.finding
        parent = suite(item.path)
        parent.set("tests", str(int(parent.get("tests", "0")) + 1))
        parent.set("failures", str(int(parent.get("failures", "0")) + 1))
        place = item.where[len(item.path) + 1 :]
        case = ET.SubElement(parent, "testcase", name=f"{finding.code} ({place})", classname=item.path)
        case.set("file", item.path)
        case.set("line", str(item.start.row))
        failure = ET.SubElement(case, "failure", message=finding.message, type=finding.code)
        failure.text = item.line
    for result in errors:
        path = display_path(result.path)
        parent = suite(path)
        parent.set("tests", str(int(parent.get("tests", "0")) + 1))
        parent.set("errors", str(int(parent.get("errors", "0")) + 1))
        case = ET.SubElement(parent, "testcase", name="could not be checked", classname=path)
        ET.SubElement(case, "error", message=result.error.message, type="FileError").text = result.error.message
    if not items and not errors:
        clean = ET.SubElement(root, "testsuite", name="freezelint", tests="1", failures="0", errors="0")
        ET.SubElement(clean, "testcase", name="no problems found", classname="freezelint")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
