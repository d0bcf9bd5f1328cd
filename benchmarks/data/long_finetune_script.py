# TEST DATA -- not a program to run, and not part of freezelint.
#
# A long, single-file fine-tuning script of the kind research code grows into (about 2,000 lines: configuration,
# data, models, freezing schedules, optimizers, a custom training loop and a Trainer path), written for
# `benchmarks/server_latency.py`, which measures how long `freezelint server` takes to publish diagnostics after an
# edit to a file this size. It contains freezing mistakes on purpose (an FRZ101 in `continue_training`, an FRZ201
# in `quick_probe`, and a few the analysis cannot see, as in real code) so that the server has something to report. Its imports are never executed by the benchmark.
"""Fine-tune a pretrained encoder for sequence classification, with layer freezing, gradual unfreezing,
layer-wise learning-rate decay, optional LoRA adapters, distillation from a teacher and EMA of the weights.

Usage:
    python train_classifier.py --config configs/sst2.yaml
    python train_classifier.py --model_name_or_path roberta-base --task_name mnli --freeze_layers 6
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import os
import random
import shutil
import sys
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, SequentialSampler

import datasets
import evaluate
import transformers
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
    set_seed,
)

try:
    from peft import LoraConfig, TaskType, get_peft_model
except ImportError:  # peft is optional
    LoraConfig = None
    get_peft_model = None

try:
    import wandb
except ImportError:
    wandb = None

logger = logging.getLogger("train_classifier")

TASK_TO_KEYS = {
    "cola": ("sentence", None),
    "mnli": ("premise", "hypothesis"),
    "mrpc": ("sentence1", "sentence2"),
    "qnli": ("question", "sentence"),
    "qqp": ("question1", "question2"),
    "rte": ("sentence1", "sentence2"),
    "sst2": ("sentence", None),
    "stsb": ("sentence1", "sentence2"),
    "wnli": ("sentence1", "sentence2"),
    "imdb": ("text", None),
    "ag_news": ("text", None),
    "yelp_polarity": ("text", None),
}

TASK_NUM_LABELS = {
    "cola": 2,
    "mnli": 3,
    "mrpc": 2,
    "qnli": 2,
    "qqp": 2,
    "rte": 2,
    "sst2": 2,
    "stsb": 1,
    "wnli": 2,
    "imdb": 2,
    "ag_news": 4,
    "yelp_polarity": 2,
}


# ---------------------------------------------------------------------------------------------------------------------
# Utilities
# ---------------------------------------------------------------------------------------------------------------------


def setup_logging(output_dir: str, local_rank: int = -1, verbose: bool = False) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    if local_rank not in (-1, 0):
        level = logging.WARNING
    handlers: List[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if output_dir and local_rank in (-1, 0):
        os.makedirs(output_dir, exist_ok=True)
        handlers.append(logging.FileHandler(os.path.join(output_dir, "train.log")))
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        level=level,
        handlers=handlers,
    )
    datasets.utils.logging.set_verbosity_warning()
    transformers.utils.logging.set_verbosity_warning()


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    set_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)


def is_main_process() -> bool:
    return not dist.is_available() or not dist.is_initialized() or dist.get_rank() == 0


def world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def reduce_mean(value: torch.Tensor) -> torch.Tensor:
    if world_size() == 1:
        return value
    value = value.clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / world_size()


def get_device(no_cuda: bool = False) -> torch.device:
    if torch.cuda.is_available() and not no_cuda:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available() and not no_cuda:
        return torch.device("mps")
    return torch.device("cpu")


class AverageMeter:
    """Running average of a scalar, with a window for smoothed logging."""

    def __init__(self, name: str, window: int = 50) -> None:
        self.name = name
        self.window = deque(maxlen=window)
        self.total = 0.0
        self.count = 0

    def update(self, value: float, n: int = 1) -> None:
        self.window.append(value)
        self.total += value * n
        self.count += n

    @property
    def average(self) -> float:
        return self.total / max(self.count, 1)

    @property
    def smoothed(self) -> float:
        return sum(self.window) / max(len(self.window), 1)

    def reset(self) -> None:
        self.window.clear()
        self.total = 0.0
        self.count = 0

    def __repr__(self) -> str:
        return f"{self.name}: {self.smoothed:.4f} (avg {self.average:.4f})"


class Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.laps: Dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def lap(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.laps[name] += time.perf_counter() - started

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def summary(self) -> str:
        total = self.elapsed()
        parts = [f"{name} {seconds:.1f}s ({100 * seconds / max(total, 1e-9):.0f}%)" for name, seconds in self.laps.items()]
        return f"total {total:.1f}s: " + ", ".join(parts)


def count_parameters(model: nn.Module) -> Tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def log_trainable_parameters(model: nn.Module, title: str = "model") -> None:
    total, trainable = count_parameters(model)
    logger.info(
        "%s: %s parameters, %s trainable (%.2f%%)",
        title,
        f"{total:,}",
        f"{trainable:,}",
        100.0 * trainable / max(total, 1),
    )


def human_bytes(num: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(num) < 1024.0:
            return f"{num:.1f}{unit}"
        num /= 1024.0
    return f"{num:.1f}PB"


def gpu_memory_summary(device: torch.device) -> str:
    if device.type != "cuda":
        return "cpu"
    allocated = torch.cuda.memory_allocated(device)
    reserved = torch.cuda.memory_reserved(device)
    peak = torch.cuda.max_memory_allocated(device)
    return f"allocated {human_bytes(allocated)}, reserved {human_bytes(reserved)}, peak {human_bytes(peak)}"


def save_json(data: Any, path: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, default=str)
    os.replace(tmp, path)


def load_json(path: str) -> Any:
    with open(path, "r", encoding="utf-8") as handle:
        return json.load(handle)


def flatten_dict(data: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    flat: Dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten_dict(value, name))
        else:
            flat[name] = value
    return flat


# ---------------------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class ModelArguments:
    model_name_or_path: str = "bert-base-uncased"
    config_name: Optional[str] = None
    tokenizer_name: Optional[str] = None
    cache_dir: Optional[str] = None
    revision: str = "main"
    use_fast_tokenizer: bool = True
    trust_remote_code: bool = False
    classifier_dropout: Optional[float] = None
    pooling: str = "cls"  # cls | mean | max | attention
    head_hidden_size: int = 0
    head_layers: int = 1
    teacher_name_or_path: Optional[str] = None
    gradient_checkpointing: bool = False
    torch_dtype: Optional[str] = None


@dataclass
class DataArguments:
    task_name: Optional[str] = "sst2"
    dataset_name: Optional[str] = None
    dataset_config_name: Optional[str] = None
    train_file: Optional[str] = None
    validation_file: Optional[str] = None
    test_file: Optional[str] = None
    text_column: Optional[str] = None
    text_pair_column: Optional[str] = None
    label_column: str = "label"
    max_seq_length: int = 128
    pad_to_max_length: bool = False
    max_train_samples: Optional[int] = None
    max_eval_samples: Optional[int] = None
    preprocessing_num_workers: Optional[int] = None
    overwrite_cache: bool = False
    augment_probability: float = 0.0
    label_smoothing: float = 0.0
    class_weights: Optional[List[float]] = None


@dataclass
class FreezeArguments:
    freeze_embeddings: bool = True
    freeze_layers: int = 0  # freeze the first N encoder layers
    freeze_encoder: bool = False
    gradual_unfreeze: bool = False
    unfreeze_every_epochs: int = 1
    layerwise_lr_decay: float = 1.0
    train_layer_norms: bool = True
    train_bias_only: bool = False  # BitFit


@dataclass
class AdapterArguments:
    use_lora: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    lora_target_modules: List[str] = field(default_factory=lambda: ["query", "value"])


@dataclass
class OptimArguments:
    learning_rate: float = 2e-5
    head_learning_rate: Optional[float] = None
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    scheduler: str = "linear"  # linear | cosine | constant
    warmup_ratio: float = 0.06
    warmup_steps: int = 0


@dataclass
class RunArguments:
    output_dir: str = "outputs/run"
    overwrite_output_dir: bool = False
    seed: int = 42
    deterministic: bool = False
    num_train_epochs: float = 3.0
    max_steps: int = -1
    per_device_train_batch_size: int = 32
    per_device_eval_batch_size: int = 64
    gradient_accumulation_steps: int = 1
    fp16: bool = False
    bf16: bool = False
    logging_steps: int = 50
    eval_steps: int = 500
    save_steps: int = 500
    save_total_limit: int = 2
    early_stopping_patience: int = 0
    metric_for_best_model: str = "accuracy"
    greater_is_better: bool = True
    ema_decay: float = 0.0
    distill_alpha: float = 0.0
    distill_temperature: float = 2.0
    use_hf_trainer: bool = False
    report_to: str = "none"
    run_name: Optional[str] = None
    no_cuda: bool = False
    local_rank: int = -1
    resume_from_checkpoint: Optional[str] = None
    do_train: bool = True
    do_eval: bool = True
    do_predict: bool = False
    verbose: bool = False


@dataclass
class ExperimentConfig:
    model: ModelArguments = field(default_factory=ModelArguments)
    data: DataArguments = field(default_factory=DataArguments)
    freeze: FreezeArguments = field(default_factory=FreezeArguments)
    adapter: AdapterArguments = field(default_factory=AdapterArguments)
    optim: OptimArguments = field(default_factory=OptimArguments)
    run: RunArguments = field(default_factory=RunArguments)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        if self.run.fp16 and self.run.bf16:
            raise ValueError("--fp16 and --bf16 are mutually exclusive")
        if self.data.task_name is None and self.data.train_file is None and self.data.dataset_name is None:
            raise ValueError("need a --task_name, a --dataset_name or a --train_file")
        if self.freeze.freeze_layers < 0:
            raise ValueError("--freeze_layers must be >= 0")
        if self.freeze.layerwise_lr_decay <= 0 or self.freeze.layerwise_lr_decay > 1:
            raise ValueError("--layerwise_lr_decay must be in (0, 1]")
        if self.adapter.use_lora and get_peft_model is None:
            raise ValueError("--use_lora needs peft: pip install peft")
        if self.run.distill_alpha > 0 and not self.model.teacher_name_or_path:
            raise ValueError("--distill_alpha needs --teacher_name_or_path")
        if self.run.gradient_accumulation_steps < 1:
            raise ValueError("--gradient_accumulation_steps must be >= 1")


SECTIONS = {
    "model": ModelArguments,
    "data": DataArguments,
    "freeze": FreezeArguments,
    "adapter": AdapterArguments,
    "optim": OptimArguments,
    "run": RunArguments,
}


def _parse_bool(value: str) -> bool:
    if isinstance(value, bool):
        return value
    if value.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if value.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"boolean value expected, got {value!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=str, default=None, help="YAML or JSON file with the sections below")
    for section, cls in SECTIONS.items():
        group = parser.add_argument_group(section)
        for item in dataclasses.fields(cls):
            kwargs: Dict[str, Any] = {"dest": f"{section}.{item.name}", "default": None}
            if item.type in ("bool", bool):
                kwargs["type"] = _parse_bool
                kwargs["nargs"] = "?"
                kwargs["const"] = True
            elif item.type in ("int", int):
                kwargs["type"] = int
            elif item.type in ("float", float):
                kwargs["type"] = float
            elif "List" in str(item.type):
                kwargs["nargs"] = "+"
                kwargs["type"] = float if "float" in str(item.type) else str
            else:
                kwargs["type"] = str
            group.add_argument(f"--{item.name}", **kwargs)
    return parser


def load_config_file(path: str) -> Dict[str, Any]:
    if path.endswith((".yaml", ".yml")):
        import yaml

        with open(path, "r", encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}
    return load_json(path)


def parse_config(argv: Optional[Sequence[str]] = None) -> ExperimentConfig:
    parser = build_parser()
    args = parser.parse_args(argv)
    values: Dict[str, Dict[str, Any]] = {section: {} for section in SECTIONS}
    if args.config:
        loaded = load_config_file(args.config)
        for section, entries in loaded.items():
            if section not in SECTIONS:
                raise ValueError(f"unknown section {section!r} in {args.config}")
            values[section].update(entries or {})
    for key, value in vars(args).items():
        if key == "config" or value is None:
            continue
        section, name = key.split(".", 1)
        values[section][name] = value
    config = ExperimentConfig(**{section: cls(**values[section]) for section, cls in SECTIONS.items()})
    config.validate()
    return config


# ---------------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------------


def load_raw_datasets(data_args: DataArguments, cache_dir: Optional[str]) -> datasets.DatasetDict:
    if data_args.task_name in ("imdb", "ag_news", "yelp_polarity"):
        raw = datasets.load_dataset(data_args.task_name, cache_dir=cache_dir)
        if "validation" not in raw:
            split = raw["train"].train_test_split(test_size=0.05, seed=13)
            raw = datasets.DatasetDict({"train": split["train"], "validation": split["test"], "test": raw["test"]})
        return raw
    if data_args.task_name is not None:
        return datasets.load_dataset("glue", data_args.task_name, cache_dir=cache_dir)
    if data_args.dataset_name is not None:
        return datasets.load_dataset(data_args.dataset_name, data_args.dataset_config_name, cache_dir=cache_dir)
    data_files = {}
    for split, path in (("train", data_args.train_file), ("validation", data_args.validation_file), ("test", data_args.test_file)):
        if path is not None:
            data_files[split] = path
    extension = Path(data_args.train_file or data_args.validation_file).suffix.lstrip(".")
    if extension == "jsonl":
        extension = "json"
    return datasets.load_dataset(extension, data_files=data_files, cache_dir=cache_dir)


def infer_text_columns(raw: datasets.DatasetDict, data_args: DataArguments) -> Tuple[str, Optional[str]]:
    if data_args.text_column is not None:
        return data_args.text_column, data_args.text_pair_column
    if data_args.task_name in TASK_TO_KEYS:
        return TASK_TO_KEYS[data_args.task_name]
    columns = [name for name in raw["train"].column_names if name != data_args.label_column]
    if len(columns) >= 2:
        return columns[0], columns[1]
    return columns[0], None


def build_label_maps(raw: datasets.DatasetDict, data_args: DataArguments) -> Tuple[Dict[str, int], Dict[int, str], bool]:
    label_feature = raw["train"].features.get(data_args.label_column)
    is_regression = data_args.task_name == "stsb" or (
        label_feature is not None and getattr(label_feature, "dtype", None) in ("float32", "float64")
    )
    if is_regression:
        return {}, {}, True
    if hasattr(label_feature, "names"):
        names = list(label_feature.names)
    else:
        names = sorted(set(raw["train"][data_args.label_column]))
        names = [str(name) for name in names]
    label2id = {name: index for index, name in enumerate(names)}
    id2label = {index: name for name, index in label2id.items()}
    return label2id, id2label, False


class TextAugmenter:
    """Cheap, label-preserving noise for short texts: word dropout and adjacent swaps."""

    def __init__(self, probability: float, seed: int = 0) -> None:
        self.probability = probability
        self.random = random.Random(seed)

    def __call__(self, text: str) -> str:
        if self.probability <= 0 or not text:
            return text
        words = text.split()
        if len(words) < 4:
            return text
        kept = [word for word in words if self.random.random() > self.probability / 2]
        if len(kept) < 2:
            kept = words
        for index in range(len(kept) - 1):
            if self.random.random() < self.probability / 4:
                kept[index], kept[index + 1] = kept[index + 1], kept[index]
        return " ".join(kept)


def tokenize_datasets(
    raw: datasets.DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    data_args: DataArguments,
    label2id: Dict[str, int],
    is_regression: bool,
) -> datasets.DatasetDict:
    text_key, pair_key = infer_text_columns(raw, data_args)
    padding = "max_length" if data_args.pad_to_max_length else False
    max_length = min(data_args.max_seq_length, tokenizer.model_max_length)
    augmenter = TextAugmenter(data_args.augment_probability)

    def preprocess(batch: Dict[str, List[Any]], augment: bool = False) -> Dict[str, Any]:
        texts = batch[text_key]
        if augment:
            texts = [augmenter(text) for text in texts]
        pairs = batch[pair_key] if pair_key is not None else None
        encoded = tokenizer(texts, pairs, padding=padding, max_length=max_length, truncation=True)
        if data_args.label_column in batch:
            labels = batch[data_args.label_column]
            if is_regression:
                encoded["labels"] = [float(label) for label in labels]
            elif label2id and not isinstance(labels[0], int):
                encoded["labels"] = [label2id[str(label)] for label in labels]
            else:
                encoded["labels"] = labels
        return encoded

    processed = datasets.DatasetDict()
    for split, dataset in raw.items():
        processed[split] = dataset.map(
            lambda batch, split=split: preprocess(batch, augment=(split == "train" and augmenter.probability > 0)),
            batched=True,
            num_proc=data_args.preprocessing_num_workers,
            remove_columns=dataset.column_names,
            load_from_cache_file=not data_args.overwrite_cache,
            desc=f"tokenizing {split}",
        )
    if data_args.max_train_samples is not None and "train" in processed:
        processed["train"] = processed["train"].select(range(min(len(processed["train"]), data_args.max_train_samples)))
    if data_args.max_eval_samples is not None and "validation" in processed:
        count = min(len(processed["validation"]), data_args.max_eval_samples)
        processed["validation"] = processed["validation"].select(range(count))
    return processed


def length_statistics(dataset: datasets.Dataset, max_seq_length: int) -> Dict[str, float]:
    """How long the tokenized examples are, and how many were cut at `max_seq_length`."""
    lengths = np.array([len(ids) for ids in dataset["input_ids"]])
    if len(lengths) == 0:
        return {}
    return {
        "mean": float(lengths.mean()),
        "p50": float(np.percentile(lengths, 50)),
        "p95": float(np.percentile(lengths, 95)),
        "max": float(lengths.max()),
        "truncated": float((lengths >= max_seq_length).mean()),
    }


def log_length_statistics(tokenized: datasets.DatasetDict, max_seq_length: int) -> None:
    for split, dataset in tokenized.items():
        stats = length_statistics(dataset, max_seq_length)
        if stats:
            logger.info(
                "%s: %d examples, length mean %.0f, p95 %.0f, max %.0f, %.1f%% truncated",
                split, len(dataset), stats["mean"], stats["p95"], stats["max"], 100 * stats["truncated"],
            )


class LengthGroupedBatchSampler(torch.utils.data.Sampler):
    """Batches of similar lengths (less padding), shuffled batch order."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, mega_batch_factor: int = 50) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self.mega_batch_factor = mega_batch_factor

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[List[int]]:
        generator = random.Random(self.seed + self.epoch)
        indices = list(range(len(self.lengths)))
        generator.shuffle(indices)
        mega = self.batch_size * self.mega_batch_factor
        batches: List[List[int]] = []
        for start in range(0, len(indices), mega):
            chunk = sorted(indices[start : start + mega], key=lambda i: self.lengths[i], reverse=True)
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        generator.shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)


