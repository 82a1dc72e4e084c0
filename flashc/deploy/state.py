"""Recorded deployments: ``.flash/deployments/<env>.json``, the only thing deploys mutate.

The file says what is running where, as it is: it is written after every change a
target makes (atomically, so a crash never leaves half a file, and readable by its owner
only: it holds the deployment's token), and a target that finds its processes gone says
so rather than trusting the file. A file that cannot be read, or does not have the fields
and types of this schema, is a :class:`StateError` naming it and saying how to get out
(``flashc undeploy --env NAME`` works without it).

Changes to an environment are serialised by :func:`locked`: an exclusive ``flock`` on
``.flash/deployments/<env>.lock``, held for a whole deploy (its build too) or undeploy.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import FlashcError
from . import redaction

try:
    import fcntl
except ImportError:  # pragma: no cover -- not POSIX: no locking
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1
DEPLOYMENTS = Path(".flash") / "deployments"
_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
LOCK_TIMEOUT = 600.0
"""Seconds a deploy or undeploy waits for another one of the same environment
(``$FLASHC_LOCK_TIMEOUT`` overrides it; 0 fails at once)."""


class StateError(FlashcError):
    """A recorded state that cannot be read or is not of this schema."""


@dataclass(frozen=True, slots=True)
class DeployedEndpoint:
    name: str
    kind: str
    """``queue`` or ``load-balanced``."""
    digest: str
    """The built handler package's digest (the manifest's ``flashc.endpoint_digests``)."""
    url: str
    """Base URL: ``.../v2/<name>`` (queue) or ``.../lb/<name>`` (load-balanced)."""
    package_dir: str
    python: str
    endpoint_id: str = ""
    """The target's own id for it (RunPod's endpoint id); empty for the local target."""
    port: int = 0
    """Docker target: the host port its container serves on (0 for the local target)."""
    image: str = ""
    """Docker target: the image (tagged by content digest) its container runs."""
    container: str = ""
    """Docker target: the container's id."""


@dataclass(frozen=True, slots=True)
class DeployState:
    env: str
    target: str
    url: str
    token: str = field(repr=False)
    pid: int
    endpoints: dict[str, DeployedEndpoint] = field(default_factory=dict)
    spec: str = ""
    log_dir: str = ""
    remote: dict = field(default_factory=dict)
    """Target-specific records (RunPod: app, environment, build and template ids); JSON values."""
    schema_version: int = SCHEMA_VERSION

    def endpoint_urls(self) -> dict[str, str]:
        return {name: endpoint.url for name, endpoint in sorted(self.endpoints.items())}


def check_env_name(env: str) -> str:
    if not _ENV_NAME.fullmatch(env):
        raise FlashcError(f"environment name {env!r} must be 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit")
    return env


def state_path(root: Path, env: str) -> Path:
    return root / DEPLOYMENTS / f"{check_env_name(env)}.json"


def load(root: Path, env: str) -> DeployState | None:
    """The recorded state of ``env`` (None: nothing recorded); a :class:`StateError` if unusable."""
    path = state_path(root, env)
    way_out = f"`flashc undeploy --env {env}` stops what it started and removes it"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise StateError(f"{path}: unreadable deployment state ({error}); {way_out}") from None
    try:
        state = _parse(data, env)
    except ValueError as error:
        raise StateError(f"{path}: {error}; {way_out}") from None
    redaction.register(state.token)
    return state


_STATE_FIELDS = {"env": str, "target": str, "url": str, "token": str, "pid": int, "spec": str, "log_dir": str}
_ENDPOINT_FIELDS = {f.name: (int if f.name == "port" else str) for f in fields(DeployedEndpoint)}
_ENDPOINT_REQUIRED = ("name", "kind", "digest", "url", "package_dir", "python")


