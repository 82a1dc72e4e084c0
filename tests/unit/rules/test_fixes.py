"""Fixes: libcst insertions that keep formatting and comments, applied until nothing changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flashc import api
from flashc.cli import app
from flashc.diagnostics import Edit, Fix, Applicability, InsertStatements, Position, Span
from flashc.transforms.fixes import apply_fixes, line_edit
from flashc.transforms.insert import FixError, insert_statements
from support import FIXTURES

FIXES = FIXTURES / "fixes"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "fixes"
    shutil.copytree(FIXES, root)
    return root


def test_unsafe_fixes_rewrite_the_file_keeping_formatting_and_comments(project: Path, text_snapshot) -> None:
    result = api.fix([project], unsafe=True)
    (before, after), = result.changed.values()
    assert before == (FIXES / "app.py").read_text(encoding="utf-8")
    assert result.fixed == 8
    assert result.result.diagnostics == ()
    assert "# A comment that stays where it is." in after and "# tuned by hand" in after
    compile(after, "app.py", "exec")
    assert after == text_snapshot


def test_a_second_run_changes_nothing_and_the_fixed_code_checks_clean(project: Path) -> None:
    first = api.fix([project], unsafe=True)
    api.write_fixes(project, first.changed)
    second = api.fix([project], unsafe=True)
    assert second.changed == {}
    assert api.check([project], use_cache=False).diagnostics == ()


def test_safe_mode_leaves_unsafe_fixes_alone(project: Path) -> None:
    assert api.fix([project]).changed == {}


def test_cli_diff_shows_the_fixes_without_writing(project: Path, text_snapshot) -> None:
    original = (project / "app.py").read_text(encoding="utf-8")
    result = CliRunner().invoke(app, ["check", str(project), "--diff", "--unsafe-fixes", "--no-cache"])
    assert result.exit_code == 1
    assert result.stdout == text_snapshot
    assert (project / "app.py").read_text(encoding="utf-8") == original


def test_cli_fix_writes_and_reports_what_remains(project: Path) -> None:
    (project / "extra.py").write_text(
        "from app import gpu\nfrom runpod_flash import remote\n\n@remote(resource_config=gpu)\nasync def f():\n    return missing\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["check", str(project), "--fix", "--unsafe-fixes", "--no-cache"])
    assert result.exit_code == 1
    assert "Fixed 8 findings in 1 file." in result.stderr
    assert "extra.py:6:12: FC107" in result.stdout
    assert "import numpy as np" in (project / "app.py").read_text(encoding="utf-8")


def test_one_line_body_becomes_an_indented_block() -> None:
    source = "def f(x): return np.sum(x)  # sum\n"
    change = InsertStatements((("f", 0),), ("import numpy as np",))
    assert insert_statements(source, change) == "def f(x):\n    import numpy as np\n    return np.sum(x)  # sum\n"


def test_occurrence_picks_the_right_definition_of_a_repeated_name() -> None:
    source = "if a:\n    def f():\n        pass\nelse:\n    def f():\n        pass\n"
    change = InsertStatements((("f", 1),), ("x = 1",))
    assert insert_statements(source, change) == "if a:\n    def f():\n        pass\nelse:\n    def f():\n        x = 1\n        pass\n"


def test_a_missing_definition_is_an_error_not_a_wrong_edit() -> None:
    with pytest.raises(FixError):
        insert_statements("def g():\n    pass\n", InsertStatements((("f", 0),), ("x = 1",)))


def test_edits_are_whole_lines() -> None:
    edit = line_edit("a.py", "a\nb\nc\n", "a\nx\nb\nc\n")
    assert edit == Edit(Span("a.py", Position(2, 0), Position(2, 0)), "x\n")


def test_identical_edits_apply_once_and_overlapping_fixes_wait() -> None:
    insert = Edit(Span("a.py", Position(2, 0), Position(2, 0)), "x\n")
    replace_b = Edit(Span("a.py", Position(2, 0), Position(3, 0)), "B\n")
    overlapping = Edit(Span("a.py", Position(2, 0), Position(3, 0)), "C\n")
    fixes = [Fix("t", (insert,), Applicability.SAFE), Fix("t", (insert,), Applicability.SAFE), Fix("r", (replace_b,), Applicability.SAFE), Fix("o", (overlapping,), Applicability.SAFE)]
    text, applied = apply_fixes("a\nb\nc\n", fixes)
    assert text == "a\nx\nB\nc\n"
    assert applied == 3


def test_a_fix_that_would_break_the_file_is_not_applied(project: Path, monkeypatch) -> None:
    monkeypatch.setattr("flashc.api.apply_fixes", lambda text, fixes: (text + "\ndef broken(:\n", 1))
    assert api.fix([project], unsafe=True).changed == {}


def test_an_unused_suppression_is_removed_by_the_safe_fixes(project: Path) -> None:
    app_py = project / "app.py"
    app_py.write_text(app_py.read_text(encoding="utf-8").replace('gpu = LiveServerless(name="fixes-gpu")', 'gpu = LiveServerless(name="fixes-gpu")  # flashc: ignore[FC101]'), encoding="utf-8")
    result = api.fix([project])
    (before, after), = result.changed.values()
    assert 'gpu = LiveServerless(name="fixes-gpu")\n' in after and "flashc: ignore" not in after
