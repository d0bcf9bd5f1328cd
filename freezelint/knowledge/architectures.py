"""Architectures: parameter and layer counts of known checkpoints, model types, where each keeps its backbone."""

from __future__ import annotations

import re

from freezelint.knowledge.heads import CHECKPOINT_MODEL_TYPES, TASK_HEADS

# Parameter counts of common checkpoints, derived on the meta device from the bundled configs in data/configs by
# scripts/parameter_counts.py (a test re-derives them): {checkpoint: {class-name ending: (base, per label)}}.
# A model with n labels has base + n * per_label parameters.
PARAMETER_COUNTS: dict[str, dict[str, tuple[int, int]]] = {
    'Qwen/Qwen2.5-0.5B': {
        'Model': (494_032_768, 0),
        'ForSequenceClassification': (494_032_768, 896),
        'ForTokenClassification': (494_032_768, 897),
        'ForQuestionAnswering': (494_034_562, 0),
        'ForCausalLM': (494_032_768, 0),
        'LMHeadModel': (494_032_768, 0),
    },
    'albert-base-v2': {
        'Model': (11_683_584, 0),
        'ForSequenceClassification': (11_683_584, 769),
        'ForTokenClassification': (11_092_992, 769),
        'ForQuestionAnswering': (11_094_530, 0),
        'ForMaskedLM': (11_221_680, 0),
    },
    'bert-base-cased': {
        'Model': (108_310_272, 0),
        'ForSequenceClassification': (108_310_272, 769),
        'ForTokenClassification': (107_719_680, 769),
        'ForQuestionAnswering': (107_721_218, 0),
        'ForMaskedLM': (108_340_804, 0),
        'ForCausalLM': (108_340_804, 0),
        'LMHeadModel': (108_340_804, 0),
    },
    'bert-base-uncased': {
        'Model': (109_482_240, 0),
        'ForSequenceClassification': (109_482_240, 769),
        'ForTokenClassification': (108_891_648, 769),
        'ForQuestionAnswering': (108_893_186, 0),
        'ForMaskedLM': (109_514_298, 0),
        'ForCausalLM': (109_514_298, 0),
        'LMHeadModel': (109_514_298, 0),
    },
    'bert-large-cased': {
        'Model': (333_579_264, 0),
        'ForSequenceClassification': (333_579_264, 1_025),
        'ForTokenClassification': (332_529_664, 1_025),
        'ForQuestionAnswering': (332_531_714, 0),
        'ForMaskedLM': (333_610_308, 0),
        'ForCausalLM': (333_610_308, 0),
        'LMHeadModel': (333_610_308, 0),
    },
    'bert-large-uncased': {
        'Model': (335_141_888, 0),
        'ForSequenceClassification': (335_141_888, 1_025),
        'ForTokenClassification': (334_092_288, 1_025),
        'ForQuestionAnswering': (334_094_338, 0),
        'ForMaskedLM': (335_174_458, 0),
        'ForCausalLM': (335_174_458, 0),
        'LMHeadModel': (335_174_458, 0),
    },
    'distilbert-base-uncased': {
        'Model': (66_362_880, 0),
        'ForSequenceClassification': (66_953_472, 769),
        'ForTokenClassification': (66_362_880, 769),
        'ForQuestionAnswering': (66_364_418, 0),
        'ForMaskedLM': (66_985_530, 0),
    },
    'facebook/bart-base': {
        'Model': (139_420_416, 0),
        'ForSequenceClassification': (140_011_008, 769),
        'ForQuestionAnswering': (139_421_954, 0),
        'ForMaskedLM': (139_420_416, 0),
        'ForCausalLM': (96_103_680, 0),
        'LMHeadModel': (96_103_680, 0),
        'ForSeq2SeqLM': (139_420_416, 0),
        'ForConditionalGeneration': (139_420_416, 0),
    },
    'facebook/wav2vec2-base': {
        'Model': (94_371_712, 0),
        'ForAudioClassification': (94_568_576, 257),
        'ForCTC': (94_396_320, 0),
    },
    'google/electra-base-discriminator': {
        'Model': (108_891_648, 0),
        'ForSequenceClassification': (109_482_240, 769),
        'ForTokenClassification': (108_891_648, 769),
        'ForQuestionAnswering': (108_893_186, 0),
        'ForMaskedLM': (109_514_298, 0),
        'ForCausalLM': (109_514_298, 0),
        'LMHeadModel': (109_514_298, 0),
    },
    'google/vit-base-patch16-224': {
        'Model': (86_389_248, 0),
        'ForImageClassification': (85_798_656, 769),
    },
    'gpt2': {
        'Model': (124_439_808, 0),
        'ForSequenceClassification': (124_439_808, 768),
        'ForTokenClassification': (124_439_808, 769),
        'ForQuestionAnswering': (124_441_346, 0),
        'ForCausalLM': (124_439_808, 0),
        'LMHeadModel': (124_439_808, 0),
    },
    'meta-llama/Llama-2-7b-hf': {
        'Model': (6_607_343_616, 0),
        'ForSequenceClassification': (6_607_343_616, 4_096),
        'ForTokenClassification': (6_607_343_616, 4_097),
        'ForQuestionAnswering': (6_607_351_810, 0),
        'ForCausalLM': (6_738_415_616, 0),
        'LMHeadModel': (6_738_415_616, 0),
    },
    'microsoft/deberta-v3-base': {
        'Model': (183_831_552, 0),
        'ForSequenceClassification': (184_422_144, 769),
        'ForTokenClassification': (183_831_552, 769),
        'ForQuestionAnswering': (183_833_090, 0),
        'ForMaskedLM': (184_551_780, 0),
    },
    'microsoft/resnet-50': {
        'Model': (23_508_032, 0),
        'ForImageClassification': (23_508_032, 2_049),
    },
    'mistralai/Mistral-7B-v0.1': {
        'Model': (7_110_660_096, 0),
        'ForSequenceClassification': (7_110_660_096, 4_096),
        'ForTokenClassification': (7_110_660_096, 4_097),
        'ForQuestionAnswering': (7_110_668_290, 0),
        'ForCausalLM': (7_241_732_096, 0),
        'LMHeadModel': (7_241_732_096, 0),
    },
    'openai/whisper-small': {
        'Model': (241_734_912, 0),
        'ForCausalLM': (153_580_800, 0),
        'LMHeadModel': (153_580_800, 0),
        'ForConditionalGeneration': (241_734_912, 0),
        'ForAudioClassification': (88_350_976, 257),
    },
    'roberta-base': {
        'Model': (124_645_632, 0),
        'ForSequenceClassification': (124_645_632, 769),
        'ForTokenClassification': (124_055_040, 769),
        'ForQuestionAnswering': (124_056_578, 0),
        'ForMaskedLM': (124_697_433, 0),
        'ForCausalLM': (124_697_433, 0),
        'LMHeadModel': (124_697_433, 0),
    },
    'roberta-large': {
        'Model': (355_359_744, 0),
        'ForSequenceClassification': (355_359_744, 1_025),
        'ForTokenClassification': (354_310_144, 1_025),
        'ForQuestionAnswering': (354_312_194, 0),
        'ForMaskedLM': (355_412_057, 0),
        'ForCausalLM': (355_412_057, 0),
        'LMHeadModel': (355_412_057, 0),
    },
    't5-base': {
        'Model': (222_903_552, 0),
        'ForSequenceClassification': (223_494_144, 769),
        'ForTokenClassification': (109_628_544, 769),
        'ForQuestionAnswering': (222_905_090, 0),
        'ForSeq2SeqLM': (222_903_552, 0),
        'ForConditionalGeneration': (222_903_552, 0),
    },
    't5-small': {
        'Model': (60_506_624, 0),
        'ForSequenceClassification': (60_769_280, 513),
        'ForTokenClassification': (35_330_816, 513),
        'ForQuestionAnswering': (60_507_650, 0),
        'ForSeq2SeqLM': (60_506_624, 0),
        'ForConditionalGeneration': (60_506_624, 0),
    },
    'xlm-roberta-base': {
        'Model': (278_043_648, 0),
        'ForSequenceClassification': (278_043_648, 769),
        'ForTokenClassification': (277_453_056, 769),
        'ForQuestionAnswering': (277_454_594, 0),
        'ForMaskedLM': (278_295_186, 0),
        'ForCausalLM': (278_295_186, 0),
        'LMHeadModel': (278_295_186, 0),
    },
}


