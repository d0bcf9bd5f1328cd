"""Ignore files, read as git reads them: `.gitignore` at every level of a git repository, `.git/info/exclude`, git's
global excludes file (`core.excludesFile`, by default `~/.config/git/ignore`), and `.ignore` files (ripgrep's and
ruff's), which apply inside and outside a repository and win over a `.gitignore` of the same directory.

Each file's patterns are matched by `pathspec` (git's wildmatch: anchoring, `**`, negation, directory-only patterns,
escapes), relative to the file's directory. Between files git's precedence holds: the deepest file with a matching
pattern decides, then `.git/info/exclude`, then the global file; within a file the last matching pattern wins. A
directory that is ignored is never entered, so nothing below it can be re-included (`build/` then `!build/keep.py`
leaves `keep.py` ignored, as in git); the walk asks `Ignores.ignored` level by level for that reason.

The patterns decide whether a file is tracked or not (as ruff does; git itself never ignores a tracked file). Git is
not run: its configuration files are read for `core.excludesFile` only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import pathspec

IGNORE_FILES = (".ignore", ".gitignore")  # in a directory, the first one wins where both match


@dataclass(frozen=True)
class PatternFile:
    """The patterns of one ignore file, anchored at `base` (the absolute directory they are relative to)."""

    base: str
    spec: pathspec.GitIgnoreSpec
    # Most paths match no pattern, and two tests say so: the patterns without a slash (most of them) in one expression
    # for the last component, the others in one for the whole relative path. Only a path that passes is matched
    # pattern by pattern.
    names: re.Pattern[str] | None
    paths: re.Pattern[str] | None

    def decision(self, path: str, is_directory: bool) -> bool | None:
        """True: ignored; False: re-included by a negation; None: no pattern matches `path` (absolute)."""
        prefix = self.base if self.base.endswith(os.sep) else self.base + os.sep
        if not path.startswith(prefix):
            return None
        relative = path[len(prefix):]
        if os.sep != "/":
            relative = relative.replace(os.sep, "/")
        if is_directory:
            relative += "/"
        name = relative[relative.rfind("/", 0, len(relative) - 1) + 1:]
        if not ((self.names is not None and self.names.match(name)) or (self.paths is not None and self.paths.match(relative))):
            return None
        # The last pattern that matches the whole path decides. A pattern that matches a directory above it (which
        # pathspec counts) does not: the walk never enters an ignored directory, and one named on the command line
        # is linted whole, as with excludes.
        for pattern in reversed(self.spec.patterns):
            regex = getattr(pattern, "regex", None)
            if pattern.include is not None and isinstance(regex, re.Pattern) and regex.fullmatch(relative):
                return bool(pattern.include)
        return None


@dataclass(frozen=True)
class Ignores:
    """The ignore files in force in one directory, most decisive first: the directory's own, its parents' up to the
    repository's root, then the repository's `info/exclude` and git's global excludes file."""

    files: tuple[PatternFile, ...]
    repository: str | None  # the git repository's root (None outside one: only `.ignore` files apply)

    def ignored(self, path: str, is_directory: bool) -> bool:
        """Whether `path` (absolute, directly in this directory) is ignored."""
        for pattern_file in self.files:
            decision = pattern_file.decision(path, is_directory)
            if decision is not None:
                return decision
        return False

    def entering(self, directory: str, names: Iterable[str]) -> Ignores:
        """The ignore files in force inside `directory` (absolute, a subdirectory of this one), given the names of
        what it holds."""
        own = _directory_files(directory, set(names), self.repository is not None)
        return Ignores(own + self.files, self.repository) if own else self


def _levels(path: str) -> tuple[str | None, list[str]]:
    """The repository holding `path`, and the directories from the repository's root (or the file system's root)
    down to `path`, `path` included."""
    repository = repository_root(path if os.path.isdir(path) else os.path.dirname(path))
    levels = [path]
    while levels[-1] != repository and os.path.dirname(levels[-1]) != levels[-1]:
        levels.append(os.path.dirname(levels[-1]))
    return repository, levels[::-1]


def _start(repository: str | None) -> Ignores:
    return Ignores(_repository_files(repository) if repository else (), repository)


