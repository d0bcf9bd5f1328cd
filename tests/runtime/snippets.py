"""Run a snippet the way a user would, on tiny real models, and lint the very same text.

A runtime test states a rule's consequence as a fact about real training: the snippet freezelint reports really does
lose the update (or crash, or train everything), and the fixed snippet really works. Snippets are plain Python run
with `exec` in a namespace that provides `CHECKPOINT` (a tiny BERT classifier saved to disk, loaded with
`from_pretrained` like a hub model), `loader` (a few batches), `training_args` and `train_dataset`.
"""

from __future__ import annotations

import functools
import os
import tempfile
import textwrap
import warnings

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from freezelint.linter import lint_bytes  # noqa: E402
from freezelint.rules import all_rules  # noqa: E402

TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, vocab_size=100)


@functools.cache
def checkpoint(kind: str = "bert") -> str:
    """A tiny classifier saved with `save_pretrained` (random weights, no download)."""
    from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2ForSequenceClassification

    torch.manual_seed(0)
    if kind == "gpt2":
        model = GPT2ForSequenceClassification(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=100, pad_token_id=0))
    else:
        model = BertForSequenceClassification(BertConfig(**TINY_BERT, num_labels=2))
    directory = tempfile.mkdtemp(prefix=f"freezelint-{kind}-")
    model.save_pretrained(directory)
    return directory


class Dataset(torch.utils.data.Dataset):
    def __init__(self, size: int = 8) -> None:
        generator = torch.Generator().manual_seed(1)
        self.input_ids = torch.randint(1, 100, (size, 8), generator=generator)
        self.labels = torch.randint(0, 2, (size,), generator=generator)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"input_ids": self.input_ids[index], "labels": self.labels[index]}


def namespace(**extra: object) -> dict:
    from transformers import TrainingArguments

    dataset = Dataset()
    loader = [{"input_ids": dataset.input_ids[i : i + 4], "labels": dataset.labels[i : i + 4]} for i in (0, 4)]
    training_args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="freezelint-run-"), per_device_train_batch_size=4, num_train_epochs=2,
        report_to=[], save_strategy="no", logging_strategy="no", use_cpu=True, learning_rate=1e-2, disable_tqdm=True,
    )
    return {"CHECKPOINT": checkpoint(), "loader": loader, "training_args": training_args, "train_dataset": dataset, **extra}


def run(code: str, names: dict) -> dict:
    """Execute a snippet (or the next part of one) in `names`; returns `names`."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(textwrap.dedent(code), "<snippet>", "exec"), names)
    return names


def codes(*parts: str) -> list[str]:
    """The rule codes freezelint reports on the snippet (its parts joined, as one file)."""
    text = "\n".join(textwrap.dedent(part) for part in parts)
    result = lint_bytes("snippet.py", text.encode(), all_rules())
    assert result.error is None, result.error
    return [finding.code for finding in result.findings]


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: param.detach().clone() for name, param in module.named_parameters()}


def changed(module: torch.nn.Module, before: dict[str, torch.Tensor]) -> list[str]:
    return sorted(name for name, param in module.named_parameters() if not torch.equal(param.detach(), before[name]))


def initial(name: str = "bert") -> torch.nn.Module:
    """The checkpoint as saved, to tell which weights training changed."""
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(checkpoint(name))
