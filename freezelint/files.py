"""Finding the files to lint: walk directories, keep the files `include` names, honour excludes and ignore files
(`.gitignore`, `.ignore`, git's excludes: `freezelint.ignore`), keep what the user named."""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import functools
import os
import re
import signal
import stat
import tempfile
import threading
from dataclasses import dataclass
from typing import Iterator

from freezelint import ignore
from freezelint.findings import FileError

PYTHON_SUFFIXES = (".py", ".ipynb")
DEFAULT_INCLUDE = ("*.py", "*.ipynb")


@dataclass(frozen=True)
class Discovery:
    files: list[str]
    errors: list[FileError]
    skipped: int = 0  # paths named explicitly and left out by --force-exclude


def path_matches(path: str, patterns: tuple[str, ...]) -> bool:
    """True when the path, one of the directories it lies in, or any of its components matches one of the glob
    patterns (`build`, `*.ipynb`, `experiments/old`, `tests/*`). Patterns match at any depth: `experiments/old` also
    matches `src/experiments/old/train.py`."""
    normalized = path.replace(os.sep, "/")
    parts = [part for part in normalized.split("/") if part not in ("", ".")]
    names, paths = _compiled(tuple(patterns))
    if names is not None and any(names.match(part) for part in parts):
        return True
    if paths is None:
        return False
    lead = "/" if normalized.startswith("/") else ""
    return any(paths.match(lead + "/".join(parts[: index + 1])) for index in range(len(parts)))


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """The patterns as two regular expressions (fnmatch's own translation): those without `/`, matched against one
    component, and those with `/`, matched against a path from its start or below any directory (`*/pattern`)."""
    names, paths = [], []
    for pattern in patterns:
        pattern = pattern.replace(os.sep, "/").rstrip("/")
        if pattern.startswith("./"):
            pattern = pattern[2:]
        if "/" not in pattern:
            names.append(fnmatch.translate(pattern))
        else:
            paths += [fnmatch.translate(pattern), fnmatch.translate(f"*/{pattern}")]

    def union(expressions: list[str]) -> re.Pattern[str] | None:
        return re.compile("|".join(f"(?:{e})" for e in expressions)) if expressions else None

    return union(names), union(paths)


def is_force_excluded(path: str, excludes: tuple[str, ...], root: str | None = None) -> bool:
    """Whether `--force-exclude` skips a path named explicitly: it matches as given, or relative to the root."""
    if path_matches(path, excludes):
        return True
    if root is not None:
        relative = os.path.relpath(os.path.abspath(path), root)
        return not relative.startswith("..") and path_matches(relative, excludes)
    return False


class WriteRefused(OSError):
    """A file left alone on purpose: without its owner's write permission, or changed since it was read."""


def write_atomically(path: str, data: bytes, expected: bytes | None = None, create: bool = False) -> None:
    """Replace a file's content all at once (a temporary file beside it, then a rename), keeping its permissions and
    owner, through a symbolic link (the link stays a link). A file without its owner's write permission is refused
    (`WriteRefused`), even for root, whom the permission bits do not stop; so is one whose content is no longer
    `expected` (changed by someone else since it was read). A missing file is an error (it was deleted meanwhile),
    unless `create`. Nothing is left behind when the write fails, and an interrupting signal (Ctrl-C, `kill`) waits
    until the file is either still old or wholly new."""
    target = os.path.realpath(path)
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        if not create:
            raise
        info = None
    if info is not None and not info.st_mode & stat.S_IWUSR:
        raise WriteRefused("the file is read-only (no owner write permission)")
    if expected is not None:
        with open(target, "rb") as current:
            if current.read() != expected:
                raise WriteRefused("the file changed while it was being checked")
    directory, name = os.path.split(target)
    with signals_deferred():
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".freezelint", dir=directory)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            if info is None:  # a new file: the permissions any new file gets here
                mask = os.umask(0)
                os.umask(mask)
                os.chmod(temporary, 0o666 & ~mask)
            else:
                os.chmod(temporary, stat.S_IMODE(info.st_mode))
                try:
                    os.chown(temporary, info.st_uid, info.st_gid)
                except OSError:
                    pass  # not allowed to give it away: only the owner's own files are written then anyway
            os.replace(temporary, target)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        _sync_directory(directory)


