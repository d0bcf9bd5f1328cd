"""`from_pretrained` without weights: the real architecture on the meta device, from a configuration found offline.

While a replay runs, `PreTrainedModel.from_pretrained` and the Auto classes' `from_pretrained` build the model with
`_from_config` under `torch.device("meta")` (parameters have shapes, no storage: a 7B model costs seconds and a few
megabytes), then put it in eval mode as `from_pretrained` does. `AutoConfig.from_pretrained` and
`<X>Config.from_pretrained` read the configuration from the same places (`configs.resolve`). With `--weights`, the
real `from_pretrained` runs, offline. Every model made is recorded with the script line that asked for it.
"""

from __future__ import annotations

import copy
import os
import sys
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from freezelint.runtime import configs

# Keyword arguments of `from_pretrained` that only say how or where to load weights.
LOADING_ONLY = frozenset(
    {
        "cache_dir", "force_download", "local_files_only", "proxies", "revision", "token", "use_auth_token",
        "resume_download", "low_cpu_mem_usage", "device_map", "max_memory", "offload_folder", "offload_state_dict",
        "offload_buffers", "use_safetensors", "weights_only", "variant", "from_tf", "from_flax", "ignore_mismatched_sizes",
        "_from_auto", "_from_pipeline", "adapter_kwargs", "adapter_name", "code_revision", "trust_remote_code",
        "key_mapping", "tp_plan", "tp_size", "device_mesh", "disable_mmap", "fusion_config", "gguf_file",
        "generation_config", "state_dict", "_fast_init", "mirror", "subfolder", "output_loading_info", "use_kernels",
        "kernel_config", "distributed_config", "_commit_hash",
    }
)
QUANTIZATION = frozenset({"quantization_config", "load_in_8bit", "load_in_4bit"})
MODEL_KWARGS = frozenset({"attn_implementation", "dtype", "torch_dtype", "experts_implementation"})


class RemoteCodeRefused(Exception):
    """`trust_remote_code=True` outside `--exec`."""


@dataclass(eq=False)
class Loaded:
    """One model the script loaded."""

    model: Any
    line: int | None  # the script line of the `from_pretrained` call
    checkpoint: str
    requested: str  # the class the script called: "AutoModelForSequenceClassification"
    source: str  # where the configuration (or the weights) came from, for the report
    notes: list[str] = field(default_factory=list)

    @property
    def class_name(self) -> str:
        return type(self.model).__name__


