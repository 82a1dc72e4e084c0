"""The Docker target: every endpoint of the build in its own image and container.

``plan`` compares what the build needs (per endpoint: its digest, its image's content tag,
its container's settings) with the recorded state and the containers really running;
``apply`` builds the missing images first (a failing build changes nothing that runs), pushes
them when asked, then replaces exactly the containers whose endpoint changed and records the
deployment in ``.flash/deployments/<env>.json`` (target ``docker``: per endpoint its URL,
port, image and container id). ``destroy`` removes the containers labelled as this project's
and environment's (see :mod:`.containers`) and nothing else.

Each container serves one endpoint on ``http://127.0.0.1:<port>`` (see
:mod:`flashc_runtime.worker.serve`): queue endpoints RunPod's job API at the root,
load-balanced ones their routes; every request needs the deployment's token, as with the
local target, so ``flashc run`` and the compiled stubs work the same against both. The
containers know each other's URLs (``FLASHC_ENDPOINT_URL_<NAME>``), so endpoints calling
endpoints work too.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import package
from ...config import load_config
from .. import redaction
from .. import state as states
from ..output import Built
from ..plan import Action, Change, Plan
from ..state import DeployedEndpoint, DeployState
from . import containers, images, ports
from .engine import DockerError, connect, engine_host

__all__ = ["TARGET", "DockerError", "DockerOptions", "apply", "build_images", "connect", "destroy", "is_running", "log_file", "plan", "status"]

TARGET = "docker"
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DockerOptions:
    push: str | None = None
    """A registry to push every endpoint's image to (``--push``)."""
    progress: Progress | None = None


@dataclass(frozen=True, slots=True)
class Wanted:
    """What one endpoint should be running as."""

    endpoint: str
    digest: str
    image: images.EndpointImage
    port: int
    environment: dict[str, str]
    config: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


# --- what the build needs --------------------------------------------------------------------


def describe_images(client: Any, root: Path, built: Built) -> dict[str, images.EndpointImage]:
    """Every endpoint's image (checked: base image present, same Python as the build)."""
    config = load_config(root)
    manifest = built.manifest
    names = sorted(built.digests)
    images.check_endpoint_overrides(config, names)
    python = str(manifest.get("python_version") or "")
    app = str(manifest.get("project_name") or root.name)
    flashc_entries = manifest.get("flashc", {}).get("endpoints", {})
    found = {}
    for name in names:
        resource = built.endpoint(name)
        found[name] = images.describe(
            client, app=app, endpoint=name, resource=resource, flashc_entry=flashc_entries.get(name, {}),
            package=built.output / "endpoints" / name, base=images.base_image_for(config, name, resource, python), python=python,
        )
    return found


def _wanted(client: Any, root: Path, env: str, built: Built, deployed: DeployState | None, token: str) -> dict[str, Wanted]:
    described = describe_images(client, root, built)
    project = containers.project_id(root)
    recorded = {name: e.port for name, e in (deployed.endpoints.items() if deployed is not None else ()) if e.port}
    allocated = ports.allocate(project, env, list(described), recorded=recorded, taken=containers.ports_of_others(client, project, env))
    urls = {
        "FLASHC_ENDPOINT_URL_" + "".join(c if c.isalnum() else "_" for c in name.upper()): f"http://127.0.0.1:{port}"
        for name, port in allocated.items()
    }
    flashc_entries = built.manifest.get("flashc", {}).get("endpoints", {})
    wanted = {}
    for name, image in described.items():
        resource_env = built.endpoint(name).get("env") or {}
        timeout = int(flashc_entries.get(name, {}).get("execution_timeout_ms") or 0)
        environment = {
            **{str(k): str(v) for k, v in resource_env.items()},
            **urls,
            "HOST": "127.0.0.1",
            "PORT": str(allocated[name]),
            "FLASHC_WORKER_TOKEN": token,
            "FLASHC_API_KEY": token,
            **({"FLASHC_EXECUTION_TIMEOUT_MS": str(timeout)} if timeout > 0 else {}),
        }
        config = containers.config_digest(image.reference, environment, allocated[name])
        wanted[name] = Wanted(name, built.digests[name], image, allocated[name], environment, config)
    return wanted


def _live(client: Any, root: Path, env: str, deployed: DeployState | None) -> dict[str, Any]:
    """endpoint -> its recorded container, where it exists and runs."""
    project = containers.project_id(root)
    live = {}
    for name, endpoint in (deployed.endpoints.items() if deployed is not None else ()):
        container = containers.get(client, endpoint.container, project, env)
        if container is not None and container.status == "running":
            live[name] = container
    return live


