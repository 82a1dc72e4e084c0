"""The ``flashc`` command as a user runs it: output, formats and exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flashc.cli import app
from support import PROJECTS, REPO

QUICKSTART = REPO / "examples" / "quickstart"


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


def test_inspect_text(run, text_snapshot) -> None:
    result = run("inspect", QUICKSTART)
    assert result.exit_code == 0
    assert result.output == text_snapshot


def test_inspect_json_lists_every_endpoint_with_resolved_config(run) -> None:
    result = run("inspect", QUICKSTART, "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert document["schema_version"] == 1
    endpoints = {e["name"]: e for e in document["endpoints"]}
    assert sorted(endpoints) == ["quickstart-api", "quickstart-cpu", "quickstart-gpu"]
    assert endpoints["quickstart-gpu"]["settings"]["gpu"]["value"] == ["ADA_24"]
    assert endpoints["quickstart-cpu"]["settings"]["cpu"]["value"] == ["cpu3c-1-2"]
    assert endpoints["quickstart-api"]["kind"] == "load-balanced"
    assert all(not e["problems"] for e in endpoints.values())


def test_check_clean_project_exits_0(run) -> None:
    result = run("check", QUICKSTART)
    assert result.exit_code == 0
    assert result.output == "All checks passed.\n"


def test_check_reports_findings_and_exits_1(run, text_snapshot) -> None:
    result = run("check", PROJECTS / "invalid")
    assert result.exit_code == 1
    assert result.output == text_snapshot


def test_check_json(run) -> None:
    result = run("check", PROJECTS / "invalid", "--format", "json")
    assert result.exit_code == 1
    found = json.loads(result.output)
    first = found[0]
    assert (first["code"], first["name"], first["severity"], first["path"]) == ("FC320", "config-value-invalid", "error", "app.py")
    assert (first["location"], first["end_location"]) == ({"line": 4, "column": 30}, {"line": 4, "column": 47})
    assert [d["code"] for d in found].count("FC320") == 6


def test_check_only_reports_under_the_given_paths(run) -> None:
    result = run("check", PROJECTS / "cross_module" / "routes.py")
    assert result.exit_code == 0


def test_bad_config_exits_2_with_the_field_named(run, tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.flashc]\nworkers = 3\n', encoding="utf-8")
    result = run("check", tmp_path)
    assert result.exit_code == 2
    assert "unknown key [tool.flashc] 'workers'" in result.output
    assert "Traceback" not in result.output


def test_missing_path_exits_2(run, tmp_path) -> None:
    result = run("inspect", tmp_path / "missing")
    assert result.exit_code == 2
    assert "no such file or directory" in result.output


def test_version(run) -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.output.startswith("flashc ")


def test_check_a_directory_of_projects_checks_each_one(run) -> None:
    """``examples/`` has no pyproject.toml of its own: each example is its own project."""
    assert run("check", REPO / "examples").output == "All checks passed.\n"
    result = run("check", PROJECTS, "--format", "json")
    assert result.exit_code == 1
    paths = {d["path"] for d in json.loads(result.output)}
    assert paths == {
        "tests/fixtures/projects/invalid/app.py",
        "tests/fixtures/projects/unresolved/app.py",
        # Declared dependencies the fixtures never import (FC402 warnings).
        "tests/fixtures/projects/dynamic_values/app.py",
        "tests/fixtures/projects/remote_spellings/workers.py",
    }
