"""Recorded deployments: ``.flash/deployments/<env>.json``, the only thing deploys mutate.

The file says what is running where, as it is: it is written after every change a
target makes (atomically, so a crash never leaves half a file), and a target that
finds its processes gone says so rather than trusting the file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import FlashcError

SCHEMA_VERSION = 1
DEPLOYMENTS = Path(".flash") / "deployments"
_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


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


@dataclass(frozen=True, slots=True)
class DeployState:
    env: str
    target: str
    url: str
    token: str
    pid: int
    endpoints: dict[str, DeployedEndpoint] = field(default_factory=dict)
    spec: str = ""
    log_dir: str = ""
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
    path = state_path(root, env)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise FlashcError(f"{path}: unreadable deployment state ({error}); `flashc undeploy --env {env}` removes it") from None
    if data.get("schema_version") != SCHEMA_VERSION:
        raise FlashcError(f"{path}: deployment state of schema {data.get('schema_version')!r}, this flashc reads {SCHEMA_VERSION}")
    endpoints = {name: DeployedEndpoint(**value) for name, value in data.get("endpoints", {}).items()}
    return DeployState(**{**data, "endpoints": endpoints})


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
    directory = root / DEPLOYMENTS
    return sorted(p.stem for p in directory.glob("*.json")) if directory.is_dir() else []


def workspace(root: Path, env: str) -> Path:
    """Where a target keeps what it runs for ``env``: copies of the endpoints' packages, logs, its spec."""
    return root / DEPLOYMENTS / check_env_name(env)