# Class-name endings of models that carry a task head on top of a base model (`model.base_model` is the backbone).
TASK_HEAD = re.compile(r"(For[A-Z]\w+|LMHeadModel|WithLMHead\w*)$")


def has_task_head(class_name: str | None) -> bool:
    return bool(class_name and TASK_HEAD.search(class_name))


def parameter_count(checkpoint: str | None, class_name: str | None, num_labels: int | None) -> int | None:
    """Parameters of a checkpoint loaded into a model class, when both are in the bundled table."""
    if not checkpoint or not class_name:
        return None
    table = PARAMETER_COUNTS.get(checkpoint.rstrip("/"))
    if table is None:
        return None
    suffix = TASK_HEAD.search(class_name)
    key = suffix.group(1) if suffix else "Model"
    if class_name.startswith("Auto") and not suffix:
        key = "Model"
    if key not in table:
        return None
    base, per_label = table[key]
    return base + per_label * (num_labels if num_labels is not None else 2)


# HF backbones, by model type: (the attribute task models keep it in, i.e. `base_model_prefix`; its input embedding
# block, whose output feeds the first stacked layer and has nothing trainable beside it; its stack of layers, which
# activation checkpointing wraps; the main input: "text" models take `input_ids`, and transformers 5 hooks their input
# embeddings when checkpointing is enabled). None where the architecture has no such single block (GPT-2 adds a
# learned `wpe` to `wte`) or no checkpointing. Derived from transformers 5.24 (`base_model_prefix`, `named_children()`,
# `get_input_embeddings()`, `main_input_name`); tests/runtime/test_backbones_runtime.py re-derives it.
BACKBONES: dict[str, tuple[str, str | None, str | None, str]] = {
    "bert": ("bert", "embeddings", "encoder", "text"),
    "roberta": ("roberta", "embeddings", "encoder", "text"),
    "xlm-roberta": ("roberta", "embeddings", "encoder", "text"),
    "distilbert": ("distilbert", "embeddings", "transformer", "text"),
    "deberta": ("deberta", "embeddings", "encoder", "text"),
    "deberta-v2": ("deberta", "embeddings", "encoder", "text"),
    "gptj": ("transformer", "wte", "h", "text"),
    "falcon": ("transformer", "word_embeddings", "h", "text"),
    "llama": ("model", "embed_tokens", "layers", "text"),
    "mistral": ("model", "embed_tokens", "layers", "text"),
    "mixtral": ("model", "embed_tokens", "layers", "text"),
    "qwen2": ("model", "embed_tokens", "layers", "text"),
    "qwen3": ("model", "embed_tokens", "layers", "text"),
    "gemma": ("model", "embed_tokens", "layers", "text"),
    "gemma2": ("model", "embed_tokens", "layers", "text"),
    "phi": ("model", "embed_tokens", "layers", "text"),
    "phi3": ("model", "embed_tokens", "layers", "text"),
    "vit": ("vit", "embeddings", "layers", "vision"),
    "deit": ("deit", "embeddings", "layers", "vision"),
    "dinov2": ("dinov2", "embeddings", "encoder", "vision"),
    "swin": ("swin", "embeddings", "encoder", "vision"),
    "resnet": ("resnet", None, None, "vision"),
    "regnet": ("regnet", None, None, "vision"),
    "mobilenet_v1": ("mobilenet_v1", None, None, "vision"),
    "mobilenet_v2": ("mobilenet_v2", None, None, "vision"),
    "efficientnet": ("efficientnet", None, None, "vision"),
}


