"""FRZ301: with every parameter frozen there is nothing to train: the first backward() fails, or the optimizer
refuses its empty parameter list; with activation checkpointing, the Trainer runs and changes nothing."""

from __future__ import annotations

import dataclasses

import pytest
from snippets import changed, checkpoint, codes, namespace, run, snapshot

FREEZE_ALL = """
from transformers import BertForSequenceClassification, Trainer

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
model.requires_grad_(False)
{unfreeze}trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
"""
TRAIN = "trainer.train()\n"
HEAD_FIRST = """
import torch
import torch.nn as nn
from transformers import BertForSequenceClassification

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
{head_before}for param in model.parameters():
    param.requires_grad = False
{head_after}trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for batch in loader:
    model(**batch).loss.backward()
    optimizer.step()
    optimizer.zero_grad()
"""
NEW_HEAD = "model.classifier = nn.Linear(32, 2)\n"
BY_NAME = """
from transformers import GPT2ForSequenceClassification

model = GPT2ForSequenceClassification.from_pretrained(CHECKPOINT)
for name, param in model.named_parameters():
    if "{head}" not in name:
        param.requires_grad = False
trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
"""
TRAIN_BY_NAME = """
import torch
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
"""


def test_trainer_crashes_at_the_first_backward_with_nothing_trainable():
    buggy = FREEZE_ALL.format(unfreeze="")
    assert "FRZ301" in codes(buggy, TRAIN)
    names = run(buggy, namespace())
    assert sum(p.requires_grad for p in names["model"].parameters()) == 0
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        run(TRAIN, names)
    fixed = FREEZE_ALL.format(unfreeze="model.classifier.requires_grad_(True)\n")
    assert "FRZ301" not in codes(fixed, TRAIN)
    run(fixed + TRAIN, namespace())


def test_with_activation_checkpointing_the_trainer_runs_and_changes_nothing():
    """transformers 5 hooks a text model's input embeddings when checkpointing is on, so the loss requires grad even
    with every parameter frozen: no error, a loss is logged, and no weight moves."""
    arguments = dataclasses.replace(namespace()["training_args"], activation_checkpointing=True, gradient_checkpointing=None)
    names = run(FREEZE_ALL.format(unfreeze=""), namespace(training_args=arguments))
    before = snapshot(names["model"])
    assert run(TRAIN, names)["trainer"].state.log_history[-1]["train_loss"] > 0
    assert changed(names["model"], before) == []


def test_a_head_replaced_before_freezing_all_is_frozen_too():
    buggy = HEAD_FIRST.format(head_before=NEW_HEAD, head_after="")
    assert "FRZ301" in codes(buggy)
    with pytest.raises(RuntimeError, match="does not require grad"):
        run(buggy, namespace())
    fixed = HEAD_FIRST.format(head_before="", head_after=NEW_HEAD)
    assert "FRZ301" not in codes(fixed)
    names = run(fixed, namespace())
    assert names["trainable"] == 32 * 2 + 2


def test_all_but_classifier_freezes_every_parameter_of_gpt2():
    """GPT-2's sequence-classification head is `score`: "classifier" matches no parameter name."""
    names = namespace(CHECKPOINT=checkpoint("gpt2"))
    buggy = BY_NAME.format(head="classifier")
    assert "FRZ301" in codes(buggy, TRAIN_BY_NAME)
    assert run(buggy, names)["trainable"] == 0
    with pytest.raises(ValueError, match="empty parameter list"):
        run(TRAIN_BY_NAME, names)
    fixed = BY_NAME.format(head="score")
    assert "FRZ301" not in codes(fixed, TRAIN_BY_NAME)
    names = run(fixed, namespace(CHECKPOINT=checkpoint("gpt2")))
    assert names["trainable"] == sum(p.numel() for p in names["model"].score.parameters()) > 0
