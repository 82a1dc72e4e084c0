"""The supervisor's HTTP API: RunPod's serverless routes on loopback, as a small ASGI app.

Every request needs the spec's token, as ``Authorization: Bearer <token>`` (RunPod's own
API, and the runpod SDK's aiohttp client, also send the bare token; that is accepted too).

- ``/v2/<endpoint>/run`` (POST), ``runsync`` (POST, ``?wait=<ms>``), ``status/<id>`` (GET or
  POST), ``cancel/<id>`` (POST), ``health`` (GET), ``purge-queue`` (POST): queue endpoints;
- ``/lb/<endpoint>/<path>``: any method, proxied to a worker of a load-balanced endpoint;
- ``/admin/status`` (GET), ``/admin/reload`` (POST), ``/admin/shutdown`` (POST).

Errors are JSON objects ``{"error": "<message>"}``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

import httpx

from .jobs import JobStatus
from .pool import Pool, Unavailable

if TYPE_CHECKING:
    from .supervisor import Supervisor

__all__ = ["MAX_BODY_BYTES", "RUNSYNC_WAIT_MS", "SupervisorApp"]

MAX_BODY_BYTES = 20 * 1024 * 1024
"""Larger request bodies get 413 (RunPod takes 10 MB on ``run``, 20 MB on ``runsync``)."""
RUNSYNC_WAIT_MS = 90_000
"""How long ``runsync`` waits for its job by default; ``?wait=`` takes 0 to 300000 ms."""
LB_READY_WAIT = 60.0
"""How long a load-balanced request waits for a worker to start."""

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"authorization",  # the supervisor's token stays with the supervisor
    }
)


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class SupervisorApp:
    """ASGI 3 app over a :class:`Supervisor`."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self._token = supervisor.spec.token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        try:
            self._authorize(scope)
            await self._route(scope, receive, send)
        except _HTTPError as error:
            await _send_json(send, error.status, {"error": error.message}, error.headers)

    def _authorize(self, scope: Scope) -> None:
        given = _header(scope, b"authorization")
        if given is not None and given[:7].lower() == b"bearer ":
            given = given[7:].strip()
        if given is None or not hmac.compare_digest(given, self._token):
            raise _HTTPError(401, "missing or wrong token: send Authorization: Bearer <token>", ((b"www-authenticate", b"Bearer"),))

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"].upper()
        parts = path.split("/")[1:]
        if len(parts) >= 2 and parts[0] == "lb" and parts[1]:
            await self._proxy(scope, receive, send, parts[1])
            return
        if len(parts) >= 3 and parts[0] == "v2":
            body = await self._queue(scope, receive, method, parts[1], parts[2:])
            await _send_json(send, 200, body)
            return
        if parts[0] == "admin" and len(parts) == 2:
            await self._admin(method, parts[1], send)
            return
        raise _HTTPError(404, f"no route {path}")

    # -- queue endpoints -------------------------------------------------------------------------

    async def _queue(self, scope: Scope, receive: Receive, method: str, name: str, rest: list[str]) -> dict[str, Any]:
        action, arguments = rest[0], rest[1:]
        store = self.supervisor.store
        if action in ("status", "cancel"):
            _allow(method, ("GET", "POST") if action == "status" else ("POST",))
            if len(arguments) != 1 or not arguments[0]:
                raise _HTTPError(404, f"{action} needs a job id: /v2/{name}/{action}/<id>")
            job = store.get(arguments[0])
            if job is None or job.endpoint != name:
                raise _HTTPError(404, f"no job {arguments[0]!r} on endpoint {name!r} (finished jobs are kept for a while only)")
            if action == "cancel":
                pool = self.supervisor.pools.get(name)
                if pool is not None:
                    pool.cancel(job)
                return {"id": job.id, "status": job.status.value}
            return job.view()
        if arguments:
            raise _HTTPError(404, f"no route /v2/{name}/{'/'.join(rest)}")
        pool = self._queue_pool(name)
        if action == "health":
            _allow(method, ("GET",))
            return pool.health()
        if action == "purge-queue":
            _allow(method, ("POST",))
            return {"removed": pool.purge(), "status": "completed"}
        if action not in ("run", "runsync"):
            raise _HTTPError(404, f"no route /v2/{name}/{action}")
        _allow(method, ("POST",))
        wait_ms = _wait_ms(scope) if action == "runsync" else 0
        request = await _read_json(scope, receive)
        if not isinstance(request, dict) or "input" not in request:
            raise _HTTPError(400, 'the body must be a JSON object with an "input" object: {"input": {...}}')
        if not isinstance(request["input"], dict):
            raise _HTTPError(400, f'"input" must be a JSON object, got {_json_type(request["input"])}')
        try:
            job = pool.submit(request["input"])
        except Unavailable as error:
            raise _HTTPError(503, str(error)) from None
        if action == "run":
            return {"id": job.id, "status": JobStatus.IN_QUEUE.value}
        await job.wait(wait_ms / 1000)
        return job.view()

    def _queue_pool(self, name: str) -> Pool:
        pool = self.supervisor.pools.get(name)
        if pool is None:
            raise _HTTPError(404, f"no endpoint {name!r} is deployed here")
        if pool.spec.kind != "queue":
            raise _HTTPError(404, f"endpoint {name!r} is load-balanced: call it under /lb/{name}/")
        return pool

    # -- load-balanced endpoints -----------------------------------------------------------------

    async def _proxy(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        pool = self.supervisor.pools.get(name)
        if pool is None:
            raise _HTTPError(404, f"no endpoint {name!r} is deployed here")
        if pool.spec.kind != "load-balanced":
            raise _HTTPError(404, f"endpoint {name!r} is a queue endpoint: call it under /v2/{name}/")
        body = await _read_body(scope, receive)
        try:
            worker = await pool.acquire(LB_READY_WAIT)
        except Unavailable as error:
            raise _HTTPError(503, str(error)) from None
        try:
            url = f"{worker.base_url}{_forwarded_path(scope, name)}"
            query = scope.get("query_string") or b""
            if query:
                url += "?" + query.decode("latin-1")
            headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in _HOP_BY_HOP]
            timeout_ms = pool.spec.execution_timeout_ms
            timeout = httpx.Timeout(10.0, read=timeout_ms / 1000 if timeout_ms > 0 else None)
            request = self.supervisor.http.build_request(scope["method"], url, headers=headers, content=body, timeout=timeout)
            try:
                response = await self.supervisor.http.send(request, stream=True)
            except httpx.TimeoutException:
                raise _HTTPError(504, f"worker {worker.id} of endpoint {name!r} did not answer within {timeout_ms} ms") from None
            except httpx.HTTPError as error:
                raise _HTTPError(502, f"worker {worker.id} of endpoint {name!r} failed to answer: {error!r}") from None
            try:
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP],
                    }
                )
                try:
                    async for chunk in response.aiter_raw():
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                except httpx.HTTPError:
                    pass  # the worker went away mid-answer: end what was sent
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                await response.aclose()
        finally:
            pool.release(worker)

    # -- admin ------------------------------------------------------------------------------------

    async def _admin(self, method: str, action: str, send: Send) -> None:
        if action == "status":
            _allow(method, ("GET",))
            await _send_json(send, 200, self.supervisor.status())
        elif action == "reload":
            _allow(method, ("POST",))
            try:
                changes = await self.supervisor.reload()
            except ValueError as error:
                raise _HTTPError(400, str(error)) from None
            await _send_json(send, 200, changes)
        elif action == "shutdown":
            _allow(method, ("POST",))
            await _send_json(send, 202, {"status": "shutting down", "pid": self.supervisor.pid})
            self.supervisor.request_shutdown()
        else:
            raise _HTTPError(404, f"no route /admin/{action}")


