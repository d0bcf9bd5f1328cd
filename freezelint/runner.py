"""Lint many files: in worker processes, so that a crash inside the parser costs only the file that caused it.

A run stopped by Ctrl-C or `kill` stops cleanly: files being written are finished (`files.write_atomically` holds
the signal back until a file is wholly old or wholly new), queued files are never started, no worker is left behind.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import multiprocessing.connection
import os
import signal
import stat
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from freezelint.config import Settings
from freezelint.files import signals_deferred
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


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal: Ctrl-C, `kill`, a closed terminal."""

    def __init__(self, number: int) -> None:
        super().__init__(signal.Signals(number).name)
        self.number = number


def stop_on_signals() -> None:
    """Turn Ctrl-C, `kill` and a closed terminal into `Interrupted` in this (the main) process, so that the run
    winds down instead of dying with its workers still running."""

    owner = os.getpid()

    def handler(number: int, frame: object) -> None:
        if os.getpid() != owner:  # a worker forked a moment ago, before `_worker_init` set its own handlers
            if number != signal.SIGINT:
                signal.signal(number, signal.SIG_DFL)
                os.kill(os.getpid(), number)
            return
        raise Interrupted(number)

    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread can set handlers (freezelint called from a thread of another program)
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)


def _worker_init(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    for name in ("SIGTERM", "SIGHUP"):  # not the parent's handlers: a worker told to stop just stops
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    faulthandler.disable()  # a crash becomes the file's one-line error, not a stack dump
    threading.Thread(target=_stop_without_parent, args=(parent,), name="freezelint-orphan-watch", daemon=True).start()


def _stop_without_parent(parent: int) -> None:
    """A worker whose run was killed outright (SIGKILL) would wait for work forever: it stops itself instead (through
    SIGTERM, so that a file it is writing is finished first)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def lint_files(
    paths: list[str], rules: list[Rule], jobs: int | None = None, settings: Settings | None = None, fix: FixMode | None = None
) -> list[FileResult]:
    """Lint (and fix, with a `fix` mode) files in parallel; results come back in the order of `paths`."""
    if not paths:
        return []
    workers = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    results: dict[str, FileResult] = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_worker_init, initargs=(os.getpid(),))
    try:
        with signals_deferred():  # an interrupt in the middle of starting the pool would leave it half started
            futures = {path: pool.submit(lint_file, path, rules, settings, fix) for path in paths}
        for path, future in futures.items():
            try:
                results[path] = future.result()
            except BrokenProcessPool:
                break
    except BrokenProcessPool:
        pass
    except BaseException:
        # Interrupted: the files in the workers' hands are finished, the queued ones are never started.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    # A worker died (libcst can crash the interpreter on pathological input): redo the rest one file per process.
    for path in paths:
        if path not in results:
            results[path] = _lint_isolated(path, rules, settings, fix)
    return [results[path] for path in paths]


def _isolated_target(
    path: str,
    rules: list[Rule],
    settings: Settings | None,
    fix: FixMode | None,
    sender: multiprocessing.connection.Connection,
    parent: int,
) -> None:
    _worker_init(parent)
    sender.send(lint_file(path, rules, settings, fix))


def _lint_isolated(path: str, rules: list[Rule], settings: Settings | None = None, fix: FixMode | None = None) -> FileResult:
    context = _context()
    receiver, sender = context.Pipe(duplex=False)

    process = context.Process(target=_isolated_target, args=(path, rules, settings, fix, sender, os.getpid()), daemon=True)
    process.start()
    sender.close()
    result: FileResult | None = None
    try:
        if receiver.poll(None):
            result = receiver.recv()
    except EOFError:
        result = None
    except BaseException:
        process.terminate()  # interrupted: a file it is writing is finished first
        process.join()
        raise
    process.join()
    if result is not None:
        return result
    code = process.exitcode or 0
    cause = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    return FileResult(path=path, error=FileError(path, f"the parser crashed on this file ({cause}); it was skipped"))
