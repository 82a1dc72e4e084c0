"""Endpoint containers: who owns them (labels), running one, waiting until it answers, removing.

Every container flashc starts carries labels naming its owner: ``org.flashc.project`` (a
digest of the project directory's path), ``org.flashc.env``, ``org.flashc.endpoint``, plus
``org.flashc.port``, ``org.flashc.digest`` (the endpoint's build digest) and
``org.flashc.config`` (a digest of the image, environment variables and port it runs with).
:func:`owned` finds containers by those labels only, so undeploying an environment removes
exactly its containers and nothing else on the engine. Containers use the host network (the
engine may have no bridge) and listen on 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .engine import DockerError
from .images import LABEL_PREFIX

PROJECT, ENV, ENDPOINT, PORT, DIGEST, CONFIG, PATH = (
    f"{LABEL_PREFIX}{name}" for name in ("project", "env", "endpoint", "port", "digest", "config", "project-path")
)
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10
_NAME_CHARACTERS = re.compile(r"[^a-zA-Z0-9_.-]+")


def project_id(root: Path) -> str:
    """The owner id of a project's containers: a digest of its directory's absolute path."""
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def container_name(app: str, env: str, endpoint: str, project: str) -> str:
    name = _NAME_CHARACTERS.sub("-", f"flashc-{app}-{env}-{endpoint}").strip("-.")
    return f"{name}-{project[:8]}"


def config_digest(image: str, environment: Mapping[str, str], port: int) -> str:
    """What a running container must match to be kept: its image, variables and port."""
    document = json.dumps({"image": image, "env": dict(sorted(environment.items())), "port": port}, sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()[:24]


def labels(root: Path, env: str, endpoint: str, *, port: int, digest: str, config: str) -> dict[str, str]:
    return {
        PROJECT: project_id(root), PATH: str(root.resolve()), ENV: env, ENDPOINT: endpoint,
        PORT: str(port), DIGEST: digest, CONFIG: config,
    }


def owned(client: Any, project: str, env: str | None = None) -> list[Any]:
    """Containers (running or not) labelled as ``project``'s (of ``env`` when given)."""
    wanted = [f"{PROJECT}={project}"] + ([f"{ENV}={env}"] if env is not None else [])
    return client.containers.list(all=True, filters={"label": wanted})


def ports_of_others(client: Any, project: str, env: str) -> set[int]:
    """Ports held by flashc containers of other deployments on this engine."""
    taken = set()
    for container in client.containers.list(all=True, filters={"label": [PORT]}):
        found = container.labels
        if found.get(PROJECT) == project and found.get(ENV) == env:
            continue
        try:
            taken.add(int(found.get(PORT, "")))
        except ValueError:
            continue
    return taken


def find(client: Any, container_id: str) -> Any | None:
    """The container ``container_id``, or None when there is none (or no id)."""
    from docker.errors import NotFound

    if not container_id:
        return None
    try:
        return client.containers.get(container_id)
    except NotFound:
        return None


def get(client: Any, container_id: str, project: str, env: str) -> Any | None:
    """The container ``container_id`` if it exists and is this deployment's, else None."""
    container = find(client, container_id)
    if container is None:
        return None
    found = container.labels
    return container if found.get(PROJECT) == project and found.get(ENV) == env else None


def run(client: Any, image: str, name: str, environment: Mapping[str, str], container_labels: Mapping[str, str]) -> Any:
    """Start a detached container of ``image`` on the host network (a same-named one of this
    deployment, left by an interrupted deploy, is removed first)."""
    from docker.errors import APIError, NotFound

    try:
        stale = client.containers.get(name)
    except NotFound:
        stale = None
    if stale is not None:
        if stale.labels.get(PROJECT) != container_labels[PROJECT]:
            raise DockerError(f"a container named {name} that flashc did not start for this project exists; remove or rename it")
        remove(stale)
    try:
        return client.containers.run(
            image, name=name, detach=True, network_mode="host", environment=dict(environment),
            labels=dict(container_labels), restart_policy={"Name": "no"},
        )
    except APIError as error:
        raise DockerError(f"the engine could not start {name} from {image}: {error.explanation or error}") from None


def wait_ready(container: Any, url: str, token: str, endpoint: str, timeout: float = READY_TIMEOUT) -> None:
    """Wait until ``url``/ping answers 200, failing at once (with its log) if the container exits."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        if container.status in ("exited", "dead"):
            raise DockerError(
                f"the container of `{endpoint}` exited with code {container.attrs.get('State', {}).get('ExitCode')} "
                f"before it answered; its last output:\n{tail(container)}"
            )
        try:
            response = httpx.get(f"{url}/ping", headers={"Authorization": f"Bearer {token}"}, timeout=2)
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() >= deadline:
            raise DockerError(f"the container of `{endpoint}` did not answer at {url} within {timeout:.0f} s; its last output:\n{tail(container)}")
        time.sleep(0.1)


def tail(container: Any, lines: int = 20) -> str:
    try:
        text = container.logs(tail=lines).decode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 -- a log we cannot read is not the error to report
        return "  (no output)"
    return "\n".join(f"  {line}" for line in text.rstrip().splitlines()) or "  (no output)"


def remove(container: Any) -> None:
    """Stop (SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT` s) and remove ``container``."""
    from docker.errors import NotFound

    try:
        container.reload()
        if container.status not in ("created", "exited", "dead"):
            container.stop(timeout=STOP_TIMEOUT)
        container.remove(v=True, force=True)
    except NotFound:
        pass
