"""What freezelint knows about the libraries it reads: names, classes and helpers, as data in one place.

Nothing here imports those libraries. Qualified names are the dotted paths a file's imports resolve to
(``from transformers import Trainer`` makes ``Trainer`` mean ``transformers.Trainer``).
"""

from __future__ import annotations

import re

# --- models ---------------------------------------------------------------------------------------------------------

# `<Class>.from_pretrained(...)` makes a model unless the class is one of these (tokenizers, configs, processors...).
NOT_A_MODEL_SUFFIXES = (
    "Tokenizer",
    "TokenizerFast",
    "Processor",
    "ProcessorFast",
    "Config",
    "FeatureExtractor",
    "ImageProcessor",
    "ImageProcessorFast",
    "VideoProcessor",
    "GenerationConfig",
    "Scheduler",  # diffusers noise schedulers
    "Pipeline",
    "Dataset",
)

# Roots whose `from_pretrained` classes are (mostly) models when not excluded above.
MODEL_LIBRARIES = ("transformers", "peft", "diffusers", "sentence_transformers", "optimum", "unsloth", "setfit", "adapters")

# Class names that look like models even when imported from a project module.
MODEL_CLASS_NAME = re.compile(r"(Model|For[A-Z]\w*|LMHead\w*|Net|Transformer|Encoder|Decoder|Backbone|Classifier)$")

# Factories returning a module, keyed by qualified name; the value says where the weights come from.
MODEL_FACTORIES = {
    "timm.create_model": "timm",
    "timm.models.create_model": "timm",
    "torch.hub.load": "torch.hub",
    "sentence_transformers.SentenceTransformer": "sentence-transformers",
    "sentence_transformers.CrossEncoder": "sentence-transformers",
    "open_clip.create_model": "open_clip",
    "open_clip.create_model_and_transforms": "open_clip",
}
TORCHVISION_MODELS = "torchvision.models."

# Calls that create a model from a configuration, without pretrained weights.
FROM_CONFIG_METHODS = ("from_config", "_from_config")

# `torch.nn.<X>(...)` constructors that are not modules.
TORCH_NN_NON_MODULES = frozenset({"Parameter", "init", "functional", "utils", "parallel", "Buffer"})

# Base classes that make an in-file class an nn.Module.
MODULE_BASES = (
    "torch.nn.Module",
    "torch.nn.modules.module.Module",
    "pytorch_lightning.LightningModule",
    "lightning.LightningModule",
    "lightning.pytorch.LightningModule",
    "lightning.pytorch.core.LightningModule",
)
PRETRAINED_BASE = re.compile(r"^transformers\.(\w+\.)*\w*(PreTrainedModel|Model|For\w+)$")

# Attributes of a module that are not sub-modules.
MODULE_NON_MODULE_ATTRIBUTES = frozenset(
    {
        "config",
        "device",
        "dtype",
        "training",
        "name_or_path",
        "generation_config",
        "peft_config",
        "hf_device_map",
        "main_input_name",
        "base_model_prefix",
        "num_labels",
        "hparams",
        "is_gradient_checkpointing",
        "is_loaded_in_4bit",
        "is_loaded_in_8bit",
        "active_adapter",
        "active_adapters",
        "warnings_issued",
        "_modules",
        "_parameters",
        "_buffers",
        "__dict__",
        "__class__",
    }
)
# Attributes that unwrap a wrapper (DDP/DataParallel `.module`, torch.compile `._orig_mod`).
UNWRAPPING_ATTRIBUTES = frozenset({"module", "_orig_mod"})
# Last components that name a parameter or tensor rather than a sub-module.
PARAMETER_ATTRIBUTE = re.compile(
    r"^(weight|bias|\w*_weight|\w*_bias|\w*_token|\w*_tokens|\w*_embedding|pos_embed|\w*_pos_embed|pe|\w*_mask|mask"
    r"|scale|\w*_scale|gamma|beta|alpha|temperature|logit_scale|\w*_param|\w*_params|running_mean|running_var"
    r"|prompt|prompts|prefix|\w*_prefix|query_tokens|latents|codebook|centroids|embed|lora_[AB]\.\w+)$"
)

# Methods that return the module they are called on (or the same parameters).
SELF_RETURNING_METHODS = frozenset(
    {"to", "cuda", "cpu", "half", "float", "double", "bfloat16", "train", "eval", "requires_grad_", "to_empty", "share_memory", "type", "apply", "xpu", "mps"}
)
# Methods that return a sub-module.
SUBMODULE_METHODS = frozenset(
    {"get_input_embeddings", "get_output_embeddings", "get_encoder", "get_decoder", "get_submodule", "get_base_model", "get_model"}
)

