"""What a rule's runtime hooks see: the replay's `State` and the measuring helpers of `freezelint.runtime.evidence`,
bound to it. Rule modules name this class only for type checkers (they never import the runtime), so the methods
here are the whole vocabulary a runtime hook may use besides `state` itself.
"""

from __future__ import annotations

import ast
from typing import Any, Iterator

from freezelint.facts import ModuleRef
from freezelint.rules.runtime_hooks import NOT_CHECKABLE, Found, StaticFinding, Verdict
from freezelint.runtime import evidence
from freezelint.runtime.evidence import Iterated, NameFilter
from freezelint.runtime.state import State, TopModel


class RuntimeView:
    def __init__(self, state: State, found: list[Found]) -> None:
        self.state = state
        self.found = found  # what the detectors found: a verdict may confirm a finding with one (and consume it)

    # --- places and findings ----------------------------------------------------------------------------------------

    def at(self, stmt: ast.stmt, code: str, message: str, evidence_text: str, model: TopModel | None) -> Found:
        return evidence.at(self.state, stmt, code, message, evidence_text, model)

    def at_node(self, node: ast.expr, code: str, message: str, evidence_text: str, model: TopModel | None) -> Found:
        return evidence.at_node(self.state, node, code, message, evidence_text, model)

    def at_line(self, row: int, code: str, message: str, evidence_text: str, model: TopModel | None) -> Found:
        return evidence.at_line(self.state, row, code, message, evidence_text, model)

    def statement_starting(self, row: int) -> ast.stmt | None:
        return evidence.statement_starting(self.state, row)

    def receiver_component(self, row: int) -> str:
        return evidence.receiver_component(self.state, row)

    def consume(self, code: str, top: TopModel) -> Found | None:
        """A detection of `code` on `top` no finding has claimed yet, now claimed."""
        for item in self.found:
            if item.code == code and item.model == top.name and not item.consumed:
                item.consumed = True
                return item
        return None

    # --- verdicts ---------------------------------------------------------------------------------------------------

    def not_run(self, finding: StaticFinding) -> Verdict | None:
        return evidence.not_run(finding, self.state)

    def incomplete(self) -> Verdict | None:
        return evidence.incomplete(self.state)

    def still_trainable(self, finding: StaticFinding) -> Verdict:
        """A module switched to eval mode on the finding's line: confirmed while its parameters still require grad."""
        return evidence.still_trainable(finding, self.state)

    def no_op(self, finding: StaticFinding, detail: str) -> Verdict:
        return evidence.no_op(finding, self.state, detail)

    def changes(self, finding: StaticFinding) -> tuple[int, int, int] | None:
        return evidence.changes(finding, self.state)

    # --- models -----------------------------------------------------------------------------------------------------

    def model_at(self, finding: StaticFinding) -> TopModel | None:
        return evidence.model_at(finding, self.state)

    def subject(self, finding: StaticFinding, must_run: bool = True) -> TopModel | Verdict:
        """The model a finding is about, or the verdict that says why it cannot be checked: its line did not run
        (with `must_run`), the replay stopped before all of its freezing, or it built no such model."""
        stopped = (self.not_run(finding) if must_run else None) or self.incomplete()
        if stopped is not None:
            return stopped
        top = self.model_at(finding)
        if top is None:
            return Verdict(NOT_CHECKABLE, "the replay did not produce the model this finding is about")
        return top

    def training_line(self, top: TopModel) -> int | None:
        return evidence.training_line(self.state, top)

    @staticmethod
    def trainable_summary(top: TopModel) -> str:
        return evidence.trainable_summary(top)

    @staticmethod
    def largest_trainable(top: TopModel) -> str:
        return evidence.largest_trainable(top)

    @staticmethod
    def inside_any(top: TopModel, name: str, targets: list[Any]) -> bool:
        return evidence.inside_any(top, name, targets)

    @staticmethod
    def trainable_under(top: TopModel, owners: list[str]) -> str:
        return evidence.trainable_under(top, owners)

    def module_for_static(self, ref: ModuleRef) -> Any | None:
        """The runtime module a static reference names, where its path can be followed."""
        return evidence.module_for_static(self.state, ref)

    @staticmethod
    def adapter_parameters(top: TopModel) -> list[tuple[str, Any]]:
        """(name, parameter) of the weights PEFT added to `top` (LoRA matrices, IA3 vectors, prompt encoders...)."""
        return evidence.adapter_parameters(top)

    def batchnorm_drifting(self, top: TopModel) -> list[tuple[str, Any]]:
        return evidence.batchnorm_drifting(self.state, top)

    def freezing_line(self, parameters: list[Any]) -> int | None:
        return evidence.freezing_line(self.state, parameters)

    # --- name filters -----------------------------------------------------------------------------------------------

    def name_filters(self) -> list[NameFilter]:
        return evidence.name_filters(self.state)

    def iterated(self, item: NameFilter) -> Iterated | None:
        return evidence.iterated(self.state, item)

    def filter_text(self, item: NameFilter) -> str:
        return evidence.filter_text(self.state, item)

    def layer_collisions(self, item: NameFilter) -> tuple[Iterated, str, list[str], list[str], ast.expr] | None:
        return evidence.layer_collisions(self.state, item)

    @staticmethod
    def matches(literal: str, how: str, name: str) -> bool:
        return evidence.matches(literal, how, name)

    @staticmethod
    def prefixes(names: list[str], limit: int = 4) -> str:
        return evidence.prefixes(names, limit)

    # --- optimizers -------------------------------------------------------------------------------------------------

    def unfrozen_after_build(self) -> Iterator[tuple[Any, TopModel, list[Any]]]:
        return evidence.unfrozen_after_build(self.state)

    def unfreezes_later(self, line: int) -> bool:
        return evidence.unfreezes_later(self.state, line)
