"""``init_project``: the files of a new project, which check clean and build as generated."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flashc import api
from flashc.errors import FlashcError
from flashc.scaffold import DEFAULT_SLUG, FILES, SLUG_MAX_LENGTH, init_project, project_slug

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXPECTED_FILES = [".gitignore", "README.md", "api.py", "cpu_worker.py", "gpu_worker.py", "main.py", "pyproject.toml"]


def test_writes_the_expected_files(tmp_path: Path) -> None:
    directory = tmp_path / "parent" / "demo"  # missing parents are created
    written = init_project(directory)
    assert sorted(p.name for p in written) == EXPECTED_FILES
    assert [p.name for p in written] == [target for _, target in FILES]
    assert all(p.parent == directory and p.is_file() for p in written)
    assert sorted(p.name for p in directory.iterdir()) == EXPECTED_FILES


def test_the_name_defaults_to_the_directory(tmp_path: Path) -> None:
    init_project(tmp_path / "Vision Demo")
    pyproject = tomllib.loads((tmp_path / "Vision Demo" / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == "vision-demo"
    assert pyproject["tool"]["flashc"] == {"app": "Vision Demo", "python-version": "3.12"}
    assert '@Endpoint(name="vision-demo-gpu"' in (tmp_path / "Vision Demo" / "gpu_worker.py").read_text(encoding="utf-8")


def test_an_empty_existing_directory_is_used(tmp_path: Path) -> None:
    assert len(init_project(tmp_path, name="here")) == len(FILES)


def test_a_name_with_quotes_stays_valid_toml(tmp_path: Path) -> None:
    name = 'Bob\'s "best" app \\ v2'
    init_project(tmp_path / "p", name=name)
    pyproject = tomllib.loads((tmp_path / "p" / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["flashc"]["app"] == name
    assert pyproject["project"]["name"] == "bob-s-best-app-v2"


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    directory = tmp_path / "taken"
    directory.mkdir()
    (directory / "notes.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(FlashcError, match="taken"):
        init_project(directory)
    assert [p.name for p in directory.iterdir()] == ["notes.txt"]
    assert (directory / "notes.txt").read_text(encoding="utf-8") == "mine\n"


def test_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("", encoding="utf-8")
    with pytest.raises(FlashcError, match="file.txt"):
        init_project(target)


@pytest.mark.parametrize("name", ["", "   ", "two\nlines"])
def test_refuses_an_unusable_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(FlashcError):
        init_project(tmp_path / "p", name=name)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("demo", "demo"),
        ("My Shiny App", "my-shiny-app"),
        ("--Hello__World--", "hello-world"),
        ("Crème Brûlée 2", "creme-brulee-2"),
        ("日本", DEFAULT_SLUG),
        ("a" * 100, "a" * SLUG_MAX_LENGTH),
        ("x" * (SLUG_MAX_LENGTH - 1) + "-yz", "x" * (SLUG_MAX_LENGTH - 1)),
    ],
)
def test_project_slug(name: str, slug: str) -> None:
    assert project_slug(name) == slug


@pytest.mark.parametrize("name", ["demo", "Crème Brûlée: the App!", "z" * 100])
def test_the_generated_project_checks_clean_and_builds(tmp_path: Path, name: str) -> None:
    root = tmp_path / "project"
    init_project(root, name=name)
    for path in root.glob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    checked = api.check([root], use_cache=False)
    assert [d.code for d in checked.diagnostics] == [], [f"{d.span.path} {d.code} {d.message}" for d in checked.diagnostics]
    built = api.build(root, api.BuildOptions(install_dependencies=False))
    assert not built.failed
    slug = project_slug(name)
    assert built.endpoints == (f"{slug}-api", f"{slug}-cpu", f"{slug}-gpu")
    model = api.inspect_project(root)
    assert all(not endpoint.dependencies for endpoint in model.endpoints)  # runs on a CPU machine as generated
    assert (root / ".flash" / "client" / "main.py").is_file()


def test_the_gitignore_keeps_build_output_and_secrets_out(tmp_path: Path) -> None:
    init_project(tmp_path / "p")
    lines = (tmp_path / "p" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {".flash/", ".flashc_cache/", ".venv/", ".env"} <= set(lines)


def test_generated_files_snapshot(tmp_path: Path, text_snapshot) -> None:
    written = init_project(tmp_path / "snap", name="Snapshot Demo")
    text = "".join(f"=== {path.name}\n{path.read_text(encoding='utf-8')}" for path in written)
    assert text == text_snapshot
