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

# Classes whose names read like a task model (`...For<Task>`) but are not: `DataCollatorForLanguageModeling(tokenizer)`.
NOT_A_MODEL_PREFIXES = ("DataCollator",)

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

# `torch.nn` layers without parameters: assigning one (`model.fc = nn.Identity()`) adds nothing to train.
PARAMETER_FREE_LAYERS = frozenset(
    {
        "Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "ReLU", "ReLU6", "LeakyReLU",
        "GELU", "SiLU", "Mish", "ELU", "SELU", "CELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softplus",
        "Hardswish", "Hardsigmoid", "Hardtanh", "Flatten", "Unflatten", "MaxPool1d", "MaxPool2d", "MaxPool3d",
        "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
        "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "Upsample", "PixelShuffle", "ZeroPad2d",
    }
)
# Module methods that give a module new parameters (trainable, whatever was frozen before).
NEW_PARAMETER_METHODS = frozenset(
    {"add_module", "register_module", "register_parameter", "set_input_embeddings", "set_output_embeddings"}
)

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
# Strings a file must contain to freeze or unfreeze anything the facts see (sound `tokens` for rules that need a
# freeze or an unfreeze): `requires_grad`, every FREEZE_METHODS / FREEZE_FUNCTIONS / Lightning name below.
FREEZE_TOKENS = ("requires_grad", "freeze", "train_adapter", "prepare_model_for")
UNFREEZE_TOKENS = ("requires_grad", "unfreeze", "make_trainable")
# Every form of freeze or unfreeze the analysis records has one of these in its code: a rule about a change of
# `requires_grad` cannot fire in a file without one (the pre-filter's groups rely on it).
FLAG_CHANGE_TOKENS = tuple(sorted({*FREEZE_TOKENS, *UNFREEZE_TOKENS}))
# Gradients switched off for a forward pass: a context manager, a decorator, or a detached output.
NO_GRAD_TOKENS = ("no_grad", "inference_mode", "set_grad_enabled", "detach")
# Method names on `self` in a Lightning `BaseFinetuning` subclass that freeze or unfreeze a module argument
# (lightning/pytorch/callbacks/finetuning.py); `unfreeze_and_add_param_group` also adds them to the optimizer.
LIGHTNING_FINETUNING_METHODS = {"freeze": False, "freeze_module": False, "make_trainable": True, "unfreeze_and_add_param_group": True}
# Lightning hooks that run before `configure_optimizers` (`BaseFinetuning.setup` calls `freeze_before_training`), and
# the LightningModule hooks that run after it, once per fit or per epoch.
LIGHTNING_SETUP_HOOKS = frozenset({"setup", "prepare_data"})
LIGHTNING_MODULE_HOOKS = frozenset({"on_fit_start", "on_train_start", "on_train_epoch_start", "on_epoch_start"})

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
# Every way of applying PEFT the analysis records (PeftApply) has one of these in its code.
PEFT_APPLY_TOKENS = ("get_peft_model", "PeftModel", "adapter", "peft_config")
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

# --- options a user can set ------------------------------------------------------------------------------------------

# A decorator that declares a command-line option of the function it decorates, and typer's parameter markers.
CLI_OPTION_DECORATORS = frozenset({"click.option"})
TYPER_PARAMETERS = frozenset({"typer.Option", "typer.Argument"})
# Names of settings that ask for freezing: `freeze*`, `*_frozen`, `train_base*` (`--freeze-encoder`, `freeze_layers`,
# `vision_frozen`, `train_base_model`, `num_frozen_layers`).
FREEZE_OPTION_NAME = re.compile(r"^(un)?freeze|^frozen_|_frozen$|^train_base|^(num|n)_(frozen|freeze)")
# Class decorators whose annotated fields are settings (`HfArgumentParser` turns dataclass fields into options).
DATACLASS_DECORATORS = frozenset({"dataclasses.dataclass", "pydantic.dataclasses.dataclass"})

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

