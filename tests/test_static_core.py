"""The static path never imports torch or transformers, and `--version` loads neither libcst nor the rules."""

from __future__ import annotations

import subprocess
import sys

from cli_helpers import FIXTURES, ROOT

PROBE = """
import sys
from freezelint.cli import main
try:
    main(["--fail-on", "error", {path!r}], prog_name="freezelint")
except SystemExit:
    pass
from freezelint.linter import lint_bytes
from freezelint.rules import all_rules
data = open({path!r}, "rb").read()
assert lint_bytes({path!r}, data, all_rules()).findings
heavy = sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "transformers", "peft", "accelerate", "numpy"))
print("HEAVY:", heavy)
"""


def test_linting_imports_no_torch_or_transformers():
    path = str(FIXTURES / "FRZ302" / "article_premise.py")
    completed = subprocess.run([sys.executable, "-c", PROBE.format(path=path)], capture_output=True, text=True, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr
    assert "HEAVY: []" in completed.stdout


def test_version_imports_neither_libcst_nor_the_rules():
    probe = "import sys; from freezelint.cli import main\ntry:\n main(['--version'])\nexcept SystemExit: pass\nprint(sorted(m for m in sys.modules if m.startswith(('libcst', 'freezelint.rules'))))"
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert completed.stdout.strip().endswith("[]"), completed.stdout


def test_only_the_runtime_package_imports_torch_or_transformers():
    """The static install has no torch: no module outside freezelint/runtime/ may import it, even lazily."""
    import ast

    heavy = {"torch", "transformers", "peft", "accelerate", "numpy"}
    package = ROOT / "freezelint"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if (package / "runtime") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in names if name.split(".")[0] in heavy]
    assert offenders == []
