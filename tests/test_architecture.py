"""The shape of the package (docs/architecture.md): which part may import which, no cycles, small modules, rules that
stand alone, and nothing that points outside the repository."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from cli_helpers import ROOT

PACKAGE = ROOT / "freezelint"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 800


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(path: Path) -> set[str]:
    """The freezelint modules a module imports when it runs, at module level or inside functions (imports for type
    checkers only, under `if TYPE_CHECKING:`, are not run and are left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if _type_checking_block(node):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("freezelint"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("freezelint"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))
    known = {module_name(p) for p in MODULES}
    return {name for name in found if name in known}


GRAPH = {module_name(path): imports_of(path) for path in MODULES}


def test_no_import_cycles() -> None:
    """A module importing a package imports its `__init__` first, so package edges count as well."""
    def parents(name: str) -> set[str]:
        parts = name.split(".")
        return {".".join(parts[:i]) for i in range(2, len(parts))}

    edges = {name: {t for target in targets for t in {target} | parents(target) if t != name and not name.startswith(t + ".")}
             for name, targets in GRAPH.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_rule_imports_another_rule() -> None:
    """Which finding silences which is declared in the registry (`silenced_by`), not by one rule running another."""
    offenders = {
        name: sorted(t for t in targets if t.startswith("freezelint.rules.frz"))
        for name, targets in GRAPH.items()
        if name.startswith("freezelint.rules.")
    }
    assert not {name: targets for name, targets in offenders.items() if targets}


def test_the_static_core_imports_no_runtime_module() -> None:
    """The runtime package may read the rules (their runtime hooks); the static core never imports the runtime."""
    static = [name for name in GRAPH if not name.startswith(("freezelint.runtime", "freezelint.server"))]
    leaks = {name: sorted(t for t in GRAPH[name] if t.startswith("freezelint.runtime")) for name in static}
    allowed = {"freezelint.cli"}  # `--runtime` imports the runtime package when asked for, inside the command
    assert not {name: targets for name, targets in leaks.items() if targets and name not in allowed}


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_module_is_small(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module_name(path)} has {lines} lines; split it by what it knows"


def test_nothing_points_outside_the_repository() -> None:
    """Users have the package and its docs, not the files its authors worked from."""
    texts = [*MODULES, *(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]
    mentions = [str(p.relative_to(ROOT)) for p in texts if "../shared" in p.read_text(encoding="utf-8")
                or "rules-research" in p.read_text(encoding="utf-8")]
    assert not mentions


def test_a_rule_s_runtime_hooks_live_in_its_own_module() -> None:
    """One home per rule: its static check, runtime verdict and runtime detector are in one module."""
    from freezelint.rules import all_rules
    from freezelint.rules.runtime_hooks import DETECTORS, VERDICTS

    checks = {rule.code: rule.check.__module__ for rule in all_rules()}
    homes = {code: hook.__module__ for hooks in (VERDICTS, DETECTORS) for code, hook in hooks.items()}
    assert homes and {code: home for code, home in homes.items() if checks.get(code) != home} == {}


def test_every_rule_says_what_runtime_mode_does_with_it() -> None:
    """A rule with runtime hooks says what its verdict checks; one without says why none is possible."""
    from freezelint.rules import all_rules
    from freezelint.rules.runtime_hooks import DETECTORS, VERDICTS

    wrong = {}
    for rule in all_rules():
        section = rule.doc.split("## Runtime mode\n", 1)[1].split("\n## ", 1)[0] if "## Runtime mode\n" in rule.doc else ""
        hooked = rule.code in VERDICTS or rule.code in DETECTORS
        if not section or hooked == section.startswith("No runtime verdict"):
            wrong[rule.code] = section[:60] or "(no section)"
    assert wrong == {}
