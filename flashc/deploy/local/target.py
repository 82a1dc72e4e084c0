"""The local target: the built endpoints served on this machine by a detached supervisor.

``plan`` compares the build with the recorded state (and with what is really
running); ``apply`` prepares each changed endpoint (a copy of its handler package
and its Python environment), writes the supervisor's spec, then starts the
supervisor or asks it to reload, and records the result. Unchanged endpoints are
not touched: their workers keep running.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from ...errors import FlashcError
from .. import state as states
from ..plan import Change, Plan, compute_plan
from ..state import DeployedEndpoint, DeployState
from . import environments
from .spec import runtime_path

TARGET = "local"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class DeployError(FlashcError):
    """The local target could not do what was asked (the message says what and why)."""


@dataclass(frozen=True, slots=True)
class LocalOptions:
    host: str = "127.0.0.1"
    port: int = 0
    """0: a free port on first deploy; later deploys keep the deployment's port."""
    isolate: bool = True
    progress: Callable[[str], None] | None = None


@dataclass(frozen=True, slots=True)
class Built:
    """What ``flashc build`` left in ``.flash/``, as the target needs it."""

    output: Path
    manifest: dict

    @classmethod
    def read(cls, root: Path) -> Built:
        output = root / ".flash"
        try:
            manifest = json.loads((output / "flash_manifest.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DeployError(f"{root} has no build; run `flashc build` first") from None
        return cls(output, manifest)

    @property
    def digests(self) -> dict[str, str]:
        return dict(self.manifest.get("flashc", {}).get("endpoint_digests", {}))

    def endpoint(self, name: str) -> dict:
        return self.manifest["resources"][name]


# --- liveness ------------------------------------------------------------------------------------


def is_running(deployed: DeployState | None) -> bool:
    """Whether the recorded supervisor is alive and answering with the recorded token."""
    if deployed is None or deployed.pid <= 0:
        return False
    try:
        os.kill(deployed.pid, 0)
    except OSError:
        return False
    try:
        response = httpx.get(f"{deployed.url}/admin/status", headers=_auth(deployed.token), timeout=3)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def plan(root: Path, env: str) -> Plan:
    built = Built.read(root)
    deployed = states.load(root, env)
    return compute_plan(env, TARGET, built.digests, deployed, is_running(deployed))


# --- apply ---------------------------------------------------------------------------------------


def apply(root: Path, env: str, options: LocalOptions = LocalOptions()) -> tuple[Plan, DeployState]:
    built = Built.read(root)
    deployed = states.load(root, env)
    running = is_running(deployed)
    the_plan = compute_plan(env, TARGET, built.digests, deployed, running)
    workspace = states.workspace(root, env)
    (workspace / "logs").mkdir(parents=True, exist_ok=True)
    token = deployed.token if deployed is not None else secrets.token_urlsafe(32)
    endpoints: dict[str, DeployedEndpoint] = {}
    for action in the_plan.actions:
        if action.change is Change.REMOVE:
            continue
        if action.change is Change.KEEP and deployed is not None:
            endpoints[action.endpoint] = deployed.endpoints[action.endpoint]
            continue
        endpoints[action.endpoint] = _prepare(built, workspace, action.endpoint, options)
    spec_path = workspace / "spec.json"
    port = options.port or (_port_of(deployed.url) if deployed is not None and deployed.url else 0)
    _write_json(spec_path, _spec(built, endpoints, workspace, options.host, port, token))
    if running and deployed is not None:
        if the_plan.changes:
            _admin(deployed.url, token, "reload")
        url, pid = deployed.url, deployed.pid
    else:
        url, pid = _start(spec_path, workspace, options)
    record = DeployState(
        env=env,
        target=TARGET,
        url=url,
        token=token,
        pid=pid,
        endpoints={name: replace(e, url=_endpoint_url(url, e)) for name, e in endpoints.items()},
        spec=str(spec_path),
        log_dir=str(workspace / "logs"),
    )
    states.save(root, record)
    _remove_stale_packages(workspace, record)
    return the_plan, record


def _prepare(built: Built, workspace: Path, name: str, options: LocalOptions) -> DeployedEndpoint:
    """Copy the endpoint's handler package (without the worker-platform ``_deps``) and make its Python."""
    digest = built.digests[name]
    source = built.output / "endpoints" / name
    package = workspace / "endpoints" / f"{name}-{digest[:12]}"
    if not package.is_dir():
        staging = package.with_name(package.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns("_deps", "__pycache__"))
        os.replace(staging, package)
    requirements = (source / "requirements.txt").read_text(encoding="utf-8").split()
    load_balanced = bool(built.endpoint(name).get("is_load_balanced"))
    python = environments.interpreter(requirements, load_balanced=load_balanced, isolate=options.isolate, progress=options.progress)
    kind = "load-balanced" if load_balanced else "queue"
    return DeployedEndpoint(name=name, kind=kind, digest=digest, url="", package_dir=str(package), python=python)


def _spec(built: Built, endpoints: dict[str, DeployedEndpoint], workspace: Path, host: str, port: int, token: str) -> dict:
    flashc = built.manifest.get("flashc", {}).get("endpoints", {})
    entries = []
    for name, endpoint in sorted(endpoints.items()):
        resource = built.endpoint(name)
        entries.append(
            {
                "name": name,
                "kind": endpoint.kind,
                "package_dir": endpoint.package_dir,
                "python": endpoint.python,
                "env": {**resource.get("env", {}), "FLASH_RESOURCE_NAME": name},
                "digest": endpoint.digest,
                "workers_min": int(resource.get("workersMin", 0)),
                "workers_max": max(1, int(resource.get("workersMax", 1))),
                "idle_timeout": int(resource.get("idleTimeout", 60)),
                "max_concurrency": int(resource.get("max_concurrency", 1)),
                "execution_timeout_ms": int(flashc.get(name, {}).get("execution_timeout_ms") or 0),
            }
        )
    return {"schema_version": 1, "host": host, "port": port, "token": token, "log_dir": str(workspace / "logs"), "endpoints": entries}


def _start(spec: Path, workspace: Path, options: LocalOptions) -> tuple[str, int]:
    """Start the supervisor detached (its own session: it outlives this command)."""
    runtime = runtime_path(spec)
    runtime.unlink(missing_ok=True)
    if options.progress:
        options.progress("starting the local supervisor")
    with (workspace / "logs" / "supervisor.out").open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flashc.deploy.local.supervisor", "--spec", str(spec)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=workspace,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DeployError(f"the local supervisor exited with code {process.returncode}; see {workspace / 'logs'}")
        try:
            info = json.loads(runtime.read_text(encoding="utf-8"))
            return info["url"], int(info["pid"])
        except (FileNotFoundError, ValueError, KeyError):
            time.sleep(0.1)
    process.terminate()
    raise DeployError(f"the local supervisor did not start within {START_TIMEOUT:.0f} s; see {workspace / 'logs'}")


# --- status, logs, undeploy ----------------------------------------------------------------------


def status(root: Path, env: str) -> dict:
    deployed = states.load(root, env)
    if deployed is None:
        raise DeployError(f"nothing is deployed to `{env}`; `flashc deploy --env {env}` deploys the project")
    if not is_running(deployed):
        return {"env": env, "running": False, "url": deployed.url, "endpoints": {n: {"url": e.url} for n, e in deployed.endpoints.items()}}
    response = httpx.get(f"{deployed.url}/admin/status", headers=_auth(deployed.token), timeout=5)
    return {"env": env, "running": True, "url": deployed.url, "supervisor": response.json(), "endpoints": {n: {"url": e.url} for n, e in deployed.endpoints.items()}}


def destroy(root: Path, env: str) -> bool:
    """Stop everything the deployment started and forget it; False when nothing was deployed."""
    deployed = states.load(root, env)
    if deployed is None:
        return False
    if deployed.pid > 0 and _alive(deployed.pid):
        try:
            _admin(deployed.url, deployed.token, "shutdown")
        except DeployError:
            pass
        if not _wait_gone(deployed.pid, STOP_TIMEOUT):
            _signal(deployed.pid, signal.SIGTERM)
            if not _wait_gone(deployed.pid, STOP_TIMEOUT):
                _signal(deployed.pid, signal.SIGKILL)
                _wait_gone(deployed.pid, STOP_TIMEOUT)
    states.remove(root, env)
    shutil.rmtree(states.workspace(root, env), ignore_errors=True)
    return True


def log_file(root: Path, env: str, endpoint: str | None) -> Path:
    deployed = states.load(root, env)
    if deployed is None:
        raise DeployError(f"nothing is deployed to `{env}`")
    if endpoint is not None and endpoint not in deployed.endpoints:
        raise DeployError(f"`{endpoint}` is not deployed to `{env}`; deployed: {', '.join(sorted(deployed.endpoints))}")
    return Path(deployed.log_dir) / (f"{endpoint}.log" if endpoint else "supervisor.log")


# --- helpers -------------------------------------------------------------------------------------


def _endpoint_url(base: str, endpoint: DeployedEndpoint) -> str:
    return f"{base}/lb/{endpoint.name}" if endpoint.kind == "load-balanced" else f"{base}/v2/{endpoint.name}"


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _admin(url: str, token: str, action: str) -> None:
    try:
        response = httpx.post(f"{url}/admin/{action}", headers=_auth(token), timeout=60)
    except httpx.HTTPError as error:
        raise DeployError(f"the local supervisor at {url} did not answer ({error})") from None
    if response.status_code >= 400:
        raise DeployError(f"the local supervisor refused {action}: HTTP {response.status_code} {response.text[:200]}")


def _write_json(path: Path, document: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _remove_stale_packages(workspace: Path, record: DeployState) -> None:
    wanted = {Path(e.package_dir).name for e in record.endpoints.values()}
    for directory in (workspace / "endpoints").glob("*"):
        if directory.is_dir() and directory.name not in wanted:
            shutil.rmtree(directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie (our own exited child) is not alive.
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return not _alive(pid)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass
