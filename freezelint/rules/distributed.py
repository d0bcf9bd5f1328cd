"""What the distributed-training and compilation rules (FRZ504-FRZ508) share: which wraps put a model in DDP, whether
that DDP tolerates parameters without a gradient, and whether the wrapped model trains after some point."""

from __future__ import annotations

from freezelint import knowledge
from freezelint.facts import Backward, Facts, Forward, LibraryCall, Literal, Where, Wrap


def ddp_wraps(facts: Facts) -> list[Wrap]:
    """The wraps that put a model in DistributedDataParallel (`DDP(...)`, `accelerator.prepare`, `fabric.setup`)."""
    return [wrap for wrap in facts.of(Wrap) if wrap.kind in knowledge.DDP_WRAP_KINDS]


# How a message names the wrap, a part of the rules' templates, by the wrap's kind: `DDP(...)` itself, or a call
# that wraps in DistributedDataParallel when launched on several processes (`accelerator.prepare`, `fabric.setup`).
WRAPS = {
    "ddp": "DistributedDataParallel (line {wrap_line})",
    "launcher": (
        "`{wrap_call}(...)` (line {wrap_line}), which wraps it in DistributedDataParallel when launched on several "
        "processes"
    ),
}


def wrap_fields(facts: Facts, wrap: Wrap) -> tuple[str, dict[str, object]]:
    """Which of `WRAPS` names the wrap, and the fields that part needs."""
    if wrap.kind == "ddp":
        return "ddp", {"wrap_line": facts.line(wrap.node)}
    return "launcher", {"wrap_call": facts.code(wrap.call.func), "wrap_line": facts.line(wrap.node)}


def tolerates_unused(facts: Facts, wrap: Wrap) -> bool:
    """True when the DDP of `wrap` may run with `find_unused_parameters=True` or `static_graph=True` (then a parameter
    that requires grad and gets no gradient is not an error): passed to `DDP(...)` itself, or, for accelerate and
    Lightning, anywhere in the file (`DistributedDataParallelKwargs(...)`, `DDPStrategy(...)`, a strategy name).
    A value the analysis cannot read, or `**kwargs`, counts as may."""
    if wrap.kind == "ddp":
        if any(arg.star == "**" for arg in wrap.call.args):
            return True
        calls = [call for call in facts.of(LibraryCall, uncalled=True) if call.call is wrap.call]
    else:
        calls = facts.of(LibraryCall, uncalled=True)
    for call in calls:
        for keyword in knowledge.DDP_UNUSED_TOLERANT_KEYWORDS:
            value = call.kwargs.get(keyword)
            if value is not None and not (isinstance(value, Literal) and value.value is False):
                return True
        if wrap.kind != "ddp":
            strategy = call.kwargs.get("strategy")
            if isinstance(strategy, Literal) and knowledge.DDP_UNUSED_TOLERANT_STRATEGY in str(strategy.value):
                return True
    return False


def trained_through(facts: Facts, wrap: Wrap, where: Where) -> Forward | None:
    """A forward with gradients on through the wrapper `wrap` made (`ddp_model(batch)`, `engine(**batch)`) that may
    run after `where`, in a file that runs `backward()`: the wrapped model trains then. (A frozen teacher wrapped by
    `accelerator.prepare` and run under `torch.no_grad()` does not.)"""
    if not facts.of(Backward):
        return None
    for forward in facts.of(Forward):
        if forward.where.no_grad or forward.module.wrapper != wrap.kind:
            continue
        if forward.module.overlaps(wrap.module) and forward.where.runs_after(where):
            return forward
    return None