def build_dataloaders(
    tokenized: datasets.DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    run_args: RunArguments,
    data_args: DataArguments,
) -> Dict[str, DataLoader]:
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if (run_args.fp16 or run_args.bf16) else None)
    loaders: Dict[str, DataLoader] = {}
    if "train" in tokenized:
        train = tokenized["train"]
        if run_args.local_rank != -1:
            sampler = DistributedSampler(train, shuffle=True, seed=run_args.seed)
            loaders["train"] = DataLoader(
                train, sampler=sampler, batch_size=run_args.per_device_train_batch_size, collate_fn=collator
            )
        elif not data_args.pad_to_max_length:
            lengths = [len(ids) for ids in train["input_ids"]]
            batch_sampler = LengthGroupedBatchSampler(lengths, run_args.per_device_train_batch_size, seed=run_args.seed)
            loaders["train"] = DataLoader(train, batch_sampler=batch_sampler, collate_fn=collator, num_workers=2)
        else:
            loaders["train"] = DataLoader(
                train,
                sampler=RandomSampler(train),
                batch_size=run_args.per_device_train_batch_size,
                collate_fn=collator,
                num_workers=2,
                drop_last=False,
            )
    for split in ("validation", "validation_matched", "test"):
        if split in tokenized:
            dataset = tokenized[split]
            if split == "test" and "labels" in dataset.column_names and -1 in set(dataset["labels"][:100]):
                dataset = dataset.remove_columns("labels")
            loaders[split] = DataLoader(
                dataset,
                sampler=SequentialSampler(dataset),
                batch_size=run_args.per_device_eval_batch_size,
                collate_fn=collator,
            )
    return loaders


