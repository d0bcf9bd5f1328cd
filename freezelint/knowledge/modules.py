"""Modules and parameters: which classes are models, which attributes are parameters or sub-modules, what module methods return, where BatchNorm lives."""

from __future__ import annotations

import re

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
    r"^(?!embed_tokens$)"  # Llama-family input embeddings: an nn.Embedding, whatever `*_tokens` says
    r"(weight|bias|\w*_weight|\w*_bias|\w*_token|\w*_tokens|\w*_embedding|pos_embed|\w*_pos_embed|pe|\w*_mask|mask"
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


# A file that mentions any of these deals with BatchNorm's running statistics itself (FrozenBatchNorm2d,
# `freeze_batch_norm_2d`, `track_running_stats`, a BatchNorm-free `norm_layer`): FRZ503 leaves it alone.
BATCHNORM_HANDLING = ("FrozenBatchNorm", "FrozenBN", "freeze_batch_norm", "track_running_stats", "bn.eval", "norm_layer")
# A mention of BatchNorm (`isinstance(m, nn.BatchNorm2d)`) deals with its statistics when one of these is near it
# (`m.eval()`, `m.momentum = 0`); alone it may only sort parameters into groups.
BATCHNORM_WORDS = ("BatchNorm", "batch_norm", "batchnorm")
BATCHNORM_STATISTICS = (".eval()", "train(False)", "momentum", "running_", "requires_grad")


# Names a file gives a whole model (`model = build_model(cfg)`, `self.backbone = opt.backbone_class(opt)`): a value made
# by code the analysis cannot see and bound to one of these is taken for a module of unknown layout. Names of tensors
# a model outputs (`features`, `embeddings`, `logits`, `hidden`) are not among them.
MODEL_VARIABLE = re.compile(
    r"^(model|net|network|backbone|encoder|decoder|teacher|student|generator|discriminator|detector|classifier"
    r"|head|llm|vit|unet|vae|text_encoder|image_encoder|vision_tower|language_model|vision_model|text_model"
    r"|\w+_(model|net|network|backbone|encoder|decoder|head|tower)|(model|net)_\w+|\w*(res|u|mobile|efficient|dense|dark)net\d*)$",
    re.IGNORECASE,
)
