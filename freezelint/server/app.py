"""`freezelint server`: the Language Server Protocol over stdin and stdout, on pygls.

Documents are linted when opened, saved, and changed (after a short pause in typing, `DEBOUNCE_SECONDS`), one at a
time on a worker thread so that the server keeps answering while a long file is analysed; a result that a newer
change has overtaken is dropped, never published on text it does not describe. Settings come from the nearest
`[tool.freezelint]` above each document (as for the CLI), narrowed by the client's initialization options.

The server never runs the runtime mode, never imports torch, and never writes a file: fixes and `# noqa` comments go
back to the editor as edits, which the user applies (and can undo).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Hashable

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path, uri_scheme

from freezelint import __version__
from freezelint.config import ConfigError, RuleSelection, Settings, load_settings
from freezelint.server.analysis import FIX_ALL, Analysis, AnalysisCache, analyse
from freezelint.server.documents import Cell, Snapshot

DEBOUNCE_SECONDS = 0.1  # a pause in typing this long starts a lint
NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[
        types.NotebookDocumentFilterWithCells(
            notebook="jupyter-notebook", cells=[types.NotebookCellLanguage(language="python")]
        )
    ],
    save=True,
)
CODE_ACTION_KINDS = [types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll, FIX_ALL]
OPTION_KEYS = ("config", "isolated", "select", "ignore", "extendSelect")


@dataclass(frozen=True)
class ServerOptions:
    """The client's initialization options: the CLI's `--config`, `--isolated`, `--select`, `--ignore` and
    `--extend-select`, with the same meaning (the selections refine the configuration's)."""

    config: str | None = None
    isolated: bool = False
    selection: RuleSelection | None = None


def parse_options(raw: Any, root: str) -> tuple[ServerOptions, list[str]]:
    """The options, and one line for each problem with them (such an option is left out)."""
    from freezelint.rules import validate_codes

    if raw is None:
        return ServerOptions(), []
    if not isinstance(raw, dict):
        return ServerOptions(), [f"initializationOptions must be an object with keys {', '.join(OPTION_KEYS)}"]
    problems = [f"unknown initialization option {key!r} (known: {', '.join(OPTION_KEYS)})" for key in raw if key not in OPTION_KEYS]
    config = raw.get("config")
    if config is not None and not (isinstance(config, str) and config):
        problems.append("initialization option 'config' must be a file path")
        config = None
    if config is not None and not os.path.isabs(config):
        config = os.path.join(root, config)
    isolated = raw.get("isolated", False)
    if not isinstance(isolated, bool):
        problems.append("initialization option 'isolated' must be true or false")
        isolated = False
    if isolated and config is not None:
        problems.append("initialization options 'isolated' and 'config' cannot be used together; 'config' is ignored")
        config = None
    lists: dict[str, tuple[str, ...] | None] = {}
    for key in ("select", "ignore", "extendSelect"):
        value = raw.get(key)
        if value is None:
            lists[key] = None
        elif not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            problems.append(f"initialization option {key!r} must be a list of rule codes")
            lists[key] = None
        elif unknown := validate_codes(value):
            problems.append(f"initialization option {key!r} has an unknown rule code or prefix: {', '.join(unknown)}")
            lists[key] = None
        else:
            lists[key] = tuple(code.upper() for code in value)
    selection = None
    if any(value is not None for value in lists.values()):
        selection = RuleSelection(lists["select"], lists["ignore"] or (), lists["extendSelect"] or ())
    return ServerOptions(config, isolated, selection), problems


class FreezelintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "freezelint",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=NOTEBOOK_SYNC,
        )
        self.options = ServerOptions()
        self.cache = AnalysisCache()
        # One analysis at a time: libcst's parse holds the interpreter, two at once would only take twice as long.
        self.linter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="freezelint-lint")
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.published: dict[str, set[str]] = {}  # document -> the URIs it has published to (a notebook's cells)
        self.settings_by_directory: dict[str, Settings | ConfigError] = {}
        self.shown: set[str] = set()  # messages already shown to the user: each is shown once
        self.config_errors: dict[str, str] = {}  # configuration file -> the error shown about it
        self.logged: dict[str, str] = {}  # document -> the last problem logged for it
        self.stopping = False

    # -- messages -----------------------------------------------------------------------------------------------

    def show_once(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        if message in self.shown:
            return
        self.shown.add(message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"freezelint: {message}"))

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls' report of an error outside a request: shown once, not once per keystroke."""
        self.show_once(f"internal error ({type(error).__name__}: {error}); please report it")

    def log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=f"freezelint: {message}"))

    # -- documents ----------------------------------------------------------------------------------------------

    def root(self) -> str:
        try:
            root = self.workspace.root_path
        except RuntimeError:  # not initialized
            root = None
        return root or os.getcwd()

    def owner(self, uri: str) -> str:
        """The document a URI belongs to: a cell's notebook, or the document itself."""
        notebook = self.workspace.get_notebook_document(cell_uri=uri)
        return notebook.uri if notebook is not None else uri

    def snapshot(self, uri: str) -> Snapshot | None:
        """The open document (a text document, or a notebook by its URI) as it is now; None when it is not open."""
        workspace = self.workspace
        notebook = workspace.get_notebook_document(notebook_uri=uri)
        if notebook is not None:
            cells = []
            for cell in notebook.cells:
                document = workspace.text_documents.get(cell.document)
                text = document.source if document is not None else ""
                language = document.language_id if document is not None else None
                code = cell.kind == types.NotebookCellKind.Code and language in (None, "python")
                cells.append(Cell(cell.document, text, code))
            return Snapshot(uri, self.path_of(uri), notebook.version, cells=tuple(cells))
        document = workspace.text_documents.get(uri)
        if document is None:
            return None
        return Snapshot(uri, self.path_of(uri), document.version, text=document.source)

    def path_of(self, uri: str) -> str:
        """The file of a document (a made-up one in the workspace root for an unsaved buffer)."""
        path = to_fs_path(uri) if uri_scheme(uri) == "file" else None
        if not path:
            name = os.path.basename(uri.rstrip("/").split(":")[-1]) or "untitled"
            path = os.path.join(self.root(), name)
        return path

    # -- settings -----------------------------------------------------------------------------------------------

    def settings_for(self, path: str) -> Settings | ConfigError:
        directory = os.path.dirname(path) or self.root()
        found = self.settings_by_directory.get(directory)
        if found is None:
            try:
                found = load_settings(directory, self.options.config, self.options.isolated)
                if self.options.selection is not None:
                    found = dataclasses.replace(found, selections=(*found.selections, self.options.selection))
            except ConfigError as error:
                found = error
            self.settings_by_directory[directory] = found
        return found

    def forget_settings(self) -> None:
        """Read the configuration again (after a save, or a change to a pyproject.toml)."""
        self.settings_by_directory.clear()

    def config_error(self, error: ConfigError) -> None:
        """Show a configuration error once (again only if it changes, or comes back after being fixed)."""
        message = f"{error.path}: {error.message} (files under it are not checked until it is fixed)"
        if self.config_errors.get(error.path) != message:
            self.config_errors[error.path] = message
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=f"freezelint: {message}"))

    # -- linting ------------------------------------------------------------------------------------------------

    async def analysis_of(self, uri: str) -> Analysis | None:
        """The current analysis of an open document (from the cache when its content and settings are unchanged)."""
        snapshot = self.snapshot(uri)
        if snapshot is None:
            return None
        settings = self.settings_for(snapshot.path)
        codec = self.workspace.position_codec
        if isinstance(settings, ConfigError):
            self.config_error(settings)
            return analyse(snapshot, None, codec, f"configuration error in {settings.path}")
        if settings.config_file is not None:
            self.config_errors.pop(settings.config_file, None)  # fixed: should it break again, say so again
        key: Hashable = (snapshot.uri, snapshot.content_hash, settings, _baseline_stamp(settings))
        cached = self.cache.get(key)
        if cached is not None:
            return cached

        def work() -> tuple[Analysis, float]:
            started = time.perf_counter()
            try:
                result = analyse(snapshot, settings, codec)
            except Exception as error:  # noqa: BLE001 - one document must never take the server down
                result = Analysis(snapshot, settings, error=f"internal error ({type(error).__name__}: {error}); please report it", codec=codec)
            self.cache.put(key, result)
            return result, time.perf_counter() - started

        result, seconds = await asyncio.get_running_loop().run_in_executor(self.linter, work)
        count = len(result.flagged)
        self.log(f"checked {snapshot.path} in {seconds:.2f} s: {count} finding{'s' if count != 1 else ''}")
        return result

    def schedule(self, uri: str, delay: float) -> None:
        """Lint `uri` after `delay` seconds, replacing a lint of it that has not published yet."""
        if self.stopping:
            return
        previous = self.pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.get_running_loop().create_task(self._lint_after(uri, delay))
        self.pending[uri] = task
        task.add_done_callback(lambda done: self.pending.pop(uri, None) if self.pending.get(uri) is done else None)

    async def _lint_after(self, uri: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        try:
            analysis = await self.analysis_of(uri)
        except Exception as error:  # noqa: BLE001 - one document must never take the server down
            self.log(f"{uri}: could not be checked: {type(error).__name__}: {error}", types.MessageType.Warning)
            return
        if analysis is None:
            return
        current = self.snapshot(uri)
        if current is None or current.content_hash != analysis.snapshot.content_hash:
            return  # overtaken by a change: its own lint is scheduled
        self.publish(analysis)

    def publish(self, analysis: Analysis) -> None:
        snapshot = analysis.snapshot
        if analysis.error is None:
            self.logged.pop(snapshot.uri, None)
        elif self.logged.get(snapshot.uri) != analysis.error:
            # Logged, not shown: code being typed often does not parse, and that is no news to the user.
            self.logged[snapshot.uri] = analysis.error
            self.log(f"{snapshot.path}: not checked: {analysis.error}")
        diagnostics = analysis.diagnostics()
        stale = self.published.get(snapshot.uri, set()) - set(diagnostics)  # cells that were removed
        for uri in sorted(stale):
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        for uri, found in diagnostics.items():
            version = snapshot.version if uri == snapshot.uri else None
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=version))
        self.published[snapshot.uri] = set(diagnostics)

    def close(self, uri: str) -> None:
        task = self.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        for published in sorted(self.published.pop(uri, set())):
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=published, diagnostics=[]))
        self.cache.forget(uri)
        self.logged.pop(uri, None)

    def relint_all(self) -> None:
        for uri in list(self.published):
            self.schedule(uri, 0)