def _compute_plan(env: str, wanted: dict[str, Wanted], deployed: DeployState | None, live: dict[str, Any]) -> Plan:
    recorded = deployed.endpoints if deployed is not None else {}
    actions = []
    for name in sorted(set(wanted) | set(recorded)):
        if name not in wanted:
            actions.append(Action(Change.REMOVE, name, "no longer in the project"))
            continue
        want, have = wanted[name], recorded.get(name)
        if have is None:
            actions.append(Action(Change.CREATE, name, "new endpoint"))
        elif name not in live:
            actions.append(Action(Change.CREATE, name, "not running"))
        elif have.digest != want.digest:
            actions.append(Action(Change.REPLACE, name, "its code or configuration changed"))
        elif have.image != want.image.reference:
            actions.append(Action(Change.REPLACE, name, "its image changed (base image or Dockerfile)"))
        elif live[name].labels.get(containers.CONFIG) != want.config:
            actions.append(Action(Change.REPLACE, name, "its container settings changed (ports or variables)"))
        else:
            actions.append(Action(Change.KEEP, name, "unchanged"))
    return Plan(env, TARGET, tuple(actions))


def _recorded(root: Path, env: str) -> DeployState | None:
    deployed = states.load(root, env)
    if deployed is not None and deployed.target != TARGET:
        raise DockerError(
            f"`{env}` is deployed to the {deployed.target} target; `flashc undeploy --env {env}` first, or deploy to another --env"
        )
    return deployed


def plan(root: Path, env: str) -> Plan:
    client = connect()
    built = Built.read(root)
    deployed = _recorded(root, env)
    token = deployed.token if deployed is not None else "plan"
    return _compute_plan(env, _wanted(client, root, env, built, deployed, token), deployed, _live(client, root, env, deployed))


# --- apply -------------------------------------------------------------------------------------


def build_images(root: Path, options: DockerOptions = DockerOptions()) -> list[tuple[str, str, bool]]:
    """``flashc build --image``: every endpoint's image (and push); ``(endpoint, reference, built)``."""
    client = connect()
    result = []
    for name, image in describe_images(client, root, Built.read(root)).items():
        made = images.build(client, image, options.progress)
        reference = images.push(client, image, options.push, options.progress) if options.push else image.reference
        result.append((name, reference, made))
    return result


def apply(root: Path, env: str, options: DockerOptions = DockerOptions()) -> tuple[Plan, DeployState]:
    with states.locked(root, env, progress=options.progress):
        return _apply(root, env, options)


def _apply(root: Path, env: str, options: DockerOptions) -> tuple[Plan, DeployState]:
    client = connect()
    built = Built.read(root)
    deployed = _recorded(root, env)
    token = deployed.token if deployed is not None else secrets.token_urlsafe(32)
    redaction.register(token)
    wanted = _wanted(client, root, env, built, deployed, token)
    live = _live(client, root, env, deployed)
    the_plan = _compute_plan(env, wanted, deployed, live)
    changing = [a.endpoint for a in the_plan.actions if a.change in (Change.CREATE, Change.REPLACE)]
    # Images first: a build that fails leaves every running container as it was.
    for name in changing:
        images.build(client, wanted[name].image, options.progress)
    if options.push:
        for name in sorted(wanted):
            images.push(client, wanted[name].image, options.push, options.progress)
    workspace = states.workspace(root, env)
    (workspace / "logs").mkdir(parents=True, exist_ok=True)
    project = containers.project_id(root)
    app = str(built.manifest.get("project_name") or root.name)
    endpoints: dict[str, DeployedEndpoint] = {}
    for action in the_plan.actions:
        name = action.endpoint
        if action.change is Change.REMOVE or (action.change is Change.REPLACE and name in live):
            _say(options.progress, f"removing the container of `{name}`")
            if name in live:
                containers.remove(live[name])
        if action.change is Change.REMOVE:
            continue
        want = wanted[name]
        if action.change is Change.KEEP and deployed is not None:
            endpoints[name] = deployed.endpoints[name]
            continue
        _say(options.progress, f"starting `{name}` on {want.url} ({want.image.reference})")
        container = containers.run(
            client, want.image.reference, containers.container_name(app, env, name, project), want.environment,
            containers.labels(root, env, name, port=want.port, digest=want.digest, config=want.config),
        )
        endpoints[name] = DeployedEndpoint(
            name=name, kind=want.image.kind, digest=want.digest, url=want.url, package_dir=str(want.image.package),
            python="python3", port=want.port, image=want.image.reference, container=container.id,
        )
        # Recorded before waiting: an endpoint that never answers is still this deployment's to remove.
        states.save(root, _state(env, token, workspace, {**_kept(deployed, wanted), **endpoints}))
        containers.wait_ready(container, want.url, token, name)
    record = _state(env, token, workspace, endpoints)
    states.save(root, record)
    recorded_ids = {e.container for e in endpoints.values()}
    for container in containers.owned(client, project, env):
        if container.id not in recorded_ids:  # left by an interrupted deploy
            _say(options.progress, f"removing stray container {container.name}")
            containers.remove(container)
    return the_plan, record


