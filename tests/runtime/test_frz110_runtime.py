"""FRZ110: a new nn.Parameter replacing a frozen one requires grad, so the "frozen" weight trains."""

from __future__ import annotations

import torch
from snippets import codes, namespace, run

SETUP = """
import torch
import torch.nn as nn
from transformers import BertForSequenceClassification

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
model.bert.embeddings.requires_grad_(False)
vectors = torch.randn(100, 32)
model.bert.embeddings.word_embeddings.weight = nn.Parameter(vectors{flag})
"""
TRAIN = """
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
for batch in loader:
    model(**batch).loss.backward()
    optimizer.step()
    optimizer.zero_grad()
"""


def test_new_parameter_undoes_the_freeze_and_trains():
    buggy = SETUP.format(flag="")
    assert "FRZ110" in codes(buggy, TRAIN)
    names = run(buggy, namespace())
    weight = names["model"].bert.embeddings.word_embeddings.weight
    assert weight.requires_grad
    start = weight.detach().clone()
    run(TRAIN, names)
    assert not torch.equal(weight.detach(), start)


def test_requires_grad_false_keeps_it_frozen():
    fixed = SETUP.format(flag=", requires_grad=False")
    assert "FRZ110" not in codes(fixed, TRAIN)
    names = run(fixed, namespace())
    weight = names["model"].bert.embeddings.word_embeddings.weight
    start = weight.detach().clone()
    run(TRAIN, names)
    assert not weight.requires_grad and torch.equal(weight.detach(), start)


def test_freezelints_unsafe_fix_keeps_the_weight_frozen():
    from freezelint import fix_text

    fixed = fix_text(SETUP.format(flag="") + TRAIN, unsafe=True)
    assert "requires_grad=False" in fixed and "FRZ110" not in codes(fixed)
    names = run(fixed, namespace())
    assert not names["model"].bert.embeddings.word_embeddings.weight.requires_grad