# ---------------------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------------------


class AttentionPooling(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.score = nn.Linear(hidden_size, 1)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(hidden).squeeze(-1)
        scores = scores.masked_fill(mask == 0, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1).unsqueeze(-1)
        return (hidden * weights).sum(dim=1)


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str, attention: Optional[AttentionPooling] = None) -> torch.Tensor:
    if how == "cls":
        return hidden[:, 0]
    if how == "mean":
        mask_f = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask_f).sum(dim=1) / mask_f.sum(dim=1).clamp(min=1e-6)
    if how == "max":
        masked = hidden.masked_fill(mask.unsqueeze(-1) == 0, torch.finfo(hidden.dtype).min)
        return masked.max(dim=1).values
    if how == "attention":
        assert attention is not None
        return attention(hidden, mask)
    raise ValueError(f"unknown pooling {how!r}")


class ClassificationHead(nn.Module):
    def __init__(self, hidden_size: int, num_labels: int, dropout: float, inner: int = 0, layers: int = 1) -> None:
        super().__init__()
        blocks: List[nn.Module] = []
        width = hidden_size
        for _ in range(max(layers - 1, 0)):
            out = inner or hidden_size
            blocks += [nn.Dropout(dropout), nn.Linear(width, out), nn.GELU(), nn.LayerNorm(out)]
            width = out
        blocks += [nn.Dropout(dropout), nn.Linear(width, num_labels)]
        self.net = nn.Sequential(*blocks)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


class EncoderClassifier(nn.Module):
    """A pretrained encoder (any AutoModel) with our own pooling and classification head."""

    def __init__(self, model_args: ModelArguments, num_labels: int, id2label: Dict[int, str], label2id: Dict[str, int]) -> None:
        super().__init__()
        config = AutoConfig.from_pretrained(
            model_args.config_name or model_args.model_name_or_path,
            num_labels=num_labels,
            id2label=id2label or None,
            label2id=label2id or None,
            cache_dir=model_args.cache_dir,
            revision=model_args.revision,
            trust_remote_code=model_args.trust_remote_code,
        )
        self.config = config
        self.encoder = AutoModel.from_pretrained(
            model_args.model_name_or_path,
            config=config,
            cache_dir=model_args.cache_dir,
            revision=model_args.revision,
            trust_remote_code=model_args.trust_remote_code,
        )
        dropout = model_args.classifier_dropout
        if dropout is None:
            dropout = getattr(config, "hidden_dropout_prob", 0.1)
        self.pooling = model_args.pooling
        self.attention_pool = AttentionPooling(config.hidden_size) if model_args.pooling == "attention" else None
        self.head = ClassificationHead(config.hidden_size, num_labels, dropout, model_args.head_hidden_size, model_args.head_layers)
        self.num_labels = num_labels

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
    ) -> Dict[str, torch.Tensor]:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and getattr(self.config, "type_vocab_size", 0) > 1:
            kwargs["token_type_ids"] = token_type_ids
        outputs = self.encoder(**kwargs)
        features = pool(outputs.last_hidden_state, attention_mask, self.pooling, self.attention_pool)
        logits = self.head(features)
        result = {"logits": logits}
        if labels is not None:
            if self.num_labels == 1:
                result["loss"] = F.mse_loss(logits.squeeze(-1), labels.float())
            else:
                result["loss"] = F.cross_entropy(logits, labels)
        return result


def encoder_layers(model: nn.Module) -> List[nn.Module]:
    """The transformer blocks of the encoder, for BERT-, RoBERTa-, DeBERTa-, ELECTRA- and DistilBERT-like models."""
    base = model.encoder if isinstance(model, EncoderClassifier) else getattr(model, model.base_model_prefix, model)
    for path in ("encoder.layer", "transformer.layer", "layers", "encoder.layers"):
        current: Any = base
        for part in path.split("."):
            current = getattr(current, part, None)
            if current is None:
                break
        if current is not None:
            return list(current)
    raise ValueError(f"cannot find the encoder layers of {type(model).__name__}")


def embeddings_of(model: nn.Module) -> nn.Module:
    base = model.encoder if isinstance(model, EncoderClassifier) else getattr(model, model.base_model_prefix, model)
    return base.embeddings


def build_model(
    model_args: ModelArguments,
    adapter_args: AdapterArguments,
    num_labels: int,
    id2label: Dict[int, str],
    label2id: Dict[str, int],
) -> nn.Module:
    if model_args.pooling == "cls" and model_args.head_layers == 1:
        model = AutoModelForSequenceClassification.from_pretrained(
            model_args.model_name_or_path,
            num_labels=num_labels,
            id2label=id2label or None,
            label2id=label2id or None,
            cache_dir=model_args.cache_dir,
            revision=model_args.revision,
            trust_remote_code=model_args.trust_remote_code,
        )
    else:
        model = EncoderClassifier(model_args, num_labels, id2label, label2id)
    if model_args.gradient_checkpointing:
        target = model.encoder if isinstance(model, EncoderClassifier) else model
        target.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if adapter_args.use_lora:
        lora_config = LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=adapter_args.lora_r,
            lora_alpha=adapter_args.lora_alpha,
            lora_dropout=adapter_args.lora_dropout,
            target_modules=adapter_args.lora_target_modules,
        )
        model = get_peft_model(model, lora_config)
        model.print_trainable_parameters()
    return model


