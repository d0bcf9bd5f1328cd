#!/usr/bin/env python3
"""Benchmark freezelint against its peers on real code, and check on that code that its shortcuts change nothing.

    python benchmarks/run.py                      # transformers and torch, as installed beside freezelint
    python benchmarks/run.py --corpus NAME=PATH   # any tree of Python files, as often as you like

It installs the peers (ruff, TorchFix, Fixit; pinned below) into `benchmarks/.venv`, copies each corpus to a
temporary directory (so that no cache lands in it and one file can be edited), then times whole processes with
hyperfine (`apt-get install hyperfine`; without it, a plain timer around the same commands), several runs each:
median, min and max. Every number of one corpus comes from the same run of the script, so the ratios hold even on a
busy machine; the load average before and after is recorded with them.

Measured per corpus:
  * cold: freezelint with an empty cache, against `ruff check --select E,F --no-cache` and TorchFix (and Fixit);
  * warm: freezelint again, nothing changed; touched: one file edited (the largest one freezelint has to analyse),
    and one file touched but unchanged;
  * peak memory of the whole process tree (PSS, which counts pages forked workers share once), and the largest
    single process (max RSS);
  * `freezelint --version`;
  * findings, with and without the pre-filter (`--no-prefilter`): they must be identical;
  * how many files each rule's tokens make freezelint parse.

The table goes to `benchmarks/results.md` (the README quotes it) and the details to `benchmarks/results.json`.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS = {"ruff": "0.17.6", "torchfix": "0.7.0", "fixit": "2.2.1"}
VENV = HERE / ".venv"


# --- setup ----------------------------------------------------------------------------------------------------------


def install_peers() -> dict[str, str]:
    """The peers in their own virtual environment (never in freezelint's), at the pinned versions."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    wanted = [f"{name}=={version}" for name, version in PEERS.items()]
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted], check=True)
    return {name: str(VENV / "bin" / name) for name in PEERS}


