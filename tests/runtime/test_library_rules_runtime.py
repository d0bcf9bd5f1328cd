"""FRZ503, FRZ106, FRZ111 and FRZ112 on tiny real models: BatchNorm statistics drift under the Trainer, `.eval()` and
`no_grad` freeze nothing, `Embedding.from_pretrained` freezes, `freeze_feature_extractor` is gone in transformers 5."""

from __future__ import annotations

import textwrap

import pytest
import torch
from library_models import Images, saved, tiny_resnet, tiny_wav2vec2
from snippets import changed, codes, namespace, run, snapshot

from freezelint import fix_text

# --- FRZ503 ----------------------------------------------------------------------------------------------------------

RESNET = """
import torch
from transformers import ResNetForImageClassification, Trainer

model = ResNetForImageClassification.from_pretrained(RESNET)
model.resnet.requires_grad_(False)
model.resnet.eval()
trainer = Trainer(model=model, args=training_args, train_dataset=images)
"""
KEEP_IN_EVAL = """
import torch
from transformers import ResNetForImageClassification, Trainer


class FrozenBackboneResNetForImageClassification(ResNetForImageClassification):
    def train(self, mode=True):
        super().train(mode)
        self.resnet.eval()
        return self


model = FrozenBackboneResNetForImageClassification.from_pretrained(RESNET)
model.resnet.requires_grad_(False)
trainer = Trainer(model=model, args=training_args, train_dataset=images)
"""


def batchnorm_drift(names: dict) -> tuple[float, float, bool]:
    model = names["model"]
    norms = [m for m in model.resnet.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    means = [m.running_mean.clone() for m in norms]
    weights = snapshot(model.resnet)
    run("trainer.train()\n", names)
    drift = max((m.running_mean - before).abs().max().item() for m, before in zip(norms, means))
    moved = len(changed(model.resnet, weights))
    return drift, moved, norms[0].training


def test_frz503_running_statistics_drift_under_the_trainer():
    checkpoint = saved(tiny_resnet())
    snippet = RESNET
    assert "FRZ503" in codes(snippet, "trainer.train()\n")
    drift, moved, training = batchnorm_drift(run(snippet, namespace(RESNET=checkpoint, images=Images())))
    assert moved == 0, "the frozen weights stay put"
    assert drift > 0.01 and training, "but the running statistics move: the Trainer undid the one-time eval()"
    kept = KEEP_IN_EVAL
    assert "FRZ503" not in codes(kept, "trainer.train()\n")
    drift, moved, training = batchnorm_drift(run(kept, namespace(RESNET=checkpoint, images=Images())))
    assert drift == 0 and not training, "kept in eval mode by the overridden train(), they do not"


def test_frz503_a_plain_loop_in_training_mode_moves_them_too():
    snippet = """
    import torch
    import torch.nn as nn

    backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    backbone.requires_grad_(False)
    model = nn.Sequential(backbone, nn.Linear(8, 2))
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    before = backbone[1].running_mean.clone()
    backbone.eval()
    model.train()
    for _ in range(3):
        model(torch.randn(8, 3, 8, 8) * 3 + 1).sum().backward()
        optimizer.step()
    drift = (backbone[1].running_mean - before).abs().max().item()
    """
    names = run(snippet, {})
    assert names["drift"] > 0.01 and names["backbone"][1].training, "model.train() undid backbone.eval()"


# --- FRZ106 ----------------------------------------------------------------------------------------------------------


def test_frz106_eval_freezes_nothing_and_the_module_trains():
    snippet = """
    from transformers import BertForSequenceClassification, Trainer

    model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
    model.bert.eval()
    trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset)
    """
    assert "FRZ106" in codes(snippet, "trainer.train()\n")
    names = run(snippet, namespace())
    assert all(param.requires_grad for param in names["model"].bert.parameters())
    before = snapshot(names["model"].bert)
    run("trainer.train()\n", names)
    assert len(changed(names["model"].bert, before)) > 10, "the encoder trains"
    assert names["model"].bert.training, "and is back in training mode"


def test_frz106_creating_under_no_grad_freezes_nothing():
    snippet = """
    import torch
    from transformers import BertForSequenceClassification

    with torch.no_grad():
        model = BertForSequenceClassification.from_pretrained(CHECKPOINT)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for batch in loader:
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    """
    assert "FRZ106" in codes(snippet)
    names = namespace()
    from snippets import initial

    names = run(snippet, names)
    trained = names["model"]
    assert all(param.requires_grad for param in trained.parameters())
    assert len(changed(trained.bert, snapshot(initial().bert))) > 10, "every part trains"


# --- FRZ111 ----------------------------------------------------------------------------------------------------------

EMBEDDING = """
import torch
import torch.nn as nn

vectors = torch.randn(10, 4)
embedding = nn.Embedding.from_pretrained(vectors{freeze})
head = nn.Linear(4, 2)
optimizer = torch.optim.SGD(list(embedding.parameters()) + list(head.parameters()), lr=0.1)
before = embedding.weight.detach().clone()
head(embedding(torch.tensor([[1, 2, 3]]))).sum().backward()
optimizer.step()
moved = not torch.equal(before, embedding.weight.detach())
"""


@pytest.mark.parametrize(("freeze", "reported", "moves"), [("", True, False), (", freeze=False", False, True), (", freeze=True", False, False)])
def test_frz111_from_pretrained_embeddings_are_frozen_by_default(freeze, reported, moves):
    snippet = EMBEDDING.format(freeze=freeze)
    assert ("FRZ111" in codes(snippet)) is reported
    names = run(snippet, {})
    assert names["embedding"].weight.requires_grad is moves and names["moved"] is moves


# --- FRZ112 ----------------------------------------------------------------------------------------------------------

WAV2VEC2 = """
from transformers import Wav2Vec2ForCTC

model = Wav2Vec2ForCTC.from_pretrained(WAV2VEC2)
model.freeze_feature_extractor()
"""


def test_frz112_freeze_feature_extractor_is_gone_and_the_renamed_call_freezes_the_encoder():
    checkpoint = saved(tiny_wav2vec2())
    assert "FRZ112" in codes(WAV2VEC2)
    with pytest.raises(AttributeError, match="freeze_feature_extractor"):
        run(WAV2VEC2, {"WAV2VEC2": checkpoint})
    fixed = fix_text(textwrap.dedent(WAV2VEC2), select=["FRZ112"])
    assert "FRZ112" not in codes(fixed)
    model = run(fixed, {"WAV2VEC2": checkpoint})["model"]
    assert not any(param.requires_grad for param in model.wav2vec2.feature_extractor.parameters())
    assert all(param.requires_grad for param in model.wav2vec2.encoder.parameters())
