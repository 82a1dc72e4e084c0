"""flashc.package: a BuildTree written to .flash/ reproducibly, all or nothing, without secrets."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from support import REPO

from flashc import package
from flashc.emit.tree import BuildFile, BuildTree
from flashc.errors import BuildError
from flashc.package import write_output

DEPS = "endpoints/gpu-worker/_deps"


@pytest.fixture(autouse=True)
def _no_source_date_epoch(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


def make_tree(handler: bytes = b"def handler(job):\n    return job\n") -> BuildTree:
    return BuildTree(
        artifact=(
            BuildFile("endpoints/gpu-worker/app.py", b"def infer(x):\n    return x\n"),
            BuildFile("endpoints/gpu-worker/requirements.txt", b"six==1.16.0\n"),
            BuildFile("flash_manifest.json", b'{"version": "1.0"}\n'),
            BuildFile("handler_gpu_worker.py", handler, executable=True),
        ),
        local=(BuildFile("client/__init__.py", b"async def infer(x): ...\n"),),
    )


@pytest.fixture
def deps(tmp_path: Path) -> Path:
    """A directory laid out like ``pip install --target``, with bytecode that must not ship."""
    site = tmp_path / "site"
    for relative, data in {
        "pkg/__init__.py": b"VALUE = 1\n",
        "pkg/sub/mod.py": b"X = 2\n",
        "pkg/__pycache__/__init__.cpython-312.pyc": b"\0bytecode",
        "pkg/stale.pyc": b"\0bytecode",
        "pkg-1.0.dist-info/METADATA": b"Name: pkg\nVersion: 1.0\n",
        "bin/tool": b"#!/usr/bin/env python\n",
        "pkg/empty/.keep": b"",
    }.items():
        path = site / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (site / "bin/tool").chmod(0o755)
    (site / "pkg/__init__.py").chmod(0o644)
    return site


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every path below ``directory`` with its bytes (None for directories)."""
    return {
        path.relative_to(directory).as_posix(): (None if path.is_dir() else path.read_bytes())
        for path in sorted(directory.rglob("*"))
    }


def leftovers(root: Path) -> list[str]:
    return sorted(path.name for path in root.iterdir() if path.name.startswith(".flash."))


def project(tmp_path: Path, name: str = "project") -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "t"\n', encoding="utf-8")
    return root


# --- reproducibility -----------------------------------------------------------------------------


def test_two_builds_of_the_same_tree_are_byte_identical(tmp_path, deps):
    first = write_output(project(tmp_path, "a"), make_tree(), installed={DEPS: deps})
    second = write_output(project(tmp_path, "b"), make_tree(), installed={DEPS: deps})
    again = write_output(first.output.parent, make_tree(), installed={DEPS: deps})
    assert first.sha256 == second.sha256 == again.sha256
    assert first.artifact.read_bytes() == second.artifact.read_bytes()
    assert first.sha256 == hashlib.sha256(first.artifact.read_bytes()).hexdigest()
    assert first.size == first.artifact.stat().st_size
    assert (first.output / "build.json").read_bytes() == (second.output / "build.json").read_bytes()


def test_source_date_epoch_changes_the_artifact_and_the_environment_sets_it(tmp_path, monkeypatch):
    default = write_output(project(tmp_path, "a"), make_tree())
    explicit = write_output(project(tmp_path, "b"), make_tree(), source_date_epoch=1_700_000_000)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    from_environment = write_output(project(tmp_path, "c"), make_tree())
    assert explicit.sha256 != default.sha256
    assert from_environment.sha256 == explicit.sha256
    info = json.loads((explicit.output / "build.json").read_text())
    assert info["source_date_epoch"] == 1_700_000_000
    assert "source_date_epoch" not in json.loads((default.output / "build.json").read_text())


def test_a_different_tree_gives_a_different_artifact(tmp_path):
    first = write_output(project(tmp_path, "a"), make_tree())
    second = write_output(project(tmp_path, "b"), make_tree(handler=b"# changed\n"))
    assert first.sha256 != second.sha256


def test_an_invalid_source_date_epoch_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    root = project(tmp_path)
    with pytest.raises(BuildError, match="SOURCE_DATE_EPOCH"):
        write_output(root, make_tree())
    assert leftovers(root) == []


# --- the archive ---------------------------------------------------------------------------------


