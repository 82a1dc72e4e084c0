"""FC401–FC404 and the package knowledge behind them (``flashc.analysis.packages``)."""

from __future__ import annotations

import importlib.metadata
from textwrap import dedent

import pytest

from flashc.analysis import analyse, packages
from flashc.config import load_config
from flashc.diagnostics import Diagnostic
from flashc.rules import dependencies
from flashc.rules.context import RuleContext
from flashc.rules.registry import RULES

HEADER = "from runpod_flash import Endpoint, GpuGroup, LiveServerless, remote\n\n"


@pytest.fixture
def check(make_project):
    """Check ``{path: source}`` (``workers.py`` gets the SDK import) and list the findings.

    Each finding is ``(code, "path:line:column", severity, message)``; with
    ``notes=True`` its notes follow as ``(message, "path:line:column" or None)``.
    """

    def run(files: dict[str, str], python: str | None = None, notes: bool = False) -> list[tuple]:
        sources = {path: (HEADER if path == "workers.py" else "") + dedent(text) for path, text in files.items()}
        pyproject = '[project]\nname = "t"\nversion = "0"\n'
        if python:
            pyproject += f'\n[tool.flashc]\npython-version = "{python}"\n'
        root = make_project(sources, pyproject)
        found = sorted(dependencies.check(RuleContext(analyse(root, load_config(root)))), key=Diagnostic.sort_key)
        return [_row(d, notes) for d in found]

    return run


def _row(diagnostic: Diagnostic, notes: bool) -> tuple:
    row = (diagnostic.code, str(diagnostic.span), diagnostic.severity.value, diagnostic.message)
    if notes:
        row += tuple((n.message, str(n.span) if n.span else None) for n in diagnostic.notes)
    return row


@pytest.fixture
def nothing_installed(monkeypatch):
    """No installed metadata, so results do not depend on the test environment."""
    monkeypatch.setattr(packages, "_installed", dict)


# --- packages: the standard library per target Python ---------------------------------------------


@pytest.mark.parametrize(
    ("module", "present"),
    [
        ("tomllib", {"3.11", "3.12", "3.13"}),
        ("distutils", {"3.10", "3.11"}),
        ("asyncore", {"3.10", "3.11"}),
        ("imp", {"3.10", "3.11"}),
        ("imghdr", {"3.10", "3.11", "3.12"}),
        ("telnetlib", {"3.10", "3.11", "3.12"}),
        ("lib2to3", {"3.10", "3.11", "3.12"}),
        ("binhex", {"3.10"}),
        ("json", {"3.10", "3.11", "3.12", "3.13"}),
        ("os.path", {"3.10", "3.11", "3.12", "3.13"}),
        ("__future__", {"3.10", "3.11", "3.12", "3.13"}),
        ("annotationlib", set()),
        ("numpy", set()),
    ],
)
def test_stdlib_depends_on_the_target_python(module: str, present: set[str]) -> None:
    assert {v for v in ("3.10", "3.11", "3.12", "3.13") if packages.is_stdlib(module, v)} == present


# --- packages: import names and distributions -------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("cv2", ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")),
        ("PIL.Image", ("pillow", "pillow-simd")),
        ("sklearn.linear_model", ("scikit-learn",)),
        ("yaml", ("pyyaml",)),
        ("google.protobuf.message", ("protobuf",)),
        ("google.cloud.storage", ("google-cloud-storage", "google-cloud")),
        ("google", ("google",)),
        ("sentence_transformers", ("sentence-transformers",)),
        ("numpy.linalg", ("numpy-linalg", "numpy")),
        ("imghdr", ("standard-imghdr",)),
    ],
)
def test_distributions_of_an_import(module: str, expected: tuple[str, ...]) -> None:
    assert packages.distributions(module) == expected


def test_from_imports_inside_namespace_packages_name_the_distribution() -> None:
    assert packages.imported_modules("google.cloud", ("storage", "bigquery")) == ["google.cloud.storage", "google.cloud.bigquery"]
    assert packages.imported_modules("google.cloud", ("*",)) == ["google.cloud"]
    assert packages.imported_modules("numpy", ("array",)) == ["numpy"]


def test_installed_metadata_is_used_except_for_namespace_roots(monkeypatch) -> None:
    monkeypatch.setattr(packages, "_installed", lambda: {"mylib": ["My_Lib"], "google": ["protobuf"], "_mylib": ["My_Lib"]})
    assert packages.installed_distributions("mylib.sub") == ("my-lib",)
    assert packages.installed_distributions("google.cloud.storage") == ()
    assert packages.suggested_distribution("mylib") == "My_Lib"
    assert packages.import_names("my-lib") == ("mylib",)


