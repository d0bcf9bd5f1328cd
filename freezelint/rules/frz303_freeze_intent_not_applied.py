"""## What it does
Finds a freeze setting that a training script offers and never applies. A command-line option (`argparse`, click,
typer), a `@dataclass` field (what `HfArgumentParser` turns into options) or a config-dict key named `freeze*`,
`*_frozen` or `train_base*` is read nowhere in the file, or is read but no freeze depends on it.

## Why is this bad?
The user passes `--freeze-encoder`, the run starts, and every layer trains anyway: nothing warns, and the results
look like an experiment with a frozen encoder. It also happens when the option is handed to a function that drops
it (roboflow/rf-detr#357: `freeze_encoder` passed to `train()` and ignored).

## Example
```python
parser.add_argument("--freeze_encoder", action="store_true")
args = parser.parse_args()
model = AutoModelForSequenceClassification.from_pretrained(args.model_name)
trainer = Trainer(model=model, args=training_args, train_dataset=train)
trainer.train()
```

Use instead:
```python
if args.freeze_encoder:
    model.base_model.requires_grad_(False)
```

It only looks at files that train (a `train()`/`fit()` call, an optimizer step or a `backward()`), and stays silent
when the setting may be used where the analysis cannot see: the parsed options (or the config dict) handed whole to
a function of another module, `vars(args)`, or the value passed to such a function or stored on another object.
Library code that merely defines `freeze_*` methods is not concerned.

## Fix safety
No fix: what the option should freeze is the author's decision.

## Runtime mode
No runtime verdict: the finding is about a setting the script offers and never applies, so the replay's outcome
depends on the arguments given; replay with the setting on (`freezelint --runtime train.py -- --freeze_encoder`) and
the model table shows whether anything was frozen.

## References
- roboflow/rf-detr#357: `freeze_encoder` passed to `train()` and ignored.
- tests/runtime/test_frz303_runtime.py, `test_the_option_is_passed_and_everything_still_trains` (the option is set,
  and every parameter is trainable; applied, only the head is).
"""

from __future__ import annotations

import builtins
import sys
from typing import Iterator

import libcst as cst
import libcst.matchers as m

from freezelint import knowledge
from freezelint.facts import (
    Backward,
    Event,
    Facts,
    FreezeOp,
    LibraryCall,
    OpaqueUse,
    OptimizerCall,
    OptionDefinition,
    PeftApply,
    TrainCall,
)
from freezelint.findings import Level
from freezelint.rules import Message, Report, rule

_BUILTINS = frozenset(dir(builtins))
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()))
_LOGGING_METHODS = frozenset({"info", "debug", "warning", "warn", "error", "critical", "exception", "log", "print", "write", "dump", "dumps"})
_PARSE_METHODS = frozenset(
    {"parse_args", "parse_known_args", "parse_intermixed_args", "parse_args_into_dataclasses", "parse_dict",
     "parse_json_file", "parse_yaml_file"}
)

# How the message names the setting, by the kind of its definition.
_SUBJECTS = {
    "argparse": "The option `{option}`",
    "click": "The option `{option}`",
    "typer": "The option `{option}`",
    "dataclass field": "The argument field `{option}`",
    "config key": "The config key {option}",
}
# Whether the file reads it.
_STATES = {
    True: "is read (line {line}) but no freeze depends on it",
    False: "is defined here but nothing in this file reads it",
}
# The message by (kind, read).
MESSAGES = {
    (kind, read): (
        subject + " " + state + ": setting it changes nothing, the model trains exactly as without it. Apply it where "
        "the model is built (`if {value}: <layers to freeze>.requires_grad_(False)`), or remove it."
    )
    for kind, subject in _SUBJECTS.items()
    for read, state in _STATES.items()
}


