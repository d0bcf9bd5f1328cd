"""Rules' runtime verdict hooks confirm or refute static findings by code, from the runtime state alone. Each test hands the replay a
finding of one code on a chosen line, whether or not the static rule reports that line (so the verdict hook is tested
apart from its rule's static check), and checks the verdict against what the tiny model really does."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from runtime_support import numel, replay_file, tiny, tiny_model  # noqa: F401 - fixture

from freezelint.runtime.checkers import StaticFinding

HEADER = """\
import torch
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
"""


def verdict_at(tmp_path: Path, tiny: dict, body: str, code: str, marker: str, header: str = HEADER) -> dict:
    """Replay HEADER + body with a `code` finding added on the line containing `marker`; the verdict on that finding
    (the last one: the static findings of the text come first)."""
    text = header + textwrap.dedent(body)
    path = tmp_path / "train.py"
    path.write_text(text)
    row = next(i for i, line in enumerate(text.splitlines(), start=1) if marker in line)
    _, result = replay_file(path, tiny, extra_findings=[StaticFinding(code, row, row, "")])
    assert "error" not in result, result
    return result["verdicts"][-1]


TRAIN = "Trainer(model=model, args=TrainingArguments('out')).train()\n"


@pytest.fixture
def bert(tiny):
    return tiny_model(tiny, "bert-base-uncased", num_labels=2)


def test_frz101_confirmed_names_the_module_holding_the_attribute(tmp_path, tiny, bert):
    verdict = verdict_at(tmp_path, tiny, "model.bert.requires_grad = False\n" + TRAIN, "FRZ101", "requires_grad =")
    assert verdict["status"] == "confirmed"
    assert "`requires_grad` stored in `model.bert.__dict__`" in verdict["evidence"]
    assert f"all {numel(bert.parameters()):,} parameters of `model` are trainable" in verdict["evidence"]


def test_frz101_refuted_when_the_receiver_is_a_parameter(tmp_path, tiny):
    verdict = verdict_at(tmp_path, tiny, "model.classifier.weight.requires_grad = False\n" + TRAIN, "FRZ101", "requires_grad =")
    assert verdict["status"] == "refuted"
    assert "1 parameter tensor frozen" in verdict["evidence"]


def test_frz102_confirmed_by_the_misspelled_attribute_on_the_parameters(tmp_path, tiny, bert):
    body = "for p in model.bert.parameters():\n    p.require_grad = False\n" + TRAIN
    verdict = verdict_at(tmp_path, tiny, body, "FRZ102", "require_grad =")
    assert verdict["status"] == "confirmed"
    tensors = len(list(bert.bert.parameters()))
    assert f"`require_grad` stored as a plain attribute on {tensors} objects" in verdict["evidence"]


def test_frz103_confirmed_when_the_method_is_overwritten(tmp_path, tiny):
    verdict = verdict_at(tmp_path, tiny, "model.bert.requires_grad_ = False\n" + TRAIN, "FRZ103", "requires_grad_ =")
    assert verdict["status"] == "confirmed"
    assert "`requires_grad_` overwritten" in verdict["evidence"]


def test_frz104_confirmed_for_a_comparison_statement(tmp_path, tiny):
    body = "for p in model.bert.parameters():\n    p.requires_grad == False\n" + TRAIN
    verdict = verdict_at(tmp_path, tiny, body, "FRZ104", "== False")
    assert verdict["status"] == "confirmed"
    assert "changed no parameter's requires_grad" in verdict["evidence"]


def test_frz105_confirmed_for_a_detached_copy_and_refuted_for_the_parameter(tmp_path, tiny):
    body = "for name, value in model.state_dict().items():\n    value.requires_grad = False\n" + TRAIN
    verdict = verdict_at(tmp_path, tiny, body, "FRZ105", "value.requires_grad")
    assert verdict["status"] == "confirmed" and re.search(r"ran \d+ times", verdict["evidence"])
    body = "for name, value in model.named_parameters():\n    value.requires_grad = False\n" + TRAIN
    assert verdict_at(tmp_path, tiny, body, "FRZ105", "value.requires_grad")["status"] == "refuted"


def test_a_finding_on_a_line_the_replay_does_not_reach_is_not_checkable(tmp_path, tiny):
    body = "if torch.cuda.device_count() > 8:\n    model.bert.requires_grad = False\n" + TRAIN
    verdict = verdict_at(tmp_path, tiny, body, "FRZ101", "requires_grad =")
    assert verdict["status"] == "not-checkable"
    assert "did not run" in verdict["evidence"]


def test_frz108_confirmed_on_twelve_layers_and_refuted_on_two(tmp_path, tiny):
    body = (
        "for name, param in model.named_parameters():\n"
        "    if 'encoder.layer.1' in name:\n"
        "        param.requires_grad = False\n" + TRAIN
    )
    verdict = verdict_at(tmp_path, tiny, body, "FRZ108", "encoder.layer.1")
    assert verdict["status"] == "confirmed" and "also matches layers 10, 11" in verdict["evidence"]
    roberta = HEADER.replace('"bert-base-uncased"', '"roberta-base"')
    verdict = verdict_at(tmp_path, tiny, body, "FRZ108", "encoder.layer.1", header=roberta)
    assert verdict["status"] == "refuted"


GRADUAL = """\
model.bert.requires_grad_(False)
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
for epoch in range(2):
    if epoch == 1:
        model.bert.pooler.requires_grad_(True)
        {add}
    for batch in loader:
        model(**batch).loss.backward()
        optimizer.step()
