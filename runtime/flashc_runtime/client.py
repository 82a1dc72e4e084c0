"""What client stubs and the SDK decorators call: requests to deployed endpoints.

``flashc build`` replaces each endpoint function of the client package with an
async stub whose body is ``await _flashc_client.call(endpoint, function,
arguments)`` (``request(...)`` for load-balanced routes); un-compiled code
calling an ``@Endpoint``/``@remote`` function gets the same call from the
decorator. This module turns it into the wire shapes of RunPod's endpoints:

- queue-based: ``POST {url}/runsync`` with ``{"input": {...arguments,
  "__function": name}}`` (plus ``"method"`` for a class endpoint, and
  ``"__empty": true`` when the call has no arguments, because the platform
  rejects an empty input). A job still queued or running when ``runsync``
  answers is polled with ``GET {url}/status/{id}`` until it ends or the call's
  timeout passes (then it is cancelled with ``POST {url}/cancel/{id}``). The
  job's ``output`` is the result; a ``FAILED`` job raises
  :class:`RemoteExecutionError`, a ``CANCELLED`` one :class:`RemoteCancelledError`,
  a ``TIMED_OUT`` one (or a call past its timeout) :class:`RemoteTimeoutError`.
- load-balanced: ``{METHOD} {url}{path}`` with ``{name}`` path segments taken
  from the arguments, the rest as a JSON body (query parameters for ``GET``);
  the JSON response is the result.

:class:`Jobs` offers the queue side one step at a time (submit, status, wait,
cancel). Arguments are encoded by :mod:`flashc_runtime.serialization` (JSON;
cloudpickle only where allowed; 10 MiB per argument), and sent by
:mod:`flashc_runtime.transport` (a pooled connection, the bearer token, retries
only where no job can run twice).

Per endpoint, from the environment (``<NAME>`` is the endpoint name upper-cased,
every character other than a letter or digit replaced by ``_``):

- ``FLASHC_ENDPOINT_URL_<NAME>``: the base URL (unless the caller passes ``url=``);
  without either, the call raises :class:`EndpointNotDeployedError`;
- ``FLASHC_TIMEOUT_<NAME>``: seconds a call may take, end to end; else the
  endpoint's ``execution_timeout_ms`` when the caller knows it, else
  :data:`DEFAULT_TIMEOUT_SECONDS`;
- ``FLASHC_PICKLE_<NAME>=1``: arguments JSON cannot carry go as cloudpickle.

The bearer token is ``FLASHC_API_KEY``, else ``RUNPOD_API_KEY``.

Only the standard library is imported at module level: the runtime is vendored
into every handler package, and ``httpx`` is imported when a call is made.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import serialization, transport
from . import deployments
from .sdk.exceptions import (
    AuthenticationError,
    EndpointHTTPError,
    EndpointNotDeployedError,
    EndpointUnavailableError,
    FlashRuntimeError,
    PayloadTooLargeError,
    RemoteCancelledError,
    RemoteExecutionError,
    RemoteTimeoutError,
    SerializationError,
)
from .sdk.jobs import JobOutput

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT",
    "DEFAULT_TIMEOUT_SECONDS",
    "ENV_PREFIX",
    "PICKLE_PREFIX",
    "TIMEOUT_PREFIX",
    "AuthenticationError",
    "EndpointNotDeployedError",
    "Jobs",
    "RemoteCancelledError",
    "RemoteExecutionError",
    "RemoteTimeoutError",
    "SerializationError",
    "call",
    "endpoint_timeout",
    "endpoint_url",
    "http_request",
    "job_input",
    "pickle_allowed",
    "pickle_variable",
    "request",
    "timeout_variable",
    "url_variable",
]

ENV_PREFIX = "FLASHC_ENDPOINT_URL_"
TIMEOUT_PREFIX = "FLASHC_TIMEOUT_"
PICKLE_PREFIX = "FLASHC_PICKLE_"

DEFAULT_TIMEOUT_SECONDS = 300.0
"""How long one call may take, end to end, when nothing says otherwise."""
TIMEOUT_SECONDS = DEFAULT_TIMEOUT_SECONDS  # the former name

POLL_INTERVAL_SECONDS = 0.2
"""The first wait between two status requests of a job that is still running."""
POLL_BACKOFF = 1.5
"""Each further wait is this many times the previous one ..."""
POLL_INTERVAL_MAX_SECONDS = 4.0
"""... up to this."""
STATUS_REQUEST_TIMEOUT_SECONDS = 30.0
"""The longest one status request may take (the call's deadline still applies)."""
CANCEL_TIMEOUT_SECONDS = 10.0
"""How long cancelling a job that ran out of time may take."""

PENDING = frozenset({"IN_QUEUE", "IN_PROGRESS"})
FINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PATH_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


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


# --- per-endpoint settings -------------------------------------------------------------------


def _variable(prefix: str, endpoint: str) -> str:
    return prefix + re.sub(r"[^A-Z0-9]", "_", endpoint.upper())


def url_variable(endpoint: str) -> str:
    """The environment variable holding ``endpoint``'s base URL."""
    return _variable(ENV_PREFIX, endpoint)


def timeout_variable(endpoint: str) -> str:
    """The environment variable holding ``endpoint``'s call timeout in seconds."""
    return _variable(TIMEOUT_PREFIX, endpoint)


def pickle_variable(endpoint: str) -> str:
    """The environment variable that, set to ``1``, lets ``endpoint``'s calls send cloudpickle."""
    return _variable(PICKLE_PREFIX, endpoint)


def endpoint_url(endpoint: str, url: str | None = None) -> str:
    """``url``, else ``endpoint``'s base URL from the environment, else from the local
    deployment of the working directory (:mod:`.deployments`); no trailing slash.

    Raises :class:`EndpointNotDeployedError` when neither is known.
    """
    variable = url_variable(endpoint)
    base = (url if url is not None else os.environ.get(variable, "")).strip()
    if not base and url is None:
        base = deployments.endpoint_url(endpoint) or ""  # after `flashc deploy`, from the project
    if not base:
        raise EndpointNotDeployedError(endpoint, variable)
    return base.rstrip("/")


def endpoint_timeout(
    endpoint: str, *, timeout: float | None = None, execution_timeout_ms: int | None = None
) -> float:
    """Seconds a call of ``endpoint`` may take: ``timeout`` if given, else
    ``FLASHC_TIMEOUT_<NAME>``, else ``execution_timeout_ms`` (when above 0), else the default."""
    if timeout is not None:
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        return float(timeout)
    variable = timeout_variable(endpoint)
    text = os.environ.get(variable, "").strip()
    if text:
        try:
            seconds = float(text)
        except ValueError:
            seconds = 0.0
        if not (seconds > 0 and math.isfinite(seconds)):
            raise FlashRuntimeError(f"{variable} must be a positive number of seconds, got {text!r}")
        return seconds
    if execution_timeout_ms:
        return execution_timeout_ms / 1000
    return DEFAULT_TIMEOUT_SECONDS


def pickle_allowed(endpoint: str, pickle: bool | None = None) -> bool:
    """``pickle`` if given, else whether ``FLASHC_PICKLE_<NAME>`` is set to a true value."""
    if pickle is not None:
        return bool(pickle)
    variable = pickle_variable(endpoint)
    text = os.environ.get(variable, "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FlashRuntimeError(f"{variable} must be 1 or 0 (true or false), got {text!r}")


@dataclass(frozen=True)
class _Target:
    """One endpoint as a call sees it: where, how long, and whether pickle may be sent."""

    endpoint: str
    url: str
    timeout: float
    pickle: bool

    @classmethod
    def resolve(
        cls,
        endpoint: str,
        *,
        url: str | None = None,
        timeout: float | None = None,
        execution_timeout_ms: int | None = None,
        pickle: bool | None = None,
    ) -> _Target:
        return cls(
            endpoint,
            endpoint_url(endpoint, url),
            endpoint_timeout(endpoint, timeout=timeout, execution_timeout_ms=execution_timeout_ms),
            pickle_allowed(endpoint, pickle),
        )

    def deadline(self, timeout: float | None = None) -> float:
        return time.monotonic() + (self.timeout if timeout is None else timeout)


# --- arguments ---------------------------------------------------------------------------------


def _given(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` without the parameters left at ``DEFAULT`` (and an empty ``__args``)."""
    given = {name: value for name, value in arguments.items() if value is not DEFAULT}
    positional = given.get("__args")
    if isinstance(positional, (list, tuple)):
        positional = list(positional)
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


def _job_body(target: _Target, payload: Mapping[str, Any], *, webhook: str | None = None) -> str:
    """``{"input": ...}`` as JSON text; raises SerializationError before anything is sent."""
    hint = f"set {pickle_variable(target.endpoint)}=1 (or pass pickle=True) to send it with cloudpickle"
    text = '{"input":' + serialization.encode_input(payload, allow_pickle=target.pickle, hint=hint)
    if webhook is not None:
        text += ',"webhook":' + json.dumps(webhook)
    return text + "}"


# --- answers ----------------------------------------------------------------------------------


def _http_failure(target: _Target, response: httpx.Response, what: str) -> FlashRuntimeError:
    """The error an HTTP error answer stands for."""
    code = response.status_code
    text = response.text[:500]
    if code in (401, 403):
        _, variable = transport.api_key()
        if variable:
            advice = f"the bearer token sent comes from {variable}; check that it is a valid RunPod API key for this endpoint"
        else:
            names = " or ".join(transport.API_KEY_VARIABLES)
            advice = f"no bearer token was sent: set {names} to a RunPod API key"
        return AuthenticationError(
            f"endpoint '{target.endpoint}' refused {what} with HTTP {code}: {advice}",
            status_code=code,
            variable=variable,
        )
    if code in (502, 503, 504):
        return EndpointUnavailableError(
            f"endpoint '{target.endpoint}' answered HTTP {code} to {what} (its gateway): {text}"
        )
    return EndpointHTTPError(
        f"endpoint '{target.endpoint}' answered HTTP {code} to {what}: {text}", status_code=code, body=response.text
    )


def _job(target: _Target, response: httpx.Response, what: str, *, submitted: bool = False) -> JobOutput:
    """The job a queue endpoint answered with; HTTP errors raised as what they mean."""
    if response.status_code == 404 and submitted:
        raise EndpointNotDeployedError(
            target.endpoint, url_variable(target.endpoint), f"{target.url} answered HTTP 404 to {what}"
        )
    if response.status_code >= 400:
        raise _http_failure(target, response, what)
    try:
        data = response.json()
        job = JobOutput.from_response(data)
    except ValueError:
        raise FlashRuntimeError(
            f"endpoint '{target.endpoint}' answered {what} with something that is not a job: {response.text[:500]}"
        ) from None
    if target.pickle and serialization.is_pickled(job.output):
        output = serialization.decode_value(job.output, "output", allow_pickle=True)
        job = JobOutput.from_response({**job.to_dict(), "output": output})
    return job


def _outcome(target: _Target, job: JobOutput, label: str) -> Any:
    """A finished job's output, or the error it ended with."""
    where = f"{label} on endpoint '{target.endpoint}' (job {job.id})"
    if job.status == "COMPLETED":
        return job.output
    if job.status == "FAILED":
        error = job.error if job.error not in (None, "") else job.output
        raise RemoteExecutionError.from_job_error(error if error is not None else f"{where} failed")
    if job.status == "CANCELLED":
        raise RemoteCancelledError(f"{where} was cancelled", job_id=job.id)
    if job.status == "TIMED_OUT":
        raise RemoteTimeoutError(
            f"{where} was stopped by the platform at the endpoint's execution timeout", job_id=job.id
        )
    raise FlashRuntimeError(f"{where} ended with status {job.status!r}")


# --- queue-based endpoints --------------------------------------------------------------------


class Jobs:
    """The jobs of one queue-based endpoint, one step at a time::

        jobs = Jobs("gpu-worker")
        job_id = await jobs.submit("embed", {"text": "hi"})
        output = (await jobs.wait(job_id)).output

    ``url``, ``timeout`` (seconds), ``execution_timeout_ms`` and ``pickle`` are as
    for :func:`call`; the endpoint's settings are read when a method is called.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        url: str | None = None,
        timeout: float | None = None,
        execution_timeout_ms: int | None = None,
        pickle: bool | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._options: dict[str, Any] = {
            "url": url,
            "timeout": timeout,
            "execution_timeout_ms": execution_timeout_ms,
            "pickle": pickle,
        }

    def __repr__(self) -> str:
        return f"Jobs({self.endpoint!r})"

    def _target(self) -> _Target:
        return _Target.resolve(self.endpoint, **self._options)

    async def submit(self, function: str, arguments: Mapping[str, Any], *, method: str | None = None) -> str:
        """Queue a call of ``function`` (``method`` of the class ``function``); returns the job id."""
        target = self._target()
        label = f"{function}.{method}" if method else function
        body = _job_body(target, job_input(function, arguments, method=method))
        job = await self._post(target, "run", body, f"run {label}", target.deadline())
        return job.id

    async def run(self, input: Mapping[str, Any], *, webhook: str | None = None) -> JobOutput:
        """Queue a job whose ``input`` is exactly this (nothing added); returns it as queued."""
        target = self._target()
        body = _job_body(target, input, webhook=webhook)
        return await self._post(target, "run", body, "run", target.deadline())

    async def runsync(self, input: Mapping[str, Any], *, timeout: float | None = None) -> JobOutput:
        """Run a job whose ``input`` is exactly this; returns the job as ``runsync`` answered:
        finished, or still queued or running when the endpoint's own wait ran out
        (follow it with :meth:`wait`). ``timeout`` bounds the request (seconds)."""
        target = self._target()
        body = _job_body(target, input)
        return await self._post(target, "runsync", body, "runsync", target.deadline(timeout), timeout)

    async def status(self, job_id: str) -> JobOutput:
        """The job as it is now."""
        target = self._target()
        return await self._status(target, job_id, target.deadline())

    async def wait(self, job_id: str, timeout: float | None = None) -> JobOutput:
        """The job once it has ended (COMPLETED, FAILED, CANCELLED or TIMED_OUT).

        Waits at most ``timeout`` seconds (default: the endpoint's timeout), then
        raises :class:`RemoteTimeoutError`; the job itself is left running.
        """
        target = self._target()
        deadline = target.deadline(timeout)
        job = await self._status(target, job_id, deadline)
        return await self._until_done(target, job, deadline, f"job {job_id}", cancel=False, seconds=timeout)

    async def result(self, job_id: str, timeout: float | None = None) -> Any:
        """The job's output once it has ended, or the error it ended with (as :func:`call` raises)."""
        job = await self.wait(job_id, timeout)
        return _outcome(self._target(), job, f"job {job_id}")

    async def cancel(self, job_id: str) -> JobOutput:
        """Cancel the job; returns it as the endpoint reports it afterwards."""
        target = self._target()
        return await self._cancel(target, job_id, target.deadline())

    # -- the requests --

    async def _post(
        self, target: _Target, operation: str, body: str, what: str, deadline: float, seconds: float | None = None
    ) -> JobOutput:
        response = await transport.send(
            "POST",
            f"{target.url}/{operation}",
            content=body.encode("utf-8"),
            retry=transport.Retry.SUBMIT,
            deadline=deadline,
            what=f"{what} on endpoint '{target.endpoint}'",
            budget=target.timeout if seconds is None else seconds,
        )
        return _job(target, response, what, submitted=True)

    async def _status(self, target: _Target, job_id: str, deadline: float) -> JobOutput:
        response = await transport.send(
            "GET",
            f"{target.url}/status/{quote(job_id, safe='')}",
            retry=transport.Retry.READ,
            deadline=deadline,
            attempt_timeout=STATUS_REQUEST_TIMEOUT_SECONDS,
            what=f"status of job {job_id} on endpoint '{target.endpoint}'",
        )
        return _job(target, response, f"the status of job {job_id}")

    async def _cancel(self, target: _Target, job_id: str, deadline: float) -> JobOutput:
        response = await transport.send(
            "POST",
            f"{target.url}/cancel/{quote(job_id, safe='')}",
            retry=transport.Retry.READ,
            deadline=deadline,
            what=f"cancel job {job_id} on endpoint '{target.endpoint}'",
        )
        return _job(target, response, f"cancel job {job_id}")

    async def _until_done(
        self,
        target: _Target,
        job: JobOutput,
        deadline: float,
        label: str,
        *,
        cancel: bool,
        seconds: float | None = None,
    ) -> JobOutput:
        """Poll ``job`` until it ends; past ``deadline``, cancel it (when ``cancel``) and raise."""
        interval = POLL_INTERVAL_SECONDS
        while job.status in PENDING:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise RemoteTimeoutError("deadline passed")
                await asyncio.sleep(min(interval, remaining))
                interval = min(interval * POLL_BACKOFF, POLL_INTERVAL_MAX_SECONDS)
                job = await self._status(target, job.id, deadline)
            except asyncio.CancelledError:
                # Nobody will collect the result: stop the job too (when it is ours to stop).
                if cancel:
                    await self._cancel_quietly(target, job.id)
                raise
            except RemoteTimeoutError:
                if cancel:
                    cancelled = await self._cancel_quietly(target, job.id)
                    fate = "it was cancelled" if cancelled else "cancelling it failed, so it may still run"
                else:
                    fate = "it was left running"
                limit = target.timeout if seconds is None else seconds
                raise RemoteTimeoutError(
                    f"{label} on endpoint '{target.endpoint}' (job {job.id}) did not finish within "
                    f"{limit:g} s ({fate}); allow more with {timeout_variable(target.endpoint)} (seconds) "
                    "or the endpoint's execution_timeout_ms",
                    job_id=job.id,
                ) from None
        return job

    async def _cancel_quietly(self, target: _Target, job_id: str) -> bool:
        try:
            await self._cancel(target, job_id, time.monotonic() + CANCEL_TIMEOUT_SECONDS)
        except FlashRuntimeError as error:
            transport.log.warning("could not cancel job %s on endpoint '%s': %s", job_id, target.endpoint, error)
            return False
        return True


async def call(
    endpoint: str,
    function: str,
    arguments: Mapping[str, Any],
    *,
    method: str | None = None,
    url: str | None = None,
    timeout: float | None = None,
    execution_timeout_ms: int | None = None,
    pickle: bool | None = None,
) -> Any:
    """Run ``function`` (or ``method`` of the class ``function``) on the queue-based ``endpoint``.

    ``arguments`` maps parameter names to values (positional ones under
    ``"__args"``; values equal to :data:`DEFAULT` are left out). ``url``
    overrides ``FLASHC_ENDPOINT_URL_<NAME>``; ``timeout`` (seconds) overrides
    ``FLASHC_TIMEOUT_<NAME>``, which overrides ``execution_timeout_ms``;
    ``pickle`` overrides ``FLASHC_PICKLE_<NAME>``. Returns the job's output.
    """
    jobs = Jobs(endpoint, url=url, timeout=timeout, execution_timeout_ms=execution_timeout_ms, pickle=pickle)
    target = jobs._target()
    label = f"{function}.{method}" if method else function
    body = _job_body(target, job_input(function, arguments, method=method))
    deadline = target.deadline()
    job = await jobs._post(target, "runsync", body, label, deadline)
    job = await jobs._until_done(target, job, deadline, label, cancel=True)
    return _outcome(target, job, label)


# --- load-balanced endpoints --------------------------------------------------------------------


def _route_url(url: str, path: str, arguments: dict[str, Any]) -> str:
    """``url + path`` with ``{name}`` segments filled from (and removed from) ``arguments``."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in arguments:
            raise TypeError(f"missing the path parameter '{name}' of {path}")
        return quote(str(arguments.pop(name)), safe="")

    return url + _PATH_PARAMETER.sub(fill, path)


async def request(
    endpoint: str,
    http_method: str,
    path: str,
    arguments: Mapping[str, Any],
    *,
    url: str | None = None,
    timeout: float | None = None,
    execution_timeout_ms: int | None = None,
) -> Any:
    """Call the route ``http_method path`` of the load-balanced ``endpoint``; returns the JSON reply.

    ``{name}`` segments of ``path`` are filled from ``arguments``; the other
    arguments go as a JSON object (query parameters for ``GET``). A 500 answer
    carrying the function's exception raises :class:`RemoteExecutionError`.
    """
    method = http_method.upper()
    target = _Target.resolve(endpoint, url=url, timeout=timeout, execution_timeout_ms=execution_timeout_ms, pickle=False)
    given = _given(arguments)
    full_url = _route_url(target.url, path, given)
    if method in _BODY_METHODS:
        return await _route(target, method, path, full_url, body=_route_body(target, given))
    return await _route(target, method, path, full_url, params=given)


def _route_body(target: _Target, given: Mapping[str, Any]) -> str:
    """The JSON object of a route's arguments; one load-balanced request carries at most 10 MiB."""
    body = serialization.encode_input(
        given, allow_pickle=False, hint="load-balanced endpoints take JSON only"
    )
    size = len(body.encode("utf-8"))
    if size > serialization.MAX_ARGUMENT_BYTES:
        raise PayloadTooLargeError(
            f"the request body for endpoint '{target.endpoint}' is {size} bytes, more than the "
            f"{serialization.MAX_ARGUMENT_BYTES} bytes a load-balanced endpoint accepts"
        )
    return body


async def http_request(
    endpoint: str,
    http_method: str,
    path: str,
    data: Any = None,
    *,
    url: str | None = None,
    timeout: float | None = None,
) -> Any:
    """``http_method path`` on ``endpoint`` with ``data`` as it is: the JSON body, or for ``GET`` the
    query parameters (a mapping). Returns the JSON reply (None when empty)."""
    method = http_method.upper()
    target = _Target.resolve(endpoint, url=url, timeout=timeout, pickle=False)
    full_url = target.url + path
    if method in _BODY_METHODS:
        body = None if data is None else json.dumps(data, ensure_ascii=False, allow_nan=False)
        return await _route(target, method, path, full_url, body=body)
    if data is not None and not isinstance(data, Mapping):
        raise TypeError(f"{method} takes its data as query parameters: a mapping, got {type(data).__name__}")
    return await _route(target, method, path, full_url, params=data)


async def _route(
    target: _Target,
    method: str,
    path: str,
    full_url: str,
    *,
    body: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> Any:
    retry = transport.Retry.READ if method in ("GET", "HEAD") else transport.Retry.SUBMIT
    response = await transport.send(
        method,
        full_url,
        content=None if body is None else body.encode("utf-8"),
        params=params,
        retry=retry,
        deadline=target.deadline(),
        what=f"{method} {path} on endpoint '{target.endpoint}'",
        budget=target.timeout,
    )
    if response.status_code >= 400:
        raise _route_error(target, method, path, response)
    if not response.content:
        return None
    return response.json()


def _route_error(target: _Target, method: str, path: str, response: httpx.Response) -> FlashRuntimeError:
    """A 500 carrying ``{"error": {"type", "message"}}`` is the function's own exception."""
    try:
        body = json.loads(response.text)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if response.status_code >= 500 and isinstance(error, dict) and "message" in error:
        trace = error.get("traceback")
        return RemoteExecutionError(
            str(error.get("message", "")),
            error_type=None if error.get("type") is None else str(error["type"]),
            traceback=None if trace is None else str(trace),
        )
    return _http_failure(target, response, f"{method} {path}")
