"""What keeps `requires_grad`, so that the rules stay silent on it: loading weights into a frozen module
(`load_state_dict`, also with `assign=True`, or `param.data = t`), moving or casting it (`.to()`, `.half()`), copying
it (`copy.deepcopy`), all on torch 2.13; and transformers' `resize_token_embeddings`, which keeps the embedding
Parameter object itself, so an optimizer built before it still holds it (FRZ110, FRZ109, FRZ204)."""

from __future__ import annotations

import copy

import torch
from snippets import TINY_BERT


def frozen_linear() -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(4, 4).requires_grad_(False)


def test_loading_weights_into_a_frozen_module_keeps_it_frozen():
    weights = {"weight": torch.randn(4, 4), "bias": torch.randn(4)}
    for assign in (False, True):
        layer = frozen_linear()
        layer.load_state_dict(weights, assign=assign)
        assert not layer.weight.requires_grad and not layer.bias.requires_grad, f"assign={assign}"
        assert torch.equal(layer.weight.detach(), weights["weight"])
    layer = frozen_linear()
    layer.weight.data = torch.randn(4, 4)
    assert not layer.weight.requires_grad


def test_moving_casting_and_copying_keep_the_flag():
    for changed in (frozen_linear().to(torch.float64), frozen_linear().half(), copy.deepcopy(frozen_linear())):
        assert not any(param.requires_grad for param in changed.parameters())


def test_a_new_parameter_does_not():
    layer = frozen_linear()
    layer.weight = torch.nn.Parameter(torch.randn(4, 4))
    assert layer.weight.requires_grad, "what FRZ110 reports"


def test_resize_token_embeddings_keeps_the_parameter_and_its_flag():
    from transformers import BertConfig, BertForSequenceClassification

    model = BertForSequenceClassification(BertConfig(**TINY_BERT, num_labels=2))
    model.bert.embeddings.requires_grad_(False)
    before = model.get_input_embeddings().weight
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.resize_token_embeddings(TINY_BERT["vocab_size"] + 20)
    after = model.get_input_embeddings().weight
    assert after is before and after.shape[0] == TINY_BERT["vocab_size"] + 20
    assert not after.requires_grad
    assert any(param is after for group in optimizer.param_groups for param in group["params"])