# --- transformers versions (configuration: `target-transformers`) ---------------------------------------------------

# The major versions of transformers whose behaviour the rules know. `target-transformers` must be one of them; when a
# project declares none, the newest is assumed (a fresh `pip install transformers` gets it).
TRANSFORMERS_MAJORS = (4, 5)

# --- silent no-op freezes -------------------------------------------------------------------------------------------

# Packages whose models are not torch modules: there `trainable`/`stop_gradient` are the real API.
FOREIGN_MODEL_PACKAGES = frozenset(
    {
        *FOREIGN_FRAMEWORKS,
        "keras_nlp",
        "keras_hub",
        "keras_cv",
        "paddlenlp",
        "paddleclas",
        "paddleseg",
        "paddledet",
        "ppdet",
        "mindnlp",
        "mindformers",
        "jittor",
        "megengine",
    }
)
# transformers' TensorFlow and Flax classes (removed in v5, common in v4 code): Keras / Flax models.
FOREIGN_MODEL_CLASS = re.compile(r"^(TF|Flax)[A-Z]")


def is_foreign_model(qualname: str, class_name: str | None) -> bool:
    """True for a model object of another framework (`TFBertModel.from_pretrained`, paddlenlp's `AutoModel`)."""
    return qualname.split(".", 1)[0] in FOREIGN_MODEL_PACKAGES or bool(class_name and FOREIGN_MODEL_CLASS.match(class_name))


