"""One document's findings, in the editor's terms: diagnostics, quick fixes, `# noqa` actions, the fix-all edit and
hover text. Everything here is computed from the public lint path (`lint_source`, `fix_source`, `add_noqa`), the
same the CLI takes, and nothing here writes a file: fixes go back to the editor as edits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Hashable

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from freezelint import noqa
from freezelint.config import Settings
from freezelint.findings import Applicability, Finding, Fix, Level
from freezelint.fixes import apply_fixes, applies, fix_source
from freezelint.linter import lint_source
from freezelint.server.documents import Place, Positions, Snapshot, program_edits
from freezelint.source import Source, SourceError

SOURCE = "freezelint"
FIX_ALL = "source.fixAll.freezelint"
SEVERITY = {
    Level.ERROR: types.DiagnosticSeverity.Error,
    Level.WARNING: types.DiagnosticSeverity.Warning,
    Level.NOTE: types.DiagnosticSeverity.Information,
}

Changes = dict[str, list[types.TextEdit]]


@dataclass(frozen=True)
class Flagged:
    """One finding, placed on its document, with its diagnostic and the edits of its fix (None: no fix that can
    be offered as an edit, such as a display-only one or a change a notebook cannot take)."""

    finding: Finding
    place: Place
    diagnostic: types.Diagnostic
    fix_changes: Changes | None


@dataclass(frozen=True)
class Analysis:
    """What linting one snapshot gave. `error` says why there are no findings (a syntax error, a bad configuration,
    an internal error), or is None."""

    snapshot: Snapshot
    settings: Settings | None
    source: Source | None = None
    flagged: tuple[Flagged, ...] = ()
    error: str | None = None
    codec: PositionCodec | None = field(default=None, compare=False, repr=False)

    def diagnostics(self) -> dict[str, list[types.Diagnostic]]:
        """The diagnostics of every document of the snapshot (an empty list clears a cell's old ones)."""
        by_uri: dict[str, list[types.Diagnostic]] = {uri: [] for uri in self.snapshot.uris}
        for flagged in self.flagged:
            by_uri.setdefault(flagged.place.uri, []).append(flagged.diagnostic)
        return by_uri

    def at(self, uri: str, position: types.Position) -> list[Flagged]:
        return [flagged for flagged in self.flagged if flagged.place.uri == uri and flagged.place.contains(position)]

    def overlapping(self, uri: str, span: types.Range) -> list[Flagged]:
        return [flagged for flagged in self.flagged if flagged.place.uri == uri and flagged.place.overlaps(span)]

    # -- code actions -------------------------------------------------------------------------------------------

    def quick_fixes(self, flagged: Flagged) -> list[types.CodeAction]:
        """The finding's fix (safe ones preferred, unsafe ones marked) and the `# noqa: CODE` that silences it."""
        actions = []
        finding = flagged.finding
        if flagged.fix_changes and finding.fix is not None:
            unsafe = finding.fix.applicability is Applicability.UNSAFE
            actions.append(
                types.CodeAction(
                    title=f"{finding.fix.message} ({finding.code}{', unsafe fix: review it' if unsafe else ''})",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[flagged.diagnostic],
                    edit=types.WorkspaceEdit(changes=flagged.fix_changes),
                    is_preferred=not unsafe,
                )
            )
        silence = self.noqa_changes(finding)
        if silence:
            actions.append(
                types.CodeAction(
                    title=f"Silence {finding.code} with `# noqa: {finding.code}`",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[flagged.diagnostic],
                    edit=types.WorkspaceEdit(changes=silence),
                )
            )
        return actions

    def noqa_changes(self, finding: Finding) -> Changes | None:
        assert self.source is not None and self.codec is not None
        text, added = noqa.add_noqa(self.source, [finding])
        if not added:
            return None
        try:
            return program_edits(self.snapshot, self.source, text, self.codec)
        except SourceError:  # the comment would go on a line of IPython syntax
            return None

    def fixable(self) -> bool:
        """Whether some finding has a safe fix (what "fix all" applies)."""
        return any(applies(flagged.finding.fix, unsafe=False) for flagged in self.flagged)

    def fix_all_changes(self) -> Changes:
        """Every safe fix, applied as `freezelint --fix` would (fix, lint again, fix what remains), as edits."""
        assert self.source is not None and self.settings is not None and self.codec is not None
        outcome = fix_source(self.source, self.settings.rules(), False, self.settings)
        if outcome.applied == 0:
            return {}
        try:
            return program_edits(self.snapshot, self.source, outcome.text, self.codec)
        except SourceError:
            return {}

    # -- hover ----------------------------------------------------------------------------------------------------

    def hover(self, uri: str, position: types.Position) -> types.Hover | None:
        """The rule's documentation for each finding under the cursor."""
        from freezelint.rules import get_rule

        here = self.at(uri, position)
        if not here:
            return None
        parts = []
        for flagged in here:
            finding = flagged.finding
            rule = get_rule(finding.code)
            heading = f"**{finding.code}** `{finding.name}` ({finding.level})"
            docs = rule.doc if rule is not None else ""
            link = f"\n\n[{finding.code} documentation]({finding.url})" if finding.url else ""
            parts.append(f"{heading}\n\n{finding.message}\n\n---\n\n{docs}{link}")
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)),
            range=here[0].place.range,
        )


