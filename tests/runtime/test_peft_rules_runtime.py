"""FRZ401-FRZ404 on a tiny BERT classifier with peft 0.21: what each reported snippet really trains, and what its
fixed version trains."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest
import torch
from library_models import saved
from snippets import changed, codes, namespace, run, snapshot

from freezelint import fix_text


def checkpointing_args():
    """The runs' training arguments with activation checkpointing on (`gradient_checkpointing=True` in transformers 4)."""
    return dataclasses.replace(namespace()["training_args"], activation_checkpointing=True, gradient_checkpointing=None)


def trainable(model: torch.nn.Module) -> list[str]:
    return [name for name, param in model.named_parameters() if param.requires_grad]


# --- FRZ401 --------------------------------------------------------------------------------------------------------

KBIT_AFTER_PEFT = """
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
from transformers import BertForSequenceClassification, Trainer

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value"]))
adapters = sum(p.numel() for p in model.parameters() if p.requires_grad)
model = prepare_model_for_kbit_training(model{options})
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
"""
TRAIN = "trainer.train()\n"


def test_frz401_kbit_preparation_after_peft_leaves_nothing_to_train():
    buggy = KBIT_AFTER_PEFT.format(options=", use_gradient_checkpointing=False")
    assert "FRZ401" in codes(buggy, TRAIN)
    names = run(buggy, namespace())
    assert names["adapters"] > 0 and trainable(names["model"]) == [], "the adapters were trainable, now nothing is"
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        run(TRAIN, names)


def test_frz401_after_peft_with_checkpointing_training_runs_and_changes_nothing():
    names = run(KBIT_AFTER_PEFT.format(options=""), namespace(training_args=checkpointing_args()))
    before = snapshot(names["model"])
    assert run(TRAIN, names)["trainer"].state.log_history[-1]["train_loss"] > 0, "a loss is logged as usual"
    assert changed(names["model"], before) == [], "and no weight moves"


def test_frz401_fix_moves_the_preparation_and_the_adapters_train():
    buggy = KBIT_AFTER_PEFT.format(options=", use_gradient_checkpointing=False")
    fixed = fix_text(textwrap.dedent(buggy) + TRAIN, unsafe=True, select=["FRZ401"])
    assert fixed.index("prepare_model_for_kbit_training(model") < fixed.index("get_peft_model(model")
    assert "FRZ401" not in codes(fixed)
    names = run(fixed.replace(TRAIN, ""), namespace())
    before = snapshot(names["model"])
    run(TRAIN, names)
    assert any("lora_" in name for name in changed(names["model"], before))


def test_frz401_preparation_alone_freezes_every_weight():
    snippet = """
    from peft import prepare_model_for_kbit_training
    from transformers import BertForSequenceClassification, Trainer

    model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
    model = prepare_model_for_kbit_training(model)
    trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
    """
    assert "FRZ401" in codes(snippet, TRAIN) and "FRZ301" not in codes(snippet, TRAIN)
    names = run(snippet, namespace())
    assert trainable(names["model"]) == []
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        run(TRAIN, names)
    names = run(snippet, namespace(training_args=checkpointing_args()))
    before = snapshot(names["model"])
    assert run(TRAIN, names)["trainer"].state.log_history[-1]["train_loss"] > 0, "with checkpointing: a loss is logged"
    assert changed(names["model"], before) == [], "and nothing changes"


# --- FRZ402 --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adapter() -> str:
    """A LoRA adapter trained (well, initialised) on the tiny BERT classifier and saved."""
    from peft import LoraConfig, get_peft_model
    from snippets import checkpoint
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    model = get_peft_model(
        BertForSequenceClassification.from_pretrained(checkpoint()),
        LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value"]),
    )
    return saved(model)


RESUME = """
from peft import PeftModel
from transformers import BertForSequenceClassification, Trainer

base = BertForSequenceClassification.from_pretrained(CHECKPOINT)
model = PeftModel.from_pretrained(base, ADAPTER)
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
"""


def test_frz402_adapter_loaded_without_is_trainable_is_frozen(adapter):
    assert "FRZ402" in codes(RESUME, TRAIN)
    names = run(RESUME, namespace(ADAPTER=adapter))
    assert trainable(names["model"]) == [], "0 trainable: adapters and head copies loaded frozen"
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        run(TRAIN, names)