def _listing(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


def for_directory(directory: str) -> Ignores:
    """The ignore files in force in `directory`: those of the directories from the repository's root (or, outside a
    repository, from the file system's root) down to it, and the repository's and global excludes files."""
    repository, levels = _levels(os.path.abspath(directory))
    ignores = _start(repository)
    for level in levels:
        ignores = ignores.entering(level, _listing(level))
    return ignores


def is_ignored(path: str) -> bool:
    """Whether a path named on the command line is ignored: itself, or a directory above it (the walk never enters an
    ignored directory, so nothing below one counts as re-included)."""
    repository, levels = _levels(os.path.abspath(path))
    ignores = _start(repository)
    for parent, level in zip(levels, levels[1:]):
        ignores = ignores.entering(parent, _listing(parent))
        if ignores.ignored(level, os.path.isdir(level)):
            return True
    return False


def repository_root(directory: str) -> str | None:
    """The root of the git repository holding `directory` (where `.git` is), or None."""
    current = os.path.abspath(directory)
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _directory_files(directory: str, names: set[str], in_repository: bool) -> tuple[PatternFile, ...]:
    found = []
    for name in IGNORE_FILES:
        if name in names and (name != ".gitignore" or in_repository):
            pattern_file = _read(os.path.join(directory, name), os.path.abspath(directory))
            if pattern_file is not None:
                found.append(pattern_file)
    return tuple(found)


def _repository_files(repository: str) -> tuple[PatternFile, ...]:
    """`info/exclude` of the repository (a worktree's is its main repository's), then the global excludes file."""
    found = []
    exclude = _read(os.path.join(_common_git_directory(repository), "info", "exclude"), repository)
    if exclude is not None:
        found.append(exclude)
    global_file = global_excludes_file(repository)
    if global_file is not None:
        read = _read(global_file, repository)
        if read is not None:
            found.append(read)
    return tuple(found)


def _read(path: str, base: str) -> PatternFile | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    import pathspec  # about 30 modules: imported only where an ignore file exists

    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    names, paths = [], []
    for pattern in spec.patterns:
        regex = getattr(pattern, "regex", None)
        if pattern.include is None or not isinstance(regex, re.Pattern):
            continue
        expression = _NAMED_GROUP.sub("(?:", regex.pattern)
        rest = expression[len(_ANY_DIRECTORY):]
        if expression.startswith(_ANY_DIRECTORY) and "/" not in rest.replace("[^/]", "").replace("(?:/)", ""):
            names.append("^" + rest)  # matches at any depth: its last component decides
        else:
            paths.append(expression)
    return PatternFile(base, spec, _union(names), _union(paths))


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_ANY_DIRECTORY = "^(?:.+/)?"  # how pathspec starts a pattern without a slash


def _union(expressions: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{expression})" for expression in expressions)) if expressions else None


def _common_git_directory(repository: str) -> str:
    """The `.git` directory holding `info/exclude`: `.git` itself, or for a worktree (`.git` is a file naming its git
    directory) the main repository's."""
    dot_git = os.path.join(repository, ".git")
    if not os.path.isfile(dot_git):
        return dot_git
    try:
        with open(dot_git, encoding="utf-8") as handle:
            match = re.match(r"gitdir:\s*(.+)", handle.read().strip())
    except OSError:
        return dot_git
    if match is None:
        return dot_git
    git_directory = os.path.join(repository, match.group(1))
    try:
        with open(os.path.join(git_directory, "commondir"), encoding="utf-8") as handle:
            return os.path.normpath(os.path.join(git_directory, handle.read().strip()))
    except OSError:
        return git_directory


def global_excludes_file(repository: str) -> str | None:
    """git's global excludes file: `core.excludesFile` from the repository's, the user's or the XDG configuration
    (the most specific wins, as in git), else `$XDG_CONFIG_HOME/git/ignore` (`~/.config/git/ignore`)."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    user = os.environ.get("GIT_CONFIG_GLOBAL")
    configs = [os.path.join(xdg, "git", "config"), *([user] if user else [os.path.join(home, ".gitconfig")])]
    configs.append(os.path.join(_common_git_directory(repository), "config"))
    chosen = None
    for config in configs:
        value = _core_excludes_file(config)
        if value is not None:
            chosen = value
    if chosen is None:
        return os.path.join(xdg, "git", "ignore")
    return os.path.expanduser(chosen) if chosen else None


_SECTION = re.compile(r'\s*\[\s*([A-Za-z0-9.-]+)(?:\s+"[^"]*")?\s*\]')
_KEY = re.compile(r"\s*excludesfile\s*=\s*(.*?)\s*$", re.I)


def _core_excludes_file(config: str) -> str | None:
    """`core.excludesFile` in one git configuration file (the last one set), or None."""
    try:
        with open(config, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    section = ""
    value = None
    for line in lines:
        header = _SECTION.match(line)
        if header:
            section = header.group(1).lower()
            line = line[header.end():]
        if section == "core":
            key = _KEY.match(line)
            if key:
                value = key.group(1).split(" #")[0].split(" ;")[0].strip().strip('"')
    return value