@pytest.mark.usefixtures("nothing_installed")
@pytest.mark.parametrize(
    ("module", "suggested"),
    [("yaml", "PyYAML"), ("cv2", "opencv-python"), ("google.cloud.storage", "google-cloud-storage"), ("Some_Pkg.sub", "some-pkg")],
)
def test_suggested_distribution(module: str, suggested: str) -> None:
    assert packages.suggested_distribution(module) == suggested


@pytest.mark.usefixtures("nothing_installed")
@pytest.mark.parametrize(
    ("distribution", "names"),
    [
        ("pillow", ("PIL",)),
        ("scikit-learn", ("sklearn",)),
        ("psycopg2-binary", ("psycopg2",)),
        ("torch", ("torch",)),
        ("google-cloud-storage", ("google.cloud.storage",)),
        ("sentence-transformers", ("sentence_transformers",)),
    ],
)
def test_import_names_of_a_distribution(distribution: str, names: tuple[str, ...]) -> None:
    assert packages.import_names(distribution) == names


def test_installed_metadata_is_scanned_once(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(importlib.metadata, "packages_distributions", lambda: calls.append(1) or {})
    packages._installed.cache_clear()
    try:
        for module in ("a", "b.c", "d"):
            packages.installed_distributions(module)
    finally:
        packages._installed.cache_clear()
    assert calls == [1]


# --- packages: requirements ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("transformers[torch]>=4.40", "transformers"),
        ("Pillow >= 10", "pillow"),
        ("numpy; python_version < '3.11'", "numpy"),
        ("wheelpkg @ https://example.org/wheelpkg-1.0-py3-none-any.whl", "wheelpkg"),
        ("Sentence_Transformers", "sentence-transformers"),
        ("numpy==", None),
        ("", None),
    ],
)
def test_requirement_name(text: str, name: str | None) -> None:
    assert packages.requirement_name(text) == name


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("  ", "write a distribution name such as `numpy`"),
        ("-r requirements.txt", "pip options such as `-r` or `--index-url` cannot be given in `dependencies`"),
        ("torch --index-url https://x", "pip options such as `-r` or `--index-url` cannot be given in `dependencies`"),
        ("git+https://github.com/o/r.git", "write a URL as a direct reference, `name @ url`"),
        ("./vendor/tool", "write a local path as `name @ file:///absolute/path`"),
        ("numpy=1.26", "pin a version with `==`"),
        ("numpy, scipy>=1", "put each requirement in its own string"),
        ("numpy[", "expected `name[extras] version-specifier; marker`"),
    ],
)
def test_requirement_problem(text: str, problem: str) -> None:
    assert packages.requirement_name(text) is None
    assert packages.requirement_problem(text) == problem


# --- FC401 dependency-undeclared ------------------------------------------------------------------


def test_undeclared_imports_are_errors_once_per_package(check) -> None:
    source = """
        @Endpoint(name="a", cpu="cpu3c-1-2", dependencies=["numpy", "opencv-python-headless", "scikit-learn"])
        def a(x):
            import json, numpy as np
            import cv2
            from sklearn.linear_model import LinearRegression
            import yaml
            from yaml import safe_load
            from bs4 import BeautifulSoup
            return x
    """
    assert check({"workers.py": source}) == [
        ("FC401", "workers.py:9:12", "error", "`yaml` is not declared: add `PyYAML` to the `dependencies` of `a`"),
        ("FC401", "workers.py:11:5", "error", "`bs4` is not declared: add `beautifulsoup4` to the `dependencies` of `a`"),
    ]


def test_alternatives_are_named_in_a_note(check) -> None:
    source = """
        @Endpoint(name="a", cpu="cpu3c-1-2")
        def a(x):
            import cv2
            return x
    """
    assert check({"workers.py": source}, notes=True) == [
        (
            "FC401",
            "workers.py:6:12",
            "error",
            "`cv2` is not declared: add `opencv-python` to the `dependencies` of `a`",
            ("`opencv-python-headless`, `opencv-contrib-python` or `opencv-contrib-python-headless` would do as well", None),
        )
    ]