@rule("FRZ303", "freeze-intent-not-applied", Level.WARNING, tokens=("freeze", "frozen", "train_base", "train-base"))
def freeze_intent_not_applied(facts: Facts) -> Iterator[Report]:
    options = [d for d in facts.of(OptionDefinition, uncalled=True) if knowledge.FREEZE_OPTION_NAME.search(d.name)]
    if not options or not _trains(facts):
        return
    code = _Code(facts)
    for option in options:
        if option.scope is None and code.holder_escapes:
            continue
        reads = code.reads(option)
        if any(code.escapes(read) for read in reads) or any(code.applied(read) for read in reads):
            continue
        yield Report(option.node, _message(facts, option, reads, code.holder()))


def _trains(facts: Facts) -> bool:
    return bool(facts.of(TrainCall, uncalled=True) or facts.of(Backward, uncalled=True) or any(c.method == "step" for c in facts.of(OptimizerCall, uncalled=True)))


class _Code:
    """What the rule needs to know about the file's syntax beyond the facts: where names are read and passed."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        syntax = facts.syntax()  # the walk `facts.references` needs anyway
        self.calls, self.assigns, self.returns = syntax.calls, syntax.assigns, syntax.returns
        self.local_callables = {f.name for f in facts.functions} | {c.name for c in facts.classes}
        self.library = {id(call.call): call.qualname for call in facts.of(LibraryCall, uncalled=True)}
        self.regions = [region for event in facts.all_events(uncalled=True) if _may_freeze(event) for region in _regions(event)]
        self.holder_escapes = self._holder_escapes()

    def reads(self, option: OptionDefinition) -> list[cst.CSTNode]:
        """Every mention of the option's name outside its definition, and of the names it is copied into."""
        names, found, seen = [option.name], [], set()
        while names:
            name = names.pop()
            if name in seen:
                continue
            seen.add(name)
            for node in self.facts.references(name):
                if self.facts.within(node, option.node) or (option.scope is not None and not self.facts.within(node, option.scope.body)):
                    continue
                found.append(node)
                names.extend(self._copies(node))
        return found

    def _copies(self, node: cst.CSTNode) -> list[str]:
        """`freeze = args.freeze_encoder` or `self.freeze = freeze`: the names the value is copied into."""
        names = []
        for assign in self.assigns:
            value = assign.value
            if value is None or not self.facts.within(node, value):
                continue
            targets = [t.target for t in assign.targets] if isinstance(assign, cst.Assign) else [assign.target]
            for target in targets:
                if isinstance(target, cst.Name):
                    names.append(target.value)
                elif isinstance(target, cst.Attribute):
                    names.append(target.attr.value)
        return names

    def applied(self, node: cst.CSTNode) -> bool:
        """The read decides a freeze: it sits in the test of an `if` around one, in its statement, its loop header,
        or in a call that leads to it."""
        return any(self.facts.within(node, region) for region in self.regions)

    def escapes(self, node: cst.CSTNode) -> bool:
        """The value goes where the analysis cannot follow: an argument of a function of another module, a store on
        another object or into a container, a `return`."""
        for call in self.calls:
            if not self._local(call) and any(self.facts.within(node, arg.value) for arg in call.args):
                return True
        for assign in self.assigns:
            targets = [t.target for t in assign.targets] if isinstance(assign, cst.Assign) else [assign.target]
            if assign.value is not None and self.facts.within(node, assign.value):
                if any(isinstance(t, cst.Subscript) or (isinstance(t, cst.Attribute) and not _on_self(t)) for t in targets):
                    return True
        return any(r.value is not None and self.facts.within(node, r.value) for r in self.returns)

    def _local(self, call: cst.Call) -> bool:
        func = call.func
        if isinstance(func, cst.Name):
            return func.value in self.local_callables or func.value in _BUILTINS
        return isinstance(func, cst.Attribute) and func.attr.value in self.local_callables and (
            isinstance(func.value, cst.Name) and func.value.value in ("self", "cls")
        )

    def _holder_escapes(self) -> bool:
        """The parsed options or a config dict handed whole to code of another module (`train(args)`,
        `vars(args)`): any option may be read there."""
        holders = self._holders()
        for call in self.calls:
            if self._local(call) and not (isinstance(call.func, cst.Name) and call.func.value in ("vars", "dict")):
                continue
            if self._inert(call):
                continue
            for arg in call.args:
                value = arg.value
                if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in ("vars", "asdict", "dict"):
                    value = value.args[0].value if value.args else value
                if isinstance(value, cst.Attribute) and value.attr.value == "__dict__":
                    value = value.value
                if _holder_name(value) in holders:
                    return True
        return False

    def _inert(self, call: cst.Call) -> bool:
        """A call that reads no freeze setting out of options handed to it: a library that never freezes
        (`Trainer(args=training_args)`, `torch.save(...)`), or logging."""
        qualname = self.library.get(id(call))
        if qualname is not None and qualname.split(".", 1)[0] in knowledge.INERT_PACKAGES | _STDLIB:
            return True
        return isinstance(call.func, cst.Attribute) and call.func.attr.value in _LOGGING_METHODS

    def holder(self) -> str:
        """What the file calls its parsed options, for messages (`args`)."""
        for assign in self.assigns:
            value = assign.value
            if isinstance(assign, cst.Assign) and isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
                if value.func.attr.value in _PARSE_METHODS:
                    names = [name for t in assign.targets for name in _bound_names(t.target)]
                    if names:
                        return names[0]
        return "args"

    def _holders(self) -> set[str]:
        """Names that hold options: results of `parse_args()`-like calls, config dicts, and whatever an option is read
        from (`args` in `args.lr`)."""
        holders: set[str] = set()
        for assign in self.assigns:
            if not isinstance(assign, cst.Assign):
                continue
            value = assign.value
            parsed = isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in _PARSE_METHODS
            if parsed or isinstance(value, cst.Dict):
                for target in assign.targets:
                    holders.update(_bound_names(target.target))
        for definition in self.facts.of(OptionDefinition, uncalled=True):
            for node in self.facts.references(definition.name):
                if isinstance(node, cst.Attribute):
                    name = _holder_name(node.value)
                    if name:
                        holders.add(name)
        return holders


