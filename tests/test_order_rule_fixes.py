"""The fixes FRZ205 and FRZ110 propose are valid code that removes the finding, as `--fix` writes them."""

from __future__ import annotations

from support import FIXTURES

from freezelint import fix_text, lint_text


def fixed(name: str, code: str, unsafe: bool = False) -> str:
    text = (FIXTURES / code / name).read_text()
    assert code in [f.code for f in lint_text(text)]
    new = fix_text(text, unsafe=unsafe)
    assert code not in [f.code for f in lint_text(new)]
    return new


def test_frz205_fix_makes_the_parameters_a_list():
    assert "params = list(filter(lambda p: p.requires_grad, model.parameters()))" in fixed("counted_then_optimizer.py", "FRZ205")
    assert "[p for p in model.parameters() if p.requires_grad]" in fixed("clip_after_optimizer.py", "FRZ205")


def test_frz110_fix_creates_the_parameter_frozen_only_as_an_unsafe_fix():
    text = (FIXTURES / "FRZ110" / "new_parameter_after_freeze.py").read_text()
    assert fix_text(text) == text, "not applied without --unsafe-fixes"
    assert "nn.Parameter(vectors, requires_grad=False)" in fixed("new_parameter_after_freeze.py", "FRZ110", unsafe=True)
