"""Where a checkpoint's configuration comes from, offline.

In order: `--model-config NAME=PATH`; the checkpoint itself when it names a local directory; the local Hugging Face
cache (read with `HF_HUB_OFFLINE=1`, never the network); the configs bundled in `freezelint/data/configs` for the
most used checkpoints (whole configs, one JSON file per checkpoint, `org--name.json` for `org/name`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BUNDLED = Path(__file__).resolve().parent.parent / "data" / "configs"

# The hub moved the canonical checkpoints under organisations; both names load the same model.
ALIASES = {
    "google-bert/bert-base-uncased": "bert-base-uncased",
    "google-bert/bert-base-cased": "bert-base-cased",
    "google-bert/bert-large-uncased": "bert-large-uncased",
    "google-bert/bert-large-cased": "bert-large-cased",
    "FacebookAI/roberta-base": "roberta-base",
    "FacebookAI/roberta-large": "roberta-large",
    "FacebookAI/xlm-roberta-base": "xlm-roberta-base",
    "distilbert/distilbert-base-uncased": "distilbert-base-uncased",
    "albert/albert-base-v2": "albert-base-v2",
    "openai-community/gpt2": "gpt2",
    "google-t5/t5-small": "t5-small",
    "google-t5/t5-base": "t5-base",
}


@dataclass(frozen=True)
class ConfigSource:
    """Where one checkpoint's configuration was found: `kind` for messages, `location` for `from_pretrained`."""

    kind: str  # "--model-config", "config file", "checkpoint directory", "Hugging Face cache", "bundled"
    location: str

    def describe(self) -> str:
        if self.kind == "bundled":
            return f"bundled config ({Path(self.location).name})"
        if self.kind == "Hugging Face cache":
            return "Hugging Face cache"
        return f"{self.kind} {self.location}"


class ConfigNotFound(Exception):
    """No configuration for a checkpoint anywhere freezelint may look."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no configuration for `{name}`: not a local directory, not in the Hugging Face cache, not bundled "
            f"with freezelint; pass `--model-config {name}=path/to/config.json` (or the checkpoint directory)"
        )
        self.name = name


def bundled_names() -> list[str]:
    """Checkpoints with a bundled config."""
    return sorted(path.stem.replace("--", "/") for path in BUNDLED.glob("*.json"))


def bundled_path(name: str) -> Path | None:
    name = ALIASES.get(name.rstrip("/"), name.rstrip("/"))
    path = BUNDLED / (name.replace("/", "--") + ".json")
    return path if path.is_file() else None


def _checkpoint_directory(path: str, subfolder: str | None) -> str | None:
    directory = os.path.join(path, subfolder) if subfolder else path
    if os.path.isfile(os.path.join(directory, "config.json")):
        return directory
    return None


def _cached(name: str, subfolder: str | None) -> str | None:
    """The path of the config in the local Hugging Face cache, or None (never downloads)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    filename = f"{subfolder}/config.json" if subfolder else "config.json"
    try:
        found = try_to_load_from_cache(name, filename)
    except Exception:  # noqa: BLE001 - an invalid repo id is simply not cached
        return None
    return found if isinstance(found, str) else None


def resolve(name: str, overrides: dict[str, str], subfolder: str | None = None) -> ConfigSource:
    """Find the configuration of checkpoint `name` (raises `ConfigNotFound`)."""
    name = os.fspath(name)
    if name in overrides:
        path = overrides[name]
        return ConfigSource("--model-config", _checkpoint_directory(path, None) or path)
    if os.path.isfile(name):
        return ConfigSource("config file", name)
    if os.path.isdir(name):
        directory = _checkpoint_directory(name, subfolder)
        if directory is not None:
            return ConfigSource("checkpoint directory", directory)
        raise ConfigNotFound(name)
    cached = _cached(name, subfolder)
    if cached is not None:
        return ConfigSource("Hugging Face cache", cached)
    bundled = bundled_path(name)
    if bundled is not None and not subfolder:
        return ConfigSource("bundled", str(bundled))
    raise ConfigNotFound(name)


def parse_overrides(values: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`NAME=PATH` pairs of `--model-config` (raises ValueError naming the bad one)."""
    overrides: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--model-config expects NAME=PATH, got {value!r}")
        if not os.path.exists(path):
            raise ValueError(f"--model-config {name}: {path} does not exist")
        overrides[name] = os.path.abspath(path)
    return overrides
