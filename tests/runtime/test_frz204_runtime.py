"""FRZ204: parameters created after the optimizer (PEFT adapters, a new head) are never updated."""

from __future__ import annotations

import torch
from snippets import changed, codes, namespace, run, snapshot

PEFT = """
import torch
from peft import LoraConfig, get_peft_model
from transformers import BertForSequenceClassification, Trainer

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
{before}model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value"]))
{after}trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset, optimizers=(optimizer, None))
"""
OPTIMIZER = "optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)\n"
TRAIN = "trainer.train()\n"

HEAD_SETUP = """
import torch
import torch.nn as nn
from transformers import BertForSequenceClassification

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
{before}model.classifier = nn.Linear(32, 3)
{after}"""
HEAD_TRAIN = """
for batch in loader:
    model(input_ids=batch["input_ids"]).logits.sum().backward()
    optimizer.step()
    optimizer.zero_grad()
"""


def test_optimizer_built_before_get_peft_model_trains_nothing():
    setup = PEFT.format(before=OPTIMIZER, after="")
    assert "FRZ204" in codes(setup, TRAIN)
    names = run(setup, namespace())
    model, optimizer = names["model"], names["optimizer"]
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and not any(id(p) in held for p in trainable), "no trainable parameter is in the optimizer"
    before = snapshot(model)
    output = run(TRAIN, names)["trainer"].state.log_history[-1]
    assert output["train_loss"] > 0, "training runs and logs a loss"
    assert changed(model, before) == [], "and changes nothing"


def test_optimizer_built_after_get_peft_model_trains_the_adapters():
    setup = PEFT.format(before="", after=OPTIMIZER)
    assert "FRZ204" not in codes(setup, TRAIN)
    names = run(setup, namespace())
    before = snapshot(names["model"])
    run(TRAIN, names)
    assert any("lora_" in name for name in changed(names["model"], before))


def test_head_replaced_after_the_optimizer_keeps_its_initial_weights():
    setup = HEAD_SETUP.format(before=OPTIMIZER, after="")
    assert "FRZ204" in codes(setup, HEAD_TRAIN)
    names = run(setup, namespace())
    head = names["model"].classifier
    start = head.weight.detach().clone()
    run(HEAD_TRAIN, names)
    assert head.weight.grad is not None, "the new head gets gradients"
    assert torch.equal(head.weight.detach(), start), "but keeps its initial weights"


def test_optimizer_after_the_new_head_trains_it():
    setup = HEAD_SETUP.format(before="", after=OPTIMIZER)
    assert "FRZ204" not in codes(setup, HEAD_TRAIN)
    names = run(setup, namespace())
    start = names["model"].classifier.weight.detach().clone()
    run(HEAD_TRAIN, names)
    assert not torch.equal(names["model"].classifier.weight.detach(), start)