def _baseline_stamp(settings: Settings) -> tuple[int, int] | None:
    """The baseline file's size and time: a new baseline hides other findings."""
    if settings.baseline is None:
        return None
    try:
        stat = os.stat(settings.baseline)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _wants(only: list[str] | None, kind: str) -> bool:
    """Whether a code action request's `only` asks for actions of `kind` (kinds are dotted: `source` covers
    `source.fixAll.freezelint`)."""
    if only is None:
        return True
    return any(kind == wanted or kind.startswith(wanted + ".") for wanted in only)


def create_server() -> FreezelintServer:
    server = FreezelintServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: FreezelintServer, params: types.InitializeParams) -> None:
        ls.options, problems = parse_options(params.initialization_options, ls.root())
        for problem in problems:
            ls.show_once(problem)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: FreezelintServer, params: types.InitializedParams) -> None:
        watching = ls.client_capabilities.workspace and ls.client_capabilities.workspace.did_change_watched_files
        if watching and watching.dynamic_registration:
            watchers = [types.FileSystemWatcher(glob_pattern="**/pyproject.toml")]
            registration = types.Registration(
                id="freezelint-configuration",
                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
            )
            try:
                await ls.client_register_capability_async(types.RegistrationParams(registrations=[registration]))
            except Exception as error:  # noqa: BLE001 - a client that refuses: settings are re-read on save
                ls.log(f"cannot watch pyproject.toml files ({error}); settings are read again when a file is saved")

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched_files_changed(ls: FreezelintServer, params: types.DidChangeWatchedFilesParams) -> None:
        ls.forget_settings()
        ls.relint_all()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: FreezelintServer, params: None) -> None:
        ls.stopping = True
        for task in list(ls.pending.values()):
            task.cancel()
        ls.linter.shutdown(wait=False, cancel_futures=True)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: FreezelintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: FreezelintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, DEBOUNCE_SECONDS)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: FreezelintServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.forget_settings()
        ls.schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: FreezelintServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.close(params.text_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(ls: FreezelintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri, 0)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(ls: FreezelintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri, DEBOUNCE_SECONDS)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_did_save(ls: FreezelintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        ls.forget_settings()
        ls.schedule(params.notebook_document.uri, 0)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_did_close(ls: FreezelintServer, params: types.DidCloseNotebookDocumentParams) -> None:
        ls.close(params.notebook_document.uri)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: FreezelintServer, params: types.HoverParams) -> types.Hover | None:
        analysis = await ls.analysis_of(ls.owner(params.text_document.uri))
        if analysis is None:
            return None
        return analysis.hover(params.text_document.uri, params.position)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=CODE_ACTION_KINDS, resolve_provider=True),
    )
    async def code_action(ls: FreezelintServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        owner = ls.owner(uri)
        analysis = await ls.analysis_of(owner)
        if analysis is None or not analysis.flagged:
            return None
        only = [str(kind) for kind in params.context.only] if params.context.only else None
        actions: list[types.CodeAction] = []
        if _wants(only, types.CodeActionKind.QuickFix):
            for flagged in analysis.overlapping(uri, params.range):
                actions.extend(analysis.quick_fixes(flagged))
        if analysis.fixable() and _wants(only, FIX_ALL):
            action = types.CodeAction(
                title="freezelint: fix all safe fixes",
                kind=FIX_ALL,
                data={"uri": owner, "hash": analysis.snapshot.content_hash},
            )
            if not _resolves_edits(ls):
                action.edit = types.WorkspaceEdit(changes=analysis.fix_all_changes())
            actions.append(action)
        return actions or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: FreezelintServer, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        if action.kind == FIX_ALL and isinstance(data.get("uri"), str):
            analysis = await ls.analysis_of(data["uri"])
            if analysis is not None and analysis.snapshot.content_hash == data.get("hash"):
                changes = await asyncio.get_running_loop().run_in_executor(ls.linter, analysis.fix_all_changes)
                action.edit = types.WorkspaceEdit(changes=changes)
        return action

    return server


def _resolves_edits(ls: FreezelintServer) -> bool:
    """Whether the client asks for an action's edit when it applies it (then "fix all" costs nothing until used)."""
    text = ls.client_capabilities.text_document
    code_action = text.code_action if text is not None else None
    support = code_action.resolve_support if code_action is not None else None
    return support is not None and "edit" in support.properties


def serve() -> int:
    """Run the server on stdin and stdout until the client says exit (or closes the stream); the exit status is 0
    after a shutdown request, 1 without one (as the protocol asks)."""
    server = create_server()
    server.start_io()
    return 0 if server.stopping else 1
