"""Real files broken the ways files get broken (truncated, random bytes inserted, indentation broken, lines lost or
swapped, a piece of another file dropped in; notebooks too): each is linted, or gets a one-line error naming the
cause; never a traceback, never an internal error; and fixing one never writes text that does not parse."""

from __future__ import annotations

import json
import random

from cli_helpers import FIXTURES, run_cli
from figures import count, scaled
from hypothesis import HealthCheck, given, settings
from programs import fixture_files, mutated_bytes

from freezelint.fixes import FixMode, fix_file
from freezelint.linter import lint_bytes
from freezelint.rules import select_rules
from freezelint.decoding import decode

RULES = select_rules()


@settings(max_examples=scaled(150), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bytes())
def test_a_broken_file_is_linted_or_gets_a_one_line_error(case: tuple[str, bytes, str]) -> None:
    name, data, how = case
    result = lint_bytes(name, data, RULES)
    count(f"mutated real files tried ({how})")
    if result.error is not None:
        message = result.error.message
        assert message and "\n" not in message and "internal error" not in message, message
        count("mutated real files rejected with a one-line error")
        return
    diff = fix_file(name, data, RULES, FixMode(unsafe=True, write=False))
    assert diff.error is None or "internal error" not in diff.error.message
    if diff.diff:
        fixed = lint_bytes(name, decode(name, data).encode(_fixed_text(name, data)), RULES)
        assert fixed.error is None, fixed.error
        count("mutated real files still valid, fixed, and the fix parses")


def _fixed_text(name: str, data: bytes) -> str:
    from freezelint.fixes import fix_source

    return fix_source(decode(name, data), RULES, unsafe=True).text


def test_the_command_line_reports_each_broken_file_in_one_line_and_the_others_as_if_alone(tmp_path):
    """Many broken files among the fixtures, one run: one error line each, and every fixture's findings exactly as
    when the fixtures are linted alone."""
    rng = random.Random(8)
    broken = tmp_path / "broken"
    broken.mkdir()
    files = [(name, data) for name, data in fixture_files()]
    for index in range(scaled(40)):
        name, data = rng.choice(files)
        cut = rng.randrange(max(1, len(data)))
        mangled = data[:cut] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 6))) + data[cut:]
        if index % 3 == 0:
            mangled = data[:cut]
        (broken / f"{index:03d}_{name}").write_bytes(mangled)
    (tmp_path / "fixtures").symlink_to(FIXTURES)

    alone = run_cli("--output-format", "json", "fixtures", cwd=tmp_path)
    together = run_cli("--output-format", "json", "fixtures", "broken", cwd=tmp_path)
    assert "Traceback" not in together.stderr
    error_lines = together.stderr.strip().splitlines()
    assert all(line.startswith("broken/") and ": error: " in line for line in error_lines), together.stderr
    assert len(error_lines) == len({line.split(": error: ")[0] for line in error_lines}), "one line per broken file"
    assert together.returncode == (2 if error_lines else 1)
    found = [finding for finding in json.loads(together.stdout) if "/broken/" not in finding["filename"]]
    assert found == json.loads(alone.stdout), "a broken file changed the findings of the others"
    count("broken files linted together with the fixtures (fixture findings unchanged)", scaled(40))