def _bound_names(target: cst.BaseExpression) -> list[str]:
    """Every name in an assignment target (`args` in `args = ...`, `a` and `b` in `a, b = ...`), in order."""
    # m.Name() matches cst.Name nodes only; the isinstance tells the type checker so.
    return [node.value for node in m.findall(target, m.Name()) if isinstance(node, cst.Name)]


def _holder_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def _on_self(target: cst.Attribute) -> bool:
    return isinstance(target.value, cst.Name) and target.value.value in ("self", "cls")


def _may_freeze(event: Event) -> bool:
    """Events a freeze setting could drive: freezes and unfreezes, PEFT, a model handed to unseen code."""
    return isinstance(event, (FreezeOp, PeftApply, OpaqueUse))


def _regions(event: Event) -> Iterator[cst.CSTNode]:
    """The code whose values decide whether and how an event happens."""
    where = event.where
    yield where.statement or where.node
    for branch in where.branches:
        if branch.test is not None:
            yield branch.test
    for loop in where.loops:
        header = getattr(loop.node, "iter", None) or getattr(loop.node, "test", None)
        if header is not None:
            yield header
    yield from where.calls


def _message(facts: Facts, option: OptionDefinition, reads: list[cst.CSTNode], holder: str) -> Message:
    fields: dict[str, object] = {"option": option.name if option.kind in ("typer", "dataclass field") else option.spelled}
    if reads:
        fields["line"] = facts.line(reads[0])
    if option.kind in ("click", "typer"):
        value = option.name
    elif option.kind == "config key":
        statement = option.where.statement
        targets = statement.targets if isinstance(statement, cst.Assign) else []
        name = targets[0].target if targets else None
        value = f'{name.value if isinstance(name, cst.Name) else "config"}[{option.spelled}]'
    else:
        value = f"{holder}.{option.name}"
    fields["value"] = value
    return Message(MESSAGES[option.kind, bool(reads)], fields)
