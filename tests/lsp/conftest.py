"""The language server under test runs as a subprocess (``python -m flashc lsp``), driven by pytest-lsp."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

TIMEOUT = 15.0
"""Seconds any one wait may take (a check takes milliseconds; a loaded CI machine is slow)."""


class Client(LanguageClient):
    """pytest-lsp's client, also counting the publishes per document."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.publishes: dict[str, list[types.PublishDiagnosticsParams]] = {}
        self.registrations: list[types.Registration] = []

    def open(self, path: Path, text: str | None = None, version: int = 1) -> str:
        uri = path.as_uri()
        text = path.read_text(encoding="utf-8") if text is None else text
        self.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)
        ))
        return uri

    def replace(self, uri: str, text: str, version: int) -> None:
        """A whole-text change (what a client sends for a paste, or with full sync)."""
        self.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        ))

    def published_count(self, uri: str) -> int:
        return len(self.publishes.get(uri, ()))

    async def diagnostics_for(
        self,
        uri: str,
        predicate: Callable[[Sequence[types.Diagnostic]], bool] = lambda d: True,
        *,
        after: int = 0,
        timeout: float = TIMEOUT,
    ) -> Sequence[types.Diagnostic]:
        """Wait for a publish for ``uri`` (the ``after``-th or later) whose diagnostics satisfy ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            for params in self.publishes.get(uri, [])[after:]:
                if predicate(params.diagnostics):
                    return params.diagnostics
            if time.monotonic() > deadline:
                seen = [p.diagnostics for p in self.publishes.get(uri, [])]
                raise AssertionError(f"no matching diagnostics for {uri} within {timeout}s; published: {seen}")
            await asyncio.sleep(0.02)

    async def until(self, condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.02)


def _publish(client: Client, params: types.PublishDiagnosticsParams) -> None:
    client.diagnostics[params.uri] = params.diagnostics
    client.publishes.setdefault(params.uri, []).append(params)


def _register(client: Client, params: types.RegistrationParams) -> None:
    client.registrations.extend(params.registrations)


def make_client() -> Client:
    client = Client(converter_factory=default_converter)
    register_lsp_features(client, {
        **DEFAULT_CLIENT_FEATURES,
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _publish,
        types.CLIENT_REGISTER_CAPABILITY: _register,
    })
    return client


VSCODE_LIKE = types.ClientCapabilities(
    workspace=types.WorkspaceClientCapabilities(
        workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True),
        did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True),
    )
)
"""What the main fixture's client says it can do: versioned edits and watching files for the server."""


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "flashc", "lsp"], client_factory=make_client)
)
async def client(lsp_client: Client, tmp_path: Path):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=VSCODE_LIKE, root_uri=tmp_path.as_uri()))
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


@pytest.fixture
def project(tmp_path: Path):
    """Write ``{relative path: text}`` files and a pyproject.toml into ``tmp_path``; returns the root."""

    def make(files: dict[str, str], pyproject: str = '[project]\nname = "t"\nversion = "0"\n') -> Path:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        for relative, text in files.items():
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return tmp_path

    return make


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "flashc", "lsp"], client_factory=make_client)
)
async def utf8_client(lsp_client: Client, tmp_path: Path):
    """A client that asks for UTF-8 positions (as Neovim does, listing utf-8 first) and can do little else."""
    capabilities = types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf8])
    )
    result = await lsp_client.initialize_session(types.InitializeParams(capabilities=capabilities, root_uri=tmp_path.as_uri()))
    assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)
