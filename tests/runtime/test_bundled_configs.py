"""The bundled configs: every checkpoint the README lists is there as a whole config and builds on the meta device
through the runtime loader; the BERT-family, GPT-2 and Llama-family ones have exactly the parameter count their
hyperparameters imply (derived here from the config values), and `knowledge.PARAMETER_COUNTS` agrees."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_helpers import ROOT

from freezelint.runtime import configs

LISTED = [
    "bert-base-uncased", "bert-base-cased", "bert-large-uncased", "bert-large-cased", "roberta-base", "roberta-large",
    "distilbert-base-uncased", "albert-base-v2", "xlm-roberta-base", "microsoft/deberta-v3-base",
    "google/electra-base-discriminator", "gpt2", "t5-small", "t5-base", "facebook/bart-base",
    "meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1", "Qwen/Qwen2.5-0.5B", "google/vit-base-patch16-224",
    "facebook/wav2vec2-base", "openai/whisper-small", "microsoft/resnet-50",
]


def load(checkpoint: str, auto_class: str, **kwargs):
    """`<auto_class>.from_pretrained(checkpoint, **kwargs)` as the runtime mode runs it: meta device, no download."""
    import transformers

    from freezelint.runtime.loader import Loader

    with Loader("<test>", {}, weights=False, allow_remote_code=False).installed():
        return getattr(transformers, auto_class).from_pretrained(checkpoint, **kwargs)


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def bundled(checkpoint: str) -> dict:
    path = configs.bundled_path(checkpoint)
    assert path is not None
    return json.loads(path.read_text())


def bert_family(c: dict, labels: int) -> int:
    """Embeddings, encoder layers, pooler and a `labels`-way classifier, from the config's sizes."""
    h, i = c["hidden_size"], c["intermediate_size"]
    embeddings = (c["vocab_size"] + c["max_position_embeddings"] + c["type_vocab_size"]) * h + 2 * h
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    return embeddings + c["num_hidden_layers"] * layer + (h * h + h) + (h * labels + labels)


def gpt2(c: dict) -> int:
    h = c["n_embd"]
    layer = 2 * h + (h * 3 * h + 3 * h) + (h * h + h) + 2 * h + (h * 4 * h + 4 * h) + (4 * h * h + h)
    return (c["vocab_size"] + c["n_positions"]) * h + c["n_layer"] * layer + 2 * h  # lm_head is the tied wte


def llama_family(c: dict) -> int:
    h, i, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    kv = c["num_key_value_heads"] * (h // c["num_attention_heads"])
    bias = (h + 2 * kv) if c["model_type"] == "qwen2" else 0  # Qwen2 has q/k/v biases
    layer = 2 * h * h + 2 * h * kv + bias + 3 * h * i + 2 * h
    head = 0 if c.get("tie_word_embeddings") else v * h
    return v * h + c["num_hidden_layers"] * layer + h + head


def test_every_listed_checkpoint_is_bundled_as_a_whole_config():
    for checkpoint in LISTED:
        config = bundled(checkpoint)
        assert "model_type" in config, checkpoint
        assert len(config) >= 8, f"{checkpoint}: a whole config spells out its architecture"
    assert set(LISTED) <= set(configs.bundled_names())


def test_bert_base_uncased_with_two_labels_has_109_483_778_parameters():
    model = load("bert-base-uncased", "AutoModelForSequenceClassification", num_labels=2)
    assert next(model.parameters()).device.type == "meta"
    derived = bert_family(bundled("bert-base-uncased"), labels=2)
    assert count(model) == derived == 109_483_778


@pytest.mark.parametrize("checkpoint", ["bert-base-cased", "bert-large-uncased", "bert-large-cased", "roberta-base",
                                        "roberta-large", "xlm-roberta-base"])
def test_bert_family_counts_follow_from_their_configs(checkpoint):
    # RoBERTa-style models have no pooler, but their classification head starts with a dense layer of the same size.
    model = load(checkpoint, "AutoModelForSequenceClassification", num_labels=3)
    assert count(model) == bert_family(bundled(checkpoint), labels=3)


def test_gpt2_counts_follow_from_its_config():
    model = load("gpt2", "AutoModelForCausalLM")
    assert count(model) == gpt2(bundled("gpt2"))


@pytest.mark.parametrize("checkpoint", ["meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1", "Qwen/Qwen2.5-0.5B"])
def test_decoder_counts_follow_from_their_configs(checkpoint):
    model = load(checkpoint, "AutoModelForCausalLM")
    assert count(model) == llama_family(bundled(checkpoint))


@pytest.mark.parametrize("checkpoint", LISTED)
def test_every_bundled_config_builds_its_architecture(checkpoint):
    import transformers

    architecture = (bundled(checkpoint).get("architectures") or ["AutoModel"])[0]
    cls = getattr(transformers, architecture, None) or transformers.AutoModel
    model = load(checkpoint, cls.__name__)
    assert count(model) > 0
    assert not model.training, "from_pretrained returns the model in eval mode; the runtime mode does too"


def test_knowledge_parameter_counts_match_the_bundled_configs():
    """`knowledge.PARAMETER_COUNTS` (read by the static rules) is what scripts/parameter_counts.py derives."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "parameter_counts.py"), "--check"], capture_output=True, text=True,
        cwd=ROOT, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr


def test_config_sources_in_order(tmp_path):
    from transformers import BertConfig

    config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
    config.save_pretrained(tmp_path / "ckpt")
    override = str(tmp_path / "ckpt")
    assert configs.resolve("bert-base-uncased", {}).kind == "bundled"
    assert configs.resolve("google-bert/bert-base-uncased", {}).kind == "bundled"
    assert configs.resolve("bert-base-uncased", {"bert-base-uncased": override}).kind == "--model-config"
    assert configs.resolve(override, {}).kind == "checkpoint directory"
    with pytest.raises(configs.ConfigNotFound, match="--model-config someone/model=path/to/config.json"):
        configs.resolve("someone/model", {})