def load_teacher(model_args: ModelArguments, num_labels: int, device: torch.device) -> Optional[nn.Module]:
    if not model_args.teacher_name_or_path:
        return None
    teacher = AutoModelForSequenceClassification.from_pretrained(
        model_args.teacher_name_or_path, num_labels=num_labels, cache_dir=model_args.cache_dir
    )
    teacher.to(device)
    teacher.eval()
    for parameter in teacher.parameters():
        parameter.requires_grad = False
    return teacher


# ---------------------------------------------------------------------------------------------------------------------
# Freezing
# ---------------------------------------------------------------------------------------------------------------------


def freeze_embeddings(model: nn.Module) -> None:
    """Keep the word, position and type embeddings fixed: they are the largest block and move the least."""
    if isinstance(model, EncoderClassifier):
        model.encoder.embeddings.requires_grad = False
    else:
        model.bert.embeddings.requires_grad = False


def freeze_bottom_layers(model: nn.Module, count: int) -> int:
    layers = encoder_layers(model)
    count = min(count, len(layers))
    for layer in layers[:count]:
        for parameter in layer.parameters():
            parameter.requires_grad = False
    return count


def freeze_whole_encoder(model: nn.Module) -> None:
    base = model.encoder if isinstance(model, EncoderClassifier) else model.base_model
    base.requires_grad_(False)


def train_layer_norms(model: nn.Module) -> int:
    count = 0
    for name, parameter in model.named_parameters():
        if "LayerNorm" in name or "layer_norm" in name:
            parameter.requires_grad = True
            count += 1
    return count


def bitfit(model: nn.Module) -> None:
    """Train only the biases (and the head): BitFit, Ben Zaken et al. 2021."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.endswith(".bias") or name.startswith(("classifier", "head", "score"))


def freeze_by_patterns(model: nn.Module, patterns: Sequence[str], trainable: bool = False) -> List[str]:
    """Set `requires_grad` on every parameter whose name matches one of the shell patterns (`*.attention.*`)."""
    import fnmatch

    matched = []
    for name, parameter in model.named_parameters():
        if any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
            parameter.requires_grad = trainable
            matched.append(name)
    if not matched:
        logger.warning("no parameter matches %s", ", ".join(patterns))
    return matched


def unfreeze_top_layers(model: nn.Module, count: int) -> List[int]:
    """Make the top `count` encoder layers trainable again (after `freeze_whole_encoder`)."""
    layers = encoder_layers(model)
    unfrozen = []
    for index in range(max(len(layers) - count, 0), len(layers)):
        layers[index].requires_grad_(True)
        unfrozen.append(index)
    return unfrozen


def describe_trainable(model: nn.Module, limit: int = 20) -> str:
    """A short listing of what will train, grouped by the first two components of the parameter names."""
    groups: Dict[str, Tuple[int, int]] = {}
    for name, parameter in model.named_parameters():
        key = ".".join(name.split(".")[:2])
        total, trainable = groups.get(key, (0, 0))
        groups[key] = (total + parameter.numel(), trainable + (parameter.numel() if parameter.requires_grad else 0))
    lines = []
    for key, (total, trainable) in sorted(groups.items(), key=lambda item: -item[1][0])[:limit]:
        state = "trainable" if trainable == total else "frozen" if trainable == 0 else "partly trainable"
        lines.append(f"{key:<40} {total:>12,} {state}")
    return "\n".join(lines)


def apply_freezing(model: nn.Module, freeze_args: FreezeArguments) -> Dict[str, Any]:
    report: Dict[str, Any] = {}
    if freeze_args.train_bias_only:
        bitfit(model)
        report["bitfit"] = True
        return report
    if freeze_args.freeze_encoder:
        freeze_whole_encoder(model)
        report["encoder"] = "frozen"
    else:
        if freeze_args.freeze_embeddings:
            freeze_embeddings(model)
            report["embeddings"] = "frozen"
        if freeze_args.freeze_layers:
            report["frozen_layers"] = freeze_bottom_layers(model, freeze_args.freeze_layers)
    if freeze_args.train_layer_norms:
        report["trainable_layer_norms"] = train_layer_norms(model)
    return report


class GradualUnfreezer:
    """ULMFiT-style: start with the head only, unfreeze one encoder layer from the top every few epochs."""

    def __init__(self, model: nn.Module, every_epochs: int = 1) -> None:
        self.model = model
        self.layers = encoder_layers(model)
        self.every_epochs = max(every_epochs, 1)
        self.unfrozen = 0
        for layer in self.layers:
            layer.requires_grad_(False)

    def on_epoch_start(self, epoch: int, optimizer: torch.optim.Optimizer) -> Optional[int]:
        if epoch == 0 or epoch % self.every_epochs != 0 or self.unfrozen >= len(self.layers):
            return None
        index = len(self.layers) - 1 - self.unfrozen
        layer = self.layers[index]
        layer.requires_grad_(True)
        self.unfrozen += 1
        known = {id(p) for group in optimizer.param_groups for p in group["params"]}
        new_params = [p for p in layer.parameters() if id(p) not in known]
        if new_params:
            optimizer.add_param_group({"params": new_params, "lr": optimizer.param_groups[0]["lr"]})
        return index


# ---------------------------------------------------------------------------------------------------------------------
# Optimizer and schedule
# ---------------------------------------------------------------------------------------------------------------------

NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "layernorm.weight")


def head_parameter_names(model: nn.Module) -> List[str]:
    return [name for name, _ in model.named_parameters() if name.startswith(("classifier", "head", "score", "pre_classifier"))]


def layerwise_parameter_groups(model: nn.Module, optim_args: OptimArguments, decay_rate: float) -> List[Dict[str, Any]]:
    """Layer-wise learning-rate decay: the top layer gets the base rate, each layer below `decay_rate` times less."""
    layers = encoder_layers(model)
    layer_of: Dict[int, int] = {}
    for index, layer in enumerate(layers):
        for parameter in layer.parameters():
            layer_of[id(parameter)] = index + 1
    embeddings = embeddings_of(model)
    for parameter in embeddings.parameters():
        layer_of[id(parameter)] = 0
    heads = set(head_parameter_names(model))
    groups: Dict[Tuple[float, float], List[nn.Parameter]] = defaultdict(list)
    depth = len(layers) + 1
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if name in heads:
            lr = optim_args.head_learning_rate or optim_args.learning_rate
        else:
            level = layer_of.get(id(parameter), depth)
            lr = optim_args.learning_rate * (decay_rate ** (depth - level))
        weight_decay = 0.0 if any(marker in name for marker in NO_DECAY) else optim_args.weight_decay
        groups[(lr, weight_decay)].append(parameter)
    return [{"params": params, "lr": lr, "weight_decay": wd} for (lr, wd), params in sorted(groups.items())]


def simple_parameter_groups(model: nn.Module, optim_args: OptimArguments) -> List[Dict[str, Any]]:
    heads = set(head_parameter_names(model))
    decay, no_decay, head = [], [], []
    for name, parameter in model.named_parameters():
        if name in heads:
            head.append(parameter)
        elif any(marker in name for marker in NO_DECAY):
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    groups = [
        {"params": decay, "weight_decay": optim_args.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if head:
        groups.append({"params": head, "weight_decay": optim_args.weight_decay, "lr": optim_args.head_learning_rate or optim_args.learning_rate})
    return groups


def build_optimizer(model: nn.Module, optim_args: OptimArguments, freeze_args: FreezeArguments) -> torch.optim.Optimizer:
    if freeze_args.layerwise_lr_decay < 1.0:
        groups = layerwise_parameter_groups(model, optim_args, freeze_args.layerwise_lr_decay)
    else:
        groups = simple_parameter_groups(model, optim_args)
    return AdamW(
        groups,
        lr=optim_args.learning_rate,
        betas=(optim_args.adam_beta1, optim_args.adam_beta2),
        eps=optim_args.adam_epsilon,
    )


def build_scheduler(optimizer: torch.optim.Optimizer, optim_args: OptimArguments, total_steps: int) -> LambdaLR:
    warmup = optim_args.warmup_steps or int(optim_args.warmup_ratio * total_steps)
    if optim_args.scheduler == "linear":
        return get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    if optim_args.scheduler == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, warmup, total_steps)
    if optim_args.scheduler == "constant":
        return LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / max(warmup, 1)))
    raise ValueError(f"unknown scheduler {optim_args.scheduler!r}")


def total_training_steps(train_loader: DataLoader, run_args: RunArguments) -> int:
    if run_args.max_steps > 0:
        return run_args.max_steps
    per_epoch = math.ceil(len(train_loader) / run_args.gradient_accumulation_steps)
    return int(per_epoch * run_args.num_train_epochs)


# ---------------------------------------------------------------------------------------------------------------------
# Exponential moving average of the weights
# ---------------------------------------------------------------------------------------------------------------------


class ModelEMA:
    """Keeps an exponential moving average of the trainable weights; evaluation can swap it in."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow: Dict[str, torch.Tensor] = {}
        self.backup: Dict[str, torch.Tensor] = {}
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                self.shadow[name] = parameter.detach().clone()

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for name, parameter in model.named_parameters():
            if name in self.shadow:
                self.shadow[name].mul_(self.decay).add_(parameter.detach(), alpha=1.0 - self.decay)
            elif parameter.requires_grad:  # unfrozen since the EMA started
                self.shadow[name] = parameter.detach().clone()

    @torch.no_grad()
    def swap_in(self, model: nn.Module) -> None:
        for name, parameter in model.named_parameters():
            if name in self.shadow:
                self.backup[name] = parameter.detach().clone()
                parameter.copy_(self.shadow[name])

    @torch.no_grad()
    def swap_out(self, model: nn.Module) -> None:
        for name, parameter in model.named_parameters():
            if name in self.backup:
                parameter.copy_(self.backup[name])
        self.backup.clear()

    def state_dict(self) -> Dict[str, Any]:
        return {"decay": self.decay, "shadow": self.shadow}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.decay = state["decay"]
        self.shadow = state["shadow"]


