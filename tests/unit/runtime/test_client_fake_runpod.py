"""A loopback HTTP server that answers like a RunPod endpoint, for the client tests.

Queue side: ``POST /runsync`` and ``POST /run`` pick what to do from the input's
``__function``; ``GET /status/<id>`` and ``POST /cancel/<id>`` follow the jobs.
Load-balanced side: a few routes under ``/items``, ``/classify``, ``/crash``,
``/busy`` and ``/invalid``. With ``token`` set, every request needs
``Authorization: Bearer <token>`` (else 401). Every request is recorded.

The tests at the bottom check the fake itself, so a client test failing means
the client, not the stand-in.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

__all__ = ["FakeRunPod", "Recorded"]

FAILURE = {
    "error_type": "ValueError",
    "error_message": "bad value: 3",
    "error_traceback": 'Traceback (most recent call last):\n  File "worker.py", line 9, in explode\nValueError: bad value: 3\n',
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    port: int

    @property
    def body(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    @property
    def route(self) -> str:
        return urlsplit(self.path).path


@dataclass
class _Job:
    id: str
    status: str
    output: Any = None
    error: Any = None
    polls_left: int = 0
    final: str = "COMPLETED"
    status_failures: int = 0
    history: list[str] = field(default_factory=list)

    def envelope(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.status not in ("IN_QUEUE",):
            data.update(workerId="w-1", delayTime=5, executionTime=7)
        if self.status == "COMPLETED":
            data["output"] = self.output
        if self.error is not None and self.status == "FAILED":
            data["error"] = self.error
        return data


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that went away (timeouts under test) is expected


class FakeRunPod:
    """Start with ``with FakeRunPod() as server:``; ``server.url`` is its base URL."""

    def __init__(self, *, token: str | None = None, port: int = 0) -> None:
        self.token = token
        self.requests: list[Recorded] = []
        self.jobs: dict[str, _Job] = {}
        self.attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._next = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                record = Recorded(self.command, self.path, dict(self.headers.items()), raw, self.client_address[1])
                with fake._lock:
                    fake.requests.append(record)
                answer = fake._answer(record)
                if answer is None:  # drop the connection without an answer
                    self.close_connection = True
                    return
                status, body = answer
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="fake-runpod", daemon=True)

    def __enter__(self) -> FakeRunPod:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)

    # -- what the tests read --

    def sent(self, route_prefix: str = "") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.route.startswith(route_prefix)]

    def routes(self) -> list[str]:
        return [f"{r.method} {r.route}" for r in self.sent()]

    # -- answers --

    def _new_job(self, **fields: Any) -> _Job:
        with self._lock:
            self._next += 1
            job = _Job(id=f"job-{self._next}", **fields)
            self.jobs[job.id] = job
        return job

    def _answer(self, request: Recorded) -> tuple[int, Any] | None:
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "Unauthorized"}
        route = request.route
        if request.method == "POST" and route in ("/runsync", "/run"):
            return self._submit(route[1:], request.body)
        if request.method == "GET" and route.startswith("/status/"):
            return self._status(route[len("/status/"):])
        if request.method == "POST" and route.startswith("/cancel/"):
            job = self.jobs.get(route[len("/cancel/"):])
            if job is None:
                return 404, {"error": "job not found"}
            job.status = "CANCELLED"
            return 200, job.envelope()
        return self._route(request)

    def _submit(self, operation: str, body: Any) -> tuple[int, Any] | None:
        payload = body["input"]
        name = payload.get("__function")
        self.attempts[name] += 1
        if name == "unavailable_twice" and self.attempts[name] <= 2:
            return 503, {"error": "no workers available"}
        if name == "gateway_timeout":
            return 504, {"error": "upstream timed out"}
        if name == "accepted_then_503":
            return 503, {"id": "job-x", "status": "IN_QUEUE"}
        if name == "drop":
            return None
        if name == "missing":
            return 404, {"error": "endpoint not found"}
        if name == "sleep":
            time.sleep(payload["seconds"])
        if name == "not_a_job":
            return 200, ["not", "a", "job"]
        job = self._new_job(status="IN_QUEUE", output=_output(name, payload))
        if name == "explode":
            job.final, job.error = "FAILED", json.dumps(FAILURE)
        elif name == "fail_plain":
            job.final, job.error = "FAILED", "worker ran out of memory"
        elif name in ("cancelled", "timed_out"):
            job.final = name.upper()
        elif name == "odd_status":
            job.final = "PAUSED"
        job.polls_left = payload.get("polls", 0)
        job.status_failures = payload.get("status_failures", 0)
        if name == "stuck":
            job.polls_left = 10**9
        if operation == "run":
            job.polls_left = max(job.polls_left, 1)
            return 200, {"id": job.id, "status": "IN_QUEUE"}
        if job.polls_left:
            job.status = "IN_PROGRESS"
        else:
            job.status = job.final
        return 200, job.envelope()

    def _status(self, job_id: str) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"error": "job not found"}
        if job.status_failures:
            job.status_failures -= 1
            return 502, {"error": "bad gateway"}
        if job.status in ("IN_QUEUE", "IN_PROGRESS"):
            if job.polls_left > 0:
                job.polls_left -= 1
                job.status = "IN_PROGRESS"
            if job.polls_left == 0:
                job.status = job.final
        return 200, job.envelope()

    def _route(self, request: Recorded) -> tuple[int, Any]:
        route, query = request.route, parse_qs(urlsplit(request.path).query)
        if request.method == "GET" and route.startswith("/items/"):
            return 200, {"item_id": route[len("/items/"):], "query": query}
        if request.method == "POST" and route == "/classify":
            body = request.body or {}
            return 200, {"label": str(body.get("text", "")).upper(), "body": body}
        if request.method == "POST" and route == "/crash":
            return 500, {"error": {"type": "RuntimeError", "message": "route failed", "traceback": "Traceback ...\nRuntimeError: route failed\n"}}
        if route == "/busy":
            self.attempts["busy"] += 1
            if self.attempts["busy"] <= 1:
                return 503, {"error": "no workers"}
            return 200, {"ok": True}
        if route == "/invalid":
            return 422, {"detail": "text is required"}
        if route == "/empty":
            return 200, None
        return 404, {"detail": "Not Found"}


def _output(name: str, payload: dict[str, Any]) -> Any:
    if name == "add":
        return payload.get("a", 0) + payload.get("b", 0) + sum(payload.get("__args", []))
    if name == "slow":
        return "slow done"
    return {"echo": payload}


# --- the fake itself ---------------------------------------------------------------------------


def test_the_fake_answers_like_runpod() -> None:
    with FakeRunPod(token="t") as server:
        auth = {"Authorization": "Bearer t"}
        assert httpx.post(server.url + "/runsync", json={"input": {"__function": "add", "a": 1}}).status_code == 401
        done = httpx.post(server.url + "/runsync", json={"input": {"__function": "add", "a": 1, "b": 2}}, headers=auth).json()
        assert (done["status"], done["output"]) == ("COMPLETED", 3)
        slow = httpx.post(server.url + "/runsync", json={"input": {"__function": "slow", "polls": 1}}, headers=auth).json()
        assert slow["status"] == "IN_PROGRESS"
        assert httpx.get(f"{server.url}/status/{slow['id']}", headers=auth).json()["status"] == "COMPLETED"
        queued = httpx.post(server.url + "/run", json={"input": {"__function": "stuck"}}, headers=auth).json()
        assert queued == {"id": queued["id"], "status": "IN_QUEUE"}
        assert httpx.post(f"{server.url}/cancel/{queued['id']}", headers=auth).json()["status"] == "CANCELLED"
        failed = httpx.post(server.url + "/runsync", json={"input": {"__function": "explode"}}, headers=auth).json()
        assert failed["status"] == "FAILED" and json.loads(failed["error"]) == FAILURE
    assert [r.route for r in server.requests] == ["/runsync", "/runsync", "/runsync", f"/status/{slow['id']}", "/run", f"/cancel/{queued['id']}", "/runsync"]
    assert server.url.startswith("http://127.0.0.1:")