# Attribute names that hold a tensor (an `nn.Parameter` or a buffer) in some transformers model (5.24) although they
# may read like sub-modules (ViT's `position_embeddings`, CLIP's `text_projection`, MoE experts' `down_proj`, BERT's
# `position_ids` buffer), beyond `PARAMETER_ATTRIBUTE`. Off a library model such a name may be a module or a tensor:
# the analysis does not guess. Regenerate over the installed package with
# `grep -rhoE "self\.\w+ = nn\.(Parameter|Buffer)\(|register_buffer\(\"\w+\"" transformers/models`.
LIBRARY_TENSOR_NAMES = frozenset(
    {
    "A", "A_log", "D", "act_scaling_factor", "af2_to_esm", "alpha_cross_attn", "alpha_dense", "attention_bias_idxs",
    "attention_dists", "attn_mask_probs", "audio_tokens_offsets", "b1", "b2", "balancing_biases", "base", "basis",
    "bias_integer", "bias_u", "bias_v", "bin_centers", "bos_latent", "boundaries", "class_pos_emb", "cls_emb",
    "cluster_size", "cluster_usage", "code_offset", "codevectors", "column_output_weights",
    "decoder_position_embeddings", "default_frames", "dft_mat_hidden", "dft_mat_seq", "diagonal_decay", "down_proj",
    "dummy_node", "emb_rel_k", "emb_rel_v", "embed_avg", "embed_positions", "embed_sum", "embedding",
    "esm_s_combine", "eye", "fc_scaling_factor", "ffn_gamma", "filter", "fn", "freq", "freqs", "freqs_ci",
    "frequencies", "gamma_1", "gamma_2", "gate", "gate_attention", "gate_attn", "gate_ffn", "gate_ffw", "gate_proj",
    "gate_up_proj", "global_img_feature_extensor", "global_invstd", "global_mean", "gradient_clipping", "group_idx",
    "gru_rel_pos_const", "hc_base", "hc_fn", "head_weights", "high_res_vision_alpha", "image_begin", "image_end",
    "image_newline", "image_positions", "image_sep", "index_kpool_compress_ape", "index_kpool_compress_gate",
    "inited", "initialized", "input_matrix_continuous", "input_max", "input_min", "input_permutation",
    "input_residual", "inv_freq", "inv_timescales", "k", "k_idx", "k_minus_1", "kernel_size", "key_decay",
    "label_embeddings_concat", "lambda1", "lambda_1", "lambda_2", "lambda_k1", "lambda_k2", "lambda_q1", "lambda_q2",
    "lambdas", "latent_bias_factor", "latent_mean", "latent_query", "latent_scaling_factor",
    "latent_stats_num_updates", "latent_std", "latents_1d", "latents_2d", "layer_multipliers", "layer_scalar",
    "layer_scale_1", "layer_scale_2", "layer_weights", "level_embed", "levels", "lit_positions", "log_delta",
    "log_k", "log_state_decay", "logit_scale_a", "logit_scale_t", "mask_emb", "mask_value_float16",
    "mask_value_float32", "masked_spec_embed", "mean", "mid_position_embeddings", "mup_vector",
    "ngram_heads_offsets", "ngram_heads_vocab_sizes", "norm_mean", "norm_std", "normalizer", "o", "offsets",
    "one_minus_eye", "original_inv_freq", "output_max", "output_min", "output_weights", "pad_down", "pad_left",
    "pad_right", "pad_up", "padding_total", "phases", "pixel_mean", "pixel_std", "pooling_attention_query",
    "pos_bias_u", "pos_bias_v", "pos_emb_alpha", "pos_emb_alpha_char", "pos_embed_window", "pos_enc", "pos_encoding",
    "pos_idx_to_embed", "position_angles", "position_embedding_table", "position_embeddings", "position_enc",
    "position_ids", "position_ids_k", "positional_embedding_vlm", "post_attention_residual", "probe", "proj",
    "prompts_visual_projection", "q", "query", "query_decay", "r", "r_kernel", "rel_pos_h", "rel_pos_w",
    "relative_coords_table", "relative_position_bias_table", "relative_position_index", "rpb", "s_gate",
    "scaled_factor", "scaling", "seg_embed", "segment_token_input", "segment_token_prompt",
    "self_mask_value_float16", "self_mask_value_float32", "shift", "silence_embeds", "sinks", "sinusoid_freq",
    "slope_rate", "softcap", "sqk", "stride", "sub_img_feature_extensor", "summary_idxs", "suv_gate", "suv_up",
    "temp", "text_projection", "text_prompt", "tid2eid", "time_decay", "time_embeddings", "time_first",
    "time_mix_key", "time_mix_receptance", "time_mix_value", "time_position_embeddings", "token_ordering",
    "token_type_ids", "translate", "type_token_instance", "type_token_semantic", "up", "up_proj", "v", "v1",
    "view_separator", "visual_bbox", "w1", "w2", "w_g", "weight_integer", "weight_scaling_factor", "weights",
    "window", "x_max", "x_min", "z_L_init",
    }
)

# Keyword arguments (of `from_pretrained`, a config constructor) that give a model's number of stacked layers.
LAYER_COUNT_KEYWORDS = ("num_hidden_layers", "num_layers", "n_layers", "n_layer")
# Layers of common checkpoints (the bundled configs in data/configs, and a few more), by the checkpoint's last
# path component (`google-bert/bert-base-uncased` -> `bert-base-uncased`).
LAYER_COUNTS = {
    "bert-base-uncased": 12,
    "bert-base-cased": 12,
    "bert-large-uncased": 24,
    "bert-large-cased": 24,
    "roberta-base": 12,
    "roberta-large": 24,
    "distilbert-base-uncased": 6,
    "distilbert-base-cased": 6,
    "distilroberta-base": 6,
    "gpt2": 12,
    "gpt2-medium": 24,
    "gpt2-large": 36,
    "gpt2-xl": 48,
    "distilgpt2": 6,
    "t5-small": 6,
    "t5-base": 12,
    "t5-large": 24,
}


def layer_count(checkpoint: str | None) -> int | None:
    """Stacked layers of a known checkpoint, or None."""
    if not checkpoint:
        return None
    return LAYER_COUNTS.get(checkpoint.rstrip("/").rsplit("/", 1)[-1])


