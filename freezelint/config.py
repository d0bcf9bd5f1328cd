"""Settings for one run: which rules, which files, what fails, and what the analysis should know about the project.

They come from `[tool.freezelint]` in the nearest `pyproject.toml` above the linted paths (or `--config PATH`), then
from command-line flags, which win. An unknown key or a bad value is a `ConfigError` naming the key and the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from freezelint import knowledge
from freezelint.files import DEFAULT_INCLUDE
from freezelint.findings import Level
from freezelint.report import FORMATS
from freezelint.rules import Rule, chooses, select_rules, specificity, validate_codes

if TYPE_CHECKING:
    from freezelint.facts import Options

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "__pycache__",
    "build",
    "dist",
    "node_modules",
    ".tox",
    ".nox",
    "site-packages",
    ".eggs",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".freezelint_cache",
    ".ipynb_checkpoints",
)

OUTPUT_FORMATS = tuple(FORMATS)
FULL_FINETUNE_MARKER = "full-finetune"  # the `# freezelint: full-finetune` comment FRZ302 honours


class ConfigError(Exception):
    """A configuration file that cannot be used; `path` names it and the message says which key and why."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class RuleSelection:
    """One layer of rule choice (the configuration file's, then the command line's), applied as ruff does:
    `select` replaces what earlier layers chose, `extend-select` adds, `ignore` removes; within a layer the most
    specific selector wins (`select = ["FRZ1"]`, `ignore = ["FRZ108"]` keeps FRZ101)."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()


# Which findings to report by the strength of their evidence (`--evidence`, `evidence = ...`).
EVIDENCE_CHOICES = ("any", "traced")


@dataclass(frozen=True)
class Settings:
    selections: tuple[RuleSelection, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (glob, selectors)
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool = False
    include: tuple[str, ...] = DEFAULT_INCLUDE  # the files a directory's walk lints
    extend_include: tuple[str, ...] = ()
    respect_gitignore: bool = True  # skip what .gitignore, .ignore and git's excludes files ignore
    fail_on: Level = Level.WARNING
    evidence: str = "any"  # "traced": report only findings whose evidence the analysis traced (CI gates)
    levels: tuple[tuple[str, Level], ...] = ()  # (code or prefix, level): the most specific wins
    full_finetune: tuple[str, ...] = ()  # globs of files where full fine-tuning is intended
    freeze_helpers: tuple[str, ...] = ()  # qualified names of the project's own functions that freeze their argument
    target_transformers: int = knowledge.TRANSFORMERS_MAJORS[-1]
    output_format: str = "text"
    show_fixes: bool = False
    baseline: str | None = None  # the baseline file (known findings); loaded by `freezelint.baseline`
    root: str = field(default_factory=os.getcwd)  # where path patterns are anchored: the configuration's directory
    config_file: str | None = None  # the file these settings were read from, if any
    prefilter: bool = True  # skip what no selected rule's tokens allow (`freezelint.prefilter`); off only to check it

    # -- rules ------------------------------------------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        """The selected rules, with the configured levels."""
        chosen: set[str] | None = None
        selected: list[Rule] = []
        for layer in self.selections or (RuleSelection(),):
            selected = select_rules(layer.select, layer.ignore, layer.extend_select, base=chosen)
            chosen = {rule.code for rule in selected}
        return [self._with_level(rule) for rule in selected]

    def _with_level(self, rule: Rule) -> Rule:
        if not any(specificity(rule.code, (selector,)) >= 0 for selector, _ in self.levels):
            return rule
        # Configured: this level wins over a finding's own (version-dependent) level too.
        return dataclasses.replace(rule, level=self.level_for(rule.code, rule.level), level_configured=True)

    def level_for(self, code: str, default: Level) -> Level:
        """The configured level of a code (the most specific `levels` entry), or `default`."""
        best, level = -1, default
        for selector, configured in self.levels:
            how = specificity(code, (selector,))
            if how > best:
                best, level = how, configured
        return level

    def selects(self, code: str, path: str | None = None) -> bool:
        """Whether the selection keeps `code` (for `path`: and per-file-ignores do not turn it off). Unlike `rules()`,
        it answers for any code, runtime-only ones and codes no static rule has yet (the runtime mode finds those)."""
        kept: bool | None = None
        for layer in self.selections or (RuleSelection(),):
            kept = chooses(code, layer.select, layer.ignore, layer.extend_select, kept)
        if kept and path is not None:
            off = [s for pattern, selectors in self.per_file_ignores if self.matches(path, (pattern,)) for s in selectors]
            kept = specificity(code, off) < 0
        return bool(kept)

    def rules_for(self, path: str, rules: list[Rule]) -> list[Rule]:
        """`rules` without the ones `per-file-ignores` turns off for this file."""
        ignored = [selectors for pattern, selectors in self.per_file_ignores if self.matches(path, (pattern,))]
        if not ignored:
            return rules
        off = [selector for selectors in ignored for selector in selectors]
        return [rule for rule in rules if specificity(rule.code, off) < 0]

    def options_for(self, path: str) -> Options:
        """What the analysis of this file should know about the project."""
        from freezelint.facts import Options  # imports libcst: only where a file is analysed
        markers = frozenset({FULL_FINETUNE_MARKER}) if self.matches(path, self.full_finetune) else frozenset()
        return Options(
            target_transformers=self.target_transformers, freeze_helpers=frozenset(self.freeze_helpers), markers=markers
        )

    # -- paths ------------------------------------------------------------------------------------------------------

    @property
    def excludes(self) -> tuple[str, ...]:
        return self.exclude + self.extend_exclude

    @property
    def includes(self) -> tuple[str, ...]:
        return self.include + self.extend_include

    def relative(self, path: str) -> str:
        """The path relative to the project root with `/` separators (as given, when it lies outside the root)."""
        absolute = os.path.abspath(path)
        try:
            relative = os.path.relpath(absolute, self.root)
        except ValueError:  # another drive on Windows
            relative = absolute
        if relative.startswith(".."):
            relative = path
        return relative.replace(os.sep, "/")

    def matches(self, path: str, patterns: tuple[str, ...]) -> bool:
        from freezelint.files import path_matches

        return bool(patterns) and path_matches(self.relative(path), patterns)


# --- reading the configuration -----------------------------------------------------------------------------------


def find_config(start: str) -> str | None:
    """The nearest `pyproject.toml` with a `[tool.freezelint]` table in `start` or a directory above it."""
    directory = os.path.abspath(start)
    if not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate) and _has_freezelint_table(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _has_freezelint_table(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    if b"freezelint" not in data:
        return False
    # Invalid TOML in a file that mentions freezelint is an error worth reporting: load it to say so.
    return "freezelint" in _load_toml(path).get("tool", {})


def _load_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(path, f"cannot be read: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, f"invalid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "invalid TOML: not valid UTF-8") from None


def project_root(start: str) -> str:
    """The nearest directory at or above `start` that looks like a project root (pyproject, requirements, git)."""
    directory = os.path.abspath(start)
    if not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    markers = ("pyproject.toml", "requirements.txt", "setup.py", "setup.cfg", "environment.yml", ".git")
    candidate = directory
    while True:
        if any(os.path.exists(os.path.join(candidate, marker)) for marker in markers):
            return candidate
        parent = os.path.dirname(candidate)
        if parent == candidate:
            return directory
        candidate = parent


def load_settings(start: str, config: str | None = None, isolated: bool = False) -> Settings:
    """Settings from the configuration for the paths below `start` (or from `config`); defaults when `isolated`."""
    if isolated:
        return Settings()
    path = config if config is not None else find_config(start)
    if path is None:
        root = project_root(start)
        return Settings(root=root, target_transformers=detect_target_transformers(root) or Settings.target_transformers)
    data = _load_toml(path)
    if "tool" in data or os.path.basename(path) == "pyproject.toml":
        table = data.get("tool", {}).get("freezelint", {})
    else:  # a dedicated file (`--config freezelint.toml`): the keys at top level
        table = data
    if not isinstance(table, dict):
        raise ConfigError(path, "[tool.freezelint] must be a table")
    root = os.path.dirname(os.path.abspath(path))
    values = parse_table(table, path)
    if "target_transformers" not in values:
        values["target_transformers"] = detect_target_transformers(root) or Settings.target_transformers
    return Settings(root=root, config_file=path, **values)


def _key_error(path: str, key: str) -> Fail:
    """How a parser says that the value of `key` is wrong."""
    return lambda message: ConfigError(path, f"[tool.freezelint] {key!r} {message}")


# Each key: (field name, parser). A parser gets the value and a function that raises a ConfigError about this key.
Fail = Callable[[str], Exception]


def _strings(value: Any, fail: Fail) -> tuple[str, ...]:
    if isinstance(value, str):
        raise fail(f"must be a list of strings, not a string (write [{value!r}])")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail("must be a list of strings")
    return tuple(value)


def _codes(value: Any, fail: Fail) -> tuple[str, ...]:
    codes = tuple(code.strip().upper() for code in _strings(value, fail))
    unknown = validate_codes(codes)
    if unknown:
        raise fail(f"has an unknown rule code or prefix: {', '.join(unknown)} (see `freezelint rules`)")
    return codes


def _level(value: Any, fail: Fail) -> Level:
    names = [str(level) for level in sorted(Level, reverse=True)]
    if not isinstance(value, str) or value.lower() not in names:
        raise fail(f"must be one of {', '.join(repr(n) for n in names)}, not {value!r}")
    return Level.parse(value)


def _evidence(value: Any, fail: Fail) -> str:
    if value not in EVIDENCE_CHOICES:
        raise fail(f"must be one of {', '.join(repr(choice) for choice in EVIDENCE_CHOICES)}, not {value!r}")
    return str(value)


def _levels(value: Any, fail: Fail) -> tuple[tuple[str, Level], ...]:
    if not isinstance(value, dict):
        raise fail('must be a table of rule codes to levels, like { FRZ302 = "warning" }')
    result = []
    for code, level in value.items():
        _codes([code], lambda message: fail(f"key {code!r} {message}"))
        result.append((code.upper(), _level(level, lambda message: fail(f"value for {code} {message}"))))
    return tuple(result)


def _per_file_ignores(value: Any, fail: Fail) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise fail('must be a table of file patterns to rule codes, like { "tests/*" = ["FRZ302"] }')
    return tuple((pattern, _codes(codes, lambda message: fail(f"entry {pattern!r} {message}"))) for pattern, codes in value.items())


def _bool(value: Any, fail: Fail) -> bool:
    if not isinstance(value, bool):
        raise fail(f"must be true or false, not {value!r}")
    return value


def _target(value: Any, fail: Fail) -> int:
    majors = knowledge.TRANSFORMERS_MAJORS
    if isinstance(value, bool) or not isinstance(value, int) or value not in majors:
        raise fail(f"must be a transformers major version, {' or '.join(map(str, majors))}, not {value!r}")
    return value


def _output_format(value: Any, fail: Fail) -> str:
    if value not in OUTPUT_FORMATS:
        raise fail(f"must be one of {', '.join(OUTPUT_FORMATS)}, not {value!r}")
    return value


def _path(value: Any, fail: Fail) -> str:
    if not isinstance(value, str) or not value:
        raise fail("must be a file path (a string)")
    return value


def _helpers(value: Any, fail: Fail) -> tuple[str, ...]:
    names = _strings(value, fail)
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise fail(f"entry {name!r} is not a qualified name like 'myproject.training.freeze_backbone'")
    return names


KEYS: dict[str, tuple[str, Callable[[Any, Fail], Any]]] = {
    "select": ("select", _codes),
    "ignore": ("ignore", _codes),
    "extend-select": ("extend_select", _codes),
    "per-file-ignores": ("per_file_ignores", _per_file_ignores),
    "exclude": ("exclude", _strings),
    "extend-exclude": ("extend_exclude", _strings),
    "force-exclude": ("force_exclude", _bool),
    "include": ("include", _strings),
    "extend-include": ("extend_include", _strings),
    "respect-gitignore": ("respect_gitignore", _bool),
    "fail-on": ("fail_on", _level),
    "evidence": ("evidence", _evidence),
    "levels": ("levels", _levels),
    "full-finetune": ("full_finetune", _strings),
    "freeze-helpers": ("freeze_helpers", _helpers),
    "target-transformers": ("target_transformers", _target),
    "output-format": ("output_format", _output_format),
    "show-fixes": ("show_fixes", _bool),
    "baseline": ("baseline", _path),
}


def parse_table(table: dict[str, Any], path: str) -> dict[str, Any]:
    """`[tool.freezelint]` as keyword arguments of `Settings`; rule choice becomes one `RuleSelection` layer."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            close = difflib.get_close_matches(key.replace("_", "-"), KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(KEYS)})"
            raise ConfigError(path, f"[tool.freezelint] unknown key {key!r}{hint}")
        name, parser = KEYS[key]
        values[name] = parser(value, _key_error(path, key))
    selection = RuleSelection(
        select=values.pop("select", None), ignore=values.pop("ignore", ()), extend_select=values.pop("extend_select", ())
    )
    if selection != RuleSelection():
        values["selections"] = (selection,)
    if "baseline" in values:
        values["baseline"] = os.path.join(os.path.dirname(os.path.abspath(path)), values["baseline"])
    return values


