"""``flashc check`` options and ``flashc rule``, run as a user runs them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flashc.cli import app
from support import FIXTURES

SCOPING = FIXTURES / "rules" / "scoping"
CALLS = FIXTURES / "rules" / "calls"


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: object):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


def test_select_and_ignore_by_prefix(run) -> None:
    only_imports = run("check", SCOPING, "--select", "FC101", "--format", "concise", "-q")
    assert {line.split(": ")[1].split(" ")[0] for line in only_imports.stdout.splitlines()} == {"FC101"}
    without_scoping = run("check", SCOPING, "--ignore", "FC1", "--format", "concise", "-q")
    assert (without_scoping.exit_code, without_scoping.stdout) == (0, "")


def test_unknown_rule_code_is_a_usage_error(run) -> None:
    result = run("check", SCOPING, "--select", "FC999")
    assert result.exit_code == 2
    assert "FC999" in result.stderr and "Traceback" not in result.output


def test_fail_on_decides_the_exit_status(run) -> None:
    warnings_only = ("check", SCOPING, "--select", "FC103,FC108")
    assert run(*warnings_only).exit_code == 0
    assert run(*warnings_only, "--fail-on", "warning").exit_code == 1
    assert run("check", CALLS, "--fail-on", "never").exit_code == 0


def test_quiet_prints_findings_without_the_summary(run) -> None:
    result = run("check", CALLS, "--format", "concise", "--quiet")
    assert "Found" not in result.stdout
    assert result.stdout.splitlines()[0].startswith("client.py:18:5: FC201 [error]")


def test_statistics(run, text_snapshot) -> None:
    result = run("check", SCOPING, "--statistics")
    assert result.exit_code == 1
    assert result.stdout == text_snapshot


@pytest.mark.parametrize("format", ["json", "sarif"])
def test_machine_formats_carry_fix_edits(run, format: str) -> None:
    result = run("check", FIXTURES / "fixes", "--format", format, "--unsafe-fixes")
    document = json.loads(result.stdout)
    if format == "json":
        fixes = [d["fix"] for d in document if d["fix"]]
        assert fixes and all(f["edits"] for f in fixes)
    else:
        results = document["runs"][0]["results"]
        assert any(r.get("fixes") for r in results)


def test_github_format(run) -> None:
    result = run("check", CALLS, "--format", "github", "--select", "FC202")
    first = result.stdout.splitlines()[0]
    assert first == (
        "::error file=client.py,line=33,col=11,endLine=33,endColumn=28,"
        "title=FC202 (endpoint-call-signature-mismatch)::`embed()` is missing required argument `texts`"
        "%0Anote: workers.py:9:11: `embed` is an endpoint function defined here"
    )


def test_rule_prints_the_documentation(run, text_snapshot) -> None:
    result = run("rule", "FC101")
    assert result.exit_code == 0
    assert result.stdout == text_snapshot
    assert run("rule", "module-import-captured").stdout == result.stdout


def test_rule_all_lists_every_code(run) -> None:
    result = run("rule", "--all")
    codes = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert codes[:3] == ["FC101", "FC102", "FC103"]
    assert {"FC201", "FC310", "FC900", "FC901"} <= set(codes)
    assert json.loads(run("rule", "--all", "--format", "json").stdout)[0]["name"] == "module-import-captured"


def test_unknown_rule(run) -> None:
    result = run("rule", "FC999")
    assert result.exit_code == 2
    assert "unknown rule 'FC999'" in result.stderr


def test_an_internal_error_is_a_message_and_exit_2(run, monkeypatch) -> None:
    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("flashc.api.run_rules", crash)
    result = run("check", CALLS, "--no-cache")
    assert result.exit_code == 2
    assert "flashc: internal error: RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.output


def test_paths_of_several_projects_are_each_checked_in_their_project(run) -> None:
    result = run("check", FIXTURES / "rules" / "calls" / "client.py", FIXTURES / "rules" / "names" / "second.py", "--format", "concise", "-q")
    lines = result.stdout.splitlines()
    assert any(line.startswith("client.py:18:5: FC201") for line in lines)
    assert any(line.startswith("../names/second.py:9:2: FC310") for line in lines)
    assert {line.split(":")[0] for line in lines} == {"client.py", "../names/second.py"}


def test_excerpts_count_lines_as_python_does(run, tmp_path) -> None:
    """A form feed or a Unicode line separator does not end a line (``str.splitlines`` says it does)."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "ff"\nversion = "0"\n', encoding="utf-8")
    (tmp_path / "main.py").write_text(
        "import os\nfrom runpod_flash import Endpoint\n\x0c\n# \u2028 separated\n"
        "@Endpoint(name='e')\nasync def f(x):\n    return os.getcwd()\n",
        encoding="utf-8",
    )
    result = run("check", "--no-cache", tmp_path)
    assert "main.py:7:12: FC101" in result.output, result.output
    assert "7 |     return os.getcwd()" in result.output, result.output


def test_split_lines_ends_lines_where_python_does() -> None:
    from flashc.diagnostics import split_lines

    text = "a\r\nb\rc\x0cd\u2028e\x1cf\nlast"
    assert split_lines(text) == ["a", "b", "c\x0cd\u2028e\x1cf", "last"]
    assert split_lines(text, keepends=True) == ["a\r\n", "b\r", "c\x0cd\u2028e\x1cf\n", "last"]
    assert split_lines("x\n") == ["x", ""] and split_lines("x\n", keepends=True) == ["x\n"]
