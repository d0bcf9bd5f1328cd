"""The runtime block of the output: per file, what was replayed, each model's parameter table, and what could not be
replayed. Plain text, or a rich table on a terminal."""

from __future__ import annotations

import io
from typing import Any


def number(count: int) -> str:
    return f"{count:,}"


def render(display_path: str, result: dict[str, Any], rich: bool = False) -> str:
    """The runtime block of one file."""
    lines: list[str] = []
    if result.get("error"):
        return f"{display_path}: runtime check failed: {result['error']}\n"
    mode = "the whole script (--exec)" if result["mode"] == "exec" else f"{result['statements']} statements of the script"
    lines.append(f"{display_path}: runtime check: replayed {mode} in {result['seconds']:.1f} s")
    if not result["models"]:
        lines.append("  no model was built by the replay")
    for model in result["models"]:
        lines.extend(_model_lines(model, rich))
    for blocker in result["blockers"]:
        if blocker["needed_by"] == blocker["line"]:
            lines.append(f"  not replayed: line {blocker['line']} (`{blocker['code']}`) {blocker['reason']}")
        else:
            lines.append(
                f"  not replayed: line {blocker['needed_by']} needs line {blocker['line']} (`{blocker['code']}`), "
                f"which {blocker['reason']}"
            )
    for failure in result["failures"]:
        message = f"{failure['kind']}: {failure['message']}" if failure["message"] else failure["kind"]
        lines.append(f"  failed: line {failure['line']}: {message}")
    if result.get("stopped"):
        stopped = result["stopped"]
        where = f" (line {stopped['line']})" if stopped.get("line") else ""
        lines.append(f"  stopped at {stopped['reason']}{where}")
    lines.extend(refusal_lines(result.get("refusals") or []))
    return "\n".join(lines) + "\n"


MAX_REFUSALS = 5


def refusal_lines(refusals: list[dict[str, Any]]) -> list[str]:
    """What the sandbox refused: the first ended the replay; the script may have caught it and tried more."""
    lines: list[str] = []
    seen: set[tuple[str, int, str]] = set()
    for refusal in refusals:
        key = (refusal["event"], refusal["line"], refusal["origin"])
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > MAX_REFUSALS:
            continue
        lines.append("  " + describe_refusal(refusal) + ("; the replay ended there" if len(seen) == 1 else ""))
    if len(seen) > MAX_REFUSALS:
        lines.append(f"  ... and {len(seen) - MAX_REFUSALS} more refused")
    return lines


def describe_refusal(refusal: dict[str, Any]) -> str:
    """`refused at line 3: the script tried to start a process (`os.system`: 'touch x')`."""
    where = f"line {refusal['line']}" if refusal["line"] else "a line outside the script"
    if refusal["origin"]:
        where += f" (in {refusal['origin']})"
    detail = f": {refusal['detail']}" if refusal["detail"] and refusal["detail"] != "..." else ""
    return f"refused at {where}: the script tried to {refusal['what']} (`{refusal['event']}`{detail})"


def model_block(model: dict[str, Any], rich: bool = False) -> str:
    """One model's header, counts and table (`TopModel.summary()`)."""
    return "\n".join(_model_lines(model, rich)) + "\n"


def _model_lines(model: dict[str, Any], rich: bool) -> list[str]:
    sources = "; ".join(
        f"{entry['checkpoint']} at line {entry['line']}, {entry['source']}" + "".join(f", {n}" for n in entry["notes"])
        for entry in model["loaded"]
    )
    header = f"  model `{model['name']}` ({model['class']}" + (f": {sources}" if sources else "") + ")"
    counts = (
        f"    {number(model['total'])} parameters: {number(model['trainable'])} trainable, "
        f"{number(model['frozen'])} frozen"
    )
    table = _rich_table(model) if rich else _plain_table(model)
    lines = [header, counts, *table]
    for group in model["tied"]:
        lines.append(f"    tied: {' = '.join(group)}")
    return lines


def _plain_table(model: dict[str, Any]) -> list[str]:
    prefix = model["prefix"]
    rows = [("module", "class", "parameters", "trainable", "frozen")]
    for row in model["modules"]:
        rows.append((prefix + row["name"], row["class"], number(row["total"]), number(row["trainable"]),
                     number(row["total"] - row["trainable"])))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    out = []
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])] + [row[i].rjust(widths[i]) for i in (2, 3, 4)]
        out.append("    " + "  ".join(cells).rstrip())
    return out


def _rich_table(model: dict[str, Any]) -> list[str]:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        return _plain_table(model)
    table = Table(box=None, padding=(0, 2), show_edge=False, header_style="bold")
    table.add_column("module")
    table.add_column("class")
    for name in ("parameters", "trainable", "frozen"):
        table.add_column(name, justify="right")
    for row in model["modules"]:
        frozen = row["total"] - row["trainable"]
        style = "red" if row["trainable"] == 0 else ("green" if frozen == 0 else "yellow")
        table.add_row(model["prefix"] + row["name"], row["class"], number(row["total"]), number(row["trainable"]),
                      number(frozen), style=style)
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, width=120).print(table)
    return ["    " + line for line in buffer.getvalue().rstrip("\n").splitlines()]


def summary(counts: dict[str, int]) -> str:
    parts = [
        f"{counts.get(status, 0)} {label}"
        for status, label in (("confirmed", "confirmed"), ("refuted", "refuted (not counted)"),
                              ("not-checkable", "not checkable"), ("found", "found at runtime"))
        if counts.get(status)
    ]
    return "Runtime: " + (", ".join(parts) if parts else "no findings to check") + ".\n"
