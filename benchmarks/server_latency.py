"""How long `freezelint server` takes to publish diagnostics after an edit, and where that time goes.

    python benchmarks/server_latency.py                      # the bundled 2,000-line training script
    python benchmarks/server_latency.py --file train.py --runs 20 --profile

Run it with the Python environment freezelint[server] is installed in; it measures this checkout. Three parts:

1. **Through the server**, as an editor sees it: `freezelint server` is started over stdio (a pygls client), the file
   is opened, then one line in the middle is edited again and again (an incremental change, as editors send them);
   each time, the time from sending the change to receiving the diagnostics for that version. It includes the
   server's pause before linting (`DEBOUNCE_SECONDS`). Also: a burst of edits 50 ms apart (latency after the last
   one), and a save without a change (served from the in-memory cache).
2. **Where the time goes**, in this process: the stages of one lint (Python's syntax check, libcst's parse, the
   facts walk, the rules, placing the findings), timed by wrapping the functions `freezelint.linter` calls; then
   what the server adds on top (diagnostics, the edits of every fix).
3. With `--profile`, the functions that take the most time in one lint (cProfile, which slows pure-Python code down,
   so read its shares, not its seconds).

It prints a summary; `--json PATH` writes every sample. This is a benchmark, not a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "benchmarks" / "data" / "long_finetune_script.py"
sys.path.insert(0, str(ROOT))  # this checkout's freezelint, whatever is installed


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "runs": len(samples),
    }


def fmt(stats: dict[str, float]) -> str:
    return f"{stats['median'] * 1000:.0f} ms (min {stats['min'] * 1000:.0f}, max {stats['max'] * 1000:.0f}; {stats['runs']} runs)"


# --- 1. through the server ------------------------------------------------------------------------------------------


async def through_server(path: Path, runs: int) -> dict[str, Any]:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    target = len(lines) // 2  # a line in the middle of the file
    while not lines[target].strip() or lines[target].lstrip().startswith(("#", '"')):
        target += 1
    uri = path.resolve().as_uri()
    published: asyncio.Queue[tuple[float, types.PublishDiagnosticsParams]] = asyncio.Queue()

    client = LanguageClient("freezelint-latency-benchmark", "1")

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        published.put_nowait((time.perf_counter(), params))

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def on_log(params: types.LogMessageParams) -> None:
        pass

    async def diagnostics_for(version: int) -> tuple[float, list[types.Diagnostic]]:
        while True:
            when, params = await asyncio.wait_for(published.get(), timeout=300)
            if params.uri == uri and params.version == version:
                return when, list(params.diagnostics)

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    started = time.perf_counter()
    await client.start_io(sys.executable, "-m", "freezelint", "server", env=env, cwd=str(path.parent))
    await client.initialize_async(
        types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=path.parent.resolve().as_uri())
    )
    client.initialized(types.InitializedParams())
    initialized = time.perf_counter()
    sent = time.perf_counter()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text))
    )
    arrived, found = await diagnostics_for(1)
    result: dict[str, Any] = {
        "start_and_initialize_s": initialized - started,
        "first_open_s": arrived - sent,
        "findings": sorted(f"{d.code}:{d.range.start.line + 1}" for d in found),
        "edited_line": target + 1,
    }

    def edit(version: int) -> None:
        original = lines[target].rstrip("\r\n")
        new_line = f"{original}  # edit {version}"
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(target, 0), types.Position(target, len(original))), text=new_line
                    )
                ],
            )
        )
        lines[target] = new_line + "\n"
        # the next edit replaces this line again: keep `original` growing like a line being typed into
        return None

    version = 1
    single: list[float] = []
    for _ in range(runs):
        version += 1
        sent = time.perf_counter()
        edit(version)
        arrived, found = await diagnostics_for(version)
        single.append(arrived - sent)
        await asyncio.sleep(0.3)
    result["edit"] = summary(single)
    result["findings_after_edits"] = sorted(f"{d.code}:{d.range.start.line + 1}" for d in found)

    burst: list[float] = []
    for _ in range(max(runs // 2, 3)):
        for _ in range(5):
            version += 1
            sent = time.perf_counter()
            edit(version)
            await asyncio.sleep(0.05)
        arrived, _ = await diagnostics_for(version)
        burst.append(arrived - sent)
        await asyncio.sleep(0.3)
    result["after_a_burst_of_5_edits_50ms_apart"] = summary(burst)

    saved: list[float] = []
    for _ in range(runs):
        sent = time.perf_counter()
        client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
        arrived, _ = await diagnostics_for(version)
        saved.append(arrived - sent)
    result["save_unchanged_cached"] = summary(saved)

    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return result


# --- 2. where the time goes -----------------------------------------------------------------------------------------


class StageTimer:
    """Wraps functions by name in a module's namespace and adds up the time spent in each."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.restore: list[tuple[Any, str, Any]] = []

    def wrap(self, module: Any, name: str, stage: str) -> bool:
        original = getattr(module, name, None)
        if original is None:
            return False

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.totals[stage] = self.totals.get(stage, 0.0) + time.perf_counter() - started

        setattr(module, name, timed)
        self.restore.append((module, name, original))
        return True

    def undo(self) -> None:
        for module, name, original in reversed(self.restore):
            setattr(module, name, original)
        self.restore.clear()