# A parameter-name pattern that ends in a layer index (`"encoder.layer.1"`, `"model.layers.3"`, `"transformer.h.2"`):
# as a substring or prefix it also matches the layers whose index starts with the same digits (10-19). A container
# right after another index is a sub-layer list (T5's `block.3.layer.1`: at most 3 entries), never ten long. CNN and
# Swin `stages` are not listed: they have four or five entries, so `stage.1` never meets a `stage.10`.
LAYER_INDEX_PATTERN = re.compile(
    r"(?:^|(?<!\d)\.)(?P<container>layer|layers|h|block|blocks|blk|resblocks|res\d?)\.(?P<index>[1-9]\d*)$"
)

# Tensor methods that always return a new tensor object: `requires_grad` set on the result never reaches the parameter.
# (`.to()`, `.float()`, `.cpu()` return the parameter itself when nothing changes, so they are not listed.)
TENSOR_COPY_METHODS = frozenset({"detach", "clone"})
# Foreign freeze attributes whose True means frozen (PaddlePaddle's `stop_gradient`), unlike `trainable`.
INVERTED_FREEZE_ATTRIBUTES = frozenset({"stop_gradient"})
# Packages whose import marks a file as torch code (an object of unknown type there is most likely a torch one).
TORCH_PACKAGES = ("torch", "transformers", "peft", "timm", "torchvision", "accelerate", "lightning", "pytorch_lightning")
# torch.nn containers whose items are parameters, not modules.
PARAMETER_CONTAINERS = frozenset({"ParameterList", "ParameterDict"})
# Architectures whose `layer` lists are sub-layers of a block (T5: `block.3.layer.1`, at most three entries), by
# model class or checkpoint: there `"layer.1"` names a sub-layer and never collides.
SUBLAYER_ARCHITECTURE = re.compile(r"t5|switch", re.IGNORECASE)


def has_sublayer_lists(class_name: str | None, checkpoint: str | None) -> bool:
    return any(name and SUBLAYER_ARCHITECTURE.search(name) for name in (class_name, checkpoint))


# --- task heads (order-aware rules) ------------------------------------------------------------------------------------

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
        _, _, heads, words = TASK_HEADS[class_name]
        return class_name, heads, frozenset(words)
    if class_name.startswith("AutoModelFor") and checkpoint:
        task = class_name[len("AutoModel"):]
        model_type = next((kind for pattern, kind in CHECKPOINT_MODEL_TYPES if pattern.search(checkpoint)), None)
        for name, (kind, entry_task, heads, words) in TASK_HEADS.items():
            if kind == model_type and entry_task == task:
                return name, heads, frozenset(words)
    return None


# --- distributed training and compilation (FRZ504-FRZ508) -------------------------------------------------------------

# Wrap kinds (WRAPPERS, PREPARE_METHODS) that put a model in DistributedDataParallel: `DDP(...)` itself, and
# `accelerator.prepare` / `fabric.setup` when the script is launched on several processes.
DDP_WRAP_KINDS = frozenset({"ddp", "accelerate", "fabric"})
DDP_TOKENS = ("DistributedDataParallel", "prepare", "setup")
# ... and `prepare`/`setup` only wrap on an object of those libraries, which the file then imports.
DDP_LIBRARY_TOKENS = ("DistributedDataParallel", "accelerate", "lightning")
# Keyword arguments (of DDP, accelerate's `DistributedDataParallelKwargs`, Lightning's `DDPStrategy`) under which DDP
# tolerates a parameter that requires grad and gets no gradient: measured on torch 2.13, DDP with either one trains
# a model frozen after the wrap, or run partly under `no_grad`, without the reduction error.
DDP_UNUSED_TOLERANT_KEYWORDS = ("find_unused_parameters", "static_graph")
# Lightning strategy names that turn `find_unused_parameters` on (`"ddp_find_unused_parameters_true"`,
# `"ddp_spawn_find_unused_parameters_true"`...) contain this.
DDP_UNUSED_TOLERANT_STRATEGY = "find_unused_parameters_true"
DDP_UNUSED_ERROR = "RuntimeError: Expected to have finished reduction in the prior iteration before starting a new one"
# FullyShardedDataParallel (FSDP1) flattens each wrapped unit into one FlatParameter unless `use_orig_params=True`.
FSDP1_MIXED_ERROR = "ValueError: Must flatten tensors with uniform requires_grad when use_orig_params=False"
# `torch._dynamo.config.recompile_limit` (torch 2.13): distinct compiled versions of one frame before dynamo stops
# compiling it and runs it eagerly.
COMPILE_RECOMPILE_LIMIT = 8


