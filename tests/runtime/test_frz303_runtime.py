"""FRZ303: a freeze option nothing applies changes nothing: every layer trains whatever the user passes."""

from __future__ import annotations

from snippets import codes, namespace, run

SCRIPT = """
import argparse

from transformers import BertForSequenceClassification, Trainer

parser = argparse.ArgumentParser()
parser.add_argument("--freeze_encoder", action="store_true")
args = parser.parse_args(["--freeze_encoder"])
model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
{apply}trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
total = sum(p.numel() for p in model.parameters())
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
"""
APPLY = "if args.freeze_encoder:\n    model.bert.requires_grad_(False)\n"


def test_the_option_is_passed_and_everything_still_trains():
    ignored = SCRIPT.format(apply="")
    assert "FRZ303" in codes(ignored, "trainer.train()")
    names = run(ignored, namespace())
    assert names["args"].freeze_encoder is True
    assert names["trainable"] == names["total"]
    applied = SCRIPT.format(apply=APPLY)
    assert "FRZ303" not in codes(applied, "trainer.train()")
    names = run(applied, namespace())
    assert names["trainable"] == sum(p.numel() for p in names["model"].classifier.parameters())
