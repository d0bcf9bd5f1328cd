"""## What it does
Finds a frozen parameter replaced by a new `nn.Parameter(...)` (`layer.weight = nn.Parameter(tensor)`), created
without `requires_grad=False`, in a model that is then trained.

## Why is this bad?
`nn.Parameter` defaults to `requires_grad=True`. The new parameter replaces the frozen one, so the freeze is undone:
the weight computes gradients and trains like any other, while the code above still reads as frozen. This happens
when loading custom weights, or in tensor-parallel and quantisation rewrites.

## Example
```python
model.bert.requires_grad_(False)
model.bert.embeddings.word_embeddings.weight = nn.Parameter(pretrained_vectors)  # trainable again
```

Use instead, keep the flag:
```python
model.bert.embeddings.word_embeddings.weight = nn.Parameter(pretrained_vectors, requires_grad=False)
```
or copy the values into the existing parameter:
```python
with torch.no_grad():
    model.bert.embeddings.word_embeddings.weight.copy_(pretrained_vectors)
```
(`load_state_dict`, also with `assign=True`, `param.data = t`, `.to()` and `copy.deepcopy` keep `requires_grad`.)

## Fix safety
The fix adds `requires_grad=False` to the `nn.Parameter(...)` call. It is unsafe: it assumes the weight was meant to
stay frozen, which the analysis infers from the earlier freeze but cannot know.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the parameter stored on the reported line
requires grad after the replay, refuted when it is frozen.

## References
- torch 2.13 `torch/nn/parameter.py`: `Parameter.__new__(cls, data=None, requires_grad=True)`.
- tests/runtime/test_frz110_runtime.py: `test_new_parameter_undoes_the_freeze_and_trains`,
  `test_requires_grad_false_keeps_it_frozen` and `test_freezelints_unsafe_fix_keeps_the_weight_frozen`.
- tests/runtime/test_flag_kept_runtime.py: `load_state_dict` (also with `assign=True`), `param.data =`, `.to()`,
  `.half()` and `copy.deepcopy` keep the flag; transformers' `resize_token_embeddings` keeps the Parameter itself.
- fangwei123456/spikingjelly PR #704 review: "creating a new nn.Parameter defaults to requires_grad=True. This
  silently unfreezes...".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge
from freezelint.facts import AttributeAssign, Facts, Kind, ModuleRef, ParamRef
from freezelint.findings import Applicability, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, edits, rule
from freezelint.rules.runtime_hooks import CONFIRMED, NOT_CHECKABLE, REFUTED, StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

MESSAGE = (
    "`{target}` was frozen at line {line} (`{freeze}`), and is replaced here by a new `nn.Parameter`, which requires "
    "grad by default: the freeze is undone and this weight trains. Pass `requires_grad=False`, or copy into the "
    "existing one: `with torch.no_grad(): {target}.copy_(...)`."
)


@rule("FRZ110", "parameter-reassigned-after-freeze", Level.ERROR, fix=Applicability.UNSAFE, tokens=(("Parameter",), knowledge.FREEZE_TOKENS))
def parameter_reassigned_after_freeze(facts: Facts) -> Iterator[Report]:
    for assign in facts.of(AttributeAssign):
        owner = assign.owner
        if not isinstance(owner, ModuleRef):
            continue
        created = [v for v in assign.value.candidates() if isinstance(v, ParamRef) and v.new and isinstance(v.node, cst.Call)]
        if not created or any(_sets_requires_grad(v.node) for v in created):  # type: ignore[arg-type]
            continue
        place = ModuleRef(owner.model, (*owner.path, assign.attribute), Kind.PARAMETER)
        freeze = facts.frozen_at(place, assign.order, whole=True)
        if freeze is None or facts.training_of(owner.model, after=assign.order) is None:
            continue
        target = facts.code(assign.node)
        call = created[0].node
        assert isinstance(call, cst.Call)
        fields = {"target": target, "line": facts.line(freeze.node), "freeze": facts.code(freeze.where.statement or freeze.node)}
        yield Report(
            assign.where.statement or assign.node,
            Message(MESSAGE, fields),
            fix=FixProposal(
                Applicability.UNSAFE,
                "Create the parameter with `requires_grad=False`",
                (Replacement(call, _with_frozen_flag(call)),),
            ),
        )


def _sets_requires_grad(call: cst.Call) -> bool:
    """`nn.Parameter(t, requires_grad=...)` or `nn.Parameter(t, False)`: the flag is chosen explicitly."""
    positional = [arg for arg in call.args if arg.keyword is None]
    return len(positional) > 1 or any(arg.keyword is not None and arg.keyword.value == "requires_grad" for arg in call.args)


def _with_frozen_flag(call: cst.Call) -> cst.Call:
    return edits.with_keyword(call, "requires_grad", cst.Name("False"))


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ110")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    """Confirmed when the parameter stored on the finding's line requires grad after the replay."""
    if (stopped := view.not_run(finding)) is not None:
        return stopped
    for store in view.state.facts.of(AttributeAssign, uncalled=True):
        if view.state.facts.line(store.where.statement or store.node) != finding.row or not isinstance(store.owner, ModuleRef):
            continue
        module = view.module_for_static(store.owner)
        parameter = getattr(module, store.attribute, None) if module is not None else None
        if parameter is None or not hasattr(parameter, "requires_grad"):
            continue
        written = f"{store.owner.describe()}.{store.attribute}"
        if parameter.requires_grad:
            return Verdict(CONFIRMED, f"`{written}` requires grad after line {finding.row} ({parameter.numel():,} values)")
        return Verdict(REFUTED, f"`{written}` is frozen after line {finding.row}")
    return Verdict(NOT_CHECKABLE, f"the parameter stored at line {finding.row} was not found in the replay")
