"""``flashc check`` output formats: text, concise, summary, statistics, JSON and GitHub."""

from __future__ import annotations

import json
import unicodedata

from render_samples import read_line, span

from flashc.diagnostics import Applicability, Diagnostic, Edit, Fix, Severity
from flashc.render.diagnostics import (
    is_fixable,
    render_concise,
    render_json,
    render_statistics,
    render_text,
    summary,
)
from flashc.render.github import escape_data, escape_property, render_github


def _cells(text: str) -> int:
    """Terminal width, the way a monospace terminal lays the text out."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text
    )


# --- text and concise ------------------------------------------------------------------------


def test_text(diagnostics, text_snapshot) -> None:
    assert render_text(diagnostics, read_line) == text_snapshot


def test_text_with_unsafe_fixes_marks_the_unsafe_fix_fixable(diagnostics) -> None:
    output = render_text(diagnostics, read_line, unsafe_fixes=True)
    assert "app.py:8:34: FC205 [*] [warning]" in output
    assert "app.py:11:10: FC999 [error]" in output  # display-only: never [*]


def test_caret_sits_under_the_span_after_wide_and_combining_characters(diagnostics) -> None:
    block = render_text([diagnostics[1]], read_line).splitlines()
    source, carets = block[2], block[3]
    before_span = source[: source.index("名前")]
    assert _cells(carets[: carets.index("^")]) == _cells(before_span)
    assert carets.count("^") == 4  # two wide characters


def test_caret_sits_under_the_span_after_tabs(diagnostics) -> None:
    block = render_text([diagnostics[3]], read_line).splitlines()
    source, carets = block[2], block[3]
    assert "\t" not in source
    assert carets.index("^") == source.index("compute")
    assert carets.count("^") == len("compute")


def test_multi_line_span_is_underlined_to_the_end_of_its_first_line(diagnostics) -> None:
    block = render_text([diagnostics[2]], read_line).splitlines()
    source, carets = block[2], block[3]
    assert carets.index("^") == source.index("grouped")
    assert len(carets) == len(source)


def test_text_without_the_source_line_keeps_header_notes_and_help(diagnostics) -> None:
    output = render_text([diagnostics[0]], lambda path, line: None)
    assert output.splitlines() == [
        "app.py:5:12: FC101 [*] [error] `infer` uses `torch`, imported at module level (100% sure: a, b)",
        "  = note: app.py:1:8: `torch` is imported here",
        "  = note: only the function body ships to the worker;",
        "          module-level imports do not",
        "  = help: Move `import torch` into `infer` (safe fix)",
    ]


def test_zero_width_span_gets_one_caret() -> None:
    diagnostic = Diagnostic("FC410", "Missing", span("app.py", 4, 13, 4, 13), Severity.INFO)
    assert render_text([diagnostic], read_line).splitlines()[-1] == "  |              ^"


def test_concise(diagnostics, text_snapshot) -> None:
    assert render_concise(diagnostics) == text_snapshot


def test_empty_output_is_empty() -> None:
    assert render_text([], read_line) == ""
    assert render_concise([]) == ""
    assert render_statistics([]) == ""
    assert render_github([]) == ""
    assert render_json([]) == "[]\n"


# --- summary ---------------------------------------------------------------------------------


def test_summary_counts_and_fixes(diagnostics) -> None:
    assert summary(diagnostics) == (
        "Found 3 errors, 1 warning, 1 info.\n"
        "[*] 2 fixable with `flashc check --fix` (1 hidden fix can be enabled with `--unsafe-fixes`)."
    )


def test_summary_with_unsafe_fixes_enabled(diagnostics) -> None:
    assert summary(diagnostics, unsafe_fixes=True) == (
        "Found 3 errors, 1 warning, 1 info.\n[*] 3 fixable with `flashc check --fix --unsafe-fixes`."
    )


def test_summary_with_only_hidden_fixes(diagnostics) -> None:
    assert summary([diagnostics[1], diagnostics[1]]) == (
        "Found 2 warnings.\nNo safe fixes available (2 hidden fixes can be enabled with `--unsafe-fixes`)."
    )


def test_summary_without_fixes(diagnostics) -> None:
    assert summary([]) == "All checks passed."
    assert summary([diagnostics[2]]) == "Found 1 info."
    assert summary([diagnostics[3]]) == "Found 1 error."  # display-only fixes are not counted


def test_fixable_depends_on_applicability(diagnostics) -> None:
    assert [is_fixable(d) for d in diagnostics] == [True, False, False, False, True]
    assert [is_fixable(d, unsafe_fixes=True) for d in diagnostics] == [True, True, False, False, True]


# --- statistics ------------------------------------------------------------------------------


def test_statistics(diagnostics, text_snapshot) -> None:
    assert render_statistics(diagnostics) == text_snapshot


def test_statistics_sorts_by_count_then_code_and_aligns(diagnostics) -> None:
    many = [diagnostics[2]] * 12 + diagnostics
    assert render_statistics(many, unsafe_fixes=True).splitlines() == [
        "13  FC410       body-spread",
        " 2  FC101  [*]  module-import-captured",
        " 1  FC205  [*]  name-shadowed",
        " 1  FC999",
    ]


# --- JSON ------------------------------------------------------------------------------------


def test_json_fields(diagnostics) -> None:
    found = json.loads(render_json(diagnostics))
    assert [d["code"] for d in found] == ["FC101", "FC205", "FC410", "FC999", "FC101"]
    first = found[0]
    assert sorted(first) == [
        "code", "end_location", "fix", "location", "message", "name", "notes", "path", "severity"
    ]  # fmt: skip
    assert first["name"] == "module-import-captured"
    assert first["severity"] == "error"
    assert first["message"] == diagnostics[0].message
    assert first["path"] == "app.py"
    assert first["location"] == {"line": 5, "column": 12}
    assert first["end_location"] == {"line": 5, "column": 17}
    assert first["fix"] == {
        "title": "Move `import torch` into `infer`",
        "applicability": "safe",
        "edits": [
            {
                "path": "app.py",
                "location": {"line": 1, "column": 1},
                "end_location": {"line": 2, "column": 1},
                "content": "",
            },
            {
                "path": "app.py",
                "location": {"line": 5, "column": 1},
                "end_location": {"line": 5, "column": 1},
                "content": "    import torch\n",
            },
        ],
    }
    assert first["notes"] == [
        {
            "message": "`torch` is imported here",
            "path": "app.py",
            "location": {"line": 1, "column": 8},
            "end_location": {"line": 1, "column": 13},
        },
        {
            "message": "only the function body ships to the worker;\nmodule-level imports do not",
            "path": None,
            "location": None,
            "end_location": None,
        },
    ]


def test_json_unknown_code_unsafe_and_display_only_fixes(diagnostics) -> None:
    found = json.loads(render_json(diagnostics))
    assert found[1]["fix"]["applicability"] == "unsafe"
    assert found[1]["fix"]["edits"][0]["content"] == "名前_local"
    assert found[1]["location"] == {"line": 8, "column": 34}
    assert found[2]["fix"] is None and found[2]["notes"] == []
    assert found[2]["severity"] == "info"
    assert found[2]["end_location"] == {"line": 11, "column": 6}
    assert found[3]["name"] is None
    assert found[3]["fix"]["applicability"] == "display-only"


def test_json_is_deterministic_and_keeps_non_ascii(diagnostics) -> None:
    output = render_json(diagnostics)
    assert output == render_json(list(diagnostics))
    assert "名前" in output and output.endswith("]\n")


# --- GitHub ----------------------------------------------------------------------------------


def test_github(diagnostics) -> None:
    assert render_github(diagnostics) == (
        "::error file=app.py,line=5,col=12,endLine=5,endColumn=17,title=FC101 (module-import-captured)"
        "::`infer` uses `torch`, imported at module level (100%25 sure: a, b)"
        "%0Anote: app.py:1:8: `torch` is imported here"
        "%0Anote: only the function body ships to the worker;%0Amodule-level imports do not\n"
        "::warning file=app.py,line=8,col=34,endLine=8,endColumn=36,title=FC205 (name-shadowed)"
        "::`名前` is shadowed by a global\n"
        "::notice file=app.py,line=10,endLine=11,title=FC410 (body-spread)::This statement spans lines 10 to 11\n"
        "::error file=app.py,line=11,col=10,endLine=11,endColumn=17,title=FC999::`compute` is not defined\n"
        "::error file=we%3Aird%2Cdir/setup.py,line=1,col=1,endLine=1,endColumn=2,"
        "title=FC101 (module-import-captured)::`setup` uses `x`\n"
    )


def test_github_escaping() -> None:
    assert escape_data("50%\r\nnext: a, b") == "50%25%0D%0Anext: a, b"
    assert escape_property("50%\r\nnext: a, b") == "50%25%0D%0Anext%3A a%2C b"
    assert escape_data("%0A") == "%250A"  # escaping is not undone by a later step


def test_github_carriage_return_in_a_message() -> None:
    diagnostic = Diagnostic(
        "FC410",
        "first\r\nsecond",
        span("app.py", 1, 0, 1, 6),
        Severity.WARNING,
        Fix("t", (Edit(span("app.py", 1, 0, 1, 6), ""),), Applicability.SAFE),
    )
    assert render_github([diagnostic]) == (
        "::warning file=app.py,line=1,col=1,endLine=1,endColumn=7,title=FC410 (body-spread)::first%0D%0Asecond\n"
    )