def analyse(snapshot: Snapshot, settings: Settings | None, codec: PositionCodec, problem: str | None = None) -> Analysis:
    """Lint a snapshot with `settings` (None, with `problem` saying why: nothing is linted)."""
    if settings is None:
        return Analysis(snapshot, None, error=problem or "no settings", codec=codec)
    try:
        source = snapshot.source()
    except SourceError as error:
        return Analysis(snapshot, settings, error=str(error), codec=codec)
    result = lint_source(source, settings.rules(), settings)
    if result.error is not None:
        return Analysis(snapshot, settings, source, error=result.error.message, codec=codec)
    positions = Positions(snapshot, source, codec)
    flagged = []
    for finding in result.findings:
        place = positions.place(finding.start, finding.end)
        changes = _fix_changes(snapshot, source, finding.fix, codec)
        flagged.append(Flagged(finding, place, _diagnostic(finding, place, changes), changes))
    return Analysis(snapshot, settings, source, tuple(flagged), codec=codec)


def _fix_changes(snapshot: Snapshot, source: Source, fix: Fix | None, codec: PositionCodec) -> Changes | None:
    if fix is None or fix.applicability is Applicability.DISPLAY:
        return None
    text, applied = apply_fixes(source.text, [fix])
    if not applied:
        return None
    try:
        return program_edits(snapshot, source, text, codec) or None
    except SourceError:  # a notebook change touching IPython syntax or two cells: `--fix` would not make it either
        return None


def _diagnostic(finding: Finding, place: Place, changes: Changes | None) -> types.Diagnostic:
    data: dict[str, Any] = {"name": finding.name, "fix": None}
    if finding.fix is not None:
        data["fix"] = {
            "applicability": finding.fix.applicability.value,
            "message": finding.fix.message,
            "changes": {uri: [_edit_json(edit) for edit in edits] for uri, edits in (changes or {}).items()},
        }
    return types.Diagnostic(
        range=place.range,
        message=finding.message,
        severity=SEVERITY[finding.level],
        code=finding.code,
        code_description=types.CodeDescription(href=finding.url) if finding.url else None,
        source=SOURCE,
        data=data,
    )


def _edit_json(edit: types.TextEdit) -> dict[str, Any]:
    def position(p: types.Position) -> dict[str, int]:
        return {"line": p.line, "character": p.character}

    return {"range": {"start": position(edit.range.start), "end": position(edit.range.end)}, "newText": edit.new_text}


class AnalysisCache:
    """Recent analyses by (document URI, content hash, settings): an unchanged document is not linted again (a save,
    a reopened file, the code actions and hovers that follow a lint). In memory only: the server never reads or
    writes `.freezelint_cache/`. Safe to use from the lint thread and the event loop."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Analysis] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Analysis | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Hashable, analysis: Analysis) -> None:
        with self._lock:
            self._entries[key] = analysis
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, uri: str) -> None:
        with self._lock:
            for key in [key for key in self._entries if isinstance(key, tuple) and key and key[0] == uri]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
