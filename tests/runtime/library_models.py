"""Tiny vision and audio models and data for the library-boundary runtime tests (random weights, no download)."""

from __future__ import annotations

import tempfile

import torch


def tiny_vit(num_labels: int = 2) -> torch.nn.Module:
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    config = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, image_size=16,
                       patch_size=8, num_labels=num_labels)
    return ViTForImageClassification(config)


def tiny_resnet(num_labels: int = 2) -> torch.nn.Module:
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    return ResNetForImageClassification(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], num_labels=num_labels))


def tiny_wav2vec2() -> torch.nn.Module:
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    torch.manual_seed(0)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, conv_dim=(8, 8),
                            conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                            vocab_size=20)
    return Wav2Vec2ForCTC(config)


class Images(torch.utils.data.Dataset):
    """Images with a non-zero mean and spread, so BatchNorm statistics visibly move when updated."""

    def __init__(self, size: int = 16, side: int = 16) -> None:
        self.side = size, side

    def __len__(self) -> int:
        return self.side[0]

    def __getitem__(self, index: int) -> dict:
        generator = torch.Generator().manual_seed(index)
        pixels = torch.randn(3, self.side[1], self.side[1], generator=generator) * 2 + 1
        return {"pixel_values": pixels, "labels": torch.tensor(index % 2)}


def saved(model: torch.nn.Module) -> str:
    """`save_pretrained` into a fresh directory (a model, or a PEFT model's adapter)."""
    directory = tempfile.mkdtemp(prefix="freezelint-saved-")
    model.save_pretrained(directory)
    return directory
