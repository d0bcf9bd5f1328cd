"""Finding the files to lint: walk directories, honour excludes, keep what the user named."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import stat
import tempfile
from dataclasses import dataclass

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


def write_atomically(path: str, data: bytes, expected: bytes | None = None) -> None:
    """Replace a file's content all at once (a temporary file beside it, then a rename), keeping its permissions and
    owner, through a symbolic link (the link stays a link). A file without its owner's write permission is refused
    (`WriteRefused`), even for root, whom the permission bits do not stop; so is one whose content is no longer
    `expected` (changed by someone else since it was read). Nothing is left behind when the write fails."""
    target = os.path.realpath(path)
    info = os.stat(target)
    if not info.st_mode & stat.S_IWUSR:
        raise WriteRefused("the file is read-only (no owner write permission)")
    if expected is not None:
        with open(target, "rb") as current:
            if current.read() != expected:
                raise WriteRefused("the file changed while it was being checked")
    directory, name = os.path.split(target)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".freezelint", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
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
            errors.append(FileError(given, "dangling symbolic link"))
        else:
            found.setdefault(given, None)
    return Discovery(sorted(found), errors)


def _walk(root: str, excludes: tuple[str, ...], found: dict[str, None], errors: list[FileError]) -> None:
    # Excludes match below the directory the user named, so `freezelint build/` still lints `build/`. A directory is
    # only entered when it is not excluded, so each entry needs checking by its own name and its own path only.
    names, paths = _compiled(tuple(excludes))

    def excluded(name: str, relative: str) -> bool:
        return bool((names is not None and names.match(name)) or (paths is not None and paths.match(relative)))

    seen_dirs: set[tuple[int, int]] = set()
    stack = [(root, "")]
    while stack:
        directory, relative = stack.pop()
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
        subdirectories = []
        for entry in entries:
            below = f"{relative}/{entry.name}" if relative else entry.name
            try:
                is_directory = entry.is_dir()  # follows symbolic links
            except OSError:
                is_directory = False
            if is_directory:
                if not excluded(entry.name, below):
                    subdirectories.append((entry.path, below))
                continue
            if not entry.name.endswith(PYTHON_SUFFIXES) or excluded(entry.name, below):
                continue
            try:
                is_file = entry.is_file()
            except OSError:
                is_file = False
            if not is_file:
                if entry.is_symlink() and not os.path.exists(entry.path):
                    errors.append(FileError(entry.path, "dangling symbolic link"))
                continue
            found.setdefault(entry.path, None)
        stack.extend(reversed(subdirectories))
