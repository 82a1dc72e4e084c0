"""Reaching a Docker engine, and what flashc asks of base images.

The engine is the one ``DOCKER_HOST`` names (default ``unix:///var/run/docker.sock``), reached
with the ``docker`` SDK, imported here on first use so that nothing else pays for it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ...errors import FlashcError

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"
TIMEOUT_SECONDS = 600
"""The SDK's timeout for one API call (builds and pushes stream, so this bounds silence)."""


class DockerError(FlashcError):
    """The Docker target could not do what was asked (the message says what and how to fix it)."""


def engine_host() -> str:
    return os.environ.get("DOCKER_HOST", "").strip() or DEFAULT_HOST


def connect() -> docker.DockerClient:
    """A client of the engine that answers at :func:`engine_host`, or a :class:`DockerError`."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:  # pragma: no cover -- docker is a dependency of flashc
        raise DockerError("the docker Python SDK is not installed: `pip install docker`") from None
    host = engine_host()
    try:
        client = docker.DockerClient(base_url=host, timeout=TIMEOUT_SECONDS)
        client.ping()
    except (DockerException, OSError) as error:
        raise DockerError(
            f"no Docker engine answers at {host} ({_short(error)}). Start one (`sudo systemctl start docker`, "
            "`sudo dockerd`, or in a flashc checkout `scripts/docker-engine`, which prints the DOCKER_HOST to use), "
            "or set DOCKER_HOST to the engine's address"
        ) from None
    return client


def base_image(client: docker.DockerClient, reference: str, endpoint: str) -> Any:
    """The engine's image ``reference`` (an endpoint's base), or a :class:`DockerError` saying how to get it."""
    from docker.errors import ImageNotFound

    try:
        return client.images.get(reference)
    except ImageNotFound:
        raise DockerError(
            f"the base image {reference!r} of endpoint `{endpoint}` is not on the Docker engine at {engine_host()}. "
            f"Provide it (`docker pull {reference}`, or `docker build`/`docker import` an image with python3 and tag it "
            f"{reference}), or choose another with [tool.flashc.docker] base-image = \"IMAGE\" "
            f"(or [tool.flashc.docker.endpoints.{endpoint}] base-image = \"IMAGE\") in pyproject.toml"
        ) from None


_python_versions: dict[str, str] = {}


def python_version(client: docker.DockerClient, image: Any) -> str:
    """``major.minor`` of the image's ``python3``: its ``PYTHON_VERSION`` variable (set by the
    official Python images, and by ``scripts/docker-engine``), else asked of ``python3`` in a
    throw-away container (remembered per image id)."""
    cached = _python_versions.get(image.id)
    if cached is not None:
        return cached
    for item in (image.attrs.get("Config") or {}).get("Env") or []:
        name, _, value = item.partition("=")
        if name == "PYTHON_VERSION" and value.count(".") >= 1:
            found = ".".join(value.split(".")[:2])
            break
    else:
        found = _ask_python(client, image)
    _python_versions[image.id] = found
    return found


def _ask_python(client: docker.DockerClient, image: Any) -> str:
    """Run ``python3`` in a throw-away container of ``image`` (no network), removed whatever happens."""
    tags = ", ".join(image.tags) or image.short_id
    container = None
    try:
        container = client.containers.create(
            image.id, ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], network_mode="none", entrypoint=[],
        )
        container.start()
        code = container.wait(timeout=120).get("StatusCode")
        output = container.logs(stdout=True, stderr=False).decode("utf-8", errors="replace").strip()
        if code != 0 or not output:
            raise RuntimeError(f"exit code {code}: {container.logs(tail=3).decode('utf-8', errors='replace').strip()}")
        return output
    except Exception as error:  # noqa: BLE001 -- any failure means: no usable python3
        raise DockerError(f"the base image {tags} has no working `python3` ({_short(error)}); flashc's images run the endpoint with it") from None
    finally:
        if container is not None:
            container.remove(force=True)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
