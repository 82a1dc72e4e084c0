"""The supervisor's input (the spec, written by the deploy command) and its output (the runtime file).

Spec (JSON, ``schema_version`` 1)::

    {"schema_version": 1, "host": "127.0.0.1", "port": 0, "token": "...", "log_dir": "...",
     "endpoints": [{"name", "kind": "queue" | "load-balanced", "package_dir", "python", "env",
                    "digest", "workers_min", "workers_max", "idle_timeout", "max_concurrency",
                    "execution_timeout_ms", "startup_timeout" (optional, s, default 600)}]}

``port`` 0 lets the system pick a free port. Relative ``log_dir``/``package_dir`` are taken
from the spec file's directory.

Runtime file, beside the spec (``local.json`` -> ``local.runtime.json``), written atomically
once the supervisor listens and removed when it exits::

    {"schema_version": 1, "pid", "url": "http://127.0.0.1:<port>", "host", "port",
     "started_at": "<ISO 8601 UTC>", "spec": "<absolute spec path>"}
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "EndpointSpec",
    "Spec",
    "SpecError",
    "dump_spec",
    "load_spec",
    "parse_spec",
    "read_runtime",
    "runtime_path",
    "write_json_atomically",
]

SCHEMA_VERSION = 1
KINDS = ("queue", "load-balanced")
DEFAULT_STARTUP_TIMEOUT = 600.0
"""Seconds a worker may take to import its handler (a class endpoint may load a model)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class SpecError(ValueError):
    """The spec cannot be read or does not describe a valid deployment."""


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    name: str
    kind: str
    package_dir: Path
    python: str
    env: Mapping[str, str] = field(default_factory=dict)
    digest: str = ""
    workers_min: int = 0
    workers_max: int = 1
    idle_timeout: float = 5.0
    max_concurrency: int = 1
    execution_timeout_ms: int = 0
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT

    @property
    def process_key(self) -> tuple[Any, ...]:
        """What the workers' processes depend on: a change means new workers."""
        return (self.kind, str(self.package_dir), self.python, tuple(sorted(self.env.items())), self.digest, self.max_concurrency)


@dataclass(frozen=True, slots=True)
class Spec:
    token: str
    log_dir: Path
    endpoints: tuple[EndpointSpec, ...]
    host: str = "127.0.0.1"
    port: int = 0
    schema_version: int = SCHEMA_VERSION

    def endpoint(self, name: str) -> EndpointSpec | None:
        return next((e for e in self.endpoints if e.name == name), None)


def load_spec(path: Path) -> Spec:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"cannot read the spec {path}: {error.strerror or error}") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise SpecError(f"the spec {path} is not JSON: {error}") from None
    return parse_spec(data, base=Path(path).resolve().parent)


def parse_spec(data: object, base: Path) -> Spec:
    if not isinstance(data, dict):
        raise SpecError("the spec must be a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SpecError(f"unsupported spec schema_version {version!r} (this supervisor reads {SCHEMA_VERSION})")
    token = _string(data, "token", "spec")
    if not token:
        raise SpecError("spec: 'token' must not be empty")
    host = _string(data, "host", "spec", default="127.0.0.1")
    port = _integer(data, "port", "spec", default=0, low=0, high=65535)
    log_dir = _path(_string(data, "log_dir", "spec"), base)
    raw_endpoints = data.get("endpoints", [])
    if not isinstance(raw_endpoints, list):
        raise SpecError("spec: 'endpoints' must be a list")
    endpoints = tuple(_endpoint(raw, index, base) for index, raw in enumerate(raw_endpoints))
    names = [e.name for e in endpoints]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(f"spec: endpoint names must be unique: {', '.join(duplicates)}")
    return Spec(token=token, log_dir=log_dir, endpoints=endpoints, host=host, port=port)


def _endpoint(raw: object, index: int, base: Path) -> EndpointSpec:
    where = f"endpoints[{index}]"
    if not isinstance(raw, dict):
        raise SpecError(f"spec: {where} must be an object")
    name = _string(raw, "name", where)
    if not _NAME.match(name):
        raise SpecError(f"spec: {where}: endpoint name {name!r} must be letters, digits, '.', '_' or '-'")
    where = f"endpoint {name!r}"
    kind = _string(raw, "kind", where)
    if kind not in KINDS:
        raise SpecError(f"spec: {where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    env = raw.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise SpecError(f"spec: {where}: 'env' must map strings to strings")
    workers_min = _integer(raw, "workers_min", where, default=0, low=0)
    workers_max = _integer(raw, "workers_max", where, default=max(1, workers_min), low=1)
    if workers_max < workers_min:
        raise SpecError(f"spec: {where}: workers_max ({workers_max}) is below workers_min ({workers_min})")
    return EndpointSpec(
        name=name,
        kind=kind,
        package_dir=_path(_string(raw, "package_dir", where), base),
        python=_string(raw, "python", where),
        env=dict(env),
        digest=_string(raw, "digest", where, default=""),
        workers_min=workers_min,
        workers_max=workers_max,
        idle_timeout=_number(raw, "idle_timeout", where, default=5.0),
        max_concurrency=_integer(raw, "max_concurrency", where, default=1, low=1),
        execution_timeout_ms=_integer(raw, "execution_timeout_ms", where, default=0, low=0),
        startup_timeout=_number(raw, "startup_timeout", where, default=DEFAULT_STARTUP_TIMEOUT) or DEFAULT_STARTUP_TIMEOUT,
    )


def _string(data: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise SpecError(f"spec: {where}: {key!r} must be a string" + ("" if key in data else " (it is missing)"))
    return value


def _integer(data: dict[str, Any], key: str, where: str, *, default: int, low: int = 0, high: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f" between {low} and {high}" if high is not None else f" of at least {low}"
        raise SpecError(f"spec: {where}: {key!r} must be an integer{bound}, got {value!r}")
    return value


def _number(data: dict[str, Any], key: str, where: str, *, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise SpecError(f"spec: {where}: {key!r} must be a number of seconds (0 or more), got {value!r}")
    return float(value)


def _path(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def dump_spec(spec: Spec) -> dict[str, Any]:
    """The JSON object of ``spec`` (what the deploy command writes)."""
    endpoints = []
    for endpoint in spec.endpoints:
        entry = asdict(endpoint)
        entry["package_dir"] = str(endpoint.package_dir)
        entry["env"] = dict(endpoint.env)
        endpoints.append(entry)
    return {
        "schema_version": spec.schema_version,
        "host": spec.host,
        "port": spec.port,
        "token": spec.token,
        "log_dir": str(spec.log_dir),
        "endpoints": endpoints,
    }


def runtime_path(spec_path: Path) -> Path:
    """Where the supervisor of ``spec_path`` says how to reach it: ``x.json`` -> ``x.runtime.json``."""
    spec_path = Path(spec_path)
    stem = spec_path.name.removesuffix(".json")
    return spec_path.with_name(f"{stem}.runtime.json")


def read_runtime(spec_path: Path) -> dict[str, Any] | None:
    """The runtime file of a running supervisor, or None (missing or unreadable)."""
    try:
        data = json.loads(runtime_path(spec_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json_atomically(path: Path, data: object, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2)
            stream.write("\n")
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