def test_frz402_fix_adds_is_trainable_and_the_adapters_train(adapter):
    fixed = fix_text(textwrap.dedent(RESUME) + TRAIN, select=["FRZ402"])
    assert "is_trainable=True" in fixed and "FRZ402" not in codes(fixed)
    names = run(fixed.replace(TRAIN, ""), namespace(ADAPTER=adapter))
    assert any("lora_" in name for name in trainable(names["model"]))
    before = snapshot(names["model"])
    run(TRAIN, names)
    assert any("lora_" in name for name in changed(names["model"], before))


# --- FRZ403 --------------------------------------------------------------------------------------------------------

AFTER_PEFT = """
from peft import LoraConfig, get_peft_model
from transformers import BertForSequenceClassification, Trainer

base = BertForSequenceClassification.from_pretrained(CHECKPOINT)
model = get_peft_model(base, LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value"]))
{freeze}
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
"""


def test_frz403_freezing_base_model_after_peft_freezes_the_adapters():
    snippet = AFTER_PEFT.format(freeze="for param in model.base_model.parameters():\n    param.requires_grad = False")
    assert "FRZ403" in codes(snippet, TRAIN)
    names = run(snippet, namespace())
    assert trainable(names["model"]) == []
    with pytest.raises(RuntimeError, match="does not require grad"):
        run(TRAIN, names)


@pytest.mark.parametrize(
    "freeze",
    [
        "base.bert.requires_grad_(False)",
        'for name, param in model.named_parameters():\n    if "classifier" not in name:\n        param.requires_grad = False',
    ],
)
def test_frz403_backbone_or_all_but_head_after_peft_leaves_only_the_head(freeze):
    snippet = AFTER_PEFT.format(freeze=freeze)
    assert "FRZ403" in codes(snippet, TRAIN)
    names = run(snippet, namespace())
    left = trainable(names["model"])
    assert left and all("classifier" in name for name in left) and not any("lora_" in name for name in left)
    before = snapshot(names["model"])
    run(TRAIN, names)
    assert not any("lora_" in name for name in changed(names["model"], before)), "the adapters never train"


def test_frz403_unfreezing_all_after_peft_is_full_fine_tuning():
    snippet = AFTER_PEFT.format(freeze="model.requires_grad_(True)")
    assert "FRZ403" in codes(snippet, TRAIN)
    model = run(snippet, namespace())["model"]
    assert all(param.requires_grad for param in model.parameters())
    assert "FRZ403" not in codes(AFTER_PEFT.format(freeze=""), TRAIN)


# --- FRZ404 --------------------------------------------------------------------------------------------------------

TASK_MODEL = """
from peft import LoraConfig, get_peft_model
from transformers import BertForSequenceClassification, Trainer

model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
model = get_peft_model(model, LoraConfig({task}r=4, target_modules=["query", "value"]))
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
"""


def test_frz404_without_task_type_the_new_head_stays_frozen_and_unchanged():
    snippet = TASK_MODEL.format(task="")
    assert "FRZ404" in codes(snippet, TRAIN)
    names = run(snippet, namespace())
    model = names["model"]
    head = [name for name, _ in model.named_parameters() if "classifier" in name]
    assert head and not any(name in trainable(model) for name in head)
    before = snapshot(model)
    run(TRAIN, names)
    moved = changed(model, before)
    assert any("lora_" in name for name in moved), "the adapters train"
    assert not any("classifier" in name for name in moved), "the random head never does"


def test_frz404_with_task_type_the_head_trains():
    snippet = TASK_MODEL.format(task='task_type="SEQ_CLS", ')
    assert "FRZ404" not in codes(snippet, TRAIN)
    names = run(snippet, namespace())
    before = snapshot(names["model"])
    run(TRAIN, names)
    assert any("classifier.modules_to_save" in name for name in changed(names["model"], before))


def test_frz404_injected_adapters_ignore_task_type():
    snippet = """
    from peft import LoraConfig, inject_adapter_in_model
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
    model = inject_adapter_in_model(LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value"]), model)
    """
    assert "FRZ404" in codes(snippet)
    model = run(snippet, namespace())["model"]
    assert not model.classifier.weight.requires_grad
    fixed = snippet.replace('task_type="SEQ_CLS"', 'modules_to_save=["classifier"]')
    assert "FRZ404" not in codes(fixed)
    assert any("classifier" in name for name in trainable(run(fixed, namespace())["model"]))
