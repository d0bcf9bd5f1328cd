"""Lint one program: decode, guard, parse once, collect the facts, run the rules, place the findings, then apply
the project's settings and the file's own suppressions.

`lint_source` (and `lint_bytes`, which decodes a `.py` file or a notebook first) is the one path every front end
takes: the CLI, the pre-commit hook, standard input, notebooks, the flake8 plugin and the Python API. Whatever they
honour (`# noqa`, per-file ignores, levels, the baseline) is honoured here, once.
"""

from __future__ import annotations

import ast
import sys
import threading
import warnings
from typing import Callable, TypeVar

import libcst as cst

from freezelint import noqa, prefilter
from freezelint.analysis import collect
from freezelint.config import Settings
from freezelint.decoding import decode
from freezelint.facts import Facts, Options
from freezelint.findings import Edit, Evidence, FileError, FileResult, Finding, Fix, Level, Location
from freezelint.rules import Report, Rule, get_rule
from freezelint.source import Source, SourceError

T = TypeVar("T")

# libcst's visitors recurse once per nesting level; deep but valid code (long operator chains) needs room.
_STACK_BYTES = 512 * 1024 * 1024
_RECURSION_LIMIT = 100_000

# libcst's parser takes time that grows with the cube of an expression's nesting (measured with libcst 1.9: a chain
# of 1,000 subscripts `a[0][0]...` takes 1.5 s, of 4,000 three minutes) and keeps about 700 bytes of memory per byte
# of source (a 1.4 MB file takes 0.8 GB, a 10 MB one would take 7 GB). Beyond these limits a file is not analysed:
# the largest files of torch, transformers and huggingface_hub (1.4 MB, nesting 30) are far below them.
MAX_NESTING = 1_000
MAX_SOURCE_CHARACTERS = 2_000_000


