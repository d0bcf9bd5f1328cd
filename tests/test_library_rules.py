"""Rules at library boundaries whose truth depends on the transformers version the code targets, and their fixes."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from freezelint import fix_text, lint_text
from freezelint.config import Settings
from freezelint.findings import Level

V4 = Settings(target_transformers=4)
V5 = Settings(target_transformers=5)

FROZEN_EMBEDDINGS = """
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.embeddings.requires_grad_(False)
{enable}
Trainer(model=model, args={args}, train_dataset=train_dataset).train()
"""


def codes(text: str, settings: Settings = V5, select: str | None = None) -> list[str]:
    found = lint_text(textwrap.dedent(text), path="train.py", settings=settings, select=[select] if select else None)
    return [finding.code for finding in found]


@pytest.mark.parametrize(
    ("enable", "args", "v4", "v5"),
    [
        ("model.gradient_checkpointing_enable()", "training_args", True, False),
        ("", 'TrainingArguments("out", gradient_checkpointing=True)', True, False),
        ('model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})', "training_args", True, False),
        ('model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})', "training_args", False, False),
        ('', 'TrainingArguments("out", gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False})', False, False),
        ("model.gradient_checkpointing_enable()\nmodel.enable_input_require_grads()", "training_args", False, False),
        ("model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=options)", "training_args", False, False),
        ("model.bert.encoder.requires_grad_(False)\nmodel.gradient_checkpointing_enable()", "training_args", False, False),
    ],
)
def test_frz501_text_models_depend_on_the_target_version(enable, args, v4, v5):
    """transformers 4 checkpoints reentrantly by default; transformers 5 does not, and hooks text models' inputs."""
    text = FROZEN_EMBEDDINGS.format(enable=enable, args=args)
    assert ("FRZ501" in codes(text, V4, "FRZ501")) is v4
    assert ("FRZ501" in codes(text, V5, "FRZ501")) is v5


def test_frz501_names_the_cause_by_version():
    text = FROZEN_EMBEDDINGS.format(enable="model.gradient_checkpointing_enable()", args="training_args")
    [finding] = lint_text(textwrap.dedent(text), settings=V4, select=["FRZ501"])
    assert "the default of transformers 4" in finding.message and "`model.bert.embeddings`" in finding.message
    assert finding.start.row == 6


def test_frz502_only_on_transformers_5():
    text = """
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    model.bert.requires_grad_(False)
    Trainer(model=model, args=TrainingArguments("out", gradient_checkpointing=True), train_dataset=data).train()
    """
    assert codes(text, V5, "FRZ502") == ["FRZ502"]
    assert codes(text, V4, "FRZ502") == []


FEATURE_EXTRACTOR = """
from transformers import Wav2Vec2ForCTC

model = Wav2Vec2ForCTC.from_pretrained("facebook/wav2vec2-base")
model.freeze_feature_extractor()
"""


def test_frz112_is_an_error_on_5_a_note_on_4_and_a_configured_level_wins():
    [v5] = lint_text(FEATURE_EXTRACTOR, settings=V5, select=["FRZ112"])
    [v4] = lint_text(FEATURE_EXTRACTOR, settings=V4, select=["FRZ112"])
    assert (v5.level, v4.level) == (Level.ERROR, Level.NOTE)
    assert "removed in transformers 5" in v5.message and "deprecated" in v4.message
    configured = dataclasses.replace(V4, levels=(("FRZ112", Level.ERROR),))
    [loud] = lint_text(FEATURE_EXTRACTOR, settings=configured, select=["FRZ112"])
    assert loud.level is Level.ERROR


def test_frz112_fix_renames_the_call():
    fixed = fix_text(FEATURE_EXTRACTOR, select=["FRZ112"])
    assert fixed == """
from transformers import Wav2Vec2ForCTC

model = Wav2Vec2ForCTC.from_pretrained("facebook/wav2vec2-base")
model.freeze_feature_encoder()
"""


def test_frz401_fix_moves_the_preparation_before_peft():
    text = textwrap.dedent(
        """\
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from transformers import AutoModelForCausalLM

        def build():
            model = AutoModelForCausalLM.from_pretrained("gpt2", load_in_8bit=True)
            peft_model = get_peft_model(model, LoraConfig(r=8))
            peft_model.print_trainable_parameters()
            peft_model = prepare_model_for_kbit_training(peft_model, use_gradient_checkpointing=True)  # late
            return peft_model

        model = build()
        """
    )
    assert fix_text(text, select=["FRZ401"]) == text, "reordering is unsafe: not applied by --fix alone"
    fixed = fix_text(text, unsafe=True, select=["FRZ401"])
    assert fixed == textwrap.dedent(
        """\
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from transformers import AutoModelForCausalLM

        def build():
            model = AutoModelForCausalLM.from_pretrained("gpt2", load_in_8bit=True)
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
            peft_model = get_peft_model(model, LoraConfig(r=8))
            peft_model.print_trainable_parameters()
            return peft_model

        model = build()
        """
    )
    assert lint_text(fixed, select=["FRZ401"]) == []


def test_frz401_offers_no_move_across_branches():
    text = textwrap.dedent(
        """\
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained("gpt2", load_in_8bit=True)
        model = get_peft_model(model, LoraConfig(r=8))
        if quantized:
            model = prepare_model_for_kbit_training(model)
        """
    )
    [finding] = lint_text(text, select=["FRZ401"])
    assert finding.fix is None


def test_frz402_fix_adds_is_trainable_and_leaves_nothing_to_report():
    text = textwrap.dedent(
        """\
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, Trainer

        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("gpt2"), "ckpt")
        Trainer(model=model, args=training_args, train_dataset=train_dataset).train()
        """
    )
    fixed = fix_text(text, select=["FRZ402"])
    assert fixed == text.replace('"ckpt")', '"ckpt", is_trainable=True)')
    assert lint_text(fixed) == []


def test_frz501_llama_family_input_embeddings_on_transformers_4():
    """Real-code shape: `embed_tokens` is the Llama family's input embedding block (not a `*_tokens` tensor)."""
    text = """
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    model = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-2-7b-hf")
    model.model.embed_tokens.requires_grad_(False)
    model.gradient_checkpointing_enable()
    Trainer(model=model, args=TrainingArguments("out"), train_dataset=data).train()
    """
    [finding] = lint_text(textwrap.dedent(text), settings=V4, select=["FRZ501"])
    assert "`model.model.embed_tokens`" in finding.message and "`model.model.layers`" in finding.message
    assert codes(text, V5, "FRZ501") == []
