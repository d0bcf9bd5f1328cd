"""Shared by the runtime tests: tiny configs standing in for real checkpoints, and replaying a file in this process."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"})

CASES = Path(__file__).resolve().parent / "cases"
EXPECT = re.compile(r"#\s*expect-runtime:\s*(.+)$")
ARGS = re.compile(r"^#\s*runtime-args:\s*(.+)$", re.M)


def write_tiny_configs(directory: Path) -> dict[str, str]:
    """Tiny configs for the checkpoint names the cases load (`--model-config NAME=PATH` in the CLI)."""
    from transformers import BertConfig, GPT2Config, ResNetConfig, RobertaConfig, Wav2Vec2Config

    configs = {
        "bert-base-uncased": BertConfig(
            hidden_size=32, num_hidden_layers=12, num_attention_heads=2, intermediate_size=37, vocab_size=100
        ),
        "roberta-base": RobertaConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, vocab_size=100,
            max_position_embeddings=66,
        ),
        "gpt2": GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=100, n_positions=64, bos_token_id=0, eos_token_id=0),
        "microsoft/resnet-50": ResNetConfig(
            embedding_size=8, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic", num_labels=3
        ),
        "facebook/wav2vec2-base": Wav2Vec2Config(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, vocab_size=32,
            conv_dim=(8, 8), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=2,
        ),
    }
    paths = {}
    for name, config in configs.items():
        path = directory / name.replace("/", "--")
        config.save_pretrained(path)
        paths[name] = str(path)
    return paths


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_tiny_configs(tmp_path_factory.mktemp("tiny-configs"))


def script_args(path: Path) -> list[str]:
    match = ARGS.search(path.read_text())
    return match.group(1).split() if match else []


def replay_file(path: Path, overrides: dict[str, str], args: list[str] | None = None, *, exec_mode: bool = False,
                weights: bool = False, extra_findings: list | None = None) -> tuple[list, dict]:
    """Lint `path` statically, replay it in this process, and return (static findings, replay result)."""
    from freezelint.rules import select_rules
    from freezelint.runner import lint_file
    from freezelint.runtime.checkers import StaticFinding
    from freezelint.runtime.replay import Request, replay

    static = lint_file(str(path), select_rules()).findings
    findings = [StaticFinding(f.code, f.start.row, f.end.row, f.message) for f in static] + list(extra_findings or [])
    request = Request(str(path), list(args or []), overrides, weights, exec_mode, findings)
    return static, replay(request)


def expectations(path: Path) -> set[tuple[int, str, str]]:
    """`# expect-runtime: FRZ107` (found at runtime) or `FRZ201 confirmed` (a static finding's status), per line."""
    expected = set()
    for row, line in enumerate(path.read_text().splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            for item in match.group(1).split(","):
                code, _, status = item.strip().partition(" ")
                expected.add((row, code, status.strip() or "found"))
    return expected


def tiny_model(overrides: dict[str, str], checkpoint: str, auto_class: str = "AutoModelForSequenceClassification", **kwargs):
    """The real (small, CPU) model a tiny config stands for: expected counts are computed from it, not written down."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(overrides[checkpoint], **kwargs)
    return getattr(transformers, auto_class).from_config(config)


def numel(parameters) -> int:
    return sum(p.numel() for p in parameters)