# ---------------------------------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------------------------------


def classification_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    num_labels: int,
    label_smoothing: float = 0.0,
    class_weights: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    if num_labels == 1:
        return F.mse_loss(logits.squeeze(-1), labels.float())
    return F.cross_entropy(logits, labels, weight=class_weights, label_smoothing=label_smoothing)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    student = F.log_softmax(student_logits / temperature, dim=-1)
    teacher = F.softmax(teacher_logits / temperature, dim=-1)
    return F.kl_div(student, teacher, reduction="batchmean") * temperature**2


def logits_of(outputs: Any) -> torch.Tensor:
    if isinstance(outputs, dict):
        return outputs["logits"]
    return outputs.logits


# ---------------------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------------------


def confusion_matrix(predictions: np.ndarray, labels: np.ndarray, num_labels: int) -> np.ndarray:
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    for predicted, actual in zip(predictions, labels):
        matrix[actual, predicted] += 1
    return matrix


def f1_scores(matrix: np.ndarray) -> Tuple[float, float]:
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    actual = matrix.sum(axis=1).astype(np.float64)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(true_positive), where=(precision + recall) > 0)
    macro = float(f1.mean()) if len(f1) else 0.0
    micro = float(true_positive.sum() / max(matrix.sum(), 1))
    return macro, micro


def matthews_corrcoef(matrix: np.ndarray) -> float:
    t = matrix.sum(axis=1).astype(np.float64)
    p = matrix.sum(axis=0).astype(np.float64)
    c = float(np.trace(matrix))
    s = float(matrix.sum())
    numerator = c * s - float(np.dot(t, p))
    denominator = math.sqrt(max(s**2 - float(np.dot(p, p)), 0.0)) * math.sqrt(max(s**2 - float(np.dot(t, t)), 0.0))
    return numerator / denominator if denominator else 0.0


def pearson_spearman(predictions: np.ndarray, labels: np.ndarray) -> Tuple[float, float]:
    if len(predictions) < 2:
        return 0.0, 0.0
    pearson = float(np.corrcoef(predictions, labels)[0, 1])
    rank_p = np.argsort(np.argsort(predictions))
    rank_l = np.argsort(np.argsort(labels))
    spearman = float(np.corrcoef(rank_p, rank_l)[0, 1])
    return pearson, spearman


def compute_metrics(logits: np.ndarray, labels: np.ndarray, num_labels: int) -> Dict[str, float]:
    if num_labels == 1:
        predictions = logits.squeeze(-1)
        pearson, spearman = pearson_spearman(predictions, labels)
        mse = float(np.mean((predictions - labels) ** 2))
        return {"pearson": pearson, "spearman": spearman, "mse": mse, "combined": (pearson + spearman) / 2}
    predictions = logits.argmax(axis=-1)
    matrix = confusion_matrix(predictions, labels.astype(np.int64), num_labels)
    macro_f1, micro_f1 = f1_scores(matrix)
    return {
        "accuracy": float((predictions == labels).mean()),
        "macro_f1": macro_f1,
        "micro_f1": micro_f1,
        "mcc": matthews_corrcoef(matrix),
    }


def hf_compute_metrics_factory(num_labels: int) -> Callable[[Any], Dict[str, float]]:
    def hf_compute_metrics(prediction: Any) -> Dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        return compute_metrics(logits, prediction.label_ids, num_labels)

    return hf_compute_metrics


# ---------------------------------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------------------------------


class CheckpointManager:
    def __init__(self, output_dir: str, keep: int = 2, metric: str = "accuracy", greater_is_better: bool = True) -> None:
        self.output_dir = output_dir
        self.keep = keep
        self.metric = metric
        self.greater_is_better = greater_is_better
        self.best_value: Optional[float] = None
        self.best_path: Optional[str] = None
        self.saved: List[str] = []

    def is_better(self, value: float) -> bool:
        if self.best_value is None:
            return True
        return value > self.best_value if self.greater_is_better else value < self.best_value

    def save(
        self,
        step: int,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        scaler: Optional[torch.cuda.amp.GradScaler],
        ema: Optional[ModelEMA],
        metrics: Dict[str, float],
        config: ExperimentConfig,
    ) -> str:
        path = os.path.join(self.output_dir, f"checkpoint-{step}")
        os.makedirs(path, exist_ok=True)
        to_save = model.module if hasattr(model, "module") else model
        if isinstance(to_save, PreTrainedModel) or hasattr(to_save, "save_pretrained"):
            to_save.save_pretrained(path)
        else:
            torch.save(to_save.state_dict(), os.path.join(path, "model.pt"))
        state = {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": step,
            "metrics": metrics,
            "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
        }
        if scaler is not None:
            state["scaler"] = scaler.state_dict()
        if ema is not None:
            state["ema"] = ema.state_dict()
        torch.save(state, os.path.join(path, "trainer_state.pt"))
        save_json(config.to_dict(), os.path.join(path, "experiment.json"))
        self.saved.append(path)
        value = metrics.get(self.metric)
        if value is not None and self.is_better(value):
            self.best_value = value
            self.best_path = path
        self._rotate()
        return path

    def _rotate(self) -> None:
        removable = [path for path in self.saved if path != self.best_path]
        while len(self.saved) > self.keep and removable:
            oldest = removable.pop(0)
            shutil.rmtree(oldest, ignore_errors=True)
            self.saved.remove(oldest)

    @staticmethod
    def latest(output_dir: str) -> Optional[str]:
        if not os.path.isdir(output_dir):
            return None
        checkpoints = [name for name in os.listdir(output_dir) if name.startswith("checkpoint-")]
        if not checkpoints:
            return None
        checkpoints.sort(key=lambda name: int(name.split("-")[-1]))
        return os.path.join(output_dir, checkpoints[-1])


