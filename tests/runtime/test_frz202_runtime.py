"""FRZ202: layers unfrozen after a requires_grad-filtered optimizer get gradients and never change."""

from __future__ import annotations

import torch
from snippets import changed, codes, initial, namespace, run, snapshot

SETUP = """
import torch
from transformers import BertForSequenceClassification

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
model.bert.requires_grad_(False)
optimizer = torch.optim.AdamW({params}, lr=1e-2)
"""
TRAIN = """
for epoch in range(3):
    if epoch == 1:
        model.bert.encoder.layer[-1].requires_grad_(True)
    for batch in loader:
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
"""
FILTERED = "filter(lambda p: p.requires_grad, model.parameters())"
ALL = "model.parameters()"


def test_unfrozen_layer_gets_gradients_and_never_moves():
    setup = SETUP.format(params=FILTERED)
    assert "FRZ202" in codes(setup, TRAIN)
    names = run(setup + TRAIN, namespace())
    model, start = names["model"], snapshot(initial())
    top = [f"bert.encoder.layer.1.{name}" for name, _ in model.bert.encoder.layer[-1].named_parameters()]
    assert all(model.get_parameter(name).grad is not None for name in top), "the unfrozen layer computes gradients"
    moved = changed(model, start)
    assert not set(top) & set(moved), "and its weights never change"
    assert any(name.startswith("classifier.") for name in moved), "while the head trains"


def test_optimizer_over_all_parameters_trains_the_unfrozen_layer():
    setup = SETUP.format(params=ALL)
    assert "FRZ202" not in codes(setup, TRAIN)
    names = run(setup + TRAIN, namespace())
    moved = changed(names["model"], snapshot(initial()))
    assert any(name.startswith("bert.encoder.layer.1.") for name in moved)
    assert not any(name.startswith("bert.encoder.layer.0.") for name in moved), "still frozen ones are skipped"


def test_add_param_group_breaks_an_existing_lambda_lr_schedule():
    """The message says so: `add_param_group` after `get_linear_schedule_with_warmup` fails at `scheduler.step()`."""
    names = run(SETUP.format(params=FILTERED), namespace())
    from transformers import get_linear_schedule_with_warmup

    optimizer, model = names["optimizer"], names["model"]
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, 10)
    model.bert.encoder.layer[-1].requires_grad_(True)
    optimizer.add_param_group({"params": list(model.bert.encoder.layer[-1].parameters())})
    model(**names["loader"][0]).loss.backward()
    optimizer.step()
    try:
        scheduler.step()
    except ValueError as error:
        assert "zip()" in str(error)
    else:
        raise AssertionError("LambdaLR accepted a new param group")
    assert isinstance(optimizer, torch.optim.AdamW)
