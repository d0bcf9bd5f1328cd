"""## What it does
Notes `nn.Embedding.from_pretrained(weights)` or `nn.EmbeddingBag.from_pretrained(weights)` called without `freeze=`:
the layer is created frozen.

## Why is this bad?
`from_pretrained` on these layers defaults to `freeze=True`, which sets `weight.requires_grad = False`. Code that loads
GloVe or word2vec vectors "to fine-tune them" trains everything but the embeddings, silently: no error, and the
metrics barely move when the embeddings were the point. Often freezing is intended (static vectors); then saying so
costs one argument and answers the reader's question.

## Example
```python
self.embedding = nn.Embedding.from_pretrained(glove_vectors)
```

Use instead, to fine-tune them:
```python
self.embedding = nn.Embedding.from_pretrained(glove_vectors, freeze=False)
```

Or, to keep them fixed, `freeze=True` written out. The note stays silent when `freeze` is given (by keyword, by
position or through `**kwargs`), and when the file sets `requires_grad` of the layer itself afterwards.

## Fix safety
No fix: whether the vectors should train is the author's decision (`freeze=True` would only restate the default).

## Runtime mode
No runtime verdict: the note restates torch's documented default (`freeze=True`), which holds for every such call; a
replay would only measure the same thing.

## References
- torch 2.13 `torch/nn/modules/sparse.py`: `Embedding.from_pretrained(embeddings, freeze=True, ...)`, documented as
  "freeze (bool, optional): If True, the tensor does not get updated in the learning process. Equivalent to
  `embedding.weight.requires_grad = False`. Default: True"; `EmbeddingBag.from_pretrained` also defaults to
  `freeze=True` and sets `embeddingbag.weight.requires_grad = not freeze`.
- tests/runtime/test_library_rules_runtime.py, `test_frz111_from_pretrained_embeddings_are_frozen_by_default` (by
  default the weight does not require grad and does not move; with `freeze=False` it does).
- RUCAIBox/RecBole#2046; 649453932/Chinese-Text-Classification-Pytorch#117; huggingface/optimum-graphcore PR #304.
"""

from __future__ import annotations

from typing import Iterator

from freezelint import knowledge
from freezelint.facts import Facts, LibraryCall, ModuleRef, group_by_node
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule

MESSAGE = (
    "`{layer}.from_pretrained(...)` freezes the layer by default (`freeze=True`): its weights will not train. "
    "Pass `freeze=False` to fine-tune them, or `freeze=True` to make the frozen embeddings explicit."
)


@rule("FRZ111", "embedding-from-pretrained-frozen", Level.NOTE, tokens=("from_pretrained",))
def embedding_from_pretrained_frozen(facts: Facts) -> Iterator[Report]:
    calls = [c for c in facts.of(LibraryCall, uncalled=True) if c.qualname in knowledge.EMBEDDING_FROM_PRETRAINED]
    for group in group_by_node(calls):
        call = group[0].call
        positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
        given = [arg.keyword.value for arg in call.args if arg.keyword is not None]
        if len(positional) > 1 or "freeze" in given or any(arg.star == "**" for arg in call.args):
            continue
        made = [model for model in facts.models if model.node is call]
        if any(facts.freezes_touching(ModuleRef(model)) for model in made):
            continue  # the file sets `requires_grad` of this layer itself
        yield Report(call, Message(MESSAGE, {"layer": group[0].qualname.rsplit(".", 2)[-2]}))