# --- PEFT and library interactions (issue 9a: FRZ401-FRZ404, FRZ501-FRZ503, FRZ106, FRZ111, FRZ112) ---------------

# PEFT configurations whose adapters are layers injected into the base model (LoRA and its relatives): freezing the
# base model after wrapping freezes them too. Prompt-learning configurations (PromptTuningConfig, PrefixTuningConfig,
# PromptEncoderConfig...) keep their trainable prompt encoder outside `base_model`.
PEFT_INJECTED_CONFIGS = frozenset(
    {
        "LoraConfig", "LoHaConfig", "LoKrConfig", "AdaLoraConfig", "IA3Config", "OFTConfig", "BOFTConfig",
        "VeraConfig", "FourierFTConfig", "HRAConfig", "VBLoRAConfig", "LNTuningConfig", "BoneConfig", "MissConfig",
        "RandLoraConfig", "C3AConfig", "ShiraConfig", "RoadConfig", "WaveFTConfig", "DeloraConfig", "OSFConfig",
    }
)
# PEFT calls that put adapters into the model they are given (in place), so the model itself then holds them.
PEFT_IN_PLACE_HOWS = frozenset({"add_adapter", "inject_adapter_in_model"})
# `task_type` values whose PeftModel subclass adds the task head to `modules_to_save` itself (peft 0.21.2
# peft_model.py: PeftModelForSequenceClassification / ForTokenClassification add "classifier" and "score",
# PeftModelForQuestionAnswering adds "qa_outputs").
PEFT_TASK_TYPE_SAVES = {
    "SEQ_CLS": ("classifier", "score"),
    "TOKEN_CLS": ("classifier", "score"),
    "QUESTION_ANS": ("qa_outputs",),
}
# The `task_type` to suggest for a task model, by its class-name ending.
PEFT_TASK_TYPE_OF = {
    "ForSequenceClassification": "SEQ_CLS",
    "ForTokenClassification": "TOKEN_CLS",
    "ForQuestionAnswering": "QUESTION_ANS",
}
# Task models whose head is new and randomly initialised when loaded from a base checkpoint: text task heads always
# (unless the checkpoint is already fine-tuned for the task), vision and audio classifiers when given new labels.
NEW_HEAD_TEXT_TASK = re.compile(r"For(SequenceClassification|TokenClassification|QuestionAnswering|MultipleChoice)$")
NEW_HEAD_WITH_LABELS_TASK = re.compile(r"For(ImageClassification|AudioClassification|AudioFrameClassification)$")
NEW_LABELS_KEYWORDS = ("num_labels", "id2label", "label2id", "ignore_mismatched_sizes")
# Checkpoint names that say the task head is already trained (`distilbert-base-uncased-finetuned-sst-2-english`).
FINETUNED_CHECKPOINT = re.compile(r"finetuned|fine-tuned|sst-?2|mnli|squad|conll|emotion|sentiment|imdb|ner\b", re.I)

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