def test_tar_entries_are_sorted_rooted_at_dot_and_normalised(tmp_path, deps):
    result = write_output(project(tmp_path), make_tree(), installed={DEPS: deps}, source_date_epoch=1234567890)
    with tarfile.open(result.artifact) as archive:
        members = archive.getmembers()
    names = [member.name for member in members]
    assert names == [
        "./endpoints",
        "./endpoints/gpu-worker",
        "./endpoints/gpu-worker/_deps",
        "./endpoints/gpu-worker/_deps/bin",
        "./endpoints/gpu-worker/_deps/bin/tool",
        "./endpoints/gpu-worker/_deps/pkg",
        "./endpoints/gpu-worker/_deps/pkg/__init__.py",
        "./endpoints/gpu-worker/_deps/pkg/empty",
        "./endpoints/gpu-worker/_deps/pkg/empty/.keep",
        "./endpoints/gpu-worker/_deps/pkg/sub",
        "./endpoints/gpu-worker/_deps/pkg/sub/mod.py",
        "./endpoints/gpu-worker/_deps/pkg-1.0.dist-info",
        "./endpoints/gpu-worker/_deps/pkg-1.0.dist-info/METADATA",
        "./endpoints/gpu-worker/app.py",
        "./endpoints/gpu-worker/requirements.txt",
        "./flash_manifest.json",
        "./handler_gpu_worker.py",
    ]
    assert result.files == sum(member.isfile() for member in members) == 9
    for member in members:
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == 1234567890
        executable = member.isdir() or member.name.endswith(("/bin/tool", "handler_gpu_worker.py"))
        assert member.mode == (0o755 if executable else 0o644), member.name
    assert not any("client" in name or name.endswith(".pyc") or "__pycache__" in name for name in names)


def test_the_archive_extracts_to_the_unpacked_files(tmp_path, deps):
    result = write_output(project(tmp_path), make_tree(), installed={DEPS: deps})
    target = tmp_path / "extracted"
    with tarfile.open(result.artifact) as archive:
        if hasattr(tarfile, "data_filter"):  # refuses unsafe entries (Python 3.10.12+, 3.11.4+)
            archive.extractall(target, filter="data")
        else:
            archive.extractall(target)
    unpacked = {k: v for k, v in snapshot(result.output).items() if not k.startswith(("client", "artifact", "build.json"))}
    assert snapshot(target) == unpacked


def test_gzip_header_has_no_name_and_the_fixed_mtime(tmp_path):
    result = write_output(project(tmp_path), make_tree(), source_date_epoch=1_600_000_000)
    header = result.artifact.read_bytes()[:10]
    magic, method, flags, mtime, extra_flags, system = struct.unpack("<2sBBIBB", header)
    assert magic == b"\x1f\x8b" and method == 8
    assert flags == 0  # no FNAME, FCOMMENT, FEXTRA
    assert mtime == 1_600_000_000
    assert extra_flags == 0  # compression level 6: neither "fastest" nor "best"
    assert system == 255
    with gzip.open(result.artifact) as stream:
        assert stream.read(1)


# --- layout --------------------------------------------------------------------------------------


def test_flash_layout_and_build_json(tmp_path, deps):
    root = project(tmp_path)
    result = write_output(root, make_tree(), installed={DEPS: deps})
    assert result.output == root / ".flash"
    assert result.artifact == root / ".flash" / "artifact.tar.gz"
    files = {path for path, data in snapshot(result.output).items() if data is not None}
    assert {
        "handler_gpu_worker.py",
        "flash_manifest.json",
        "endpoints/gpu-worker/app.py",
        "endpoints/gpu-worker/_deps/pkg/__init__.py",
        "endpoints/gpu-worker/_deps/bin/tool",
        "client/__init__.py",
        "artifact.tar.gz",
        "build.json",
    } <= files
    assert not any(path.endswith(".pyc") for path in files)
    assert os.access(result.output / "handler_gpu_worker.py", os.X_OK)
    info = json.loads((result.output / "build.json").read_text())
    assert info["artifact"] == {"path": "artifact.tar.gz", "sha256": result.sha256, "size": result.size}
    assert info["files"] == result.files == 9
    assert info["local_files"] == 1
    assert set(info["entries"]) == {"endpoints", "flash_manifest.json", "handler_gpu_worker.py"}
    assert info["entries"]["flash_manifest.json"] == len(b'{"version": "1.0"}\n')
    assert leftovers(root) == []


