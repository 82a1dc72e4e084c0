"""What client stubs call: one request to a deployed endpoint per stub call.

``flashc build`` replaces each endpoint function of the client package with an
async stub whose body is ``await _flashc_client.call(endpoint, function,
arguments)`` (``request(...)`` for load-balanced routes); this module turns that
into the wire shapes of RunPod's endpoints:

- queue-based: ``POST {url}/runsync`` with ``{"input": {...arguments,
  "__function": name}}`` (plus ``"method"`` for a class endpoint, and
  ``"__empty": true`` when the call has no arguments, because the platform
  rejects an empty input); the job's ``output`` is the result, a ``FAILED`` job
  raises :class:`RemoteExecutionError`;
- load-balanced: ``{METHOD} {url}{path}`` with ``{name}`` path segments taken
  from the arguments, the rest as a JSON body (query parameters for ``GET``);
  the JSON response is the result.

An endpoint's base URL comes from ``FLASHC_ENDPOINT_URL_<NAME>`` (the name
upper-cased, every other character than a letter or digit replaced by ``_``);
without it the call raises :class:`EndpointNotDeployedError`. When
``RUNPOD_API_KEY`` is set it is sent as a bearer token.

Only the standard library is imported at module level: the runtime is vendored
into every handler package, and ``httpx`` is imported when a call is made.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .sdk.exceptions import EndpointNotDeployedError, FlashRuntimeError, RemoteExecutionError

__all__ = [
    "DEFAULT",
    "ENV_PREFIX",
    "EndpointNotDeployedError",
    "RemoteExecutionError",
    "call",
    "endpoint_url",
    "job_input",
    "request",
    "url_variable",
]

ENV_PREFIX = "FLASHC_ENDPOINT_URL_"
TIMEOUT_SECONDS = 300.0
"""How long one call may take, end to end (RunPod's ``runsync`` itself waits at most ~90 s)."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PATH_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Default:
    """The default of a stub parameter the caller did not pass (the remote side applies its own)."""

    _instance: _Default | None = None

    def __new__(cls) -> _Default:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEFAULT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "DEFAULT"

    def __copy__(self) -> _Default:
        return self

    def __deepcopy__(self, memo: object) -> _Default:
        return self


DEFAULT = _Default()
"""Stands for "not passed" in stubs compiled for handler packages; never sent over the wire."""


def url_variable(endpoint: str) -> str:
    """The environment variable holding ``endpoint``'s base URL."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", endpoint.upper())


def endpoint_url(endpoint: str) -> str:
    """``endpoint``'s base URL (no trailing slash); raises EndpointNotDeployedError if unknown."""
    variable = url_variable(endpoint)
    url = os.environ.get(variable, "").strip()
    if not url:
        raise EndpointNotDeployedError(endpoint, variable)
    return url.rstrip("/")


def _given(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` without the parameters left at ``DEFAULT`` (and an empty ``__args``)."""
    given = {name: value for name, value in arguments.items() if value is not DEFAULT}
    positional = given.get("__args")
    if isinstance(positional, list):
        while positional and positional[-1] is DEFAULT:  # unset trailing positional-only defaults
            positional = positional[:-1]
        if positional:
            given["__args"] = positional
        else:
            del given["__args"]
    return given


def job_input(function: str, arguments: Mapping[str, Any], *, method: str | None = None) -> dict[str, Any]:
    """The ``input`` of a queue-based job calling ``function`` (a class, with ``method``)."""
    given = _given(arguments)
    payload: dict[str, Any] = dict(given)
    payload["__function"] = function
    if method is not None:
        payload["method"] = method
    if not given:
        payload["__empty"] = True
    return payload


def _headers() -> dict[str, str]:
    headers = {"Accept": "application/json"}
    key = os.environ.get("RUNPOD_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


async def call(endpoint: str, function: str, arguments: Mapping[str, Any], *, method: str | None = None) -> Any:
    """Run ``function`` (or ``method`` of the class ``function``) on the queue-based ``endpoint``."""
    import httpx

    url = endpoint_url(endpoint)
    body = {"input": job_input(function, arguments, method=method)}
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        response = await client.post(f"{url}/runsync", json=body, headers=_headers())
    if response.status_code >= 400:
        raise FlashRuntimeError(
            f"endpoint '{endpoint}' answered HTTP {response.status_code} to {function}: {response.text[:500]}"
        )
    job = response.json()
    status = job.get("status") if isinstance(job, dict) else None
    if status == "COMPLETED":
        return job.get("output")
    if status == "FAILED":
        raise _remote_error(job.get("error"))
    target = f"{function}.{method}" if method else function
    raise FlashRuntimeError(
        f"job {job.get('id') if isinstance(job, dict) else None!r} for {target} on endpoint '{endpoint}' "
        f"ended with status {status!r}"
    )


def _remote_error(error: Any) -> RemoteExecutionError:
    """A FAILED job's ``error``: a JSON string of error_type/error_message/error_traceback."""
    details = error
    if isinstance(error, str):
        try:
            details = json.loads(error)
        except ValueError:
            return RemoteExecutionError(error)
    if isinstance(details, dict):
        return RemoteExecutionError(
            str(details.get("error_message", "")),
            error_type=details.get("error_type"),
            traceback=details.get("error_traceback"),
        )
    return RemoteExecutionError(str(error))


def _route_url(url: str, path: str, arguments: dict[str, Any]) -> str:
    """``url + path`` with ``{name}`` segments filled from (and removed from) ``arguments``."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in arguments:
            raise TypeError(f"missing the path parameter '{name}' of {path}")
        return quote(str(arguments.pop(name)), safe="")

    return url + _PATH_PARAMETER.sub(fill, path)


async def request(endpoint: str, http_method: str, path: str, arguments: Mapping[str, Any]) -> Any:
    """Call the route ``http_method path`` of the load-balanced ``endpoint``; returns the JSON reply."""
    import httpx

    method = http_method.upper()
    given = _given(arguments)
    url = _route_url(endpoint_url(endpoint), path, given)
    options: dict[str, Any] = {"json": given} if method in _BODY_METHODS else {"params": given}
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        response = await client.request(method, url, headers=_headers(), **options)
    if response.status_code >= 400:
        raise _http_error(endpoint, method, path, response.status_code, response.text)
    if not response.content:
        return None
    return response.json()


def _http_error(endpoint: str, method: str, path: str, status: int, text: str) -> FlashRuntimeError:
    """A 500 carrying ``{"error": {"type", "message"}}`` is the function's own exception."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if status >= 500 and isinstance(error, dict):
        return RemoteExecutionError(str(error.get("message", "")), error_type=error.get("type"))
    return FlashRuntimeError(f"{method} {path} on endpoint '{endpoint}' answered HTTP {status}: {text[:500]}")