def script_line(path: str) -> int | None:
    """The line of the innermost frame running the script `path` (the caller of a library function)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == path:
            return frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None


def is_meta(module: Any) -> bool:
    for parameter in module.parameters():
        return parameter.device.type == "meta"
    return False


class Loader:
    """Patches the loading functions of transformers for one replay."""

    def __init__(self, path: str, overrides: dict[str, str], weights: bool, allow_remote_code: bool) -> None:
        self.path = path
        self.overrides = overrides
        self.weights = weights
        self.allow_remote_code = allow_remote_code
        self.loaded: list[Loaded] = []
        self.config_sources: dict[int, str] = {}  # id(config object) -> where it was read from

    @contextmanager
    def installed(self) -> Iterator[Loader]:
        import torch

        if "transformers" not in sys.modules:  # a script that does not use it: importing it would cost seconds
            with self._devices_kept(torch):
                yield self
            return
        import transformers
        from transformers.models.auto.auto_factory import _BaseAutoModelClass

        loader = self
        model_base = transformers.PreTrainedModel
        config_base = transformers.PretrainedConfig
        auto_config = transformers.AutoConfig
        original_model = model_base.__dict__["from_pretrained"].__func__
        original_auto = _BaseAutoModelClass.__dict__["from_pretrained"].__func__
        original_config = config_base.__dict__["from_pretrained"].__func__
        original_auto_config = auto_config.__dict__["from_pretrained"].__func__

        def model_from_pretrained(cls, pretrained_model_name_or_path=None, *model_args, **kwargs):
            return loader.load(cls, original_model, pretrained_model_name_or_path, model_args, kwargs, auto=False)

        def auto_from_pretrained(cls, pretrained_model_name_or_path=None, *model_args, **kwargs):
            return loader.load(cls, original_auto, pretrained_model_name_or_path, model_args, kwargs, auto=True)

        def config_from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
            return loader.config(cls, original_config, pretrained_model_name_or_path, kwargs)

        def auto_config_from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
            return loader.config(cls, original_auto_config, pretrained_model_name_or_path, kwargs)

        with ExitStack() as stack:
            stack.callback(setattr, model_base, "from_pretrained", model_base.__dict__["from_pretrained"])
            stack.callback(setattr, _BaseAutoModelClass, "from_pretrained", _BaseAutoModelClass.__dict__["from_pretrained"])
            stack.callback(setattr, config_base, "from_pretrained", config_base.__dict__["from_pretrained"])
            stack.callback(setattr, auto_config, "from_pretrained", auto_config.__dict__["from_pretrained"])
            # Patching the library's classmethods for the replay (restored above): deliberately not their types.
            model_base.from_pretrained = classmethod(model_from_pretrained)  # type: ignore[method-assign, assignment]
            _BaseAutoModelClass.from_pretrained = classmethod(auto_from_pretrained)  # type: ignore[method-assign, assignment]
            config_base.from_pretrained = classmethod(config_from_pretrained)  # type: ignore[method-assign, assignment]
            auto_config.from_pretrained = classmethod(auto_config_from_pretrained)  # type: ignore[method-assign, assignment]
            stack.enter_context(self._devices_kept(torch))
            yield self

    @contextmanager
    def _devices_kept(self, torch: Any) -> Iterator[None]:
        """A meta model stays where it is: device moves (`model.to("cuda")`) do not change what trains."""
        if self.weights:
            yield
            return
        original_to = torch.nn.Module.to
        original_cuda = torch.nn.Module.cuda

        def to(module, *args, **kwargs):
            if is_meta(module):
                return module
            return original_to(module, *args, **kwargs)

        def cuda(module, *args, **kwargs):
            if is_meta(module):
                return module
            return original_cuda(module, *args, **kwargs)

        torch.nn.Module.to = to
        torch.nn.Module.cuda = cuda
        try:
            yield
        finally:
            torch.nn.Module.to = original_to
            torch.nn.Module.cuda = original_cuda

    # --- configurations -------------------------------------------------------------------------------------------

    def config(self, cls: type, original: Any, name: Any, kwargs: dict) -> Any:
        """`<Config>.from_pretrained(name)`, read from wherever `configs.resolve` finds it."""
        source = configs.resolve(os.fspath(name), self.overrides, kwargs.get("subfolder"))
        for key in ("subfolder", "revision", "cache_dir", "force_download", "local_files_only", "token", "proxies"):
            kwargs.pop(key, None)
        config = original(cls, source.location, **kwargs)
        made = config[0] if isinstance(config, tuple) else config
        self.config_sources[id(made)] = source.describe()
        return config

    # --- models ---------------------------------------------------------------------------------------------------

    def load(self, cls: type, original: Any, name: Any, model_args: tuple, kwargs: dict, auto: bool) -> Any:
        line = script_line(self.path)
        if kwargs.get("trust_remote_code") and not self.allow_remote_code:
            raise RemoteCodeRefused(
                "`trust_remote_code=True` runs the checkpoint's own Python code: freezelint runs it only with --exec"
            )
        checkpoint = os.fspath(name) if name is not None else "<config>"
        if self.weights:
            model = original(cls, name, *model_args, **kwargs)
            loaded_model = model[0] if isinstance(model, tuple) else model
            self.loaded.append(Loaded(loaded_model, line, checkpoint, cls.__name__, "weights (local files)"))
            return model
        model, source, notes = self.build(cls, checkpoint, kwargs, auto)
        self.loaded.append(Loaded(model, line, checkpoint, cls.__name__, source, notes))
        if kwargs.get("output_loading_info"):
            return model, {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": []}
        return model

    def build(self, cls: type[Any], checkpoint: str, kwargs: dict, auto: bool) -> tuple[Any, str, list[str]]:
        """The architecture `cls.from_pretrained(checkpoint, **kwargs)` would load, without its weights."""
        import torch
        import transformers

        kwargs = dict(kwargs)
        notes: list[str] = []
        config = kwargs.pop("config", None)
        subfolder = kwargs.get("subfolder")
        if any(kwargs.get(key) for key in QUANTIZATION):
            notes.append("quantization ignored: counts are those of the unquantized architecture")
        model_kwargs = {key: kwargs.pop(key) for key in MODEL_KWARGS if key in kwargs}
        for key in ("dtype", "torch_dtype"):
            if model_kwargs.get(key) == "auto":
                model_kwargs.pop(key)
        config_kwargs = {key: value for key, value in kwargs.items() if key not in LOADING_ONLY and key not in QUANTIZATION}
        if kwargs.get("trust_remote_code") and self.allow_remote_code:  # --exec: the checkpoint's own classes may run
            config_kwargs["trust_remote_code"] = True
            if auto:
                model_kwargs["trust_remote_code"] = True
        if isinstance(config, transformers.PretrainedConfig):
            origin = self.config_sources.get(id(config))
            config = copy.deepcopy(config)
            if origin is not None:
                self.config_sources[id(config)] = origin
            for key, value in config_kwargs.items():
                if hasattr(config, key):
                    setattr(config, key, value)
            where = self.config_sources.get(id(config), "the config object it was given")
        else:
            location = os.fspath(config) if config is not None else checkpoint
            source = configs.resolve(location, self.overrides, subfolder)
            config, _unused = transformers.AutoConfig.from_pretrained(
                source.location, return_unused_kwargs=True, **config_kwargs
            )
            where = source.describe()
        with torch.device("meta"):
            if auto:
                model = cls.from_config(config, **model_kwargs)
            else:
                model = cls._from_config(config, **model_kwargs)
        model.eval()  # as from_pretrained does
        return model, where, notes