def restore_training_state(
    path: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Optional[torch.cuda.amp.GradScaler],
    ema: Optional[ModelEMA],
) -> int:
    weights = os.path.join(path, "model.pt")
    if os.path.exists(weights):
        model.load_state_dict(torch.load(weights, map_location="cpu"))
    else:
        reloaded = AutoModelForSequenceClassification.from_pretrained(path)
        model.load_state_dict(reloaded.state_dict())
    state = torch.load(os.path.join(path, "trainer_state.pt"), map_location="cpu", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and "scaler" in state:
        scaler.load_state_dict(state["scaler"])
    if ema is not None and "ema" in state:
        ema.load_state_dict(state["ema"])
    random.setstate(state["rng"]["python"])
    np.random.set_state(state["rng"]["numpy"])
    torch.set_rng_state(state["rng"]["torch"])
    return int(state["step"])


# ---------------------------------------------------------------------------------------------------------------------
# Training loop
# ---------------------------------------------------------------------------------------------------------------------


class EarlyStopping:
    def __init__(self, patience: int, greater_is_better: bool = True) -> None:
        self.patience = patience
        self.greater_is_better = greater_is_better
        self.best: Optional[float] = None
        self.bad_rounds = 0

    def step(self, value: float) -> bool:
        """Record a new value; True when training should stop."""
        if self.patience <= 0:
            return False
        improved = self.best is None or (value > self.best if self.greater_is_better else value < self.best)
        if improved:
            self.best = value
            self.bad_rounds = 0
            return False
        self.bad_rounds += 1
        return self.bad_rounds >= self.patience


class ClassifierTrainer:
    """A plain training loop: mixed precision, accumulation, clipping, EMA, distillation, gradual unfreezing."""

    def __init__(
        self,
        config: ExperimentConfig,
        model: nn.Module,
        loaders: Dict[str, DataLoader],
        num_labels: int,
        device: torch.device,
        teacher: Optional[nn.Module] = None,
    ) -> None:
        self.config = config
        self.run = config.run
        self.model = model
        self.loaders = loaders
        self.num_labels = num_labels
        self.device = device
        self.teacher = teacher
        self.global_step = 0
        self.epoch = 0
        self.timer = Timer()
        self.meters = {name: AverageMeter(name) for name in ("loss", "task_loss", "distill_loss", "grad_norm")}
        self.history: List[Dict[str, Any]] = []
        self.class_weights = None
        if config.data.class_weights:
            self.class_weights = torch.tensor(config.data.class_weights, dtype=torch.float, device=device)

        self.unfreezer = GradualUnfreezer(model, config.freeze.unfreeze_every_epochs) if config.freeze.gradual_unfreeze else None
        self.optimizer = build_optimizer(model, config.optim, config.freeze)
        self.total_steps = total_training_steps(loaders["train"], self.run)
        self.scheduler = build_scheduler(self.optimizer, config.optim, self.total_steps)
        self.amp_dtype = torch.bfloat16 if self.run.bf16 else torch.float16 if self.run.fp16 else None
        self.scaler = torch.cuda.amp.GradScaler() if self.run.fp16 and device.type == "cuda" else None
        self.ema = ModelEMA(model, self.run.ema_decay) if self.run.ema_decay > 0 else None
        self.checkpoints = CheckpointManager(
            self.run.output_dir, self.run.save_total_limit, self.run.metric_for_best_model, self.run.greater_is_better
        )
        self.early_stopping = EarlyStopping(self.run.early_stopping_patience, self.run.greater_is_better)

        if self.run.local_rank != -1:
            self.model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index], output_device=device.index
            )

    # -- steps -------------------------------------------------------------------------------------------------

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def forward(self, batch: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, Dict[str, float]]:
        labels = batch.pop("labels")
        with self.autocast():
            outputs = self.model(**batch)
            logits = logits_of(outputs)
            task_loss = classification_loss(
                logits.float(), labels, self.num_labels, self.config.data.label_smoothing, self.class_weights
            )
            loss = task_loss
            parts = {"task_loss": task_loss.item()}
            if self.teacher is not None and self.run.distill_alpha > 0:
                with torch.no_grad():
                    teacher_logits = logits_of(self.teacher(**batch))
                kd = distillation_loss(logits.float(), teacher_logits.float(), self.run.distill_temperature)
                loss = (1 - self.run.distill_alpha) * task_loss + self.run.distill_alpha * kd
                parts["distill_loss"] = kd.item()
        batch["labels"] = labels
        return loss, parts

    def backward(self, loss: torch.Tensor) -> None:
        loss = loss / self.run.gradient_accumulation_steps
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()

    def optimizer_step(self) -> float:
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        parameters = [p for p in self.model.parameters() if p.requires_grad and p.grad is not None]
        grad_norm = 0.0
        if self.config.optim.max_grad_norm > 0 and parameters:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(parameters, self.config.optim.max_grad_norm))
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(self.model)
        return grad_norm

    # -- loop --------------------------------------------------------------------------------------------------

    def train(self) -> Dict[str, Any]:
        train_loader = self.loaders["train"]
        log_trainable_parameters(self.model, "student")
        logger.info(
            "training for %d steps (%d batches per epoch, accumulation %d, world size %d)",
            self.total_steps,
            len(train_loader),
            self.run.gradient_accumulation_steps,
            world_size(),
        )
        if self.run.resume_from_checkpoint:
            path = self.run.resume_from_checkpoint
            if path == "latest":
                path = CheckpointManager.latest(self.run.output_dir)
            if path:
                self.global_step = restore_training_state(path, self.model, self.optimizer, self.scheduler, self.scaler, self.ema)
                logger.info("resumed from %s at step %d", path, self.global_step)
        num_epochs = math.ceil(self.run.num_train_epochs) if self.run.max_steps <= 0 else 10**9
        self.model.train()
        stop = False
        for epoch in range(num_epochs):
            self.epoch = epoch
            if hasattr(train_loader.sampler, "set_epoch"):
                train_loader.sampler.set_epoch(epoch)
            if hasattr(train_loader, "batch_sampler") and hasattr(train_loader.batch_sampler, "set_epoch"):
                train_loader.batch_sampler.set_epoch(epoch)
            if self.unfreezer is not None:
                index = self.unfreezer.on_epoch_start(epoch, self.optimizer)
                if index is not None:
                    logger.info("epoch %d: unfroze encoder layer %d", epoch, index)
                    log_trainable_parameters(self.model, "student")
            stop = self.train_epoch(train_loader)
            if stop:
                break
        metrics = self.evaluate("validation") if "validation" in self.loaders else {}
        logger.info("training done: %s", self.timer.summary())
        return {"global_step": self.global_step, "metrics": metrics, "best_checkpoint": self.checkpoints.best_path}

    def train_epoch(self, loader: DataLoader) -> bool:
        for step, batch in enumerate(loader):
            with self.timer.lap("data"):
                batch = {key: value.to(self.device, non_blocking=True) for key, value in batch.items()}
            with self.timer.lap("forward"):
                loss, parts = self.forward(batch)
            with self.timer.lap("backward"):
                self.backward(loss)
            self.meters["loss"].update(loss.item())
            for name, value in parts.items():
                self.meters[name].update(value)
            if (step + 1) % self.run.gradient_accumulation_steps != 0:
                continue
            with self.timer.lap("optimizer"):
                grad_norm = self.optimizer_step()
            self.meters["grad_norm"].update(grad_norm)
            self.global_step += 1
            if self.global_step % self.run.logging_steps == 0:
                self.log_progress()
            if self.run.eval_steps > 0 and self.global_step % self.run.eval_steps == 0 and "validation" in self.loaders:
                metrics = self.evaluate("validation")
                if self.run.save_steps > 0 and self.global_step % self.run.save_steps == 0 and is_main_process():
                    self.checkpoints.save(
                        self.global_step, self.model, self.optimizer, self.scheduler, self.scaler, self.ema, metrics, self.config
                    )
                value = metrics.get(self.run.metric_for_best_model)
                if value is not None and self.early_stopping.step(value):
                    logger.info("early stopping at step %d (%s did not improve)", self.global_step, self.run.metric_for_best_model)
                    return True
            if 0 < self.run.max_steps <= self.global_step:
                return True
        return False

    def log_progress(self) -> None:
        lr = self.scheduler.get_last_lr()[0]
        record = {
            "step": self.global_step,
            "epoch": self.epoch,
            "lr": lr,
            **{name: meter.smoothed for name, meter in self.meters.items() if meter.count},
        }
        self.history.append(record)
        logger.info(
            "step %d | epoch %d | lr %.2e | loss %.4f | grad %.2f | %s",
            self.global_step,
            self.epoch,
            lr,
            self.meters["loss"].smoothed,
            self.meters["grad_norm"].smoothed,
            gpu_memory_summary(self.device),
        )
        if wandb is not None and self.run.report_to == "wandb" and is_main_process():
            wandb.log(record, step=self.global_step)

    @torch.no_grad()
    def predict(self, split: str) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        loader = self.loaders[split]
        self.model.eval()
        all_logits: List[np.ndarray] = []
        all_labels: List[np.ndarray] = []
        for batch in loader:
            batch = {key: value.to(self.device) for key, value in batch.items()}
            labels = batch.pop("labels", None)
            with self.autocast():
                logits = logits_of(self.model(**batch))
            all_logits.append(logits.float().cpu().numpy())
            if labels is not None:
                all_labels.append(labels.cpu().numpy())
        self.model.train()
        logits_array = np.concatenate(all_logits, axis=0)
        labels_array = np.concatenate(all_labels, axis=0) if all_labels else None
        return logits_array, labels_array

    def evaluate(self, split: str) -> Dict[str, float]:
        if self.ema is not None:
            self.ema.swap_in(self.model)
        try:
            logits, labels = self.predict(split)
        finally:
            if self.ema is not None:
                self.ema.swap_out(self.model)
        if labels is None:
            return {}
        metrics = compute_metrics(logits, labels, self.num_labels)
        metrics = {f"{key}": value for key, value in metrics.items()}
        logger.info("eval %s at step %d: %s", split, self.global_step, json.dumps({k: round(v, 4) for k, v in metrics.items()}))
        self.history.append({"step": self.global_step, "split": split, **metrics})
        if wandb is not None and self.run.report_to == "wandb" and is_main_process():
            wandb.log({f"{split}/{k}": v for k, v in metrics.items()}, step=self.global_step)
        return metrics


