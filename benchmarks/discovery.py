#!/usr/bin/env python3
"""What respecting ignore files costs discovery, on the benchmark corpora.

    python benchmarks/discovery.py                      # transformers and torch, as installed beside freezelint
    python benchmarks/discovery.py --corpus NAME=PATH   # any tree

Each corpus is copied into a new git repository with a `.gitignore` at its root (the patterns of a typical ML
project: caches, checkpoints, experiment trackers, generated code) and one in every tenth directory, so that the walk
reads and matches ignore files at every level. Discovery alone (`freezelint.files.discover`, in this process) is
timed with ignore files respected and not, and git's own walk (`git ls-files --others --exclude-standard`) beside
them. Median (min-max) of several runs; the table goes to standard output.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from freezelint.config import DEFAULT_EXCLUDES  # noqa: E402
from freezelint.files import discover  # noqa: E402

ROOT_GITIGNORE = """\
__pycache__/
*.py[cod]
*.so
build/
dist/
*.egg-info/
.venv/
venv/
.ipynb_checkpoints/
wandb/
mlruns/
outputs/
checkpoints/
runs/
lightning_logs/
*.ckpt
*.safetensors
.cache/
generated_*.py
/scratch/
!scratch/keep.py
docs/**/_build/
"""
NESTED_GITIGNORE = "*_generated.py\n!keep_generated.py\ntmp/\n"


def installed_package(name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{name} is not installed; pass --corpus {name}=PATH")
    return Path(list(spec.submodule_search_locations)[0])


def prepare(source: Path, scratch: Path) -> tuple[Path, int]:
    tree = scratch / source.name
    shutil.copytree(source, tree, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    (tree / ".gitignore").write_text(ROOT_GITIGNORE)
    nested = 0
    for index, (directory, _, _) in enumerate(os.walk(tree)):
        if index % 10 == 9 and ".git" not in Path(directory).parts:
            (Path(directory) / ".gitignore").write_text(NESTED_GITIGNORE)
            nested += 1
    return tree, nested


def timed(function, runs: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def spread(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:.0f} ms ({min(times) * 1000:.0f}-{max(times) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    corpora = [tuple(item.split("=", 1)) for item in args.corpus] or [
        ("transformers", str(installed_package("transformers"))), ("torch", str(installed_package("torch")))
    ]
    print("| corpus | files found (ignored) | .gitignore files | ignore files off | respected | cost | git ls-files |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as scratch:
        for name, source in corpora:
            tree, nested = prepare(Path(source), Path(scratch))
            off, everything = timed(lambda: discover([str(tree)], DEFAULT_EXCLUDES, respect_gitignore=False), args.runs)
            on, respected = timed(lambda: discover([str(tree)], DEFAULT_EXCLUDES, respect_gitignore=True), args.runs)
            git, _ = timed(
                lambda: subprocess.run(["git", "ls-files", "--others", "--exclude-standard"], cwd=tree, check=True,
                                       capture_output=True),
                args.runs,
            )
            found, total = len(respected.files), len(everything.files)  # type: ignore[attr-defined]
            cost = statistics.median(on) - statistics.median(off)
            print(f"| {name} | {found:,} ({total - found:,}) | {nested + 1:,} | {spread(off)} | {spread(on)} | "
                  f"+{cost * 1000:.0f} ms ({cost / statistics.median(off) * 100:.0f}%) | {spread(git)} |")
            shutil.rmtree(tree)


if __name__ == "__main__":
    main()