# Signals that end a run: held back while a file is being replaced, delivered right after.
INTERRUPTING_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back Ctrl-C and termination signals for the duration of the block, then deliver them as they would have
    been (a handler runs, an ignored signal stays ignored, a default action ends the process). Only the main thread
    can set signal handlers; elsewhere the block runs unprotected."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    with signals_blocked():
        previous = {number: signal.signal(number, lambda number, frame: received.append(number)) for number in INTERRUPTING_SIGNALS}
    try:
        yield
    finally:
        with signals_blocked():
            for number, handler in previous.items():
                signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        for number in dict.fromkeys(received):
            signal.raise_signal(number)


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Keep the interrupting signals pending in the kernel while handlers change. One that arrives while Python swaps a
    handler for the default one is otherwise lost, with "OSError: Signal 15 ignored due to race condition" on stderr.
    Threads started inside the block keep them blocked for good (they are the main thread's to handle)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTING_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _sync_directory(directory: str) -> None:
    """Make a rename durable (a crash of the machine right after it keeps the new name)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename itself is still atomic
    finally:
        os.close(descriptor)


def discover(
    paths: list[str],
    excludes: tuple[str, ...],
    force_exclude: bool = False,
    root: str | None = None,
    respect_gitignore: bool = True,
    include: tuple[str, ...] = DEFAULT_INCLUDE,
) -> Discovery:
    """Files to lint under `paths`, sorted, without duplicates: those `include` names, minus excludes and, with
    `respect_gitignore`, what ignore files ignore. A file named explicitly is checked even when it matches an exclude
    or an ignore pattern, unless `force_exclude` (what pre-commit needs, since it passes every file by name); then
    the path is matched as given and relative to the project `root`, and against the ignore files."""
    found: dict[str, None] = {}
    errors: list[FileError] = []
    skipped = 0
    for given in paths:
        if not os.path.lexists(given):
            errors.append(FileError(given, "no such file or directory"))
            continue
        if force_exclude and (is_force_excluded(given, excludes, root) or (respect_gitignore and ignore.is_ignored(given))):
            skipped += 1
            continue
        if os.path.isdir(given):
            _walk(given, excludes, include, found, errors, ignore.for_directory(given) if respect_gitignore else None)
        elif not os.path.exists(given):
            errors.append(FileError(given, _broken_link(given)))
        else:
            found.setdefault(given, None)
    return Discovery(sorted(found), errors, skipped)


def _walk(
    root: str,
    excludes: tuple[str, ...],
    include: tuple[str, ...],
    found: dict[str, None],
    errors: list[FileError],
    ignores: ignore.Ignores | None,
) -> None:
    # Excludes match below the directory the user named, so `freezelint build/` still lints `build/`. A directory is
    # only entered when it is neither excluded nor ignored, so each entry needs checking by its own name and its own
    # path only (and nothing below an ignored directory is re-included, as in git).
    names, paths = _compiled(tuple(excludes))
    included_names, included_paths = _compiled(tuple(include))

    def excluded(name: str, relative: str) -> bool:
        return bool((names is not None and names.match(name)) or (paths is not None and paths.match(relative)))

    def included(name: str, relative: str) -> bool:
        return bool(
            (included_names is not None and included_names.match(name))
            or (included_paths is not None and (included_paths.match(relative)))
        )

    seen_dirs: set[tuple[int, int]] = set()
    stack: list[tuple[str, str, ignore.Ignores | None]] = [(root, "", ignores)]
    while stack:
        directory, relative, inherited = stack.pop()
        try:
            info = os.stat(directory)
            if (info.st_dev, info.st_ino) in seen_dirs:  # a symlink loop
                continue
            seen_dirs.add((info.st_dev, info.st_ino))
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            errors.append(FileError(error.filename or directory, error.strerror or str(error)))
            continue
        here = inherited
        if inherited is not None and relative:  # the named directory's own ignore files are in `ignores` already
            here = inherited.entering(directory, (entry.name for entry in entries))
        absolute = os.path.abspath(directory)
        subdirectories = []
        for entry in entries:
            below = f"{relative}/{entry.name}" if relative else entry.name
            try:
                is_directory = entry.is_dir()  # follows symbolic links
            except OSError:
                is_directory = False
            if is_directory:
                if not excluded(entry.name, below) and not (here and here.ignored(os.path.join(absolute, entry.name), True)):
                    subdirectories.append((entry.path, below, here))
                continue
            if not included(entry.name, below) or excluded(entry.name, below):
                continue
            if here is not None and here.ignored(os.path.join(absolute, entry.name), False):
                continue
            try:
                is_file = entry.is_file()
            except OSError:
                is_file = False
            if not is_file:
                if entry.is_symlink() and not os.path.exists(entry.path):
                    errors.append(FileError(entry.path, _broken_link(entry.path)))
                continue
            found.setdefault(entry.path, None)
        stack.extend(reversed(subdirectories))


def _broken_link(path: str) -> str:
    """Why a symbolic link leads nowhere."""
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symbolic link loop"
    return "dangling symbolic link"
