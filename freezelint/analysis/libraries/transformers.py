"""Hugging Face transformers (and the libraries that load models the same way: diffusers, sentence-transformers,
unsloth...): models loaded with `from_pretrained`, built with `from_config` or from a configuration, and
`TrainingArguments`. Trainers are in `training`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from freezelint import knowledge as kb
from freezelint.analysis.libraries import peft
from freezelint.analysis.libraries.call import CallSite
from freezelint.analysis.syntax import literal
from freezelint.facts import UNKNOWN, Config, Literal, ModelSource, TupleValue, Value

if TYPE_CHECKING:
    from freezelint.analysis.interpreter import Interpreter

_LOADERS = ("from_pretrained", "from_config", "_from_config")


def load_model(walk: Interpreter, site: CallSite) -> Value | None:
    """`<Class>.from_pretrained(...)` / `.from_config(...)` of an imported class, when the class is a model (a PEFT
    loader wraps its base model; `nn.Embedding.from_pretrained` makes a layer)."""
    if site.last not in _LOADERS:
        return None
    class_qualname, how = site.head, site.last
    class_name = class_qualname.rsplit(".", 1)[-1]
    qualname = f"{class_qualname}.{how}"
    if kb.PEFT_LOADERS.match(qualname):
        base = site.first if site.args else site.kwargs.get("model", UNKNOWN)
        return peft.wrap(walk, base, UNKNOWN, site.node, f"{class_name}.from_pretrained")
    if class_qualname in ("torch.nn.Embedding", "torch.nn.EmbeddingBag"):
        return walk.new_model(ModelSource.LAYER, qualname, site.node, class_name=class_name, library="torch")
    not_a_model = class_name.endswith(kb.NOT_A_MODEL_SUFFIXES) or (
        class_name.startswith("Auto") and class_name[4:] in ("Tokenizer", "Config", "Processor", "FeatureExtractor", "ImageProcessor")
    )
    if not_a_model:
        return None
    package = class_qualname.split(".", 1)[0]
    if package not in kb.MODEL_LIBRARIES and not kb.MODEL_CLASS_NAME.search(class_name):
        return None
    written = literal(site.literal_argument(0, "pretrained_model_name_or_path"))
    source = ModelSource.PRETRAINED if how == "from_pretrained" else ModelSource.FROM_CONFIG
    checkpoint = written if isinstance(written, str) else None
    model = walk.new_model(
        source, qualname, site.node, class_name=class_name, checkpoint=checkpoint,
        library=package if package in kb.MODEL_LIBRARIES else None,
        num_layers=layer_count(site.args, site.kwargs, checkpoint),
    )
    if class_qualname.startswith("unsloth."):
        return TupleValue((model, UNKNOWN))
    return model


def training_arguments(walk: Interpreter, site: CallSite) -> Value | None:
    """`TrainingArguments(...)` and its kin (TRL's `SFTConfig`...): a configuration whose keywords rules read."""
    if kb.TRAINING_ARGUMENTS.match(site.qualname):
        return Config(site.qualname, site.node, dict(site.kwargs))
    return None


def model_from_config(walk: Interpreter, site: CallSite) -> Value | None:
    """`BertForSequenceClassification(config)`: a model with random weights, built from its configuration."""
    if site.receiver is not None or not is_model_class(site.qualname) or not (site.args or site.kwargs):
        return None
    built = walk.new_model(
        ModelSource.FROM_CONFIG, site.qualname, site.node, class_name=site.last, library="transformers",
        num_layers=layer_count(site.args, site.kwargs, None),
    )
    built.factory = site.last
    return built


def task_model_class(walk: Interpreter, site: CallSite) -> Value | None:
    """A transformers task model class called with no arguments the checks above read: random weights too."""
    if (site.receiver is None and site.package == "transformers" and kb.TASK_HEAD.search(site.last)
            and not site.last.startswith(kb.NOT_A_MODEL_PREFIXES)):
        return walk.new_model(ModelSource.FROM_CONFIG, site.qualname, site.node, class_name=site.last, library="transformers")
    return None


def is_model_class(qualname: str) -> bool:
    package, _, last = qualname.partition(".")
    name = last.rsplit(".", 1)[-1]
    return (
        package == "transformers"
        and bool(kb.MODEL_CLASS_NAME.search(name))
        and not name.endswith(kb.NOT_A_MODEL_SUFFIXES)
        and not name.startswith(("Auto", *kb.NOT_A_MODEL_PREFIXES))
    )


def layer_count(args: list[Value], kwargs: dict[str, Value], checkpoint: str | None) -> int | None:
    """A model's number of stacked layers: a literal keyword (`num_hidden_layers=6`) of the call or of the
    configuration it is given, else the known layer count of its checkpoint."""
    sources = [kwargs]
    for config in (kwargs.get("config"), args[0] if args else None):
        if isinstance(config, Config):
            sources.append(config.kwargs)
    for values in sources:
        for keyword in kb.LAYER_COUNT_KEYWORDS:
            value = values.get(keyword)
            if isinstance(value, Literal) and isinstance(value.value, int) and not isinstance(value.value, bool):
                return value.value
    return kb.layer_count(checkpoint)
