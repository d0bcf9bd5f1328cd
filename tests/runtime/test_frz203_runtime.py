"""FRZ203: the HF Trainer keeps the optimizer it built at the first train(); layers unfrozen later never change."""

from __future__ import annotations

import pytest
from snippets import changed, codes, initial, namespace, run, snapshot

CALLBACK = """
import torch
from transformers import BertForSequenceClassification, Trainer, TrainerCallback


class Unfreeze(TrainerCallback):
    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        if state.epoch >= 1:
            model.bert.encoder.layer[-1].requires_grad_(True)


model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
model.bert.requires_grad_(False)
"""
DEFAULT_OPTIMIZER = """
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset, callbacks=[Unfreeze()])
trainer.train()
"""
ALL_PARAMETERS = """
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset, callbacks=[Unfreeze()], optimizers=(optimizer, None))
trainer.train()
"""
TWO_CALLS = """
from transformers import BertForSequenceClassification, Trainer

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
model.bert.requires_grad_(False)
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
trainer.train()
model.bert.encoder.layer[-1].requires_grad_(True)
{reset}trainer.train()
"""


def layer_1_moved(model) -> bool:
    return any(name.startswith("bert.encoder.layer.1.") for name in changed(model, snapshot(initial())))


@pytest.mark.parametrize("hook", ["on_epoch_begin", "on_train_begin"])
def test_callback_unfreeze_is_ignored_by_the_trainers_optimizer(hook):
    """Even `on_train_begin` runs after the Trainer built its optimizer."""
    callback = CALLBACK.replace("on_epoch_begin", hook).replace("state.epoch >= 1", "True")
    assert "FRZ203" in codes(callback, DEFAULT_OPTIMIZER)
    names = run(callback + DEFAULT_OPTIMIZER, namespace())
    model, trainer = names["model"], names["trainer"]
    assert model.bert.encoder.layer[-1].output.dense.weight.requires_grad, "the callback did unfreeze"
    held = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not any(id(p) in held for p in model.bert.encoder.layer[-1].parameters())
    assert not layer_1_moved(model)


def test_an_optimizer_over_all_parameters_trains_what_the_callback_unfreezes():
    assert "FRZ203" not in codes(CALLBACK, ALL_PARAMETERS)
    names = run(CALLBACK + ALL_PARAMETERS, namespace())
    assert layer_1_moved(names["model"])


def test_second_train_call_keeps_the_first_optimizer_unless_reset():
    buggy = TWO_CALLS.format(reset="")
    assert "FRZ203" in codes(buggy)
    assert not layer_1_moved(run(buggy, namespace())["model"])
    fixed = TWO_CALLS.format(reset="trainer.optimizer = None\ntrainer.lr_scheduler = None\n")
    assert "FRZ203" not in codes(fixed)
    assert layer_1_moved(run(fixed, namespace())["model"])
