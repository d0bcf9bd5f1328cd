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

## Runtime mode
Runtime mode only: `freezelint --runtime` finds it by matching the filter's strings against the names of the model
the script really builds.

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

import ast
from typing import TYPE_CHECKING, Iterator

from freezelint.facts import Facts
from freezelint.findings import Level
from freezelint.rules import Report, rule
from freezelint.rules.runtime_hooks import Found, plural, runtime_detector

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView


@rule("FRZ107", "name-filter-matches-nothing", Level.ERROR, runtime_only=True)
def name_filter_matches_nothing(facts: Facts) -> Iterator[Report]:
    """Runtime-only: its `detect` hook below finds it on the real architecture."""
    return iter(())


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_detector("FRZ107")
def detect(view: RuntimeView) -> Iterator[Found]:
    for item in view.name_filters():
        if not view.state.ran(item.loop.lineno) or not any(view.state.ran(s.lineno) for s in view.state.plan.index.children(item.loop)):
            continue
        seen = view.iterated(item)
        if seen is None or not seen.names:
            continue
        unmatched = [(lit, how, node) for lit, how, node in item.literals if not any(view.matches(lit, how, n) for n in seen.names)]
        never_ran = not view.state.ran(item.stmt.lineno)
        if not never_ran and len(unmatched) < len(item.literals):
            continue
        if not never_ran and not unmatched:
            continue
        if unmatched and all(any(view.matches(lit, how, h) for h in seen.hidden) for lit, how, _ in unmatched):
            continue  # a tied weight's hidden name: FRZ304 says it
        filter_text = view.filter_text(item)
        loop_text = f"for {ast.unparse(item.loop.target).strip('()')} in {ast.unparse(item.loop.iter)}"
        sample = view.prefixes(seen.names)
        if never_ran:
            effect = f"the statement at line {item.stmt.lineno} never ran, so nothing was frozen or unfrozen there"
        else:
            record = view.state.harness.probe_at(item.stmt.lineno)
            frozen = len(record.frozen) if record else 0
            effect = (
                f"it applied to every {seen.kind} the loop saw ({plural(frozen, 'parameter tensor')} frozen)"
                if frozen else f"it applied to every {seen.kind} the loop saw"
            )
        literals = ", ".join(f"`{lit!r}`" for lit, _, _ in (unmatched or item.literals))
        evidence = (
            f"{literals} matches none of the {plural(len(seen.names), seen.kind + ' name')} of `{seen.top.name}` "
            f"({seen.top.class_name}; names start with {sample})"
        )
        yield view.at_node((unmatched or item.literals)[0][2], "FRZ107",
            f"The name test `{filter_text}` in `{loop_text}` relies on a name this architecture does not have: {evidence}; "
            f"{effect}. Check the names (`[n for n, _ in {ast.unparse(item.loop.iter)}]`), or use module handles "
            "(`model.base_model`, `model.get_input_embeddings()`) instead of name strings.",
            evidence,
            seen.top,
        )
