"""Activation (gradient) checkpointing: how it is turned on, and its reentrant defaults."""

from __future__ import annotations

# Method names and TrainingArguments fields that turn on activation (gradient) checkpointing, and their keyword
# arguments (transformers 5 renamed `gradient_checkpointing*` to `activation_checkpointing*`, keeping the old names).
CHECKPOINTING_METHODS = frozenset({"gradient_checkpointing_enable", "activation_checkpointing_enable"})


CHECKPOINTING_ARGUMENTS = ("gradient_checkpointing", "activation_checkpointing")


CHECKPOINTING_KWARGS = ("gradient_checkpointing_kwargs", "activation_checkpointing_kwargs")


# Raw torch checkpointing; without `use_reentrant` torch 2.13 warns and uses the reentrant variant.
TORCH_CHECKPOINT = frozenset(
    {"torch.utils.checkpoint.checkpoint", "torch.utils.checkpoint.checkpoint_sequential"}
)


# transformers majors whose `gradient_checkpointing_enable()` defaults to the reentrant variant (4.35-4.57:
# `{"use_reentrant": True}`; 5.x: `{"use_reentrant": False}`).
REENTRANT_BY_DEFAULT = frozenset({4})


# Calls that make the input embeddings' output require grad (what reentrant checkpointing of frozen inputs needs).
INPUT_GRAD_METHODS = frozenset({"enable_input_require_grads"})


# Strings that make the FRZ501/FRZ502 rules relevant to a file.
CHECKPOINTING_TOKENS = ("checkpoint",)