# BatchNorm-bearing vision models: torchvision and timm factories (by name), HF model types. Detection models
# (`fasterrcnn_resnet50_fpn`) use FrozenBatchNorm2d in their backbones, and ViT, ConvNeXt, Swin and BiT have none.
BATCHNORM_TORCHVISION = re.compile(
    r"^(resnet\d+|resnext\d+_\w+|wide_resnet\d+_\d|vgg\d+_bn|densenet\d+|mobilenet_v[23]\w*|efficientnet_\w+|regnet_\w+"
    r"|shufflenet_\w+|mnasnet\w+|inception_v3|googlenet)$"
)
BATCHNORM_TIMM = re.compile(
    r"^(resnet\d+[a-d]?|resnext\d+\w*|wide_resnet\d+\w*|seresnet\w*|efficientnet\w*|tf_efficientnet\w*|mobilenetv[23]\w*"
    r"|regnet\w*|densenet\w*|mixnet\w*|inception\w*)(\.|$)"
)
BATCHNORM_MODEL_TYPES = frozenset({"resnet", "regnet", "mobilenet_v1", "mobilenet_v2", "efficientnet"})
# Top-level parts of torchvision/timm CNNs that hold BatchNorm layers (a freeze of one of them freezes BatchNorm).
BATCHNORM_PARTS = frozenset({"layer1", "layer2", "layer3", "layer4", "features", "bn1", "blocks", "stem", "trunk_output"})
# A file that mentions any of these deals with BatchNorm itself (FrozenBatchNorm2d, `freeze_batch_norm_2d`, an
# `isinstance(m, nn.BatchNorm2d)` loop, `track_running_stats`): FRZ503 leaves it alone.
BATCHNORM_HANDLING = ("BatchNorm", "batch_norm", "batchnorm", "FrozenBN", "track_running_stats", "bn.eval", "norm_layer")

# `nn.Embedding.from_pretrained` and `nn.EmbeddingBag.from_pretrained` (torch 2.13: `freeze=True` by default).
EMBEDDING_FROM_PRETRAINED = frozenset(
    {
        "torch.nn.Embedding.from_pretrained",
        "torch.nn.EmbeddingBag.from_pretrained",
        "torch.nn.modules.sparse.Embedding.from_pretrained",
        "torch.nn.modules.sparse.EmbeddingBag.from_pretrained",
    }
)

# Methods removed from transformers, by the major version that removed them: {name: (replacement, removed in)}.
# wav2vec2-family models (Wav2Vec2, Hubert, WavLM, Data2VecAudio, SEW, SEW-D, UniSpeech, UniSpeechSat,
# Wav2Vec2Conformer) deprecated `freeze_feature_extractor()` in 4.x and transformers 5 removed it.
REMOVED_METHODS = {"freeze_feature_extractor": ("freeze_feature_encoder", 5)}
# Class-name stems of those models (evidence that an untracked receiver is one of them when the file imports one).
WAV2VEC2_FAMILY = re.compile(r"^(Wav2Vec2|Hubert|WavLM|Data2VecAudio|SEW|SEWD|UniSpeech|UniSpeechSat|Wav2Vec2Conformer)(Model|For\w+)$")
# `AutoModel*` classes that load those models, and their checkpoint names (`facebook/wav2vec2-base`).
WAV2VEC2_AUTO_CLASSES = frozenset(
    {"AutoModelForCTC", "AutoModelForAudioClassification", "AutoModelForAudioFrameClassification", "AutoModelForAudioXVector", "AutoModelForPreTraining"}
)
WAV2VEC2_CHECKPOINT = re.compile(r"wav2vec2|hubert|wavlm|data2vec-audio|unispeech|(^|/)sew", re.I)

# --- pre-filter tokens (`tokens=` of rules, `freezelint.prefilter`) --------------------------------------------------

# A trainer built (`TrainerBuild`, so `TrainCall`): a known trainer class, a TRL `*Trainer`, or a subclass of one.
TRAINER_TOKENS = tuple(sorted({"Trainer"} | {n.rsplit(".", 1)[-1] for n in TRAINERS if "Trainer" not in n}))  # TRL: `*Trainer`
# A model trained (`Facts.training_of`): by a trainer, or by an optimizer that steps or sits beside `backward()`.
TRAINING_TOKENS = tuple(sorted({*TRAINER_TOKENS, *OPTIMIZER_TOKENS}))
