"""## What it does
Finds a model partly frozen (some parameters frozen, others trainable: a frozen backbone, a name-filtered freeze,
PEFT adapters) and then wrapped as one unit in `FullyShardedDataParallel` (FSDP1) without `use_orig_params=True`.

## Why is this bad?
FSDP1 flattens the parameters of each wrapped unit into one `FlatParameter`, which has a single `requires_grad`.
Unless `use_orig_params=True`, it refuses to flatten a unit that mixes frozen and trainable parameters: the wrap
raises `ValueError: Must flatten tensors with uniform requires_grad when use_orig_params=False`. Without an
`auto_wrap_policy` the whole model is one unit, so any partial freeze (or LoRA, whose adapters sit next to frozen
weights) hits it. accelerate's FSDP1 plugin also defaults to `use_orig_params=False`.

## Example
```python
model.bert.requires_grad_(False)
model = FullyShardedDataParallel(model)  # ValueError
```

Use instead:
```python
model = FullyShardedDataParallel(model, use_orig_params=True)
```
or FSDP2 (`torch.distributed.fsdp.fully_shard(model)`), which keeps the original parameters. With
`use_orig_params=True`, FSDP1 still allocates gradient memory for the frozen parameters of mixed units, so the
saving is smaller than expected; wrapping frozen modules in units of their own avoids that.

## Fix safety
Safe: adding `use_orig_params=True` to the `FullyShardedDataParallel(...)` call (or turning its `False` into `True`)
makes the wrap accept mixed units and changes nothing else about training.

## Runtime mode
No runtime verdict: the replay runs one process on CPU without a process group, and FSDP's flattening happens only
when it is initialised across processes.

## References
- torch 2.13 `torch/distributed/fsdp/_flat_param.py`, `FlatParamHandle._validate_tensors_to_flatten`: "Must flatten
  tensors with uniform `requires_grad` when `use_orig_params=False`".
- tests/runtime/test_distributed_runtime.py (gloo, 2 processes): `test_fsdp1_refuses_a_partly_frozen_unit` and
  `test_the_fix_use_orig_params_trains_only_the_trainable_layer`.
- Measured with torch 2.13 (gloo, 2 processes): FSDP2's `fully_shard` trains the same partly frozen model.
- accelerate 1.16 `utils/dataclasses.py`, `FullyShardedDataParallelPlugin.__post_init__`: for FSDP1,
  `use_orig_params` comes from `FSDP_USE_ORIG_PARAMS`, default `False`.
- huggingface/peft#1702; pytorch/pytorch#104690, #91167 and PR #98221 (mixed `requires_grad` with
  `use_orig_params=True`); facebookresearch/audiocraft#260.
"""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from freezelint import knowledge
from freezelint.facts import Facts, FreezeOp, ModuleRef, PeftApply, Wrap, as_ref
from freezelint.findings import Applicability, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, rule

# How the evidence names a freeze and an unfreeze, by whether it covers a whole module.
_FROZEN = {True: "`{frozen}` frozen at line {frozen_line}", False: "some parameters of `{frozen}` frozen at line {frozen_line}"}
_UNFROZEN = {
    True: "`{unfrozen}` unfrozen again at line {unfrozen_line}",
    False: "some parameters of `{unfrozen}` unfrozen again at line {unfrozen_line}",
}
# What makes the wrapped model part frozen, part trainable: PEFT, a freeze of part of it (whole module or not), or a
# freeze of all of it and an unfreeze of a part (each whole module or not).
_EVIDENCE: dict[tuple[object, ...], str] = {
    ("peft",): "PEFT (`{peft_function}`, line {peft_line}) froze its base model and left the adapters trainable",
    **{("part frozen", whole): frozen + ", the rest trainable" for whole, frozen in _FROZEN.items()},
    **{
        ("unfrozen again", frozen_whole, unfrozen_whole): frozen + " and " + unfrozen
        for frozen_whole, frozen in _FROZEN.items()
        for unfrozen_whole, unfrozen in _UNFROZEN.items()
    },
}
# The message by evidence (as keyed in `_EVIDENCE`).
MESSAGES = {
    key: (
        "`{module}` is wrapped here as one FSDP unit with mixed `requires_grad` (" + evidence + "). Without "
        "`use_orig_params=True`, FullyShardedDataParallel flattens the unit into one parameter with a single "
        "`requires_grad`, and this call fails with `" + knowledge.FSDP1_MIXED_ERROR + "`. Pass `use_orig_params=True` "
        "(or use FSDP2, `torch.distributed.fsdp.fully_shard`)."
    )
    for key, evidence in _EVIDENCE.items()
}


