"""Finding a local deployment from the working directory, so `python main.py` just works.

After ``flashc deploy``, the project holds ``.flash/deployments/<env>.json`` with every
endpoint's URL and the deployment's token. When no ``FLASHC_ENDPOINT_URL_<NAME>`` /
``FLASHC_API_KEY`` is set, the client looks there: in the working directory or the
nearest parent that has one, for the environment ``FLASHC_ENV`` (default ``default``).
A RunPod deployment records endpoint ids rather than URLs that matter: its queue endpoints
are called at ``{RUNPOD_ENDPOINT_BASE_URL}/v2/{id}`` (default ``https://api.runpod.ai``) and
its load-balanced ones at ``RUNPOD_LB_ENDPOINT_URL`` with ``{id}`` filled in (default
``https://{id}.api.runpod.ai``), both read when a call is made, with the RunPod API key
(``RUNPOD_API_KEY``) as the bearer token.

Standard library only: the runtime is vendored into every artifact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENV_VARIABLE = "FLASHC_ENV"
DEFAULT_ENV = "default"

RUNPOD_ENDPOINT_BASE_VARIABLE = "RUNPOD_ENDPOINT_BASE_URL"
RUNPOD_ENDPOINT_BASE_DEFAULT = "https://api.runpod.ai"
RUNPOD_LB_URL_VARIABLE = "RUNPOD_LB_ENDPOINT_URL"
RUNPOD_LB_URL_DEFAULT = "https://{id}.api.runpod.ai"

_cache: dict[Path, tuple[float, dict[str, Any]]] = {}


def state_file(start: Path | None = None) -> Path | None:
    """The nearest ``.flash/deployments/<env>.json`` from ``start`` (default: the working directory) up."""
    env = os.environ.get(ENV_VARIABLE, "").strip() or DEFAULT_ENV
    directory = (start or Path.cwd()).resolve()
    for candidate in (directory, *directory.parents):
        path = candidate / ".flash" / "deployments" / f"{env}.json"
        if path.is_file():
            return path
    return None


def current() -> dict[str, Any] | None:
    """The deployment recorded for this directory, or None (re-read when the file changes)."""
    path = state_file()
    if path is None:
        return None
    try:
        mtime = path.stat().st_mtime
        cached = _cache.get(path)
        if cached is None or cached[0] != mtime:
            _cache[path] = (mtime, json.loads(path.read_text(encoding="utf-8")))
        return _cache[path][1]
    except (OSError, ValueError):
        return None


def runpod_endpoint_url(endpoint_id: str, *, load_balanced: bool = False) -> str:
    """Where RunPod serves the endpoint ``endpoint_id`` (queue: the ``/v2/{id}`` base of
    ``run``/``runsync``/``status``; load-balanced: the endpoint's own host)."""
    if load_balanced:
        template = os.environ.get(RUNPOD_LB_URL_VARIABLE, "").strip() or RUNPOD_LB_URL_DEFAULT
        return template.replace("{id}", endpoint_id).rstrip("/")
    base = os.environ.get(RUNPOD_ENDPOINT_BASE_VARIABLE, "").strip() or RUNPOD_ENDPOINT_BASE_DEFAULT
    return f"{base.rstrip('/')}/v2/{endpoint_id}"


def endpoint_url(endpoint: str) -> str | None:
    deployment = current()
    entry = (deployment or {}).get("endpoints", {}).get(endpoint)
    if isinstance(entry, dict) and (deployment or {}).get("target") == "runpod" and entry.get("endpoint_id"):
        return runpod_endpoint_url(str(entry["endpoint_id"]), load_balanced=entry.get("kind") == "load-balanced")
    url = entry.get("url") if isinstance(entry, dict) else None
    return url if isinstance(url, str) and url else None


def token() -> str | None:
    value = (current() or {}).get("token")
    return value if isinstance(value, str) and value else None