# --- parameters ----------------------------------------------------------------------------------------------------

PARAMETER_ITERATORS = {"parameters": False, "named_parameters": True}  # method -> yields (name, param) pairs
MODULE_ITERATORS = {"children": False, "modules": False, "named_children": True, "named_modules": True}

# Attribute stores that look like a freeze but are not `requires_grad` (a closed list, not an edit distance:
# transformers itself stores `_requires_grad` legitimately).
MISSPELLED_REQUIRES_GRAD = frozenset(
    {
        "require_grad",
        "require_grads",
        "requires_grads",
        "required_grad",
        "required_grads",
        "requires_gradient",
        "requires_gradients",
        "require_gradient",
        "requires_gard",
        "require_gard",
        "requries_grad",
        "reqires_grad",
        "requiers_grad",
        "requirs_grad",
        "requires_grd",
        "requires_gradd",
        "requiresgrad",
        "requires_Grad",
        "requireGrad",
        "requiresGrad",
        "require_grad_",
        "requires_grads_",
    }
)
# Freeze attributes of other frameworks (right there, no-ops on torch objects).
FOREIGN_FREEZE_ATTRIBUTES = frozenset({"trainable", "stop_gradient"})
FOREIGN_FRAMEWORKS = ("tensorflow", "keras", "tf_keras", "paddle", "jax", "flax", "mindspore", "oneflow", "mxnet")

# --- freezing helpers ----------------------------------------------------------------------------------------------

# Methods of models (or learners) that freeze or unfreeze parameters themselves; value: requires_grad they set.
FREEZE_METHODS = {
    "freeze_feature_encoder": False,
    "freeze_feature_extractor": False,
    "freeze_base_model": False,
    "freeze_backbone": False,
    "freeze_encoder": False,
    "freeze_decoder": False,
    "freeze_vision_tower": False,
    "freeze_model": False,
    "freeze": False,
    "freeze_to": False,
    "freeze_embeddings": False,
    "train_adapter": False,  # adapters: freezes the base, trains the adapter
    "train_adapter_fusion": False,
    "unfreeze": True,
    "unfreeze_backbone": True,
    "unfreeze_model": True,
    "unfreeze_encoder": True,
}
# Library functions that freeze their first argument; value: requires_grad they set.
FREEZE_FUNCTIONS = {
    "timm.utils.freeze": False,
    "timm.utils.model.freeze": False,
    "timm.utils.unfreeze": True,
    "timm.utils.model.unfreeze": True,
    "pytorch_lightning.callbacks.BaseFinetuning.freeze": False,
    "pytorch_lightning.callbacks.BaseFinetuning.make_trainable": True,
    "lightning.pytorch.callbacks.BaseFinetuning.freeze": False,
    "lightning.pytorch.callbacks.BaseFinetuning.make_trainable": True,
    "peft.prepare_model_for_kbit_training": False,
    "peft.utils.prepare_model_for_kbit_training": False,
    "peft.prepare_model_for_int8_training": False,
}
# Method names on `self` in a Lightning `BaseFinetuning` subclass that freeze a module argument.
LIGHTNING_FINETUNING_METHODS = {"freeze": False, "make_trainable": True, "freeze_and_add_param_group": False}

# --- PEFT and adapters ----------------------------------------------------------------------------------------------

PEFT_WRAPPERS = {
    "peft.get_peft_model": "get_peft_model",
    "peft.mapping.get_peft_model": "get_peft_model",
    "peft.mapping_func.get_peft_model": "get_peft_model",
    "unsloth.FastLanguageModel.get_peft_model": "get_peft_model",
    "unsloth.FastModel.get_peft_model": "get_peft_model",
    "unsloth.FastVisionModel.get_peft_model": "get_peft_model",
}
PEFT_LOADERS = re.compile(r"^peft\.(\w+\.)*(PeftModel\w*|AutoPeftModel\w*)\.from_pretrained$")
PEFT_IN_PLACE = {"peft.inject_adapter_in_model": 1}  # qualified name -> index of the model argument
PEFT_METHODS = frozenset({"add_adapter", "load_adapter", "enable_adapters", "set_adapter", "init_adapter"})
PEFT_CONFIGS = re.compile(r"^peft\.(\w+\.)*\w+Config$")
ADAPTER_LIBRARIES = ("adapters.init", "adapters.AutoAdapterModel")

# --- optimizers, schedulers, trainers --------------------------------------------------------------------------------

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

# --- wrappers -------------------------------------------------------------------------------------------------------