@rule("FRZ506", "fsdp-mixed-requires-grad", Level.ERROR, fix=Applicability.SAFE, tokens=("FullyShardedDataParallel",))
def fsdp_mixed_requires_grad(facts: Facts) -> Iterator[Report]:
    for wrap in facts.of(Wrap):
        if wrap.kind != "fsdp" or not _single_unit_without_orig_params(facts, wrap):
            continue
        evidence = _mixed(facts, wrap)
        if evidence is not None:
            yield Report(wrap.call, _message(facts, wrap, evidence), fix=_fix(wrap.call))


def _single_unit_without_orig_params(facts: Facts, wrap: Wrap) -> bool:
    """The call wraps the whole model as one unit (no `auto_wrap_policy`, no sub-module wrapped before) and
    `use_orig_params` is left False (absent, or a literal False)."""
    call = wrap.call
    if any(arg.star for arg in call.args):
        return False
    keywords = {arg.keyword.value: arg.value for arg in call.args if arg.keyword is not None}
    policy = keywords.get("auto_wrap_policy")
    if policy is not None and facts.code(policy) != "None":
        return False
    orig = keywords.get("use_orig_params")
    if orig is not None and facts.code(orig) != "False":
        return False
    return not any(
        other is not wrap and other.kind == "fsdp" and other.order < wrap.order and wrap.module.contains(other.module)
        and not other.module.contains(wrap.module)
        for other in facts.of(Wrap, uncalled=True)
    )


def _mixed(facts: Facts, wrap: Wrap) -> tuple[tuple[object, ...], dict[str, object]] | None:
    """What makes the wrapped model part frozen, part trainable at the wrap (the key of `_EVIDENCE` and its fields), or
    None."""
    root = wrap.module
    for apply in facts.of(PeftApply):
        if apply.order < wrap.order:
            refs = [ref for value in (apply.model, apply.result) for option in value.candidates() if (ref := as_ref(option))]
            if any(ref.overlaps(root) for ref in refs):
                return ("peft",), {"peft_function": apply.how, "peft_line": facts.line(apply.node)}
    frozen = facts.partly_frozen_at(root, wrap.order)
    if frozen is None:
        return None
    assert frozen.module is not None
    if frozen.whole and frozen.module.contains(root):
        unfrozen = [
            op for op in facts.unfrozen_between(root, frozen.order, wrap.order)
            if op.module is not None and not op.module.contains(root)
        ]
        if not unfrozen:
            return None  # all of it frozen: uniform
        again = unfrozen[-1]
        return ("unfrozen again", frozen.whole, again.whole), {**_spelled(facts, frozen, "frozen"), **_spelled(facts, again, "unfrozen")}
    if not _strictly_inside(frozen, root):
        return None
    return ("part frozen", frozen.whole), _spelled(facts, frozen, "frozen")


def _strictly_inside(op: FreezeOp, root: ModuleRef) -> bool:
    """The freeze leaves some parameters of `root` trainable: it picks parameters by name or by a model's own helper,
    or freezes a sub-module."""
    assert op.module is not None
    return not op.whole or (root.contains(op.module) and not op.module.contains(root))


def _spelled(facts: Facts, op: FreezeOp, role: str) -> dict[str, object]:
    """The fields that name a freeze or an unfreeze (`role`) in the evidence: what it changes, and where."""
    return {role: facts.spelling(op), f"{role}_line": facts.line(op.node)}


def _message(facts: Facts, wrap: Wrap, evidence: tuple[tuple[object, ...], dict[str, object]]) -> Message:
    key, fields = evidence
    return Message(MESSAGES[key], {"module": wrap.module.describe(), **fields})


def _fix(call: cst.Call) -> FixProposal:
    existing = next((arg for arg in call.args if arg.keyword is not None and arg.keyword.value == "use_orig_params"), None)
    if existing is not None:
        replacement = Replacement(existing.value, cst.Name("True"))
    else:
        # The new argument goes last, spaced like the ones before it; the call keeps its trailing comma, if any.
        args = list(call.args)
        before = args[-2].comma if len(args) > 1 else cst.MaybeSentinel.DEFAULT
        separator = before if isinstance(before, cst.Comma) else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        added = cst.Arg(
            keyword=cst.Name("use_orig_params"), value=cst.Name("True"),
            equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")),
            comma=args[-1].comma,
        )
        replacement = Replacement(call, call.with_changes(args=[*args[:-1], args[-1].with_changes(comma=separator), added]))
    return FixProposal(Applicability.SAFE, "Pass `use_orig_params=True`", (replacement,))
