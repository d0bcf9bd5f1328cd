"""## What it does
Finds a name filter of a freeze loop whose pattern ends in a layer index that prefixes other indices, so it also
matches layers 10-19. Both `"encoder.layer.1" in name` and `name.startswith("bert.encoder.layer.1")` are true for
`encoder.layer.10` to `encoder.layer.19`; module-name filters over `named_modules()` count too, and so do patterns
generated for a range of indices, `any(f"encoder.layer.{i}" in name for i in range(2))`.

## Why is this bad?
Parameter names continue after the index (`bert.encoder.layer.1.attention.self.query.weight`), so a test for
`"encoder.layer.1"` is true for layers 1, 10, 11, ... 19. On a 12-layer BERT-base or ViT-base the freeze meant for
layer 1 also freezes layers 10 and 11: the top layers, which are the ones meant to adapt (measured with torch 2.13
and transformers 5.24: `"encoder.layer.1" in n` froze layers 1, 10 and 11 of a 12-layer BERT).

It stays silent where no collision can happen: a model known to have too few layers (`num_hidden_layers=6`, a known
checkpoint such as `distilbert-base-uncased`), a sub-layer index (right after another index, as in T5's
`block.3.layer.1`, or `layer.N` in a T5-family model, whose `layer` lists have at most three entries), CNN and Swin
`stage`/`stages` lists (four or five entries), and filters that do not decide a freeze (layer-wise learning-rate
groups). Without a known layer count it reports indices 1 to 3 (colliding from 11, 21 and 31 layers: base, large and 7B-class models).

## Example
```python
for name, param in model.named_parameters():
    if "encoder.layer.0" in name or "encoder.layer.1" in name:
        param.requires_grad = False
```

Use instead:
```python
for name, param in model.named_parameters():
    if "encoder.layer.0." in name or "encoder.layer.1." in name:
        param.requires_grad = False
```
or index the layers: `for layer in model.bert.encoder.layer[:2]: layer.requires_grad_(False)`.

## Fix safety
Ending a substring or prefix pattern at the dot (`"encoder.layer.1."`) is safe: names always continue after the
index with a dot, so the pattern then matches exactly the layer it names. It does change which layers train, which
is the intent. Inside a regular expression a `.` matches any character, so there the fix (`\\.`) is shown, not
applied.

## Runtime mode
`freezelint --runtime` confirms or refutes each finding: confirmed when, on the architecture the script builds, the
pattern also matches the names of other layers (listed), refuted when no layer index extends it; the replay also
finds such filters on its own.

## References
- tests/runtime/test_noop_freezes_runtime.py,
  `test_layer_1_filter_also_freezes_layers_10_and_11_and_the_fix_does_not` (on a 12-layer BERT,
  `"encoder.layer.1" in name` freezes layers 1, 10 and 11; the fixed filter, layer 1 only);
  tests/runtime/test_checkers.py, `test_frz108_confirmed_on_twelve_layers_and_refuted_on_two`.
- codegenes.net, "How to freeze a Hugging Face model in PyTorch"
  (https://www.codegenes.net/blog/how-to-freeze-huggingface-model-in-pytorch): "Freeze the first 2 layers of BERT"
  with `if 'encoder.layer.0' in name or 'encoder.layer.1' in name` on `bert-base-uncased`.
- transformers 5.25 `models/t5/modeling_t5.py`, `T5Block.__init__`: `self.layer` holds self-attention, cross-attention
  (decoder only) and feed-forward, at most three entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import libcst as cst

from freezelint import knowledge
from freezelint.facts import Facts, FreezeForm, FreezeOp
from freezelint.findings import Applicability, Level
from freezelint.rules import FixProposal, Message, Replacement, Report, edits, rule
from freezelint.rules.runtime_hooks import (
    CONFIRMED,
    NOT_CHECKABLE,
    REFUTED,
    Found,
    StaticFinding,
    Verdict,
    plural,
    runtime_detector,
    runtime_verdict,
)

if TYPE_CHECKING:
    from freezelint.runtime.view import RuntimeView

# Without a known layer count, indices whose collisions need at most this many tens of layers (1: 11+, 3: 31+).
UNKNOWN_DEPTH_MAX_INDEX = 3
SUBSTRING, PREFIX, REGEX = "a substring of", "a prefix of", "a regular expression searched in"

_PATTERN = "`{pattern}` ends in layer index {index}: as {how} the name it also matches "
_TREATED_ALIKE = ", so the {action} filter treats them like layer {index}. End the pattern at the dot: `{fixed}`."
# The other layers it matches, in a model of unknown depth or of a known number of layers.
ANY_DEPTH = (
    _PATTERN + "layers {index}0-{index}9 (`{container}.{index}0.`...) of any model with more than {index}0 layers"
    + _TREATED_ALIKE
)
KNOWN_DEPTH = _PATTERN + "{noun} {listed} of this {layers}-layer model" + _TREATED_ALIKE
# A pattern generated for each index of a range: `f"encoder.layer.{i}"` for `i in range(2)`.
_GENERATED = "`{pattern}` for `{variable}` in {indices} ends in the layer index: as {how} the name it also matches "
GENERATED_ANY_DEPTH = (
    _GENERATED + "layers {first}0-{first}9 (`{container}.{first}0.`...) of any model with more than {first}0 layers"
    + ", so the {action} filter treats them like the layers it names. End the pattern at the dot: `{fixed}`."
)
GENERATED_KNOWN_DEPTH = (
    _GENERATED + "{noun} {listed} of this {layers}-layer model, so the {action} filter treats them like the layers it "
    "names. End the pattern at the dot: `{fixed}`."
)


@rule("FRZ108", "name-filter-prefix-collision", Level.WARNING, fix=Applicability.SAFE, tokens=("requires_grad",))
def name_filter_prefix_collision(facts: Facts) -> Iterator[Report]:
    seen: set[int] = set()
    for op in facts.of(FreezeOp, uncalled=True):
        if op.form not in (FreezeForm.STORE, FreezeForm.CALL) or op.loop is None or not op.filters:
            continue
        names = {name.value for name in edits.bound_names(getattr(op.loop.node, "target", None))}
        model = op.module.model if op.module is not None else None
        layers = model.num_layers if model is not None else None
        sublayers = model is not None and knowledge.has_sublayer_lists(model.class_name, model.checkpoint)
        for branch in op.filters:
            if branch.test is None:
                continue
            for generated in _generated_patterns(branch.test, names):
                if id(generated.node) not in seen and (report := _generated_report(facts, op, generated, layers)):
                    seen.add(id(generated.node))
                    yield report
            for string, how in _patterns(branch.test, names):
                if id(string) in seen:
                    continue
                pattern = string.evaluated_value
                if isinstance(pattern, str) and how == REGEX:
                    pattern = pattern.replace("\\.", ".")  # `layer\.1` names the same layer as `layer.1`
                match = knowledge.LAYER_INDEX_PATTERN.search(pattern) if isinstance(pattern, str) else None
                if match is None:
                    continue
                if sublayers and match.group("container") == "layer":
                    continue  # T5's `layer.1` is a sub-layer of every block, not layer 1
                index = int(match.group("index"))
                collisions = _collisions(match.group("container"), index, layers)
                if collisions is None:
                    continue
                template, others = collisions
                seen.add(id(string))
                fixed = _with_suffix(string, "\\." if how == REGEX else ".")
                fields = {
                    "pattern": string.value,
                    "index": index,
                    "how": how,
                    **others,
                    "action": "unfreeze" if op.value else "freeze",
                    "fixed": fixed,
                }
                yield Report(
                    string,
                    Message(template, fields),
                    fix=FixProposal(
                        Applicability.DISPLAY if how == REGEX else Applicability.SAFE,
                        f"End the pattern at the dot: `{fixed}`",
                        (Replacement(string, fixed),),
                    ),
                )


def _collisions(container: str, index: int, layers: int | None) -> tuple[str, dict[str, object]] | None:
    """The other layers a pattern for `index` matches: the template that says which, and its fields; None when there
    are none."""
    if layers is None:
        if index > UNKNOWN_DEPTH_MAX_INDEX:
            return None
        return ANY_DEPTH, {"container": container}
    hit = [str(i) for i in range(layers) if i != index and str(i).startswith(str(index))]
    if not hit:
        return None
    listed = ", ".join(hit[:-1]) + (" and " if len(hit) > 1 else "") + hit[-1]
    return KNOWN_DEPTH, {"noun": "layers" if len(hit) > 1 else "layer", "listed": listed, "layers": layers}


def _patterns(test: cst.BaseExpression, names: set[str]) -> Iterator[tuple[cst.SimpleString, str]]:
    """String literals tested against one of `names` as a substring, a prefix or a regular expression."""
    for node in _walk(test):
        if isinstance(node, cst.Comparison) and isinstance(node.left, cst.SimpleString):
            if any(isinstance(t.operator, (cst.In, cst.NotIn)) and _mentions(t.comparator, names) for t in node.comparisons):
                yield node.left, SUBSTRING
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            method = node.func.attr.value
            if method == "startswith" and _mentions(node.func.value, names) and node.args:
                yield from ((s, PREFIX) for s in _strings(node.args[0].value))
            elif method in ("search", "match") and _is_re(node.func.value) and len(node.args) >= 2:
                if _mentions(node.args[1].value, names):
                    yield from ((s, REGEX) for s in _strings(node.args[0].value))
        elif isinstance(node, (cst.GeneratorExp, cst.ListComp)):
            yield from _any_of_literals(node, names)


def _any_of_literals(node: cst.GeneratorExp | cst.ListComp, names: set[str]) -> Iterator[tuple[cst.SimpleString, str]]:
    """`any(k in name for k in ["layer.0", "layer.1"])` and `any(name.startswith(k) for k in (...))`."""
    clause = node.for_in
    if not isinstance(clause.target, cst.Name) or clause.inner_for_in is not None:
        return
    variable = {clause.target.value}
    element = node.elt
    how = None
    if isinstance(element, cst.Comparison) and _mentions(element.left, variable):
        if any(isinstance(t.operator, (cst.In, cst.NotIn)) and _mentions(t.comparator, names) for t in element.comparisons):
            how = SUBSTRING
    elif isinstance(element, cst.Call) and isinstance(element.func, cst.Attribute) and element.func.attr.value == "startswith":
        if _mentions(element.func.value, names) and element.args and _mentions(element.args[0].value, variable):
            how = PREFIX
    if how is not None:
        yield from ((s, how) for s in _strings(clause.iter))


@dataclass(frozen=True)
class _Generated:
    """`f"encoder.layer.{i}"` tested against a name for each `i in range(...)`."""

    node: cst.FormattedString
    container: str
    variable: str
    indices: range
    how: str


def _generated_patterns(test: cst.BaseExpression, names: set[str]) -> Iterator[_Generated]:
    """`any(f"encoder.layer.{i}" in name for i in range(2))` and `any(name.startswith(f"...{i}") for i in range(k))`."""
    for node in _walk(test):
        if not isinstance(node, (cst.GeneratorExp, cst.ListComp)):
            continue
        clause = node.for_in
        indices = _literal_range(clause.iter)
        if not isinstance(clause.target, cst.Name) or clause.inner_for_in is not None or indices is None:
            continue
        element, how = node.elt, None
        pattern: cst.BaseExpression | None = None
        if isinstance(element, cst.Comparison) and len(element.comparisons) == 1:
            if isinstance(element.comparisons[0].operator, cst.In) and _mentions(element.comparisons[0].comparator, names):
                pattern, how = element.left, SUBSTRING
        elif isinstance(element, cst.Call) and isinstance(element.func, cst.Attribute) and element.args:
            if element.func.attr.value == "startswith" and _mentions(element.func.value, names):
                pattern, how = element.args[0].value, PREFIX
        if how is None or not isinstance(pattern, cst.FormattedString) or not pattern.parts:
            continue
        *texts, last = pattern.parts
        variable = clause.target.value
        if not (isinstance(last, cst.FormattedStringExpression) and isinstance(last.expression, cst.Name)
                and last.expression.value == variable and last.conversion is None and last.format_spec is None):
            continue
        if not all(isinstance(t, cst.FormattedStringText) for t in texts):
            continue
        prefix = "".join(t.value for t in texts if isinstance(t, cst.FormattedStringText))
        match = knowledge.LAYER_INDEX_PATTERN.search(prefix + "1")
        if match is not None:
            yield _Generated(pattern, match.group("container"), variable, indices, how)


def _literal_range(node: cst.BaseExpression) -> range | None:
    """`range(2)`, `range(0, 4)`: the range, when its arguments are integer literals."""
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "range"):
        return None
    bounds = [int(a.value.value) for a in node.args if isinstance(a.value, cst.Integer) and a.keyword is None]
    if len(bounds) != len(node.args) or not 1 <= len(bounds) <= 2:
        return None
    return range(*bounds)


def _generated_report(facts: Facts, op: FreezeOp, generated: _Generated, layers: int | None) -> Report | None:
    indices = generated.indices
    written = facts.code(generated.node)
    fixed = written[: -len(generated.node.end)] + "." + generated.node.end
    fields: dict[str, object] = {
        "pattern": written,
        "variable": generated.variable,
        "indices": f"`range({indices.start}, {indices.stop})`" if indices.start else f"`range({indices.stop})`",
        "how": generated.how,
        "action": "unfreeze" if op.value else "freeze",
        "fixed": fixed,
    }
    if layers is None:
        colliding = [i for i in indices if 1 <= i <= UNKNOWN_DEPTH_MAX_INDEX and i * 10 not in indices]
        if not colliding:
            return None
        template = GENERATED_ANY_DEPTH
        fields.update(first=colliding[0], container=generated.container)
    else:
        hit = [str(j) for j in range(layers) if j not in indices and any(str(j).startswith(str(i)) for i in indices)]
        if not hit:
            return None
        template = GENERATED_KNOWN_DEPTH
        listed = ", ".join(hit[:-1]) + (" and " if len(hit) > 1 else "") + hit[-1]
        fields.update(noun="layers" if len(hit) > 1 else "layer", listed=listed, layers=layers)
    fix = FixProposal(Applicability.SAFE, f"End the pattern at the dot: `{fixed}`", (Replacement(generated.node, fixed),))
    return Report(generated.node, Message(template, fields), fix=fix)


def _strings(node: cst.BaseExpression) -> list[cst.SimpleString]:
    if isinstance(node, cst.SimpleString):
        return [node]
    if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
        return [e.value for e in node.elements if isinstance(e.value, cst.SimpleString)]
    return []


def _is_re(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value in ("re", "regex")


def _mentions(node: cst.CSTNode, names: set[str]) -> bool:
    return any(isinstance(n, cst.Name) and n.value in names for n in _walk(node))


def _walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))



def _with_suffix(string: cst.SimpleString, suffix: str) -> str:
    """The literal as written, with `suffix` added before the closing quote."""
    quote = string.quote
    if "r" not in string.prefix.lower() and suffix == "\\.":
        suffix = "\\\\."
    return string.value[: -len(quote)] + suffix + string.value[-len(quote) :]


# --- runtime hooks (`freezelint --runtime`) ---------------------------------------------------------------------------


@runtime_detector("FRZ108")
def detect(view: RuntimeView) -> Iterator[Found]:
    for item in view.name_filters():
        collisions = view.layer_collisions(item)
        if collisions is None:
            continue
        seen, literal, extra_layers, hit, node = collisions
        record = view.state.harness.probe_at(item.stmt.lineno)
        changed = {seen.top.describe(p) for p in ((record.frozen | record.unfrozen).values() if record else [])}
        affected = sorted({name for name in hit if name in changed})
        if not affected:
            continue
        layers = ", ".join(extra_layers)
        evidence = (
            f"`{literal!r}` also matches layers {layers} of `{seen.top.name}`: {plural(len(affected), 'parameter tensor')} "
            f"there changed, e.g. `{affected[0]}`"
        )
        yield view.at_node(node, "FRZ108",
            f"The pattern `{literal!r}` in `{view.filter_text(item)}` is a prefix of other layer indices: {evidence}. "
            f"End the pattern at the dot (`{literal + '.'!r}`), or index the layers (`layer[:2]`).",
            evidence,
            seen.top,
        )


@runtime_verdict("FRZ108")
def verdict(finding: StaticFinding, view: RuntimeView) -> Verdict:
    missing = view.not_run(finding)
    for item in view.name_filters():
        on_filter = item.loop.lineno <= finding.row <= (item.stmt.end_lineno or item.stmt.lineno)
        if not (finding.row <= item.stmt.lineno <= max(finding.end_row, finding.row) or on_filter):
            continue
        if missing is not None and not view.state.ran(item.stmt.lineno):
            return missing
        collisions = view.layer_collisions(item)
        if collisions is None:
            seen = item.literals[0][0]
            return Verdict(REFUTED, f"`{seen!r}` matches no other layer on this architecture (no layer index extends it)")
        top_seen, literal, layers, hit, _ = collisions
        return Verdict(
            CONFIRMED,
            f"`{literal!r}` also matches layers {', '.join(layers)} of `{top_seen.top.name}` "
            f"({plural(len(hit), 'parameter name')}, e.g. `{hit[0]}`)",
        )
    return missing or Verdict(NOT_CHECKABLE, f"no name filter measured at line {finding.row}")
