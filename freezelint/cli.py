"""The command line: `freezelint [PATHS]` (short for `freezelint check [PATHS]`), `freezelint rule CODE`,
`freezelint rules`. Click commands only; the work happens in `config`, `runner`, `noqa`, `baseline` and `report`.

Heavy modules (libcst, the rules) are imported inside the commands, so `freezelint --version` starts fast.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import click

from freezelint import __version__
from freezelint.report import FORMATS

LEVELS = ("error", "warning", "note")


def _split(values: tuple[str, ...]) -> list[str]:
    """`--select FRZ1,FRZ302 --select FRZ5` -> ["FRZ1", "FRZ302", "FRZ5"]."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _fail(path: str, message: str) -> None:
    """A one-line error naming the file, then exit status 2."""
    from freezelint.report import display_path

    click.echo(f"{display_path(path)}: error: {message}", err=True)
    sys.exit(2)


def _start(paths: list[str]) -> str:
    """Where the configuration search starts: the deepest directory holding every linted path."""
    absolute = [os.path.abspath(path) for path in paths]
    try:
        return os.path.commonpath(absolute)
    except ValueError:  # paths on different drives
        return absolute[0]


def _use_color() -> bool:
    """Colour on a terminal; NO_COLOR (any value) turns it off, FORCE_COLOR turns it on (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


class DefaultCommandGroup(click.Group):
    """A group whose first argument, when it is not a command name, is handed to `check` (`freezelint src/`).
    Command names win over paths of the same name: use `freezelint check ./check` for a directory called `check`."""

    default_command = "check"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = [self.default_command, *args]
        if "--" in args and {"--runtime", "--exec"} & set(args[: args.index("--")]):
            # `freezelint --runtime train.py -- --model_name_or_path x`: what follows `--` is the script's own.
            split = args.index("--")
            ctx.meta["freezelint.script_args"] = tuple(args[split + 1:])
            args = args[:split]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as error:  # Ctrl-C or `kill`: the run wound down (see runner.stop_on_signals)
            import signal

            number = getattr(error, "number", signal.SIGINT)
            click.echo(f"freezelint: stopped by {signal.Signals(number).name}", err=True)
            sys.exit(128 + number)


@click.group(
    cls=DefaultCommandGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, "--version", prog_name="freezelint", message="%(prog)s %(version)s")
def main() -> None:
    """Find parameter-freezing mistakes in PyTorch and Hugging Face fine-tuning code.

    \b
    Usage:
      freezelint [OPTIONS] [PATHS]...     lint files, directories and notebooks (same as `freezelint check`)
      freezelint rule FRZ101              explain one rule
      freezelint rules                    list every rule
      freezelint server                   the language server for editors (LSP over stdio)

    \b
    Examples:
      freezelint train.py notebooks/
      freezelint src/ --select FRZ1 --output-format sarif > freezelint.sarif
      cat train.py | freezelint - --stdin-filename train.py

    Settings are read from [tool.freezelint] in the nearest pyproject.toml above the linted paths.
    Exit status: 0 nothing at or above --fail-on, 1 findings, 2 a usage error or a file that could not be checked.
    Run `freezelint check --help` for every option.
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(), metavar="[PATHS]...")
@click.option("--select", multiple=True, metavar="CODES", help="Only these rules (codes or prefixes: FRZ1, FRZ302, ALL).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these rules (codes or prefixes).")
@click.option("--extend-select", multiple=True, metavar="CODES", help="Add rules to the selection.")
@click.option(
    "--exclude", multiple=True, metavar="GLOBS",
    help="Paths to skip, replacing the defaults (.git, .venv, venv, __pycache__, build, dist, node_modules, ...).",
)
@click.option("--extend-exclude", multiple=True, metavar="GLOBS", help="Paths to skip, in addition to the defaults.")
@click.option(
    "--force-exclude", is_flag=True, default=False,
    help="Apply excludes to files named explicitly too (pre-commit names every file).",
)
@click.option(
    "--respect-gitignore/--no-respect-gitignore", default=None,
    help="Skip files that .gitignore (at every level), .ignore, .git/info/exclude and git's global excludes file "
    "ignore (default: on; files named explicitly are still checked unless --force-exclude).",
)
@click.option(
    "--fail-on", type=click.Choice(LEVELS), default=None,
    help="The lowest level that makes the exit status 1 (default: warning; lower levels are still printed).",
)
@click.option(
    "--evidence", type=click.Choice(["any", "traced"]), default=None,
    help="traced: report only findings whose evidence the analysis traced, leaving out those that rest on a name "
    "alone (an attribute the file never assigns, a model built by code it cannot see). Default: any.",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings remain (a file that cannot be checked still exits 2).")
@click.option(
    "--output-format", type=click.Choice(list(FORMATS)), default=None,
    help="text (default: source line and caret), concise (one line each), json, json-lines, github (annotations), "
    "sarif (code scanning), junit, gitlab (code quality), markdown (a job summary).",
)
@click.option(
    "-o", "--output-file", type=click.Path(dir_okay=False), default=None, metavar="PATH",
    help="Write the report to PATH instead of standard output (parent directories are created).",
)
@click.option(
    "--also-output", multiple=True, metavar="FORMAT:PATH",
    help="Also write the report in FORMAT to PATH, in the same run (repeatable): "
    "`--output-format github --also-output sarif:freezelint.sarif`.",
)
@click.option("--show-fixes", is_flag=True, default=False, help="Show each finding's fix and how many are fixable.")
@click.option("--statistics", is_flag=True, help="Count findings per rule instead of listing them.")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only: no summary.")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), default=None, metavar="PATH",
    help="Read settings from this file (a pyproject.toml, or a TOML file with the keys at top level).",
)
@click.option("--isolated", is_flag=True, help="Ignore configuration files and project requirements: defaults and flags only.")
@click.option(
    "--stdin-filename", default=None, metavar="PATH",
    help="Lint standard input (path `-`, or no path) as this file: its name picks settings, notebooks end in .ipynb.",
)
@click.option("--add-noqa", is_flag=True, help="Add `# noqa: CODE` comments that silence every current finding.")
@click.option(
    "--baseline", "baseline_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
    help="Hide the known findings listed in FILE; only new ones are reported and fail.",
)
@click.option("--write-baseline", is_flag=True, help="Record every current finding in the baseline file, then exit 0.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: one per core).")
@click.option("--fix", is_flag=True, help="Apply safe fixes, rewriting the files; then report what remains.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, also apply unsafe fixes.")
@click.option(
    "--diff", is_flag=True,
    help="Print the changes --fix would make as a unified diff and write nothing (exit status 1 when there is one).",
)
@click.option(
    "--runtime", is_flag=True,
    help="Also build each model on the meta device (offline, no weights), replay what decides what trains, and "
    "confirm or refute every finding. Arguments after `--` go to the script. Needs freezelint[runtime].",
)
@click.option("--exec", "exec_mode", is_flag=True, help="With --runtime: run the whole script, stopping at the first "
              "Trainer.train() / optimizer.step() (implies --runtime; allows trust_remote_code=True).")
