"""Proof on a real model: each no-op freeze really freezes nothing, and freezelint's own fix really freezes.

Every case runs the buggy snippet on a tiny BERT (built from a config, saved to a temporary checkpoint, loaded
offline), lints it, applies the fixes freezelint proposes, and runs the fixed snippet again. Expected parameter
sets are computed from the model's own parameter names, never written down.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Callable

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from cli_helpers import run_cli  # noqa: E402

from freezelint import fix_text, lint_text  # noqa: E402
from freezelint.fixes import apply_fixes  # noqa: E402

LAYERS = 12  # enough for "layer.1" to collide with layers 10 and 11, as on BERT-base
PREAMBLE = """\
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained(CHECKPOINT)
"""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        config = transformers.BertConfig(
            hidden_size=32, num_hidden_layers=LAYERS, num_attention_heads=2, intermediate_size=37, vocab_size=100, num_labels=2
        )
        path = tmp_path_factory.mktemp("tiny-bert")
        transformers.BertForSequenceClassification(config).save_pretrained(path)
        yield str(path)


@dataclass(frozen=True)
class Case:
    code: str
    body: str
    frozen: Callable[[str], bool]  # which parameter names the author meant to freeze
    unsafe: bool = False
    display: bool = False  # the fix is shown, not applied: apply what is shown

    @property
    def snippet(self) -> str:
        return PREAMBLE + textwrap.dedent(self.body)


CASES = {
    "FRZ101-module": Case("FRZ101", "model.bert.requires_grad = False\n", lambda n: n.startswith("bert.")),
    "FRZ101-children": Case(
        "FRZ101",
        """\
        for child in list(model.bert.children())[:-1]:
            child.requires_grad = False
        """,
        lambda n: n.startswith(("bert.embeddings.", "bert.encoder.")),
    ),
    "FRZ101-setattr": Case("FRZ101", 'setattr(model.bert.pooler, "requires_grad", False)\n', lambda n: n.startswith("bert.pooler.")),
    "FRZ102-typo": Case(
        "FRZ102",
        """\
        for param in model.bert.embeddings.parameters():
            param.require_grad = False
        """,
        lambda n: n.startswith("bert.embeddings."),
    ),
    "FRZ102-keras": Case("FRZ102", "model.bert.encoder.trainable = False\n", lambda n: n.startswith("bert.encoder.")),
    "FRZ102-paddle": Case(
        "FRZ102",
        """\
        for param in model.bert.pooler.parameters():
            param.stop_gradient = True
        """,
        lambda n: n.startswith("bert.pooler."),
    ),
    "FRZ103-assigned": Case(
        "FRZ103",
        """\
        for param in model.bert.embeddings.parameters():
            param.requires_grad_ = False
        """,
        lambda n: n.startswith("bert.embeddings."),
    ),
    "FRZ103-uncalled": Case("FRZ103", "model.bert.pooler.requires_grad_\n", lambda n: n.startswith("bert.pooler."), display=True),
    "FRZ104-comparison": Case(
        "FRZ104",
        """\
        for param in model.bert.embeddings.parameters():
            param.requires_grad == False
        """,
        lambda n: n.startswith("bert.embeddings."),
    ),
    "FRZ104-bare-read": Case(
        "FRZ104",
        """\
        for param in model.bert.embeddings.parameters():
            param.requires_grad
        """,
        lambda n: n.startswith("bert.embeddings."),
        display=True,
    ),
    "FRZ104-map": Case(
        "FRZ104", "map(lambda q: q.requires_grad_(False), model.bert.encoder.parameters())\n", lambda n: n.startswith("bert.encoder.")
    ),
    "FRZ104-generator": Case(
        "FRZ104", "(q.requires_grad_(False) for q in model.bert.pooler.parameters())\n", lambda n: n.startswith("bert.pooler.")
    ),
    "FRZ105-data": Case(
        "FRZ105",
        "model.bert.embeddings.word_embeddings.weight.data.requires_grad = False\n",
        lambda n: n == "bert.embeddings.word_embeddings.weight",
    ),
    "FRZ105-detach": Case(
        "FRZ105",
        """\
        for param in model.bert.pooler.parameters():
            param.detach().requires_grad_(False)
        """,
        lambda n: n.startswith("bert.pooler."),
    ),
    "FRZ105-state-dict": Case(
        "FRZ105",
        """\
        for name, tensor in model.state_dict().items():
            if name.startswith("bert.embeddings."):
                tensor.requires_grad = False
        """,
        lambda n: n.startswith("bert.embeddings."),
        unsafe=True,
    ),
}


def run(snippet: str, checkpoint: str):
    namespace = {"CHECKPOINT": checkpoint}
    exec(compile(snippet, "snippet.py", "exec"), namespace)
    return namespace["model"]


def frozen_names(model) -> set[str]:
    return {name for name, param in model.named_parameters() if not param.requires_grad}


def trainable(model) -> int:
    return sum(param.numel() for param in model.parameters() if param.requires_grad)


def codes(snippet: str) -> list[str]:
    return [finding.code for finding in lint_text(snippet, path="snippet.py")]


def freezelint_fix(snippet: str, case: Case) -> str:
    """freezelint's own fix, through its public API (`fix_text`, what --fix writes); a fix that is only shown is
    applied as shown."""
    if case.display:
        findings = [f for f in lint_text(snippet, path="snippet.py") if f.code == case.code]
        return apply_fixes(snippet, [f.fix for f in findings if f.fix is not None])[0]
    return fix_text(snippet, path="snippet.py", unsafe=case.unsafe)


@pytest.mark.parametrize("name", sorted(CASES))
def test_buggy_freezes_nothing_and_the_fix_freezes(name, checkpoint):
    case = CASES[name]
    reference = run(PREAMBLE, checkpoint)
    total = trainable(reference)
    assert frozen_names(reference) == set()

    assert case.code in codes(case.snippet)

    buggy = run(case.snippet, checkpoint)
    assert trainable(buggy) == total, "the buggy snippet froze something"

    fixed_snippet = freezelint_fix(case.snippet, case)
    assert fixed_snippet != case.snippet
    fixed = run(fixed_snippet, checkpoint)
    meant = {n for n, _ in fixed.named_parameters() if case.frozen(n)}
    assert meant and frozen_names(fixed) == meant, fixed_snippet
    assert trainable(fixed) == total - sum(p.numel() for n, p in fixed.named_parameters() if n in meant)
    assert case.code not in codes(fixed_snippet)


def test_module_attribute_is_a_plain_attribute(checkpoint):
    model = run(CASES["FRZ101-module"].snippet, checkpoint)
    assert model.bert.__dict__["requires_grad"] is False and not frozen_names(model)


def test_assigning_over_requires_grad_breaks_later_calls(checkpoint):
    model = run(CASES["FRZ103-assigned"].snippet, checkpoint)
    with pytest.raises(TypeError, match="'bool' object is not callable"):
        model.requires_grad_(False)
    with pytest.raises(TypeError, match="'bool' object is not callable"):
        next(model.bert.embeddings.parameters()).requires_grad_(False)


def test_layer_1_filter_also_freezes_layers_10_and_11_and_the_fix_does_not(checkpoint):
    body = """\
    for name, param in model.named_parameters():
        if "encoder.layer.1" in name:
            param.requires_grad = False
    """
    snippet = PREAMBLE + textwrap.dedent(body)
    assert "FRZ108" in codes(snippet)

    def frozen_layers(model) -> set[int]:
        return {int(m.group(1)) for n in frozen_names(model) if (m := re.search(r"encoder\.layer\.(\d+)\.", n))}

    buggy = frozen_layers(run(snippet, checkpoint))
    assert buggy == {i for i in range(LAYERS) if str(i).startswith("1")}, "layer 1 and every layer 1x"
    assert len(buggy) > 1
    fixed = frozen_layers(run(fix_text(snippet, path="snippet.py"), checkpoint))
    assert fixed == {1}


def test_fix_through_the_command_line(tmp_path, checkpoint):
    path = tmp_path / "train.py"
    path.write_text(CASES["FRZ101-module"].snippet)
    completed = run_cli("check", "--fix", str(path), cwd=tmp_path)
    assert "1 fixed" in completed.stdout, completed.stdout + completed.stderr
    model = run(path.read_text(), checkpoint)
    assert frozen_names(model) == {n for n, _ in model.named_parameters() if n.startswith("bert.")}
