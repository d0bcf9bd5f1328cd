"""Task heads: the head each architecture adds for each task, and which heads are new when loaded."""

from __future__ import annotations

import re

# Words people name a task head by in "freeze everything but X" name filters (`if "classifier" not in name`).
HEAD_WORDS = ("classifier", "pre_classifier", "score", "lm_head", "qa_outputs", "cls", "fc", "head", "heads", "predictions")


# The head of each transformers task model: {class: (model type, task, head sub-modules, the HEAD_WORDS that occur in
# the parameter names `named_parameters()` yields)}. Derived from transformers 5.24 by scripts/task_heads.py (the
# modeling_<type>.py of each model: e.g. `self.score = nn.Linear(...)` in LlamaForSequenceClassification, GPT2's
# `self.score`, DistilBERT's `pre_classifier` + `classifier`); tests/runtime/test_task_heads_runtime.py re-derives it.
# Words of tied heads depend on the checkpoint's config (GPT-2's `lm_head.weight` is the input embedding).
TASK_HEADS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    'BertForSequenceClassification': ('bert', 'ForSequenceClassification', ('classifier',), ('classifier',)),
    'BertForTokenClassification': ('bert', 'ForTokenClassification', ('classifier',), ('classifier',)),
    'BertForQuestionAnswering': ('bert', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'BertLMHeadModel': ('bert', 'ForCausalLM', ('cls',), ('cls', 'predictions')),
    'BertForMaskedLM': ('bert', 'ForMaskedLM', ('cls',), ('cls', 'predictions')),
    'RobertaForSequenceClassification': ('roberta', 'ForSequenceClassification', ('classifier',), ('classifier',)),
    'RobertaForTokenClassification': ('roberta', 'ForTokenClassification', ('classifier',), ('classifier',)),
    'RobertaForQuestionAnswering': ('roberta', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'RobertaForCausalLM': ('roberta', 'ForCausalLM', ('lm_head',), ('lm_head', 'head')),
    'RobertaForMaskedLM': ('roberta', 'ForMaskedLM', ('lm_head',), ('lm_head', 'head')),
    'XLMRobertaForSequenceClassification': ('xlm-roberta', 'ForSequenceClassification', ('classifier',), ('classifier',)),
    'XLMRobertaForTokenClassification': ('xlm-roberta', 'ForTokenClassification', ('classifier',), ('classifier',)),
    'XLMRobertaForQuestionAnswering': ('xlm-roberta', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'XLMRobertaForCausalLM': ('xlm-roberta', 'ForCausalLM', ('lm_head',), ('lm_head', 'head')),
    'XLMRobertaForMaskedLM': ('xlm-roberta', 'ForMaskedLM', ('lm_head',), ('lm_head', 'head')),
    'DistilBertForSequenceClassification': ('distilbert', 'ForSequenceClassification', ('pre_classifier', 'classifier'), ('classifier', 'pre_classifier')),
    'DistilBertForTokenClassification': ('distilbert', 'ForTokenClassification', ('classifier',), ('classifier',)),
    'DistilBertForQuestionAnswering': ('distilbert', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'DistilBertForMaskedLM': ('distilbert', 'ForMaskedLM', ('vocab_transform', 'vocab_layer_norm', 'vocab_projector'), ()),
    'AlbertForSequenceClassification': ('albert', 'ForSequenceClassification', ('classifier',), ('classifier',)),
    'AlbertForTokenClassification': ('albert', 'ForTokenClassification', ('classifier',), ('classifier',)),
    'AlbertForQuestionAnswering': ('albert', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'AlbertForMaskedLM': ('albert', 'ForMaskedLM', ('predictions',), ('predictions',)),
    'ElectraForSequenceClassification': ('electra', 'ForSequenceClassification', ('classifier',), ('classifier',)),
    'ElectraForTokenClassification': ('electra', 'ForTokenClassification', ('classifier',), ('classifier',)),
    'ElectraForQuestionAnswering': ('electra', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'ElectraForCausalLM': ('electra', 'ForCausalLM', ('generator_predictions', 'generator_lm_head'), ('lm_head', 'head', 'predictions')),
    'ElectraForMaskedLM': ('electra', 'ForMaskedLM', ('generator_predictions', 'generator_lm_head'), ('lm_head', 'head', 'predictions')),
    'DebertaForSequenceClassification': ('deberta', 'ForSequenceClassification', ('pooler', 'classifier'), ('classifier',)),
    'DebertaForTokenClassification': ('deberta', 'ForTokenClassification', ('classifier',), ('classifier',)),
    'DebertaForQuestionAnswering': ('deberta', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'DebertaForMaskedLM': ('deberta', 'ForMaskedLM', ('cls',), ('cls', 'predictions')),
    'DebertaV2ForSequenceClassification': ('deberta-v2', 'ForSequenceClassification', ('pooler', 'classifier'), ('classifier',)),
    'DebertaV2ForTokenClassification': ('deberta-v2', 'ForTokenClassification', ('classifier',), ('classifier',)),
    'DebertaV2ForQuestionAnswering': ('deberta-v2', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'DebertaV2ForMaskedLM': ('deberta-v2', 'ForMaskedLM', ('cls',), ('cls', 'predictions')),
    'MPNetForSequenceClassification': ('mpnet', 'ForSequenceClassification', ('classifier',), ('classifier',)),
    'MPNetForTokenClassification': ('mpnet', 'ForTokenClassification', ('classifier',), ('classifier',)),
    'MPNetForQuestionAnswering': ('mpnet', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'MPNetForMaskedLM': ('mpnet', 'ForMaskedLM', ('lm_head',), ('lm_head', 'head')),
    'GPT2ForSequenceClassification': ('gpt2', 'ForSequenceClassification', ('score',), ('score', 'fc')),
    'GPT2ForTokenClassification': ('gpt2', 'ForTokenClassification', ('classifier',), ('classifier', 'fc')),
    'GPT2ForQuestionAnswering': ('gpt2', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs', 'fc')),
    'GPT2LMHeadModel': ('gpt2', 'ForCausalLM', ('lm_head',), ('fc',)),
    'GPTNeoForSequenceClassification': ('gpt_neo', 'ForSequenceClassification', ('score',), ('score', 'fc')),
    'GPTNeoForTokenClassification': ('gpt_neo', 'ForTokenClassification', ('classifier',), ('classifier', 'fc')),
    'GPTNeoForQuestionAnswering': ('gpt_neo', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs', 'fc')),
    'GPTNeoForCausalLM': ('gpt_neo', 'ForCausalLM', ('lm_head',), ('fc',)),
    'GPTJForSequenceClassification': ('gptj', 'ForSequenceClassification', ('score',), ('score', 'fc')),
    'GPTJForQuestionAnswering': ('gptj', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs', 'fc')),
    'GPTJForCausalLM': ('gptj', 'ForCausalLM', ('lm_head',), ('lm_head', 'fc', 'head')),
    'LlamaForSequenceClassification': ('llama', 'ForSequenceClassification', ('score',), ('score',)),
    'LlamaForTokenClassification': ('llama', 'ForTokenClassification', ('score',), ('score',)),
    'LlamaForQuestionAnswering': ('llama', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'LlamaForCausalLM': ('llama', 'ForCausalLM', ('lm_head',), ('lm_head', 'head')),
    'MistralForSequenceClassification': ('mistral', 'ForSequenceClassification', ('score',), ('score',)),
    'MistralForTokenClassification': ('mistral', 'ForTokenClassification', ('score',), ('score',)),
    'MistralForQuestionAnswering': ('mistral', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'MistralForCausalLM': ('mistral', 'ForCausalLM', ('lm_head',), ('lm_head', 'head')),
    'MixtralForSequenceClassification': ('mixtral', 'ForSequenceClassification', ('score',), ('score',)),
    'MixtralForTokenClassification': ('mixtral', 'ForTokenClassification', ('score',), ('score',)),
    'MixtralForQuestionAnswering': ('mixtral', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'MixtralForCausalLM': ('mixtral', 'ForCausalLM', ('lm_head',), ('lm_head', 'head')),
    'Qwen2ForSequenceClassification': ('qwen2', 'ForSequenceClassification', ('score',), ('score',)),
    'Qwen2ForTokenClassification': ('qwen2', 'ForTokenClassification', ('score',), ('score',)),
    'Qwen2ForQuestionAnswering': ('qwen2', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'Qwen2ForCausalLM': ('qwen2', 'ForCausalLM', ('lm_head',), ('lm_head', 'head')),
    'Qwen3ForSequenceClassification': ('qwen3', 'ForSequenceClassification', ('score',), ('score',)),
    'Qwen3ForTokenClassification': ('qwen3', 'ForTokenClassification', ('score',), ('score',)),
    'Qwen3ForQuestionAnswering': ('qwen3', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'Qwen3ForCausalLM': ('qwen3', 'ForCausalLM', ('lm_head',), ('lm_head', 'head')),
    'GemmaForSequenceClassification': ('gemma', 'ForSequenceClassification', ('score',), ('score',)),
    'GemmaForTokenClassification': ('gemma', 'ForTokenClassification', ('score',), ('score',)),
    'GemmaForCausalLM': ('gemma', 'ForCausalLM', ('lm_head',), ()),
    'Gemma2ForSequenceClassification': ('gemma2', 'ForSequenceClassification', ('score',), ('score',)),
    'Gemma2ForTokenClassification': ('gemma2', 'ForTokenClassification', ('score',), ('score',)),
    'Gemma2ForCausalLM': ('gemma2', 'ForCausalLM', ('lm_head',), ()),
    'PhiForSequenceClassification': ('phi', 'ForSequenceClassification', ('score',), ('score', 'fc')),
    'PhiForTokenClassification': ('phi', 'ForTokenClassification', ('score',), ('score', 'fc')),
    'PhiForCausalLM': ('phi', 'ForCausalLM', ('lm_head',), ('lm_head', 'fc', 'head')),
    'Phi3ForSequenceClassification': ('phi3', 'ForSequenceClassification', ('score',), ('score',)),
    'Phi3ForTokenClassification': ('phi3', 'ForTokenClassification', ('score',), ('score',)),
    'Phi3ForCausalLM': ('phi3', 'ForCausalLM', ('lm_head',), ('lm_head', 'head')),
    'OPTForSequenceClassification': ('opt', 'ForSequenceClassification', ('score',), ('score', 'fc')),
    'OPTForQuestionAnswering': ('opt', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs', 'fc')),
    'OPTForCausalLM': ('opt', 'ForCausalLM', ('lm_head',), ('fc',)),
    'BloomForSequenceClassification': ('bloom', 'ForSequenceClassification', ('score',), ('score',)),
    'BloomForTokenClassification': ('bloom', 'ForTokenClassification', ('classifier',), ('classifier',)),
    'BloomForQuestionAnswering': ('bloom', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'BloomForCausalLM': ('bloom', 'ForCausalLM', ('lm_head',), ()),
    'FalconForSequenceClassification': ('falcon', 'ForSequenceClassification', ('score',), ('score',)),
    'FalconForTokenClassification': ('falcon', 'ForTokenClassification', ('classifier',), ('classifier',)),
    'FalconForQuestionAnswering': ('falcon', 'ForQuestionAnswering', ('qa_outputs',), ('qa_outputs',)),
    'FalconForCausalLM': ('falcon', 'ForCausalLM', ('lm_head',), ()),
    'ViTForImageClassification': ('vit', 'ForImageClassification', ('classifier',), ('classifier', 'cls', 'fc')),
    'ConvNextForImageClassification': ('convnext', 'ForImageClassification', ('classifier',), ('classifier',)),
    'SwinForImageClassification': ('swin', 'ForImageClassification', ('classifier',), ('classifier', 'fc')),
    'ResNetForImageClassification': ('resnet', 'ForImageClassification', ('classifier',), ('classifier',)),
}


# A checkpoint name's model type, for `AutoModelFor*.from_pretrained("<literal>")`: first match wins (more specific
# names first: "distilbert" before "bert", "xlm-roberta" before "roberta").
CHECKPOINT_MODEL_TYPES = (
    (re.compile(r"distilbert", re.I), "distilbert"),
    (re.compile(r"xlm-roberta", re.I), "xlm-roberta"),
    (re.compile(r"deberta-v[23]", re.I), "deberta-v2"),
    (re.compile(r"deberta", re.I), "deberta"),
    (re.compile(r"roberta", re.I), "roberta"),
    (re.compile(r"albert", re.I), "albert"),
    (re.compile(r"electra", re.I), "electra"),
    (re.compile(r"mpnet", re.I), "mpnet"),
    (re.compile(r"(^|/)bert-|(^|/)bert$", re.I), "bert"),
    (re.compile(r"gpt-?neo", re.I), "gpt_neo"),
    (re.compile(r"gpt-?j", re.I), "gptj"),
    (re.compile(r"(^|/)(distil)?gpt2", re.I), "gpt2"),
    (re.compile(r"mixtral", re.I), "mixtral"),
    (re.compile(r"mistral", re.I), "mistral"),
    (re.compile(r"llama", re.I), "llama"),
    (re.compile(r"qwen3", re.I), "qwen3"),
    (re.compile(r"qwen(1\.5|2)", re.I), "qwen2"),
    (re.compile(r"gemma-?2", re.I), "gemma2"),
    (re.compile(r"gemma", re.I), "gemma"),
    (re.compile(r"phi-?3", re.I), "phi3"),
    (re.compile(r"phi-?[12]", re.I), "phi"),
    (re.compile(r"(^|/)opt-", re.I), "opt"),
    (re.compile(r"bloom", re.I), "bloom"),
    (re.compile(r"falcon", re.I), "falcon"),
    (re.compile(r"(^|/)vit-", re.I), "vit"),
    (re.compile(r"convnext", re.I), "convnext"),
    (re.compile(r"(^|/)swin-", re.I), "swin"),
    (re.compile(r"(^|/)resnet-", re.I), "resnet"),
)


# Heads of torchvision and timm classifiers, by factory (torchvision) or model name (timm): (pattern, head
# sub-modules, HEAD_WORDS in their parameter names). From torchvision/models/resnet.py (`self.fc`), vgg.py and
# alexnet.py (`self.classifier`), densenet.py (`self.classifier`), mobilenetv2.py (`self.classifier`),
# vision_transformer.py (`self.heads = nn.Sequential(OrderedDict(head=...))`), swin_transformer.py (`self.head`),
# convnext.py (`self.classifier`); timm/models/resnet.py (`self.fc`), vision_transformer.py (`self.head`,
# `cls_token`, `Mlp.fc1`/`fc2` in every block).
VISION_TASK_HEADS = (
    ("torchvision", re.compile(r"^(resnet|resnext|wide_resnet)\d"), ("fc",), ("fc",)),
    ("torchvision", re.compile(r"^(vgg\d+(_bn)?|alexnet|densenet\d+|mobilenet_v2|convnext_\w+)$"), ("classifier",), ("classifier",)),
    ("torchvision", re.compile(r"^vit_"), ("heads",), ("heads", "head")),
    ("torchvision", re.compile(r"^swin_"), ("head",), ("head",)),
    ("timm", re.compile(r"^(resnet(18|26|34|50|101|152|200)[a-d]?|resnext\d+_\d+x\d+d|wide_resnet(50|101)_2)(\.|$)"), ("fc",), ("fc",)),
    ("timm", re.compile(r"^vit_"), ("head",), ("head", "cls", "fc")),
)


def task_head(class_name: str | None, checkpoint: str | None, library: str | None) -> tuple[str, tuple[str, ...], frozenset[str]] | None:
    """What a model's task head is called: (the architecture, for messages; its head sub-modules; the HEAD_WORDS its
    parameter names contain). None when the table does not know the model."""
    if library in ("torchvision", "timm"):
        name = class_name or checkpoint or ""
        for source, pattern, heads, words in VISION_TASK_HEADS:
            if source == library and pattern.search(name):
                return name, heads, frozenset(words)
        return None
    if not class_name:
        return None
    if class_name in TASK_HEADS:
        _, _, known_heads, known_words = TASK_HEADS[class_name]
        return class_name, known_heads, frozenset(known_words)
    if class_name.startswith("AutoModelFor") and checkpoint:
        task = class_name[len("AutoModel"):]
        model_type = next((kind for pattern, kind in CHECKPOINT_MODEL_TYPES if pattern.search(checkpoint)), None)
        for name, (kind, entry_task, task_heads, task_words) in TASK_HEADS.items():
            if kind == model_type and entry_task == task:
                return name, task_heads, frozenset(task_words)
    return None


# Task models whose head is new and randomly initialised when loaded from a base checkpoint: text task heads always
# (unless the checkpoint is already fine-tuned for the task), vision and audio classifiers when given new labels.
NEW_HEAD_TEXT_TASK = re.compile(r"For(SequenceClassification|TokenClassification|QuestionAnswering|MultipleChoice)$")


NEW_HEAD_WITH_LABELS_TASK = re.compile(r"For(ImageClassification|AudioClassification|AudioFrameClassification)$")


NEW_LABELS_KEYWORDS = ("num_labels", "id2label", "label2id", "ignore_mismatched_sizes")


# Checkpoint names that say the task head is already trained (`distilbert-base-uncased-finetuned-sst-2-english`).
FINETUNED_CHECKPOINT = re.compile(r"finetuned|fine-tuned|sst-?2|mnli|squad|conll|emotion|sentiment|imdb|ner\b", re.I)
