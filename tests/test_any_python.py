"""The analysis never fails on a valid program: Python generated from the grammar (hypothesmith), analysed with every
rule forced to run (generated code holds none of the rules' tokens, which would otherwise skip it), alone and spliced
into a fixture that holds freezing code, so that the collector sees both at once."""

from __future__ import annotations

import dataclasses

import hypothesmith
import pytest
from figures import count, scaled
from hypothesis import HealthCheck, given, settings, strategies as st
from programs import fixture_statements

import libcst as cst

from freezelint.linter import lint_source
from freezelint.rules import select_rules
from freezelint.source import Source

# Generated code says odd things (`1()`); hypothesmith compiles it and Python warns. freezelint's own parse does not.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

EVERY_RULE = [dataclasses.replace(rule, tokens=()) for rule in select_rules()]
PROPERTY_SETTINGS = settings(
    max_examples=scaled(60),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def analysed_without_error(text: str) -> None:
    result = lint_source(Source("generated.py", text), EVERY_RULE)
    if result.error is not None and result.error.message.startswith("libcst cannot parse it"):
        count("generated programs valid for Python that libcst 1.9 cannot parse (a one-line error)")
        return
    assert result.error is None, f"{result.error.message}\n--- program ---\n{text}"


@PROPERTY_SETTINGS
@given(hypothesmith.from_grammar())
def test_programs_from_the_grammar(text: str) -> None:
    analysed_without_error(text)
    count("programs generated from Python's grammar (hypothesmith), analysed by every rule")


@PROPERTY_SETTINGS
@given(hypothesmith.from_node())
def test_programs_from_libcst_nodes(text: str) -> None:
    analysed_without_error(text)
    count("programs generated from libcst's node types (hypothesmith), analysed by every rule")


@PROPERTY_SETTINGS
@given(hypothesmith.from_node(), st.integers(0, len(fixture_statements()) - 1), st.integers(0, 40))
def test_generated_code_inside_freezing_code(generated: str, fixture: int, at: int) -> None:
    body = list(fixture_statements()[fixture])
    at = min(at, len(body))
    program = cst.Module(body=body[:at]).code + generated + ("\n" if not generated.endswith("\n") else "")
    program += cst.Module(body=body[at:]).code
    try:
        compile(program, "spliced.py", "exec")
    except SyntaxError:  # `from __future__` no longer first, and the like
        return
    analysed_without_error(program)
    count("generated programs spliced into a fixture, analysed by every rule")
