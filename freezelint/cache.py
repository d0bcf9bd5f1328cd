"""The cache: what linting a file found, kept between runs so that an unchanged file is never analysed twice.

Like ruff's `.ruff_cache`, it is a directory in the project root, `.freezelint_cache/`, with its own `.gitignore`
(and a `CACHEDIR.TAG`, so backup tools skip it). It holds one index per configuration: the key hashes freezelint's
version and code, the Python and libcst versions, and every setting that changes what a file reports (the rules
selected and their levels, per-file ignores, freeze helpers, full fine-tuning globs, the target transformers
version, the baseline's content). Output format, `--fail-on` and excludes are not in it: they do not change a
file's findings.

An entry is keyed by the file's path (relative to the project root) and is valid only for the content it was
computed from: it stores a hash of the bytes that were linted. To spare reading every file on every run, the entry
also keeps the file's size, modification and change times and inode; when they are all unchanged the file is
trusted unread, as git trusts its index, except for files modified too close to when the index was written (their
next change may keep the same times): those are hashed again. A file whose times changed but whose content did not
(a fresh checkout, a restored CI cache) is hashed, found equal, and not analysed.

Runs may share the cache: an index is replaced whole (written aside, then renamed), merged with what another run
wrote meanwhile, and every entry carries the hash that proves it. An index that cannot be read (corrupt, from another
version, not ours) is ignored and rewritten; one that cannot be written is left alone. Nothing in it is trusted
beyond the few result types freezelint writes: it is unpickled with an allow-list, so a planted file cannot run code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import sys
from typing import TYPE_CHECKING, Any, Iterable

from freezelint import __version__
from freezelint.files import write_atomically
from freezelint.findings import FileResult

if TYPE_CHECKING:
    from freezelint.config import Settings
    from freezelint.rules import Rule

DIRECTORY = ".freezelint_cache"
FORMAT = 1
# Timestamps of some file systems are this coarse (FAT: 2 s): a file stamped this close to the index may change again
# without its times changing, so its content is hashed rather than trusted.
RACY_NS = 2_000_000_000
# Settings that decide which files are linted or how results are shown, not what a file reports.
_NOT_IN_KEY = frozenset({
    "exclude", "extend_exclude", "force_exclude", "include", "extend_include", "respect_gitignore", "fail_on",
    "output_format", "show_fixes", "config_file", "root",
})

Stamp = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode
Entry = tuple[Stamp, bytes, "FileResult | None"]  # the stamp, the content hash, the result (None: nothing found)


def stamp_of(info: os.stat_result) -> Stamp:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def digest_of(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def default_directory(settings: Settings) -> str:
    return os.path.join(settings.root, DIRECTORY)


class Cache:
    """The index for one configuration. `get` a file's result, `put` new ones, `save` once at the end."""

    def __init__(self, directory: str, settings: Settings, rules: Iterable[Rule] | None = None) -> None:
        self.directory = directory
        self.prefix = os.path.join(os.path.abspath(settings.root), "")  # entries are keyed by paths below the root
        self.path = os.path.join(directory, __version__, configuration_key(settings, rules) + ".index")
        self.entries, self.loaded = _load(self.path)
        self.written = self.loaded[1] if self.loaded is not None else 0  # when the index on disk was written
        self.changed: dict[str, Entry] = {}

    def _key(self, path: str) -> str:
        absolute = os.path.abspath(path)
        below = absolute[len(self.prefix) :] if absolute.startswith(self.prefix) else absolute
        return below.replace(os.sep, "/")

    def get(self, path: str) -> FileResult | None:
        """The cached result for the file as it is now, or None."""
        key = self._key(path)
        entry = self.entries.get(key)
        if entry is None:
            return None
        stamp, digest, result = entry
        try:
            now = stamp_of(os.stat(path))
        except OSError:
            return None
        if now != stamp or stamp[1] > self.written - RACY_NS:
            try:
                with open(path, "rb") as handle:
                    if digest_of(handle.read()) != digest:
                        return None
            except OSError:
                return None
            self.changed[key] = (now, digest, result)  # rewritten now, the entry can be trusted unread next time
        return _for_path(result, path)

    def put(self, path: str, stamp: Stamp, digest: bytes, result: FileResult) -> None:
        # A notebook's cell index only places findings: without any, the result is empty (and the index small).
        empty = dataclasses.replace(result, cells=None) == FileResult(path=result.path)
        self.changed[self._key(path)] = (stamp, digest, None if empty else _for_path(result, ""))

    def save(self) -> None:
        """Write the index with this run's entries (merged with what another run wrote since it was read)."""
        if not self.changed:
            return
        try:
            _prepare(self.directory)
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            entries, loaded = _load(self.path)
            if loaded != self.loaded:  # another run saved meanwhile: keep its entries too
                self.entries = {**self.entries, **entries}
            self.entries.update(self.changed)
            data = pickle.dumps((FORMAT, self.entries), protocol=pickle.HIGHEST_PROTOCOL)
            write_atomically(self.path, data, create=True)  # replaced whole, like a fixed file
        except OSError:  # WriteRefused included
            return  # a read-only checkout: lint without a cache
        self.changed = {}