def stages(path: Path, runs: int) -> dict[str, Any]:
    from freezelint import facts as facts_module
    from freezelint import linter
    from freezelint.config import Settings
    from freezelint.source import Source

    settings = Settings()
    rules = settings.rules()
    text = path.read_text(encoding="utf-8")
    linter.lint_source(Source(path=str(path), text=text), rules, settings)  # warm: rule modules imported

    samples: dict[str, list[float]] = {}
    per_rule: dict[str, list[float]] = {}
    missing: list[str] = []
    for _ in range(runs):
        timer = StageTimer()
        wrapped = {
            "syntax check (ast.parse)": timer.wrap(linter, "check_syntax", "syntax check (ast.parse)"),
            "libcst parse": timer.wrap(linter, "_parse_checked", "libcst parse"),
            "facts (collect)": timer.wrap(linter, "collect", "facts (collect)"),
        }
        # Line and column of every node (libcst's PositionProvider): computed once, by whoever asks first (a rule,
        # or the linter placing the findings). Counted on its own, and taken out of the rule that asked.
        positions = {"seconds": 0.0}
        facts_class = getattr(facts_module, "Facts", None)
        original_positions = getattr(facts_class, "positions", None)
        if original_positions is not None:

            def timed_positions(self: Any) -> Any:
                started = time.perf_counter()
                try:
                    return original_positions(self)
                finally:
                    positions["seconds"] += time.perf_counter() - started

            facts_class.positions = timed_positions  # type: ignore[union-attr]
        else:
            missing.append("positions")
        rule_seconds: dict[str, float] = {}
        checks = []
        for rule in rules:
            original = rule.check

            def timed(facts: Any, original: Callable = original, code: str = rule.code) -> list:
                started, before = time.perf_counter(), positions["seconds"]
                try:
                    return list(original(facts))
                finally:
                    spent = time.perf_counter() - started - (positions["seconds"] - before)
                    rule_seconds[code] = rule_seconds.get(code, 0.0) + spent

            checks.append((rule, original))
            object.__setattr__(rule, "check", timed)
        missing += [stage for stage, ok in wrapped.items() if not ok]
        try:
            started = time.perf_counter()
            result = linter.lint_source(Source(path=str(path), text=text), rules, settings)
            total = time.perf_counter() - started
        finally:
            timer.undo()
            if original_positions is not None:
                facts_class.positions = original_positions  # type: ignore[union-attr]
            for rule, original in checks:
                object.__setattr__(rule, "check", original)
        assert result.error is None, result.error
        measured = dict(timer.totals)
        measured["positions (libcst PositionProvider)"] = positions["seconds"]
        measured["rules"] = sum(rule_seconds.values())
        measured["everything else (pre-filter, placing findings, noqa)"] = total - sum(measured.values())
        measured["lint_source, whole"] = total
        for stage, seconds in measured.items():
            samples.setdefault(stage, []).append(seconds)
        for code, seconds in rule_seconds.items():
            per_rule.setdefault(code, []).append(seconds)
    out: dict[str, Any] = {stage: summary(values) for stage, values in samples.items()}
    slowest = sorted(per_rule.items(), key=lambda item: -statistics.median(item[1]))[:5]
    out["slowest rules"] = {code: summary(values) for code, values in slowest}
    if missing:
        out["not measured (renamed in freezelint?)"] = missing
    out["findings"] = len(result.findings)
    return out