# Class-name stems of those model types (`ViTForImageClassification` -> vit), and checkpoint names beyond
# CHECKPOINT_MODEL_TYPES, for `AutoModel*.from_pretrained("<literal>")`.
ARCHITECTURE_STEMS = {
    "Bert": "bert", "Roberta": "roberta", "XLMRoberta": "xlm-roberta", "DistilBert": "distilbert",
    "Deberta": "deberta", "DebertaV2": "deberta-v2", "GPTJ": "gptj", "Falcon": "falcon", "Llama": "llama",
    "Mistral": "mistral", "Mixtral": "mixtral", "Qwen2": "qwen2", "Qwen3": "qwen3", "Gemma": "gemma", "Gemma2": "gemma2",
    "Phi": "phi", "Phi3": "phi3", "ViT": "vit", "DeiT": "deit", "Dinov2": "dinov2", "Swin": "swin", "ResNet": "resnet",
    "RegNet": "regnet", "MobileNetV1": "mobilenet_v1", "MobileNetV2": "mobilenet_v2", "EfficientNet": "efficientnet",
}


MORE_CHECKPOINT_MODEL_TYPES = (
    (re.compile(r"(^|/)deit-", re.I), "deit"),
    (re.compile(r"dinov2", re.I), "dinov2"),
    (re.compile(r"(^|/)regnet-", re.I), "regnet"),
    (re.compile(r"mobilenet_v1", re.I), "mobilenet_v1"),
    (re.compile(r"mobilenet_v2", re.I), "mobilenet_v2"),
    (re.compile(r"efficientnet", re.I), "efficientnet"),
)


_ARCHITECTURE_CLASS = re.compile(r"^(?P<stem>[A-Z]\w*?)(Model|For[A-Z]\w*|LMHeadModel)$")


def model_type(class_name: str | None, checkpoint: str | None) -> str | None:
    """The HF model type of a model class (`BertForSequenceClassification` -> bert), or of an `AutoModel*` class by
    its checkpoint's name; None when unknown."""
    if not class_name:
        return None
    if class_name.startswith("Auto"):
        if not checkpoint:
            return None
        for pattern, kind in (*CHECKPOINT_MODEL_TYPES, *MORE_CHECKPOINT_MODEL_TYPES):
            if pattern.search(checkpoint):
                return kind
        return None
    if class_name in TASK_HEADS:
        return TASK_HEADS[class_name][0]
    match = _ARCHITECTURE_CLASS.match(class_name)
    return ARCHITECTURE_STEMS.get(match.group("stem")) if match else None


def is_base_model_class(class_name: str | None) -> bool:
    """`BertModel`, `AutoModel`: the backbone itself, without a task head (its parts sit at its root)."""
    return bool(class_name) and class_name.endswith("Model") and not has_task_head(class_name)  # type: ignore[union-attr]
