"""``flashc lsp``: the language server, a shell over :func:`flashc.api.check`.

What it does with each open Python document:

* Diagnostics on open, save and change (a change waits :data:`DEBOUNCE_SECONDS`;
  a newer change replaces the pending check). A check covers the document's
  whole project, with the unsaved text of every open document of that project
  (configurations and endpoints cross modules), and re-publishes every open
  document of the project whose diagnostics changed.
* Code actions: each fix as a ``quickfix`` (unsafe ones say so), "Suppress
  FC101 on this line", and ``source.fixAll.flashc`` (every safe fix).
* Hover on an endpoint's decorator, ``def``/``class`` name or configuration
  object: the resolved endpoint.

A document's project is the nearest directory above it with a
``pyproject.toml``, as for ``flashc check``. A document outside any project is
checked as its own directory's project, except when that directory is the home
directory or a file-system root (reading every ``.py`` below it would take
minutes): such documents, and documents that are not files, are not checked.

Checks run in one worker thread (the event loop never waits on them), with one process
(``jobs=1``, no fork) and no on-disk cache. flashc's own failures (a bad
``[tool.flashc]``) are shown to the user once and logged; the server goes on.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import logging
import os
import sys
import traceback
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .. import __version__, api
from ..diagnostics import Applicability, Diagnostic
from ..discovery import find_project_root
from ..errors import FlashcError
from ..model import ProjectModel
from ..rules.registry import rule as lookup_rule
from ..transforms.fixes import apply_fixes
from . import convert, hover, positions

logger = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.3
"""How long a change waits for the next keystroke before the check runs."""

CHECK_OPTIONS = api.CheckOptions(jobs=1, use_cache=False)
"""A server must not fork, and keystroke states are not worth caching on disk."""

FIX_ALL = f"{types.CodeActionKind.SourceFixAll.value}.flashc"

WATCHED = ("**/pyproject.toml", "**/*.py")


@dataclass(frozen=True, slots=True)
class Document:
    """An open document as it was when a check started."""

    uri: str
    path: str
    """Project-relative POSIX path."""
    text: str
    version: int | None
    on_disk: bool


@dataclass(eq=False)
class Project:
    """What the server keeps per project: the newest check and the run being scheduled."""

    root: Path
    generation: int = 0
    """Bumped whenever a new check is wanted; a run finishing under an older one is dropped."""
    pending: asyncio.Task[None] | None = None
    forced: set[str] = field(default_factory=set)
    """URIs to publish after the next run even when their diagnostics did not change (the client
    expects a publish for the version it just sent)."""
    result: api.CheckResult | None = None
    with_edits: api.CheckResult | None = None
    """``result`` with its fixes made into edits (made on the first code action request)."""
    documents: dict[str, Document] = field(default_factory=dict)
    """The documents ``result`` was computed for, by URI."""
    model: tuple[tuple[tuple[str, str], ...], ProjectModel] | None = None
    """The model for hover, with the texts it was computed from."""
    error: str | None = None
    """The last failure shown to the user (the same one is not shown again)."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class FlashcServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("flashc", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.projects: dict[Path, Project] = {}
        self.published: dict[str, list[types.Diagnostic]] = {}
        """URI -> the diagnostics last published for it."""
        self._roots: dict[str, Path | None] = {}
        self.checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flashc-check")
        """One thread for every analysis: checks take milliseconds, and the library's caches
        are shared by all of them."""
        self.debounce = _debounce()

    # --- documents and projects ----------------------------------------------------------------

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or positions.UTF16)

    def root_of(self, uri: str) -> Path | None:
        """The project root of a Python document, or None when it is not checked."""
        if uri not in self._roots:
            self._roots[uri] = _project_root(uri)
        return self._roots[uri]

    def project(self, root: Path) -> Project:
        if root not in self.projects:
            self.projects[root] = Project(root)
        return self.projects[root]

    def open_documents(self, root: Path) -> list[Document]:
        """The open Python documents of the project at ``root``, as they are now."""
        found = []
        for uri, document in list(self.workspace.text_documents.items()):
            if self.root_of(uri) != root:
                continue
            path = Path(to_fs_path(uri) or "").resolve()
            relative = path.relative_to(root).as_posix()
            found.append(Document(uri, relative, document.source, document.version, path.is_file()))
        return found

    def version_of(self, uri: str) -> int | None:
        document = self.workspace.text_documents.get(uri)
        return document.version if document is not None else None

    # --- scheduling ----------------------------------------------------------------------------

    def schedule(self, uri: str, delay: float, *, force: bool = True) -> None:
        """Check the project of ``uri`` after ``delay`` seconds, replacing a pending check."""
        root = self.root_of(uri)
        if root is not None:
            self.schedule_project(root, delay, forced=[uri] if force else [])

    def schedule_project(self, root: Path, delay: float, forced: Iterable[str] = ()) -> None:
        project = self.project(root)
        project.forced.update(forced)
        project.generation += 1
        if project.pending is not None and not project.pending.done():
            project.pending.cancel()
        project.pending = asyncio.ensure_future(self._run_later(project, project.generation, delay))

    async def _run_later(self, project: Project, generation: int, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        async with project.lock:
            if generation != project.generation:
                return
            documents = self.open_documents(project.root)
            result = await self._check(project, documents)
            if result is None or generation != project.generation:
                return  # failed (reported), or a newer check is on its way
            first = project.result is None
            project.result, project.with_edits = result, None
            project.documents = {d.uri: d for d in documents}
            self._publish(project, result, documents)
            if first:
                _settle()

    async def _check(self, project: Project, documents: Sequence[Document]) -> api.CheckResult | None:
        """Check ``documents``' project with their texts in a worker thread; None on failure."""
        targets = [project.root / d.path for d in documents if d.on_disk]
        if not targets:
            return None
        overrides = {d.path: d.text for d in documents}
        call = partial(api.check, targets, CHECK_OPTIONS, overrides=overrides)
        try:
            result = await asyncio.get_running_loop().run_in_executor(self.checks, call)
        except FlashcError as error:
            self._failed(project, f"flashc: {error}", str(error))
            return None
        except Exception as error:  # noqa: BLE001 -- a bug in flashc: say so, keep serving
            detail = "".join(traceback.format_exception(error))
            self._failed(project, f"flashc: internal error: {type(error).__name__}: {error} (please report it)", detail)
            return None
        if project.error is not None:
            self.log(f"{project.root}: checks work again", types.MessageType.Info)
        project.error = None
        return result

    def _failed(self, project: Project, message: str, detail: str) -> None:
        self.log(f"{project.root}: {detail}", types.MessageType.Error)
        if message != project.error:
            project.error = message
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))

    def _publish(self, project: Project, result: api.CheckResult, documents: Sequence[Document]) -> None:
        texts = self.texts(project.root, result, documents)
        by_path: dict[str, list[Diagnostic]] = {}
        for diagnostic in result.diagnostics:
            by_path.setdefault(diagnostic.span.path, []).append(diagnostic)
        forced, project.forced = project.forced, set()
        for document in documents:
            if document.uri not in self.workspace.text_documents:
                continue  # closed meanwhile
            found = [convert.to_lsp(d, texts) for d in by_path.get(document.path, ())]
            if document.uri not in forced and self.published.get(document.uri) == found:
                continue
            self.published[document.uri] = found
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=document.uri, version=document.version, diagnostics=found)
            )

    def texts(self, root: Path, result: api.CheckResult, documents: Iterable[Document]) -> convert.Texts:
        return convert.Texts(root, result.texts, self.encoding, {d.path: d.uri for d in documents})

    def clear(self, uri: str) -> None:
        if self.published.pop(uri, None):
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def configuration_changed(self, directory: Path) -> None:
        """A ``pyproject.toml`` in ``directory`` changed: re-check every open document below it.

        Roots are looked up again first: a new or deleted ``pyproject.toml`` moves
        documents between projects.
        """
        before = dict(self._roots)
        self._roots.clear()
        roots = set()
        for uri in list(self.workspace.text_documents):
            root = self.root_of(uri)
            path = Path(to_fs_path(uri) or "").resolve()
            if root is not None and (path.is_relative_to(directory) or before.get(uri) != root):
                roots.add(root)
            if root is None:
                self.clear(uri)
        for root in roots:
            self.schedule_project(root, 0, forced=[])

    def log(self, message: str, level: types.MessageType = types.MessageType.Log) -> None:
        logger.info("%s", message)
        self.window_log_message(types.LogMessageParams(type=level, message=message))

    # --- the newest result for a request ---------------------------------------------------------

    async def current(self, uri: str) -> tuple[Project, api.CheckResult, list[Document]] | None:
        """The project of ``uri`` and a check of its documents as they are now (re-checked if stale)."""
        root = self.root_of(uri)
        if root is None:
            return None
        project = self.project(root)
        documents = self.open_documents(root)
        if project.result is not None and project.documents == {d.uri: d for d in documents}:
            return project, project.result, documents
        async with project.lock:
            result = await self._check(project, documents)
        if result is None:
            return None
        return project, result, documents

    async def edits_of(self, project: Project, result: api.CheckResult) -> api.CheckResult:
        """``result`` with its fixes as edits (libcst runs only for fixes that need it)."""
        if result is project.result and project.with_edits is not None:
            return project.with_edits
        with_edits = await asyncio.get_running_loop().run_in_executor(self.checks, result.with_edits)
        if result is project.result:
            project.with_edits = with_edits
        return with_edits

    async def model(self, project: Project, documents: Sequence[Document]) -> ProjectModel:
        key = tuple(sorted((d.path, d.text) for d in documents))
        if project.model is None or project.model[0] != key:
            overrides = dict(key)
            call = partial(_model, project.root, overrides)
            project.model = (key, await asyncio.get_running_loop().run_in_executor(self.checks, call))
        return project.model[1]


