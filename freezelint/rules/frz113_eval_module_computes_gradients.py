"""## What it does
Finds a module put in evaluation mode (`teacher.eval()`) that nothing freezes and no optimizer holds, whose output
then flows, with gradients on, into a loss that `backward()` runs on: a distillation teacher, a frozen-by-intent
encoder, an attacked model.

## Why is this bad?
`.eval()` only switches dropout and BatchNorm to their inference behaviour; it does not stop autograd. The module's
parameters still require grad, so every `backward()` through its output computes a gradient for each of its weights
and adds it to their `.grad`: memory for the activations it keeps and the gradients it fills, and time for the
backward pass through it, at every step, for weights no optimizer updates. Because its optimizer-less `.grad` is
never zeroed (`optimizer.zero_grad()` covers the optimizer's own parameters), the gradients also pile up step after
step. The weights themselves do not change, so the run looks right and is just slower and bigger than it needs to be
(about the cost of training the module: a teacher as large as the student doubles the backward pass).

## Example
```python
teacher.eval()
optimizer = torch.optim.AdamW(student.parameters(), lr=1e-4)
for batch in loader:
    loss = distillation_loss(student(batch), teacher(batch))
    loss.backward()
    optimizer.step()
```

Use instead:
```python
teacher.eval()
teacher.requires_grad_(False)  # or run the teacher under `with torch.no_grad():`
```

## Fix safety
No automatic fix: whether to freeze the module or to wrap its forward in `torch.no_grad()` (which also saves the
activations' memory) depends on the code around it, and a module that some other code trains must not be frozen.

## Evidence
A traced finding names the optimizer the file builds and steps, which does not hold the module. Where the optimizer
comes from code the analysis cannot see (passed in to a trainer class), the message says so: the module may be held
by it.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the module switched to eval mode still has
parameters that require grad once the replay's freezing has run (with the count), refuted when all of them are
frozen.

## References
- torch 2.13 `torch/nn/modules/module.py`, `Module.eval`: "This has an effect only on certain modules ... Dropout,
  BatchNorm"; it sets `self.training` and does not touch `requires_grad`.
- torch 2.13 `torch/optim/optimizer.py`, `Optimizer.zero_grad`: clears the gradients of the optimizer's own
  parameters only.
- PyTorch docs, "Autograd mechanics: Locally disabling gradient computation" (evaluation mode is not a mechanism to
  disable gradient computation): https://pytorch.org/docs/stable/notes/autograd.html
- `tests/runtime/test_frz113_runtime.py`: on a tiny teacher in eval mode outside the optimizer, every backward fills and
  accumulates its weights' gradients; after `requires_grad_(False)` (or under `no_grad`) none is computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst
import libcst.matchers as m

from freezelint.facts import (
    ANY_CHILD,
    ANY_DESCENDANT,
    Backward,
    Event,
    Facts,
    Forward,
    Literal,
    ModuleCall,
    ModuleOutput,
    ModuleRef,
    OpaqueUse,
    OptimizerBuild,
    OptimizerCall,
    ParamSet,
    PeftApply,
    Where,
)
from freezelint.findings import Evidence, Level
from freezelint.rules import Message, Report, rule
from freezelint.rules.runtime_hooks import StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

# Who could use those gradients: no optimizer the file builds (traced), or one it cannot see (passed in).
_HOLDERS = {
    True: "no optimizer holds (`{optimizer}` steps without them)",
    False: "no optimizer this file builds holds (the one that steps comes from code it cannot see)",
}
# The message by whether the optimizer that steps is traced.
MESSAGES = {
    traced: (
        "`{module}.eval()` does not freeze `{module}`: its parameters still require grad, and its output at line "
        "{forward} flows into the loss, so every `backward()` (line {backward}) computes and adds up gradients for all "
        "of its weights, which " + holder + ". That is the memory and time of training it, spent on weights that do "
        "not change. Freeze it with `{module}.requires_grad_(False)`, or run it under `torch.no_grad()`."
    )
    for traced, holder in _HOLDERS.items()
}


@rule("FRZ113", "eval-module-computes-gradients", Level.WARNING, tokens=(("eval", "train(False)"), ("backward",)))
def eval_module_computes_gradients(facts: Facts) -> Iterator[Report]:
    reported: set[int] = set()
    for call in facts.of(ModuleCall, uncalled=True):
        ref = call.receiver
        if id(call.call) in reported or not _eval_call(call) or not isinstance(ref, ModuleRef) or ref.model.foreign:
            continue
        if any(component in (ANY_CHILD, ANY_DESCENDANT) for component in ref.path):
            continue  # modules picked in a loop (BatchNorm handling)
        forward = _forward_in_eval(facts, call, ref)
        if forward is None or _frozen_or_handed_on(facts, ref) or facts.training_of(ref, after=call.order) is not None:
            continue
        backward = _backward_through(facts, forward)
        if backward is None or not _steps_in_loop(backward):
            continue  # no training step beside it (a test of backward itself, a gradient-based attack's one pass)
        stepping = _stepping_optimizer(facts, backward, ref)
        if stepping is None and _built_optimizers_hold(facts, ref):
            continue
        reported.add(id(call.call))
        fields: dict[str, object] = {
            "module": _spelling(facts, call, ref),
            "forward": facts.line(forward.node),
            "backward": facts.line(backward.node),
        }
        if stepping is not None:
            fields["optimizer"] = stepping.name
        evidence = Evidence.TRACED if stepping is not None else Evidence.NAME
        yield Report(call.where.statement or call.call, Message(MESSAGES[stepping is not None], fields), evidence=evidence)


def _spelling(facts: Facts, call: ModuleCall, ref: ModuleRef) -> str:
    """How to name the module: as the call spells it (`self.teacher`), or by the name it is bound to where the call
    builds it in place (`vgg = VGGNet().to(device).eval()`)."""
    func = call.call.func
    written = facts.code(func.value) if isinstance(func, cst.Attribute) else ""
    return ref.describe() if not written or "(" in written else written


def _eval_call(call: ModuleCall) -> bool:
    if call.method == "eval" and not call.args:
        return True
    return call.method == "train" and len(call.args) == 1 and isinstance(call.args[0], Literal) and call.args[0].value is False


def _same_path(first: Where, second: Where) -> bool:
    """Both in one walk of one function (a method walked on its own is not paired with another one)."""
    return first.function == second.function and first.standalone == second.standalone and len(first.calls) == len(
        second.calls
    ) and all(a is b for a, b in zip(first.calls, second.calls))


def _forward_in_eval(facts: Facts, switch: ModuleCall, ref: ModuleRef) -> Forward | None:
    """A later call of the module, in the same function, with gradients on and no `.train()` in between, whose
    output is not detached."""
    # Each `.train()` call with its receiver, kept as the ModuleRef the test proved it is.
    switches = [
        (c, c.receiver) for c in facts.of(ModuleCall, uncalled=True)
        if c.method == "train" and isinstance(c.receiver, ModuleRef)
    ]
    for forward in facts.of(Forward, uncalled=True):
        if forward.order <= switch.order or forward.where.no_grad or not _same_path(switch.where, forward.where):
            continue
        if not (ref.contains(forward.module) and forward.module.contains(ref)):
            continue
        back_to_training = any(
            switch.order < other.order < forward.order and receiver.overlaps(ref) and not _eval_call(other)
            for other, receiver in switches
        )
        if back_to_training or _detached(facts, ref):
            continue
        return forward
    return None


def _detached(facts: Facts, ref: ModuleRef) -> bool:
    return any(
        call.method in ("detach", "detach_") and isinstance(call.receiver, ModuleOutput) and ref.contains(call.receiver.module)
        for call in facts.of(ModuleCall, uncalled=True)
    )


def _frozen_or_handed_on(facts: Facts, ref: ModuleRef) -> bool:
    """Something freezes it (anywhere: a freeze on another path still says the author froze it), adapters are put
    in it, or it is handed to code the analysis cannot see (which may freeze it)."""
    if facts.freezes_touching(ref):
        return True
    return any(
        (isinstance(event, PeftApply) and event.touches(ref)) or (isinstance(event, OpaqueUse) and event.module.overlaps(ref))
        for event in facts.all_events(uncalled=True)
    )


def _backward_through(facts: Facts, forward: Forward) -> Backward | None:
    """A `backward()` that runs after the forward: later in the same loop pass, or later in the same function."""
    for backward in facts.of(Backward, uncalled=True):
        if not _same_path(forward.where, backward.where) or backward.where.exclusive(forward.where):
            continue
        if backward.order > forward.order and (backward.where.shared_loop(forward.where) is not None or not forward.where.loops):
            return backward
    return None


def _steps_in_loop(backward: Backward) -> bool:
    """The loop around the backward also steps something (`optimizer.step()`, `self.optimizer_student.step()`)."""
    loops = backward.where.loops
    if not loops:
        return False
    return bool(m.findall(loops[-1].node, m.Call(func=m.Attribute(attr=m.Name("step")))))


def _stepping_optimizer(facts: Facts, backward: Event, ref: ModuleRef) -> OptimizerBuild | None:
    """The optimizer the file builds, over parameters it can name (or built before the module existed), that steps
    beside this backward."""
    for call in facts.of(OptimizerCall, uncalled=True):
        build = call.optimizer.build
        if call.method != "step" or not _same_path(call.where, backward.where):
            continue
        if _built_before(build, ref) or all(isinstance(part, ParamSet) and not part.copies for part in build.param_parts()):
            return build
    return None


def _built_before(build: OptimizerBuild, ref: ModuleRef) -> bool:
    """Built before the module was made, and not again after it: whatever it holds, not the module's parameters (an
    image optimised through a pretrained network made afterwards, as in neural style transfer)."""
    made = ref.model.where
    return build.order < made.order and build.where.shared_loop(made) is None


def _built_optimizers_hold(facts: Facts, ref: ModuleRef) -> bool:
    """Some optimizer the file builds holds (or may hold) the module's parameters."""
    for build in facts.of(OptimizerBuild, uncalled=True):
        if _built_before(build, ref):
            continue
        for part in build.param_parts():
            if not isinstance(part, ParamSet) or part.copies or part.module.overlaps(ref):
                return True
    return False


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ113")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    """Confirmed when the module switched to eval mode still has parameters that require grad after the replay."""
    return view.still_trainable(finding)
