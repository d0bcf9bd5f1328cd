"""The fix FRZ506 proposes (`use_orig_params=True` on the FSDP1 call) is valid code that removes the finding, keeps
the call's layout, and is applied by `--fix` (safe)."""

from __future__ import annotations

import textwrap

from freezelint import fix_text, lint_text

HEAD = """
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
model.bert.requires_grad_(False)
"""


def fixed(call: str) -> str:
    text = textwrap.dedent(HEAD) + textwrap.dedent(call)
    assert [f.code for f in lint_text(text)] == ["FRZ506"]
    new = fix_text(text)
    assert "FRZ506" not in [f.code for f in lint_text(new)]
    return new[len(textwrap.dedent(HEAD)):]


def test_appends_the_argument_on_one_line():
    assert fixed("sharded = FSDP(model)\n") == "sharded = FSDP(model, use_orig_params=True)\n"
    assert fixed("sharded = FSDP(model, sync_module_states=True)\n") == (
        "sharded = FSDP(model, sync_module_states=True, use_orig_params=True)\n"
    )


def test_keeps_one_argument_per_line_and_the_trailing_comma():
    call = """
    sharded = FSDP(
        model,
        sync_module_states=True,
    )
    """
    assert fixed(call) == textwrap.dedent(
        """
        sharded = FSDP(
            model,
            sync_module_states=True,
            use_orig_params=True,
        )
        """
    )


def test_turns_an_explicit_false_into_true():
    assert fixed("sharded = FSDP(model, use_orig_params=False)\n") == "sharded = FSDP(model, use_orig_params=True)\n"
