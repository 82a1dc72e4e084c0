"""Rule selection: ruff's precedence, command line over configuration, per-file ignores, severities."""

from __future__ import annotations

import pytest
from flashc_runtime.sdk import tables

from flashc.config import Config
from flashc.diagnostics import Diagnostic, Position, Severity, Span
from flashc.errors import ConfigError
from flashc.rules.registry import RULES
from flashc.rules.selection import Selection, apply, fails


@pytest.mark.parametrize(
    ("select", "extend_select", "ignore", "code", "enabled"),
    [
        (("ALL",), (), (), "FC320", True),  # the default: every rule
        ((), (), (), "FC320", False),  # an empty select runs nothing (but the always-on rules)
        (("FC3",), (), (), "FC320", True),
        (("FC3",), (), (), "FC901", False),
        (("ALL",), (), ("FC3",), "FC320", False),
        (("ALL",), (), ("FC3",), "FC901", True),
        (("FC3",), (), ("FC32",), "FC320", False),  # the more specific ignore wins
        (("FC3",), (), ("FC32",), "FC306", True),
        (("FC320",), (), ("FC3",), "FC320", True),  # an exact code beats a prefix
        (("FC320",), (), ("FC3",), "FC321", False),
        (("FC32",), (), ("FC32",), "FC320", False),  # a tie: ignore wins
        (("FC320",), (), ("FC320",), "FC320", False),
        (("FC9",), ("FC306",), ("FC3",), "FC306", True),  # extend-select follows the same precedence
        (("FC9",), ("FC306",), ("FC3",), "FC305", False),
        (("FC9",), ("FC30",), ("FC30",), "FC305", False),
        (("FC3",), (), ("ALL",), "FC320", True),  # ALL is the least specific selector
        (("ALL",), (), ("FC",), "FC320", False),  # ...less specific than FC
        (("FC",), (), ("ALL",), "FC320", True),
        (("FC3",), (), ("FC9",), "FC900", True),  # always on: syntax errors
        (("FC3",), (), ("FC9",), "FC902", True),  # always on: unreadable files
        ((), (), ("ALL", "FC900"), "FC900", True),
        (("FC3",), (), ("FC9",), "FC901", False),  # FC901 is an ordinary rule
    ],
)
def test_precedence(select, extend_select, ignore, code, enabled) -> None:
    selection = Selection(select=select, extend_select=extend_select, ignore=ignore)
    assert selection.enabled(code) is enabled


def test_command_line_select_replaces_the_configured_one() -> None:
    config = Config(select=("FC3",))
    selection = Selection.from_config(config, select=["FC9"])
    assert (selection.enabled("FC320"), selection.enabled("FC901")) == (False, True)


def test_command_line_extend_select_and_ignore_add_to_the_configured_ones() -> None:
    config = Config(select=("FC9",), extend_select=("FC301",), ignore=("FC901",))
    selection = Selection.from_config(config, extend_select=["FC302"], ignore=["FC900"])
    assert selection.select == ("FC9",)
    assert selection.extend_select == ("FC301", "FC302")
    assert selection.ignore == ("FC901", "FC900")
    assert [code for code in ("FC301", "FC302", "FC303", "FC901") if selection.enabled(code)] == ["FC301", "FC302"]


def test_command_line_select_keeps_the_configured_ignore_and_extend_select() -> None:
    config = Config(select=("FC9",), extend_select=("FC301",), ignore=("FC320",))
    selection = Selection.from_config(config, select=["FC32"])
    assert [code for code in ("FC301", "FC320", "FC321", "FC901") if selection.enabled(code)] == ["FC301", "FC321"]


def test_no_command_line_values_means_the_configured_selection() -> None:
    config = Config(
        select=("FC3",),
        extend_select=("FC901",),
        ignore=("FC306",),
        per_file_ignores=(("tests/", ("FC32",)),),
        severity=(("FC3", Severity.INFO),),
    )
    assert Selection.from_config(config) == Selection(
        select=("FC3",),
        extend_select=("FC901",),
        ignore=("FC306",),
        per_file_ignores=(("tests/", ("FC32",)),),
        severity=(("FC3", Severity.INFO),),
    )


def test_command_line_values_may_be_comma_separated_and_lower_case() -> None:
    selection = Selection.from_config(Config(), select=["fc3,FC901", " fc9 "], ignore=["FC306, fc305"])
    assert selection.select == ("FC3", "FC901", "FC9")
    assert selection.ignore == ("FC306", "FC305")


def test_a_malformed_command_line_code_names_the_option() -> None:
    with pytest.raises(ConfigError) as info:
        Selection.from_config(Config(), ignore=["E501"])
    assert str(info.value) == (
        "--ignore: 'E501' is not a rule code or prefix; allowed: ALL, FC, or FC followed by one to three digits (FC1, FC10, FC101)"
    )


def _known() -> str:
    return ", ".join(sorted(RULES))