def configuration_key(settings: Settings, rules: Iterable[Rule] | None = None) -> str:
    """A hash of everything besides a file's content that decides what linting it reports."""
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings) if f.name not in _NOT_IN_KEY}
    if settings.baseline is not None:
        try:
            with open(settings.baseline, "rb") as handle:
                fields["baseline"] = (settings.baseline, digest_of(handle.read()))
        except OSError:
            pass
    chosen = None
    if rules is not None:  # rules handed over directly (the API, tests), not chosen by the settings
        chosen = [(r.code, r.level, r.tokens, r.check.__module__, r.check.__qualname__) for r in rules]
    parts = (FORMAT, __version__, _code_fingerprint(), sys.version, _libcst_version(), sorted(fields.items()), chosen)
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def _code_fingerprint() -> list[tuple[str, int, int]]:
    """freezelint's own files (rules, knowledge, data): an edited checkout must not reuse results of its old code."""
    package = os.path.dirname(os.path.abspath(__file__))
    found = []
    for directory, subdirectories, names in os.walk(package):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(names):
            info = os.stat(os.path.join(directory, name))
            found.append((os.path.relpath(os.path.join(directory, name), package), info.st_size, info.st_mtime_ns))
    return found


def _libcst_version() -> tuple | None:
    """The installed libcst, by its version file (cheaper than importlib.metadata, and changed by any reinstall)."""
    import importlib.util

    spec = importlib.util.find_spec("libcst")
    if spec is None or spec.origin is None:
        return None
    path = os.path.join(os.path.dirname(spec.origin), "_version.py")
    try:
        info = os.stat(path)
    except OSError:
        return (spec.origin,)
    return (path, info.st_size, info.st_mtime_ns)


def _for_path(result: FileResult | None, path: str) -> FileResult:
    """A stored result as the result for `path` (entries are stored without a path: the same file may be named
    `src/a.py` in one run and `./src/a.py` in the next)."""
    if result is None:
        return FileResult(path=path)
    findings = [dataclasses.replace(finding, path=path) for finding in result.findings]
    error = dataclasses.replace(result.error, path=path) if result.error is not None else None
    return dataclasses.replace(result, path=path, findings=findings, error=error)


def _prepare(directory: str) -> None:
    """Create the cache directory with its `.gitignore` and `CACHEDIR.TAG` (https://bford.info/cachedir/)."""
    os.makedirs(directory, exist_ok=True)
    for name, content in (
        (".gitignore", "# Created by freezelint: the cache is local to this checkout.\n*\n"),
        ("CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by freezelint.\n"),
    ):
        try:
            with open(os.path.join(directory, name), "x", encoding="utf-8") as handle:
                handle.write(content)
        except FileExistsError:
            pass


_NOTEBOOK_TYPES = {("freezelint.notebook", "FileLayout"), ("freezelint.notebook", "Piece")}  # in a notebook's CellIndex


class _Unpickler(pickle.Unpickler):
    """Only the result types freezelint stores (and nothing that could run code)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module == "freezelint.findings" and not name.startswith("_")) or (module, name) in _NOTEBOOK_TYPES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a freezelint result type")


def _load(path: str) -> tuple[dict[str, Entry], tuple[int, int] | None]:
    """The entries of an index and its identity on disk (size, mtime), or nothing when it cannot be used."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            data = handle.read()
        stored_format, entries = _Unpickler(io.BytesIO(data)).load()
    except Exception:  # noqa: BLE001 - missing, truncated, corrupt or foreign: start afresh
        return {}, None
    if stored_format != FORMAT or not isinstance(entries, dict):
        return {}, None
    valid = {key: entry for key, entry in entries.items() if _is_entry(key, entry)}
    return valid, (info.st_size, info.st_mtime_ns)


def _is_entry(key: object, entry: object) -> bool:
    if not isinstance(key, str) or not isinstance(entry, tuple) or len(entry) != 3:
        return False
    stamp, digest, result = entry
    return (
        isinstance(stamp, tuple) and len(stamp) == 4 and all(isinstance(part, int) for part in stamp)
        and isinstance(digest, bytes) and (result is None or isinstance(result, FileResult))
    )