@click.option("--weights", is_flag=True, help="With --runtime: load the real weights (local files only).")
@click.option("--model-config", multiple=True, metavar="NAME=PATH",
              help="With --runtime: the config (config.json or checkpoint directory) to use for checkpoint NAME.")
@click.option("--timeout", type=click.FloatRange(min=1), default=120, show_default=True, metavar="SECONDS",
              help="With --runtime: time limit per file.")
@click.option(
    "--no-cache", is_flag=True, envvar="FREEZELINT_NO_CACHE",
    help="Analyse every file again: do not read or write .freezelint_cache/ (env FREEZELINT_NO_CACHE).",
)
@click.option(
    "--cache-dir", type=click.Path(file_okay=False), default=None, metavar="PATH", envvar="FREEZELINT_CACHE_DIR",
    help="Where the cache lives (default: .freezelint_cache/ in the project root; env FREEZELINT_CACHE_DIR).",
)
@click.option("--no-prefilter", is_flag=True, hidden=True, help="Parse every file, even one no rule can fire in (to check the pre-filter).")
def check(
    paths: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_select: tuple[str, ...],
    exclude: tuple[str, ...],
    extend_exclude: tuple[str, ...],
    force_exclude: bool,
    respect_gitignore: bool | None,
    fail_on: str | None,
    evidence: str | None,
    exit_zero: bool,
    output_format: str | None,
    output_file: str | None,
    also_output: tuple[str, ...],
    show_fixes: bool,
    statistics: bool,
    quiet: bool,
    config_file: str | None,
    isolated: bool,
    stdin_filename: str | None,
    add_noqa: bool,
    baseline_file: str | None,
    write_baseline: bool,
    jobs: int | None,
    fix: bool,
    unsafe_fixes: bool,
    diff: bool,
    runtime: bool,
    exec_mode: bool,
    weights: bool,
    model_config: tuple[str, ...],
    timeout: float,
    no_cache: bool,
    cache_dir: str | None,
    no_prefilter: bool,
) -> None:
    """Lint Python files, notebooks and directories (default: the current directory)."""
    from freezelint.baseline import BaselineError, load, render
    from freezelint.config import ConfigError, RuleSelection, load_settings
    from freezelint.files import discover, is_force_excluded, write_atomically
    from freezelint.ignore import is_ignored
    from freezelint.findings import FileResult, Level
    from freezelint.noqa import add_noqa_to_file
    from freezelint.report import ReportOptions, display_path, fails, formatter
    from freezelint.rules import validate_codes
    from freezelint.runner import lint_files, stop_on_signals
    from freezelint.source import SourceError

    stop_on_signals()
    use_stdin = paths == ("-",) or (not paths and stdin_filename is not None)
    if "-" in paths and not use_stdin:
        raise click.UsageError("`-` (standard input) cannot be combined with other paths")
    if isolated and config_file is not None:
        raise click.UsageError("--isolated and --config cannot be used together")
    if add_noqa and use_stdin:
        raise click.UsageError("--add-noqa rewrites files; it cannot be used with standard input")
    if fix and use_stdin:
        raise click.UsageError("--fix rewrites files; it cannot be used with standard input (use --diff)")
    if (fix or diff) and (add_noqa or write_baseline):
        raise click.UsageError("--fix and --diff cannot be combined with --add-noqa or --write-baseline")
    extra_reports = _extra_reports(also_output)
    if (output_file or extra_reports) and (diff or add_noqa or write_baseline):
        raise click.UsageError("--output-file and --also-output write reports; --diff, --add-noqa and --write-baseline make none")
    runtime = runtime or exec_mode
    script_args = click.get_current_context().meta.get("freezelint.script_args", ())
    if not runtime and (weights or model_config or script_args):
        raise click.UsageError("--weights, --model-config and script arguments after `--` need --runtime")
    if runtime and (use_stdin or fix or diff or add_noqa or write_baseline):
        raise click.UsageError("--runtime checks files as they are: it cannot be combined with standard input, --fix, "
                               "--diff, --add-noqa or --write-baseline")
    runtime_mode = None
    if runtime:
        from freezelint.runtime.command import Runtime, RuntimeOptions, unavailable

        hint = unavailable()
        if hint is not None:
            click.echo(f"freezelint: error: {hint}", err=True)
            sys.exit(2)
        try:
            runtime_mode = Runtime(RuntimeOptions(script_args, model_config, weights, exec_mode, timeout))
        except ValueError as error:
            raise click.UsageError(str(error)) from None
    mode = None
    if fix or diff:
        from freezelint.fixes import FixMode

        mode = FixMode(unsafe=unsafe_fixes, write=not diff)
    unknown = validate_codes(_split(select) + _split(ignore) + _split(extend_select))
    if unknown:
        raise click.UsageError(f"unknown rule code or prefix: {', '.join(unknown)} (see `freezelint rules`)")

    start = stdin_filename if use_stdin and stdin_filename else _start(list(paths) or ["."])
    try:
        settings = load_settings(start, config_file, isolated)
    except ConfigError as error:
        _fail(error.path, error.message)
    flags = RuleSelection(tuple(_split(select)) or None, tuple(_split(ignore)), tuple(_split(extend_select)))
    changes: dict = {}
    if flags != RuleSelection():
        changes["selections"] = (*settings.selections, flags)
    if exclude:
        changes["exclude"] = tuple(_split(exclude))
    if extend_exclude:
        changes["extend_exclude"] = settings.extend_exclude + tuple(_split(extend_exclude))
    for name, value in (("force_exclude", force_exclude), ("show_fixes", show_fixes)):
        if value:
            changes[name] = True
    if respect_gitignore is not None:
        changes["respect_gitignore"] = respect_gitignore
    if no_prefilter:
        changes["prefilter"] = False
    if fail_on is not None:
        changes["fail_on"] = Level.parse(fail_on)
    if evidence is not None:
        changes["evidence"] = evidence
    if output_format is not None:
        changes["output_format"] = output_format
    if baseline_file is not None:
        changes["baseline"] = os.path.abspath(baseline_file)
    settings = dataclasses.replace(settings, **changes)

    baseline_path = settings.baseline
    if write_baseline:
        if baseline_path is None:
            raise click.UsageError("--write-baseline needs --baseline FILE (or `baseline` in [tool.freezelint])")
        settings = dataclasses.replace(settings, baseline=None)  # record everything, known or not
    elif baseline_path is not None:
        try:
            load(baseline_path)
        except BaselineError as error:
            _fail(baseline_path, str(error))

    if use_stdin:
        name = stdin_filename or "-"
        results: list[FileResult] = []
        skipped = settings.force_exclude and stdin_filename and (
            is_force_excluded(name, settings.excludes, settings.root) or (settings.respect_gitignore and is_ignored(name))
        )
        if not skipped:
            data = sys.stdin.buffer.read()
            if mode is not None:
                from freezelint.fixes import fix_file

                results = [fix_file(name, data, settings.rules(), mode, settings)]
            else:
                from freezelint.linter import lint_bytes

                results = [lint_bytes(name, data, settings.rules(), settings)]
        checked = sum(1 for result in results if result.error is None)
    else:
        from freezelint.cache import Cache, default_directory

        discovery = discover(
            list(paths) or ["."], settings.excludes, settings.force_exclude, settings.root, settings.respect_gitignore,
            settings.includes,
        )
        if not discovery.files and not discovery.errors and not discovery.skipped:
            click.echo("freezelint: warning: no Python files found under the given paths", err=True)
        results = [FileResult(error.path, error=error) for error in discovery.errors]
        # The rules are imported (with libcst) only when some file is not in the cache. --fix and --diff rewrite
        # (or would rewrite) files: they always analyse, and their results are not kept.
        cache = None if no_cache or mode is not None else Cache(cache_dir or default_directory(settings), settings)
        # The runtime mode imports torch and analyses the files to replay while the workers lint them.
        warm_up = (lambda: runtime_mode.warm_up(discovery.files)) if runtime_mode is not None else None
        linted = lint_files(discovery.files, None, jobs, settings, cache, fix=mode, while_linting=warm_up)
        checked = sum(1 for result in linted if result.error is None)
        results += linted
    for result in results:
        if result.error is not None:
            click.echo(f"{display_path(result.error.path)}: error: {result.error.message}", err=True)
        if result.notice is not None:
            click.echo(f"{display_path(result.path)}: notice: {result.notice}", err=True)
    failed_files = any(result.error is not None for result in results)
    if diff:
        from freezelint.report.text import diff_summary

        click.echo("".join(result.diff for result in results if result.diff), nl=False)
        if not quiet:
            click.echo(diff_summary(results), err=True)
        sys.exit(2 if failed_files else 1 if any(result.diff for result in results) else 0)

    if write_baseline:
        assert baseline_path is not None
        text, count = render(baseline_path, results)
        try:
            write_atomically(baseline_path, text.encode("utf-8"), create=True)
        except OSError as error:
            _fail(baseline_path, f"cannot write the baseline: {error.strerror or error}")
        if not quiet:
            click.echo(f"Wrote {count} known finding{'s' if count != 1 else ''} to {display_path(baseline_path)}.")
        sys.exit(2 if failed_files else 0)
    if add_noqa:
        added = 0
        for result in results:
            if result.findings:
                try:
                    added += add_noqa_to_file(result.path, result.findings, write_atomically)
                except (OSError, SourceError) as error:
                    click.echo(f"{display_path(result.path)}: error: cannot add noqa comments: {error}", err=True)
                    failed_files = True
        if not quiet:
            click.echo(f"Added {added} noqa directive{'s' if added != 1 else ''}.")
        sys.exit(2 if failed_files else 0)

    fmt = settings.output_format
    if runtime_mode is not None:
        errors_before = sum(1 for result in results if result.error is not None)
        results = runtime_mode.annotate(
            results, settings, fmt in ("text", "concise") and _use_color(),
            lambda text, err: click.echo(text, err=err, nl=False),
        )
        not_built = sum(1 for result in results if result.error is not None) - errors_before  # a model not built
        checked -= not_built
        failed_files = failed_files or not_built > 0
    options = ReportOptions(
        color=fmt in ("text", "concise") and output_file is None and _use_color(),
        show_fixes=settings.show_fixes,
        quiet=quiet,
        rules=tuple(settings.rules()) if "sarif" in (fmt, *extra_reports.values()) else None,  # SARIF lists the rules that ran
        fail_on=settings.fail_on,
    )
    if statistics:
        from freezelint.report.text import format_statistics, statistics as count_by_code

        if fmt == "json":
            import json

            output = json.dumps(count_by_code(results), indent=2) + "\n"
        else:
            output = format_statistics(results, checked, options)
    else:
        output = formatter(fmt)(results, checked, options)
    if output_file is None:
        click.echo(output, nl=False, color=options.color)
    else:
        _write_report(output_file, output)
    plain = dataclasses.replace(options, color=False)
    for path, extra_format in extra_reports.items():
        _write_report(path, formatter(extra_format)(results, checked, plain))
    if failed_files:
        sys.exit(2)
    if not exit_zero and any(fails(finding, options) for result in results for finding in result.findings):
        sys.exit(1)


