"""Derive `knowledge.TASK_HEADS` from the installed transformers, on the meta device (no weights, no download).

    python scripts/task_heads.py            # print the table as Python
    python scripts/task_heads.py --check    # exit 1 when the knowledge table disagrees

For each model type and task below, the class transformers' Auto mapping picks, its head (the top-level sub-modules
that hold parameters, beyond the base model), and which of `knowledge.HEAD_WORDS` occur anywhere in the parameter
names `named_parameters()` yields. Needs the `runtime` extra (torch, transformers). The static core only reads the
resulting table.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from freezelint.knowledge import HEAD_WORDS  # noqa: E402

# Model types people fine-tune most, and the Auto mappings of the tasks whose heads get frozen around.
MODEL_TYPES = (
    "bert", "roberta", "xlm-roberta", "distilbert", "albert", "electra", "deberta", "deberta-v2", "mpnet",
    "gpt2", "gpt_neo", "gptj", "llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "phi", "phi3",
    "opt", "bloom", "falcon", "vit", "convnext", "swin", "resnet",
)
TASKS = {
    "ForSequenceClassification": "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
    "ForTokenClassification": "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES",
    "ForQuestionAnswering": "MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES",
    "ForCausalLM": "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",
    "ForMaskedLM": "MODEL_FOR_MASKED_LM_MAPPING_NAMES",
    "ForImageClassification": "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES",
}


def describe(model_type: str, class_name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The head sub-modules of one class, and the head words found in its parameter names."""
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(model_type)
    for attribute in ("num_hidden_layers", "n_layer", "num_layers", "n_layers"):
        if isinstance(getattr(config, attribute, None), int):
            setattr(config, attribute, 1)  # head names do not depend on depth
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        model = getattr(transformers, class_name)(config)
    heads = tuple(
        name for name, child in model.named_children()
        if name != model.base_model_prefix and any(True for _ in child.parameters())
    )
    names = [name for name, _ in model.named_parameters()]
    words = tuple(word for word in HEAD_WORDS if any(word in name for name in names))
    return heads, words


def table() -> dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    from transformers.models.auto import modeling_auto

    result: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {}
    for model_type in MODEL_TYPES:
        for task, mapping in TASKS.items():
            class_name = getattr(modeling_auto, mapping).get(model_type)
            if isinstance(class_name, (tuple, list)):
                class_name = class_name[0]
            if class_name:
                heads, words = describe(model_type, class_name)
                result[class_name] = (model_type, task, heads, words)
    return result


def main() -> int:
    derived = table()
    if "--check" in sys.argv:
        from freezelint.knowledge import TASK_HEADS

        if TASK_HEADS != derived:
            print("knowledge.TASK_HEADS differs from transformers; run scripts/task_heads.py", file=sys.stderr)
            return 1
        return 0
    print("TASK_HEADS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {")
    for class_name, entry in derived.items():
        print(f"    {class_name!r}: {entry!r},")
    print("}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