def test_installed_files_are_hard_linked_on_the_same_filesystem(tmp_path, deps):
    result = write_output(project(tmp_path), make_tree(), installed={DEPS: deps})
    shipped = result.output / DEPS / "pkg" / "__init__.py"
    assert shipped.stat().st_ino == (deps / "pkg" / "__init__.py").stat().st_ino


def test_installed_files_are_copied_when_linking_fails(tmp_path, deps, monkeypatch):
    def no_links(source, destination):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    result = write_output(project(tmp_path), make_tree(), installed={DEPS: deps})
    shipped = result.output / DEPS / "bin" / "tool"
    assert shipped.read_bytes() == (deps / "bin" / "tool").read_bytes()
    assert shipped.stat().st_ino != (deps / "bin" / "tool").stat().st_ino


def test_progress_reports_the_slow_steps(tmp_path, deps):
    messages: list[str] = []
    write_output(project(tmp_path), make_tree(), installed={DEPS: deps}, progress=messages.append)
    assert any(message.startswith("packaging 9 files") for message in messages)
    assert any(DEPS in message for message in messages)


def test_deployments_are_carried_over_and_the_rest_replaced(tmp_path):
    root = project(tmp_path)
    write_output(root, make_tree())
    state = root / ".flash" / "deployments" / "local" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"endpoint": "abc"}\n', encoding="utf-8")
    os.utime(state, (1_000_000, 1_000_000))
    (root / ".flash" / "resources.pkl").write_bytes(b"old")
    write_output(root, make_tree(handler=b"# v2\n"))
    assert state.read_text() == '{"endpoint": "abc"}\n'
    assert state.stat().st_mtime == 1_000_000
    assert not (root / ".flash" / "resources.pkl").exists()
    assert (root / ".flash" / "handler_gpu_worker.py").read_bytes() == b"# v2\n"
    with tarfile.open(root / ".flash" / "artifact.tar.gz") as archive:
        assert not any("deployments" in name for name in archive.getnames())


# --- all or nothing ------------------------------------------------------------------------------


