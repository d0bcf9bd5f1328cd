"""FRZ109: freezing applied to an object that is then replaced is lost; the model that trains has nothing frozen."""

from __future__ import annotations

from snippets import changed, codes, initial, namespace, run, snapshot

RELOADED = """
from transformers import BertForSequenceClassification, Trainer

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
model.bert.requires_grad_(False)
{reload}trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
"""
MODEL_INIT = """
from transformers import BertForSequenceClassification, Trainer


def model_init():
    model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
{inside}    return model


trainer = Trainer(model_init=model_init, args=training_args, train_dataset=train_dataset)
{outside}trainer.train()
"""


def test_reassigned_model_trains_with_nothing_frozen():
    buggy = RELOADED.format(reload="model = BertForSequenceClassification.from_pretrained(CHECKPOINT)\n")
    assert "FRZ109" in codes(buggy, "trainer.train()")
    names = run(buggy, namespace())
    model = names["model"]
    assert all(p.requires_grad for p in model.parameters())
    assert names["trainer"].model is model
    fixed = RELOADED.format(reload="")
    assert "FRZ109" not in codes(fixed, "trainer.train()")
    assert not any(p.requires_grad for p in run(fixed, namespace())["model"].bert.parameters())


def test_model_init_replaces_the_frozen_model_at_train():
    buggy = MODEL_INIT.format(inside="", outside="trainer.model.bert.requires_grad_(False)\n")
    assert "FRZ109" in codes(buggy)
    trained = run(buggy, namespace())["trainer"].model
    assert all(p.requires_grad for p in trained.parameters()), "the fresh model has nothing frozen"
    assert any(name.startswith("bert.") for name in changed(trained, snapshot(initial())))
    fixed = MODEL_INIT.format(inside="    model.bert.requires_grad_(False)\n", outside="")
    assert "FRZ109" not in codes(fixed)
    trained = run(fixed, namespace())["trainer"].model
    moved = changed(trained, snapshot(initial()))
    assert moved and not any(name.startswith("bert.") for name in moved)
