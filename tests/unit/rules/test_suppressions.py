"""Suppression comments: what counts as one, what it covers, and FC901 with its fix."""

from __future__ import annotations

import io
import tokenize

import pytest
from flashc_runtime.sdk import tables

from flashc.diagnostics import Applicability, Diagnostic, Edit, Position, Severity, Span
from flashc.rules.registry import RULES
from flashc.rules.selection import Selection
from flashc.rules.suppressions import apply_suppressions, find_suppressions

PATH = "app.py"


def parsed(text: str) -> list[tuple[bool, int, int, int | None, tuple[str, ...] | None]]:
    """(file-level, comment line, comment column, covered line, flashc codes or None when bare)."""
    return [
        (
            s.file_level,
            s.comment.start.line,
            s.comment.start.column,
            s.target_line,
            None if s.listed is None else tuple(item.code for item in s.codes),
        )
        for s in find_suppressions(PATH, text)
    ]


# --- parsing -------------------------------------------------------------------------------------


def test_end_of_line_comment_covers_its_line() -> None:
    assert parsed("x = 1  # flashc: ignore[FC320, FC321]\n") == [(False, 1, 7, 1, ("FC320", "FC321"))]


def test_own_line_comment_covers_the_next_line_of_code() -> None:
    text = "# flashc: ignore[FC320]\n\n# why: legacy\n   \nx = 1\n"
    assert parsed(text) == [(False, 1, 0, 5, ("FC320",))]


def test_own_line_comment_inside_a_body_and_inside_brackets() -> None:
    text = (
        "def f():\n"
        "    # flashc: ignore[FC101]\n"
        "    return g(\n"
        "        # flashc: ignore[FC320]\n"
        "        idle_timeout=0,\n"
        "    )\n"
    )
    assert parsed(text) == [(False, 2, 4, 3, ("FC101",)), (False, 4, 8, 5, ("FC320",))]


def test_own_line_comment_at_the_end_of_the_file_covers_nothing() -> None:
    assert parsed("x = 1\n# flashc: ignore[FC320]\n") == [(False, 2, 0, None, ("FC320",))]


def test_bare_comment_covers_every_code() -> None:
    assert parsed("x = 1  # flashc: ignore\n") == [(False, 1, 7, 1, None)]


def test_file_level_comments_on_their_own_line_anywhere() -> None:
    text = "x = 1\n\n# flashc: ignore-file[FC320, FC3]\ny = 2\n    # flashc: ignore-file\n"
    assert parsed(text) == [(True, 3, 0, None, ("FC320", "FC3")), (True, 5, 4, None, None)]


def test_file_level_comment_after_code_is_not_honoured() -> None:
    assert parsed("x = 1  # flashc: ignore-file[FC320]\n") == []


def test_noqa_counts_only_flashc_codes() -> None:
    (suppression,) = find_suppressions(PATH, "x = 1  # noqa: E501, FC320,W291 fc321\n")
    assert [(item.text, item.ours, item.span.start.column) for item in suppression.listed] == [
        ("E501", False, 15),
        ("FC320", True, 21),
        ("W291", False, 27),
        ("fc321", True, 32),
    ]
    assert [item.code for item in suppression.codes] == ["FC320", "FC321"]
    assert suppression.target_line == 1


@pytest.mark.parametrize("comment", ["# noqa", "# NOQA", "# noqa: E501, W291", "# noqa:F401"])
def test_bare_noqa_and_other_tools_noqa_are_not_ours(comment: str) -> None:
    assert parsed(f"import os  {comment}\n") == []


@pytest.mark.parametrize(
    "comment",
    [
        "#flashc:ignore[FC320,FC321]",
        "#  flashc:  ignore [ FC320 ,FC321 ]",
        "# flashc: ignore[FC320 FC321]",
        "# flashc: ignore[fc320, Fc321]",
        "# NoQA : FC320 FC321",
        "#noqa:FC320,FC321",
    ],
)
def test_spacing_and_case_variants(comment: str) -> None:
    assert parsed(f"x = 1  {comment}\n") == [(False, 1, 7, 1, ("FC320", "FC321"))]


