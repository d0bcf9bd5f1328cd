"""freezelint's language server, `freezelint server` (LSP over stdin and stdout, on pygls).

It needs the `server` extra (`pip install "freezelint[server]"`): pygls and lsprotocol. Importing this package
imports neither; `freezelint.server.app` does.
"""

from __future__ import annotations

import importlib

INSTALL_HINT = "pip install 'freezelint[server]'"


def missing_dependency() -> str | None:
    """The first module the server needs that is not installed, or None."""
    for module in ("pygls", "lsprotocol"):
        try:
            importlib.import_module(module)
        except ImportError:
            return module
    return None
