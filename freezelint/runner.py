"""Lint many files: on every core, in worker processes, so that a crash inside the parser costs only the file that
caused it; unchanged files come from the cache without being read again.

The pool is small and made for this: a worker is started once (forked where possible, after the parent has imported
the analysis, so nothing is imported twice) and takes chunks of files, largest first so that the cores finish
together, and hands back one result per file as soon as it has it. When a worker dies, the file it was on is the one
that killed it: that file gets a one-line error, the rest of its chunk goes back in the queue, and a new worker takes
its place. Results come back in the order of the paths given, whatever order the workers finish in.

A run stopped by Ctrl-C or `kill` stops cleanly: a file being written is finished (`files.write_atomically` holds
the signal back until it is wholly old or wholly new), files not yet started never are, no worker is left behind.
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
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

from freezelint.files import signals_blocked, signals_deferred
from freezelint.findings import FileError, FileResult

if TYPE_CHECKING:
    from freezelint.cache import Cache, Stamp
    from freezelint.config import Settings
    from freezelint.fixes import FixMode
    from freezelint.rules import Rule

# A chunk is a few files or one large one: small enough to balance the cores, large enough that a message per file
# is the only overhead.
CHUNK_FILES = 32
CHUNK_BYTES = 256 * 1024


def lint_file(path: str, rules: list[Rule], settings: Settings | None = None, fix: FixMode | None = None) -> FileResult:
    """Read and lint one file (and fix it, with a `fix` mode); any failure to read is a one-line error for that
    file."""
    return _lint_file(path, rules, settings, fix).result


@dataclass
class _Linted:
    result: FileResult
    stamp: Stamp | None = None  # the file's metadata just before it was read (None: it could not be read)
    digest: bytes | None = None  # the hash of the bytes that were linted


def _lint_file(path: str, rules: list[Rule], settings: Settings | None, fix: FixMode | None = None) -> _Linted:
    from freezelint.cache import digest_of, stamp_of
    from freezelint.linter import lint_bytes

    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) and not os.path.isdir(path):
            return _Linted(FileResult(path=path, error=FileError(path, "not a regular file")))
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return _Linted(FileResult(path=path, error=FileError(path, "no such file (deleted during the run?)")))
    except IsADirectoryError:
        return _Linted(FileResult(path=path, error=FileError(path, "is a directory")))
    except OSError as error:
        return _Linted(FileResult(path=path, error=FileError(path, f"cannot be read: {error.strerror or error}")))
    if fix is not None:
        from freezelint.fixes import fix_file

        return _Linted(fix_file(path, data, rules, fix, settings))  # it may rewrite the file: nothing to cache
    # Stat before reading: if the file changes while it is read, the next run sees a newer stamp and hashes again.
    return _Linted(lint_bytes(path, data, rules, settings), stamp_of(info), digest_of(data))


def lint_files(
    paths: list[str],
    rules: list[Rule] | None = None,
    jobs: int | None = None,
    settings: Settings | None = None,
    cache: Cache | None = None,
    fix: FixMode | None = None,
    while_linting: Callable[[], None] | None = None,
) -> list[FileResult]:
    """Lint (and fix, with a `fix` mode) files in parallel (`jobs` workers, default one per core); results come back
    in the order of `paths`.

    `rules` default to the settings' selection, imported only when some file is not in the `cache`. A fix mode
    never reads the cache: a file it rewrites must be analysed as it is now. `while_linting` runs in this process
    once the workers have started (the runtime mode imports torch then), or before returning when no file needed
    one."""
    if not paths:
        return []
    if fix is not None:
        cache = None
    results: dict[int, FileResult] = {}
    if cache is not None:
        for index, path in enumerate(paths):
            hit = cache.get(path)
            if hit is not None:
                results[index] = hit
    todo = [index for index in range(len(paths)) if index not in results]
    if todo:
        if settings is None:
            from freezelint.config import Settings

            settings = Settings()
        if rules is None:
            rules = settings.rules()
        for index, linted in _run(paths, todo, rules, settings, jobs, fix, while_linting):
            results[index] = linted.result
            if cache is not None and linted.digest is not None and linted.stamp is not None:
                cache.put(paths[index], linted.stamp, linted.digest, linted.result)
    elif while_linting is not None:
        while_linting()
    if cache is not None:
        cache.save()
    return [results[index] for index in range(len(paths))]


# --- the pool ---------------------------------------------------------------------------------------------------------


def _context() -> multiprocessing.context.ForkContext | multiprocessing.context.DefaultContext:
    # fork is cheapest (the parent has imported everything by then); elsewhere fall back to the platform default.
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
    with signals_blocked():  # a stop arriving now is delivered under the worker's own handlers, not lost
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
        for name in ("SIGTERM", "SIGHUP"):  # not the parent's handlers: a worker told to stop just stops
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        faulthandler.disable()  # a crash becomes the file's one-line error, not a stack dump
        # Started with the signals blocked, the watch never takes a stop meant for the thread that may be writing.
        threading.Thread(target=_stop_without_parent, args=(parent,), name="freezelint-orphan-watch", daemon=True).start()


def _stop_without_parent(parent: int) -> None:
    """A worker whose run was killed outright (SIGKILL) would wait for work forever: it stops itself instead (through
    SIGTERM, so that a file it is writing is finished first)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(
    tasks: multiprocessing.connection.Connection,
    results: multiprocessing.connection.Connection,
    rules: list[Rule],
    settings: Settings,
    fix: FixMode | None,
    parent: int,
) -> None:
    _worker_init(parent)
    while True:
        chunk = tasks.recv()
        if chunk is None:
            return
        for path in chunk:
            results.send(_lint_file(path, rules, settings, fix))


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    tasks: multiprocessing.connection.Connection  # chunks of paths to the worker
    results: multiprocessing.connection.Connection  # one result per file back from it
    chunk: deque[int]  # the files sent and not yet answered, in order: the first is the one being linted


