"""`freezelint --runtime`: after the static check, replay each file and add the runtime evidence to its findings.

Each file is analysed and sliced here (static: none of its code runs), the installed libraries its replay imports are
imported here once, and the replay itself runs in the sandbox (`freezelint.runtime.sandbox`): a child process with an
audit hook and, where the kernel allows, namespaces of its own. A crash costs one file; a time limit ends a file that
hangs, and everything it started.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from freezelint.findings import CellIndex, FileError, FileResult, Finding, Level, Location

if TYPE_CHECKING:
    from freezelint.config import Settings
from freezelint.runtime import INSTALL_HINT, missing_dependencies

# Codes the runtime reports before (or without) their static rule: name and level until the rule registers them.
RUNTIME_CODES = {
    "FRZ108": ("name-filter-prefix-collision", Level.WARNING),
    "FRZ202": ("unfrozen-after-filtered-optimizer", Level.ERROR),
    "FRZ301": ("nothing-trainable", Level.ERROR),
    "FRZ503": ("frozen-batchnorm-updates", Level.WARNING),
}
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@dataclass(frozen=True)
class RuntimeOptions:
    script_args: tuple[str, ...] = ()
    model_configs: tuple[str, ...] = ()
    weights: bool = False
    exec_mode: bool = False
    timeout: float = 120.0


def unavailable() -> str | None:
    """The one-line install hint when the runtime extra is missing, else None."""
    return INSTALL_HINT if missing_dependencies() else None


def annotate(
    results: list[FileResult],
    options: RuntimeOptions,
    settings: Settings,
    rich: bool,
    echo: Callable[[str, bool], None],
) -> list[FileResult]:
    """`Runtime(options).annotate(...)`: for a caller that did not warm it up while linting."""
    return Runtime(options).annotate(results, settings, rich, echo)


REPLAYED_SUFFIXES = (".py", ".ipynb")


class Runtime:
    """The runtime mode of one command: warmed up while the static check runs in its workers (`warm_up`), then each
    file replayed in the sandbox (`annotate`)."""

    def __init__(self, options: RuntimeOptions) -> None:
        from freezelint.runtime import configs

        self.options = options
        self.overrides = configs.parse_overrides(options.model_configs)  # ValueError names the bad one
        self.prepared: dict[str, Any] = {}  # path -> its `Prepared` plan, or the one-line reason it has none
        self.warm = False

    def warm_up(self, paths: list[str]) -> None:
        """Analyse and slice every file to replay (static: none of their code runs) and import what their replays
        need: torch, transformers when they may use it, and the installed libraries they import. Nothing at all when
        no file is replayed."""
        from freezelint.runtime.replay import Request, needs_transformers, preload, prepare
        from freezelint.source import SourceError

        if self.warm:
            return
        self.warm = True
        replayed = [path for path in paths if path.endswith(REPLAYED_SUFFIXES)]
        if not replayed:
            return
        os.environ.update(OFFLINE)
        for path in replayed:
            try:
                self.prepared[path] = prepare(Request(path, exec_mode=self.options.exec_mode))
            except (OSError, SourceError, SyntaxError, ValueError, RecursionError) as error:
                self.prepared[path] = f"cannot be replayed: {error}"
        plans = [plan for plan in self.prepared.values() if not isinstance(plan, str)]
        try:
            import torch  # noqa: F401

            if any(needs_transformers(plan) for plan in plans) or self.options.weights:
                import transformers.modeling_utils  # noqa: F401
                import transformers.models.auto.auto_factory  # noqa: F401
        except Exception as error:  # noqa: BLE001 - a broken install: each file's one-line error, not a traceback
            reason = f"cannot import the runtime libraries: {type(error).__name__}: {error}".splitlines()[0]
            self.prepared = {path: reason for path in self.prepared}
            return
        for plan in plans:
            preload(plan)

    def annotate(
        self, results: list[FileResult], settings: Settings, rich: bool, echo: Callable[[str, bool], None]
    ) -> list[FileResult]:
        """Replay every checked Python file and notebook; return its results with runtime statuses and
        runtime-found findings (those the settings select, at their configured levels). The runtime block (tables,
        blockers) is printed through `echo(text, to_stderr)`: on stdout for text output, on stderr for
        machine-readable formats; `rich` draws tables."""
        from freezelint.report import display_path
        from freezelint.runtime import report

        to_stderr = settings.output_format not in ("text", "concise")
        # Formats people read (annotations, test reports, code-quality widgets) carry the status in the message;
        # the data formats carry it as a field of its own (`runtime` in JSON, a result property in SARIF).
        readable = settings.output_format not in ("json", "json-lines", "sarif")
        self.warm_up([result.path for result in results if result.error is None])
        counts: dict[str, int] = {}
        annotated: list[FileResult] = []
        isolation_noted = False
        for result in results:
            if result.error is not None or not result.path.endswith(REPLAYED_SUFFIXES):
                if result.error is None:
                    echo(f"{display_path(result.path)}: runtime check skipped: only .py scripts and notebooks are "
                         "replayed\n", to_stderr)
                annotated.append(result)
                continue
            outcome = self.check_file(result)
            isolation = outcome.pop("isolation", "")
            if isolation and isolation != "namespaces" and not isolation_noted:
                isolation_noted = True
                echo(f"freezelint: replays run without namespaces ({isolation}): the audit hook, resource limits and "
                     "process cleanup still apply, but native code can get round an audit hook; run untrusted code in "
                     "a container\n", True)
            block = report.render(display_path(result.path), outcome, rich)
            if result.cells is not None:
                block, outcome = _in_cells(block, result.cells), _in_cells(outcome, result.cells)
            echo(block, to_stderr)
            merged = _merge(result, outcome, settings, readable, counts)
            unbuilt = outcome.get("unbuilt") or []
            if unbuilt:  # the runtime check of this file is incomplete: said as an error, as for a file not checked
                more = f" (and {len(unbuilt) - 1} more)" if len(unbuilt) > 1 else ""
                message = f"runtime check incomplete: {unbuilt[0]}{more}"
                echo(f"{display_path(result.path)}: error: {message}\n", True)
                merged = dataclasses.replace(merged, error=FileError(result.path, message))
            annotated.append(merged)
        if self.prepared:
            echo(report.summary(counts), to_stderr)
        return annotated

    def check_file(self, result: FileResult) -> dict[str, Any]:
        """One file's runtime result (JSON-ready): prepared here, replayed in the sandbox."""
        from freezelint.runtime import sandbox
        from freezelint.runtime.checkers import StaticFinding
        from freezelint.runtime.replay import Request, replay_sandboxed

        options = self.options
        request = Request(
            path=result.path,
            script_args=list(options.script_args),
            overrides=self.overrides,
            weights=options.weights,
            exec_mode=options.exec_mode,
            findings=[StaticFinding(f.code, f.start.row, f.end.row, f.message) for f in result.findings],
        )
        if not sys.platform.startswith("linux"):  # fork is not safe there: a fresh interpreter per file
            outcome = sandbox.spawn(request.to_json(), os.path.abspath(result.path), options.timeout)
        else:
            prepared = self.prepared.get(result.path)
            if isinstance(prepared, str) or prepared is None:
                return {"error": prepared or "it was not prepared for a replay"}
            outcome = sandbox.run(
                lambda: replay_sandboxed(request, prepared), prepared.path, options.timeout,
                address_space=None if options.weights else sandbox.ADDRESS_SPACE,
            )
        replayed: dict[str, Any] = outcome.result if outcome.result is not None else {"error": outcome.error}
        replayed["refusals"] = outcome.refusals
        replayed["isolation"] = outcome.isolation
        return replayed