def _parse(data: object, env: str) -> DeployState:
    """A :class:`DeployState` from the JSON document, or a ValueError saying what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"the deployment state must be a JSON object, not {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"deployment state of schema {version!r}, this flashc reads {SCHEMA_VERSION}")
    values = _fields(data, _STATE_FIELDS, "", required=("env", "target", "url", "token", "pid"))
    if values["env"] != env:
        raise ValueError(f"the state is of environment {values['env']!r}, not {env!r}")
    if values["pid"] < 0:
        raise ValueError("'pid' must not be negative")
    raw = data.get("endpoints", {})
    if not isinstance(raw, dict):
        raise ValueError(f"'endpoints' must be an object, not {type(raw).__name__}")
    endpoints = {}
    for name, value in raw.items():
        if not isinstance(value, dict):
            raise ValueError(f"endpoint {name!r} must be an object, not {type(value).__name__}")
        endpoints[name] = DeployedEndpoint(**_fields(value, _ENDPOINT_FIELDS, f"endpoint {name!r}: ", required=_ENDPOINT_REQUIRED))
    remote = data.get("remote", {})
    if not isinstance(remote, dict):
        raise ValueError(f"'remote' must be an object, not {type(remote).__name__}")
    return DeployState(**values, endpoints=endpoints, remote=remote)


def _fields(data: dict, types: dict[str, type], where: str, required: tuple[str, ...]) -> dict:
    """The known fields of ``data``, type-checked (unknown ones are ignored)."""
    values = {}
    for name, kind in types.items():
        if name not in data:
            if name in required:
                raise ValueError(f"{where}field {name!r} is missing")
            continue
        value = data[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"{where}field {name!r} must be {'an integer' if kind is int else 'a string'}, not {type(value).__name__}")
        values[name] = value
    return values


def save(root: Path, state: DeployState) -> Path:
    path = state_path(root, state.env)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = asdict(state)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(handle.name, path)
    return path


def remove(root: Path, env: str) -> None:
    state_path(root, env).unlink(missing_ok=True)


def environments(root: Path) -> list[str]:
    """Environments with a recorded state or a workspace (what an interrupted first deploy leaves)."""
    directory = root / DEPLOYMENTS
    if not directory.is_dir():
        return []
    names = {p.stem for p in directory.glob("*.json")}
    names.update(p.name for p in directory.iterdir() if p.is_dir() and not p.is_symlink() and _ENV_NAME.fullmatch(p.name))
    return sorted(names)


def lock_path(root: Path, env: str) -> Path:
    return root / DEPLOYMENTS / f"{check_env_name(env)}.lock"


_held: dict[str, int] = {}
"""Locks this process holds: path -> how many :func:`locked` blocks hold it (they nest)."""


def lock_timeout() -> float:
    configured = os.environ.get("FLASHC_LOCK_TIMEOUT", "").strip()
    if not configured:
        return LOCK_TIMEOUT
    try:
        return max(0.0, float(configured))
    except ValueError:
        raise FlashcError(f"FLASHC_LOCK_TIMEOUT must be a number of seconds, not {configured!r}") from None


@contextlib.contextmanager
def locked(root: Path, env: str, *, timeout: float | None = None, progress: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold ``env``'s lock: wait for another deploy or undeploy of it to finish (saying so through
    ``progress``), failing after ``timeout`` seconds (default :func:`lock_timeout`).

    The lock is an ``flock`` on ``.flash/deployments/<env>.lock`` (it goes with the process:
    a killed holder frees it); the file holds the holder's pid, for the message. Nested
    blocks of one process share one lock.
    """
    path = lock_path(root, env)
    key = str(path.absolute())
    if key in _held or fcntl is None:
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1
            if not _held[key]:
                del _held[key]
        return
    wait = lock_timeout() if timeout is None else timeout
    descriptor = _acquire(path, env, wait, progress)
    _held[key] = 1
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        del _held[key]
        os.close(descriptor)


def _acquire(path: Path, env: str, timeout: float, progress: Callable[[str], None] | None) -> int:
    deadline = time.monotonic() + timeout
    said = False
    while True:
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            # No deployments directory: a first deploy, or a build swapping ``.flash/`` right now
            # (creating one then would break its swap): wait for the swap, else create it.
            if not _swapping(path.parent.parent.parent):
                path.parent.mkdir(parents=True, exist_ok=True)
            elif time.monotonic() >= deadline:
                raise FlashcError(f"{path.parent} stays missing while a build replaces {path.parent.parent}; try again") from None
            else:
                time.sleep(0.02)
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(descriptor)
            os.close(descriptor)
            if time.monotonic() >= deadline:
                raise FlashcError(
                    f"another flashc{holder} is deploying or undeploying `{env}` and still holds {path} "
                    f"after {timeout:g} s; wait for it to finish (or stop it), or raise FLASHC_LOCK_TIMEOUT"
                ) from None
            if not said and progress is not None:
                progress(f"waiting for another flashc{holder} deploying or undeploying `{env}` (lock {path})")
                said = True
            time.sleep(0.1)
            continue
        except BaseException:
            os.close(descriptor)
            raise
        # The file may have been replaced while we waited (a build moved the directory
        # between our open and our lock): the lock only counts on the file at the path.
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        opened = os.fstat(descriptor)
        if current is not None and (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev):
            return descriptor
        os.close(descriptor)


def _swapping(root: Path) -> bool:
    """Whether a build is between its renames in ``root`` (a live build's ``.flash.old-*``)."""
    from ..package import recover_output

    if not any(path.name.startswith(".flash.old-") for path in root.iterdir()):
        return False
    recover_output(root)  # what dead builds left goes; a live build's previous output stays
    return any(path.name.startswith(".flash.old-") for path in root.iterdir())


def _holder(descriptor: int) -> str:
    try:
        text = os.pread(descriptor, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


def workspace(root: Path, env: str) -> Path:
    """Where a target keeps what it runs for ``env``: copies of the endpoints' packages, logs, its spec."""
    return root / DEPLOYMENTS / check_env_name(env)