def _chunks(paths: list[str], todo: list[int]) -> deque[list[int]]:
    """The files in chunks, largest files first (the longest jobs start first, so the cores finish together)."""
    sizes = {}
    for index in todo:
        try:
            sizes[index] = os.stat(paths[index]).st_size
        except OSError:
            sizes[index] = 0
    chunks: deque[list[int]] = deque()
    current: list[int] = []
    weight = 0
    for index in sorted(todo, key=lambda i: (-sizes[i], i)):
        if current and (len(current) >= CHUNK_FILES or weight + sizes[index] > CHUNK_BYTES):
            chunks.append(current)
            current, weight = [], 0
        current.append(index)
        weight += sizes[index]
    if current:
        chunks.append(current)
    return chunks


def _run(
    paths: list[str], todo: list[int], rules: list[Rule], settings: Settings, jobs: int | None, fix: FixMode | None = None,
    while_linting: Callable[[], None] | None = None,
) -> Iterator[tuple[int, _Linted]]:
    chunks = _chunks(paths, todo)
    context = _context()

    def start() -> _Worker:
        # Two one-way pipes, not a duplex one: that would be a socket pair, and the static mode opens no socket.
        task_reader, task_writer = context.Pipe(duplex=False)
        result_reader, result_writer = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker_main, args=(task_reader, result_writer, rules, settings, fix, os.getpid()), daemon=True
        )
        process.start()
        task_reader.close()
        result_writer.close()
        return _Worker(process, task_writer, result_reader, deque())

    def feed(position: int) -> None:
        worker = workers[position]
        if chunks and not worker.chunk:
            chunk = chunks.popleft()
            try:
                worker.tasks.send([paths[index] for index in chunk])
            except OSError:  # it died while idle (killed from outside): the chunk waits for its successor
                chunks.appendleft(chunk)
                replace(position)
                return
            worker.chunk.extend(chunk)

    def replace(position: int) -> None:
        workers[position].tasks.close()
        workers[position].results.close()
        workers[position].process.join()
        workers[position] = start()
        feed(position)

    count = max(1, min(jobs or os.cpu_count() or 1, len(chunks)))
    workers: list[_Worker] = []
    try:
        with signals_deferred():  # an interrupt in the middle of starting the pool would leave it half started
            workers.extend(start() for _ in range(count))
        for position in range(count):
            feed(position)
        if while_linting is not None:  # here, not in a thread: no worker is forked while it imports
            while_linting()
        while any(worker.chunk for worker in workers):
            busy = [worker for worker in workers if worker.chunk]
            ready = multiprocessing.connection.wait([w.results for w in busy] + [w.process.sentinel for w in busy])
            for position, worker in enumerate(workers):
                if not worker.chunk or (worker.results not in ready and worker.process.sentinel not in ready):
                    continue
                try:
                    while worker.chunk and worker.results.poll():
                        linted = worker.results.recv()
                        yield worker.chunk.popleft(), linted
                except (EOFError, OSError):
                    pass
                if worker.chunk and not worker.process.is_alive():
                    crashed = _crashed(paths, worker)
                    yield worker.chunk.popleft(), crashed
                    if worker.chunk:  # the rest of its chunk was not reached: another worker takes it
                        chunks.appendleft(list(worker.chunk))
                        worker.chunk.clear()
                    replace(position)
                else:
                    feed(position)
    except BaseException:
        # Interrupted: a worker writing a file finishes it (`files.write_atomically` holds SIGTERM back until the
        # file is wholly old or new), then stops; files not started never are.
        for worker in workers:
            worker.process.terminate()
        raise
    finally:
        for worker in workers:
            try:
                worker.tasks.send(None)
            except OSError:
                pass
        for worker in workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join()
            worker.tasks.close()
            worker.results.close()


def _crashed(paths: list[str], worker: _Worker) -> _Linted:
    path = paths[worker.chunk[0]]
    worker.process.join()
    code = worker.process.exitcode or 0
    try:
        cause = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    except ValueError:
        cause = f"signal {-code}"
    return _Linted(FileResult(path=path, error=FileError(path, f"the parser crashed on this file ({cause}); it was skipped")))
