"""The docker target's failures, each a clear message (exit code 2) that says how to get out:
no engine, a missing base image, a base image of another Python, a failing build step (its
Dockerfile line and output), a registry that cannot be reached; and `--push` to a real
registry on loopback."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from docker_support import BASE_IMAGE, flashc

WORKER = '''from flashc import CpuInstanceType, Endpoint


@Endpoint(name="solo", cpu=CpuInstanceType.CPU3C_1_2{extra})
def echo(text: str) -> dict:
    return {{"echo": text}}
'''


def project(make_project, *, base_image: str = BASE_IMAGE, python: str = "3.11", extra: str = "") -> Path:
    pyproject = (
        '[project]\nname = "solo"\nversion = "0"\n\n[tool.flashc]\napp = "solo"\n'
        f'python-version = "{python}"\n\n[tool.flashc.docker]\nbase-image = "{base_image}"\n'
    )
    return make_project({"worker.py": WORKER.format(extra=extra)}, pyproject=pyproject)


def test_no_engine_says_how_to_start_one(make_project, tmp_path: Path) -> None:
    root = project(make_project)
    dead = f"unix://{tmp_path}/no-engine.sock"
    result = flashc("deploy", "--target", "docker", "--env", "dev", cwd=root, env={"DOCKER_HOST": dead})
    assert result.returncode == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"flashc: error: no Docker engine answers at {dead} (")
    assert "Start one (`sudo systemctl start docker`, `sudo dockerd`, or in a flashc checkout `scripts/docker-engine`" in first
    assert first.endswith("or set DOCKER_HOST to the engine's address")
    assert "Traceback" not in result.stderr
    assert not (root / ".flash/flash_manifest.json").exists()  # it said so before building anything


def test_missing_base_image_says_how_to_provide_one(engine, make_project) -> None:
    root = project(make_project, base_image="flashc-test/no-such-image:1")
    result = flashc("deploy", "--target", "docker", "--env", "dev", cwd=root)
    assert result.returncode == 2
    message = result.stderr.splitlines()[-1]
    assert message.startswith("flashc: error: the base image 'flashc-test/no-such-image:1' of endpoint `solo` is not on the Docker engine at ")
    assert "Provide it (`docker pull flashc-test/no-such-image:1`, or `docker build`/`docker import` an image with python3" in message
    assert message.endswith('(or [tool.flashc.docker.endpoints.solo] base-image = "IMAGE") in pyproject.toml')
    assert not (root / ".flash/deployments/dev.json").exists()


def test_base_image_of_another_python_is_refused(engine, make_project) -> None:
    root = project(make_project, python="3.12")
    result = flashc("deploy", "--target", "docker", "--env", "dev", cwd=root)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"flashc: error: the base image '{BASE_IMAGE}' of endpoint `solo` has Python 3.11, but the build targets Python 3.12 "
        '(its dependencies are installed for it); set [tool.flashc] python-version = "3.11" or choose a base image with Python 3.12'
    )


@pytest.fixture
def base_without_apt(engine):
    """A base image whose apt-get is gone: installing system packages fails, offline and at once."""
    tag = "flashc-test/no-apt:1"
    dockerfile = f"FROM {BASE_IMAGE}\nRUN rm -f /usr/bin/apt-get\n"
    engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, network_mode="none")
    yield tag
    for image in engine.images.list(filters={"label": "org.flashc.app=solo"}):
        engine.images.remove(image.id, force=True)
    engine.images.remove(tag, force=True)


def test_failing_build_step_names_its_dockerfile_line_and_output(engine, make_project, base_without_apt: str) -> None:
    root = project(make_project, base_image=base_without_apt, extra=', system_dependencies=["curl"]')
    result = flashc("deploy", "--target", "docker", "--env", "dev", cwd=root)
    assert result.returncode == 2
    message = result.stderr[result.stderr.index("flashc: error:"):]
    assert message.splitlines()[0] == (
        "flashc: error: building the image of `solo` failed at `RUN apt-get update  && DEBIAN_FRONTEND=noninteractive "
        "apt-get install -y --no-install-recommends curl  && rm -rf /var/lib/apt/lists/*` (Step 2/7): The command "
        "'/bin/sh -c apt-get update  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl  "
        "&& rm -rf /var/lib/apt/lists/*' returned a non-zero code: 127"
    )
    assert message.splitlines()[1:] == ["  last output of that step:", "    /bin/sh: 1: apt-get: not found"]
    assert not (root / ".flash/deployments/dev.json").exists()
    assert engine.containers.list(all=True, filters={"label": [f"org.flashc.project-path={root.resolve()}"]}) == []


def test_push_to_an_unreachable_registry_fails_clearly(engine, make_project) -> None:
    root = project(make_project)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once the socket is closed
    try:
        result = flashc("build", "--image", "--push", f"127.0.0.1:{port}/team", cwd=root)
        assert result.returncode == 2
        message = result.stderr.splitlines()[-1]
        assert message.startswith(f"flashc: error: pushing 127.0.0.1:{port}/team/solo-solo:")
        assert "connection refused" in message
    finally:
        for image in engine.images.list(filters={"label": "org.flashc.app=solo"}):
            engine.images.remove(image.id, force=True)


@pytest.fixture
def registry(tmp_path: Path):
    """A real registry (Debian's docker-registry, distribution 2.8) on loopback, storing in tmp_path."""
    binary = shutil.which("docker-registry")
    if binary is None:
        reason = "docker-registry is not installed; scripts/docker-engine installs it (apt-get install docker-registry)"
        if os.environ.get("FLASHC_REQUIRE_DOCKER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + str(tmp_path / "storage") + "\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            log.seek(0)
            pytest.fail(f"the registry did not start: {log.read().decode(errors='replace')}")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_build_image_and_push_to_a_registry(engine, make_project, registry: str) -> None:
    root = project(make_project)
    try:
        result = flashc("build", "--image", "--push", f"{registry}/team", cwd=root)
        assert result.returncode == 0, result.stdout + result.stderr
        images = [line for line in result.stdout.splitlines() if line.startswith("  image ")]
        assert len(images) == 1 and images[0].startswith(f"  image solo: {registry}/team/solo-solo:")
        tag = images[0].rsplit(":", 1)[1]
        listed = httpx.get(f"http://{registry}/v2/team/solo-solo/tags/list", timeout=10).json()
        assert listed == {"name": "team/solo-solo", "tags": [tag]}
        # The same image again: up to date, nothing rebuilt.
        again = flashc("build", "--image", cwd=root)
        assert again.returncode == 0, again.stderr
        assert f"  image solo: flashc/solo-solo:{tag} (up to date)" in again.stdout.splitlines()
        assert "building the image" not in again.stderr
        as_json = flashc("build", "--image", "--format", "json", cwd=root)
        assert json.loads(as_json.stdout)["images"] == [{"endpoint": "solo", "image": f"flashc/solo-solo:{tag}", "built": False}]
        built = json.loads((root / ".flash/flash_manifest.json").read_text())
        assert sorted(built["resources"]) == ["solo"]
    finally:
        for image in engine.images.list(filters={"label": "org.flashc.app=solo"}):
            engine.images.remove(image.id, force=True)


def test_python_version_of_a_base_image_is_asked_of_python3_when_it_does_not_say(engine) -> None:
    from flashc.deploy.docker import engine as engines

    made = []
    before = {c.id for c in engine.containers.list(all=True)}
    try:
        for tag, extra in (("flashc-test/py-unsaid:1", ""), ("flashc-test/no-python:1", "RUN rm -f /usr/bin/python3*\n")):
            dockerfile = f'FROM {BASE_IMAGE}\nENV PYTHON_VERSION=""\n{extra}'
            made.append(engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, network_mode="none")[0])
        assert engines.python_version(engine, made[0]) == "3.11"
        with pytest.raises(engines.DockerError, match=r"^the base image flashc-test/no-python:1 has no working `python3` \("):
            engines.python_version(engine, made[1])
        assert {c.id for c in engine.containers.list(all=True)} == before  # the probes' containers are gone
    finally:
        for image in reversed(made):  # the second is built on the first
            engine.images.remove(image.id, force=True)