@pytest.mark.parametrize(
    "comment",
    [
        "# flashc: ignored[FC320]",
        "# flashc : ignore[FC320]",
        "# flashc: ignore-files",
        "# Flashc: ignore",
        "# flashc ignore",
        "# flashc: ignore[FC320",  # an unclosed bracket is not a bare (ignore everything) comment
        "# flashc: ignore [FC320 # why]",
    ],
)
def test_look_alikes_are_not_suppressions(comment: str) -> None:
    assert parsed(f"x = 1  {comment}\n") == []


def test_text_inside_strings_is_not_a_comment() -> None:
    text = (
        's = "# flashc: ignore[FC320]"\n'
        "t = '''\n"
        "# flashc: ignore-file\n"
        "x = 1  # noqa: FC320\n"
        "'''\n"
        'u = f"{s}  # noqa: FC321"\n'
    )
    assert parsed(text) == []


@pytest.mark.parametrize(
    ("comment", "codes"),
    [
        ("# flashc: ignore[FC320]  # expect: FC901:22", ("FC320",)),
        ("# noqa: FC320  # expect: FC901:16", ("FC320",)),
        ("# flashc: ignore  # expect: FC901:8", None),
    ],
)
def test_a_following_comment_is_not_part_of_the_codes(comment: str, codes) -> None:
    assert parsed(f"x = 1  {comment}\n") == [(False, 1, 7, 1, codes)]


def test_two_directives_in_one_comment() -> None:
    assert parsed("x = 1  # noqa: E501, FC320  # flashc: ignore[FC321]\n") == [
        (False, 1, 28, 1, ("FC321",)),
        (False, 1, 7, 1, ("FC320",)),
    ]