def _extra_reports(values: tuple[str, ...]) -> dict[str, str]:
    """`--also-output sarif:out/freezelint.sarif` -> {path: format}, checked before anything runs."""
    reports: dict[str, str] = {}
    for value in values:
        name, _, path = value.partition(":")
        if name not in FORMATS or not path:
            raise click.UsageError(
                f"--also-output takes FORMAT:PATH with a FORMAT among {', '.join(FORMATS)}, not {value!r}"
            )
        reports[path] = name
    return reports


def _write_report(path: str, text: str) -> None:
    """Write a report file whole (a temporary file, then a rename), creating its directory; a one-line error on
    failure."""
    from freezelint.files import write_atomically

    try:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        write_atomically(path, text.encode("utf-8"), create=True)
    except OSError as error:
        _fail(path, f"cannot write the report: {error.strerror or error}")


@main.command("server")
def server() -> None:
    """Run the language server for editors: LSP over stdin and stdout (needs freezelint[server]).

    Diagnostics as you type, quick fixes, `# noqa` actions, fix-all, and rule documentation on hover, for .py files
    and notebooks. Settings come from [tool.freezelint] as for `freezelint check`; the editor's initialization
    options can add `config`, `isolated`, `select`, `ignore` and `extendSelect`. See the README for editor set-up.
    """
    from freezelint.server import INSTALL_HINT, missing_dependency

    missing = missing_dependency()
    if missing is not None:
        click.echo(f"freezelint: error: the language server needs {missing}: {INSTALL_HINT}", err=True)
        sys.exit(2)
    try:
        from freezelint.server.app import serve
    except ImportError as error:  # an older pygls (1.x) has another layout
        click.echo(f"freezelint: error: the language server needs pygls 2 or newer ({error}): {INSTALL_HINT}", err=True)
        sys.exit(2)
    sys.exit(serve())


@main.command("rule")
@click.argument("code")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def show_rule(code: str, output_format: str) -> None:
    """Explain one rule: what it does, why it is bad, an example, what to use instead, fix safety."""
    from freezelint.docs import rule_record, rule_text
    from freezelint.rules import get_rule

    found = get_rule(code)
    if found is None:
        raise click.UsageError(f"no rule {code!r} (see `freezelint rules`)")
    if output_format == "json":
        import json

        click.echo(json.dumps(rule_record(found), indent=2, ensure_ascii=False))
    else:
        click.echo(rule_text(found), nl=False)


@main.command("rules")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_rules(output_format: str) -> None:
    """List every rule: code, name, level, fix, what it finds."""
    from freezelint.docs import fix_label, rule_record
    from freezelint.rules import all_rules

    if output_format == "json":
        import json

        click.echo(json.dumps([rule_record(found) for found in all_rules()], indent=2, ensure_ascii=False))
        return
    for found in all_rules():
        click.echo(f"{found.code}  {found.name:<40} {str(found.level):<8} {fix_label(found):<12} {found.summary}")
