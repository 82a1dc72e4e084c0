"""A real Docker engine for the docker target's tests.

The engine is the one ``DOCKER_HOST`` names. Without one, the tests that need it skip, saying
how to enable them; with ``FLASHC_REQUIRE_DOCKER=1`` (set by ``.ci/run``, which starts the
engine) they fail instead, so CI never passes by skipping them. The base image is
``flashc/debian-python:bookworm`` (Debian 12 with python3), which ``scripts/docker-engine`` makes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from docker_support import BASE_IMAGE
from support import FIXTURES

ENABLE = "as root, `export DOCKER_HOST=$(scripts/docker-engine)` installs and starts an engine and makes the base image"


def _unavailable(reason: str) -> None:
    if os.environ.get("FLASHC_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{reason}, and FLASHC_REQUIRE_DOCKER=1 says the docker tests must run")
    pytest.skip(f"{reason}; to run the docker tests, {ENABLE}")


@pytest.fixture(scope="session")
def engine():
    """A client of the engine at DOCKER_HOST, with the base image present."""
    import docker
    from docker.errors import DockerException, ImageNotFound

    if not os.environ.get("DOCKER_HOST"):
        _unavailable("DOCKER_HOST is not set")
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except (DockerException, OSError) as error:
        _unavailable(f"no Docker engine answers at {os.environ['DOCKER_HOST']} ({error})")
    try:
        client.images.get(BASE_IMAGE)
    except ImageNotFound:
        _unavailable(f"the engine has no base image {BASE_IMAGE}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def caches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("docker-caches")
    return {"FLASHC_DEPS_CACHE": str(base / "deps"), "FLASHC_CACHE_DIR": str(base / "check")}


@pytest.fixture
def two_endpoints(tmp_path: Path) -> Path:
    """A copy of the fixture project: a queue endpoint and a load-balanced one that calls it."""
    root = tmp_path / "two_endpoints"
    shutil.copytree(FIXTURES / "docker" / "two_endpoints", root)
    return root