def _allow(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise _HTTPError(405, f"method {method} is not allowed here (use {' or '.join(allowed)})", ((b"allow", ", ".join(allowed).encode()),))


def _wait_ms(scope: Scope) -> int:
    values = parse_qs((scope.get("query_string") or b"").decode("latin-1")).get("wait")
    if not values:
        return RUNSYNC_WAIT_MS
    try:
        wait = int(values[-1])
    except ValueError:
        raise _HTTPError(400, f"wait must be a number of milliseconds, got {values[-1]!r}") from None
    return max(0, min(wait, 300_000))


def _forwarded_path(scope: Scope, name: str) -> str:
    """The request's path below ``/lb/<name>``, still percent-encoded; ``/`` for the endpoint itself."""
    raw = scope.get("raw_path")
    prefix = f"/lb/{name}".encode()
    if isinstance(raw, bytes) and raw.startswith(prefix):
        rest = raw[len(prefix) :].decode("latin-1")
    else:
        rest = quote(scope["path"][len(f"/lb/{name}") :])
    return rest if rest.startswith("/") else "/" + rest


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _HTTPError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _HTTPError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _read_json(scope: Scope, receive: Receive) -> Any:
    body = await _read_body(scope, receive)
    try:
        return json.loads(body)
    except ValueError as error:
        raise _HTTPError(400, f"the body is not JSON: {error}") from None


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


async def _send_json(send: Send, status: int, body: Any, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    data = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
