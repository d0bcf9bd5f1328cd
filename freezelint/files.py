"""Finding the files to lint: walk directories, honour excludes, keep what the user named."""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import signal
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from freezelint.findings import FileError

PYTHON_SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class Discovery:
    files: list[str]
    errors: list[FileError]


def path_matches(path: str, patterns: tuple[str, ...]) -> bool:
    """True when the path, one of the directories it lies in, or any of its components matches one of the glob
    patterns (`build`, `*.ipynb`, `experiments/old`, `tests/*`). Patterns match at any depth: `experiments/old` also
    matches `src/experiments/old/train.py`."""
    normalized = path.replace(os.sep, "/")
    parts = [part for part in normalized.split("/") if part not in ("", ".")]
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    if normalized.startswith("/"):
        prefixes = ["/" + prefix for prefix in prefixes]
    for pattern in patterns:
        pattern = pattern.replace(os.sep, "/").rstrip("/")
        if pattern.startswith("./"):
            pattern = pattern[2:]
        if "/" not in pattern:
            if any(fnmatch.fnmatchcase(part, pattern) for part in parts):
                return True
            continue
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pattern) or fnmatch.fnmatchcase(prefix, f"*/{pattern}"):
                return True
    return False


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
    previous = {number: signal.signal(number, lambda number, frame: received.append(number)) for number in INTERRUPTING_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        for number in dict.fromkeys(received):
            signal.raise_signal(number)


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


def discover(paths: list[str], excludes: tuple[str, ...], force_exclude: bool = False, root: str | None = None) -> Discovery:
    """Files to lint under `paths`, sorted, without duplicates. A file named explicitly is checked even when it
    matches an exclude, unless `force_exclude` (what pre-commit needs, since it passes every file by name); then
    the path is matched as given and relative to the project `root`."""
    found: dict[str, None] = {}
    errors: list[FileError] = []
    for given in paths:
        if not os.path.lexists(given):
            errors.append(FileError(given, "no such file or directory"))
            continue
        if force_exclude and is_force_excluded(given, excludes, root):
            continue
        if os.path.isdir(given):
            _walk(given, excludes, found, errors)
        elif not os.path.exists(given):
            errors.append(FileError(given, _broken_link(given)))
        else:
            found.setdefault(given, None)
    return Discovery(sorted(found), errors)


def _walk(root: str, excludes: tuple[str, ...], found: dict[str, None], errors: list[FileError]) -> None:
    seen_dirs: set[tuple[int, int]] = set()

    def on_error(error: OSError) -> None:
        errors.append(FileError(error.filename or root, error.strerror or str(error)))

    for directory, subdirs, filenames in os.walk(root, followlinks=True, onerror=on_error):
        try:
            info = os.stat(directory)
        except OSError:
            subdirs[:] = []
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:  # a symlink loop
            subdirs[:] = []
            continue
        seen_dirs.add(key)
        # Excludes match below the directory the user named, so `freezelint build/` still lints `build/`.
        relative = os.path.relpath(directory, root)
        subdirs[:] = sorted(d for d in subdirs if not path_matches(os.path.join(relative, d), excludes))
        for name in sorted(filenames):
            if not name.endswith(PYTHON_SUFFIXES):
                continue
            path = os.path.join(directory, name)
            if path_matches(os.path.join(relative, name), excludes):
                continue
            if not Path(path).is_file():
                if os.path.islink(path) and not os.path.exists(path):
                    errors.append(FileError(path, _broken_link(path)))
                continue
            found.setdefault(path, None)


def _broken_link(path: str) -> str:
    """Why a symbolic link leads nowhere."""
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symbolic link loop"
    return "dangling symbolic link"
