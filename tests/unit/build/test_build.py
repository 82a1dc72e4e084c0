"""``flashc build`` as a whole: the gate, what each endpoint ships, reproducibility, secrets."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flashc import api
from flashc.analysis import analyse
from flashc.cli import app
from flashc.config import load_config
from flashc.emit import emit
from flashc.emit.tree import BuildTree
from support import FIXTURES, PROJECTS, REPO

PIPELINE = FIXTURES / "build" / "pipeline"
NO_DEPS = api.BuildOptions(install_dependencies=False)


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    root = tmp_path / "pipeline"
    shutil.copytree(PIPELINE, root)
    (root / "local_notes").mkdir()
    (root / "local_notes" / "notes.py").write_text("SECRET_NOTE = 'ignored by .gitignore'\n", encoding="utf-8")
    return root


def tree_of(root: Path) -> BuildTree:
    return emit(analyse(root, load_config(root)))


def readable(tree: BuildTree) -> str:
    """Every generated file in one reviewable text; the vendored runtime is listed, not shown.

    Package digests cover the vendored runtime too, so they are masked here (any runtime
    change would move them); ``test_each_endpoint_has_a_digest_of_its_package`` checks them.
    """
    parts = []
    for entry in (*tree.artifact, *tree.local):
        if "/flashc_runtime/" in entry.path:
            continue
        text = entry.data.decode("utf-8")
        if entry.path == "flash_manifest.json":
            manifest = json.loads(text)
            manifest["flashc"]["endpoint_digests"] = {name: "<digest>" for name in manifest["flashc"]["endpoint_digests"]}
            text = json.dumps(manifest, indent=2) + "\n"
        parts.append(f"=== {entry.path}\n{text}")
    runtime = sorted({e.path.split("/flashc_runtime/")[1] for e in tree.artifact if "/flashc_runtime/" in e.path})
    parts.append("=== vendored into every endpoint: flashc_runtime/\n" + "\n".join(runtime) + "\n")
    return "\n".join(parts)


@pytest.mark.parametrize("root", [REPO / "examples" / "quickstart", PIPELINE, PROJECTS / "routes_and_forms"], ids=lambda p: p.name)
def test_generated_code_is_snapshotted_and_compiles(root: Path, text_snapshot) -> None:
    tree = tree_of(root)
    for entry in (*tree.artifact, *tree.local):
        if entry.path.endswith(".py"):
            compile(entry.data, entry.path, "exec")
    assert readable(tree) == text_snapshot


def test_each_endpoint_ships_only_its_own_code_and_stubs_for_the_others() -> None:
    tree = tree_of(PIPELINE)
    files = {e.path for e in tree.artifact if "/flashc_runtime/" not in e.path}
    assert {f for f in files if f.startswith("endpoints/pipe-count/")} == {
        "endpoints/pipe-count/_flashc_handler.py",
        "endpoints/pipe-count/requirements.txt",
        "endpoints/pipe-count/text_tools.py",  # imported by the body: ships as written
        "endpoints/pipe-count/workers.py",  # only `count`, decorators stripped
    }
    api_stubs = tree.file("endpoints/pipe-api/workers.py")
    assert api_stubs is not None and b"_flashc_client.call(\"pipe-count\", \"count\"" in api_stubs.data
    count = tree.file("endpoints/pipe-count/workers.py")
    assert count is not None
    assert b"def add(" not in count.data and b"@Endpoint" not in count.data and b"import six" in count.data


def test_two_dependency_sets_give_two_requirement_files(pipeline: Path) -> None:
    result = api.build(pipeline, NO_DEPS)
    assert not result.failed
    output = pipeline / ".flash"
    assert (output / "endpoints/pipe-count/requirements.txt").read_text() == "six==1.16.0\n"
    assert (output / "endpoints/pipe-shared/requirements.txt").read_text() == "idna==3.7\n"
    assert (output / "endpoints/pipe-model/requirements.txt").read_text() == ""


def test_building_twice_gives_the_same_artifact(pipeline: Path) -> None:
    first = api.build(pipeline, NO_DEPS).package
    shutil.rmtree(pipeline / ".flash")  # built again for real, not found up to date
    second = api.build(pipeline, NO_DEPS).package
    assert first is not None and second is not None
    assert first.sha256 == second.sha256
    assert hashlib.sha256((pipeline / ".flash" / "artifact.tar.gz").read_bytes()).hexdigest() == second.sha256


def test_secrets_and_ignored_files_never_ship(pipeline: Path) -> None:
    api.build(pipeline, NO_DEPS)
    output = pipeline / ".flash"
    with tarfile.open(output / "artifact.tar.gz") as archive:
        names = archive.getnames()
        contents = b"".join(archive.extractfile(m).read() for m in archive.getmembers() if m.isfile())  # type: ignore[union-attr]
    assert not any(name.endswith(".env") or "local_notes" in name for name in names)
    assert b"do-not-ship-this-value" not in contents
    everything = b"".join(p.read_bytes() for p in output.rglob("*") if p.is_file() and p.name != "artifact.tar.gz")
    assert b"do-not-ship-this-value" not in everything and b"SECRET_NOTE" not in everything


def test_the_artifact_is_laid_out_as_runpod_flash_expects(pipeline: Path) -> None:
    api.build(pipeline, NO_DEPS)
    with tarfile.open(pipeline / ".flash" / "artifact.tar.gz") as archive:
        names = set(archive.getnames())
        manifest = json.load(archive.extractfile("./flash_manifest.json"))  # type: ignore[arg-type]
    assert {"./handler_pipe-count.py", "./handler_pipe-api.py", "./flash_manifest.json"} <= names
    assert manifest["resources"]["pipe-count"]["handler_file"] == "handler_pipe-count.py"
    assert manifest["function_registry"] == {"Model": "pipe-model", "add": "pipe-shared", "count": "pipe-count", "double": "pipe-shared", "health": "pipe-api", "summary": "pipe-api"}
    assert manifest["flashc"]["endpoints"]["pipe-count"]["dependencies"] == ["six==1.16.0"]


def test_the_gate_stops_a_build_with_errors_and_writes_nothing(pipeline: Path) -> None:
    api.build(pipeline, NO_DEPS)
    before = (pipeline / ".flash" / "artifact.tar.gz").read_bytes()
    workers = pipeline / "workers.py"
    workers.write_text("import json\n" + workers.read_text().replace('return x * 2', 'return json.dumps(x * 2)'), encoding="utf-8")
    result = api.build(pipeline, NO_DEPS)
    assert result.failed
    assert [(d.code, d.span.path) for d in result.gate.diagnostics] == [("FC101", "workers.py")]
    assert (pipeline / ".flash" / "artifact.tar.gz").read_bytes() == before


def test_ship_module_relaxes_scoping_and_ships_whole_modules(pipeline: Path) -> None:
    workers = pipeline / "workers.py"
    source = workers.read_text().replace("from flashc import", "import json\nfrom flashc import", 1)
    workers.write_text(source.replace("return x * 2", "return json.dumps(x * 2)"), encoding="utf-8")
    result = api.build(pipeline, api.BuildOptions(install_dependencies=False, ship_module=True))
    assert not result.failed
    assert [(d.code, d.severity.value) for d in result.gate.diagnostics] == [("FC101", "warning")]
    shipped = (pipeline / ".flash/endpoints/pipe-shared/workers.py").read_text()
    assert '"""Queue endpoints' in shipped.splitlines()[0] and "\nimport json\n" in shipped
    assert "async def count(text" in shipped and "_flashc_client.call(\"pipe-count\"" in shipped  # the other endpoint: a stub
    assert "def double(x: int) -> int:\n    return json.dumps(x * 2)" in shipped  # this endpoint: kept, undecorated
    compile(shipped, "workers.py", "exec")


