"""What the language-server tests share: the server command, a real client's capabilities, waiting for diagnostics,
and applying edits the way an editor does (written here, independently of the server's own edit code)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from cli_helpers import ROOT

SERVER_ENV = dict(
    os.environ,
    PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    PYTHONDONTWRITEBYTECODE="1",
)
SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "freezelint", "server"], server_env=SERVER_ENV)
WAIT_SECONDS = 120  # a shared, loaded CI machine: generous, the latency benchmark measures speed


def vscode_capabilities(notebooks: bool = False) -> types.ClientCapabilities:
    """VS Code's capabilities as recorded by pytest-lsp; with LSP 3.17 notebook sync when asked."""
    capabilities = client_capabilities("visual-studio-code")
    if notebooks:
        capabilities.notebook_document = types.NotebookDocumentClientCapabilities(
            synchronization=types.NotebookDocumentSyncClientCapabilities()
        )
    return capabilities


async def start(
    client: LanguageClient, root: Path, notebooks: bool = False, options: dict | None = None
) -> types.InitializeResult:
    """Initialize the session as VS Code would (it accepts the server's file watchers)."""
    registrations: list[types.Registration] = []
    client.registrations = registrations  # type: ignore[attr-defined]
    client.feature(types.CLIENT_REGISTER_CAPABILITY)(lambda params: registrations.extend(params.registrations))
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=vscode_capabilities(notebooks),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=options,
        )
    )


async def diagnostics(
    client: LanguageClient, uri: str, wanted: Callable[[Sequence[types.Diagnostic]], bool] = lambda found: True
) -> Sequence[types.Diagnostic]:
    """The diagnostics last published for `uri`, once they satisfy `wanted` (waiting for new ones until they do)."""
    async with asyncio.timeout(WAIT_SECONDS):
        while uri not in client.diagnostics or not wanted(client.diagnostics[uri]):
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return client.diagnostics[uri]


def open_text(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=version, text=path.read_text() if text is None else text)
        )
    )
    return uri


def change_text(client: LanguageClient, uri: str, text: str, version: int) -> None:
    """Send the whole new text, as a client with full sync would."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def utf16_offset(text: str, position: types.Position) -> int:
    """A string offset from an LSP position (UTF-16 columns, lines broken at \\r\\n, \\r or \\n)."""
    offset, line = 0, 0
    while line < position.line:
        cut = min((i for i in (text.find("\r", offset), text.find("\n", offset)) if i >= 0), default=-1)
        if cut < 0:
            return len(text)
        offset = cut + (2 if text.startswith("\r\n", cut) else 1)
        line += 1
    units = 0
    while offset < len(text) and units < position.character and text[offset] not in "\r\n":
        units += 2 if ord(text[offset]) > 0xFFFF else 1
        offset += 1
    return offset


def apply_edits(text: str, edits: Sequence[types.TextEdit]) -> str:
    spans = sorted(((utf16_offset(text, e.range.start), utf16_offset(text, e.range.end), e.new_text) for e in edits), reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


def action_titled(actions: Sequence[types.CodeAction | types.Command] | None, fragment: str) -> types.CodeAction:
    matching = [a for a in actions or [] if isinstance(a, types.CodeAction) and fragment in a.title]
    assert matching, f"no code action with {fragment!r} in its title among {[a.title for a in actions or []]}"
    return matching[0]


def open_notebook(client: LanguageClient, path: Path, cells: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """Open a notebook (cells as (kind, text), kind "code" or "markdown") as VS Code does: one text document per
    cell, with URIs of their own. Returns the notebook's URI and its cells'."""
    uri = path.as_uri()
    cell_uris = [f"vscode-notebook-cell:{path}#C{index}" for index in range(len(cells))]
    kinds = {"code": types.NotebookCellKind.Code, "markdown": types.NotebookCellKind.Markup}
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=uri,
                notebook_type="jupyter-notebook",
                version=1,
                cells=[types.NotebookCell(kind=kinds[kind], document=cell) for (kind, _), cell in zip(cells, cell_uris)],
            ),
            cell_text_documents=[
                types.TextDocumentItem(uri=cell, language_id="python" if kind == "code" else "markdown", version=1, text=text)
                for (kind, text), cell in zip(cells, cell_uris)
            ],
        )
    )
    return uri, cell_uris


def change_cell(client: LanguageClient, notebook: str, version: int, cell: str, text: str) -> None:
    client.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(version=version, uri=notebook),
            change=types.NotebookDocumentChangeEvent(
                cells=types.NotebookDocumentCellChanges(
                    text_content=[
                        types.NotebookDocumentCellContentChanges(
                            document=types.VersionedTextDocumentIdentifier(uri=cell, version=version),
                            changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                        )
                    ]
                )
            ),
        )
    )


async def code_actions(
    client: LanguageClient, uri: str, span: types.Range, only: list[str] | None = None
) -> list[types.CodeAction | types.Command]:
    found = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=span,
            context=types.CodeActionContext(diagnostics=list(client.diagnostics.get(uri, [])), only=only),
        )
    )
    return list(found or [])
