"""``flashc lsp`` end to end: a real server process, a scripted client, real projects on disk."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lsprotocol import types

if TYPE_CHECKING:  # for annotations only: at run time ``conftest`` may name another directory's
    from conftest import Client

pytestmark = pytest.mark.asyncio

RULES_URL = "https://github.com/flashc/flashc/blob/main/docs/rules.md"

WORKER = '''\
import numpy as np
from flashc import Endpoint, GpuGroup


@Endpoint(name="summer", gpu=GpuGroup.ADA_24, workers=(0, 3), dependencies=["numpy"])
async def summarize(numbers: list[float]) -> float:
    return float(np.sum(numbers))
'''

FIXED_WORKER = WORKER.replace("    return float(np.sum", "    import numpy as np\n\n    return float(np.sum")


def codes(diagnostics: Sequence[types.Diagnostic]) -> list[str]:
    return sorted(str(d.code) for d in diagnostics)


def having(code: str):  # type: ignore[no-untyped-def]
    return lambda diagnostics: code in codes(diagnostics)


def without(code: str):  # type: ignore[no-untyped-def]
    return lambda diagnostics: code not in codes(diagnostics)


def one(diagnostics: Sequence[types.Diagnostic], code: str) -> types.Diagnostic:
    found = [d for d in diagnostics if d.code == code]
    assert len(found) == 1, diagnostics
    return found[0]


def at(line: int, start: int, end: int) -> types.Range:
    return types.Range(start=types.Position(line=line, character=start), end=types.Position(line=line, character=end))


def apply(text: str, edit: types.WorkspaceEdit, uri: str) -> str:
    """Apply a workspace edit's changes for ``uri`` to ``text``, as an editor does (UTF-16 columns)."""
    if edit.document_changes:
        edits = [e for change in edit.document_changes if change.text_document.uri == uri for e in change.edits]
    else:
        edits = list((edit.changes or {}).get(uri, []))
    lines = re.split(r"(?<=\n)", text)

    def offset(position: types.Position) -> int:
        before = sum(len(line) for line in lines[: position.line])
        line = lines[position.line] if position.line < len(lines) else ""
        units = 0
        for index, character in enumerate(line):
            if units >= position.character:
                return before + index
            units += 2 if ord(character) > 0xFFFF else 1
        return before + len(line)

    spans = sorted(((offset(e.range.start), offset(e.range.end), e.new_text) for e in edits), reverse=True)
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


async def actions(
    client: Client,
    uri: str,
    line: int,
    only: list[str] | None = None,
    diagnostics: Sequence[types.Diagnostic] = (),
) -> list[types.CodeAction]:
    """The code actions for ``line`` selected whole, or (with ``diagnostics``) for those at a cursor on it."""
    result = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=at(line, 0, 0) if diagnostics else at(line, 0, 1000),
        context=types.CodeActionContext(diagnostics=list(diagnostics), only=only),
    ))
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


async def test_diagnostics_arrive_and_clear_after_the_fix(client: Client, project) -> None:
    root = project({"worker.py": WORKER})
    uri = client.open(root / "worker.py")

    diagnostics = await client.diagnostics_for(uri, having("FC101"))
    found = one(diagnostics, "FC101")
    assert found.range == at(6, 17, 19)
    assert found.severity == types.DiagnosticSeverity.Error
    assert found.source == "flashc"
    assert found.code_description is not None
    assert found.code_description.href == f"{RULES_URL}#fc101-module-import-captured"
    assert "`np` is imported at module level" in found.message
    assert found.related_information is not None
    note = found.related_information[0]
    assert note.location.uri == uri and note.location.range == at(0, 0, 18)
    assert "imported here" in note.message
    unused = one(diagnostics, "FC402")
    assert unused.severity == types.DiagnosticSeverity.Warning
    assert "flashc looked for `import numpy`" in unused.message  # a note without a place joins the message

    before = client.published_count(uri)
    client.replace(uri, FIXED_WORKER, version=2)
    assert not await client.diagnostics_for(uri, lambda d: not d, after=before)
    assert client.publishes[uri][-1].version == 2


async def test_a_change_in_one_module_republishes_the_endpoints_it_breaks(client: Client, project) -> None:
    config = 'from flashc import GpuGroup, LiveServerless\n\ngpu_config = LiveServerless(name="crossed", gpus=[GpuGroup.ADA_24])\n'
    worker = (
        "from config import gpu_config\nfrom flashc import remote\n\n\n"
        "@remote(resource_config=gpu_config)\nasync def double(x: int) -> int:\n    return x * 2\n"
    )
    root = project({"config.py": config, "worker.py": worker})
    config_uri = client.open(root / "config.py")
    worker_uri = client.open(root / "worker.py")
    await client.diagnostics_for(config_uri, lambda d: not d)
    await client.diagnostics_for(worker_uri, lambda d: not d)

    before = client.published_count(worker_uri)
    # Unsaved: the server must read the buffer, not the file on disk.
    client.replace(config_uri, config.replace("LiveServerless", "LiveLoadBalancer"), version=2)
    diagnostics = await client.diagnostics_for(worker_uri, having("FC301"), after=before)
    assert one(diagnostics, "FC301").range.start.line == 4

    before = client.published_count(worker_uri)
    client.replace(config_uri, config, version=3)
    await client.diagnostics_for(worker_uri, lambda d: not d, after=before)


