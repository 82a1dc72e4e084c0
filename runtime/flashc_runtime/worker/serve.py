"""One endpoint served over HTTP on its own: what a flashc Docker image runs.

::

    python -m flashc_runtime.worker.serve        # in the handler package's directory

It imports ``_flashc_handler`` from the working directory and serves, on ``$HOST:$PORT``
(default ``0.0.0.0:80``, where RunPod routes a load balancer's traffic):

- a queue endpoint (``handler``): RunPod's serverless API for one endpoint, the routes the
  local target serves under ``/v2/<endpoint>/``: ``POST /run``, ``POST /runsync``
  (``?wait=<ms>``, default 90000), ``GET|POST /status/<id>``, ``POST /cancel/<id>``,
  ``GET /health``, with RunPod's status names and envelopes; a FAILED job's ``error`` is the
  JSON string the runpod worker SDK gives. Up to the endpoint's ``max_concurrency`` jobs run at
  once; ``$FLASHC_EXECUTION_TIMEOUT_MS`` (when above 0) makes longer jobs TIMED_OUT;
- a load-balanced endpoint (``app``): its ASGI app (its routes and ``GET /ping``);

and ``GET /ping`` in both cases. When ``$FLASHC_WORKER_TOKEN`` is set every request needs it
(``Authorization: Bearer <token>``, or the bare token as RunPod's clients send it).

On RunPod serverless (``$RUNPOD_WEBHOOK_GET_JOB`` set) a queue endpoint is handed to the
runpod worker SDK instead (``_flashc_handler.main()``), which takes jobs from the platform.

The HTTP/1.1 server is a small asyncio one (keep-alive, ``Content-Length`` and chunked request
bodies, bodies up to 20 MiB), because the runtime imports only the standard library: an image
needs nothing but Python and the endpoint's own dependencies.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib
import json
import os
import signal
import sys
import time
import uuid
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs, unquote

from .stdio import HANDLER_MODULE, describe_error

__all__ = ["main", "serve"]

MAX_BODY_BYTES = 20 * 1024 * 1024
RUNSYNC_WAIT_MS = 90_000
KEEP_FINISHED_JOBS = 1000
KEEP_FINISHED_SECONDS = 600.0
TOKEN_VARIABLE = "FLASHC_WORKER_TOKEN"
TIMEOUT_VARIABLE = "FLASHC_EXECUTION_TIMEOUT_MS"
PENDING = ("IN_QUEUE", "IN_PROGRESS")

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 500: "Internal Server Error"}


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Request:
    __slots__ = ("body", "headers", "method", "path", "query", "raw_path", "version")

    def __init__(self, method: str, raw_path: str, version: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.method = method
        self.raw_path = raw_path
        path, _, query = raw_path.partition("?")
        self.path = unquote(path) or "/"
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


Response = tuple[int, list[tuple[str, str]], bytes]


def _json_response(status: int, body: Any) -> Response:
    return status, [("content-type", "application/json")], json.dumps(body).encode("utf-8")


# --- queue endpoints ---------------------------------------------------------------------------


class _Job:
    __slots__ = ("done", "error", "finished", "id", "input", "output", "started", "status", "submitted", "task")

    def __init__(self, payload: dict[str, Any]) -> None:
        self.id = str(uuid.uuid4())
        self.input = payload
        self.status = "IN_QUEUE"
        self.submitted = time.monotonic()
        self.started: float | None = None
        self.finished: float | None = None
        self.output: Any = None
        self.error: str | None = None
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def finish(self, status: str, output: Any = None, error: str | None = None) -> None:
        if self.status not in PENDING:
            return
        self.status, self.output, self.error = status, output, error
        self.finished = time.monotonic()
        self.done.set()

    def view(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.started is not None:
            body["delayTime"] = round((self.started - self.submitted) * 1000)
            if self.finished is not None:
                body["executionTime"] = round((self.finished - self.started) * 1000)
        if self.status == "COMPLETED":
            body["output"] = self.output
        if self.error is not None:
            body["error"] = self.error
        return body


def _error_string(error: dict[str, str]) -> str:
    return json.dumps({"error_type": error["type"], "error_message": error["message"], "error_traceback": error["traceback"]})


class QueueServer:
    """RunPod's job API for one queue endpoint, running its jobs in this process."""

    def __init__(self, handler: Any, max_concurrency: int, execution_timeout_ms: int = 0) -> None:
        self.handler = handler
        self.slots = asyncio.Semaphore(max(1, max_concurrency))
        self.timeout = execution_timeout_ms / 1000 if execution_timeout_ms > 0 else None
        self.jobs: OrderedDict[str, _Job] = OrderedDict()

    async def __call__(self, request: _Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "v2":  # the local target's spelling: /v2/<endpoint>/...
            parts = parts[2:]
        action = parts[0] if parts else ""
        if action in ("run", "runsync") and len(parts) == 1:
            _allow(request, "POST")
            job = self._submit(_job_input(request.body))
            if action == "run":
                return _json_response(200, {"id": job.id, "status": job.status})
            wait = _wait_seconds(request.query)
            try:
                await asyncio.wait_for(asyncio.shield(job.done.wait()), wait)
            except asyncio.TimeoutError:
                pass
            return _json_response(200, job.view())
        if action in ("status", "cancel") and len(parts) == 2:
            _allow(request, "GET", "POST") if action == "status" else _allow(request, "POST")
            job = self._job(parts[1])
            if action == "cancel" and job.status in PENDING:
                if job.task is not None:
                    job.task.cancel()
                job.finish("CANCELLED")
            return _json_response(200, job.view())
        if action == "health" and len(parts) == 1:
            _allow(request, "GET")
            counts = {"completed": 0, "failed": 0, "inProgress": 0, "inQueue": 0, "retried": 0}
            names = {"COMPLETED": "completed", "FAILED": "failed", "IN_PROGRESS": "inProgress", "IN_QUEUE": "inQueue"}
            for job in self.jobs.values():
                if job.status in names:
                    counts[names[job.status]] += 1
            running = counts["inProgress"]
            return _json_response(200, {"jobs": counts, "workers": {"idle": 0 if running else 1, "running": 1 if running else 0}})
        raise _HTTPError(404, f"no route {request.method} {request.path}")

    def _submit(self, payload: dict[str, Any]) -> _Job:
        self._prune()
        job = _Job(payload)
        self.jobs[job.id] = job
        job.task = asyncio.get_running_loop().create_task(self._run(job))
        return job

    def _job(self, job_id: str) -> _Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise _HTTPError(404, f"no job {job_id!r} (unknown, or finished more than {KEEP_FINISHED_SECONDS:.0f} s ago)")
        return job

    async def _run(self, job: _Job) -> None:
        try:
            async with self.slots:
                if job.status != "IN_QUEUE":
                    return
                job.status, job.started = "IN_PROGRESS", time.monotonic()
                output = await asyncio.wait_for(self.handler({"id": job.id, "input": job.input}), self.timeout)
            json.dumps(output)
        except asyncio.CancelledError:
            job.finish("CANCELLED")
            return
        except asyncio.TimeoutError:
            job.finish("TIMED_OUT", error=f"the job ran longer than {self.timeout:g} s")
            return
        except BaseException as error:  # noqa: BLE001 -- every failure of user code fails the job
            job.finish("FAILED", error=_error_string(describe_error(error)))
            return
        job.finish("COMPLETED", output=output)

    def _prune(self) -> None:
        now = time.monotonic()
        finished = [j for j in self.jobs.values() if j.finished is not None]
        excess = len(finished) - KEEP_FINISHED_JOBS
        for job in finished:
            if excess > 0 or now - (job.finished or now) > KEEP_FINISHED_SECONDS:
                del self.jobs[job.id]
                excess -= 1


def _job_input(body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body or b"null")
    except ValueError as error:
        raise _HTTPError(400, f"the body is not JSON: {error}") from None
    if not isinstance(request, dict) or not isinstance(request.get("input"), dict):
        raise _HTTPError(400, 'the body must be a JSON object with an "input" object')
    return request["input"]


def _wait_seconds(query: str) -> float:
    values = parse_qs(query).get("wait")
    if not values:
        return RUNSYNC_WAIT_MS / 1000
    try:
        return max(0, min(int(values[-1]), 300_000)) / 1000
    except ValueError:
        raise _HTTPError(400, f"wait must be a number of milliseconds, got {values[-1]!r}") from None


def _allow(request: _Request, *methods: str) -> None:
    if request.method not in methods:
        raise _HTTPError(405, f"{request.path} takes {' or '.join(methods)}, not {request.method}")


# --- load-balanced endpoints -------------------------------------------------------------------


class AsgiServer:
    """Runs an ASGI app for each request (the whole response is collected, then sent)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, request: _Request) -> Response:
        path = request.path
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.version.split("/")[-1],
            "method": request.method,
            "scheme": "http",
            "path": path,
            "raw_path": request.raw_path.partition("?")[0].encode("latin-1"),
            "query_string": request.query.encode("latin-1"),
            "root_path": "",
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers],
            "client": None,
            "server": None,
        }
        sent_body = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": request.body, "more_body": False}
            await asyncio.Event().wait()  # a disconnect never comes: the request is whole
            return {"type": "http.disconnect"}

        status = 500
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.app(scope, receive, send)
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "transfer-encoding", "connection")]
        return status, headers, b"".join(chunks)


# --- HTTP --------------------------------------------------------------------------------------


class _Server:
    def __init__(self, route: Any, token: str | None) -> None:
        self.route = route
        self.token = token

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except _HTTPError as error:
                    await _write(writer, _json_response(error.status, {"error": error.message}), keep_alive=False)
                    return
                if request is None:
                    return
                response = await self.respond(request)
                keep_alive = _keep_alive(request)
                await _write(writer, response, keep_alive=keep_alive, head=request.method == "HEAD")
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def respond(self, request: _Request) -> Response:
        try:
            if self.token is not None and not _authorised(request, self.token):
                raise _HTTPError(401, "missing or wrong bearer token")
            if request.path == "/ping" and request.method == "GET" and isinstance(self.route, QueueServer):
                return _json_response(200, {"status": "healthy"})
            return await self.route(request)
        except _HTTPError as error:
            return _json_response(error.status, {"error": error.message})
        except Exception as error:  # noqa: BLE001 -- a bug must not take the server down
            print(f"flashc: internal error serving {request.method} {request.path}: {error!r}", file=sys.stderr)
            return _json_response(500, {"error": f"internal error: {type(error).__name__}: {error}"})


def _authorised(request: _Request, token: str) -> bool:
    given = (request.header("authorization") or "").strip()
    if given.lower().startswith("bearer "):
        given = given[7:].strip()
    return hmac.compare_digest(given.encode(), token.encode())


def _keep_alive(request: _Request) -> bool:
    connection = (request.header("connection") or "").lower()
    if request.version == "HTTP/1.0":
        return connection == "keep-alive"
    return connection != "close"


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    line = await reader.readline()
    if not line:
        return None
    try:
        method, target, version = line.decode("latin-1").strip().split(" ", 2)
    except ValueError:
        raise _HTTPError(400, "malformed request line") from None
    headers: list[tuple[str, str]] = []
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip().lower(), value.strip()))
        if len(headers) > 100:
            raise _HTTPError(400, "too many headers")
    fields = dict(headers)
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        try:
            length = int(fields.get("content-length", "0"))
        except ValueError:
            raise _HTTPError(400, "malformed Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise _HTTPError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        body = await reader.readexactly(length) if length > 0 else b""
    return _Request(method.upper(), target, version.upper(), headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readline()
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError:
            raise _HTTPError(400, "malformed chunk size") from None
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(body) > MAX_BODY_BYTES:
            raise _HTTPError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")


async def _write(writer: asyncio.StreamWriter, response: Response, *, keep_alive: bool, head: bool = False) -> None:
    status, headers, body = response
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines += [f"content-length: {len(body)}", f"connection: {'keep-alive' if keep_alive else 'close'}"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else body))
    await writer.drain()


# --- entry -------------------------------------------------------------------------------------


def _load_handler_module() -> Any:
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    return importlib.import_module(HANDLER_MODULE)


async def serve(route: Any, host: str, port: int, token: str | None, ready: asyncio.Event | None = None) -> None:
    """Serve ``route`` until SIGTERM or SIGINT."""
    server = await asyncio.start_server(_Server(route, token).connection, host, port, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or not POSIX
            pass
    print(f"flashc: serving on http://{host}:{port}", file=sys.stderr, flush=True)
    if ready is not None:
        ready.set()
    async with server:
        await stop.wait()


def main() -> int:
    module = _load_handler_module()
    host = os.environ.get("HOST", "0.0.0.0")
    port = int(os.environ.get("PORT", "80"))
    token = os.environ.get(TOKEN_VARIABLE) or None
    app = getattr(module, "app", None)
    if app is not None:
        route: Any = AsgiServer(app)
    else:
        if os.environ.get("RUNPOD_WEBHOOK_GET_JOB"):  # on RunPod serverless: the platform's job loop
            module.main()
            return 0
        endpoint = getattr(module, "endpoint", None)
        limit = getattr(endpoint, "max_concurrency", 1)
        timeout_ms = int(os.environ.get(TIMEOUT_VARIABLE, "0") or 0)
        route = QueueServer(module.handler, limit if isinstance(limit, int) else 1, timeout_ms)
    asyncio.run(serve(route, host, port, token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
