"""FRZ501 and FRZ502 on tiny BERT and ViT models (transformers 5, torch 2.13) and on raw torch checkpointing: where frozen inputs and activation
checkpointing leave layers without gradients, and what checkpointing a frozen backbone costs."""

from __future__ import annotations

import warnings

import pytest
import torch
from library_models import tiny_vit
from snippets import TINY_BERT, codes, run

from freezelint.config import Settings
from freezelint import lint_text


def bert():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(**TINY_BERT, num_labels=2))


def encoder_grads(layers: torch.nn.Module) -> list[bool]:
    """For each encoder parameter: does it have a gradient?"""
    return [param.grad is not None for param in layers.parameters()]


def step(model, **inputs) -> None:
    model.train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model(**inputs).loss.backward()


TEXT = """
from transformers import BertForSequenceClassification
model = BertForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.embeddings.requires_grad_(False)
model.gradient_checkpointing_enable({kwargs})
optimizer = torch.optim.AdamW(model.parameters())
for batch in loader:
    model(**batch).loss.backward()
    optimizer.step()
"""


def test_frz501_text_model_on_transformers_5_gets_gradients_in_every_encoder_layer():
    """The transformers 5 default (non-reentrant) and the input-embedding hook: nothing lost, nothing reported."""
    assert "FRZ501" not in codes("import torch\n" + TEXT.format(kwargs=""))
    for kwargs in (None, {"use_reentrant": True}):
        model = bert()
        model.bert.embeddings.requires_grad_(False)
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        step(model, input_ids=torch.randint(1, 100, (2, 6)), labels=torch.tensor([0, 1]))
        assert all(encoder_grads(model.bert.encoder)), f"every encoder parameter gets a gradient ({kwargs})"


def test_frz501_transformers_4_code_is_reported_the_hook_removed_shows_what_it_means():
    """On transformers 4 the default is reentrant and there is no hook; here the hook is removed to show the effect."""
    text = "import torch\n" + TEXT.format(kwargs="")
    assert [f.code for f in lint_text(text, settings=Settings(target_transformers=4), select=["FRZ501"])] == ["FRZ501"]
    model = bert()
    model.bert.embeddings.requires_grad_(False)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    model.disable_input_require_grads()
    step(model, input_ids=torch.randint(1, 100, (2, 6)), labels=torch.tensor([0, 1]))
    assert not any(encoder_grads(model.bert.encoder)), "no encoder parameter gets a gradient"
    assert model.classifier.weight.grad is not None, "the head after the checkpointed layers still does"


VISION = """
import torch
from transformers import ViTForImageClassification
model = ViTForImageClassification.from_pretrained("google/vit-base-patch16-224-in21k", num_labels=2)
model.vit.embeddings.requires_grad_(False)
model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={{"use_reentrant": {reentrant}}})
optimizer = torch.optim.AdamW(model.parameters())
for batch in loader:
    model(**batch).loss.backward()
    optimizer.step()
"""


@pytest.mark.parametrize("reentrant", [True, False])
def test_frz501_reentrant_checkpointing_of_a_vision_model_leaves_encoder_grads_none(reentrant):
    reported = "FRZ501" in codes(VISION.format(reentrant=reentrant))
    model = tiny_vit()
    model.vit.embeddings.requires_grad_(False)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": reentrant})
    step(model, pixel_values=torch.randn(2, 3, 16, 16), labels=torch.tensor([0, 1]))
    grads = encoder_grads(model.vit.layers)
    assert model.classifier.weight.grad is not None
    if reentrant:
        assert reported and not any(grads), "reported, and no encoder layer gets a gradient"
    else:
        assert not reported and all(grads), "silent, and every encoder parameter gets one"


RAW = """
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.embed.requires_grad_(False)
        self.blocks = nn.ModuleList([nn.Linear(16, 16) for _ in range(2)])
        self.head = nn.Linear(16, 2)

    def forward(self, tokens):
        hidden = self.embed(tokens)
        for block in self.blocks:
            hidden = checkpoint(block, hidden{reentrant})
        return self.head(hidden.mean(1))


model = Encoder()
optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
for tokens in batches:
    model(tokens).sum().backward()
    optimizer.step()
"""


@pytest.mark.parametrize(("reentrant", "expected"), [("", True), (", use_reentrant=True", True), (", use_reentrant=False", False)])
def test_frz501_raw_torch_checkpoint_of_frozen_outputs(reentrant, expected):
    snippet = RAW.format(reentrant=reentrant)
    assert ("FRZ501" in codes(snippet)) is expected
    names = run(snippet.split("model = Encoder()")[0] + "model = Encoder()\n", {})
    model = names["model"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model(torch.randint(0, 100, (2, 5))).sum().backward()
    grads = encoder_grads(model.blocks)
    assert model.head.weight.grad is not None
    assert (not any(grads)) if expected else all(grads)


# --- FRZ502 ----------------------------------------------------------------------------------------------------------

FROZEN_BACKBONE = """
from transformers import BertForSequenceClassification, Trainer, TrainingArguments
model = BertForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.requires_grad_(False)
Trainer(model=model, args=TrainingArguments("out", gradient_checkpointing=True), train_dataset=data).train()
"""


def layer_runs(checkpointing: bool, unhook: bool = False) -> tuple[int, bool]:
    """Forward passes of the first encoder layer in one training step (counted inside it: transformers checkpoints a
    layer's `forward`, so the layer's own hooks stay outside the recompute), and whether the backbone output requires
    grad."""
    model = bert()
    model.bert.requires_grad_(False)
    if checkpointing:
        model.gradient_checkpointing_enable()
    if unhook:
        model.disable_input_require_grads()
    runs = []
    model.bert.encoder.layer[0].attention.register_forward_hook(lambda *_: runs.append(1))
    outputs: list[bool] = []
    model.bert.register_forward_hook(lambda _m, _i, out: outputs.append(out.last_hidden_state.requires_grad))
    step(model, input_ids=torch.randint(1, 100, (2, 6)), labels=torch.tensor([0, 1]))
    return len(runs), outputs[0]


def test_frz502_checkpointing_a_frozen_backbone_backpropagates_through_it_and_recomputes_it():
    assert "FRZ502" in codes(FROZEN_BACKBONE)
    assert layer_runs(checkpointing=False) == (1, False), "no checkpointing: one forward pass, no graph in the backbone"
    assert layer_runs(checkpointing=True) == (2, True), "checkpointing: the graph goes through it and it runs twice"
    assert layer_runs(checkpointing=True, unhook=True) == (1, False), "without the input hook: back to one pass"
    assert "FRZ502" not in codes(FROZEN_BACKBONE.replace("gradient_checkpointing=True", "gradient_checkpointing=False"))