# --- the transformers version a project runs on ---------------------------------------------------------------------


def detect_target_transformers(root: str) -> int | None:
    """The transformers major version the project runs on: a copy of transformers kept in the repository, else the
    newest one freezelint knows that its requirements allow (`pyproject.toml`, `requirements*.txt`, `setup.py`,
    `setup.cfg`, conda's `environment.yml`); None when none of them mentions transformers."""
    vendored = _vendored_transformers(root)
    if vendored is not None:
        return vendored
    specifiers = [spec for source in _requirement_sources(root) for spec in _transformers_specifiers(source)]
    if not specifiers:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    combined = SpecifierSet()
    for spec in specifiers:
        try:
            combined &= SpecifierSet(spec)
        except InvalidSpecifier:
            continue
    known = knowledge.TRANSFORMERS_MAJORS
    # Probe versions of each major, plus every version the specifiers name (so `==4.57.6` is found).
    probes = {f"{major}.{minor}.0" for major in range(known[0] - 1, known[-1] + 2) for minor in range(0, 100)}
    for item in combined:
        try:
            probes.add(str(Version(item.version.rstrip(".*"))))
        except InvalidVersion:
            continue
    allowed = {Version(probe).major for probe in probes if combined.contains(probe, prereleases=True)}
    in_range = [major for major in known if major in allowed]
    if in_range:
        return in_range[-1]
    if allowed:  # only versions freezelint does not know: the closest one it does
        return known[-1] if min(allowed) > known[-1] else known[0]
    return None


