"""The local target: the built endpoints served on this machine by a detached supervisor.

``plan`` compares the build with the recorded state (and with what is really
running); ``apply`` prepares each changed endpoint (a copy of its handler package
and its Python environment), writes the supervisor's spec, then starts the
supervisor or asks it to reload, and records the result. Unchanged endpoints are
not touched: their workers keep running.

Interrupted commands. ``apply`` and ``destroy`` hold the environment's lock
(:func:`~flashc.deploy.state.locked`). A supervisor whose deploy was killed before it
recorded it (an *orphan*) is found by its command line (``--spec`` of this environment's
workspace, or that workspace as its working directory) and by the spec's runtime file;
``apply`` stops it before starting the recorded one, ``destroy`` stops it too, and
``status`` reports it. An interrupt (SIGINT) after ``apply`` started a supervisor and
before it recorded it stops that supervisor. ``destroy`` works without a readable state
(the workspace says where to look), and after the supervisor is gone it kills what is left
of its workers (processes in the workspace's ``endpoints/`` carrying ``FLASHC_WORKER_ID``).
Only processes shown to be this environment's supervisor are ever signalled: a recorded pid
the system gave to another program is left alone.
"""

from __future__ import annotations

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

from ... import package
from ...errors import FlashcError
from ...testhooks import pause_point
from .. import redaction
from .. import state as states
from ..output import Built
from ..plan import Change, Plan, compute_plan
from ..state import DeployedEndpoint, DeployState
from . import environments
from .spec import read_runtime, runtime_path, write_json_atomically

TARGET = "local"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SUPERVISOR_MODULE = "flashc.deploy.local.supervisor"
SPEC = "spec.json"


class DeployError(FlashcError):
    """The local target could not do what was asked (the message says what and why)."""


@dataclass(frozen=True, slots=True)
class LocalOptions:
    host: str = "127.0.0.1"
    port: int = 0
    """0: a free port on first deploy; later deploys keep the deployment's port."""
    isolate: bool = True
    progress: Callable[[str], None] | None = None


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
    with states.locked(root, env, progress=options.progress):
        return _apply(root, env, options)


def _apply(root: Path, env: str, options: LocalOptions) -> tuple[Plan, DeployState]:
    built = Built.read(root)
    deployed = states.load(root, env)
    workspace = states.workspace(root, env)
    spec_path = workspace / SPEC
    running = is_running(deployed) and deployed is not None and _is_supervisor(deployed.pid, spec_path)
    orphans = [pid for pid in supervisors(spec_path) if not (running and deployed is not None and pid == deployed.pid)]
    if orphans:
        _say(options, f"stopping the supervisor of an interrupted deploy (pid {', '.join(map(str, orphans))})")
        for pid in orphans:
            _stop(pid)
    if not running:
        _kill_leftover_workers(workspace)
    the_plan = compute_plan(env, TARGET, built.digests, deployed, running)
    (workspace / "logs").mkdir(parents=True, exist_ok=True)
    token = deployed.token if deployed is not None else secrets.token_urlsafe(32)
    redaction.register(token)
    endpoints: dict[str, DeployedEndpoint] = {}
    for action in the_plan.actions:
        if action.change is Change.REMOVE:
            continue
        if action.change is Change.KEEP and deployed is not None:
            endpoints[action.endpoint] = deployed.endpoints[action.endpoint]
            continue
        endpoints[action.endpoint] = _prepare(built, workspace, action.endpoint, options)
    pause_point("after-env")
    port = options.port or (_port_of(deployed.url) if deployed is not None and deployed.url else 0)
    # The spec holds the token: readable by its owner only, like the state.
    write_json_atomically(spec_path, _spec(built, endpoints, workspace, options.host, port, token), mode=0o600)
    pause_point("before-supervisor")
    started: int | None = None
    try:
        if running and deployed is not None:
            if the_plan.changes:
                _admin(deployed.url, token, "reload")
            url, pid = deployed.url, deployed.pid
        else:
            url, pid = _start(spec_path, workspace, options)
            started = pid
        pause_point("after-supervisor")
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
        pause_point("before-state")
        states.save(root, record)
    except BaseException:
        if started is not None:  # nothing records it: it must not outlive this command
            _stop(started, url, token)
        raise
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
    _say(options, "starting the local supervisor")
    with (workspace / "logs" / "supervisor.out").open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", SUPERVISOR_MODULE, "--spec", str(spec)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=workspace,
        )
    try:
        pause_point("after-supervisor")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DeployError(f"the local supervisor exited with code {process.returncode}; see {workspace / 'logs'}")
            info = read_runtime(spec)
            if info is not None and info.get("pid") == process.pid and isinstance(info.get("url"), str):
                return info["url"], process.pid
            time.sleep(0.05)
        raise DeployError(f"the local supervisor did not start within {START_TIMEOUT:.0f} s; see {workspace / 'logs'}")
    except BaseException:
        _stop(process.pid)
        process.wait()
        raise


# --- status, logs, undeploy ----------------------------------------------------------------------


def status(root: Path, env: str) -> dict:
    package.recover_output(root)
    deployed = states.load(root, env)
    if deployed is None:
        orphans = supervisors(states.workspace(root, env) / SPEC)
        if orphans:
            raise DeployError(
                f"nothing is recorded for `{env}`, but the supervisor of an interrupted deploy is running "
                f"(pid {', '.join(map(str, orphans))}); `flashc deploy --env {env}` replaces it, `flashc undeploy --env {env}` stops it"
            )
        raise DeployError(f"nothing is deployed to `{env}`; `flashc deploy --env {env}` deploys the project")
    if not is_running(deployed):
        return {"env": env, "running": False, "url": deployed.url, "endpoints": {n: {"url": e.url} for n, e in deployed.endpoints.items()}}
    response = httpx.get(f"{deployed.url}/admin/status", headers=_auth(deployed.token), timeout=5)
    return {"env": env, "running": True, "url": deployed.url, "supervisor": response.json(), "endpoints": {n: {"url": e.url} for n, e in deployed.endpoints.items()}}