def test_a_failing_build_leaves_the_previous_output(pipeline: Path, monkeypatch) -> None:
    first = api.build(pipeline, NO_DEPS).package
    assert first is not None

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("flashc.package.tarfile.open", interrupted)
    (pipeline / "pyproject.toml").write_text((pipeline / "pyproject.toml").read_text() + "\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        api.build(pipeline, NO_DEPS)
    assert hashlib.sha256((pipeline / ".flash" / "artifact.tar.gz").read_bytes()).hexdigest() == first.sha256
    assert [p.name for p in pipeline.iterdir() if p.name.startswith(".flash.")] == []


@pytest.mark.network
def test_dependencies_are_installed_per_endpoint(pipeline: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FLASHC_DEPS_CACHE", str(tmp_path / "deps"))
    result = api.build(pipeline)
    assert result.package is not None
    with tarfile.open(result.package.artifact) as archive:
        names = archive.getnames()
    assert "./endpoints/pipe-count/_deps/six.py" in names
    assert any(n.startswith("./endpoints/pipe-shared/_deps/idna/") for n in names)
    assert not any(n.startswith("./endpoints/pipe-count/_deps/idna") for n in names)


def test_cli_build_reports_what_it_built(pipeline: Path) -> None:
    result = CliRunner().invoke(app, ["build", str(pipeline), "--no-deps", "--quiet"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Built 4 endpoints into .flash/: pipe-api, pipe-count, pipe-model, pipe-shared"
    assert lines[1].startswith("  artifact artifact.tar.gz: ") and "sha256 " in lines[1]


def test_cli_build_json_and_gate_failure(pipeline: Path) -> None:
    workers = pipeline / "workers.py"
    workers.write_text(workers.read_text().replace("return x * 2", "return undefined_name"), encoding="utf-8")
    result = CliRunner().invoke(app, ["build", str(pipeline), "--no-deps", "--format", "json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["built"] is False and document["artifact"] is None
    assert [d["code"] for d in document["diagnostics"]] == ["FC107"]
    assert not (pipeline / ".flash").exists()


def test_generated_files_carry_no_timestamps_of_this_run(pipeline: Path) -> None:
    manifest = json.loads(tree_of(pipeline).file("flash_manifest.json").data)  # type: ignore[union-attr]
    assert manifest["generated_at"] == "1980-01-01T00:00:00Z"
    assert io.BytesIO  # the tree is data: nothing was written


def test_a_requirements_file_adds_to_every_endpoint(pipeline: Path) -> None:
    (pipeline / "requirements.txt").write_text("# shared\nrequests>=2  # http\n\n", encoding="utf-8")
    result = api.build(pipeline, api.BuildOptions(install_dependencies=False, requirement_files=(pipeline / "requirements.txt",)))
    assert not result.failed
    assert (pipeline / ".flash/endpoints/pipe-count/requirements.txt").read_text() == "requests>=2\nsix==1.16.0\n"
    assert (pipeline / ".flash/endpoints/pipe-model/requirements.txt").read_text() == "requests>=2\n"


def test_a_requirements_file_with_pip_options_is_refused(pipeline: Path) -> None:
    (pipeline / "requirements.txt").write_text("--index-url https://example.invalid\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["build", str(pipeline), "--no-deps", "-r", str(pipeline / "requirements.txt")])
    assert result.exit_code == 2
    assert "requirements.txt:1: pip options such as '--index-url' are not supported" in result.stderr


def test_each_endpoint_has_a_digest_of_its_package() -> None:
    first = json.loads(tree_of(PIPELINE).file("flash_manifest.json").data)["flashc"]["endpoint_digests"]  # type: ignore[union-attr]
    assert sorted(first) == ["pipe-api", "pipe-count", "pipe-model", "pipe-shared"]
    assert len(set(first.values())) == 4


def test_an_unchanged_project_is_not_built_again(pipeline: Path, monkeypatch) -> None:
    first = api.build(pipeline, NO_DEPS)
    assert first.package is not None
    artifact = pipeline / ".flash" / "artifact.tar.gz"
    written = artifact.stat().st_mtime_ns

    def no_emit(*args, **kwargs):
        raise AssertionError("an up-to-date build compiled again")

    monkeypatch.setattr("flashc.emit.emit", no_emit)
    said: list[str] = []
    again = api.build(pipeline, replace(NO_DEPS, progress=said.append))
    assert said == ["nothing changed since the last build: .flash/ is up to date"]
    assert again.package == first.package and again.endpoints == first.endpoints and again.skipped == first.skipped
    assert artifact.stat().st_mtime_ns == written
    assert again.gate.diagnostics == first.gate.diagnostics  # the check still runs: warnings are shown again


@pytest.mark.parametrize(
    "change",
    ["a source file", "a new source file", "pyproject.toml", "an option", "the artifact", "the epoch"],
)
def test_what_a_build_reads_makes_it_build_again(pipeline: Path, change: str, monkeypatch) -> None:
    options = NO_DEPS
    api.build(pipeline, options)
    module = sorted(pipeline.glob("*.py"))[0]
    if change == "a source file":
        module.write_text(module.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    elif change == "a new source file":
        (pipeline / "helpers_added.py").write_text("X = 1\n", encoding="utf-8")
    elif change == "pyproject.toml":
        (pipeline / "pyproject.toml").write_text((pipeline / "pyproject.toml").read_text() + "\n", encoding="utf-8")
    elif change == "an option":
        options = replace(NO_DEPS, ship_module=True)
    elif change == "the artifact":
        (pipeline / ".flash" / "artifact.tar.gz").write_bytes(b"tampered")
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    said: list[str] = []
    rebuilt = api.build(pipeline, replace(options, progress=said.append))
    assert rebuilt.package is not None
    assert not any("up to date" in line for line in said), said
    assert hashlib.sha256((pipeline / ".flash" / "artifact.tar.gz").read_bytes()).hexdigest() == rebuilt.package.sha256
