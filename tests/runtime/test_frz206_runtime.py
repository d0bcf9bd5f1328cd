"""FRZ206: parameters frozen mid-training while they hold a gradient keep moving."""

from __future__ import annotations

from snippets import changed, codes, namespace, run, snapshot

TRAIN = """
for batch in loader:
    optimizer.zero_grad(set_to_none=False)
    model(**batch).loss.backward()
    optimizer.step()
"""
SETUP = """
import torch
from transformers import BertForSequenceClassification

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
""" + TRAIN
FREEZE = """
model.bert.requires_grad_(False)
"""
FREEZE_AND_DROP = """
for param in model.bert.parameters():
    param.requires_grad = False
    param.grad = None
"""
STALE = """
import torch
from transformers import BertForSequenceClassification

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model(**loader[0]).loss.backward()
model.bert.requires_grad_(False)
before = {n: p.detach().clone() for n, p in model.bert.named_parameters()}
optimizer.step()
"""


def test_zeroed_gradients_keep_moving_frozen_weights():
    assert "FRZ206" in codes(SETUP, FREEZE, TRAIN)
    names = run(SETUP + FREEZE, namespace())
    bert = names["model"].bert
    frozen_at = snapshot(bert)
    run(TRAIN, names)
    assert not bert.embeddings.word_embeddings.weight.requires_grad
    assert changed(bert, frozen_at), "AdamW's moments and weight decay move the frozen weights"


def test_dropping_the_gradients_keeps_them_still():
    assert "FRZ206" not in codes(SETUP, FREEZE_AND_DROP, TRAIN)
    names = run(SETUP + FREEZE_AND_DROP, namespace())
    bert = names["model"].bert
    frozen_at = snapshot(bert)
    run(TRAIN, names)
    assert changed(bert, frozen_at) == []


def test_freezing_between_backward_and_step_still_applies_that_gradient():
    assert "FRZ206" in codes(STALE)
    names = run(STALE, namespace())
    bert = names["model"].bert
    assert changed(bert, names["before"]), "plain SGD moves the just-frozen weights once"
