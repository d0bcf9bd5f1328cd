"""The state a replay left: the models (each counted once, at the top), their parameters, and the ties to the static
facts (which model a finding's line is about, whether the file trains it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable

from freezelint import facts as F
from freezelint.runtime.harness import Failure, Harness, OptimizerRecord
from freezelint.runtime.loader import Loaded, Loader
from freezelint.runtime.slicer import Plan


CONSEQUENCES = ("NameError", "UnboundLocalError", "AttributeError")  # what an earlier failure leaves behind


@dataclass
class Row:
    """One line of a model's table: a top-level module (or the model's own parameters)."""

    name: str
    class_name: str
    total: int
    trainable: int

    @property
    def frozen(self) -> int:
        return self.total - self.trainable


@dataclass(eq=False)
class TopModel:
    """A model the script ended up with, not contained in another one (a PEFT wrapper, not its base)."""

    module: Any
    name: str
    loaded: list[Loaded] = field(default_factory=list)

    @cached_property
    def named(self) -> list[tuple[str, Any]]:
        """`named_parameters()`: each parameter once, under its first name."""
        return list(self.module.named_parameters())

    @cached_property
    def names_by_id(self) -> dict[int, str]:
        return {id(p): name for name, p in self.named}

    @cached_property
    def aliases(self) -> dict[int, list[str]]:
        """Every name of each parameter (a tied weight has several)."""
        found: dict[int, list[str]] = {}
        for name, parameter in self.module.named_parameters(remove_duplicate=False):
            found.setdefault(id(parameter), []).append(name)
        return found

    @property
    def tied(self) -> list[list[str]]:
        return [names for names in self.aliases.values() if len(names) > 1]

    @property
    def total(self) -> int:
        return sum(p.numel() for _, p in self.named)

    @property
    def trainable(self) -> int:
        return sum(p.numel() for _, p in self.named if p.requires_grad)

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    @property
    def class_name(self) -> str:
        return type(self.module).__name__

    @property
    def line(self) -> int | None:
        lines = [entry.line for entry in self.loaded if entry.line is not None]
        return min(lines) if lines else None

    def owns(self, parameter: Any) -> bool:
        return id(parameter) in self.names_by_id

    def contains_module(self, module: Any) -> bool:
        return any(m is module for m in self.module.modules())

    def rows(self) -> tuple[str, list[Row]]:
        """The table per top-level module, looking through wrappers with a single child (PEFT, torch.compile):
        the prefix those wrappers add, and the rows."""
        module, prefix = self.module, ""
        while True:
            children = list(module.named_children())
            if len(children) == 1 and not list(module.named_parameters(recurse=False)):
                name, module = children[0]
                prefix += name + "."
                continue
            break
        seen: set[int] = set()
        rows: list[Row] = []
        own = [p for _, p in module.named_parameters(recurse=False)]
        if own:
            rows.append(_row("(own parameters)", type(module).__name__, own, seen))
        for name, child in module.named_children():
            parameters = [p for p in child.parameters()]
            if parameters:
                rows.append(_row(name, type(child).__name__, parameters, seen))
        return prefix, [row for row in rows if row.total]

    def describe(self, parameter: Any) -> str:
        return self.names_by_id.get(id(parameter), "?")

    def summary(self) -> dict[str, Any]:
        """JSON-ready: counts, the table per top-level module, tied groups, where it was loaded from."""
        prefix, rows = self.rows()
        return {
            "name": self.name,
            "class": self.class_name,
            "line": self.line,
            "loaded": [
                {"checkpoint": entry.checkpoint, "line": entry.line, "source": entry.source, "notes": entry.notes}
                for entry in self.loaded
            ],
            "total": self.total,
            "trainable": self.trainable,
            "frozen": self.frozen,
            "prefix": prefix,
            "modules": [
                {"name": row.name, "class": row.class_name, "total": row.total, "trainable": row.trainable}
                for row in rows
            ],
            "tied": self.tied,
        }


def _row(name: str, class_name: str, parameters: Iterable[Any], seen: set[int]) -> Row:
    total = trainable = 0
    for parameter in parameters:
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        total += parameter.numel()
        trainable += parameter.numel() if parameter.requires_grad else 0
    return Row(name, class_name, total, trainable)


class State:
    """Everything the rules' runtime hooks read after one replay (through `RuntimeView`)."""

    def __init__(self, facts: F.Facts, plan: Plan, harness: Harness, loader: Loader) -> None:
        self.facts = facts
        self.plan = plan
        self.harness = harness
        self.loader = loader
        self.models = self._top_models()

    # --- models -----------------------------------------------------------------------------------------------------

    def _top_models(self) -> list[TopModel]:
        candidates = [m for m in self.harness.modules() if any(True for _ in m.parameters())]
        contained: set[int] = set()
        inside: dict[int, set[int]] = {}
        for candidate in candidates:
            inside[id(candidate)] = {id(m) for m in candidate.modules()}
        for candidate in candidates:
            for other in candidates:
                if other is not candidate and id(candidate) in inside[id(other)] and id(other) not in contained:
                    contained.add(id(candidate))
                    break
        tops = [TopModel(c, self._name_of(c)) for c in candidates if id(c) not in contained]
        for loaded in self.loader.loaded:
            for top in tops:
                if id(loaded.model) in inside[id(top.module)]:
                    top.loaded.append(loaded)
                    break
        tops.sort(key=lambda t: (t.line is None, t.line or 0))
        return tops

    def _name_of(self, module: Any) -> str:
        for scope in [*reversed(self.harness.namespaces), self.harness.globals]:
            for name, value in scope.items():
                if value is module and not name.startswith("_"):
                    return name
        for loaded in self.loader.loaded:
            if loaded.model is module and loaded.line is not None:
                return f"the {type(module).__name__} loaded at line {loaded.line}"
        return type(module).__name__

    def model_of(self, parameter_or_module: Any) -> TopModel | None:
        import torch

        for top in self.models:
            if isinstance(parameter_or_module, torch.nn.Module):
                if top.contains_module(parameter_or_module):
                    return top
            elif top.owns(parameter_or_module):
                return top
        return None

    def model_loaded_between(self, start: int, end: int) -> TopModel | None:
        for top in self.models:
            if any(entry.line is not None and start <= entry.line <= end for entry in top.loaded):
                return top
        return None

    def model_for_static(self, model: F.Model) -> TopModel | None:
        """The runtime model a static `Model` became (through its loading line, its wrapper, or its class)."""
        start, end = self.statement_lines(self.facts.line(model.where.statement or model.node))
        found = self.model_loaded_between(start, end)
        if found is not None:
            return found
        if model.inner is not None:
            return self.model_for_static(model.inner)
        for top in self.models:
            if model.class_name and top.class_name == model.class_name:
                return top
        for _, sub in model.submodels():
            found = self.model_for_static(sub) if sub is not model else None
            if found is not None:
                return found
        return None

    def trained(self, top: TopModel) -> str | None:
        """How the file trains this model (for messages), or None when nothing shows it is trained."""
        for model in self.facts.models:
            if model.abstract or self.model_for_static(model) is not top:
                continue
            training = self.facts.training_of(model)
            if training is not None:
                return training.how
        for record in self.harness.trainers:
            if getattr(record.trainer, "model", None) is not None and top.contains_module(record.trainer.model):
                return "the Trainer"
        for optimizer in self.optimizers_of(top):
            return f"the optimizer built at line {optimizer.line}"
        return None

    def trained_by_trainer(self, top: TopModel) -> bool:
        """True when an HF-style Trainer trains the model (it calls `model.train()` every step)."""
        for call in self.facts.of(F.TrainCall, uncalled=True):
            for option in call.model.candidates():
                ref = F.as_ref(option)
                if ref is not None:
                    for model in [ref.model, *[m for _, m in ref.model.submodels()]]:
                        if self.model_for_static(model) is top:
                            return True
        return bool(self.harness.trainers)

    def optimizers_of(self, top: TopModel) -> list[OptimizerRecord]:
        return [record for record in self.harness.optimizers if any(top.owns(p) for p in record.parameters)]

    # --- lines ------------------------------------------------------------------------------------------------------

    def statement_lines(self, row: int) -> tuple[int, int]:
        span = self.plan.statement_spans.get(row)
        return (row, span[2]) if span is not None else (row, row)

    def replayed(self, row: int) -> bool:
        return row in self.plan.kept_lines

    def ran(self, row: int) -> bool:
        """The statement at `row` ran to its end (a statement that raised did not: its effect is missing)."""
        return self.harness.ran(row) and self.failure_at(row) is None

    def failure_at(self, row: int) -> Failure | None:
        return next((f for f in self.harness.failures if f.line == row), None)

    def root_failure(self, failure: Failure) -> Failure:
        """The failure that caused this one: a NameError or AttributeError after an earlier failure is its
        consequence (`model` is undefined because building it failed)."""
        if failure.kind in CONSEQUENCES:
            for earlier in self.harness.failures:
                if earlier is failure:
                    break
                if earlier.kind not in CONSEQUENCES:
                    return earlier
        return failure

    def describe_failure(self, failure: Failure) -> str:
        """`line 3 failed in the replay (NameError: ...), because line 2 failed first (ConfigNotFound: ...)`."""
        text = f"line {failure.line} failed in the replay ({failure.describe()})"
        root = self.root_failure(failure)
        if root is not failure:
            text += f", because line {root.line} failed first ({root.describe()})"
        return text

    def unbuilt_models(self) -> list[tuple[int, str]]:
        """The models the script builds that the replay could not build: (line, what to tell the user)."""
        found: list[tuple[int, str]] = []
        for model in self.facts.models:
            if model.abstract or model.source in (F.ModelSource.LAYER, F.ModelSource.FACTORY):
                continue
            start, end = self.statement_lines(self.facts.line(model.where.statement or model.node))
            failure = next((f for f in self.harness.failures if start <= f.line <= end), None)
            if failure is not None and all(line != start for line, _ in found):
                root = self.root_failure(failure)
                where = f" (line {root.line})" if root.line != start else ""
                found.append((start, f"the model at line {start} could not be built: {root.describe()}{where}"))
        return found

    def incomplete(self) -> str | None:
        """Why the final trainable state may not be the script's (a statement that changes what trains failed or
        was left out), or None. Whole-model conclusions are not drawn from an incomplete state."""
        for failure in self.harness.failures:
            if failure.line in self.plan.freezing_lines:
                return f"line {failure.line}, which changes what trains, failed in the replay ({failure.describe()})"
        for line in sorted(self.plan.blockers):
            if line in self.plan.freezing_lines:
                return self.why_not_run(line)
        if self.harness.refused is not None:
            return self.ended_by_refusal()
        return None

    def ended_by_refusal(self) -> str:
        from freezelint.runtime.audit import meaning

        refused = self.harness.refused
        assert refused is not None
        where = f"line {refused.line}" if refused.line else "a line outside the script"
        return f"the replay ended at {where}, where the sandbox refused to {meaning(refused.event)} (`{refused.event}`)"

    def unfrozen_in_callbacks(self) -> bool:
        """A trainer callback unfreezes parameters: at train start the state changes after the replay's."""
        return any(
            op.where.callback_of is not None and op.value is not False for op in self.facts.of(F.FreezeOp, uncalled=True)
        )

    def why_not_run(self, row: int) -> str:
        """Why the statement at a line has no runtime evidence."""
        blocker = self.plan.blockers.get(row)
        if blocker is not None:
            return (
                f"line {row} was not replayed: it needs line {blocker.line} (`{blocker.code}`), which {blocker.reason}"
            )
        failure = self.failure_at(row)
        if failure is not None:
            return self.describe_failure(failure)
        if self.harness.refused is not None and not self.ran(row):
            return f"line {row} did not run: {self.ended_by_refusal()}"
        if self.harness.stopped is not None and self.harness.stopped.line is not None:
            return f"line {row} did not run before {self.harness.stopped.reason} (line {self.harness.stopped.line})"
        if self.plan.exec_mode and self.harness.failures:  # under --exec, an error ends the script
            ended = self.harness.failures[-1]
            return f"line {row} did not run: the script ended at line {ended.line} ({ended.describe()})"
        if not self.plan.exec_mode and not self.replayed(row):
            return f"line {row} runs during training, after the point the replay stops"
        return f"line {row} did not run in the replay: {self._unreached(row)}"

    def _unreached(self, row: int) -> str:
        """Why a replayed line did not run: its function was never called, or its branch not taken."""
        import ast

        index = self.plan.index
        stmt = next((s for s in index.statements() if s.lineno == row), None) or index.at(row, 0)
        if stmt is None:
            return "its branch was not taken, or its function never called"
        for ancestor in index.ancestors(stmt):
            if isinstance(ancestor, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not any(self.ran(s.lineno) for s in index.children(ancestor)):
                    return f"nothing calls `{ancestor.name}` (line {ancestor.lineno})"
            if isinstance(ancestor, (ast.If, ast.While)) and self.ran(ancestor.lineno):
                return f"the condition at line {ancestor.lineno} was false"
        return "its branch was not taken, or its function never called"
