"""Which packages the analysis sees through (calls into them never freeze what they are given), and the transformers versions it knows."""

from __future__ import annotations

import sys

# Calls into these packages never freeze a model handed to them (beyond what this file models explicitly);
# a model handed to anything else (a project's own helper) may be frozen there.
INERT_PACKAGES = frozenset(
    {
        "torch",
        "transformers",
        "datasets",
        "evaluate",
        "accelerate",
        "peft",
        "trl",
        "numpy",
        "np",
        "pandas",
        "sklearn",
        "scipy",
        "wandb",
        "tqdm",
        "mlflow",
        "tensorboard",
        "matplotlib",
        "safetensors",
        "huggingface_hub",
        "torchvision",
        "torchaudio",
        "timm",
        "einops",
        "bitsandbytes",
        "deepspeed",
        "lightning",
        "pytorch_lightning",
        "torchmetrics",
        "sentence_transformers",
        "diffusers",
        "hydra",
        "omegaconf",
        "rich",
        "fire",
        "typer",
        "click",
        "yaml",
        "PIL",
        "cv2",
        "nltk",
        "tokenizers",
        "unsloth",
        "setfit",
        "optimum",
        "open_clip",
        "torchinfo",
        "thop",
        "fvcore",
    }
)


# Builtins that never freeze anything (any other builtin is also inert; listed are the ones that consume iterators).
CONSUMING_BUILTINS = frozenset({"list", "tuple", "set", "sorted", "sum", "any", "all", "min", "max", "len", "dict", "frozenset", "next", "enumerate", "zip", "reversed"})


# The major versions of transformers whose behaviour the rules know. `target-transformers` must be one of them; when a
# project declares none, the newest is assumed (a fresh `pip install transformers` gets it).
TRANSFORMERS_MAJORS = (4, 5)


# The standard library's modules: calls into them never freeze a model handed to them.
STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}


def seen_through(package: str) -> bool:
    """True when a call into `package` never freezes a model handed to it (beyond what the library models record): a
    known library or the standard library. A project's own module (or a relative import) may."""
    return not package.startswith(".") and (package in INERT_PACKAGES or package in STDLIB)