"""


def test_frz202_confirmed_when_unfrozen_parameters_miss_the_optimizer(tmp_path, tiny, bert):
    verdict = verdict_at(tmp_path, tiny, GRADUAL.format(add="pass"), "FRZ202", "pooler.requires_grad_")
    assert verdict["status"] == "confirmed"
    assert f"{numel(bert.bert.pooler.parameters()):,} parameters of `model`" in verdict["evidence"]


def test_frz202_refuted_when_they_are_added_to_it(tmp_path, tiny):
    add = "optimizer.add_param_group({'params': list(model.bert.pooler.parameters())})"
    verdict = verdict_at(tmp_path, tiny, GRADUAL.format(add=add), "FRZ202", "pooler.requires_grad_")
    assert verdict["status"] == "refuted"


def test_frz301_confirmed_and_refuted(tmp_path, tiny, bert):
    total, head = numel(bert.parameters()), numel(bert.classifier.parameters())
    verdict = verdict_at(tmp_path, tiny, "model.requires_grad_(False)\n" + TRAIN, "FRZ301", "requires_grad_(False)")
    assert verdict == {"status": "confirmed", "evidence": f"0 of {total:,} parameters of `model` trainable"}
    body = "model.requires_grad_(False)\nmodel.classifier.requires_grad_(True)\n" + TRAIN
    verdict = verdict_at(tmp_path, tiny, body, "FRZ301", "requires_grad_(False)")
    assert verdict["status"] == "refuted"
    assert verdict["evidence"] == f"{head:,} of {total:,} parameters of `model` are trainable (`classifier`: {head:,})"


def test_frz302_refuted_when_the_replay_shows_frozen_parameters(tmp_path, tiny, bert):
    total, frozen = numel(bert.parameters()), numel(bert.bert.embeddings.parameters())
    verdict = verdict_at(tmp_path, tiny, "model.bert.embeddings.requires_grad_(False)\n" + TRAIN, "FRZ302", "from_pretrained")
    assert verdict["status"] == "refuted"
    assert verdict["evidence"] == f"{frozen:,} of {total:,} parameters of `model` are frozen (frozen at line 5)"


def test_frz503_confirmed_and_refuted(tmp_path, tiny):
    header = HEADER.replace("AutoModelForSequenceClassification.from_pretrained(\"bert-base-uncased\", num_labels=2)",
                            "AutoModelForImageClassification.from_pretrained(\"microsoft/resnet-50\")")
    header = header.replace("AutoModelForSequenceClassification", "AutoModelForImageClassification")
    verdict = verdict_at(tmp_path, tiny, "model.resnet.requires_grad_(False)\n" + TRAIN, "FRZ503", "requires_grad_", header)
    assert verdict["status"] == "confirmed"
    verdict = verdict_at(tmp_path, tiny, "model.classifier.requires_grad_(False)\n" + TRAIN, "FRZ503", "requires_grad_", header)
    assert verdict["status"] == "refuted"


def test_a_code_without_a_checker_is_not_checkable(tmp_path, tiny):
    verdict = verdict_at(tmp_path, tiny, TRAIN, "FRZ999", "Trainer(")
    assert verdict == {"status": "not-checkable", "evidence": "no runtime check for FRZ999 yet"}


@pytest.mark.parametrize("code", ["FRZ101", "FRZ102", "FRZ105", "FRZ202", "FRZ301"])
def test_the_codes_checked_here_have_verdict_hooks_in_their_rule_modules(code):
    from freezelint.rules import all_rules
    from freezelint.rules.runtime_hooks import VERDICTS

    all_rules()
    assert VERDICTS[code].__module__.startswith(f"freezelint.rules.{code.lower()}_")


def test_a_finding_in_a_function_nothing_calls_says_so(tmp_path, tiny):
    body = "def freeze(m):\n    m.bert.requires_grad = False\n" + TRAIN
    verdict = verdict_at(tmp_path, tiny, body, "FRZ101", "requires_grad =")
    assert verdict == {"status": "not-checkable", "evidence": "line 6 did not run in the replay: nothing calls `freeze` (line 5)"}


def test_frz402_confirmed_on_an_adapter_loaded_frozen_and_refuted_with_is_trainable(tmp_path, tiny):
    from peft import LoraConfig, get_peft_model

    adapter = tmp_path / "adapter"
    base = tiny_model(tiny, "bert-base-uncased", num_labels=2)
    get_peft_model(base, LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value"])).save_pretrained(adapter)
    header = HEADER.replace("import torch\n", "import torch\nfrom peft import PeftModel\n")
    loaded = f"model = PeftModel.from_pretrained(model, {str(adapter)!r}{{}})\n" + TRAIN
    frozen = verdict_at(tmp_path, tiny, loaded.format(""), "FRZ402", "PeftModel.from_pretrained(", header)
    assert frozen["status"] == "confirmed", frozen
    assert "adapter tensors loaded frozen" in frozen["evidence"] and "0 of" in frozen["evidence"]
    trainable = verdict_at(tmp_path, tiny, loaded.format(", is_trainable=True"), "FRZ402", "PeftModel.from_pretrained(", header)
    assert trainable["status"] == "refuted", trainable
