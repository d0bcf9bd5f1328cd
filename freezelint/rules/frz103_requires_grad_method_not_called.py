"""## What it does
Finds the method `requires_grad_` named but never called: a bare `X.requires_grad_` statement, or
`X.requires_grad_ = v`, which assigns over the method.

## Why is this bad?
A bare `p.requires_grad_` evaluates the bound method and throws it away: nothing is frozen. An assignment
`p.requires_grad_ = False` is worse: nothing is frozen either, and the instance attribute now shadows the method, so a
later `p.requires_grad_(False)`, or the parent's `model.requires_grad_(False)` (which calls it on every parameter),
raises `TypeError: 'bool' object is not callable`, possibly hours into a run. Both were measured with torch 2.13 on
a tiny BERT: every parameter stays trainable.

## Example
```python
for param in model.bert.parameters():
    param.requires_grad_ = False
model.classifier.requires_grad_
```

Use instead:
```python
for param in model.bert.parameters():
    param.requires_grad_(False)
model.classifier.requires_grad_(True)
```

## Fix safety
`X.requires_grad_ = v` becomes `X.requires_grad_(v)`: safe, it calls what the code named with the value it gave,
unless the freeze covers a whole model that nothing unfreezes afterwards (then unsafe: made real, it would leave the
model with nothing to train). A bare `X.requires_grad_` says nothing about the value meant, so its fix
(`X.requires_grad_(False)`) is shown and never applied.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the statement ran and changed no parameter's
`requires_grad`, refuted when it changed some.

## References
- tests/runtime/test_noop_freezes_runtime.py: `test_buggy_freezes_nothing_and_the_fix_freezes` (cases
  `FRZ103-assigned`, `FRZ103-uncalled`: every parameter stays trainable) and
  `test_assigning_over_requires_grad_breaks_later_calls` (`TypeError: 'bool' object is not callable`, from the
  parameter and from the parent's `requires_grad_`).
- torch 2.13 `torch/nn/modules/module.py`, `Module.requires_grad_`: `for p in self.parameters():
  p.requires_grad_(requires_grad)`, which is how the parent's call reaches the attribute that shadows the method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint.facts import (
    Facts,
    FreezeForm,
    FreezeOp,
    Instance,
    Literal,
    ModuleRef,
    ParamRef,
    Unknown,
    Value,
    group_by_node,
)
from freezelint.findings import Applicability, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, edits, rule
from freezelint.rules.runtime_hooks import (
    StaticFinding,
    Verdict,
    plural,
    runtime_verdict,
)

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

UNCALLED = (
    "`{written}.requires_grad_` names the method without calling it: nothing is frozen or unfrozen. "
    "Call it: `{receiver}.requires_grad_(False)` freezes, `{receiver}.requires_grad_(True)` unfreezes."
)
OVERWRITTEN = (
    "`{written}.requires_grad_ = {value}` assigns over the method `requires_grad_` instead of calling it: "
    "nothing is frozen or unfrozen, and a later `requires_grad_(...)` call on `{written}` or on a module "
    "containing it raises `{error}`. Call `{receiver}.requires_grad_({value})`."
)
# What the later call raises, by whether the value stored over the method is a literal bool.
ERRORS = {
    True: "TypeError: 'bool' object is not callable",
    False: "TypeError: object is not callable",
}


@rule("FRZ103", "requires-grad-method-not-called", Level.ERROR, fix=Applicability.SAFE, tokens=("requires_grad_",))
def requires_grad_method_not_called(facts: Facts) -> Iterator[Report]:
    forms = (FreezeForm.METHOD_OVERWRITE, FreezeForm.UNCALLED)
    for group in group_by_node([op for op in facts.of(FreezeOp, uncalled=True) if op.form in forms]):
        ops = [op for op in group if not (isinstance(op.target, Literal) and op.target.value is None)]
        if not ops or not all(_may_be_torch(facts, op) for op in ops):
            continue
        op = ops[0]
        node = op.node
        assert isinstance(node, cst.Attribute)
        written = facts.code(node.value)
        receiver = facts.code(edits.receiver(node.value))
        if op.form is FreezeForm.UNCALLED:
            yield Report(
                edits.reported_node(op),
                Message(UNCALLED, {"written": written, "receiver": receiver}),
                fix=FixProposal(
                    Applicability.DISPLAY,
                    "Call `requires_grad_(False)` (shown only: the value meant is not written)",
                    (Replacement(node, edits.requires_grad_call(node.value, None)),),
                ),
            )
            continue
        value = edits.value_text(facts, op)
        fields = {"written": written, "value": value, "error": ERRORS[op.value is not None], "receiver": receiver}
        yield Report(
            edits.reported_node(op),
            Message(OVERWRITTEN, fields),
            fix=_fix(facts, op, node, value),
        )


def _may_be_torch(facts: Facts, op: FreezeOp) -> bool:
    """A torch object, or an object the analysis cannot see in a torch file (not another framework's, not an
    instance of a plain class of the file, where `requires_grad_` may be the author's own attribute)."""
    target: Value = op.target
    if isinstance(target, ModuleRef):
        return not target.model.foreign
    if isinstance(target, ParamRef):
        return target.module is None or not target.module.model.foreign
    if isinstance(target, Unknown):
        return op.form is FreezeForm.UNCALLED or edits.torch_file(facts)
    return op.form is FreezeForm.UNCALLED and not isinstance(target, Instance)


def _fix(facts: Facts, op: FreezeOp, node: cst.Attribute, value: str) -> FixProposal | None:
    statement = edits.assignment(facts, op)
    if statement is None:
        return None
    return FixProposal(
        edits.applicability(facts, op, node.value),
        f"Call `requires_grad_({value})`",
        (Replacement(statement, cst.Expr(edits.requires_grad_call(node.value, op.value_node))),),
    )


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ103")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    shadowed = sum(
        1 for top in view.state.models for module in top.module.modules() if "requires_grad_" in module.__dict__
    ) + sum(1 for top in view.state.models for _, p in top.named if "requires_grad_" in getattr(p, "__dict__", {}))
    detail = f"`requires_grad_` overwritten by a plain attribute on {plural(shadowed, 'object')}; " if shadowed else ""
    return view.no_op(finding, detail)
