"""FRZ508: every new `requires_grad` setting between calls of a compiled model compiles it again, up to the
recompile limit; flags set before the first call, or a fixed module toggled between two settings, do not pile up.

Compiled with `backend="eager"` (dynamo's graph capture and guards without code generation), which is what decides
recompiling, and keeps the test fast on CPU."""

from __future__ import annotations

import pytest
import torch
from snippets import codes, run

from freezelint import knowledge

SETUP = """
import torch
import torch.nn as nn

model = nn.Sequential(*[nn.Linear(4, 4) for _ in range(12)])
model.requires_grad_(False)
"""
GRADUAL = SETUP + """
compiled = torch.compile(model, backend="eager")
for epoch in range(12):
    model[11 - epoch].requires_grad_(True)
    compiled(torch.randn(2, 4)).sum().backward()
"""
BEFORE_FIRST_CALL = SETUP + """
compiled = torch.compile(model, backend="eager")
model[-4:].requires_grad_(True)
for epoch in range(12):
    compiled(torch.randn(2, 4)).sum().backward()
"""
ALTERNATING = SETUP + """
model[-1].requires_grad_(True)
compiled = torch.compile(model, backend="eager")
for step in range(12):
    model[0].requires_grad_(True)
    compiled(torch.randn(2, 4)).sum().backward()
    model[0].requires_grad_(False)
    compiled(torch.randn(2, 4)).sum().backward()
"""


@pytest.fixture
def dynamo():
    """Fresh compile caches and counters around each test."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    yield counters
    torch._dynamo.reset()
    counters.clear()


def test_the_recompile_limit_is_what_the_messages_say():
    assert torch._dynamo.config.recompile_limit == knowledge.COMPILE_RECOMPILE_LIMIT


def test_gradual_unfreezing_recompiles_until_the_limit_then_runs_eagerly(dynamo):
    assert "FRZ508" in codes(GRADUAL)
    run(GRADUAL, {})
    graphs = dynamo["stats"]["unique_graphs"]
    frames = dynamo["frames"]
    assert graphs == knowledge.COMPILE_RECOMPILE_LIMIT, "one compiled version per setting, up to the limit"
    assert frames["total"] > frames["ok"], "past the limit, calls are no longer compiled"


def test_flags_set_before_the_first_call_compile_once(dynamo):
    assert "FRZ508" not in codes(BEFORE_FIRST_CALL)
    names = run(BEFORE_FIRST_CALL, {})
    assert dynamo["stats"]["unique_graphs"] == 1
    assert names["model"][-1].weight.grad is not None and names["model"][0].weight.grad is None


def test_a_module_toggled_between_two_settings_compiles_twice(dynamo):
    assert "FRZ508" not in codes(ALTERNATING)
    run(ALTERNATING, {})
    assert dynamo["stats"]["unique_graphs"] == 2, "both settings stay cached: 24 calls, 2 compilations"
