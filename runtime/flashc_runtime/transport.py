"""HTTP for the client: a pooled connection per event loop, the bearer token, safe retries.

One ``httpx.AsyncClient`` serves every call made on an event loop, so calls reuse
connections. It is created on the loop's first call and closed with the loop:
``asyncio.run`` (and anything else that runs ``loop.shutdown_asyncgens()``) closes
it before the loop ends, and what is left open at interpreter exit is closed then.

Retries never run a job twice. Every request is retried (with exponential
backoff, within the call's deadline) when the connection could not be made,
because then nothing was sent. Beyond that, :data:`Retry.SUBMIT` requests (those
that start work: ``run``, ``runsync``, load-balanced routes other than ``GET``)
are retried only on answers that prove nothing was started: HTTP 429, and
HTTP 502/503 whose body is not a RunPod job (the gateway could not hand the
request on). A 504, a timeout or a connection lost after sending may come after
the work began, so they are never retried for those. :data:`Retry.READ`
requests (``status``, ``cancel``, ``GET`` routes) are also retried on 502/503/504,
lost connections and timeouts.

Only the standard library is imported at module level; ``httpx`` is imported on
the first request.
"""

from __future__ import annotations

import asyncio
import atexit
import enum
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from . import __version__, deployments
from .sdk.exceptions import EndpointUnavailableError, RemoteTimeoutError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "API_KEY_VARIABLES",
    "CONNECT_TIMEOUT_SECONDS",
    "RETRY_ATTEMPTS",
    "RETRY_BACKOFF_MAX_SECONDS",
    "RETRY_BACKOFF_SECONDS",
    "Retry",
    "aclose",
    "api_key",
    "headers",
    "send",
]

API_KEY_VARIABLES = ("FLASHC_API_KEY", "RUNPOD_API_KEY")
"""Where the bearer token comes from: the first of these that is set and not empty."""

CONNECT_TIMEOUT_SECONDS = 10.0
"""How long one attempt to connect may take (the call's deadline still applies)."""

RETRY_ATTEMPTS = 4
"""Attempts per request, the first included."""

RETRY_BACKOFF_SECONDS = 0.25
"""The wait before the first retry; it doubles for each further one."""

RETRY_BACKOFF_MAX_SECONDS = 4.0
"""The longest wait between two attempts."""

_GATEWAY_REFUSED = frozenset({502, 503})
_GATEWAY_ERRORS = frozenset({502, 503, 504})
_TOO_MANY_REQUESTS = 429

log = logging.getLogger("flashc_runtime.client")


class Retry(enum.Enum):
    """What may be retried for a request (see the module docstring)."""

    SUBMIT = "submit"
    """The request may start work: retried only when it provably did not."""
    READ = "read"
    """Repeating the request changes nothing: also retried after it was sent."""


def api_key() -> tuple[str | None, str | None]:
    """``(token, variable it came from)``, or ``(None, None)`` when none is set."""
    for variable in API_KEY_VARIABLES:
        value = os.environ.get(variable, "").strip()
        if value:
            return value, variable
    local = deployments.token()
    if local is not None:
        return local, f"the token of {deployments.state_file()}"
    return None, None


def headers(*, json_body: bool = False) -> dict[str, str]:
    """The headers of every request: JSON, the runtime's user agent, and the bearer token."""
    result = {"Accept": "application/json", "User-Agent": f"flashc-runtime/{__version__}"}
    if json_body:
        result["Content-Type"] = "application/json"
    token, _ = api_key()
    if token:
        result["Authorization"] = f"Bearer {token}"
    return result


# --- one pooled client per event loop -------------------------------------------------------


class _Pooled:
    __slots__ = ("client", "closer")

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.closer: AsyncIterator[None] | None = None


_lock = threading.Lock()
_pools: dict[asyncio.AbstractEventLoop, _Pooled] = {}


async def _client() -> httpx.AsyncClient:
    """The running loop's client, created (and tied to the loop's shutdown) on first use."""
    loop = asyncio.get_running_loop()
    with _lock:
        for stale in [other for other in _pools if other.is_closed()]:
            del _pools[stale]  # closed without shutdown_asyncgens: its sockets go with it
        pooled = _pools.get(loop)
    if pooled is not None:
        return pooled.client
    import httpx

    pooled = _Pooled(
        httpx.AsyncClient(
            timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT_SECONDS),
            follow_redirects=False,
        )
    )
    closer = _close_with_loop(loop, pooled)
    # Started here, so the loop tracks it and closes it in shutdown_asyncgens().
    await closer.__anext__()
    pooled.closer = closer
    with _lock:
        _pools[loop] = pooled
    return pooled.client