def _requirement_sources(root: str) -> list[list[str]]:
    """Requirement strings, grouped by file: pyproject's dependencies (PEP 621, dependency groups, Poetry) and
    `requirements*.txt` / `requirements/*.txt`."""
    sources: list[list[str]] = []
    pyproject = os.path.join(root, "pyproject.toml")
    if os.path.isfile(pyproject):
        try:
            data = _load_toml(pyproject)
        except ConfigError:
            data = {}
        project = data.get("project", {})
        found = list(project.get("dependencies", []))
        for group in project.get("optional-dependencies", {}).values():
            found += group
        for group in data.get("dependency-groups", {}).values():
            found += [item for item in group if isinstance(item, str)]
        poetry = data.get("tool", {}).get("poetry", {})
        tables = [poetry.get("dependencies", {})] + [g.get("dependencies", {}) for g in poetry.get("group", {}).values()]
        for table in tables:
            if "transformers" in table:
                found.append("transformers" + _poetry_constraint(table["transformers"]))
        sources.append([item for item in found if isinstance(item, str)])
    names = sorted(os.listdir(root)) if os.path.isdir(root) else []
    files = [os.path.join(root, n) for n in names if n.startswith("requirements") and n.endswith(".txt")]
    nested = os.path.join(root, "requirements")
    if os.path.isdir(nested):
        files += [os.path.join(nested, n) for n in sorted(os.listdir(nested)) if n.endswith(".txt")]
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                sources.append([line.split(" #", 1)[0].strip() for line in handle])
        except OSError:
            continue
    sources += [_setup_py_requirements(root), _setup_cfg_requirements(root), _conda_requirements(root)]
    return sources


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _setup_py_requirements(root: str) -> list[str]:
    """The string literals of `setup.py` that name transformers (`install_requires=["transformers==4.4.2"]`), read
    from its syntax tree: the file is never run."""
    import ast

    text = _read(os.path.join(root, "setup.py"))
    if text is None or "transformers" not in text:
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    return [
        node.value for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip().lower().startswith("transformers")
    ]


