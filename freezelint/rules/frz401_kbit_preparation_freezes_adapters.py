"""## What it does
Finds `prepare_model_for_kbit_training(model)` called after PEFT added the adapters (`get_peft_model`,
`PeftModel.from_pretrained(..., is_trainable=True)`, `model.add_adapter(...)`, `inject_adapter_in_model`), or called
with no adapters added before the model is trained.

## Why is this bad?
`prepare_model_for_kbit_training` sets `requires_grad=False` on every parameter of the model it is given (peft
0.21.2, `utils/other.py`), quantized or not. After `get_peft_model` that includes the LoRA weights: nothing is left to
train. The Trainer then fails at the first step with "element 0 of tensors does not require grad and does not have a
grad_fn"; with gradient checkpointing on in the training arguments (which makes the loss require grad), training runs,
logs a loss (and a `grad_norm` of 0), and changes nothing. Without PEFT afterwards the whole model stays frozen the
same way.

## Example
```python
model = AutoModelForCausalLM.from_pretrained("facebook/opt-350m", load_in_8bit=True)
model = get_peft_model(model, LoraConfig(r=8, task_type="CAUSAL_LM"))
model = prepare_model_for_kbit_training(model)  # freezes the adapters too
```

Use instead, prepare the quantized model first, then add the adapters:
```python
model = prepare_model_for_kbit_training(model)
model = get_peft_model(model, LoraConfig(r=8, task_type="CAUSAL_LM"))
```

It stays silent when the order is right, when something after the call may make parameters trainable again (an
unfreeze, PEFT, a helper the analysis cannot see into), and for a TRL trainer given `peft_config=` after the call
(it adds the adapters itself).

## Fix safety
The fix moves the `prepare_model_for_kbit_training` statement right before the PEFT statement, on the model PEFT
receives. It is offered when both are plain statements in the same block on plain names
(`model = get_peft_model(model, ...)`), and it is unsafe: it reorders statements, and code in between (printing the
trainable parameters, enabling checkpointing) now runs after the preparation.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the model has nothing trainable left after
the preparation (or its adapter weights are frozen), refuted otherwise; the replay's own "nothing trainable" is then
this finding's evidence, not a second FRZ301 finding.

## References
- peft 0.21.2 `utils/other.py`, `prepare_model_for_kbit_training`: `for name, param in model.named_parameters():
  param.requires_grad = False`, whether the model is quantized or not; its docstring lists "Freezing the base model
  layers" (huggingface/peft#2299, PR #2305).
- tests/runtime/test_peft_rules_runtime.py: `test_frz401_kbit_preparation_after_peft_leaves_nothing_to_train`,
  `test_frz401_after_peft_with_checkpointing_training_runs_and_changes_nothing`,
  `test_frz401_fix_moves_the_preparation_and_the_adapters_train` and
  `test_frz401_preparation_alone_freezes_every_weight`.
- huggingface/trl PR #4081: "prepare_model_for_kbit_training does not reapply to an instance of PeftModel, thus
  freezing all the layers" (`grad_norm` went from 0 to > 0); huggingface/peft PR #760; tloen/alpaca-lora#352
  ("trainable params: 0").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst
import libcst.matchers as m

from freezelint.facts import Facts, FreezeForm, FreezeOp, PeftApply, Where, may_unfreeze
from freezelint.findings import Applicability, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, rule
from freezelint.rules.runtime_hooks import (
    CONFIRMED,
    REFUTED,
    StaticFinding,
    Verdict,
    runtime_verdict,
)

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

_NOTHING_TRAINS = (
    "(the first `backward()` fails with \"element 0 of tensors does not require grad\"; with gradient checkpointing on "
    "in the training arguments, training runs, logs a loss and changes nothing)"
)
AFTER_PEFT = (
    "`prepare_model_for_kbit_training` runs here on `{model}` after `{peft}` added the adapters at line {line}: it "
    "sets `requires_grad=False` on every parameter, the adapters included, so nothing is left to train "
    + _NOTHING_TRAINS + ". Call it before `{peft}`."
)
WITHOUT_PEFT = (
    "`prepare_model_for_kbit_training` sets `requires_grad=False` on every parameter of `{model}`, and no adapters are "
    "added before {training} trains it at line {line}: there is nothing to train " + _NOTHING_TRAINS + ". Add the "
    "adapters after it (`model = get_peft_model(model, config)`), or drop the call to train the model itself."
)


@rule("FRZ401", "kbit-preparation-freezes-adapters", Level.ERROR, fix=Applicability.UNSAFE, tokens=("prepare_model_for",))
def kbit_preparation_freezes_adapters(facts: Facts) -> Iterator[Report]:
    for op in facts.of(FreezeOp):
        prepared = op.module
        if op.form is not FreezeForm.KBIT_PREPARE or prepared is None:
            continue
        training = facts.training_of(prepared.model, after=op.order)
        until = training.event.order if training is not None else None
        later = [e for e in facts.events if e.order > op.order and (until is None or e.order < until)]
        if any(may_unfreeze(event, prepared) for event in later):
            continue  # adapters added now (the right order), an unfreeze, or a hand-off to unseen code
        applied = [
            apply for apply in facts.of(PeftApply)
            if apply.order < op.order and apply.how != "peft_config"
            and not apply.where.exclusive(op.where) and apply.touches(prepared)
        ]
        name = facts.code(op.node.args[0].value) if isinstance(op.node, cst.Call) and op.node.args else prepared.describe()
        if applied:
            apply = applied[-1]
            yield Report(op.where.statement or op.node, _after_peft(facts, name, apply), fix=_move_before(facts, op, apply))
        elif training is not None:
            yield Report(op.where.statement or op.node, _without_peft(facts, name, training.how, training.event.node))


def _after_peft(facts: Facts, name: str, apply: PeftApply) -> Message:
    return Message(AFTER_PEFT, {"model": name, "peft": _peft_spelling(apply), "line": facts.line(apply.node)})


def _without_peft(facts: Facts, name: str, how: str, node: cst.CSTNode) -> Message:
    return Message(WITHOUT_PEFT, {"model": name, "training": how, "line": facts.line(node)})


def _peft_spelling(apply: PeftApply) -> str:
    """The PEFT call as code: `get_peft_model(...)`, or a method `.add_adapter(...)`."""
    function = "." in apply.how or apply.how in ("get_peft_model", "inject_adapter_in_model")
    return f"{apply.how}(...)" if function else f".{apply.how}(...)"


def _move_before(facts: Facts, op: FreezeOp, apply: PeftApply) -> FixProposal | None:
    """Move the preparation statement right before the PEFT statement, applied to the model PEFT receives."""
    prepare, peft = op.where.statement, apply.where.statement
    if not (_same_block(op.where, apply.where) and isinstance(op.node, cst.Call) and op.node.args):
        return None
    base = _peft_input(apply)
    if base is None or not isinstance(peft, (cst.Assign, cst.Expr)):
        return None
    argument = op.node.args[0].value
    if not isinstance(argument, cst.Name) or argument.value not in (base.value, *_assigned_names(peft)):
        return None
    call = op.node.with_changes(args=[op.node.args[0].with_changes(value=base), *op.node.args[1:]])
    if isinstance(prepare, cst.Assign) and len(prepare.targets) == 1 and isinstance(prepare.targets[0].target, cst.Name):
        moved: cst.BaseSmallStatement = prepare.with_changes(targets=[prepare.targets[0].with_changes(target=base)], value=call)
    elif isinstance(prepare, cst.Expr) and prepare.value is op.node:
        moved = prepare.with_changes(value=call)
    else:
        return None
    line = _line_of(facts, prepare)
    if line is None:
        return None
    row = facts.line(peft)
    text = facts.source.line(row)
    indent = text[: len(text) - len(text.lstrip())]
    newline = "\r\n" if "\r\n" in facts.source.text else "\n"
    inserted = f"{cst.Module([]).code_for_node(moved)}{newline}{indent}{facts.module.code_for_node(peft)}"
    return FixProposal(
        Applicability.UNSAFE,
        "Move `prepare_model_for_kbit_training` before the PEFT call",
        (Replacement(peft, inserted), Replacement(line, "")),
    )


def _peft_input(apply: PeftApply) -> cst.Name | None:
    """The plain name of the model the PEFT call receives: `get_peft_model(model, ...)`, `model.add_adapter(...)`."""
    call = apply.call
    if call is None:
        return None
    if apply.how in ("add_adapter", "load_adapter") and isinstance(call.func, cst.Attribute):
        node: cst.BaseExpression | None = call.func.value
    else:
        positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
        node = next((arg.value for arg in call.args if arg.keyword is not None and arg.keyword.value == "model"), None)
        if node is None and positional:
            node = positional[1].value if apply.how == "inject_adapter_in_model" and len(positional) > 1 else positional[0].value
    return node if isinstance(node, cst.Name) else None


def _assigned_names(statement: cst.BaseSmallStatement) -> list[str]:
    if isinstance(statement, cst.Assign):
        return [t.target.value for t in statement.targets if isinstance(t.target, cst.Name)]
    return []


def _same_block(a: Where, b: Where) -> bool:
    """Both walked in the same function call, loops and `if` arms (so one statement can move next to the other)."""
    return (
        a.function == b.function
        and len(a.calls) == len(b.calls) and all(x is y for x, y in zip(a.calls, b.calls))
        and len(a.loops) == len(b.loops) and all(x is y for x, y in zip(a.loops, b.loops))
        and [(x.node, x.arm) for x in a.branches] == [(y.node, y.arm) for y in b.branches]
    )


def _line_of(facts: Facts, small: cst.CSTNode | None) -> cst.SimpleStatementLine | None:
    """The statement line that holds `small` alone."""
    for line in m.findall(facts.module, m.SimpleStatementLine()):
        assert isinstance(line, cst.SimpleStatementLine)
        if len(line.body) == 1 and line.body[0] is small:
            return line
    return None


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ401")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    """Confirmed when the model the preparation ran on has nothing trainable left (or its adapters frozen). The
    replay's own "nothing trainable" (FRZ301) is this finding's evidence, not a second finding with another fix."""
    top = view.subject(finding)
    if isinstance(top, Verdict):
        return top
    view.consume("FRZ301", top)
    adapters = view.adapter_parameters(top)
    frozen = [name for name, parameter in adapters if not parameter.requires_grad]
    if top.trainable == 0:
        detail = f", the {len(frozen):,} adapter tensors (e.g. `{frozen[0]}`) included" if frozen else ""
        return Verdict(CONFIRMED, f"0 of {top.total:,} parameters of `{top.name}` trainable after line {finding.row}{detail}")
    if frozen:
        return Verdict(CONFIRMED, f"{len(frozen):,} of {len(adapters):,} adapter tensors of `{top.name}` frozen (e.g. `{frozen[0]}`)")
    return Verdict(REFUTED, view.trainable_summary(top))