@pytest.mark.parametrize(
    ("config", "options", "message"),
    [
        (
            Config(ignore=("FC399",)),
            {},
            f"[tool.flashc] ignore: unknown rule code 'FC399'{tables.suggest('FC399', sorted(RULES))}; known codes: {_known()}",
        ),
        (Config(select=("FC8",)), {}, f"[tool.flashc] select: no rule code starts with 'FC8'; known codes: {_known()}"),
        (
            Config(extend_select=("FC89",)),
            {},
            f"[tool.flashc] extend-select: no rule code starts with 'FC89'; known codes: {_known()}",
        ),
        (
            Config(per_file_ignores=(("tests/", ("FC8",)),)),
            {},
            f"[tool.flashc.per-file-ignores] 'tests/': no rule code starts with 'FC8'; known codes: {_known()}",
        ),
        (
            Config(severity=(("FC8", Severity.INFO),)),
            {},
            f"[tool.flashc.severity]: no rule code starts with 'FC8'; known codes: {_known()}",
        ),
        (Config(), {"select": ["FC8"]}, f"--select: no rule code starts with 'FC8'; known codes: {_known()}"),
        (
            Config(),
            {"extend_select": ["FC899"]},
            f"--extend-select: unknown rule code 'FC899'{tables.suggest('FC899', sorted(RULES))}; known codes: {_known()}",
        ),
    ],
)
def test_codes_must_name_known_rules(config, options, message) -> None:
    with pytest.raises(ConfigError) as info:
        Selection.from_config(config, **options)
    assert str(info.value) == message


def test_a_misspelt_code_gets_a_did_you_mean() -> None:
    with pytest.raises(ConfigError, match=r"^\[tool.flashc\] ignore: unknown rule code 'FC093' \(did you mean 'FC\d{3}'\?\); known"):
        Selection.from_config(Config(ignore=("FC093",)))


PER_FILE = Selection(
    ignore=("FC306",),
    per_file_ignores=(
        ("tests/", ("FC3",)),
        ("**/legacy_*.py", ("FC320",)),
        ("scripts/*.py", ("ALL",)),
    ),
)


@pytest.mark.parametrize(
    ("code", "path", "reported"),
    [
        ("FC320", "tests/test_app.py", False),
        ("FC320", "tests/deep/test_app.py", False),
        ("FC320", "app/tests/test_app.py", False),  # gitignore semantics: `tests/` matches at any depth
        ("FC320", "src/app.py", True),
        ("FC901", "tests/test_app.py", True),
        ("FC320", "pkg/legacy_io.py", False),
        ("FC321", "pkg/legacy_io.py", True),
        ("FC320", "legacy_io.py", False),
        ("FC901", "scripts/run.py", False),
        ("FC901", "scripts/sub/run.py", True),  # `*` does not cross `/`
        ("FC900", "scripts/run.py", True),  # always on, even where everything is ignored
        ("FC902", "tests/data.py", True),
        ("FC306", "src/app.py", False),  # disabled everywhere
    ],
)
def test_per_file_ignores(code, path, reported) -> None:
    assert PER_FILE.enabled_for(code, path) is reported


SEVERITIES = Selection(
    severity=(
        ("FC322", Severity.ERROR),
        ("FC32", Severity.WARNING),
        ("FC3", Severity.INFO),
        ("FC90", Severity.INFO),
    )
)


@pytest.mark.parametrize(
    ("code", "default", "expected"),
    [
        ("FC306", Severity.ERROR, Severity.INFO),
        ("FC320", Severity.ERROR, Severity.WARNING),
        ("FC322", Severity.WARNING, Severity.ERROR),  # exact beats prefixes, whatever their order
        ("FC901", Severity.WARNING, Severity.INFO),
        ("FC101", Severity.ERROR, Severity.ERROR),  # no entry: the default
        ("FC101", Severity.WARNING, Severity.WARNING),
    ],
)
def test_severity_overrides_take_the_most_specific_entry(code, default, expected) -> None:
    assert SEVERITIES.severity_of(code, default) is expected


def test_all_is_the_least_specific_severity_entry() -> None:
    selection = Selection(severity=(("FC3", Severity.INFO), ("ALL", Severity.ERROR)))
    assert selection.severity_of("FC306", Severity.WARNING) is Severity.INFO
    assert selection.severity_of("FC901", Severity.WARNING) is Severity.ERROR


def _diagnostic(code: str, path: str, severity: Severity) -> Diagnostic:
    start = Position(1, 0)
    return Diagnostic(code, "message", Span(path, start, start), severity)


def test_apply_drops_disabled_findings_and_overrides_severities() -> None:
    selection = Selection(
        ignore=("FC901", "FC9"),
        per_file_ignores=(("tests/", ("FC320",)),),
        severity=(("FC306", Severity.ERROR),),
    )
    found = apply(
        [
            _diagnostic("FC320", "tests/test_app.py", Severity.ERROR),
            _diagnostic("FC320", "app.py", Severity.ERROR),
            _diagnostic("FC306", "app.py", Severity.WARNING),
            _diagnostic("FC901", "app.py", Severity.WARNING),
            _diagnostic("FC900", "broken.py", Severity.ERROR),
        ],
        selection,
    )
    assert found == [
        _diagnostic("FC320", "app.py", Severity.ERROR),
        _diagnostic("FC306", "app.py", Severity.ERROR),
        _diagnostic("FC900", "broken.py", Severity.ERROR),
    ]


@pytest.mark.parametrize(
    ("severities", "fail_on", "failed"),
    [
        ((), Severity.INFO, False),
        ((Severity.WARNING,), Severity.ERROR, False),
        ((Severity.ERROR,), Severity.ERROR, True),
        ((Severity.WARNING,), Severity.WARNING, True),
        ((Severity.INFO,), Severity.WARNING, False),
        ((Severity.INFO,), Severity.INFO, True),
        ((Severity.ERROR,), None, False),  # fail-on = "never"
    ],
)
def test_fails_at_or_above_the_threshold(severities, fail_on, failed) -> None:
    assert fails([_diagnostic("FC320", "app.py", s) for s in severities], fail_on) is failed
