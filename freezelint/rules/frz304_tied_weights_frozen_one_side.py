"""## What it does
Finds a freeze that reaches a tied weight through one of its names and so also freezes the other side (runtime mode
only: `freezelint --runtime`). Freezing the input embeddings also freezes a tied output head, and a name filter sees
only one of the names.

## Why is this bad?
With `tie_word_embeddings=True` (GPT-2, T5, Qwen2.5, many language models) `lm_head.weight` **is** the input
embedding Parameter. Freezing the embeddings freezes the head; `named_parameters()` lists the shared Parameter once,
under its first name (`transformer.wte.weight`), so a filter on `"lm_head"` never sees it, and "freeze all but
`lm_head`" freezes everything. Training then runs with a frozen head, or with nothing trainable at all. Only the real
model shows which weights are tied: the runtime mode builds it from its configuration and groups parameters by
identity (`named_parameters(remove_duplicate=False)`).

## Example
```python
model = AutoModelForCausalLM.from_pretrained("gpt2")
model.get_input_embeddings().requires_grad_(False)  # also freezes lm_head
```

Use instead: decide for both sides at once: untie them (`tie_word_embeddings=False`, which gives the head its own
weight), or train or freeze both.

## Fix safety
No fix: whether to untie, train or freeze both is a modelling decision.

## References
- huggingface/transformers#11903 ("Problem when freezing all GPT2 model except the LM head": the head is tied to the
  embeddings); hiyouga/LlamaFactory PR #5032 (`lm_head` not in `named_parameters` for tied models).
- torch 2.13 `torch/nn/modules/module.py`, `Module.named_parameters(..., remove_duplicate=True)`: a Parameter
  reached under several names is listed once.
- tests/runtime/cases/frz304_input_embeddings_of_tied_gpt2.py, frz304_all_but_lm_head_filter.py (which leaves
  nothing trainable: FRZ301 too) and frz304_backbone_frozen_lm_head_tied.py, with negative cases, replayed on the
  real GPT-2 architecture by tests/runtime/test_runtime_cases.py.
"""

from __future__ import annotations

from typing import Iterator

from freezelint.facts import Facts
from freezelint.findings import Level
from freezelint.rules import Report, rule


@rule("FRZ304", "tied-weights-frozen-one-side", Level.WARNING, runtime_only=True)
def tied_weights_frozen_one_side(facts: Facts) -> Iterator[Report]:
    """Runtime-only: `freezelint.runtime.detectors.tied_frozen_one_side` finds it on the real architecture."""
    return iter(())
