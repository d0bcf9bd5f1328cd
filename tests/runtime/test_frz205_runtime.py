"""FRZ205: a parameter generator used up once yields nothing the second time."""

from __future__ import annotations

import pytest
from snippets import codes, namespace, run

COUNTED = """
import torch
from transformers import BertForSequenceClassification

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
model.bert.requires_grad_(False)
params = {params}
count = sum(p.numel() for p in params)
optimizer = torch.optim.AdamW(params, lr=1e-3)
"""
CLIPPED = """
import torch
from transformers import BertForSequenceClassification

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
params = {params}
optimizer = torch.optim.SGD(params, lr=0.1)
model(**loader[0]).loss.mul(1000).backward()
norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
"""
GENERATOR = "filter(lambda p: p.requires_grad, model.parameters())"
LIST = "[p for p in model.parameters() if p.requires_grad]"


def test_the_optimizer_gets_an_empty_parameter_list():
    buggy = COUNTED.format(params=GENERATOR)
    assert "FRZ205" in codes(buggy)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        run(buggy, namespace())
    fixed = COUNTED.format(params=LIST)
    assert "FRZ205" not in codes(fixed)
    names = run(fixed, namespace())
    assert names["count"] == sum(p.numel() for p in names["model"].classifier.parameters()) > 0
    assert len(names["optimizer"].param_groups[0]["params"]) == 2


def test_clipping_a_used_up_generator_clips_nothing():
    buggy = CLIPPED.format(params="model.parameters()")
    assert "FRZ205" in codes(buggy)
    names = run(buggy, namespace())
    assert float(names["norm"]) == 0.0
    assert float(names["model"].classifier.weight.grad.norm()) > 1.0, "the gradients were not clipped"
    fixed = CLIPPED.format(params="list(model.parameters())")
    assert "FRZ205" not in codes(fixed)
    names = run(fixed, namespace())
    assert float(names["norm"]) > 1.0
    total = sum(float(p.grad.norm()) ** 2 for p in names["model"].parameters() if p.grad is not None) ** 0.5
    assert total == pytest.approx(1.0, rel=1e-3)


def test_freezelints_fix_gives_the_optimizer_the_parameters():
    from freezelint import fix_text

    fixed = fix_text(COUNTED.format(params=GENERATOR))
    assert "list(filter(" in fixed and "FRZ205" not in codes(fixed)
    names = run(fixed, namespace())
    assert len(names["optimizer"].param_groups[0]["params"]) == 2 and names["count"] > 0