async def _close_with_loop(loop: asyncio.AbstractEventLoop, pooled: _Pooled) -> AsyncIterator[None]:
    try:
        yield
    finally:
        with _lock:
            if _pools.get(loop) is pooled:
                del _pools[loop]
        await pooled.client.aclose()


async def aclose() -> None:
    """Close the running loop's client now (the next call opens a new one)."""
    loop = asyncio.get_running_loop()
    with _lock:
        pooled = _pools.get(loop)
    if pooled is not None and pooled.closer is not None:
        await pooled.closer.aclose()  # type: ignore[attr-defined]


@atexit.register
def _close_at_exit() -> None:
    """Close the clients of loops that are still open and idle when the interpreter exits."""
    with _lock:
        pools = list(_pools.items())
    for loop, pooled in pools:
        if loop.is_closed() or loop.is_running() or pooled.closer is None:
            continue
        try:
            loop.run_until_complete(pooled.closer.aclose())  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


# --- sending ---------------------------------------------------------------------------------


def _backoff(attempt: int) -> float:
    return min(RETRY_BACKOFF_SECONDS * (2 ** (attempt - 1)), RETRY_BACKOFF_MAX_SECONDS)


def _is_job(response: httpx.Response) -> bool:
    """Whether the body is a RunPod job (then the request was accepted, whatever the status)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(body, dict) and "id" in body and "status" in body


def _retryable_status(response: httpx.Response, retry: Retry) -> bool:
    code = response.status_code
    if code == _TOO_MANY_REQUESTS:
        return True
    if retry is Retry.READ:
        return code in _GATEWAY_ERRORS
    return code in _GATEWAY_REFUSED and not _is_job(response)


async def send(
    method: str,
    url: str,
    *,
    retry: Retry,
    deadline: float,
    what: str,
    content: str | bytes | None = None,
    params: Mapping[str, Any] | None = None,
    attempt_timeout: float | None = None,
    budget: float | None = None,
) -> httpx.Response:
    """Send one request, retried as ``retry`` allows until :data:`RETRY_ATTEMPTS` or ``deadline``.

    ``deadline`` is a ``time.monotonic()`` value; each attempt may take what is
    left of it (at most ``attempt_timeout``). ``what`` names the request in
    errors and logs; ``budget`` is the call's whole timeout, for messages.
    Returns the last response, whatever its status. Raises
    :class:`RemoteTimeoutError` when the deadline passes, and
    :class:`EndpointUnavailableError` when the endpoint cannot be reached or the
    connection is lost (with a note when the request may have been processed).
    """
    import httpx

    client = await _client()
    request_headers = headers(json_body=content is not None)
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RemoteTimeoutError(f"{what}: no answer before the deadline")
        limit = remaining if attempt_timeout is None else min(remaining, attempt_timeout)
        timeout = httpx.Timeout(limit, connect=min(limit, CONNECT_TIMEOUT_SECONDS))
        try:
            response = await client.request(
                method, url, content=content, params=params, headers=request_headers, timeout=timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # Nothing was sent: always safe to try again.
            problem: str = f"cannot connect ({type(error).__name__}: {error})"
            if not await _pause(attempt, deadline, what, problem):
                raise EndpointUnavailableError(
                    f"{what}: {problem}, after {attempt} attempt{'s' if attempt > 1 else ''}"
                ) from None
            continue
        except httpx.TimeoutException as error:
            if retry is Retry.READ and await _pause(attempt, deadline, what, f"timed out ({type(error).__name__})"):
                continue
            unknown = (
                "; if it started a job, that job may still run (its id is unknown, so it was not cancelled)"
                if retry is Retry.SUBMIT
                else ""
            )
            within = f"{budget:g} s" if budget is not None else f"{limit:.3g} s"
            raise RemoteTimeoutError(f"{what}: no answer within {within}{unknown}") from None
        except httpx.TransportError as error:
            problem = f"the connection failed after the request was sent ({type(error).__name__}: {error})"
            if retry is Retry.READ and await _pause(attempt, deadline, what, problem):
                continue
            may_have_run = " (it may have been processed, so it was not sent again)" if retry is Retry.SUBMIT else ""
            raise EndpointUnavailableError(f"{what}: {problem}{may_have_run}") from None
        if _retryable_status(response, retry) and await _pause(
            attempt, deadline, what, f"HTTP {response.status_code}"
        ):
            continue
        return response


async def _pause(attempt: int, deadline: float, what: str, problem: str) -> bool:
    """Wait before the next attempt; False when no attempt is left (by count or by time)."""
    if attempt >= RETRY_ATTEMPTS:
        return False
    wait = _backoff(attempt)
    if time.monotonic() + wait >= deadline:
        return False
    log.info("%s: %s; retrying in %.2f s (attempt %d of %d)", what, problem, wait, attempt + 1, RETRY_ATTEMPTS)
    await asyncio.sleep(wait)
    return True