def server_overhead(path: Path, runs: int) -> dict[str, Any]:
    """The server's own work on top of the lint: diagnostics with their fix edits, for one document."""
    from pygls.workspace.position_codec import PositionCodec

    from freezelint.config import Settings
    from freezelint.server.analysis import analyse
    from freezelint.server.documents import Snapshot

    text = path.read_text(encoding="utf-8")
    snapshot = Snapshot(uri=path.resolve().as_uri(), path=str(path), version=1, text=text)
    codec = PositionCodec()
    analyse(snapshot, Settings(), codec)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        analysis = analyse(Snapshot(snapshot.uri, snapshot.path, 1, text), Settings(), codec)
        samples.append(time.perf_counter() - started)
    assert analysis.error is None
    return {"analyse (lint + diagnostics + fix edits)": summary(samples)}


def profile(path: Path, top: int) -> str:
    from freezelint import linter
    from freezelint.config import Settings
    from freezelint.source import Source

    settings = Settings()
    rules = settings.rules()
    text = path.read_text(encoding="utf-8")
    linter.lint_source(Source(path=str(path), text=text), rules, settings)
    # The analysis runs in a thread of its own (a deep stack): profile inside it.
    profiler = cProfile.Profile()
    original = linter._analyse

    def profiled(*args: Any, **kwargs: Any) -> Any:
        profiler.enable()
        try:
            return original(*args, **kwargs)
        finally:
            profiler.disable()

    linter._analyse = profiled
    try:
        linter.lint_source(Source(path=str(path), text=text), rules, settings)
    finally:
        linter._analyse = original
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def first_lines(path: Path, count: int) -> Path:
    """A copy of the file's beginning, cut at a top-level statement so that it still parses (in a temporary
    directory, with the original's name)."""
    import tempfile

    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = min(count, len(lines))
    while cut > 0 and cut < len(lines) and (not lines[cut].strip() or lines[cut][0] in " \t#)]}"):
        cut -= 1
    directory = Path(tempfile.mkdtemp(prefix="freezelint-latency-"))
    shortened = directory / path.name
    shortened.write_text("".join(lines[:cut]), encoding="utf-8")
    return shortened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the Python file to edit (default: the bundled script)")
    parser.add_argument(
        "--lines", type=int, default=None,
        help="use only the file's first N lines or so (cut before the top-level definition that crosses line N)",
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions of one lint")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", type=Path, default=None, help="write every number here")
    args = parser.parse_args()
    path = args.file.resolve()
    if args.lines is not None:
        path = first_lines(path, args.lines)
    lines = path.read_text(encoding="utf-8").count("\n")

    report: dict[str, Any] = {
        "file": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        + (f" (its first {args.lines} lines or so)" if args.lines is not None else ""),
        "lines": lines,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_before": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "server": asyncio.run(through_server(path, args.runs)),
        "stages": stages(path, args.runs),
        "server_overhead": server_overhead(path, args.runs),
    }
    report["load_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    server = report["server"]
    print(f"{report['file']}: {lines} lines; {report['machine']}; load {report['load_before']:.2f} -> {report['load_after']:.2f}")
    print(f"findings: {', '.join(server['findings'])}")
    print("\nThrough `freezelint server` (stdio), change sent -> diagnostics received:")
    print(f"  start + initialize         {server['start_and_initialize_s'] * 1000:.0f} ms")
    print(f"  open (first lint)          {server['first_open_s'] * 1000:.0f} ms")
    print(f"  one edit (line {server['edited_line']})      {fmt(server['edit'])}")
    print(f"  after 5 edits 50 ms apart  {fmt(server['after_a_burst_of_5_edits_50ms_apart'])}")
    print(f"  save, unchanged (cached)   {fmt(server['save_unchanged_cached'])}")
    print("\nOne lint, by stage (in this process):")
    for stage, stats in report["stages"].items():
        if stage == "slowest rules":
            for code, rule_stats in stats.items():
                print(f"    {code:<53} {fmt(rule_stats)}")
        elif isinstance(stats, dict):
            print(f"  {stage:<55} {fmt(stats)}")
        else:
            print(f"  {stage}: {stats}")
    for stage, stats in report["server_overhead"].items():
        print(f"  {stage:<55} {fmt(stats)}")
    if args.profile:
        text = profile(path, args.top)
        report["profile"] = text
        print("\n" + text)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