def _setup_cfg_requirements(root: str) -> list[str]:
    """`install_requires` and `extras_require` of `setup.cfg`'s `[options]`."""
    text = _read(os.path.join(root, "setup.cfg"))
    if text is None or "transformers" not in text:
        return []
    import configparser  # only for a setup.cfg that mentions transformers

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    values = [parser.get("options", "install_requires", fallback="")]
    if parser.has_section("options.extras_require"):
        values += [value for _, value in parser.items("options.extras_require")]
    return [line.strip() for value in values for line in value.splitlines() if line.strip()]


_CONDA_REQUIREMENT = re.compile(r"^\s*-\s*(transformers\s*(?:[<>!~=].*)?)$", re.IGNORECASE)


def _conda_requirements(root: str) -> list[str]:
    """`- transformers=4.30` (conda: any 4.30.x) or `- transformers==4.30.2` (pip) in `environment.yml`."""
    found: list[str] = []
    for name in ("environment.yml", "environment.yaml"):
        text = _read(os.path.join(root, name))
        for line in (text or "").splitlines():
            match = _CONDA_REQUIREMENT.match(line.split(" #", 1)[0])
            if match:
                requirement = match.group(1).replace(" ", "")
                single = re.match(r"^transformers=(?!=)(.+)$", requirement)
                found.append(f"transformers=={single.group(1).rstrip('.*')}.*" if single else requirement)
    return found


