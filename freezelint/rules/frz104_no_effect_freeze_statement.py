"""## What it does
Finds freeze statements whose result is thrown away: `p.requires_grad == False` as a statement, `p.requires_grad`
alone on its line in a loop over parameters (`= False` forgotten), or a `map(...)` or generator expression of freeze
calls that nothing iterates. The comparison was meant as an assignment; the lazy `map` never runs.

## Why is this bad?
`p.requires_grad == False` compares and discards the answer: nothing is frozen. `map()` and generator expressions
are lazy in Python 3: the function runs only when something iterates the result, so
`map(lambda p: p.requires_grad_(False), model.bert.parameters())` as a statement never calls `requires_grad_` at all.
A bare `param.requires_grad` reads the flag and throws it away; inside a loop over a model's parameters it is a
freeze with its `= False` forgotten (it is reported only there, and only for parameters and modules: whether `False`
or `True` was meant, the file does not say, so its fix, `= False`, is shown and never applied).
Measured with torch 2.13 on a tiny BERT: after each of them every parameter is still trainable, and no warning is
printed.

At the top level of a notebook a comparison may be meant for display, so there it stays silent; `assert
p.requires_grad == False` is a check, not a statement, and is never reported.

## Example
```python
for param in model.bert.parameters():
    param.requires_grad == False
for param in model.bert.parameters():
    param.requires_grad
map(lambda p: p.requires_grad_(False), model.bert.parameters())
```

Use instead:
```python
for param in model.bert.parameters():
    param.requires_grad = False
for p in model.bert.parameters():
    p.requires_grad_(False)
```

## Fix safety
`==` becomes `=` (on a module, `requires_grad_(v)`, since a plain attribute would freeze nothing either): safe where
the receiver is a known parameter or module, unsafe where its type is unknown (the comparison may have been meant
as a check). A one-line `map(lambda x: ...)` or generator statement becomes a `for` loop: safe, unless its variable
name is used elsewhere in the file (a loop variable, unlike a lambda's, outlives the loop). Any of these is unsafe
when it would freeze a whole model that nothing unfreezes afterwards. A bare `param.requires_grad` gets
`param.requires_grad = False` (on a module, `requires_grad_(False)`), display-only: the value meant is not written.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when the statement ran and changed no parameter's
`requires_grad`, refuted when it changed some.

## References
- tests/runtime/test_noop_freezes_runtime.py, `test_buggy_freezes_nothing_and_the_fix_freezes` (cases
  `FRZ104-comparison`, `FRZ104-bare-read`, `FRZ104-map`, `FRZ104-generator`: every parameter stays trainable, and
  the fixes freeze).
- Python documentation, built-in functions, `map()`: "Return an iterator that applies function to every item of
  iterable"; an iterator does its work only when something consumes it.
- pylint W0104 (pointless statement) and flake8-bugbear B015 (pointless comparison) catch the general pattern.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint.facts import (
    ExpressionStatement,
    Facts,
    FreezeForm,
    FreezeOp,
    Kind,
    LazyMap,
    Literal,
    ModuleRef,
    ParamRef,
    ParamSet,
    group_by_node,
)
from freezelint.findings import Applicability, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, edits, rule
from freezelint.rules.runtime_hooks import StaticFinding, Verdict, runtime_verdict

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

COMPARISON = (
    "`{comparison}` compares and throws the result away: `requires_grad` does not change. To set it, write `{instead}`."
)
BARE_READ = (
    "`{read}` alone on its line reads the flag and throws it away: `requires_grad` does not change. To freeze, write "
    "`{instead}`."
)
UNCONSUMED = (
    "{lazy} is lazy: its code runs only when something iterates the result, and this statement throws the result "
    "away, so `{freeze}` never runs and `requires_grad` does not change. Write a `for` loop."
)
# The lazy expression, by kind.
LAZY = {
    "generator": "A generator expression",
    "map": "`map(...)`",
}


@rule("FRZ104", "no-effect-freeze-statement", Level.ERROR, fix=Applicability.SAFE, tokens=("requires_grad",))
def no_effect_freeze_statement(facts: Facts) -> Iterator[Report]:
    yield from _comparisons(facts)
    yield from _bare_reads(facts)
    yield from _unconsumed(facts)


def _comparisons(facts: Facts) -> Iterator[Report]:
    comparisons = [op for op in facts.of(FreezeOp, uncalled=True) if op.form is FreezeForm.COMPARISON]
    for group in group_by_node(comparisons):
        ops = [op for op in group if not (isinstance(op.target, Literal) and op.target.value is None)]
        if not ops or any(_foreign(op) for op in ops):
            continue
        op = ops[0]
        if facts.source.path.endswith(".ipynb") and not op.where.function and not op.where.loops:
            continue  # a notebook's top-level expression may be there to be displayed
        node = op.node
        assert isinstance(node, cst.Comparison) and isinstance(node.left, cst.Attribute)
        owner = node.left.value
        value = edits.value_text(facts, op)
        modules = all(isinstance(o.target, ModuleRef) and o.target.kind is Kind.MODULE for o in ops)
        parameters = all(isinstance(o.target, ParamRef) for o in ops)
        statement = op.where.statement
        assert isinstance(statement, cst.Expr)
        if modules:
            # On a module a plain `=` would freeze nothing either.
            instead = f"{facts.code(edits.receiver(owner))}.requires_grad_({value})"
            replacement = Replacement(node, edits.requires_grad_call(owner, op.value_node))
        else:
            instead = f"{facts.code(owner)}.requires_grad = {value}"
            assignment = cst.Assign(targets=[cst.AssignTarget(node.left)], value=node.comparisons[0].comparator)
            replacement = Replacement(statement, assignment)
        unsafe = not (modules or parameters) or facts.freezes_everything(op)
        fix = FixProposal(Applicability.UNSAFE if unsafe else Applicability.SAFE, f"Assign: `{instead}`", (replacement,))
        yield Report(
            edits.reported_node(op),
            Message(COMPARISON, {"comparison": facts.code(node), "instead": instead}),
            fix=fix,
        )


def _bare_reads(facts: Facts) -> Iterator[Report]:
    """`param.requires_grad` as a statement in a loop over parameters: elsewhere a bare read may be there to be shown."""
    reads = [op for op in facts.of(FreezeOp, uncalled=True) if op.form is FreezeForm.READ and op.where.loops]
    for group in group_by_node(reads):
        if all(isinstance(op.target, (ParamRef, ModuleRef)) and not _foreign(op) for op in group):
            op = group[0]
            node = op.node
            assert isinstance(node, cst.Attribute)
            modules = all(isinstance(o.target, ModuleRef) and o.target.kind is Kind.MODULE for o in group)
            freeze = edits.requires_grad_call(node.value, cst.Name("False")) if modules else None
            statement = op.where.statement
            assert isinstance(statement, cst.Expr)
            assignment = cst.Assign(targets=[cst.AssignTarget(node)], value=cst.Name("False"))
            fix = FixProposal(
                Applicability.DISPLAY,
                "Freeze: `= False` (shown only: whether `False` or `True` was meant, the file does not say)",
                (Replacement(node, freeze) if freeze is not None else Replacement(statement, assignment),),
            )
            instead = facts.code(freeze) if freeze is not None else f"{facts.code(node)} = False"
            yield Report(edits.reported_node(op), Message(BARE_READ, {"read": facts.code(node), "instead": instead}), fix=fix)


def _unconsumed(facts: Facts) -> Iterator[Report]:
    lazy_ops = [op for op in facts.of(FreezeOp, uncalled=True) if op.where.lazy is not None and op.form in (FreezeForm.STORE, FreezeForm.CALL)]
    for statement in facts.of(ExpressionStatement, uncalled=True):
        lazies = [lazy for lazy in map(_lazy, statement.value.candidates()) if lazy is not None and not lazy.consumed]
        ops = [op for op in lazy_ops if any(op.where.lazy is lazy for lazy in lazies)]
        if not ops:
            continue
        op = ops[0]
        expression = statement.expression
        fields = {
            "lazy": LAZY["generator" if isinstance(expression, cst.GeneratorExp) else "map"],
            "freeze": facts.code(op.where.statement if isinstance(op.where.statement, cst.Assign) else op.node),
        }
        yield Report(
            statement.where.statement or expression,
            Message(UNCONSUMED, fields),
            fix=_loop_fix(facts, statement, ops),
        )


def _lazy(value: object) -> LazyMap | None:
    """The lazy computation a value stands for: a `map(...)`, or a generator expression over parameters."""
    if isinstance(value, LazyMap):
        return value
    return value.lazy if isinstance(value, ParamSet) else None


def _foreign(op: FreezeOp) -> bool:
    target = op.target
    module = target if isinstance(target, ModuleRef) else target.module if isinstance(target, ParamRef) else None
    return module is not None and module.model.foreign


def _loop_fix(facts: Facts, statement: ExpressionStatement, ops: list[FreezeOp]) -> FixProposal | None:
    """`map(lambda x: body, it)` or `(body for x in it)`, alone on one line, as `for x in it: body`."""
    expression = statement.expression
    parts = _loop_parts(expression)
    small = statement.where.statement
    if parts is None or not isinstance(small, cst.Expr) or small.value is not expression:
        return None
    variable, iterable, body = parts
    span = facts.positions().get(small)
    if span is None or span.start.line != span.end.line:
        return None
    line = facts.source.line(span.start.line)
    indent, rest = line[: span.start.column], line[span.end.column :].strip()
    if indent.strip() or (rest and not rest.startswith("#")):
        return None  # not alone on its line (`x = 1; map(...)`): a `for` cannot go there
    module = facts.module
    code = module.code_for_node
    loop = f"for {code(variable)} in {code(iterable)}:{module.default_newline}{indent}{module.default_indent}{code(body)}"
    names = {n.value for n in edits.bound_names(variable)}
    used_elsewhere = any(
        len(re.findall(rf"\b{re.escape(name)}\b", facts.source.text)) > len(re.findall(rf"\b{re.escape(name)}\b", code(small)))
        for name in names
    )
    unsafe = used_elsewhere or any(facts.freezes_everything(op) for op in ops)
    return FixProposal(
        Applicability.UNSAFE if unsafe else Applicability.SAFE,
        "Write a `for` loop",
        (Replacement(small, loop),),
    )


def _loop_parts(expression: cst.BaseExpression) -> tuple[cst.BaseExpression, cst.BaseExpression, cst.BaseExpression] | None:
    """(loop variable, iterable, body) of a simple `map(lambda x: ..., it)` or `(... for x in it)`."""
    if isinstance(expression, cst.Call) and isinstance(expression.func, cst.Name) and expression.func.value == "map":
        args = expression.args
        if len(args) != 2 or any(a.keyword is not None or a.star for a in args):
            return None
        function = args[0].value
        if not isinstance(function, cst.Lambda):
            return None
        params = function.params
        simple = params.params and len(params.params) == 1 and params.params[0].default is None
        if not simple or params.posonly_params or params.kwonly_params or params.star_kwarg or not isinstance(params.star_arg, cst.MaybeSentinel):
            return None
        return params.params[0].name, args[1].value, function.body
    if isinstance(expression, cst.GeneratorExp):
        clause = expression.for_in
        if clause.ifs or clause.inner_for_in is not None or clause.asynchronous is not None:
            return None
        return clause.target, clause.iter, expression.elt
    return None


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_verdict("FRZ104")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    return view.no_op(finding, "")
