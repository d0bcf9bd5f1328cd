"""Derive `knowledge.PARAMETER_COUNTS` from the bundled configs, on the meta device (no weights, no download).

    python scripts/parameter_counts.py            # print the table as Python
    python scripts/parameter_counts.py --check    # exit 1 when the knowledge table disagrees

Needs the `runtime` extra (torch, transformers). The static core only reads the resulting table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CONFIGS = Path(__file__).resolve().parent.parent / "freezelint" / "data" / "configs"

# Task heads counted per checkpoint: class-name ending -> transformers Auto class.
HEADS = {
    "Model": "AutoModel",
    "ForSequenceClassification": "AutoModelForSequenceClassification",
    "ForTokenClassification": "AutoModelForTokenClassification",
    "ForQuestionAnswering": "AutoModelForQuestionAnswering",
    "ForMaskedLM": "AutoModelForMaskedLM",
    "ForCausalLM": "AutoModelForCausalLM",
    "LMHeadModel": "AutoModelForCausalLM",
    "ForSeq2SeqLM": "AutoModelForSeq2SeqLM",
    "ForConditionalGeneration": ("AutoModelForSeq2SeqLM", "AutoModelForSpeechSeq2Seq"),
    "ForImageClassification": "AutoModelForImageClassification",
    "ForAudioClassification": "AutoModelForAudioClassification",
    "ForCTC": "AutoModelForCTC",
}
LABELLED = {"ForSequenceClassification", "ForTokenClassification", "ForImageClassification", "ForAudioClassification"}


def checkpoint_name(path: Path) -> str:
    return path.stem.replace("--", "/")


def count(auto_class: str | tuple[str, ...], config_dict: dict, num_labels: int | None) -> int | None:
    """Parameters of the first of these Auto classes that has a head for this architecture (None: none has)."""
    import torch
    import transformers

    for name in (auto_class,) if isinstance(auto_class, str) else auto_class:
        config = transformers.AutoConfig.for_model(**config_dict)
        if num_labels is not None:
            config.num_labels = num_labels
        try:
            with torch.device("meta"):
                model = getattr(transformers, name).from_config(config)
        except (ValueError, KeyError):
            continue  # this architecture has no such head
        return sum(parameter.numel() for parameter in model.parameters())
    return None


def table() -> dict[str, dict[str, tuple[int, int]]]:
    result: dict[str, dict[str, tuple[int, int]]] = {}
    for path in sorted(CONFIGS.glob("*.json")):
        config = json.loads(path.read_text())
        entries: dict[str, tuple[int, int]] = {}
        for suffix, auto_class in HEADS.items():
            if suffix in LABELLED:
                two, three = count(auto_class, config, 2), count(auto_class, config, 3)
                if two is not None and three is not None:
                    slope = three - two
                    entries[suffix] = (two - 2 * slope, slope)
            else:
                total = count(auto_class, config, None)
                if total is not None:
                    entries[suffix] = (total, 0)
        result[checkpoint_name(path)] = entries
    return result


def main() -> int:
    derived = table()
    if "--check" in sys.argv:
        sys.path.insert(0, str(CONFIGS.parent.parent.parent))
        from freezelint.knowledge import PARAMETER_COUNTS

        if PARAMETER_COUNTS != derived:
            print("knowledge.PARAMETER_COUNTS differs from the configs; run scripts/parameter_counts.py", file=sys.stderr)
            return 1
        return 0
    print("PARAMETER_COUNTS: dict[str, dict[str, tuple[int, int]]] = {")
    for checkpoint, entries in derived.items():
        print(f"    {checkpoint!r}: {{")
        for suffix, (base, slope) in entries.items():
            print(f"        {suffix!r}: ({base:_}, {slope:_}),")
        print("    },")
    print("}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
