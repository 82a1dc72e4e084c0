"""The projects in ``examples/`` check clean, build, and follow the conventions their READMEs promise."""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest

from flashc import api
from support import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXAMPLES_DIR = REPO / "examples"
EXAMPLES = sorted(p for p in EXAMPLES_DIR.iterdir() if (p / "pyproject.toml").is_file())
NO_DEPS = api.BuildOptions(install_dependencies=False)
HEAVY_PACKAGES = {"numpy", "torch", "torchvision", "torchaudio", "scipy", "tensorflow", "jax"}
"""Examples other than quickstart run everything on a CPU machine (the local target): none of these."""


def copy_of(example: Path, tmp_path: Path) -> Path:
    root = tmp_path / example.name
    shutil.copytree(example, root, ignore=shutil.ignore_patterns(".flash", ".flashc_cache", "__pycache__"))
    return root


def test_the_expected_examples_exist() -> None:
    expected = {"quickstart", "cpu_worker", "mixed_pipeline", "lb_api", "class_endpoint", "with_dependencies"}
    assert expected <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_checks_clean_and_builds(example: Path, tmp_path: Path) -> None:
    root = copy_of(example, tmp_path)
    checked = api.check([root], use_cache=False)
    assert [d.code for d in checked.diagnostics] == [], [f"{d.span.path}:{d.span.start.line} {d.code} {d.message}" for d in checked.diagnostics]
    built = api.build(root, NO_DEPS)
    assert not built.failed
    assert built.endpoints
    assert (root / ".flash" / "flash_manifest.json").is_file()
    assert (root / ".flash" / "client" / "main.py").is_file()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_layout_and_settings(example: Path) -> None:
    assert (example / "README.md").is_file()
    pyproject = tomllib.loads((example / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["flashc"] == {"app": example.name.replace("_", "-"), "python-version": "3.12"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_main_compiles_and_runs_asyncio(example: Path) -> None:
    source = (example / "main.py").read_text(encoding="utf-8")
    tree = compile(source, str(example / "main.py"), "exec", flags=ast.PyCF_ONLY_AST)
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert "asyncio.run" in calls and "print" in calls
    compile(source, str(example / "main.py"), "exec")


def test_endpoint_names_are_unique_and_prefixed_with_their_example() -> None:
    seen: dict[str, str] = {}
    for example in EXAMPLES:
        prefix = example.name.replace("_", "-") + "-"
        for endpoint in api.inspect_project(example).endpoints:
            assert endpoint.name is not None and endpoint.name.startswith(prefix), (example.name, endpoint.name)
            assert endpoint.name not in seen, f"{endpoint.name} is in {seen.get(endpoint.name)} and {example.name}"
            seen[endpoint.name] = example.name


@pytest.mark.parametrize("example", [p for p in EXAMPLES if p.name != "quickstart"], ids=lambda p: p.name)
def test_example_runs_on_a_cpu_machine(example: Path) -> None:
    """No numpy/torch & co outside quickstart, and every dependency pinned exactly."""
    for endpoint in api.inspect_project(example).endpoints:
        for requirement in endpoint.dependencies:
            package = requirement.split("==")[0].strip().lower()
            assert package not in HEAVY_PACKAGES, (endpoint.name, requirement)
            assert "==" in requirement, (endpoint.name, requirement)
