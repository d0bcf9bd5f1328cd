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

## Runtime mode
Runtime mode only: `freezelint --runtime` finds it by following which parameter objects are shared between names on
the model the script really builds.

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

from typing import TYPE_CHECKING, Iterator

from freezelint.facts import Facts
from freezelint.findings import Level
from freezelint.rules import Report, rule
from freezelint.rules.runtime_hooks import Found, runtime_detector

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView


@rule("FRZ304", "tied-weights-frozen-one-side", Level.WARNING, runtime_only=True)
def tied_weights_frozen_one_side(facts: Facts) -> Iterator[Report]:
    """Runtime-only: its `detect` hook below finds it on the real architecture."""
    return iter(())


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_detector("FRZ304", whole_model=True)
def detect(view: RuntimeView) -> Iterator[Found]:
    reported: set[int] = set()
    filters = {id(item.stmt): item for item in view.name_filters()}
    for record in view.state.harness.probes.values():
        for key, parameter in record.frozen.items():
            if parameter.requires_grad or key in reported:
                continue
            top = view.state.model_of(parameter)
            if top is None or len(top.aliases.get(key, [])) < 2:
                continue
            aliases = top.aliases[key]
            stmt = view.statement_starting(record.probe.start)
            if stmt is None:
                continue
            item = filters.get(id(stmt))
            if item is not None:
                unseen = [a for a in aliases if not any(view.matches(lit, how, a) for lit, how, _ in item.literals)]
                through = [a for a in aliases if a not in unseen] or [top.describe(parameter)]
                if not unseen:
                    continue
            else:
                targets = view.state.harness.modules_called_between(record.probe.start, record.probe.end)
                if not targets:
                    continue
                unseen = [a for a in aliases if not view.inside_any(top, a, targets)]
                through = [a for a in aliases if a not in unseen]
                if not unseen or not through:
                    continue
            reported.add(key)
            owners = sorted({a.rsplit(".", 1)[0] for a in unseen if "." in a})
            owner_text = ", ".join(f"`{o}`" for o in owners) or f"`{unseen[0]}`"
            hidden = [a for a in aliases if a != top.describe(parameter)]
            evidence = (
                f"`{' = '.join(aliases)}` is one tied Parameter; it was frozen through `{through[0]}`, so "
                f"{owner_text} is frozen too"
            )
            note = (
                f" `named_parameters()` lists it once, as `{top.describe(parameter)}`, so a filter on "
                f"`{hidden[0].rsplit('.', 1)[0]}` never sees it." if hidden and item is not None else ""
            )
            yield view.at(stmt, "FRZ304",
                f"Tied weights: {evidence} ({owner_text} is left with "
                f"{view.trainable_under(top, owners)} trainable parameters).{note} Decide deliberately: untie them "
                "(`tie_word_embeddings=False`), or train or freeze both sides.",
                evidence,
                top,
            )