def installed_package(name: str) -> Path:
    """The source directory of a package installed beside freezelint, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{name} is not installed; pass --corpus {name}=PATH")
    return Path(list(spec.submodule_search_locations)[0])


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    memory = None
    try:
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def load() -> float:
    return round(os.getloadavg()[0], 2)


# --- timing ---------------------------------------------------------------------------------------------------------


def time_commands(commands: dict[str, list[str]], runs: int, warmup: int = 0, prepare: str | None = None) -> dict[str, dict]:
    """Median, min and max wall time of whole processes (hyperfine when installed)."""
    if shutil.which("hyperfine"):
        with tempfile.TemporaryDirectory() as scratch:
            export = Path(scratch) / "times.json"
            command = ["hyperfine", "--style", "none", "--ignore-failure", "--runs", str(runs), "--warmup", str(warmup)]
            command += ["-N"] if prepare is None else ["--prepare", prepare]
            command += ["--export-json", str(export)]
            for name, argv in commands.items():
                command += ["--command-name", name, _shell(argv)]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            data = json.loads(export.read_text())
        return {
            entry["command"]: {"median": entry["median"], "min": entry["min"], "max": entry["max"], "runs": len(entry["times"]), "tool": "hyperfine"}
            for entry in data["results"]
        }
    results = {}
    for name, argv in commands.items():
        times = []
        for index in range(warmup + runs):
            if prepare is not None:
                subprocess.run(prepare, shell=True, check=True)
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if index >= warmup:
                times.append(time.perf_counter() - start)
        results[name] = {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": runs, "tool": "python"}
    return results


def _shell(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(part) for part in argv)


def peak_memory(argv: list[str]) -> dict:
    """Run once; sample the process tree's PSS every 20 ms; the largest single process's max RSS from wait4."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _tree_pss(process.pid))
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": elapsed, "tree_pss_mb": round(peak / 1024, 1), "max_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def _tree_pss(root: int) -> int:
    """PSS (kB) of a process and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


# --- freezelint itself ------------------------------------------------------------------------------------------------


def freezelint(*args: str) -> list[str]:
    return [sys.executable, "-m", "freezelint", *args]


def findings(corpus: Path, *flags: str) -> tuple[list[dict], list[str], float]:
    start = time.perf_counter()
    completed = subprocess.run(
        freezelint(str(corpus), "--output-format", "json", "--no-cache", *flags), capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    found = json.loads(completed.stdout) if completed.stdout.strip() else []
    return found, completed.stderr.strip().splitlines(), elapsed


def parsed_per_rule(corpus: Path) -> tuple[dict[str, int], int, list[tuple[int, str]]]:
    """How many files each rule's tokens (and syntax-tree test) make freezelint parse with libcst, how many any rule
    does, and their sizes."""
    from freezelint import prefilter
    from freezelint.rules import select_rules
    from freezelint.source import SourceError, decode

    rules = select_rules()
    per_rule = {rule.code: 0 for rule in rules}
    parsed = []
    for path in sorted(corpus.rglob("*.py")):
        data = path.read_bytes()
        try:
            text = decode(str(path), data).text
        except SourceError:
            continue
        relevant = prefilter.relevant_rules(text, rules)
        if any(rule.possible is not None for rule in relevant):  # the second stage, on Python's own syntax tree
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                tree = None
            if tree is not None:
                relevant = [rule for rule in relevant if rule.possible is None or rule.possible(tree)]
        for rule in relevant:
            per_rule[rule.code] += 1
        if relevant:
            parsed.append((len(data), str(path.relative_to(corpus))))
    return per_rule, len(parsed), sorted(parsed, reverse=True)


# --- the benchmark ----------------------------------------------------------------------------------------------------


def bench_corpus(name: str, source: Path, peers: dict[str, str], args: argparse.Namespace, scratch: Path) -> dict:
    corpus = scratch / name
    print(f"[{name}] copying {source} ...", flush=True)
    shutil.copytree(source, corpus, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))
    files = list(corpus.rglob("*.py"))
    size = sum(path.stat().st_size for path in files)
    cache = scratch / f"{name}-cache"
    lint = freezelint(str(corpus), "--cache-dir", str(cache), "--exit-zero", "-q")
    report: dict = {"corpus": name, "source": str(source), "files": len(files), "mb": round(size / 2**20, 1), "load_before": load()}

    per_rule, parsed, sizes = parsed_per_rule(corpus)
    report["parsed_files"] = parsed
    report["parsed_mb"] = round(sum(s for s, _ in sizes) / 2**20, 2)
    report["parsed_per_rule"] = per_rule

    print(f"[{name}] cold runs: freezelint and ruff ({args.runs} each) ...", flush=True)
    core = freezelint(str(corpus), "--cache-dir", str(cache), "--exit-zero", "-q", "--select", "FRZ201,FRZ302")
    cold = time_commands({"freezelint": lint, "freezelint --select FRZ201,FRZ302": core}, args.runs, prepare=f"rm -rf {cache}")
    cold.update(time_commands(
        {
            "ruff E,F": [peers["ruff"], "check", "--select", "E,F", "--no-cache", "--exit-zero", "-q", str(corpus)],
            "ruff (default rules)": [peers["ruff"], "check", "--no-cache", "--exit-zero", "-q", str(corpus)],
        },
        args.runs,
    ))
    for peer, argv, runs in (
        ("TorchFix", [peers["torchfix"], str(corpus)], args.torchfix_runs),
        ("Fixit", [peers["fixit"], "lint", str(corpus)], args.fixit_runs),
    ):
        if runs:
            print(f"[{name}] {peer} ({runs} run{'s' if runs > 1 else ''}) ...", flush=True)
            cold.update(time_commands({peer: argv}, runs))
    report["cold"] = cold

    print(f"[{name}] warm, touched, --version ...", flush=True)
    subprocess.run(lint, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report["warm"] = time_commands({"warm": lint}, args.runs * 2, warmup=1)["warm"]
    edited = corpus / sizes[0][1] if sizes else files[0]
    report["edited_file"] = {"path": str(edited.relative_to(corpus)), "kb": round(edited.stat().st_size / 1024, 1)}
    append = f"{sys.executable} -c \"import time; open({str(edited)!r}, 'a').write('# edited %d\\n' % time.time_ns())\""
    report["edited"] = time_commands({"edited": lint}, args.runs, prepare=append)["edited"]
    report["touched"] = time_commands({"touched": lint}, args.runs, prepare=f"touch {edited}")["touched"]
    report["version"] = time_commands({"version": freezelint("--version")}, 20, warmup=3)["version"]

    print(f"[{name}] peak memory ...", flush=True)
    shutil.rmtree(cache, ignore_errors=True)
    report["memory"] = peak_memory(lint)
    report["memory_ruff"] = peak_memory([peers["ruff"], "check", "--select", "E,F", "--no-cache", "--exit-zero", "-q", str(corpus)])

    print(f"[{name}] findings with and without the pre-filter ...", flush=True)
    found, errors, _ = findings(corpus)
    unfiltered, unfiltered_errors, unfiltered_seconds = findings(corpus, "--no-prefilter")
    key = lambda f: (f["filename"], f["location"]["row"], f["location"]["column"], f["code"], f["message"])  # noqa: E731
    report["findings"] = [
        {"file": str(Path(f["filename"]).relative_to(corpus)), "row": f["location"]["row"], "code": f["code"], "message": f["message"]}
        for f in sorted(found, key=key)
    ]
    report["errors"] = [line.replace(str(corpus) + os.sep, "") for line in errors]
    report["prefilter_sound"] = sorted(map(key, found)) == sorted(map(key, unfiltered))
    report["without_prefilter"] = {
        "seconds": round(unfiltered_seconds, 1),
        "errors": len(unfiltered_errors),
        "findings": len(unfiltered),
    }
    report["load_after"] = load()
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    return report


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s" if value < 60 else f"{value / 60:.1f} min"


def spread(entry: dict) -> str:
    return f"{seconds(entry['median'])} ({seconds(entry['min'])}-{seconds(entry['max'])})"


def table(run: dict) -> str:
    m = run["machine"]
    lines = [
        f"Measured {run['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['system']}, Python {m['python']};",
        f"freezelint {run['freezelint']}, ruff {PEERS['ruff']}, TorchFix {PEERS['torchfix']}, Fixit {PEERS['fixit']}.",
        "Times are median (min-max) of whole processes; TorchFix and Fixit ran "
        f"{run['torchfix_runs']} and {run['fixit_runs']} time(s) per corpus (minutes each).",
        "",
        "| corpus | files (MB) | parsed | freezelint cold | ruff E,F | ratio to ruff | TorchFix | TorchFix / freezelint | FRZ201,FRZ302 only | Fixit | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in run["corpora"]:
        cold = r["cold"]
        ours = cold["freezelint"]["median"]
        ruff = cold["ruff E,F"]["median"]
        torchfix = cold.get("TorchFix")
        fixit = cold.get("Fixit")
        speedup = f"{torchfix['median'] / ours:.0f}x faster" if torchfix else "-"
        lines.append(
            f"| {r['corpus']} | {r['files']:,} ({r['mb']}) | {r['parsed_files']} ({r['parsed_mb']} MB) | {spread(cold['freezelint'])} "
            f"| {spread(cold['ruff E,F'])} | {ours / ruff:.1f}x | {seconds(torchfix['median']) if torchfix else '-'} "
            f"| {speedup} | {spread(cold['freezelint --select FRZ201,FRZ302'])} | {seconds(fixit['median']) if fixit else '-'} "
            f"| {r['load_before']} / {r['load_after']} |"
        )
    lines += [
        "",
        "| corpus | warm | one file edited | one file touched | peak memory (tree PSS / largest RSS) | ruff peak | --version | findings | same without pre-filter |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in run["corpora"]:
        edited = f"{spread(r['edited'])}, `{r['edited_file']['path']}` ({r['edited_file']['kb']} kB)"
        lines.append(
            f"| {r['corpus']} | {spread(r['warm'])} | {edited} | {spread(r['touched'])} "
            f"| {r['memory']['tree_pss_mb']:.0f} MB / {r['memory']['max_rss_mb']:.0f} MB | {r['memory_ruff']['max_rss_mb']:.0f} MB "
            f"| {spread(r['version'])} | {len(r['findings'])} | {'yes' if r['prefilter_sound'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def quote_in_readme(text: str) -> None:
    """Put the table between the README's `benchmark:results` markers."""
    readme = REPO / "README.md"
    start, end = "<!-- benchmark:results -->\n", "<!-- /benchmark:results -->"
    content = readme.read_text()
    if start in content and end in content:
        head, rest = content.split(start, 1)
        readme.write_text(head + start + text.rstrip("\n") + "\n" + end + rest.split(end, 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", default=[], metavar="NAME=PATH", help="a tree of Python files (repeatable)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each fast command (default 5)")
    parser.add_argument("--torchfix-runs", type=int, default=1, help="TorchFix takes minutes per run (default 1; 0 skips it)")
    parser.add_argument("--fixit-runs", type=int, default=0, help="Fixit takes minutes per run (default 0: skipped)")
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    args = parser.parse_args()

    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, str(REPO))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "freezelint")], check=True)  # as pip would
    from freezelint import __version__

    corpora = [tuple(item.split("=", 1)) for item in args.corpus] or [
        ("transformers", str(installed_package("transformers"))),
        ("torch", str(installed_package("torch"))),
    ]
    peers = install_peers()
    run = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "freezelint": __version__,
        "torchfix_runs": args.torchfix_runs,
        "fixit_runs": args.fixit_runs,
        "corpora": [],
    }
    with tempfile.TemporaryDirectory(prefix="freezelint-bench-") as scratch:
        for name, path in corpora:
            run["corpora"].append(bench_corpus(name, Path(path), peers, args, Path(scratch)))
            text = table(run)  # written after each corpus: a long run interrupted keeps what it measured
            args.out.write_text(text)
            args.out.with_suffix(".json").write_text(json.dumps(run, indent=2) + "\n")
    if args.out == HERE / "results.md":
        quote_in_readme(text)
    print()
    print(text)
    for r in run["corpora"]:
        print(f"{r['corpus']}: {len(r['findings'])} findings, {len(r['errors'])} files not checked")
        for finding in r["findings"]:
            print(f"  {finding['file']}:{finding['row']}: {finding['code']} {finding['message'][:160]}")
        for error in r["errors"]:
            print(f"  {error}")
        print(f"  files parsed because of each rule: {r['parsed_per_rule']}")


if __name__ == "__main__":
    main()