WRAPPERS = {
    "torch.nn.parallel.DistributedDataParallel": "ddp",
    "torch.nn.parallel.distributed.DistributedDataParallel": "ddp",
    "torch.nn.DataParallel": "dp",
    "torch.nn.parallel.DataParallel": "dp",
    "torch.distributed.fsdp.FullyShardedDataParallel": "fsdp",
    "torch.distributed.fsdp.fully_sharded_data_parallel.FullyShardedDataParallel": "fsdp",
    "torch.distributed.fsdp.fully_shard": "fsdp2",
    "torch.distributed._composable.fsdp.fully_shard": "fsdp2",
    "torch.compile": "compile",
}
# Calls that return their model arguments wrapped, in the same positions (accelerate, fabric, deepspeed).
PREPARE_METHODS = {"prepare": "accelerate", "prepare_model": "accelerate", "setup": "fabric"}
DEEPSPEED_INITIALIZE = "deepspeed.initialize"

# --- what counts as seen-through --------------------------------------------------------------------------------------

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

# --- architectures --------------------------------------------------------------------------------------------------

# Parameter counts of common checkpoints, derived on the meta device from the bundled configs in data/configs by
# scripts/parameter_counts.py (a test re-derives them): {checkpoint: {class-name ending: (base, per label)}}.
# A model with n labels has base + n * per_label parameters.
PARAMETER_COUNTS: dict[str, dict[str, tuple[int, int]]] = {
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
    'distilbert-base-uncased': {
        'Model': (66_362_880, 0),
        'ForSequenceClassification': (66_953_472, 769),
        'ForTokenClassification': (66_362_880, 769),
        'ForQuestionAnswering': (66_364_418, 0),
        'ForMaskedLM': (66_985_530, 0),
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

# --- transformers versions (configuration: `target-transformers`) ---------------------------------------------------

# The major versions of transformers whose behaviour the rules know. `target-transformers` must be one of them; when a
# project declares none, the newest is assumed (a fresh `pip install transformers` gets it).
TRANSFORMERS_MAJORS = (4, 5)

# --- pre-filter tokens (`tokens=` of rules, `freezelint.prefilter`) --------------------------------------------------

# Strings a file's code must contain for the facts to hold an event of some kind. They are derived from the tables
# above, so a name added there is covered here; `tests/test_prefilter.py` checks them.


def literal_tokens(pattern: str) -> tuple[str, ...]:
    """One string each alternative of `^(A|B\\w*|\\w+C)$` must contain (its longest literal run). An alternative of
    another shape gives the empty string, which every text contains: a doubt never makes a token unsound."""
    body = pattern.removeprefix("^").removesuffix("$")
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    tokens = []
    for alternative in body.split("|"):
        pieces = re.split(r"\\w[*+]", alternative)
        literal = all(re.fullmatch(r"[A-Za-z0-9_]*", piece) for piece in pieces)
        tokens.append(max(pieces, key=len) if literal else "")
    return tuple(tokens)


def minimal_tokens(tokens: set[str] | frozenset[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The tokens without those that contain another one (`freeze_encoder` is implied by `freeze`)."""
    return tuple(sorted(t for t in set(tokens) if not any(o != t and o in t for o in tokens)))


def _last(qualname: str) -> str:
    return qualname.rsplit(".", 1)[-1]


# Any freeze or unfreeze the facts record (`FreezeOp`), effective or not. A project's own `freeze-helpers` come on top
# (the linter treats their names as matching every rule).
FREEZE_TOKENS = minimal_tokens(
    {
        "requires_grad",
        *FREEZE_METHODS,
        *map(_last, FREEZE_FUNCTIONS),
        *LIGHTNING_FINETUNING_METHODS,
        *MISSPELLED_REQUIRES_GRAD,
        *FOREIGN_FREEZE_ATTRIBUTES,
    }
)
# An optimizer built (`OptimizerBuild`): a class whose name OPTIMIZER_NAME accepts, a factory that builds one from a
# model, or `deepspeed.initialize(model_parameters=...)`.
OPTIMIZER_TOKENS = minimal_tokens({*literal_tokens(OPTIMIZER_NAME.pattern), *map(_last, OPTIMIZER_FROM_MODEL), "model_parameters"})
# A trainer built (`TrainerBuild`, so `TrainCall`): a known trainer class, a TRL `*Trainer`, or a subclass of one.
TRAINER_TOKENS = minimal_tokens({*map(_last, TRAINERS), "Trainer"})  # TRL_TRAINER's class names end in `Trainer`
# A model trained (`Facts.training_of`): by a trainer, or by an optimizer that steps or sits beside `backward()`.
TRAINING_TOKENS = minimal_tokens({*TRAINER_TOKENS, *OPTIMIZER_TOKENS})