def run_with_deep_stack(function: Callable[[], T]) -> T:
    """Run `function` in a thread with a large stack and recursion limit; re-raise what it raised."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = error

    previous_limit = sys.getrecursionlimit()
    previous_size = threading.stack_size()
    sys.setrecursionlimit(max(previous_limit, _RECURSION_LIMIT))
    threading.stack_size(_STACK_BYTES)
    try:
        thread = threading.Thread(target=target, name="freezelint-analysis")
        thread.start()
    finally:
        threading.stack_size(previous_size)
    thread.join()
    sys.setrecursionlimit(previous_limit)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def needs_parsing(text: str, rules: list[Rule], settings: Settings | None = None) -> bool:
    """The text stage of the pre-filter: whether the file's code has the tokens of some selected rule (a rule without
    tokens always runs). The syntax-tree stage (`Rule.possible`, in `_analyse`) may still spare the libcst parse."""
    return bool(_relevant(text, rules, settings or Settings()))


def _relevant(text: str, rules: list[Rule], settings: Settings) -> list[Rule]:
    if not settings.prefilter:
        return rules
    # A project's own freeze helper freezes without any token: where one is named, every rule may fire.
    helpers = [name.rsplit(".", 1)[-1] for name in settings.freeze_helpers]
    return prefilter.relevant_rules(text, rules, helpers)


def check_syntax(source: Source) -> ast.Module:
    """Python's own parser first: it rejects what would crash libcst (5,000 nested brackets) with a clear error, and
    measures what would make libcst take minutes or gigabytes (`MAX_SOURCE_CHARACTERS`, `MAX_NESTING`)."""
    if len(source.text) > MAX_SOURCE_CHARACTERS:
        raise SourceError(
            f"too large to analyse ({len(source.text) / 1e6:.1f} million characters; the limit is "
            f"{MAX_SOURCE_CHARACTERS / 1e6:g} million)"
        )
    tree = python_tree(source)
    depth, row = _deepest_nesting(tree)
    if depth > MAX_NESTING:
        raise SourceError(
            f"too deeply nested to analyse (code nested {depth:,} levels deep at {source.describe(row)}; "
            f"the limit is {MAX_NESTING:,})"
        )
    return tree


def python_tree(source: Source) -> ast.Module:
    """Python's own syntax tree of the file; a `SourceError` when it does not parse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source.text, filename=source.path)
    except SyntaxError as error:
        raise SourceError(f"syntax error at {source.describe(error.lineno or 1, error.offset)}: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise SourceError("too deeply nested for Python's own parser") from None
    except ValueError as error:
        raise SourceError(str(error)) from None
    return tree


def _deepest_nesting(tree: ast.AST) -> tuple[int, int]:
    """How deep the syntax tree goes, and the line where it does (a loop, not recursion: the tree may be deep)."""
    deepest, row = 0, 1
    stack: list[tuple[ast.AST, int, int]] = [(tree, 0, 1)]
    children = ast.iter_child_nodes
    while stack:
        node, depth, line = stack.pop()
        line = getattr(node, "lineno", line)
        if depth > deepest:
            deepest, row = depth, line
        stack.extend((child, depth + 1, line) for child in children(node))
    return deepest, row


def parse(source: Source) -> cst.Module:
    check_syntax(source)
    return _parse_checked(source)


def _parse_checked(source: Source) -> cst.Module:
    try:
        return cst.parse_module(source.text)
    except cst.ParserSyntaxError as error:
        message = str(error).splitlines()[0] if str(error) else "parse error"
        raise SourceError(f"libcst cannot parse it ({source.describe(error.raw_line)}): {message}") from None


def lint_source(source: Source, rules: list[Rule], settings: Settings | None = None) -> FileResult:
    """Lint one decoded program with the given rules (the run's selection, levels applied: `settings.rules()`).

    `settings` adds what applies to this file: per-file ignores, the options the analysis reads (target transformers
    version, freeze helpers, declared full fine-tuning), the baseline. The file's own `# freezelint: noqa` /
    `# freezelint: disable=...` and `# noqa` comments are always honoured."""
    settings = settings or Settings()
    result = FileResult(path=source.path, cells=source.cells)
    directives = noqa.file_directives(source)
    if directives.skip:
        return result
    rules = [rule for rule in settings.rules_for(source.path, rules) if rule.code not in directives.disabled]
    relevant = _relevant(source.text, rules, settings)
    if not relevant:
        # Nothing any rule looks for, but a file that does not parse is never reported clean (the same outcome as a
        # file the rules do read).
        try:
            python_tree(source)
        except SourceError as error:
            result.error = FileError(source.path, str(error))
        return result
    options = settings.options_for(source.path)
    try:
        findings = run_with_deep_stack(lambda: _analyse(source, relevant, options, settings.prefilter))
    except SourceError as error:
        result.error = FileError(source.path, str(error))
        return result
    except RecursionError:
        result.error = FileError(source.path, "too deeply nested to analyse")
        return result
    except Exception as error:  # noqa: BLE001 - a bug in freezelint must cost one file, not the run
        detail = str(error).splitlines()[0] if str(error) else ""
        result.error = FileError(
            source.path, f"internal error while analysing ({type(error).__name__}{': ' + detail if detail else ''}); please report it"
        )
        return result
    findings = noqa.unsuppressed(source, findings)
    if settings.evidence == "traced":  # CI that gates on traced findings alone
        findings = [finding for finding in findings if finding.evidence is Evidence.TRACED]
    if settings.baseline is not None and findings:
        from freezelint.baseline import load

        findings, result.baselined = load(settings.baseline).filter(source.path, findings)
    result.findings = findings
    return result


def lint_bytes(path: str, data: bytes, rules: list[Rule], settings: Settings | None = None) -> FileResult:
    """Decode and lint one file's bytes (a `.ipynb` path is read as a notebook)."""
    try:
        source = decode(path, data)
    except SourceError as error:
        return FileResult(path=path, error=FileError(path, str(error)))
    return lint_source(source, rules, settings)


def _analyse(source: Source, rules: list[Rule], options: Options, narrow: bool = True) -> list[Finding]:
    tree = check_syntax(source)
    if narrow:
        rules = [rule for rule in rules if rule.possible is None or rule.possible(tree)]
        if not rules:
            return []
    del tree  # not both trees at once: for torch's 1.4 MB test table, Python's takes 100 MB and libcst's 700 MB
    module = _parse_checked(source)
    facts = collect(source, module, options)
    reports = [(rule, report) for rule in rules for report in rule.check(facts)]
    reports = _unsilenced(reports, rules, facts)
    if not reports:
        return []
    positions = facts.positions()
    # Fix edits are placed by libcst's positions: trust them only where libcst reproduces the text exactly
    # (it does not for form feeds or lone `\r` line ends).
    exact: bool | None = None
    findings: dict[tuple, Finding] = {}
    for rule, report in reports:
        span = positions.get(report.node)
        if span is None:
            continue
        fix = None
        if report.fix is not None and exact is None:
            exact = module.code == source.text
        if report.fix is not None and exact:
            edits = []
            for replacement in report.fix.replacements:
                where = positions.get(replacement.node)
                if where is None:
                    break
                content = replacement.new if isinstance(replacement.new, str) else module.code_for_node(replacement.new)
                start = Location(where.start.line, where.start.column + 1)
                end = Location(where.end.line, where.end.column + 1)
                if content == "" and isinstance(replacement.node, cst.SimpleStatementLine):
                    start, end = _whole_lines(source, start, end)
                edits.append(Edit(start, end, content))
            else:
                fix = Fix(report.fix.applicability, report.fix.message, tuple(edits))
        finding = Finding(
            path=source.path,
            code=rule.code,
            name=rule.name,
            level=_level(rule, report),
            message=str(report.message),
            fields=dict(report.message.fields),
            evidence=report.evidence,
            start=Location(span.start.line, span.start.column + 1),
            end=Location(span.end.line, span.end.column + 1),
            fix=fix,
            url=rule.url,
            source_line=source.display_line(span.start.line),
        )
        findings.setdefault((finding.code, finding.start, finding.end, finding.message), finding)
    return sorted(findings.values(), key=lambda f: f.sort_key)


def _level(rule: Rule, report: Report) -> Level:
    """The finding's level: the project's choice for the rule, else the report's own or the rule's; evidence that rests
    on a name alone is at most `rule.name_evidence_level` (a warning, unless the real-code corpus shows the rule's
    name-only findings as precise as its traced ones)."""
    if rule.level_configured:
        return rule.level
    level = report.level if report.level is not None else rule.level
    return min(level, rule.name_evidence_level) if report.evidence is Evidence.NAME else level


def _unsilenced(reports: list[tuple[Rule, Report]], ran: list[Rule], facts: Facts) -> list[tuple[Rule, Report]]:
    """The reports of rules that no other rule's finding silences in this file (`Rule.silenced_by`). A silencing rule
    that was not selected is run for this, and its findings are not shown."""
    fired = {rule.code for rule, _ in reports}
    checked = {rule.code for rule in ran}

    def silenced(rule: Rule) -> bool:
        for code in rule.silenced_by:
            if code not in checked:
                checked.add(code)
                silencer = get_rule(code)
                if silencer is not None and next(iter(silencer.check(facts)), None) is not None:
                    fired.add(code)
            if code in fired:
                return True
        return False

    verdicts = {rule.code: silenced(rule) for rule in ran if rule.silenced_by}
    return [(rule, report) for rule, report in reports if not verdicts.get(rule.code, False)]


def _whole_lines(source: Source, start: Location, end: Location) -> tuple[Location, Location]:
    """A statement deleted on lines of its own takes its lines with it (indentation, trailing comment, line end)."""
    before = source.line(start.row)[: start.column - 1]
    after = source.line(end.row)[end.column - 1 :].strip()
    if before.strip() or (after and not after.startswith("#")):
        return start, end  # it shares a line with other code: remove the statement only
    if end.row < source.row_count:
        return Location(start.row, 1), Location(end.row + 1, 1)
    return Location(start.row, 1), Location(end.row, len(source.line(end.row)) + 1)