_VERSION_LINE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def _vendored_transformers(root: str) -> int | None:
    """The major version of a transformers package kept inside the repository (`transformers/__init__.py` or
    `src/transformers/__init__.py`): the code imports that copy, whatever the requirements say."""
    for parts in (("transformers",), ("src", "transformers")):
        text = _read(os.path.join(root, *parts, "__init__.py"))
        match = _VERSION_LINE.search(text or "")
        if match and match.group(1).split(".", 1)[0].isdigit():
            major = int(match.group(1).split(".", 1)[0])
            known = knowledge.TRANSFORMERS_MAJORS
            return major if major in known else (known[0] if major < known[0] else known[-1])
    return None


def _poetry_constraint(value: Any) -> str:
    """Poetry's `^4.30` / `~4.30` / `4.*` as a PEP 440 specifier."""
    if isinstance(value, dict):
        value = value.get("version", "")
    if not isinstance(value, str) or value.strip() in ("", "*"):
        return ""
    value = value.strip()
    if value.startswith("^"):
        parts = value[1:].split(".")
        return f">={value[1:]},<{int(parts[0]) + 1}" if parts[0].isdigit() else ""
    if value.startswith("~") and not value.startswith("~="):
        parts = value[1:].split(".")
        return f">={value[1:]},<{parts[0]}.{int(parts[1]) + 1}" if len(parts) > 1 and parts[1].isdigit() else ""
    if value[0].isdigit():
        return f"=={value}"
    return value


def _transformers_specifiers(lines: list[str]) -> list[str]:
    candidates = [line.strip() for line in lines if "transformers" in line.lower()]
    candidates = [line for line in candidates if line and not line.startswith(("#", "-"))]
    if not candidates:
        return []  # packaging's requirement parser costs a run about 80 ms to import: only when needed
    from packaging.requirements import InvalidRequirement, Requirement

    found = []
    for line in candidates:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.name.lower() == "transformers" and requirement.url is None:
            found.append(str(requirement.specifier))
    return found