async def test_ranges_are_utf16_code_units(client: Client, project) -> None:
    text = WORKER.replace("    return float(np.sum(numbers))", '    label = "é😀"; total = np.sum(numbers)\n    return float(total)')
    root = project({"worker.py": text})
    uri = client.open(root / "worker.py")
    diagnostics = await client.diagnostics_for(uri, having("FC101"))
    # Code points: `np` is at columns 26-28; the emoji before it is two UTF-16 units, the é one.
    assert one(diagnostics, "FC101").range == at(6, 27, 29)


async def test_ranges_follow_the_negotiated_encoding(utf8_client: Client, project) -> None:
    text = WORKER.replace("    return float(np.sum(numbers))", '    label = "é😀"; total = np.sum(numbers)\n    return float(total)')
    root = project({"worker.py": text})
    uri = utf8_client.open(root / "worker.py")
    diagnostics = await utf8_client.diagnostics_for(uri, having("FC101"))
    # UTF-8: the é is two bytes, the emoji four.
    assert one(diagnostics, "FC101").range == at(6, 30, 32)


async def test_fix_action_edits_apply_and_recheck_clean(client: Client, project) -> None:
    root = project({"worker.py": WORKER})
    uri = client.open(root / "worker.py")
    published = await client.diagnostics_for(uri, having("FC101"))

    offered = await actions(client, uri, 6, diagnostics=[one(published, "FC101")])
    titles = [a.title for a in offered]
    assert "Add `import numpy as np` at the top of `summarize` (unsafe)" in titles
    fix = next(a for a in offered if a.title.startswith("Add `import numpy"))
    assert fix.kind == types.CodeActionKind.QuickFix
    assert fix.edit is not None and fix.diagnostics and fix.diagnostics[0].code == "FC101"
    assert fix.edit.document_changes is not None  # the client said it can take versioned edits
    fixed = apply(WORKER, fix.edit, uri)
    assert "async def summarize(numbers: list[float]) -> float:\n    import numpy as np\n" in fixed

    before = client.published_count(uri)
    client.replace(uri, fixed, version=2)
    await client.diagnostics_for(uri, without("FC101"), after=before)


async def test_fix_all_applies_the_safe_fixes(client: Client, project) -> None:
    text = FIXED_WORKER.replace("    return float(np.sum(numbers))", "    return float(np.sum(numbers))  # flashc: ignore[FC103]")
    root = project({"worker.py": text})
    uri = client.open(root / "worker.py")
    await client.diagnostics_for(uri, having("FC901"))

    offered = await actions(client, uri, 0, only=[types.CodeActionKind.SourceFixAll])
    assert [a.kind for a in offered] == ["source.fixAll.flashc"]
    assert offered[0].edit is not None
    assert apply(text, offered[0].edit, uri) == FIXED_WORKER


async def test_suppression_actions_add_and_merge_comments(client: Client, project) -> None:
    text = (
        "import numpy as np\nfrom flashc import Endpoint\n\nSCALE = 2\n\n\n"
        '@Endpoint(name="scaled", cpu="cpu3c-1-2", dependencies=["numpy"])\n'
        "async def scaled(numbers):\n    import numpy\n\n    return float(np.sum(numbers)) * SCALE\n"
    )
    root = project({"s.py": text})
    uri = client.open(root / "s.py")
    await client.diagnostics_for(uri, lambda d: codes(d) == ["FC101", "FC103"])

    suppress = next(a for a in await actions(client, uri, 10) if a.title == "Suppress FC101 on this line")
    assert suppress.edit is not None
    text = apply(text, suppress.edit, uri)
    assert text.splitlines()[10] == "    return float(np.sum(numbers)) * SCALE  # flashc: ignore[FC101]"
    before = client.published_count(uri)
    client.replace(uri, text, version=2)
    await client.diagnostics_for(uri, lambda d: codes(d) == ["FC103"], after=before)

    suppress = next(a for a in await actions(client, uri, 10) if a.title == "Suppress FC103 on this line")
    assert suppress.edit is not None
    text = apply(text, suppress.edit, uri)
    assert text.splitlines()[10] == "    return float(np.sum(numbers)) * SCALE  # flashc: ignore[FC101, FC103]"
    before = client.published_count(uri)
    client.replace(uri, text, version=3)
    await client.diagnostics_for(uri, lambda d: not d, after=before)


