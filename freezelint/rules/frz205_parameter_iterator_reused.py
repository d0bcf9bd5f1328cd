"""## What it does
Finds a one-shot iterator of parameters used twice: the second use sees nothing. `model.parameters()`,
`named_parameters()`, `filter(lambda p: p.requires_grad, ...)`, a generator expression or `itertools.chain(...)`
is stored in a variable, then iterated (counted, looped over, handed to an optimizer or to `clip_grad_norm_`) more
than once.

## Why is this bad?
These are generators: the first pass consumes them, and every later pass sees nothing, without any error. An
optimizer built from the exhausted iterator gets no parameters (`torch.optim` then raises `ValueError: optimizer
got an empty parameter list`, or a second parameter group is silently empty); `clip_grad_norm_` clips nothing and
returns 0; a freeze loop over it freezes nothing.

## Example
```python
params = filter(lambda p: p.requires_grad, model.parameters())
print(sum(p.numel() for p in params), "trainable parameters")
optimizer = torch.optim.AdamW(params, lr=1e-3)  # gets nothing
```

Use instead:
```python
params = [p for p in model.parameters() if p.requires_grad]
```

## Fix safety
The fix wraps the iterator in `list(...)` where it is created. It is safe when nothing changes the model between
that line and the first use. Otherwise it is unsafe: a list is taken at once, a generator when first iterated, so a
`requires_grad` filter, or a new head, in between would select different parameters.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when an optimizer built from the spent iterator
fails with an empty parameter list or holds no parameter; a second use inside the training loop is not reached by
the replay (not checkable).

## References
- tests/runtime/test_frz205_runtime.py: `test_the_optimizer_gets_an_empty_parameter_list`,
  `test_clipping_a_used_up_generator_clips_nothing` (`clip_grad_norm_` returns 0 and leaves the gradients as they
  were) and `test_freezelints_fix_gives_the_optimizer_the_parameters`.
- torch 2.13: `torch/optim/optimizer.py`, `Optimizer.__init__` raises "optimizer got an empty parameter list";
  `torch/nn/utils/clip_grad.py`, `_get_total_norm` returns `torch.tensor(0.0)` when there is nothing to clip.
- Python glossary, "iterator": once exhausted, "any further calls to its __next__() method just raise StopIteration
  again".
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge
from freezelint.facts import (
    AttributeAssign,
    Consumption,
    Facts,
    FreezeOp,
    LibraryCall,
    OptimizerBuild,
    ParamGroups,
    ParamSet,
    PeftApply,
    Value,
)
from freezelint.findings import Applicability, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, rule
from freezelint.rules.runtime_hooks import CONFIRMED, NOT_CHECKABLE, StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

_USED_UP = (
    "`{iterator}` (line {line}) is a one-shot iterator, already used up by `{first}` at line {first_line}: here it "
    "yields nothing, so "
)
_MAKE_LIST = ". Make it a list where it is created."
# What the second use does with nothing, by what it is.
IN_LOOP = _USED_UP + "this loop does not run once" + _MAKE_LIST
IN_OPTIMIZER = (
    _USED_UP + "`{optimizer}` gets none of these parameters (with no others, `torch.optim` raises `ValueError: "
    "optimizer got an empty parameter list`)" + _MAKE_LIST
)
IN_CLIPPING = _USED_UP + "it clips nothing (and returns a norm of 0)" + _MAKE_LIST
ELSEWHERE = _USED_UP + "it sees no parameters" + _MAKE_LIST


# Builtins that use up an iterator where it stands, and builtins or itertools functions that wrap it lazily.
_USED_UP_BY = frozenset({"list", "tuple", "set", "frozenset", "dict", "sorted", "sum", "any", "all", "max", "min", "next", "len"})
_WRAPPED_BY = frozenset({"filter", "map", "iter", "enumerate", "zip", "chain", "from_iterable", "islice"})


def _may_keep_an_iterator(tree: ast.Module) -> bool:
    """False when every parameter iterator of the file is used up in the statement that creates it (`for p in
    m.parameters()`, `sum(p.numel() for p in m.parameters())`, `next(m.parameters())`): then none is ever used twice.
    Stored, passed, returned or otherwise handed on (or named without a call), it may be."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    if _shadowed(parents) & (_USED_UP_BY | _WRAPPED_BY):
        return True  # a `list` or `filter` of the file's own may keep what it is given
    for node in parents:
        if isinstance(node, ast.Constant) and node.value in knowledge.PARAMETER_ITERATORS:
            return True  # `getattr(m, "parameters")`
        if isinstance(node, ast.Name) and node.id in knowledge.PARAMETER_ITERATORS:
            return True
        if isinstance(node, ast.Attribute) and node.attr in knowledge.PARAMETER_ITERATORS:
            call = parents.get(node)
            if not (isinstance(call, ast.Call) and call.func is node) or _handed_on(call, parents):
                return True
    return False


def _shadowed(parents: dict[ast.AST, ast.AST]) -> set[str]:
    """Names the file binds itself (functions, classes, assignments, imports other than from itertools)."""
    names = set()
    for node in parents:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            statement = parents.get(node)
            if not (isinstance(statement, ast.ImportFrom) and statement.module == "itertools"):
                names.add(node.asname or node.name.split(".")[0])
    return names


