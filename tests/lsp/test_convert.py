"""The server's pure helpers: position encodings, suppression comments, whole-text edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from flashc.diagnostics import Diagnostic, Edit, Note, Position, Severity, Span
from flashc.lsp import convert, positions


def apply(text: str, edit: Edit) -> str:
    lines = positions.split_lines(text)
    start = positions.offset(lines, text, edit.span.start)
    end = positions.offset(lines, text, edit.span.end)
    return text[:start] + edit.replacement + text[end:]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [(positions.UTF16, [0, 1, 2, 4, 5]), (positions.UTF8, [0, 1, 3, 7, 8]), (positions.UTF32, [0, 1, 2, 3, 4])],
)
def test_columns_in_each_encoding(encoding: str, expected: list[int]) -> None:
    line = "aé😀b"
    assert [positions.to_units(line, column, encoding) for column in range(5)] == expected
    assert [positions.from_units(line, units, encoding) for units in expected] == list(range(5))


def test_a_column_inside_a_surrogate_pair_rounds_down_and_past_the_end_clamps() -> None:
    assert positions.from_units("😀b", 1) == 0
    assert positions.from_units("😀b", 99) == 2


def test_lines_break_where_python_breaks_them() -> None:
    assert positions.split_lines("a\r\nb\rc\nd\x0ce\n") == ["a", "b", "c", "d\x0ce", ""]


def test_positions_outside_the_text_are_clamped() -> None:
    lines = positions.split_lines("ab\ncd")
    assert positions.lsp_position(lines, Position(9, 0)) == types.Position(line=1, character=2)
    assert positions.lsp_position(lines, Position(1, 9)) == types.Position(line=0, character=2)


def test_a_diagnostic_converts_with_its_notes(tmp_path: Path) -> None:
    text = 'x = "😀"; y = np.sum(v)\n'
    diagnostic = Diagnostic(
        "FC103",
        "`np` is captured",
        Span("w.py", Position(1, 13), Position(1, 15)),
        Severity.WARNING,
        notes=(Note("imported here", Span("w.py", Position(1, 0), Position(1, 1))), Note("no place")),
    )
    found = convert.to_lsp(diagnostic, convert.Texts(tmp_path, {"w.py": text}, positions.UTF16))
    assert found.range == types.Range(start=types.Position(line=0, character=14), end=types.Position(line=0, character=16))
    assert found.severity == types.DiagnosticSeverity.Warning
    assert found.message == "`np` is captured\nno place"
    assert found.code_description == types.CodeDescription(href=f"{convert.RULES_URL}#fc103-module-constant-captured")
    assert found.related_information is not None
    assert found.related_information[0].location.uri == (tmp_path / "w.py").as_uri()


def test_an_unknown_code_links_to_the_catalogue() -> None:
    assert convert.rule_url("XX1") == convert.RULES_URL


@pytest.mark.parametrize(
    ("line", "codes", "expected"),
    [
        ("y = f(x)", ["FC101"], "y = f(x)  # flashc: ignore[FC101]"),
        ("y = f(x)   ", ["FC101"], "y = f(x)  # flashc: ignore[FC101]"),
        ("y = f(x)  # why", ["FC101"], "y = f(x)  # why  # flashc: ignore[FC101]"),
        ("y = f(x)  # flashc: ignore[FC103]", ["FC101"], "y = f(x)  # flashc: ignore[FC103, FC101]"),
        ("y = f(x)  # flashc: ignore[FC103]  # why", ["FC101"], "y = f(x)  # flashc: ignore[FC103, FC101]  # why"),
        ("y = f(x)  # noqa: E501", ["FC101"], "y = f(x)  # noqa: E501  # flashc: ignore[FC101]"),
    ],
)
def test_suppression_comments_are_added_or_merged(line: str, codes: list[str], expected: str) -> None:
    text = f"import os\n{line}\nz = 1\n"
    edit = convert.suppression_edit("m.py", text, 2, codes)
    assert edit is not None
    assert apply(text, edit) == f"import os\n{expected}\nz = 1\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("y = f(x)  # flashc: ignore[FC101]\n", 1),  # already there
        ("y = f(x)  # flashc: ignore\n", 1),  # a bare ignore covers every code
        ('s = """a\nb"""\n', 1),  # the line ends inside a string
        ("y = 1 + \\\n    2\n", 1),  # a line continuation
    ],
)
def test_no_suppression_comment_where_it_cannot_go(text: str, line: int) -> None:
    assert convert.suppression_edit("m.py", text, line, ["FC101"]) is None


@pytest.mark.parametrize(
    ("before", "after"),
    [("a\nb\nc\n", "a\nB\nc\n"), ("a😀\nb\n", "a😀\nxb\n"), ("abc", "abc"), ("a\r\nb\r\n", "a\r\n\r\nb\r\n"), ("", "x\n")],
)
def test_a_minimal_edit_turns_one_text_into_the_other(before: str, after: str) -> None:
    assert apply(before, convert.minimal_edit("m.py", before, after)) == after


def test_workspace_edits_are_versioned_when_the_client_supports_it(tmp_path: Path) -> None:
    texts = convert.Texts(tmp_path, {"m.py": "x = 1\n"}, positions.UTF16, {"m.py": "file:///m.py"})
    grouped = convert.text_edits([Edit(Span("m.py", Position(1, 0), Position(1, 1)), "y")] * 2, texts)
    assert list(grouped) == ["file:///m.py"] and len(grouped["file:///m.py"]) == 1
    versioned = convert.workspace_edit(grouped, lambda uri: 7, document_changes=True)
    assert versioned.document_changes is not None
    assert versioned.document_changes[0].text_document.version == 7  # type: ignore[union-attr]
    plain = convert.workspace_edit(grouped, lambda uri: 7, document_changes=False)
    assert plain.changes == grouped
