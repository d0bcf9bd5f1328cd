"""The command line: `freezelint [PATHS]` (short for `freezelint check [PATHS]`), `freezelint rule CODE`,
`freezelint rules`. Click commands only; the work happens in `runner` and `report`.

Heavy modules (libcst, the rules) are imported inside the commands, so `freezelint --version` starts fast.
"""

from __future__ import annotations

import sys

import click

from freezelint import __version__

LEVELS = ("error", "warning", "note")


def _split(values: tuple[str, ...]) -> list[str]:
    """`--select FRZ1,FRZ302 --select FRZ5` -> ["FRZ1", "FRZ302", "FRZ5"]."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


class DefaultCommandGroup(click.Group):
    """A group whose first argument, when it is not a command name, is handed to `check` (`freezelint src/`).
    Command names win over paths of the same name: use `freezelint check ./check` for a directory called `check`."""

    default_command = "check"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(
    cls=DefaultCommandGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, "--version", prog_name="freezelint", message="%(prog)s %(version)s")
def main() -> None:
    """Find parameter-freezing mistakes in PyTorch and Hugging Face fine-tuning code.

    \b
    Usage:
      freezelint [OPTIONS] [PATHS]...     lint files and directories (same as `freezelint check`)
      freezelint rule FRZ101              explain one rule
      freezelint rules                    list every rule

    \b
    Examples:
      freezelint train.py
      freezelint src/ --select FRZ1 --output-format json

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
    "--fail-on", type=click.Choice(LEVELS), default="warning", show_default=True,
    help="The lowest level that makes the exit status 1 (lower levels are still printed).",
)
@click.option(
    "--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="text: path:row:col: CODE [level] message. json: an array shaped like ruff's JSON output.",
)
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: one per core).")
@click.option("--fix", is_flag=True, help="Apply safe fixes, rewriting the files; then report what remains.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, also apply unsafe fixes.")
@click.option(
    "--diff", is_flag=True,
    help="Print the changes --fix would make as a unified diff and write nothing (exit status 1 when there is one).",
)
def check(
    paths: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_select: tuple[str, ...],
    exclude: tuple[str, ...],
    extend_exclude: tuple[str, ...],
    fail_on: str,
    output_format: str,
    jobs: int | None,
    fix: bool,
    unsafe_fixes: bool,
    diff: bool,
) -> None:
    """Lint Python files and directories (default: the current directory)."""
    from freezelint.config import DEFAULT_EXCLUDES, Settings
    from freezelint.files import discover
    from freezelint.findings import Level
    from freezelint.fixes import FixMode
    from freezelint.report import formatter
    from freezelint.report.text import display_path
    from freezelint.rules import validate_codes
    from freezelint.runner import lint_files

    unknown = validate_codes(_split(select) + _split(ignore) + _split(extend_select))
    if unknown:
        raise click.UsageError(f"unknown rule code or prefix: {', '.join(unknown)} (see `freezelint rules`)")
    settings = Settings(
        select=_split(select) or None,
        ignore=_split(ignore),
        extend_select=_split(extend_select),
        exclude=tuple(_split(exclude)) or DEFAULT_EXCLUDES,
        extend_exclude=tuple(_split(extend_exclude)),
        fail_on=Level.parse(fail_on),
    )
    discovery = discover(list(paths) or ["."], settings.exclude + settings.extend_exclude)
    mode = FixMode(unsafe=unsafe_fixes, write=not diff) if (fix or diff) else None
    results = lint_files(discovery.files, settings.rules(), jobs, fix=mode)
    for error in discovery.errors + [r.error for r in results if r.error is not None]:
        click.echo(f"{display_path(error.path)}: error: {error.message}", err=True)
    for result in results:
        if result.notice is not None:
            click.echo(f"{display_path(result.path)}: notice: {result.notice}", err=True)
    failed = bool(discovery.errors) or any(result.error is not None for result in results)
    if diff:
        from freezelint.report.text import diff_summary

        click.echo("".join(result.diff for result in results if result.diff), nl=False)
        click.echo(diff_summary(results), err=True)
        sys.exit(2 if failed else 1 if any(result.diff for result in results) else 0)
    click.echo(formatter(output_format)(results, len(discovery.files)), nl=False)
    if failed:
        sys.exit(2)
    if any(finding.level >= settings.fail_on for result in results for finding in result.findings):
        sys.exit(1)


@main.command("rule")
@click.argument("code")
def show_rule(code: str) -> None:
    """Explain one rule: what it does, why it is bad, an example, what to use instead, fix safety."""
    from freezelint.rules import get_rule

    found = get_rule(code)
    if found is None:
        raise click.UsageError(f"no rule {code!r} (see `freezelint rules`)")
    fix = found.fix.value if found.fix else "none"
    click.echo(f"# {found.code} {found.name} ({found.level}, fix: {fix})\n\n{found.doc}")


@main.command("rules")
def list_rules() -> None:
    """List every rule: code, name, level, fix."""
    from freezelint.rules import all_rules

    for found in all_rules():
        fix = found.fix.value if found.fix else "-"
        click.echo(f"{found.code}  {found.name:<40} {str(found.level):<8} {fix:<12} {found.summary}")