def _kept(deployed: DeployState | None, wanted: dict[str, Wanted]) -> dict[str, DeployedEndpoint]:
    return {n: e for n, e in (deployed.endpoints.items() if deployed is not None else ()) if n in wanted}


def _state(env: str, token: str, workspace: Path, endpoints: dict[str, DeployedEndpoint]) -> DeployState:
    return DeployState(
        env=env, target=TARGET, url=engine_host(), token=token, pid=0,
        endpoints=dict(sorted(endpoints.items())), spec="", log_dir=str(workspace / "logs"),
    )


# --- status, logs, undeploy --------------------------------------------------------------------


def is_running(deployed: DeployState | None) -> bool:
    """Whether every recorded container exists and runs (False when no engine answers)."""
    if deployed is None or not deployed.endpoints:
        return False
    try:
        client = connect()
    except DockerError:
        return False
    from docker.errors import NotFound

    for endpoint in deployed.endpoints.values():
        try:
            if client.containers.get(endpoint.container).status != "running":
                return False
        except NotFound:
            return False
    return True


def status(root: Path, env: str) -> dict:
    package.recover_output(root)
    deployed = _recorded(root, env)
    if deployed is None:
        raise DockerError(f"nothing is deployed to `{env}`; `flashc deploy --target docker --env {env}` deploys the project")
    client = connect()
    live = {}
    for name, endpoint in deployed.endpoints.items():
        container = containers.get(client, endpoint.container, containers.project_id(root), env)
        live[name] = container.status if container is not None else "missing"
    return {
        "env": env,
        "target": TARGET,
        "running": all(s == "running" for s in live.values()) and bool(live),
        "url": deployed.url,
        "endpoints": {
            name: {"url": e.url, "container": e.container[:12], "state": live[name], "image": e.image, "port": e.port}
            for name, e in sorted(deployed.endpoints.items())
        },
    }


def log_file(root: Path, env: str, endpoint: str | None) -> Path:
    """The container's output so far, written to ``<workspace>/logs/<endpoint>.log``."""
    deployed = _recorded(root, env)
    if deployed is None:
        raise DockerError(f"nothing is deployed to `{env}`")
    if endpoint is None or endpoint not in deployed.endpoints:
        raise DockerError(f"name an endpoint of `{env}` (the docker target has no supervisor log): {', '.join(sorted(deployed.endpoints))}")
    container = containers.get(connect(), deployed.endpoints[endpoint].container, containers.project_id(root), env)
    if container is None:
        raise DockerError(f"the container of `{endpoint}` is gone; `flashc deploy --target docker --env {env}` starts it again")
    path = Path(deployed.log_dir) / f"{endpoint}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(container.logs())
    return path


def destroy(root: Path, env: str) -> bool:
    """Remove this environment's containers (by their labels, and the recorded ids) and forget it."""
    package.recover_output(root)
    with states.locked(root, env):
        try:
            deployed = states.load(root, env)
        except states.StateError:
            deployed = None
        client = connect()
        project = containers.project_id(root)
        found = {c.id: c for c in containers.owned(client, project, env)}
        for endpoint in (deployed.endpoints.values() if deployed is not None else ()):
            container = _by_recorded_id(client, endpoint.container, env)
            if container is not None:
                found.setdefault(container.id, container)
        for container in found.values():
            containers.remove(container)
        known = deployed is not None or bool(found) or states.workspace(root, env).exists()
        states.remove(root, env)
        shutil.rmtree(states.workspace(root, env), ignore_errors=True)
        states.lock_path(root, env).unlink(missing_ok=True)
        return known


def _by_recorded_id(client: Any, container_id: str, env: str) -> Any | None:
    """A recorded container that is a flashc container of ``env`` (the project may have moved since)."""
    container = containers.find(client, container_id)
    if container is None:
        return None
    return container if container.labels.get(containers.ENV) == env and containers.PROJECT in container.labels else None

