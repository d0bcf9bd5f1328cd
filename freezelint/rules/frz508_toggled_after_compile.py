"""## What it does
Finds `requires_grad` changed, differently on each pass, inside a loop that calls a model compiled with
`torch.compile` (or `model.compile()`): gradual unfreezing (`model.layers[-1 - epoch].requires_grad_(True)`), or
layers picked anew every few steps (LISA-style switching).

## Why is this bad?
`torch.compile` compiles on the first call, and the compiled code is guarded on every parameter's `requires_grad`.
Each new combination of flags fails the guard, and the next call compiles the model again (seconds to minutes for a
large model). After `torch._dynamo.config.recompile_limit` versions (8 in torch 2.13) dynamo stops compiling it and
runs it eagerly for the rest of training, logging `torch._dynamo hit config.recompile_limit (8)` with the reason
`requires_grad mismatch`. pytorch/pytorch#139476 (open) also reports a compiled frame wrongly reused after such a
change. Changing flags after `torch.compile(...)` but before the first call costs nothing: nothing was compiled yet.
A fixed module frozen and unfrozen in turn (a GAN's discriminator) has two settings, compiled once each, and a
one-off change costs one recompile: the rule stays silent on both.

## Example
```python
compiled = torch.compile(model)
for epoch in range(12):
    model.layers[-1 - epoch].requires_grad_(True)  # a recompile every epoch; eager from the 9th
    for batch in loader:
        compiled(batch).loss.backward()
```

Use instead, set the flags before the first call, and keep the number of distinct settings small:
```python
model.layers[-4:].requires_grad_(True)
compiled = torch.compile(model)
```

## Fix safety
No fix: which flags to set before compiling is a training decision.

## Runtime mode
No runtime verdict: recompilation happens only when the compiled model runs in the training loop, and the replay
stops where training starts.

## References
- torch 2.13 `torch/_dynamo/config.py`: `recompile_limit = 8`. With `torch._logging.set_logs(recompiles=True)`,
  torch 2.13 names the failed guard ("tensor '...' requires_grad mismatch"), and at the limit logs
  "torch._dynamo hit config.recompile_limit (8)".
- tests/runtime/test_frz508_runtime.py: `test_gradual_unfreezing_recompiles_until_the_limit_then_runs_eagerly` (one
  compiled graph per setting up to the limit, then calls no longer compiled),
  `test_flags_set_before_the_first_call_compile_once` and `test_a_module_toggled_between_two_settings_compiles_twice`.
- pytorch/pytorch#139476; chiahao3/ptyrad#13.
"""

from __future__ import annotations

from typing import Iterator

from freezelint import knowledge
from freezelint.facts import (
    ANY_CHILD,
    ANY_DESCENDANT,
    Event,
    Facts,
    Forward,
    FreezeOp,
    Loop,
    ModuleCall,
    ModuleRef,
    group_by_node,
    mentions,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule

# How the messages name what changed, by whether the change covers whole modules: (subject, verb).
_SUBJECTS = {True: ("`{module}`", "is"), False: ("parameters of `{module}`", "are")}
# The message by whether the change covers whole modules.
MESSAGES = {
    whole: (
        subject + " " + verb + " {change} here, a different selection on each pass of the loop that calls the "
        "compiled model (line {line}). Compiled code is guarded on every parameter's `requires_grad`: each new "
        "setting makes the next call compile the model again, and after " + str(knowledge.COMPILE_RECOMPILE_LIMIT)
        + " versions (`torch._dynamo.config.recompile_limit`) torch stops compiling it and runs it eagerly. Set "
        "`requires_grad` before the first call of the compiled model, or keep the number of distinct settings small."
    )
    for whole, (subject, verb) in _SUBJECTS.items()
}
# The change, by the value set (None: a value the analysis cannot read).
CHANGES = {False: "frozen", True: "unfrozen", None: "changed in `requires_grad`"}


@rule("FRZ508", "toggled-after-compile", Level.WARNING, tokens=(("compile",), knowledge.FLAG_CHANGE_TOKENS))
def toggled_after_compile(facts: Facts) -> Iterator[Report]:
    compiled = _compiled_calls(facts)
    if not compiled:
        return
    changes = facts.flag_changes()
    for group in group_by_node(changes):
        for op in group:
            assert op.module is not None
            calls = [call for call in compiled if call.module.overlaps(op.module) and not call.where.exclusive(op.where)]
            loop = next((op.where.shared_loop(call.where) for call in calls if op.where.shared_loop(call.where)), None)
            if loop is None or not _varies(op, loop):
                continue
            yield Report(op.where.statement or op.node, _message(facts, op, calls[0]))
            break


def _varies(op: FreezeOp, loop: Loop) -> bool:
    """The change picks other parameters, or other flags, on the loop's passes: its statement, or the test that
    selects a sub-module or parameter it iterates over, uses a name the loop changes (`layer[-1 - epoch]`,
    `p.requires_grad = epoch >= start[name]`, `if epoch >= unfreeze_at[i]: block.requires_grad_(True)`). A fixed
    module frozen and unfrozen in turn (a GAN's discriminator) only ever has two settings: compiled once each."""
    changing = loop.changing_names()
    statement = op.where.statement or op.node
    if mentions(statement, changing):
        return True
    depth = next(i for i, entry in enumerate(op.where.loops) if entry is loop)
    drawn = op.loop is not None or any(c in (ANY_CHILD, ANY_DESCENDANT) for c in op.module.path)  # type: ignore[union-attr]
    return drawn and any(
        branch.depth > depth and branch.test is not None and mentions(branch.test, changing) for branch in op.where.branches
    )


def _compiled_calls(facts: Facts) -> list[Forward]:
    """Calls, with gradients on, that run compiled code: through what `torch.compile(...)` returned, or of a model
    compiled in place by `model.compile()` after that."""
    # Each call with its receiver, kept as the ModuleRef the test below proved it is.
    in_place = [
        (call, call.receiver) for call in facts.of(ModuleCall)
        if call.method == "compile" and isinstance(call.receiver, ModuleRef) and not call.receiver.path
    ]
    found = []
    for forward in facts.of(Forward):
        if forward.where.no_grad:
            continue
        compiled_in_place = any(
            forward.module.model is receiver.model and forward.where.runs_after(call.where)
            for call, receiver in in_place
        )
        if forward.module.wrapper == "compile" or compiled_in_place:
            found.append(forward)
    return found


def _message(facts: Facts, op: FreezeOp, first: Event) -> Message:
    fields = {"module": facts.spelling(op), "change": CHANGES[op.value], "line": facts.line(first.node)}
    return Message(MESSAGES[op.whole], fields)