async def test_hover_describes_the_endpoint(client: Client, project) -> None:
    root = project({"worker.py": WORKER})
    uri = client.open(root / "worker.py")
    await client.diagnostics_for(uri)

    async def hover(line: int, character: int) -> types.Hover | None:
        return await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)
        ))

    on_name = await hover(5, 12)  # `summarize` in `async def summarize`
    assert on_name is not None and isinstance(on_name.contents, types.MarkupContent)
    assert on_name.contents.kind == types.MarkupKind.Markdown
    text = on_name.contents.value
    for expected in ("`summer`", "queue endpoint", "GPU", "`ADA_24`", "workers: `0..3`", "`numpy`", "async def summarize(numbers)", "worker.py:6"):
        assert expected in text, text
    assert on_name.range == at(5, 10, 19)

    on_decorator = await hover(4, 3)
    assert on_decorator is not None and "`summer`" in on_decorator.contents.value  # type: ignore[union-attr]
    assert await hover(0, 3) is None


async def test_a_syntax_error_while_typing_is_fc900_and_the_next_edit_clears_it(client: Client, project) -> None:
    root = project({"worker.py": FIXED_WORKER})
    uri = client.open(root / "worker.py")
    await client.diagnostics_for(uri, lambda d: not d)

    before = client.published_count(uri)
    half_typed = FIXED_WORKER.replace("return float(np.sum(numbers))", "return float(np.sum(numbers")
    client.replace(uri, half_typed, version=2)
    diagnostics = await client.diagnostics_for(uri, having("FC900"), after=before)
    assert one(diagnostics, "FC900").severity == types.DiagnosticSeverity.Error

    before = client.published_count(uri)
    client.replace(uri, FIXED_WORKER, version=3)
    await client.diagnostics_for(uri, lambda d: not d, after=before)


async def test_rapid_changes_publish_the_last_version(client: Client, project) -> None:
    root = project({"worker.py": FIXED_WORKER})
    uri = client.open(root / "worker.py")
    await client.diagnostics_for(uri, lambda d: not d)
    before = client.published_count(uri)
    for version in range(2, 7):
        client.replace(uri, WORKER if version % 2 else FIXED_WORKER + f"# {version}\n", version=version)
    await client.until(lambda: client.published_count(uri) > before and client.publishes[uri][-1].version == 6)
    assert codes(client.publishes[uri][-1].diagnostics) == []
    # The debounced changes ran (at most) a couple of checks, not one per keystroke.
    assert client.published_count(uri) - before <= 2


async def test_a_bad_configuration_is_a_message_not_a_dead_server(client: Client, project) -> None:
    root = project({"worker.py": WORKER}, pyproject='[project]\nname = "t"\n\n[tool.flashc]\nselect = 5\n')
    uri = client.open(root / "worker.py")
    await client.until(lambda: bool(client.messages))
    message = client.messages[0]
    assert message.type == types.MessageType.Error
    assert "select" in message.message and "pyproject.toml" in message.message

    (root / "pyproject.toml").write_text('[project]\nname = "t"\n', encoding="utf-8")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(root / "pyproject.toml").as_uri(), type=types.FileChangeType.Changed)
    ]))
    await client.diagnostics_for(uri, having("FC101"))


async def test_a_pyproject_change_republishes(client: Client, project) -> None:
    root = project({"worker.py": WORKER})
    uri = client.open(root / "worker.py")
    await client.diagnostics_for(uri, having("FC101"))
    await client.until(lambda: bool(client.registrations))
    registration = client.registrations[0]
    assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    globs = [w["globPattern"] for w in registration.register_options["watchers"]]  # type: ignore[index]
    assert "**/pyproject.toml" in globs

    before = client.published_count(uri)
    (root / "pyproject.toml").write_text('[project]\nname = "t"\n\n[tool.flashc]\nignore = ["FC101"]\n', encoding="utf-8")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(root / "pyproject.toml").as_uri(), type=types.FileChangeType.Changed)
    ]))
    await client.diagnostics_for(uri, lambda d: codes(d) == ["FC402"], after=before)

    # Saving pyproject.toml in the editor works too.
    before = client.published_count(uri)
    (root / "pyproject.toml").write_text('[project]\nname = "t"\n\n[tool.flashc]\nignore = ["FC4"]\n', encoding="utf-8")
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=(root / "pyproject.toml").as_uri())
    ))
    await client.diagnostics_for(uri, lambda d: codes(d) == ["FC101"], after=before)


async def test_closing_a_document_clears_its_diagnostics(client: Client, project) -> None:
    root = project({"worker.py": WORKER})
    uri = client.open(root / "worker.py")
    await client.diagnostics_for(uri, having("FC101"))
    before = client.published_count(uri)
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    await client.diagnostics_for(uri, lambda d: not d, after=before)


async def test_a_file_outside_any_project_is_checked_as_its_directory(client: Client, tmp_path: Path) -> None:
    (tmp_path / "loose").mkdir()
    path = tmp_path / "loose" / "worker.py"
    path.write_text(WORKER, encoding="utf-8")
    uri = client.open(path)
    await client.diagnostics_for(uri, having("FC101"))