# ---------------------------------------------------------------------------------------------------------------------
# Hugging Face Trainer path
# ---------------------------------------------------------------------------------------------------------------------


class UnfreezeCallback(TrainerCallback):
    """Gradual unfreezing inside the HF Trainer: unfreeze the top encoder layer at the start of chosen epochs."""

    def __init__(self, model: nn.Module, every_epochs: int = 1) -> None:
        self.layers = encoder_layers(model)
        self.every_epochs = max(every_epochs, 1)
        self.unfrozen = 0

    def on_epoch_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        epoch = int(state.epoch or 0)
        if epoch == 0 or epoch % self.every_epochs or self.unfrozen >= len(self.layers):
            return control
        layer = self.layers[len(self.layers) - 1 - self.unfrozen]
        for parameter in layer.parameters():
            parameter.requires_grad = True
        self.unfrozen += 1
        logger.info("epoch %d: unfroze one more encoder layer (%d now trainable)", epoch, self.unfrozen)
        return control


class ParameterCountCallback(TrainerCallback):
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if model is not None:
            log_trainable_parameters(model, "model at train begin")
        return control


class DistillationTrainer(Trainer):
    def __init__(self, *args, teacher: Optional[nn.Module] = None, alpha: float = 0.5, temperature: float = 2.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.teacher = teacher
        self.alpha = alpha
        self.temperature = temperature

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs.loss
        if self.teacher is not None and self.alpha > 0:
            with torch.no_grad():
                teacher_inputs = {k: v for k, v in inputs.items() if k != "labels"}
                teacher_logits = logits_of(self.teacher(**teacher_inputs))
            kd = distillation_loss(logits_of(outputs), teacher_logits, self.temperature)
            loss = (1 - self.alpha) * loss + self.alpha * kd
        return (loss, outputs) if return_outputs else loss


def hf_training_arguments(config: ExperimentConfig) -> TrainingArguments:
    run, optim = config.run, config.optim
    return TrainingArguments(
        output_dir=run.output_dir,
        overwrite_output_dir=run.overwrite_output_dir,
        num_train_epochs=run.num_train_epochs,
        max_steps=run.max_steps,
        per_device_train_batch_size=run.per_device_train_batch_size,
        per_device_eval_batch_size=run.per_device_eval_batch_size,
        gradient_accumulation_steps=run.gradient_accumulation_steps,
        learning_rate=optim.learning_rate,
        weight_decay=optim.weight_decay,
        adam_beta1=optim.adam_beta1,
        adam_beta2=optim.adam_beta2,
        adam_epsilon=optim.adam_epsilon,
        max_grad_norm=optim.max_grad_norm,
        lr_scheduler_type=optim.scheduler,
        warmup_ratio=optim.warmup_ratio,
        warmup_steps=optim.warmup_steps,
        fp16=run.fp16,
        bf16=run.bf16,
        logging_steps=run.logging_steps,
        eval_strategy="steps" if run.eval_steps > 0 else "epoch",
        eval_steps=run.eval_steps if run.eval_steps > 0 else None,
        save_steps=run.save_steps,
        save_total_limit=run.save_total_limit,
        load_best_model_at_end=run.early_stopping_patience > 0,
        metric_for_best_model=run.metric_for_best_model,
        greater_is_better=run.greater_is_better,
        seed=run.seed,
        report_to=[] if run.report_to == "none" else [run.report_to],
        run_name=run.run_name,
        gradient_checkpointing=config.model.gradient_checkpointing,
        remove_unused_columns=True,
    )


def train_with_hf_trainer(
    config: ExperimentConfig,
    model: nn.Module,
    tokenized: datasets.DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    num_labels: int,
    teacher: Optional[nn.Module],
) -> Dict[str, Any]:
    args = hf_training_arguments(config)
    callbacks: List[TrainerCallback] = [ParameterCountCallback()]
    if config.freeze.gradual_unfreeze:
        for layer in encoder_layers(model):
            layer.requires_grad_(False)
        callbacks.append(UnfreezeCallback(model, config.freeze.unfreeze_every_epochs))
    if config.run.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.run.early_stopping_patience))
    trainer = DistillationTrainer(
        model=model,
        args=args,
        train_dataset=tokenized.get("train"),
        eval_dataset=tokenized.get("validation"),
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=hf_compute_metrics_factory(num_labels),
        callbacks=callbacks,
        teacher=teacher,
        alpha=config.run.distill_alpha,
        temperature=config.run.distill_temperature,
    )
    result = trainer.train(resume_from_checkpoint=config.run.resume_from_checkpoint)
    metrics = trainer.evaluate() if config.run.do_eval and "validation" in tokenized else {}
    trainer.save_model()
    trainer.save_state()
    return {"train": result.metrics, "eval": metrics}


# ---------------------------------------------------------------------------------------------------------------------
# Predictions
# ---------------------------------------------------------------------------------------------------------------------


def write_predictions(
    logits: np.ndarray, id2label: Dict[int, str], path: str, is_regression: bool, ids: Optional[Sequence[Any]] = None
) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("index\tprediction\tconfidence\n")
        if is_regression:
            for index, value in enumerate(logits.squeeze(-1)):
                handle.write(f"{ids[index] if ids else index}\t{value:.4f}\t\n")
            return
        probabilities = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
        for index, row in enumerate(probabilities):
            label = int(row.argmax())
            name = id2label.get(label, str(label))
            handle.write(f"{ids[index] if ids else index}\t{name}\t{row[label]:.4f}\n")


def summarize_history(history: List[Dict[str, Any]], metric: str) -> Dict[str, Any]:
    evaluations = [record for record in history if metric in record]
    if not evaluations:
        return {}
    best = max(evaluations, key=lambda record: record[metric])
    last = evaluations[-1]
    return {"best_step": best["step"], f"best_{metric}": best[metric], f"last_{metric}": last[metric], "evaluations": len(evaluations)}


