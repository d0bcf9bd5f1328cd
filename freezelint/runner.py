"""Lint many files: in worker processes, so that a crash inside the parser costs only the file that caused it."""

from __future__ import annotations

import faulthandler
import multiprocessing
import multiprocessing.connection
import os
import signal
import stat
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from freezelint.config import Settings
from freezelint.findings import FileError, FileResult
from freezelint.fixes import FixMode, fix_file
from freezelint.linter import lint_bytes
from freezelint.rules import Rule


def lint_file(path: str, rules: list[Rule], settings: Settings | None = None, fix: FixMode | None = None) -> FileResult:
    """Read and lint one file (and fix it, with a `fix` mode); any failure to read is a one-line error for that
    file."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode) and not os.path.isdir(path):
            return FileResult(path=path, error=FileError(path, "not a regular file"))
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return FileResult(path=path, error=FileError(path, "no such file (deleted during the run?)"))
    except IsADirectoryError:
        return FileResult(path=path, error=FileError(path, "is a directory"))
    except OSError as error:
        return FileResult(path=path, error=FileError(path, f"cannot be read: {error.strerror or error}"))
    if fix is not None:
        return fix_file(path, data, rules, fix, settings)
    return lint_bytes(path, data, rules, settings)


def _context() -> multiprocessing.context.BaseContext:
    # fork is cheapest (nothing heavy is imported by then); elsewhere fall back to the platform default.
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    faulthandler.disable()  # a crash becomes the file's one-line error, not a stack dump


def lint_files(
    paths: list[str], rules: list[Rule], jobs: int | None = None, settings: Settings | None = None, fix: FixMode | None = None
) -> list[FileResult]:
    """Lint (and fix, with a `fix` mode) files in parallel; results come back in the order of `paths`."""
    if not paths:
        return []
    workers = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    results: dict[str, FileResult] = {}
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_worker_init) as pool:
            futures = {path: pool.submit(lint_file, path, rules, settings, fix) for path in paths}
            for path, future in futures.items():
                try:
                    results[path] = future.result()
                except BrokenProcessPool:
                    break
    except BrokenProcessPool:
        pass
    # A worker died (libcst can crash the interpreter on pathological input): redo the rest one file per process.
    for path in paths:
        if path not in results:
            results[path] = _lint_isolated(path, rules, settings, fix)
    return [results[path] for path in paths]


def _isolated_target(
    path: str, rules: list[Rule], settings: Settings | None, fix: FixMode | None, sender: multiprocessing.connection.Connection
) -> None:
    _worker_init()
    sender.send(lint_file(path, rules, settings, fix))


def _lint_isolated(path: str, rules: list[Rule], settings: Settings | None = None, fix: FixMode | None = None) -> FileResult:
    context = _context()
    receiver, sender = context.Pipe(duplex=False)

    process = context.Process(target=_isolated_target, args=(path, rules, settings, fix, sender), daemon=True)
    process.start()
    sender.close()
    result: FileResult | None = None
    try:
        if receiver.poll(None):
            result = receiver.recv()
    except EOFError:
        result = None
    process.join()
    if result is not None:
        return result
    code = process.exitcode or 0
    cause = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    return FileResult(path=path, error=FileError(path, f"the parser crashed on this file ({cause}); it was skipped"))
