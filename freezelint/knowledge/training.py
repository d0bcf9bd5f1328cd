"""Optimizers, schedulers and trainers of every library, and the options a user can set."""

from __future__ import annotations

import re

OPTIMIZER_MODULES = (
    "torch.optim.",
    "bitsandbytes.optim.",
    "apex.optimizers.",
    "deepspeed.ops.adam.",
    "deepspeed.ops.lamb.",
    "torch_optimizer.",
    "timm.optim.",
    "lion_pytorch.",
    "schedulefree.",
    "transformers.optimization.",
    "transformers.",
    "galore_torch.",
    "came_pytorch.",
    "prodigyopt.",
    "dadaptation.",
)


OPTIMIZER_NAME = re.compile(
    r"^(SGD\w*|Adam\w*|AdamW\w*|Adafactor|Adagrad|Adadelta|Adamax|ASGD|LBFGS|NAdam|RAdam|RMSprop|Rprop|SparseAdam|Lion\w*"
    r"|Lamb|LAMB|FusedAdam|FusedLAMB|FusedSGD|FusedNovoGrad|DeepSpeedCPUAdam|Muon|Prodigy|DAdapt\w*|CAME|GaLore\w*"
    r"|PagedAdam\w*|Adam8bit|AdamW8bit|AdamW32bit|Adan|Ranger\w*|Lookahead|Novograd|AdaBelief|MADGRAD|Shampoo|SOAP"
    r"|\w+ScheduleFree)$"
)


# Factories that build an optimizer from a model (not from a parameter list): first argument is the model.
OPTIMIZER_FROM_MODEL = frozenset({"timm.optim.create_optimizer_v2", "timm.optim.create_optimizer"})


# Strings a file must contain to build an optimizer the facts know (sound `tokens` for rules that need one): the
# optimizer class names OPTIMIZER_NAME accepts (taken from its own alternatives), the model-based factories, deepspeed.
OPTIMIZER_TOKENS = tuple(
    sorted(
        {re.sub(r"\\w[*+]|[\^$()]", "", alternative) for alternative in OPTIMIZER_NAME.pattern.split("|")}
        | {name.rsplit(".", 1)[-1] for name in OPTIMIZER_FROM_MODEL}
        | {"deepspeed"}
    )
)


SCHEDULER_MODULES = ("torch.optim.lr_scheduler.",)


SCHEDULER_FUNCTIONS = re.compile(r"^transformers\.(optimization\.)?(get_\w+_schedule\w*|get_scheduler)$")


TRAINERS = {
    "transformers.Trainer": "transformers",
    "transformers.trainer.Trainer": "transformers",
    "transformers.Seq2SeqTrainer": "transformers",
    "transformers.trainer_seq2seq.Seq2SeqTrainer": "transformers",
    "sentence_transformers.SentenceTransformerTrainer": "sentence-transformers",
    "sentence_transformers.trainer.SentenceTransformerTrainer": "sentence-transformers",
    "sentence_transformers.cross_encoder.CrossEncoderTrainer": "sentence-transformers",
    "setfit.Trainer": "setfit",
    "setfit.SetFitTrainer": "setfit",
    "pytorch_lightning.Trainer": "lightning",
    "lightning.Trainer": "lightning",
    "lightning.pytorch.Trainer": "lightning",
    "lightning.fabric.Fabric": "fabric",
}


TRL_TRAINER = re.compile(r"^trl\.(\w+\.)*\w*Trainer$")


# Positional parameters of Trainer-like constructors (HF Trainer and TRL trainers agree on the first two).
TRAINER_POSITIONAL = ("model", "args")


TRAINER_CALLBACK_BASES = ("transformers.TrainerCallback", "transformers.trainer_callback.TrainerCallback")


LIGHTNING_CALLBACK_BASES = (
    "pytorch_lightning.callbacks.BaseFinetuning",
    "lightning.pytorch.callbacks.BaseFinetuning",
    "pytorch_lightning.Callback",
    "lightning.pytorch.Callback",
    "pytorch_lightning.callbacks.Callback",
    "lightning.pytorch.callbacks.Callback",
)


TRAINING_ARGUMENTS = re.compile(r"^(transformers|trl|sentence_transformers|setfit)\.(\w+\.)*\w*(TrainingArguments|Config|Arguments)$")


# Methods that run training on a trainer object.
TRAIN_METHODS = frozenset({"train", "fit"})


# A decorator that declares a command-line option of the function it decorates, and typer's parameter markers.
CLI_OPTION_DECORATORS = frozenset({"click.option"})


TYPER_PARAMETERS = frozenset({"typer.Option", "typer.Argument"})


# Names of settings that ask for freezing: `freeze*`, `*_frozen`, `train_base*` (`--freeze-encoder`, `freeze_layers`,
# `vision_frozen`, `train_base_model`, `num_frozen_layers`).
FREEZE_OPTION_NAME = re.compile(r"^(un)?freeze|^frozen_|_frozen$|^train_base|^(num|n)_(frozen|freeze)")


# Class decorators whose annotated fields are settings (`HfArgumentParser` turns dataclass fields into options).
DATACLASS_DECORATORS = frozenset({"dataclasses.dataclass", "pydantic.dataclasses.dataclass"})
