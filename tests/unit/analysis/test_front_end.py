"""Project discovery, reading and parsing: what the front end does with awkward input."""

from __future__ import annotations

import pytest

from flashc import api
from flashc.config import Config, config_from_table
from flashc.errors import ConfigError, ProjectNotFoundError


def diagnostics(root) -> list[tuple[str, str, int, int]]:
    model = api.inspect_project(root)
    found = list(model.diagnostics) + [d for e in model.endpoints for d in e.problems]
    return sorted((d.code, d.span.path, d.span.start.line, d.span.start.column) for d in found)


def test_syntax_error_is_a_diagnostic_and_other_files_are_still_analysed(make_project) -> None:
    root = make_project(
        {
            "broken.py": "from flashc import Endpoint\n\ndef f(:\n    pass\n",
            "fine.py": "from flashc import Endpoint\n\n@Endpoint(name='fine')\nasync def f():\n    return 1\n",
        }
    )
    model = api.inspect_project(root)
    assert [(d.code, d.span.path, d.span.start.line, d.span.start.column) for d in model.diagnostics] == [
        ("FC900", "broken.py", 3, 6)
    ]
    assert [e.name for e in model.endpoints] == ["fine"]


def test_binary_and_undecodable_files_are_reported(make_project) -> None:
    root = make_project({"ok.py": "x = 1\n"})
    (root / "blob.py").write_bytes(b"\x00\x01binary")
    (root / "latin.py").write_bytes(b"# -*- coding: ascii -*-\nname = '\xe9'\n")
    assert diagnostics(root) == [("FC902", "blob.py", 1, 0), ("FC902", "latin.py", 2, 8)]


def test_columns_are_code_points_on_non_ascii_lines(make_project) -> None:
    root = make_project(
        {"app.py": "from flashc import Endpoint\n\n@Endpoint(name='é', idle_timeout=0)  # café\nasync def f():\n    return 1\n"}
    )
    # idle_timeout starts at code point 20 (byte 21: 'é' takes two bytes); 'é' is no valid name.
    assert diagnostics(root) == [("FC312", "app.py", 3, 10), ("FC320", "app.py", 3, 20)]


def test_gitignore_and_configured_excludes_are_respected(make_project) -> None:
    endpoint = "from flashc import Endpoint\n\n@Endpoint(name='{}')\nasync def f():\n    return 1\n"
    root = make_project(
        {
            ".gitignore": "generated/\n",
            "generated/gen.py": endpoint.format("generated"),
            "vendor/third.py": endpoint.format("vendored"),
            "sub/.gitignore": "local_*.py\n",
            "sub/local_only.py": endpoint.format("local"),
            "sub/kept.py": endpoint.format("kept"),
            ".venv/lib/site.py": endpoint.format("venv"),
            "main.py": endpoint.format("main"),
        },
        pyproject='[project]\nname = "t"\nversion = "0"\n\n[tool.flashc]\nexclude = ["vendor/"]\n',
    )
    model = api.inspect_project(root)
    assert sorted(e.name for e in model.endpoints) == ["kept", "main"]
    assert [m.path for m in model.modules] == ["main.py", "sub/kept.py"]


def test_unknown_config_key_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_table({"exlude": ["x"]})
    message = str(info.value)
    assert "unknown key [tool.flashc] 'exlude' (did you mean 'exclude'?)" in message
    assert "app (app name (string)); docker (" in message and "; exclude (" in message and "python-version (" in message


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"python-version": "3.9"}, "python-version '3.9' is not supported; allowed: 3.10, 3.11, 3.12, 3.13"),
        ({"exclude": "tests/"}, "exclude must be a list of strings, got 'tests/'"),
        ({"app": ""}, "app must be a non-empty string"),
    ],
)
def test_invalid_config_values_name_field_value_and_allowed(table, expected) -> None:
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        config_from_table(table)


def test_config_is_read_from_pyproject(make_project) -> None:
    root = make_project({}, pyproject='[tool.flashc]\napp = "demo"\npython-version = "3.11"\n')
    model = api.inspect_project(root)
    assert model.config == Config(app="demo", python_version="3.11")
    assert model.name == "demo"


def test_broken_pyproject_is_a_clear_error(make_project) -> None:
    root = make_project({}, pyproject="[tool.flashc\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        api.inspect_project(root)


def test_missing_path_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ProjectNotFoundError, match="no such file or directory"):
        api.inspect_project(tmp_path / "nope")


def test_config_used_before_assignment(make_project) -> None:
    root = make_project(
        {
            "app.py": (
                "from flashc import LiveServerless, remote\n\n"
                "@remote(cfg)\nasync def f():\n    return 1\n\n"
                "cfg = LiveServerless(name='late')\n"
            )
        }
    )
    model = api.inspect_project(root)
    (endpoint,) = model.endpoints
    assert endpoint.name is None
    assert [(d.code, d.message) for d in endpoint.problems] == [
        ("FC320", "The endpoint configuration cannot be resolved statically: `cfg` is used before it is assigned (line 7)")
    ]


def test_endpoint_nested_in_a_function_records_the_closure(make_project) -> None:
    root = make_project(
        {
            "app.py": (
                "from flashc import Endpoint\n\n"
                "def factory(n):\n"
                "    @Endpoint(name='inner')\n"
                "    async def inner():\n"
                "        return n\n"
                "    return inner\n"
            )
        }
    )
    (endpoint,) = api.inspect_project(root).endpoints
    assert endpoint.functions[0].enclosing_function == "factory"


def test_modules_without_the_sdk_are_not_searched_but_still_resolved(make_project) -> None:
    root = make_project(
        {
            "constants.py": "WORKERS = (0, 7)\n",
            "unrelated.py": "def helper():\n    return 1\n",
            "app.py": (
                "from flashc import Endpoint\nfrom constants import WORKERS\n\n"
                "@Endpoint(name='w', workers=WORKERS)\nasync def f():\n    return 1\n"
            ),
        }
    )
    model = api.inspect_project(root)
    assert {m.path: m.skipped for m in model.modules} == {
        "app.py": False,
        "constants.py": True,
        "unrelated.py": True,
    }
    assert model.endpoints[0].setting("workers").value == [0, 7]


def test_bare_decorator_without_call_is_reported(make_project) -> None:
    root = make_project({"app.py": "from flashc import Endpoint\n\n@Endpoint\nasync def f():\n    return 1\n"})
    model = api.inspect_project(root)
    assert [(d.code, d.span.start.line) for d in model.diagnostics] == [("FC322", 3)]
    assert model.diagnostics[0].message == "`@Endpoint` must be called with its configuration, e.g. `@Endpoint(...)`"


def test_unresolved_remote_dependencies_stay_unresolved(make_project) -> None:
    """One unresolvable ``dependencies=`` makes the endpoint's package list unknown, not empty."""
    root = make_project(
        {
            "app.py": (
                "from flashc import LiveServerless, remote\nfrom elsewhere import EXTRA\n\n"
                "gpu = LiveServerless(name='g')\n\n"
                "@remote(gpu, dependencies=['numpy'])\nasync def a():\n    return 1\n\n"
                "@remote(gpu, dependencies=EXTRA)\nasync def b():\n    return 2\n"
            )
        }
    )
    (endpoint,) = api.inspect_project(root).endpoints
    setting = endpoint.setting("dependencies")
    assert setting.value is None
    assert "`EXTRA` comes from `elsewhere`" in setting.unresolved.reason
    assert [(d.code, d.span.start.line) for d in endpoint.problems] == [("FC322", 10)]


def test_remote_without_resource_config(make_project) -> None:
    root = make_project({"app.py": "from flashc import remote\n\n@remote(dependencies=['x'])\nasync def f():\n    return 1\n"})
    (endpoint,) = api.inspect_project(root).endpoints
    assert endpoint.name is None
    assert [(d.code, d.span.start.line, d.span.start.column) for d in endpoint.problems] == [("FC323", 3, 1)]


def test_identical_declarations_in_one_file_are_one_endpoint(make_project) -> None:
    declaration = '@Endpoint(name="jobs", cpu="cpu3c-1-2")\n'
    root = make_project(
        {
            "app.py": "from flashc import Endpoint\n\n"
            + declaration + "async def one(x):\n    return x\n\n"
            + declaration + "async def two(x):\n    return x\n\n"
            + '@Endpoint(name="jobs", cpu="cpu5c-2-4")\nasync def three(x):\n    return x\n'
        }
    )
    model = api.inspect_project(root)
    assert [(e.name, [f.name for f in e.functions]) for e in model.endpoints] == [("jobs", ["one", "two"]), ("jobs", ["three"])]
    assert [(d.code, d.span.start.line) for d in api.check([root], use_cache=False).diagnostics] == [("FC310", 11)]