_LINE = re.compile(r"\b(lines?) (\d+(?:(?:, | and |-)\d+)*)")


def _in_cells(value: Any, cells: CellIndex) -> Any:
    """A notebook's replay speaks of rows of its joined code cells: say `cell 3, line 2` instead, as the findings do
    (in every string of a result; numbers stay rows)."""
    if isinstance(value, str):
        return _LINE.sub(lambda m: ", ".join(_cell_line(int(n), cells) for n in re.findall(r"\d+", m.group(2))), value)
    if isinstance(value, list):
        return [_in_cells(item, cells) for item in value]
    if isinstance(value, dict):
        return {key: _in_cells(item, cells) for key, item in value.items()}
    return value


def _cell_line(row: int, cells: CellIndex) -> str:
    cell, location = cells.locate(Location(row, 1))
    return f"cell {cell}, line {location.row}"


def _merge(result: FileResult, outcome: dict[str, Any], settings: Settings, readable: bool, counts: dict[str, int]) -> FileResult:
    """The file's findings with their runtime status (in the message too, for the text formats), plus the findings
    found at runtime."""
    from freezelint.rules import get_rule

    findings: list[Finding] = []
    verdicts = outcome.get("verdicts") or []
    for index, finding in enumerate(result.findings):
        if index < len(verdicts):
            status, evidence = verdicts[index]["status"], verdicts[index]["evidence"]
        else:
            status, evidence = "not-checkable", outcome.get("error") or "the replay gave no verdict"
        counts[status] = counts.get(status, 0) + 1
        message = finding.message + (f" [runtime: {status}: {evidence}]" if readable else "")
        runtime = {"status": status, "evidence": evidence}
        findings.append(dataclasses.replace(finding, message=message, extra={**finding.extra, "runtime": runtime}))
    lines: list[str] | None = None
    for item in outcome.get("found") or []:
        code = item["code"]
        if not settings.selects(code, result.path):
            continue
        rule = get_rule(code)
        name, level = (rule.name, rule.level) if rule is not None else RUNTIME_CODES.get(code, (code.lower(), Level.WARNING))
        counts["found"] = counts.get("found", 0) + 1
        message = ("[found at runtime] " if readable else "") + item["message"]
        if lines is None:
            lines = _source_lines(result.path)
        findings.append(
            Finding(
                path=result.path,
                code=code,
                name=name,
                message=message,
                level=settings.level_for(code, level),
                start=Location(item["row"], item["column"]),
                end=Location(item["end_row"], item["end_column"]),
                extra={"runtime": {"status": "found", "evidence": item["evidence"]}},
                source_line=lines[item["row"] - 1] if 0 < item["row"] <= len(lines) else "",
            )
        )
    findings.sort(key=lambda f: f.sort_key)
    return dataclasses.replace(result, findings=findings)


def _source_lines(path: str) -> list[str]:
    """The lines as the user wrote them, by program row (a notebook's cell lines, magics included)."""
    from freezelint.decoding import decode
    from freezelint.source import SourceError

    try:
        with open(path, "rb") as handle:
            source = decode(path, handle.read())
    except (OSError, SourceError):
        return []
    return [source.display_line(row) for row in range(1, source.row_count + 1)]