def test_image_packages_are_info_on_gpu_and_errors_on_cpu(check) -> None:
    source = """
        @Endpoint(name="g", gpu=GpuGroup.ANY)
        def on_gpu(x):
            import torch
            import triton
            import runpod
            from runpod_flash import Endpoint
            return x

        @Endpoint(name="c", cpu="cpu3c-1-2")
        def on_cpu(x):
            import torch
            import runpod
            import flashc_runtime
            return x
    """
    assert check({"workers.py": source}, notes=True) == [
        ("FC401", "workers.py:6:12", "info", "`torch` need not be in `dependencies`: the GPU worker image provides it"),
        ("FC401", "workers.py:7:12", "info", "`triton` need not be in `dependencies`: the GPU worker image provides it"),
        ("FC401", "workers.py:8:12", "info", "`runpod` need not be in `dependencies`: every worker image provides it"),
        (
            "FC401",
            "workers.py:14:12",
            "error",
            "`torch` is not declared: add `torch` to the `dependencies` of `c`",
            ("only GPU worker images come with `torch`; this endpoint runs on CPU", None),
        ),
        ("FC401", "workers.py:15:12", "info", "`runpod` need not be in `dependencies`: every worker image provides it"),
    ]


def test_stdlib_is_judged_for_the_target_python(check) -> None:
    source = """
        @Endpoint(name="a", cpu="cpu3c-1-2")
        def a(x):
            import tomllib
            import imghdr
            import asyncore
            return x
    """
    assert check({"workers.py": source}, python="3.10") == [
        ("FC401", "workers.py:6:12", "error", "`tomllib` is not declared: add `tomllib` to the `dependencies` of `a`"),
    ]
    assert check({"workers.py": source}, python="3.13") == [
        ("FC401", "workers.py:7:12", "error", "`imghdr` is not declared: add `standard-imghdr` to the `dependencies` of `a`"),
        ("FC401", "workers.py:8:12", "error", "`asyncore` is not declared: add `standard-asyncore` to the `dependencies` of `a`"),
    ]


def test_namespace_packages_need_their_own_distribution(check) -> None:
    source = """
        @Endpoint(name="a", cpu="cpu3c-1-2", dependencies=["google-cloud-storage"])
        def a(x):
            from google.cloud import storage, bigquery
            import google.cloud.storage
            return x
    """
    assert check({"workers.py": source}) == [
        (
            "FC401",
            "workers.py:6:5",
            "error",
            "`google.cloud.bigquery` is not declared: add `google-cloud-bigquery` to the `dependencies` of `a`",
        ),
    ]


def test_imports_of_project_modules_are_followed_with_a_note(check) -> None:
    files = {
        "workers.py": """
            @Endpoint(name="a", cpu="cpu3c-1-2", dependencies=["PyYAML"])
            def a(x):
                from lib import helpers
                import lib.other
                return x
        """,
        "lib/__init__.py": "import json\n",
        "lib/helpers.py": "import yaml\nfrom . import other\n\ndef f():\n    import notloaded\n",
        "lib/other.py": "from lib import helpers\nimport pydantic\n",
    }
    assert check(files, notes=True) == [
        (
            "FC401",
            "workers.py:6:5",
            "error",
            "`lib.other` imports `pydantic`, which is not declared: add `pydantic` to the `dependencies` of `a`",
            ("`pydantic` is imported here", "lib/other.py:2:8"),
        ),
    ]


def test_long_chains_of_project_modules_are_followed(check) -> None:
    depth = 1200  # deeper than the interpreter's recursion limit
    files = {f"chain/m{i}.py": f"from . import m{i + 1}\n" for i in range(depth)}
    files[f"chain/m{depth}.py"] = "import yaml\n"
    files["workers.py"] = """
        @Endpoint(name="a", cpu="cpu3c-1-2")
        def a(x):
            from chain import m0
            return x
    """
    assert check(files) == [
        ("FC401", "workers.py:6:5", "error", f"`chain.m{depth}` imports `yaml`, which is not declared: add `PyYAML` to the `dependencies` of `a`"),
    ]

def test_optional_imports_are_not_reported(check) -> None:
    files = {
        "workers.py": """
            @Endpoint(name="a", cpu="cpu3c-1-2", dependencies=["orjson"])
            def a(x):
                import helpers
                try:
                    import orjson
                except (ValueError, ImportError):
                    orjson = None
                try:
                    import ujson
                except ValueError:
                    ujson = None
                return x
        """,
        "helpers.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import pandas\nelse:\n    import polars\n",
    }
    assert check(files) == [
        ("FC401", "workers.py:6:12", "error", "`helpers` imports `polars`, which is not declared: add `polars` to the `dependencies` of `a`"),
        ("FC401", "workers.py:12:16", "error", "`ujson` is not declared: add `ujson` to the `dependencies` of `a`"),
    ]