def write_model_card(config: ExperimentConfig, results: Dict[str, Any], freeze_report: Dict[str, Any], path: str) -> None:
    lines = [
        f"# {Path(config.run.output_dir).name}",
        "",
        f"Fine-tuned from `{config.model.model_name_or_path}` on `{config.data.task_name or config.data.dataset_name}`.",
        "",
        "## Training",
        "",
        f"- epochs: {config.run.num_train_epochs}, batch size: {config.run.per_device_train_batch_size} x "
        f"{config.run.gradient_accumulation_steps} (accumulation) x {world_size()} (devices)",
        f"- learning rate: {config.optim.learning_rate} ({config.optim.scheduler}, warmup {config.optim.warmup_ratio})",
        f"- layer-wise decay: {config.freeze.layerwise_lr_decay}",
        f"- freezing: {json.dumps(freeze_report)}",
        f"- LoRA: {'r=%d alpha=%d' % (config.adapter.lora_r, config.adapter.lora_alpha) if config.adapter.use_lora else 'no'}",
        f"- precision: {'bf16' if config.run.bf16 else 'fp16' if config.run.fp16 else 'fp32'}",
        "",
        "## Results",
        "",
    ]
    for key, value in flatten_dict(results).items():
        if isinstance(value, float):
            lines.append(f"- {key}: {value:.4f}")
        elif isinstance(value, (int, str)):
            lines.append(f"- {key}: {value}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def check_output_dir(run_args: RunArguments) -> None:
    if not os.path.isdir(run_args.output_dir):
        return
    existing = [name for name in os.listdir(run_args.output_dir) if not name.startswith(".")]
    if existing and not run_args.overwrite_output_dir and not run_args.resume_from_checkpoint:
        raise ValueError(
            f"output directory {run_args.output_dir} is not empty; pass --overwrite_output_dir or --resume_from_checkpoint"
        )


def init_distributed(run_args: RunArguments) -> None:
    if "LOCAL_RANK" in os.environ and run_args.local_rank == -1:
        run_args.local_rank = int(os.environ["LOCAL_RANK"])
    if run_args.local_rank != -1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(run_args.local_rank)


def init_reporting(config: ExperimentConfig) -> None:
    if config.run.report_to != "wandb" or wandb is None or not is_main_process():
        return
    wandb.init(
        project=os.environ.get("WANDB_PROJECT", "encoder-finetuning"),
        name=config.run.run_name or Path(config.run.output_dir).name,
        config=flatten_dict(config.to_dict()),
    )


def sanity_check_batch(loader: DataLoader, tokenizer: PreTrainedTokenizerBase, count: int = 2) -> None:
    batch = next(iter(loader))
    logger.info("first batch: %s", {key: tuple(value.shape) for key, value in batch.items()})
    for index in range(min(count, batch["input_ids"].shape[0])):
        text = tokenizer.decode(batch["input_ids"][index], skip_special_tokens=True)
        label = batch["labels"][index].item() if "labels" in batch else None
        logger.info("example %d (label %s): %s", index, label, text[:200])


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    config = parse_config(argv)
    run = config.run
    init_distributed(run)
    setup_logging(run.output_dir, run.local_rank, run.verbose)
    check_output_dir(run)
    seed_everything(run.seed, run.deterministic)
    device = get_device(run.no_cuda)
    logger.info("device %s, world size %d, transformers %s, torch %s", device, world_size(), transformers.__version__, torch.__version__)
    if is_main_process():
        os.makedirs(run.output_dir, exist_ok=True)
        save_json(config.to_dict(), os.path.join(run.output_dir, "experiment.json"))
    init_reporting(config)

    raw = load_raw_datasets(config.data, config.model.cache_dir)
    label2id, id2label, is_regression = build_label_maps(raw, config.data)
    num_labels = 1 if is_regression else len(label2id) or TASK_NUM_LABELS.get(config.data.task_name or "", 2)
    tokenizer = AutoTokenizer.from_pretrained(
        config.model.tokenizer_name or config.model.model_name_or_path,
        use_fast=config.model.use_fast_tokenizer,
        cache_dir=config.model.cache_dir,
        revision=config.model.revision,
        trust_remote_code=config.model.trust_remote_code,
    )
    with contextlib.ExitStack() as stack:
        if run.local_rank not in (-1, 0):
            barrier()  # rank 0 tokenizes first, the others read its cache
        tokenized = tokenize_datasets(raw, tokenizer, config.data, label2id, is_regression)
        if run.local_rank == 0:
            barrier()
        stack.callback(lambda: None)

    model = build_model(config.model, config.adapter, num_labels, id2label, label2id)
    freeze_report = {} if config.adapter.use_lora else apply_freezing(model, config.freeze)
    logger.info("freezing: %s", freeze_report)
    log_trainable_parameters(model, "model after freezing")
    if run.verbose:
        logger.info("what trains:\n%s", describe_trainable(model))
    model.to(device)
    teacher = load_teacher(config.model, num_labels, device) if run.distill_alpha > 0 else None

    results: Dict[str, Any] = {"config": config.to_dict(), "freezing": freeze_report}
    if run.use_hf_trainer:
        results.update(train_with_hf_trainer(config, model, tokenized, tokenizer, num_labels, teacher))
    else:
        loaders = build_dataloaders(tokenized, tokenizer, run, config.data)
        if run.do_train and "train" in loaders:
            sanity_check_batch(loaders["train"], tokenizer)
            trainer = ClassifierTrainer(config, model, loaders, num_labels, device, teacher)
            results["train"] = trainer.train()
            results["history"] = summarize_history(trainer.history, run.metric_for_best_model)
            if run.do_predict and "test" in loaders and is_main_process():
                logits, _ = trainer.predict("test")
                write_predictions(logits, id2label, os.path.join(run.output_dir, "predictions.tsv"), is_regression)
        elif run.do_eval:
            trainer = ClassifierTrainer(config, model, loaders, num_labels, device, teacher)
            results["eval"] = trainer.evaluate("validation")
    if is_main_process():
        save_json({k: v for k, v in results.items() if k != "config"}, os.path.join(run.output_dir, "results.json"))
        write_model_card(config, results, freeze_report, os.path.join(run.output_dir, "README.md"))
    if wandb is not None and run.report_to == "wandb" and is_main_process():
        wandb.finish()
    return results


# ---------------------------------------------------------------------------------------------------------------------
# Small hyper-parameter sweep (sequential, for a single machine)
# ---------------------------------------------------------------------------------------------------------------------

SWEEP_GRID = {
    "learning_rate": [1e-5, 2e-5, 3e-5],
    "freeze_layers": [0, 4, 8],
    "layerwise_lr_decay": [1.0, 0.9],
}


def sweep(base_argv: Sequence[str], grid: Dict[str, List[Any]], output_root: str) -> List[Dict[str, Any]]:
    keys = sorted(grid)
    combos: List[Dict[str, Any]] = [{}]
    for key in keys:
        combos = [dict(combo, **{key: value}) for combo in combos for value in grid[key]]
    summaries = []
    for index, combo in enumerate(combos):
        name = "-".join(f"{key}={value}" for key, value in combo.items())
        argv = list(base_argv) + ["--output_dir", os.path.join(output_root, f"{index:03d}-{name}"), "--overwrite_output_dir", "true"]
        for key, value in combo.items():
            argv += [f"--{key}", str(value)]
        logger.info("sweep %d/%d: %s", index + 1, len(combos), name)
        try:
            results = main(argv)
        except Exception as error:  # keep sweeping: one bad combination should not cost the rest
            logger.exception("sweep run %s failed: %s", name, error)
            summaries.append({"run": name, "error": str(error)})
            continue
        summaries.append({"run": name, **results.get("history", {})})
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    save_json(summaries, os.path.join(output_root, "sweep.json"))
    return summaries


def quick_probe(model_name: str, num_labels: int = 2) -> None:
    """Linear probe: train only the classifier on frozen features, to see how much the encoder already knows."""
    model = AutoModelForSequenceClassification.from_pretrained(model_name, num_labels=num_labels)
    model.base_model.requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    inputs = torch.randint(0, model.config.vocab_size, (8, 16))
    labels = torch.randint(0, num_labels, (8,))
    model.train()
    for step in range(3):
        outputs = model(input_ids=inputs, labels=labels)
        outputs.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        logger.info("probe step %d: loss %.4f", step, outputs.loss.item())


def layer_report(model: nn.Module) -> List[Tuple[str, int, int]]:
    rows = []
    for name, module in model.named_children():
        total = sum(p.numel() for p in module.parameters())
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        rows.append((name, total, trainable))
    return rows


def print_layer_report(model: nn.Module) -> None:
    rows = layer_report(model)
    width = max((len(name) for name, _, _ in rows), default=10)
    print(f"{'module':<{width}}  {'params':>14}  {'trainable':>14}")
    for name, total, trainable in rows:
        print(f"{name:<{width}}  {total:>14,}  {trainable:>14,}")


def export_for_serving(checkpoint: str, output: str, max_length: int = 128) -> None:
    """Export a trained classifier to TorchScript for a small serving container."""
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, torchscript=True)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model.eval()
    example = tokenizer(["an example sentence"], padding="max_length", max_length=max_length, return_tensors="pt")
    traced = torch.jit.trace(model, (example["input_ids"], example["attention_mask"]))
    os.makedirs(output, exist_ok=True)
    traced.save(os.path.join(output, "model.pt"))
    tokenizer.save_pretrained(output)
    save_json({"max_length": max_length, "labels": model.config.id2label}, os.path.join(output, "serving.json"))


def continue_training(checkpoint: str, extra_epochs: int = 1) -> None:
    """Resume a finished run for a few more epochs with the top half of the encoder unfrozen."""
    config = ExperimentConfig(**load_json(os.path.join(checkpoint, "experiment.json")))
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint)
    model.bert.embeddings.requires_grad = False
    layers = encoder_layers(model)
    for layer in layers[: len(layers) // 2]:
        layer.requires_grad = False
    optimizer = AdamW([p for p in model.parameters() if p.requires_grad], lr=config["optim"]["learning_rate"] / 10)
    logger.info("continuing %s for %d epochs with %d parameter tensors", checkpoint, extra_epochs, len(optimizer.param_groups[0]["params"]))


def cli() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "sweep":
        base = sys.argv[2:]
        output_root = "outputs/sweep"
        if "--output_root" in base:
            index = base.index("--output_root")
            output_root = base[index + 1]
            base = base[:index] + base[index + 2 :]
        setup_logging(output_root)
        sweep(base, SWEEP_GRID, output_root)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "probe":
        setup_logging("")
        quick_probe(sys.argv[2] if len(sys.argv) > 2 else "bert-base-uncased")
        return
    if len(sys.argv) > 1 and sys.argv[1] == "export":
        export_for_serving(sys.argv[2], sys.argv[3])
        return
    results = main()
    if is_main_process():
        summary = results.get("history") or results.get("eval") or {}
        print(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    cli()
