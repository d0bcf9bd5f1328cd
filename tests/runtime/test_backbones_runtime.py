"""knowledge.BACKBONES matches the installed transformers (5.x): each architecture's backbone attribute, input embedding block, layer
stack and main input, re-derived from the classes on the meta device (what FRZ403, FRZ501-FRZ503 rely on)."""

from __future__ import annotations

import warnings

import pytest
import torch

from freezelint import knowledge


def base_model(model_type: str) -> torch.nn.Module:
    from transformers import AutoConfig, AutoModel

    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        return AutoModel.from_config(AutoConfig.for_model(model_type))


@pytest.mark.parametrize("model_type", sorted(knowledge.BACKBONES))
def test_backbone_entry_matches_the_architecture(model_type):
    prefix, embeddings, layers, modality = knowledge.BACKBONES[model_type]
    model = base_model(model_type)
    assert model.base_model_prefix == prefix
    assert (model.main_input_name == "input_ids") is (modality == "text")
    children = dict(model.named_children())
    has_batchnorm = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert has_batchnorm is (model_type in knowledge.BATCHNORM_MODEL_TYPES)
    if embeddings is None:
        return
    assert embeddings in children and layers in children
    assert any(m is model.get_input_embeddings() for m in children[embeddings].modules())
    names = list(children)
    between = names[: names.index(layers)]
    for name in between:
        if name != embeddings:
            assert not list(children[name].parameters()), f"{name} sits between the embeddings and the layers"


@pytest.mark.parametrize(("stem", "model_type"), sorted(knowledge.ARCHITECTURE_STEMS.items()))
def test_architecture_stems_name_transformers_classes(stem, model_type):
    import transformers

    assert getattr(transformers, f"{stem}Model").config_class.model_type in (model_type, model_type.replace("-", "_"))
    assert knowledge.model_type(f"{stem}Model", None) == model_type