def destroy(root: Path, env: str) -> bool:
    """Stop everything the deployment started and forget it; False when nothing was deployed.

    Works without a readable state: the workspace's spec and runtime file say which
    supervisor is this environment's.
    """
    package.recover_output(root)
    if not (root / states.DEPLOYMENTS).is_dir():
        return False
    with states.locked(root, env):
        workspace = states.workspace(root, env)
        spec_path = workspace / SPEC
        try:
            deployed = states.load(root, env)
            unreadable = False
        except states.StateError:
            deployed, unreadable = None, True
        pids = supervisors(spec_path)
        if deployed is not None and deployed.pid > 0 and deployed.pid not in pids and _is_supervisor(deployed.pid, Path(deployed.spec or spec_path)):
            pids.insert(0, deployed.pid)
        if deployed is None and not unreadable and not pids and not workspace.exists():
            states.lock_path(root, env).unlink(missing_ok=True)
            return False
        for pid in pids:
            if deployed is not None and pid == deployed.pid:
                _stop(pid, deployed.url, deployed.token)
            else:
                _stop(pid)
        _kill_leftover_workers(workspace)
        pause_point("after-stop")
        states.remove(root, env)
        shutil.rmtree(workspace, ignore_errors=True)
        states.lock_path(root, env).unlink(missing_ok=True)
        return True


def log_file(root: Path, env: str, endpoint: str | None) -> Path:
    package.recover_output(root)
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


def _remove_stale_packages(workspace: Path, record: DeployState) -> None:
    wanted = {Path(e.package_dir).name for e in record.endpoints.values()}
    for directory in (workspace / "endpoints").glob("*"):
        if directory.is_dir() and directory.name not in wanted:
            shutil.rmtree(directory, ignore_errors=True)


def _say(options: LocalOptions, message: str) -> None:
    if options.progress:
        options.progress(message)


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
        time.sleep(0.05)
    return not _alive(pid)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _stop(pid: int, url: str | None = None, token: str | None = None) -> None:
    """Stop a supervisor: ``/admin/shutdown`` when its URL and token are known, else (or if that
    fails) SIGTERM, then SIGKILL. Its workers stop with it (asked, or by their death signal)."""
    if not _alive(pid):
        return
    if url and token:
        try:
            _admin(url, token, "shutdown")
        except DeployError:
            _signal(pid, signal.SIGTERM)
    else:
        _signal(pid, signal.SIGTERM)
    if not _wait_gone(pid, STOP_TIMEOUT):
        _signal(pid, signal.SIGTERM)
        if not _wait_gone(pid, STOP_TIMEOUT):
            _signal(pid, signal.SIGKILL)
            _wait_gone(pid, STOP_TIMEOUT)


# --- finding this environment's processes ------------------------------------------------------


def _proc() -> Path | None:
    proc = Path("/proc")
    return proc if (proc / "self" / "cmdline").exists() else None


def _command_line(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode("utf-8", errors="replace") for part in raw.split(b"\0") if part]


def _is_supervisor(pid: int, spec: Path) -> bool:
    """Whether ``pid`` is a live supervisor of ``spec`` (where /proc cannot tell: whether it lives)."""
    if pid <= 0 or pid == os.getpid() or not _alive(pid):
        return False
    if _proc() is None:
        return True
    command = _command_line(pid)
    if command is None or SUPERVISOR_MODULE not in command:
        return False
    spec = Path(spec)
    if str(spec) in command or str(spec.absolute()) in command:
        return True
    try:  # the project directory was moved since: its working directory moved with it
        return Path(os.readlink(f"/proc/{pid}/cwd")) == spec.parent.resolve()
    except OSError:
        return False


def supervisors(spec: Path) -> list[int]:
    """The pids of the live supervisors of ``spec``: the one its runtime file names, and (where
    /proc exists) every supervisor process started with it."""
    found: list[int] = []
    runtime = read_runtime(spec)
    recorded = runtime.get("pid") if runtime else None
    if isinstance(recorded, int) and not isinstance(recorded, bool) and _is_supervisor(recorded, spec):
        found.append(recorded)
    proc = _proc()
    if proc is None:
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid in found:
            continue
        command = _command_line(pid)
        if command and SUPERVISOR_MODULE in command and _is_supervisor(pid, spec):
            found.append(pid)
    # A worker the supervisor has forked but not yet started shows the supervisor's command line.
    return [pid for pid in found if _parent(pid) not in found]


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _kill_leftover_workers(workspace: Path) -> None:
    """SIGKILL what is left of this workspace's workers once their supervisor is gone: processes
    working in ``workspace/endpoints`` with ``FLASHC_WORKER_ID`` in their environment (Linux)."""
    proc = _proc()
    endpoints = (workspace / "endpoints").resolve()
    if proc is None or not endpoints.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            if not cwd.is_relative_to(endpoints):
                continue
            if b"\0FLASHC_WORKER_ID=" not in b"\0" + (entry / "environ").read_bytes():
                continue
        except (OSError, ValueError):
            continue
        _signal(int(entry.name), signal.SIGKILL)