def test_skipped_when_dependencies_are_unresolved_or_the_function_is_local(check) -> None:
    source = """
        def make_deps():
            return ["numpy"]

        @Endpoint(name="a", cpu="cpu3c-1-2", dependencies=make_deps())
        def a(x):
            import yaml
            return x

        @remote(LiveServerless(name="b"), dependencies=["requests"], local=True)
        def b(x):
            import yaml
            return x
    """
    assert check({"workers.py": source}) == []


def test_remote_functions_of_one_endpoint_share_their_dependencies(check) -> None:
    source = """
        gpu = LiveServerless(name="shared")

        @remote(gpu, dependencies=["Pillow"])
        def first(x):
            import requests
            return x

        @remote(gpu, dependencies=["requests"])
        def second(x):
            from PIL import Image
            import yaml
            return x
    """
    assert check({"workers.py": source}) == [
        ("FC401", "workers.py:14:12", "error", "`yaml` is not declared: add `PyYAML` to the `dependencies` of `shared`"),
    ]


def test_metadata_is_read_only_for_imports_nothing_else_covers(check, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(importlib.metadata, "packages_distributions", lambda: calls.append(1) or {})
    packages._installed.cache_clear()
    covered = """
        @Endpoint(name="a", cpu="cpu3c-1-2", dependencies=["numpy", "PyYAML"])
        def a(x):
            import numpy, yaml
            return x
    """
    try:
        assert check({"workers.py": covered}) == []
        assert calls == []
        check({"workers.py": covered.replace("import numpy, yaml", "import mystery, enigma")})
    finally:
        packages._installed.cache_clear()
    assert calls == [1]


# --- FC402 dependency-unused --------------------------------------------------------------------------


def test_unused_dependencies_point_at_their_string(check, nothing_installed) -> None:
    source = """
        DEPS = ["numpy", "rich"]

        @Endpoint(name="a", cpu="cpu3c-1-2", dependencies=DEPS)
        def a(x):
            import numpy
            return x

        @Endpoint(name="b", cpu="cpu3c-1-2", dependencies=("Pillow", "safetensors", "accelerate", "transformers[torch]>=4"))
        def b(x):
            return x

        @remote(LiveServerless(name="c"), ["numpy", "tqdm"])
        def c(x):
            import numpy
            return x

        @Endpoint(name="d", cpu="cpu3c-1-2", dependencies=DEPS + ["pandas"])
        def d(x):
            import numpy
            return x
    """
    assert check({"workers.py": source}, notes=True) == [
        ("FC402", "workers.py:4:18", "warning", "`rich` is declared but the code of `a` never imports it", ("flashc looked for `import rich`", None)),
        ("FC402", "workers.py:11:52", "warning", "`Pillow` is declared but the code of `b` never imports it", ("flashc looked for `import PIL`", None)),
        (
            "FC402",
            "workers.py:11:91",
            "warning",
            "`transformers[torch]>=4` is declared but the code of `b` never imports it",
            ("flashc looked for `import transformers`", None),
        ),
        ("FC402", "workers.py:15:45", "warning", "`tqdm` is declared but the code of `c` never imports it", ("flashc looked for `import tqdm`", None)),
        ("FC402", "workers.py:20:38", "warning", "`pandas` is declared but the code of `d` never imports it", ("flashc looked for `import pandas`", None)),
        ("FC402", "workers.py:20:38", "warning", "`rich` is declared but the code of `d` never imports it", ("flashc looked for `import rich`", None)),
    ]


def test_unused_counts_imports_through_project_modules_and_optional_ones(check) -> None:
    files = {
        "workers.py": """
            @Endpoint(name="a", cpu="cpu3c-1-2", dependencies=["PyYAML", "orjson"])
            def a(x):
                from helpers import load
                try:
                    import orjson
                except ImportError:
                    pass
                return x
        """,
        "helpers.py": "import yaml\n\ndef load():\n    return yaml\n",
    }
    assert check(files) == []


def test_unused_is_not_judged_with_a_local_function_or_a_missing_module(check) -> None:
    source = """
        @remote(LiveServerless(name="a"), dependencies=["numpy"], local=True)
        def a(x):
            return x

        @Endpoint(name="b", cpu="cpu3c-1-2", dependencies=["PyYAML"])
        def b(x):
            from helpers.sub import load
            return x
    """
    files = {"workers.py": source, "helpers.py": "import yaml\n"}
    assert [row[0] for row in check(files)] == ["FC404"]


# --- FC403 requirement-invalid ------------------------------------------------------------------------


def test_invalid_requirements_point_at_their_string(check) -> None:
    source = """
        @Endpoint(name="a", cpu="cpu3c-1-2", dependencies=["numpy", "numpy=1.26", "", "numpy=1.26"])
        def a(x):
            import numpy
            return x

        @remote(LiveServerless(name="b"), dependencies=["yaml>="])
        def b(x):
            return x

        @remote(LiveServerless(name="b2"), dependencies=["bad req"])
        def b2(x):
            return x
    """
    assert check({"workers.py": source}) == [
        ("FC403", "workers.py:4:61", "error", "`numpy=1.26` is not a valid requirement: pin a version with `==`"),
        ("FC403", "workers.py:4:75", "error", "An empty string is not a valid requirement: write a distribution name such as `numpy`"),
        ("FC403", "workers.py:9:49", "error", "`yaml>=` is not a valid requirement: expected `name[extras] version-specifier; marker`"),
        ("FC403", "workers.py:13:50", "error", "`bad req` is not a valid requirement: put each requirement in its own string"),
    ]


# --- FC404 local-module-missing -----------------------------------------------------------------------


def test_missing_project_modules_and_names(check) -> None:
    files = {
        "app/__init__.py": "from .version import VERSION\n",
        "app/version.py": "VERSION = '1'\n",
        "app/star.py": "from .version import *\n",
        "app/lazy.py": "def __getattr__(name):\n    return name\n",
        "app/plugins/extra.py": "",
        "app/workers.py": HEADER
        + dedent(
            """
            @Endpoint(name="a", cpu="cpu3c-1-2")
            def a(x):
                from .versions import VERSION
                from . import VERSION, version, nothere
                from app.star import anything
                from app.lazy import whatever
                from app.plugins import extra, absent
                from app.version import VERSION, __doc__, RELEASE
                import app.gone
                from ..outside import y
                return x
            """
        ),
        "main.py": HEADER
        + dedent(
            """
            @Endpoint(name="b", cpu="cpu3c-1-2")
            def b(x):
                from . import app
                return x
            """
        ),
    }
    assert check(files, notes=True) == [
        ("FC404", "app/workers.py:6:5", "error", "`app.versions` is not a module of this project", ("did you mean `app.version`?", None)),
        ("FC404", "app/workers.py:7:37", "error", "`app` has no submodule or module-level name `nothere`"),
        ("FC404", "app/workers.py:10:36", "error", "`app.plugins` has no submodule `absent`"),
        ("FC404", "app/workers.py:11:47", "error", "`app.version` has no module-level name `RELEASE`"),
        ("FC404", "app/workers.py:12:12", "error", "`app.gone` is not a module of this project"),
        ("FC404", "app/workers.py:13:5", "error", "The relative import `..outside` climbs out of the top-level package `app`"),
        ("FC404", "main.py:6:5", "error", "`main` is not in a package, so the relative import `.` has nothing to start from"),
    ]


def test_a_project_module_named_like_the_stdlib_does_not_hide_it(check) -> None:
    source = """
        @Endpoint(name="a", cpu="cpu3c-1-2")
        def a(x):
            from types import SimpleNamespace
            from config import MISSING
            return x
    """
    files = {"workers.py": source, "types.py": "", "config.py": ""}
    assert check(files) == [("FC404", "workers.py:7:24", "error", "`config` has no module-level name `MISSING`")]


# --- the catalogue ------------------------------------------------------------------------------------


def test_rules_are_catalogued_with_their_documentation() -> None:
    assert [(r.code, r.name, r.severity.value) for r in dependencies.RULES] == [
        ("FC401", "dependency-undeclared", "error"),
        ("FC402", "dependency-unused", "warning"),
        ("FC403", "requirement-invalid", "error"),
        ("FC404", "local-module-missing", "error"),
    ]
    for rule in dependencies.RULES:
        assert RULES[rule.code] is rule
        assert rule.fix is None and rule.summary and rule.why and rule.example and rule.instead and rule.notes

