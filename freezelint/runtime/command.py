"""`freezelint --runtime`: after the static check, replay each file and add the runtime evidence to its findings.

Each file runs in a child process forked from this one (torch and transformers imported once, before the fork): the
script's own code cannot disturb the others, a crash costs one file, and a time limit ends a file that hangs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import tempfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from freezelint.findings import FileResult, Finding, Level, Location

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
    """Replay every checked Python file; return its results with runtime statuses and runtime-found findings
    (those the settings select, at their configured levels). The runtime block (tables, blockers) is printed through
    `echo(text, to_stderr)`: on stdout for text output, on stderr for machine-readable formats; `rich` draws tables."""
    from freezelint.report import display_path
    from freezelint.runtime import configs, report

    overrides = configs.parse_overrides(options.model_configs)
    os.environ.update(OFFLINE)
    # Imported once here, before the forks, so that each replay starts warm.
    import torch  # noqa: F401
    import transformers.modeling_utils  # noqa: F401
    import transformers.models.auto.auto_factory  # noqa: F401

    to_stderr = settings.output_format not in ("text", "concise")
    # Formats people read (annotations, test reports, code-quality widgets) carry the status in the message; the
    # data formats carry it as a field of its own (`runtime` in JSON, a result property in SARIF).
    readable = settings.output_format not in ("json", "json-lines", "sarif")
    counts: dict[str, int] = {}
    annotated: list[FileResult] = []
    for result in results:
        if result.error is not None or not result.path.endswith(".py"):
            if result.error is None:
                echo(f"{display_path(result.path)}: runtime check skipped: only .py scripts are replayed\n", to_stderr)
            annotated.append(result)
            continue
        from freezelint.runtime.checkers import StaticFinding
        from freezelint.runtime.replay import Request

        request = Request(
            path=result.path,
            script_args=list(options.script_args),
            overrides=overrides,
            weights=options.weights,
            exec_mode=options.exec_mode,
            findings=[StaticFinding(f.code, f.start.row, f.end.row, f.message) for f in result.findings],
        )
        outcome = run_isolated(request, options.timeout)
        echo(report.render(display_path(result.path), outcome, rich), to_stderr)
        annotated.append(_merge(result, outcome, settings, readable, counts))
    echo(report.summary(counts), to_stderr)
    return annotated


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
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().splitlines()
    except OSError:
        return []


def run_isolated(request: Any, timeout: float) -> dict[str, Any]:
    """Replay one file in a forked child with a time limit (in this process where fork is unavailable)."""
    from freezelint.runtime.replay import replay

    if not hasattr(os, "fork"):
        try:
            return replay(request)
        except BaseException as error:  # noqa: BLE001 - the file's one-line error
            return {"error": f"{type(error).__name__}: {error}"}
    log = tempfile.TemporaryFile()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, send the result, leave without cleanup handlers
        os.close(read_end)
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                payload = json.dumps(replay(request))
            except BaseException as error:  # noqa: BLE001
                payload = json.dumps({"error": _one_line(error)})
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload.encode("utf-8"))
        finally:
            os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_end], [], [], remaining)
            if ready:
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_end)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        return {"error": f"the replay did not finish within {timeout:g} s (raise the limit with --timeout)"}
    if not chunks:
        log.seek(0)
        tail = log.read().decode("utf-8", "replace").strip().splitlines()[-1:]
        cause = f"signal {signal.Signals(-os.waitstatus_to_exitcode(status)).name}" if os.WIFSIGNALED(status) else "no result"
        return {"error": f"the replay process died ({cause})" + (f": {tail[0]}" if tail else "")}
    return json.loads(b"".join(chunks).decode("utf-8"))


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