def _called(call: ast.Call) -> str | None:
    """The builtin or itertools function a call names (`list(...)`, `itertools.chain(...)`, `chain.from_iterable`)."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("itertools", "chain"):
        return func.attr
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute) and func.value.attr == "chain":
        return func.attr  # itertools.chain.from_iterable
    return None  # a method of some object: it may keep what it is given


def _handed_on(iterator: ast.expr, parents: dict[ast.AST, ast.AST]) -> bool:
    """The iterator, or what wraps it lazily, outlives its statement (or may: anything not known to use it up)."""
    while True:
        parent = parents.get(iterator)
        if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is iterator:
            return False
        if isinstance(parent, ast.comprehension) and parent.iter is iterator:
            comprehension = parents.get(parent)
            if not isinstance(comprehension, ast.GeneratorExp):
                return False  # a list, set or dict comprehension runs at once
            iterator = comprehension
            continue
        if isinstance(parent, ast.Call) and any(arg is iterator for arg in parent.args):
            called = _called(parent)
            if called in _USED_UP_BY:
                return False
            if called in _WRAPPED_BY:
                iterator = parent
                continue
        return True


@rule(
    "FRZ205", "parameter-iterator-reused", Level.ERROR, fix=Applicability.SAFE, tokens=("parameters",),
    possible=_may_keep_an_iterator,
)
def parameter_iterator_reused(facts: Facts) -> Iterator[Report]:
    uses: dict[int, list[Consumption]] = {}
    for use in facts.of(Consumption):
        value = use.value
        if not isinstance(value, (ParamSet, ParamGroups)):
            continue
        if use.where.lazy is not None and not use.where.lazy.consumed:
            continue  # inside a generator nothing runs
        uses.setdefault(id(value), []).append(use)
    for consumptions in uses.values():
        first = consumptions[0]
        for later in consumptions[1:]:
            if later.where.exclusive(first.where) or later.where.statement is first.where.statement:
                continue
            yield _report(facts, first, later)
            break


def _report(facts: Facts, first: Consumption, later: Consumption) -> Report:
    value = first.value
    created = _created(value)
    text = facts.code(created)
    short = text if len(text) <= 60 else text[:57] + "..."
    first_code = facts.code(first.where.statement or first.node)
    first_code = first_code if len(first_code) <= 60 else first_code[:57] + "..."
    template, consequence_fields = _consequence(facts, later)
    fields = {"iterator": short, "line": facts.line(created), "first": first_code, "first_line": facts.line(first.node)}
    message = Message(template, {**fields, **consequence_fields})
    safe = _nothing_changes_between(facts, value, first)
    fix = FixProposal(
        Applicability.SAFE if safe else Applicability.UNSAFE,
        "Make the parameters a list where they are created",
        (_list_where_created(facts, created),),
    )
    return Report(later.where.statement or later.node, message, fix=fix)


def _created(value: Value) -> cst.CSTNode:
    assert isinstance(value, (ParamSet, ParamGroups))
    return value.node


def _consequence(facts: Facts, use: Consumption) -> tuple[str, dict[str, object]]:
    """The template for what the second use does with nothing, and the fields it adds."""
    statement = use.where.statement
    if isinstance(statement, cst.For):
        return IN_LOOP, {}
    for build in facts.of(OptimizerBuild, uncalled=True):
        if build.where.statement is statement and any(use.value is o for o in _flat(build.params)):
            return IN_OPTIMIZER, {"optimizer": build.name}
    for call in facts.of(LibraryCall, uncalled=True):
        if call.where.statement is statement and call.qualname.rsplit(".", 1)[-1].startswith("clip_grad"):
            return IN_CLIPPING, {}
    return ELSEWHERE, {}


def _flat(value: Value) -> list[Value]:
    found: list[Value] = []
    for option in value.candidates():
        found.append(option)
        if isinstance(option, ParamGroups):
            for part in option.parts:
                found.extend(_flat(part))
    return found


def _list_where_created(facts: Facts, created: cst.CSTNode) -> Replacement:
    """`params = (p for p in ...)` becomes `params = [p for p in ...]`: a generator's own parentheses lie outside its
    span, so the assignment holding it is rewritten whole; anything else is wrapped in `list(...)` in place."""
    if isinstance(created, cst.GeneratorExp) and created.lpar:
        for assign in facts.syntax().assigns:
            if assign.value is created:
                listed = cst.ListComp(elt=created.elt, for_in=created.for_in)
                return Replacement(assign, assign.with_changes(value=listed))
    return Replacement(created, _as_list(created))


def _as_list(node: cst.CSTNode) -> str:
    if isinstance(node, cst.GeneratorExp):
        inner = cst.Module([]).code_for_node(node.with_changes(lpar=[], rpar=[]))
        return f"[{inner}]"
    return f"list({cst.Module([]).code_for_node(node)})"


def _nothing_changes_between(facts: Facts, value: Value, first: Consumption) -> bool:
    """No freeze, new sub-module or PEFT between the iterator's creation and its first use (a list taken at creation
    then holds exactly what the generator would have yielded)."""
    created = _created(value)
    orders = [e.order for e in facts.all_events(uncalled=True) if facts.within(e.node, created)]
    start = min(orders) if orders else first.order
    return not any(
        start < event.order < first.order and isinstance(event, (FreezeOp, AttributeAssign, PeftApply))
        for event in facts.all_events(uncalled=True)
    )


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ205")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    """Confirmed when the second use saw nothing: an optimizer built on the line from the spent iterator fails with an
    empty parameter list, or holds no parameter."""
    failure = view.state.failure_at(finding.row)
    if failure is not None and "empty parameter list" in failure.message:
        return Verdict(CONFIRMED, f"line {finding.row} failed in the replay: {failure.describe()}")
    start, end = view.state.statement_lines(finding.row)
    for record in view.state.harness.optimizers:
        if record.line is not None and start <= record.line <= end and not record.parameters:
            return Verdict(CONFIRMED, f"the optimizer built at line {record.line} holds no parameter")
    if (stopped := view.not_run(finding)) is not None:
        return stopped
    return Verdict(NOT_CHECKABLE, f"what line {finding.row} received was not measured (only an optimizer built there is)")