def _settle() -> None:
    """After a project's first check: move what is alive (mostly the project's parses, kept for
    the re-checks) out of the collector's sight. A full collection would otherwise walk all of
    it every so often, which stalled a re-check of a large project by a quarter of a second
    (and collecting first would stall the first edit as long). What is frozen stays until the
    server exits, which is what the caches holding it intend anyway."""
    gc.freeze()


def _debounce() -> float:
    """:data:`DEBOUNCE_SECONDS`, or ``$FLASHC_LSP_DEBOUNCE`` seconds (the benchmark sets 0 to time
    the re-check alone). A bad value is logged and the default kept: a server does not stop for it."""
    value = os.environ.get("FLASHC_LSP_DEBOUNCE")
    if value is None:
        return DEBOUNCE_SECONDS
    try:
        seconds = float(value)
        if not 0 <= seconds <= 10:
            raise ValueError
    except ValueError:
        logger.warning("FLASHC_LSP_DEBOUNCE=%r is not a number of seconds within 0..10; using %s", value, DEBOUNCE_SECONDS)
        return DEBOUNCE_SECONDS
    return seconds


def _model(root: Path, overrides: dict[str, str]) -> ProjectModel:
    """What ``flashc inspect`` shows, for the editor's texts rather than the files."""
    return api.inspect_project(root, overrides)


