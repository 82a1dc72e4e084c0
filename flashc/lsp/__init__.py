"""The language server (``flashc lsp``): editor diagnostics, fixes and hovers from the same
check as ``flashc check``. How to set it up in an editor: ``docs/editors.md``."""

from __future__ import annotations


def start() -> None:
    """Serve the Language Server Protocol on stdin/stdout until the editor says exit."""
    from .server import start as start_server  # pygls loads only when the server runs

    start_server()
