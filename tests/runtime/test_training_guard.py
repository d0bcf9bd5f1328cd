"""The guard in real (short, CPU) training runs: a Trainer with FreezelintCallback, and custom loops under guard()."""

from __future__ import annotations

import io

import pytest
import torch
from runtime_support import numel
from torch import nn

from freezelint.runtime import FreezelintCallback, NothingTrainableError, guard


def tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, vocab_size=100)
    return BertForSequenceClassification(config)


class Batches(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 16

    def __getitem__(self, index: int) -> dict:
        generator = torch.Generator().manual_seed(index)
        return {"input_ids": torch.randint(0, 100, (8,), generator=generator), "labels": torch.tensor(index % 2)}


def train_with_callback(model, tmp_path, steps: int = 3) -> tuple[FreezelintCallback, str]:
    from transformers import Trainer, TrainingArguments

    stream = io.StringIO()
    callback = FreezelintCallback(stream=stream)
    args = TrainingArguments(
        str(tmp_path), max_steps=steps, per_device_train_batch_size=4, report_to=[], use_cpu=True,
        save_strategy="no", logging_strategy="no", disable_tqdm=True,
    )
    Trainer(model=model, args=args, train_dataset=Batches(), callbacks=[callback]).train()
    return callback, stream.getvalue()


def codes(findings) -> list[str]:
    return [finding.code for finding in findings]


def test_trainer_run_prints_the_table_and_reports_a_module_attribute_freeze(tmp_path):
    model = tiny_bert()
    model.bert.requires_grad = False  # freezes nothing
    total, body = numel(model.parameters()), numel(model.bert.parameters())
    callback, output = train_with_callback(model, tmp_path)
    assert f"{total:,} parameters: {total:,} trainable, 0 frozen" in output
    assert f"bert        BertModel      {body:,}     {body:,}       0" in output
    assert codes(callback.findings) == ["FRZ101"]
    assert callback.guard.audited and callback.guard.steps == 3


def test_trainer_run_with_a_real_freeze_audits_clean(tmp_path):
    model = tiny_bert()
    model.bert.requires_grad_(False)
    total, body = numel(model.parameters()), numel(model.bert.parameters())
    callback, output = train_with_callback(model, tmp_path)
    assert f"{total:,} parameters: {total - body:,} trainable, {body:,} frozen" in output
    assert callback.findings == []


def test_trainer_run_with_nothing_trainable_fails_hard_at_train_start(tmp_path):
    model = tiny_bert()
    model.requires_grad_(False)
    with pytest.raises(NothingTrainableError, match="FRZ301"):
        train_with_callback(model, tmp_path)


def custom_loop(model, optimizer, steps=3, **options):
    stream = io.StringIO()
    with guard(model, optimizer, stream=stream, **options) as watching:
        for step in range(steps):
            batch = Batches()[step]
            loss = model(input_ids=batch["input_ids"][None], labels=batch["labels"][None]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    return watching, stream.getvalue()


def test_custom_loop_reports_unfrozen_parameters_missing_from_the_optimizer():
    model = tiny_bert()
    model.bert.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.bert.encoder.layer[-1].requires_grad_(True)  # after the optimizer: never updated
    before = model.bert.encoder.layer[-1].output.dense.weight.detach().clone()
    watching, output = custom_loop(model, optimizer)
    assert codes(watching.findings) == ["FRZ202"]
    tensors = len(list(model.bert.encoder.layer[-1].parameters()))
    assert f"{tensors} trainable parameter tensors of `model` are not in the optimizer" in output
    assert torch.equal(before, model.bert.encoder.layer[-1].output.dense.weight)  # what the message says


def test_custom_loop_clean_when_the_optimizer_holds_every_parameter():
    model = tiny_bert()
    model.bert.embeddings.requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    watching, _ = custom_loop(model, optimizer)
    assert codes(watching.findings) == ["FRZ201"]  # the note: harmless, frozen parameters held by the optimizer
    assert watching.audited


def test_custom_loop_reports_frozen_parameters_that_keep_moving():
    model = tiny_bert()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    batch = Batches()[0]
    model(input_ids=batch["input_ids"][None], labels=batch["labels"][None]).loss.backward()
    optimizer.step()  # momentum exists now; the grads stay
    model.bert.embeddings.requires_grad_(False)  # frozen mid-training, its .grad not cleared
    stream = io.StringIO()
    with guard(model, optimizer, stream=stream) as watching:
        for step in range(2):
            model(input_ids=Batches()[step]["input_ids"][None], labels=Batches()[step]["labels"][None]).loss.backward()
            optimizer.step()
    assert "FRZ206" in codes(watching.findings)


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.backbone(x).flatten(1))


def test_custom_loop_reports_frozen_batchnorm_statistics_drifting():
    torch.manual_seed(0)
    model = SmallCNN()
    model.backbone.requires_grad_(False)
    model.backbone.eval()
    optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1)
    stream = io.StringIO()
    with guard(model, stream=stream) as watching:  # no optimizer given: found through its step hook
        for _ in range(2):
            model.train()  # undoes backbone.eval(), as Trainer.training_step does
            loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 8, 8)), torch.tensor([0, 1, 0, 1]))
            loss.backward()
            optimizer.step()
    assert watching.optimizer is optimizer
    assert codes(watching.findings) == ["FRZ503"]
    assert "`backbone.1`" in stream.getvalue()


def rendered(output: str) -> list[str]:
    """What a terminal shows: each line as its last carriage return leaves it."""
    return [line.rsplit("\r", 1)[-1] for line in output.split("\n")]


def test_the_guard_writes_between_progress_bar_redraws_not_into_the_bar(tmp_path, capsys):
    """The Trainer's tqdm bar and the guard share stderr: the audit's finding, printed mid-training, must be a line of
    its own on screen."""
    from transformers import Trainer, TrainerCallback, TrainingArguments

    class UnfreezeAfterTheOptimizer(TrainerCallback):
        def on_step_begin(self, args, state, control, model=None, **kwargs):
            model.bert.encoder.layer[-1].requires_grad_(True)  # the optimizer was built without it: FRZ202

    model = tiny_bert()
    model.bert.requires_grad_(False)
    args = TrainingArguments(
        str(tmp_path), max_steps=4, per_device_train_batch_size=4, report_to=[], use_cpu=True, save_strategy="no",
        logging_strategy="no", disable_tqdm=False,
    )
    callback = FreezelintCallback()
    Trainer(model=model, args=args, train_dataset=Batches(), callbacks=[UnfreezeAfterTheOptimizer(), callback]).train()
    screen = rendered(capsys.readouterr().err)
    assert codes(callback.findings) == ["FRZ202"]
    assert any("%|" in line for line in screen), "the progress bar was drawn"
    finding = [line for line in screen if "FRZ202" in line]
    assert finding and finding[0].startswith("freezelint: FRZ202"), screen