def _project_root(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    fs_path = to_fs_path(uri)
    if not fs_path or not fs_path.endswith(".py"):
        return None
    directory = Path(fs_path).resolve().parent
    if not directory.is_dir():
        return None
    root = find_project_root(directory)
    if not (root / "pyproject.toml").is_file() and root in _too_large(root):
        logger.info("%s: no pyproject.toml above it; not checked", fs_path)
        return None
    return root


def _too_large(root: Path) -> set[Path]:
    """Directories never read as a project of their own: the file-system root and the home directory."""
    found = {Path(root.anchor)}
    try:
        found.add(Path.home().resolve())
    except RuntimeError:  # no home directory
        pass
    return found


server = FlashcServer()


# --- notifications ---------------------------------------------------------------------------


@server.feature(types.INITIALIZED)
async def initialized(ls: FlashcServer, params: types.InitializedParams) -> None:
    capability = ls.client_capabilities.workspace
    watched = capability.did_change_watched_files if capability is not None else None
    if watched is None or not watched.dynamic_registration:
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern=pattern) for pattern in WATCHED]
    )
    registration = types.Registration(
        id="flashc-watched-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options
    )
    try:
        await ls.client_register_capability_async(types.RegistrationParams(registrations=[registration]))
    except Exception as error:  # noqa: BLE001 -- the client declined: pyproject.toml is read at the next check
        ls.log(f"could not watch files: {error}", types.MessageType.Warning)


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: FlashcServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, 0)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: FlashcServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, ls.debounce)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: FlashcServer, params: types.DidSaveTextDocumentParams) -> None:
    uri = params.text_document.uri
    if uri.endswith("/pyproject.toml"):
        ls.configuration_changed(Path(to_fs_path(uri) or "").resolve().parent)
    else:
        ls.schedule(uri, 0)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: FlashcServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.clear(uri)
    root = ls.root_of(uri)
    ls._roots.pop(uri, None)
    if root is not None and ls.open_documents(root):
        ls.schedule_project(root, ls.debounce)  # its file on disk replaces its buffer for the others


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(ls: FlashcServer, params: types.DidChangeWatchedFilesParams) -> None:
    sources: set[Path] = set()
    for change in params.changes:
        path = Path(to_fs_path(change.uri) or "")
        if path.name == "pyproject.toml":
            ls.configuration_changed(path.resolve().parent)
        elif path.suffix == ".py":
            sources.add(path.resolve())
    roots = {root for root in ls.projects if any(p.is_relative_to(root) for p in sources)}
    for root in roots:
        if ls.open_documents(root):
            ls.schedule_project(root, ls.debounce)


