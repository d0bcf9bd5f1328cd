"""Finding the files to lint: walk directories, honour excludes, keep what the user named."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

from freezelint.findings import FileError

PYTHON_SUFFIXES = (".py",)


@dataclass(frozen=True)
class Discovery:
    files: list[str]
    errors: list[FileError]


def is_excluded(path: str, patterns: tuple[str, ...]) -> bool:
    """True when the path, or any of its components, matches one of the glob patterns."""
    normalized = path.replace(os.sep, "/")
    parts = [part for part in normalized.split("/") if part not in ("", ".")]
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatchcase(normalized, pattern) or fnmatch.fnmatchcase(normalized, f"*/{pattern}"):
            return True
        if "/" not in pattern and any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
    return False


def discover(paths: list[str], excludes: tuple[str, ...], force_exclude: bool = False) -> Discovery:
    """Files to lint under `paths`, sorted, without duplicates. A file named explicitly is checked even when it
    matches an exclude, unless `force_exclude` (what pre-commit needs, since it passes every file by name)."""
    found: dict[str, None] = {}
    errors: list[FileError] = []
    for given in paths:
        if not os.path.lexists(given):
            errors.append(FileError(given, "no such file or directory"))
            continue
        if os.path.isdir(given):
            if force_exclude and is_excluded(given, excludes):
                continue
            _walk(given, excludes, found, errors)
        elif force_exclude and is_excluded(given, excludes):
            continue
        elif not os.path.exists(given):
            errors.append(FileError(given, "dangling symbolic link"))
        else:
            found.setdefault(given, None)
    return Discovery(sorted(found), errors)


def _walk(root: str, excludes: tuple[str, ...], found: dict[str, None], errors: list[FileError]) -> None:
    seen_dirs: set[tuple[int, int]] = set()

    def on_error(error: OSError) -> None:
        errors.append(FileError(error.filename or root, error.strerror or str(error)))

    for directory, subdirs, filenames in os.walk(root, followlinks=True, onerror=on_error):
        try:
            stat = os.stat(directory)
        except OSError:
            subdirs[:] = []
            continue
        key = (stat.st_dev, stat.st_ino)
        if key in seen_dirs:  # a symlink loop
            subdirs[:] = []
            continue
        seen_dirs.add(key)
        # Excludes match below the directory the user named, so `freezelint build/` still lints `build/`.
        relative = os.path.relpath(directory, root)
        subdirs[:] = sorted(d for d in subdirs if not is_excluded(os.path.join(relative, d), excludes))
        for name in sorted(filenames):
            if not name.endswith(PYTHON_SUFFIXES):
                continue
            path = os.path.join(directory, name)
            if is_excluded(os.path.join(relative, name), excludes):
                continue
            if not Path(path).is_file():
                if os.path.islink(path) and not os.path.exists(path):
                    errors.append(FileError(path, "dangling symbolic link"))
                continue
            found.setdefault(path, None)