def test_files_without_a_hint_are_not_tokenized(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("tokenized")

    monkeypatch.setattr(tokenize, "generate_tokens", fail)
    assert find_suppressions(PATH, "x = 1  # flashc ignore\n# no-qa\n") == []


def test_a_file_that_stops_tokenizing_keeps_the_comments_before_the_error() -> None:
    assert parsed('x = 1  # noqa: FC320\ns = """never closed\n') == [(False, 1, 7, 1, ("FC320",))]


def test_columns_are_code_points() -> None:
    assert parsed("s = 'café'  # flashc: ignore[FC320]\n")[0][2] == 12


# --- applying them -------------------------------------------------------------------------------


def finding(code: str, line: int, column: int = 0, path: str = PATH, severity: Severity = Severity.ERROR) -> Diagnostic:
    return Diagnostic(code, f"{code} finding", Span(path, Position(line, column), Position(line, column + 1)), severity)


def summary(diagnostics: list[Diagnostic]) -> list[tuple[str, int, int, str]]:
    return [(d.code, d.span.start.line, d.span.start.column, d.message) for d in diagnostics]


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (identical ones once), as a fixer would."""
    lines = io.StringIO(text).readlines()

    def offset(position: Position) -> int:
        return sum(len(line) for line in lines[: position.line - 1]) + position.column

    for edit in sorted(set(edits), key=lambda e: e.span.start, reverse=True):
        text = text[: offset(edit.span.start)] + edit.replacement + text[offset(edit.span.end) :]
    return text


def fixed(text: str, diagnostics: list[Diagnostic]) -> str:
    return apply_edits(text, [e for d in diagnostics if d.code == "FC901" for e in d.fix.edits])


SOURCE = (
    "import os\n"
    "a = 1  # flashc: ignore[FC320, FC321]\n"
    "# flashc: ignore[FC322]\n"
    "\n"
    "b = 2\n"
    "c = 3  # noqa: E501, FC306\n"
    "d = 4  # flashc: ignore\n"
    "e = 5  # flashc: ignore[FC999, FC3]\n"
)
FINDINGS = [finding("FC320", 2), finding("FC322", 5), finding("FC323", 5, 4), finding("FC900", 7)]


def test_suppressed_findings_go_and_unused_suppressions_are_reported() -> None:
    found = apply_suppressions(FINDINGS, {PATH: SOURCE}, Selection())
    assert summary(found) == [
        ("FC323", 5, 4, "FC323 finding"),
        ("FC900", 7, 0, "FC900 finding"),  # syntax errors cannot be suppressed
        ("FC901", 2, 31, "Unused suppression: no `FC321` finding on line 2"),
        ("FC901", 6, 21, "Unused suppression: no `FC306` finding on line 6"),
        ("FC901", 7, 7, "Unused suppression: no finding on line 7"),
        ("FC901", 8, 24, f"Unknown rule code `FC999` in suppression{tables.suggest('FC999', sorted(RULES))}"),
        ("FC901", 8, 31, "`FC3` is a code prefix; suppressions take full rule codes"),
    ]
    assert {(d.severity, d.fix.applicability) for d in found if d.code == "FC901"} == {(Severity.WARNING, Applicability.SAFE)}
    assert [d.span.end.column for d in found if d.code == "FC901"] == [36, 26, 23, 29, 34]


def test_fixes_remove_unused_codes_or_whole_comments() -> None:
    found = apply_suppressions(FINDINGS, {PATH: SOURCE}, Selection())
    assert fixed(SOURCE, found) == (
        "import os\n"
        "a = 1  # flashc: ignore[FC320]\n"
        "# flashc: ignore[FC322]\n"
        "\n"
        "b = 2\n"
        "c = 3  # noqa: E501\n"
        "d = 4\n"
        "e = 5\n"
    )
    titles = [d.fix.title for d in found if d.code == "FC901"]
    assert titles == [
        "Remove `FC321` from the suppression",
        "Remove `FC306` from the suppression",
        "Remove the unused suppression",
        "Remove the unused suppression",
        "Remove the unused suppression",
    ]


def test_every_fc901_of_one_comment_carries_the_same_edit() -> None:
    text = "x = 1  # flashc: ignore[FC320, FC321, FC322]\n"
    found = apply_suppressions([finding("FC321", 1)], {PATH: text}, Selection())
    assert [d.span.start.column for d in found] == [24, 38]
    assert found[0].fix == found[1].fix
    assert found[0].fix.title == "Remove `FC320`, `FC322` from the suppression"
    assert apply_edits(text, list(found[0].fix.edits)) == "x = 1  # flashc: ignore[FC321]\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# flashc: ignore[FC320]\nx = 1\n", "x = 1\n"),  # alone on its line: the line goes
        ("x = 1\n    # flashc: ignore-file[FC320]", "x = 1\n"),  # the last line, without a line break
        ("x = 1  # flashc: ignore[FC320]  # expect: FC901:22\n", "x = 1  # expect: FC901:22\n"),
        ("x = 1  # flashc: ignore[FC320] legacy value\n", "x = 1  # legacy value\n"),
        ("x = 1  # keep  # noqa: FC320\n", "x = 1  # keep\n"),
        ("x = 1\t# noqa: FC320\r\ny = 2\r\n", "x = 1\r\ny = 2\r\n"),
        ("# flashc: ignore\n\nx = 1\n", "\nx = 1\n"),
    ],
)
def test_whole_comment_removal(text: str, expected: str) -> None:
    found = apply_suppressions([], {PATH: text}, Selection())
    assert [d.code for d in found] == ["FC901"]
    assert fixed(text, found) == expected


def test_fc901_positions_on_own_line_and_file_level_comments() -> None:
    text = "# flashc: ignore[FC320]\nx = 1\n\n# flashc: ignore-file[FC321]\n# flashc: ignore-file\n"
    assert summary(apply_suppressions([], {PATH: text}, Selection())) == [
        ("FC901", 1, 17, "Unused suppression: no `FC320` finding on line 2"),
        ("FC901", 4, 22, "Unused suppression: no `FC321` finding in this file"),
        ("FC901", 5, 0, "Unused suppression: no finding in this file"),
    ]


def test_file_level_and_line_level_suppressions_both_count_as_used() -> None:
    text = "# flashc: ignore-file[FC320]\nx = 1  # noqa: FC320\ny = 2\n"
    found = apply_suppressions([finding("FC320", 2), finding("FC320", 3), finding("FC321", 3)], {PATH: text}, Selection())
    assert summary(found) == [("FC321", 3, 0, "FC321 finding")]


def test_bare_file_level_suppression_covers_everything_but_always_on_rules() -> None:
    text = "# flashc: ignore-file\nx = (\n"
    found = apply_suppressions([finding("FC320", 2), finding("FC900", 3)], {PATH: text}, Selection())
    assert summary(found) == [("FC900", 3, 0, "FC900 finding")]


def test_always_on_codes_cannot_be_suppressed() -> None:
    text = "x = (  # flashc: ignore[FC900]\n"
    found = apply_suppressions([finding("FC900", 1)], {PATH: text}, Selection())
    assert summary(found) == [
        ("FC900", 1, 0, "FC900 finding"),
        ("FC901", 1, 24, "Unused suppression: `FC900` (syntax-error) cannot be suppressed"),
    ]


def test_codes_the_selection_turns_off_are_not_reported_and_stay_in_the_comment() -> None:
    text = "x = 1  # flashc: ignore[FC320, FC321, FC322]\n"
    selection = Selection(ignore=("FC321",), per_file_ignores=(("app.py", ("FC322",)),))
    found = apply_suppressions([], {PATH: text}, selection)
    assert summary(found) == [("FC901", 1, 24, "Unused suppression: no `FC320` finding on line 1")]
    assert fixed(text, found) == "x = 1  # flashc: ignore[FC321, FC322]\n"


def test_no_fc901_where_fc901_is_off_but_suppressions_still_work() -> None:
    text = "x = 1  # flashc: ignore[FC320, FC321]\n"
    for selection in (Selection(ignore=("FC901",)), Selection(per_file_ignores=(("*.py", ("FC9",)),))):
        assert apply_suppressions([finding("FC320", 1)], {PATH: text}, selection) == []


def test_fc901_takes_the_configured_severity() -> None:
    found = apply_suppressions([], {PATH: "x = 1  # noqa: FC320\n"}, Selection(severity=(("FC9", Severity.INFO),)))
    assert [d.severity for d in found] == [Severity.INFO]


def test_naming_fc901_keeps_a_suppression_on_purpose() -> None:
    text = "x = 1  # flashc: ignore[FC320, FC901]\n"
    assert apply_suppressions([], {PATH: text}, Selection()) == []
    # An own-line comment covers the next line, yet naming FC901 still keeps the comment itself.
    assert apply_suppressions([], {PATH: "# flashc: ignore[FC320, FC901]\nx = 1\n"}, Selection()) == []
    # ...but when everything else is used, naming FC901 is itself unused.
    found = apply_suppressions([finding("FC320", 1)], {PATH: text}, Selection())
    assert summary(found) == [("FC901", 1, 31, "Unused suppression: no `FC901` finding on line 1")]
    assert fixed(text, found) == "x = 1  # flashc: ignore[FC320]\n"


def test_fc901_is_silenced_only_by_comments_that_name_it() -> None:
    text = (
        "# flashc: ignore[FC901]\n"
        "x = 1  # noqa: FC320\n"
        "y = 2  # noqa: FC321  # flashc: ignore\n"
    )
    # The own-line comment silences line 2; the bare comment on line 3 does not cover FC901
    # (and is itself unused: the only finding on line 3 is the FC901 about FC321).
    assert summary(apply_suppressions([], {PATH: text}, Selection())) == [
        ("FC901", 3, 15, "Unused suppression: no `FC321` finding on line 3"),
        ("FC901", 3, 22, "Unused suppression: no finding on line 3"),
    ]
    file_level = "x = 1  # noqa: FC320\n# flashc: ignore-file[FC901]\n"
    assert apply_suppressions([], {PATH: file_level}, Selection()) == []


def test_only_files_with_texts_are_searched() -> None:
    other = finding("FC320", 1, path="other.py")
    assert apply_suppressions([other], {PATH: "x = 1  # noqa: FC320\n"}, Selection())[0] == other