@pytest.mark.parametrize("exception", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_a_failure_before_the_swap_leaves_the_previous_output(tmp_path, deps, monkeypatch, exception):
    root = project(tmp_path)
    write_output(root, make_tree(), installed={DEPS: deps})
    before = snapshot(root / ".flash")

    def broken(*args, **kwargs):
        raise exception

    monkeypatch.setattr(package, "_write_tarball", broken)
    with pytest.raises(type(exception)):
        write_output(root, make_tree(handler=b"# v2\n"), installed={DEPS: deps})
    assert snapshot(root / ".flash") == before
    assert leftovers(root) == []


def test_a_failure_during_the_second_rename_puts_the_previous_output_back(tmp_path, monkeypatch):
    root = project(tmp_path)
    write_output(root, make_tree())
    before = snapshot(root / ".flash")
    real_rename = os.rename

    def rename(source, destination):
        if Path(source).name.startswith(".flash.tmp-"):
            raise KeyboardInterrupt
        real_rename(source, destination)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        write_output(root, make_tree(handler=b"# v2\n"))
    assert snapshot(root / ".flash") == before
    assert leftovers(root) == []


KILLED_BUILD = """
import sys, time
from pathlib import Path
from flashc import package
from flashc.emit.tree import BuildFile, BuildTree

root, deps, marker = map(Path, sys.argv[1:4])
place = package._place_file

def slow(source, destination):
    place(source, destination)
    marker.touch()
    time.sleep(120)

package._place_file = slow
tree = BuildTree(artifact=(BuildFile("flash_manifest.json", b"{}"),))
package.write_output(root, tree, installed={"endpoints/w/_deps": deps})
"""


def test_a_killed_build_leaves_the_previous_output_and_the_next_build_cleans_up(tmp_path, deps):
    root = project(tmp_path)
    write_output(root, make_tree())
    before = snapshot(root / ".flash")
    script = tmp_path / "killed_build.py"
    script.write_text(KILLED_BUILD, encoding="utf-8")
    marker = tmp_path / "copying"
    child = subprocess.Popen([sys.executable, str(script), str(root), str(deps), str(marker)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the build script ended before copying"
            assert time.monotonic() < deadline, "the build script never started copying"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert snapshot(root / ".flash") == before
    assert [name.split("-")[0] for name in leftovers(root)] == [".flash.tmp"]

    write_output(root, make_tree(handler=b"# v2\n"))
    assert leftovers(root) == []
    assert (root / ".flash" / "handler_gpu_worker.py").read_bytes() == b"# v2\n"


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_build_killed_between_its_renames_gets_its_previous_output_back(tmp_path):
    root = project(tmp_path)
    write_output(root, make_tree())
    deployments = root / ".flash" / "deployments" / "state.json"
    deployments.parent.mkdir()
    deployments.write_text("{}", encoding="utf-8")
    pid = dead_pid()
    os.rename(root / ".flash", root / f".flash.old-{pid}-abc")
    (root / f".flash.tmp-{pid}-def").mkdir()
    write_output(root, make_tree(handler=b"# v2\n"))
    assert leftovers(root) == []
    assert deployments.read_text() == "{}"


def test_leftovers_of_a_running_build_are_kept(tmp_path):
    root = project(tmp_path)
    running = root / f".flash.tmp-{os.getppid()}-abc"
    running.mkdir()
    write_output(root, make_tree())
    assert running.is_dir()


# --- size limit ----------------------------------------------------------------------------------


def test_an_artifact_over_the_size_limit_names_the_largest_contributors(tmp_path):
    root = project(tmp_path)
    write_output(root, make_tree())
    before = snapshot(root / ".flash")
    site = tmp_path / "big"
    for index, size in enumerate([600_000, 500_000, 400_000, 300_000, 200_000, 100_000]):
        (site / f"pkg{index}").mkdir(parents=True)
        (site / f"pkg{index}" / "data.bin").write_bytes(os.urandom(size))
    with pytest.raises(BuildError) as raised:
        write_output(root, make_tree(), installed={DEPS: site}, size_limit_mb=1)
    message = str(raised.value)
    assert "over the 1 MB limit" in message
    listed = [line.split()[0] for line in message.splitlines() if line.startswith("  ")]
    assert listed == [f"{DEPS}/pkg{index}" for index in range(5)]
    assert "0.6 MB" in message
    assert "--exclude" in message
    assert snapshot(root / ".flash") == before
    assert leftovers(root) == []


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [".env", ".env.production", "endpoints/w/.env", ".git/config", "endpoints/w/.git/HEAD"],
)
def test_secrets_never_ship(tmp_path, path):
    root = project(tmp_path)
    tree = BuildTree(artifact=(BuildFile(path, b"TOKEN=secret\n"),))
    with pytest.raises(BuildError, match="never ship"):
        write_output(root, tree)
    assert not (root / ".flash").exists()
    assert leftovers(root) == []


def test_secrets_in_local_files_and_installed_packages_are_refused(tmp_path, deps):
    root = project(tmp_path)
    with pytest.raises(BuildError, match="never ship"):
        write_output(root, BuildTree(artifact=(), local=(BuildFile("client/.env", b"K=v\n"),)))
    (deps / "pkg" / ".env.local").write_text("K=v\n", encoding="utf-8")
    with pytest.raises(BuildError, match=r"_deps/pkg/\.env\.local"):
        write_output(root, make_tree(), installed={DEPS: deps})
    assert leftovers(root) == []


@pytest.mark.parametrize(
    "paths, message",
    [
        (["../outside.py"], "not a relative POSIX path"),
        (["/etc/passwd"], "not a relative POSIX path"),
        (["a//b.py"], "not a relative POSIX path"),
        (["artifact.tar.gz"], "writes itself"),
        (["deployments/x.json"], "writes itself"),
        (["a.py", "a.py"], "twice"),
        (["a", "a/b.py"], "both a file and a directory"),
    ],
)
def test_unsafe_or_conflicting_paths_are_refused(tmp_path, paths, message):
    tree = BuildTree(artifact=tuple(BuildFile(path, b"") for path in paths))
    with pytest.raises(BuildError, match=message):
        write_output(project(tmp_path), tree)


def test_an_installed_file_may_not_replace_a_build_file(tmp_path, deps):
    tree = BuildTree(artifact=(BuildFile(f"{DEPS}/pkg/__init__.py", b"mine"),))
    with pytest.raises(BuildError, match="would replace"):
        write_output(project(tmp_path), tree, installed={DEPS: deps})
