"""## What it does
Finds a freeze loop over `named_parameters()` (or `named_modules()`) whose name filter matches no name of the model
the script really builds (runtime mode only: `freezelint --runtime`). The freeze never runs, or, for "all but X"
filters, applies to every parameter.

## Why is this bad?
Parameter names depend on the architecture and on wrappers, and nothing checks a string filter: `"bert" in name` on
a RoBERTa checkpoint (`roberta.`), `startswith("encoder.")` on a BERT model (`bert.encoder.`), `name ==
"bert.embeddings"` (a module name; parameter names end in `.weight`/`.bias`), names after `torch.compile`
(`_orig_mod.`), DDP (`module.`) or PEFT (`base_model.model.`), or transformers 5 renames (ViT's
`vit.encoder.layer.N` became `vit.layers.N`). The freeze silently does nothing and the whole model trains, or, for
`if "classifier" not in name: freeze` on GPT-2 or Llama (whose head is `score`), everything is frozen (FRZ301).
Only the real architecture can tell: the static check does not know the names. The runtime mode builds the model from
its configuration on the meta device and runs the loop.

## Example
```python
model = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=2)
for name, param in model.named_parameters():
    if name.startswith("bert.encoder"):
        param.requires_grad = False
```

Use instead: module handles, which cannot miss:
```python
model.base_model.encoder.requires_grad_(False)
```
or check that a name filter matched (`assert frozen > 0`).

## Fix safety
No fix: the intended names depend on the architecture.

## References
- tests/runtime/cases/frz107_wrong_architecture_prefix.py (a `bert.` prefix on RoBERTa matches nothing) and
  frz107_module_names_not_parameter_names.py, replayed on the real architectures by
  tests/runtime/test_runtime_cases.py; tests/runtime/test_frz301_runtime.py,
  `test_all_but_classifier_freezes_every_parameter_of_gpt2` (GPT-2's head is `score`).
- huggingface/transformers PR #41693 ("Refactor ViT to updated standards", transformers 5): ViT's parameters are
  `vit.layers.N.attention.q_proj.*` in transformers 5.25, and were `vit.encoder.layer.N.attention.attention.query.*`
  in transformers 4.57.6 (`models/vit/modeling_vit.py`: `ViTEncoder.layer`, `ViTAttention.attention`,
  `ViTSelfAttention.query`).
- Wrapper prefixes: torch 2.13 `torch/_dynamo/eval_frame.py`, `OptimizedModule` keeps the model as `_orig_mod`;
  `DistributedDataParallel` keeps it as `module`; peft 0.21.2 `PeftModel` keeps the tuner as `base_model`, which
  keeps the model as `model` (`base_model.model.bert...`).
"""

from __future__ import annotations

from typing import Iterator

from freezelint.facts import Facts
from freezelint.findings import Level
from freezelint.rules import Report, rule


@rule("FRZ107", "name-filter-matches-nothing", Level.ERROR, runtime_only=True)
def name_filter_matches_nothing(facts: Facts) -> Iterator[Report]:
    """Runtime-only: `freezelint.runtime.detectors.filter_matches_nothing` finds it on the real architecture."""
    return iter(())
