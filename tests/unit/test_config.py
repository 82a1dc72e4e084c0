"""``[tool.flashc]`` rule-selection keys: accepted shapes, normalisation and exact error messages."""

from __future__ import annotations

import pytest

from flashc.config import Config, config_from_table, load_config
from flashc.diagnostics import Severity
from flashc.errors import ConfigError

SOURCE = "pyproject.toml"


def test_defaults_select_every_rule_and_fail_on_errors() -> None:
    config = config_from_table({})
    assert (config.select, config.extend_select, config.ignore) == (("ALL",), (), ())
    assert (config.per_file_ignores, config.severity, config.fail_on) == ((), (), Severity.ERROR)


def test_selection_keys_are_read_and_normalised_to_upper_case() -> None:
    config = config_from_table(
        {
            "select": ["fc3", "FC901"],
            "extend-select": ["Fc1"],
            "ignore": ["all"],
            "per-file-ignores": {"tests/": ["fc322"], "scripts/*.py": ["FC", "FC9"]},
            "severity": {"fc306": "error", "FC3": "info"},
            "fail-on": "warning",
        }
    )
    assert config == Config(
        select=("FC3", "FC901"),
        extend_select=("FC1",),
        ignore=("ALL",),
        per_file_ignores=(("tests/", ("FC322",)), ("scripts/*.py", ("FC", "FC9"))),
        severity=(("FC306", Severity.ERROR), ("FC3", Severity.INFO)),
        fail_on=Severity.WARNING,
    )


def test_fail_on_never_is_none() -> None:
    assert config_from_table({"fail-on": "never"}).fail_on is None


_FORMS = "allowed: ALL, FC, or FC followed by one to three digits (FC1, FC10, FC101)"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"select": "FC1"}, "pyproject.toml: [tool.flashc] select must be a list of rule codes or prefixes, got 'FC1'"),
        ({"ignore": ["FC1", 3]}, "pyproject.toml: [tool.flashc] ignore must be a list of rule codes or prefixes, got ['FC1', 3]"),
        ({"extend-select": ["E501"]}, f"pyproject.toml: [tool.flashc] extend-select: 'E501' is not a rule code or prefix; {_FORMS}"),
        ({"select": ["FC1011"]}, f"pyproject.toml: [tool.flashc] select: 'FC1011' is not a rule code or prefix; {_FORMS}"),
        ({"select": ["FC 101"]}, f"pyproject.toml: [tool.flashc] select: 'FC 101' is not a rule code or prefix; {_FORMS}"),
        (
            {"per-file-ignores": ["tests/"]},
            "pyproject.toml: [tool.flashc] per-file-ignores must be a table of gitignore-style pattern = [rule codes], got ['tests/']",
        ),
        (
            {"per-file-ignores": {"tests/": "FC1"}},
            "pyproject.toml: [tool.flashc.per-file-ignores] 'tests/' must be a list of rule codes or prefixes, got 'FC1'",
        ),
        (
            {"per-file-ignores": {"tests/": ["X1"]}},
            f"pyproject.toml: [tool.flashc.per-file-ignores] 'tests/': 'X1' is not a rule code or prefix; {_FORMS}",
        ),
        ({"per-file-ignores": {" ": ["FC1"]}}, "pyproject.toml: [tool.flashc.per-file-ignores] ' ': the pattern must not be empty"),
        (
            {"severity": "warning"},
            "pyproject.toml: [tool.flashc] severity must be a table of rule code or prefix = severity, got 'warning'",
        ),
        (
            {"severity": {"FC3": "fatal"}},
            "pyproject.toml: [tool.flashc.severity] 'FC3': 'fatal' is not a severity; allowed: error, warning, info",
        ),
        (
            {"severity": {"FC3": ["info"]}},
            "pyproject.toml: [tool.flashc.severity] 'FC3': ['info'] is not a severity; allowed: error, warning, info",
        ),
        ({"severity": {"F3": "info"}}, f"pyproject.toml: [tool.flashc.severity]: 'F3' is not a rule code or prefix; {_FORMS}"),
        (
            {"severity": {"fc3": "info", "FC3": "error"}},
            "pyproject.toml: [tool.flashc.severity]: 'FC3' repeats 'FC3' (codes are case-insensitive)",
        ),
        ({"fail-on": "errors"}, "pyproject.toml: [tool.flashc] fail-on 'errors' is not allowed; allowed: error, warning, info, never"),
        ({"fail-on": False}, "pyproject.toml: [tool.flashc] fail-on False is not allowed; allowed: error, warning, info, never"),
    ],
)
def test_invalid_values_name_the_key_the_value_and_what_is_allowed(table, message) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_table(table, source=SOURCE)
    assert str(info.value) == message


def test_unknown_key_lists_the_new_keys_too() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_table({"extend-ignore": ["FC1"]})
    message = str(info.value)
    assert "unknown key [tool.flashc] 'extend-ignore' (did you mean 'ignore'?)" in message
    for key in ("extend-select (", "fail-on (", "ignore (", "per-file-ignores (", "select (", "severity ("):
        assert key in message


def test_tables_are_read_from_pyproject(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.flashc]\nignore = ["FC306"]\nfail-on = "info"\n\n'
        '[tool.flashc.per-file-ignores]\n"tests/**" = ["FC3"]\n\n'
        '[tool.flashc.severity]\nFC322 = "error"\n',
        encoding="utf-8",
    )
    config = load_config(tmp_path)
    assert config.ignore == ("FC306",)
    assert config.fail_on is Severity.INFO
    assert config.per_file_ignores == (("tests/**", ("FC3",)),)
    assert config.severity == (("FC322", Severity.ERROR),)