@server.feature(types.SHUTDOWN)
def shutdown(ls: FlashcServer, params: None) -> None:
    for project in ls.projects.values():
        if project.pending is not None:
            project.pending.cancel()
    ls.checks.shutdown(wait=False, cancel_futures=True)


# --- requests --------------------------------------------------------------------------------


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll, FIX_ALL],
        resolve_provider=False,
    ),
)
async def code_action(ls: FlashcServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    uri = params.text_document.uri
    wanted = params.context.only
    if not (_allowed(types.CodeActionKind.QuickFix, wanted) or _allowed(FIX_ALL, wanted)):
        return None
    current = await ls.current(uri)
    if current is None:
        return None
    project, result, documents = current
    document = next((d for d in documents if d.uri == uri), None)
    if document is None:
        return None
    texts = ls.texts(project.root, result, documents)
    mine = [d for d in result.diagnostics if d.span.path == document.path]
    actions: list[types.CodeAction] = []
    if _allowed(types.CodeActionKind.QuickFix, wanted):
        keys = {tuple(d.data) for d in params.context.diagnostics if d.source == convert.SOURCE and isinstance(d.data, list)}
        chosen = [
            d for d in mine
            if convert.key(d) in keys or _overlaps(texts.range(d.span), params.range)
        ]
        if any(d.fix is not None and d.fix.pending for d in chosen):
            fixed = {convert.key(d): d for d in (await ls.edits_of(project, result)).diagnostics}
            chosen = [fixed.get(convert.key(d), d) for d in chosen]
        actions.extend(_fix_actions(ls, chosen, texts))
        actions.extend(_suppress_actions(ls, chosen, document, texts))
    # Fixing everything re-checks the document; only when asked for (not for a light bulb).
    asked = wanted is not None or params.context.trigger_kind != types.CodeActionTriggerKind.Automatic
    if asked and _allowed(FIX_ALL, wanted) and any(_safe_fix(d) for d in mine):
        action = await _fix_all_action(ls, project, document, documents)
        if action is not None:
            actions.append(action)
    return actions


def _allowed(kind: str, only: Sequence[str] | None) -> bool:
    return only is None or any(kind == o or kind.startswith(f"{o}.") for o in only)


def _overlaps(a: types.Range, b: types.Range) -> bool:
    def at(p: types.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return at(a.start) <= at(b.end) and at(b.start) <= at(a.end)


def _safe_fix(diagnostic: Diagnostic) -> bool:
    return diagnostic.fix is not None and diagnostic.fix.applicability is Applicability.SAFE


def _supports_document_changes(ls: FlashcServer) -> bool:
    workspace = ls.client_capabilities.workspace
    edit = workspace.workspace_edit if workspace is not None else None
    return bool(edit is not None and edit.document_changes)


def _fix_actions(ls: FlashcServer, diagnostics: Sequence[Diagnostic], texts: convert.Texts) -> list[types.CodeAction]:
    actions = []
    for diagnostic in diagnostics:
        fix = diagnostic.fix
        if fix is None or fix.applicability is Applicability.DISPLAY_ONLY or not fix.edits or fix.pending:
            continue
        edit = convert.workspace_edit(convert.text_edits(fix.edits, texts), ls.version_of, _supports_document_changes(ls))
        actions.append(types.CodeAction(
            title=convert.fix_title(fix),
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[convert.to_lsp(diagnostic, texts)],
            edit=edit,
            is_preferred=fix.applicability is Applicability.SAFE,
        ))
    return actions


def _suppress_actions(
    ls: FlashcServer, diagnostics: Sequence[Diagnostic], document: Document, texts: convert.Texts
) -> list[types.CodeAction]:
    actions = []
    seen: set[tuple[str, int]] = set()
    for diagnostic in diagnostics:
        rule = lookup_rule(diagnostic.code)
        line = diagnostic.span.start.line
        if rule is None or rule.always_on or (diagnostic.code, line) in seen:
            continue
        seen.add((diagnostic.code, line))
        edit = convert.suppression_edit(document.path, document.text, line, [diagnostic.code])
        if edit is None:
            continue
        changes = convert.workspace_edit(convert.text_edits([edit], texts), ls.version_of, _supports_document_changes(ls))
        actions.append(types.CodeAction(
            title=f"Suppress {diagnostic.code} on this line",
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[convert.to_lsp(diagnostic, texts)],
            edit=changes,
        ))
    return actions


async def _fix_all_action(
    ls: FlashcServer, project: Project, document: Document, documents: Sequence[Document]
) -> types.CodeAction | None:
    overrides = {d.path: d.text for d in documents}
    call = partial(fix_all, project.root, document.path, overrides)
    try:
        fixed = await asyncio.get_running_loop().run_in_executor(ls.checks, call)
    except FlashcError as error:
        ls.log(f"{project.root}: fix all: {error}", types.MessageType.Error)
        return None
    if fixed == document.text:
        return None
    edit = convert.minimal_edit(document.path, document.text, fixed)
    texts = convert.Texts(project.root, {document.path: document.text}, ls.encoding, {document.path: document.uri})
    return types.CodeAction(
        title="flashc: Fix all auto-fixable problems",
        kind=FIX_ALL,
        edit=convert.workspace_edit(convert.text_edits([edit], texts), ls.version_of, _supports_document_changes(ls)),
    )


def fix_all(root: Path, path: str, overrides: dict[str, str]) -> str:
    """The text of ``path`` with every safe fix applied, re-checking after each round (as ``--fix``)."""
    text = overrides[path]
    for _ in range(api.MAX_FIX_ROUNDS):
        result = api.check([root / path], CHECK_OPTIONS, overrides={**overrides, path: text})
        safe = tuple(
            d for d in result.diagnostics
            if d.span.path == path and _safe_fix(d) and all(e.span.path == path for e in d.fix.edits)  # type: ignore[union-attr]
        )
        if not safe:
            break
        fixes = [d.fix for d in replace(result, diagnostics=safe).with_edits().diagnostics if d.fix is not None]
        new_text, applied = apply_fixes(text, fixes)
        if not applied or new_text == text or not _parses(new_text):
            break
        text = new_text
    return text


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def on_hover(ls: FlashcServer, params: types.HoverParams) -> types.Hover | None:
    uri = params.text_document.uri
    root = ls.root_of(uri)
    if root is None:
        return None
    project = ls.project(root)
    documents = ls.open_documents(root)
    document = next((d for d in documents if d.uri == uri), None)
    if document is None:
        return None
    try:
        model = await ls.model(project, documents)
    except FlashcError:
        return None  # reported by the check
    lines = positions.split_lines(document.text)
    found = hover.endpoint_at(model, document.path, positions.flashc_position(lines, params.position, ls.encoding))
    if found is None:
        return None
    endpoint, span = found
    texts = convert.Texts(root, {document.path: document.text}, ls.encoding, {document.path: uri})
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=hover.markdown(endpoint)),
        range=texts.range(span),
    )


def start() -> None:
    """Serve on stdin/stdout until the client says exit. Stray prints go to stderr, not the protocol."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="flashc lsp: %(levelname)s %(message)s")
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    server.start_io(stdin, stdout)
