"""knowledge.TASK_HEADS matches the installed transformers: re-derived on the meta device by scripts/task_heads.py,
heads and the head words found in parameter names alike (the soundness FRZ301's "all but <word>" check relies on)."""

from __future__ import annotations

import importlib.util
import sys

from snippets import codes

from freezelint import knowledge
from cli_helpers import ROOT


def load_script():
    spec = importlib.util.spec_from_file_location("task_heads", ROOT / "scripts" / "task_heads.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["task_heads"] = module
    spec.loader.exec_module(module)
    return module


def test_task_heads_table_matches_transformers():
    assert load_script().table() == knowledge.TASK_HEADS


def test_static_rule_uses_the_table_for_auto_classes():
    snippet = """
from transformers import AutoModelForSequenceClassification, Trainer
model = AutoModelForSequenceClassification.from_pretrained("Qwen/Qwen2.5-0.5B")
for name, param in model.named_parameters():
    if "classifier" not in name:
        param.requires_grad = False
Trainer(model=model, args=training_args, train_dataset=train_dataset).train()
"""
    assert "FRZ301" in codes(snippet)
    assert "FRZ301" not in codes(snippet.replace("Qwen/Qwen2.5-0.5B", "bert-base-uncased"))
