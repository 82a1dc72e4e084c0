"""The local target's supervisor: RunPod's serverless API on loopback, backed by worker processes.

Run in the foreground (the deploy command detaches it)::

    python -m flashc.deploy.local.supervisor --spec PATH

It reads the spec (:mod:`.spec`), listens (``host``/``port`` of the spec; port 0 picks a
free one), writes the runtime file beside the spec, then serves the API of :mod:`.api`
with one pool of workers per endpoint (:mod:`.pool`). SIGTERM, SIGINT or ``POST
/admin/shutdown`` stop every worker (asked first, killed after a grace period), remove the
runtime file and exit with 0. Exit code 1: it could not start (bad spec, port taken,
another supervisor already serves the spec).

Logs go to the spec's ``log_dir``: ``supervisor.log``, and ``<endpoint>.log`` with every
output line of the endpoint's workers, prefixed with the worker's id (``[w3] ...``). Both
are redacted (:mod:`flashc.deploy.redaction`): the token, the values of secret-looking
environment variables (the supervisor's and the endpoints' ``env``) and bearer tokens
become ``***``.

Every worker's environment is the supervisor's own (without ``PYTHONPATH``), then
``FLASHC_ENDPOINT_URL_<NAME>`` for every endpoint of the spec (so the client stubs in a
handler package call their sibling endpoints here) and ``FLASHC_API_KEY`` set to the token
(what those stubs send; a ``RUNPOD_API_KEY`` is left as it is), then the endpoint's ``env``
from the spec (which wins), then ``PYTHONUNBUFFERED=1`` and ``FLASHC_WORKER_ID``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Coroutine, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import httpx
import uvicorn
from flashc_runtime.client import url_variable

from ..redaction import Redactor, environment_secrets
from .api import SupervisorApp
from .jobs import JobStore
from .pool import Pool, ProcessWorkers, WorkerFactory
from .spec import (
    SCHEMA_VERSION,
    EndpointSpec,
    Spec,
    SpecError,
    load_spec,
    read_runtime,
    runtime_path,
    write_json_atomically,
)

__all__ = ["Supervisor", "main"]

LOGGER = "flashc.deploy.local"
TICK = 0.25
"""Seconds between scaling passes (idle timeouts are checked this often)."""
PROXY_KEEPALIVE = 8
"""Idle connections to load-balanced workers kept for reuse. Few: httpx's pool looks at every
connection it holds whenever a request starts or ends, so a large idle pool made each burst of
proxied requests after the first several times slower (200 at once: ~2 s instead of ~0.6 s)."""


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the supervisor handles SIGTERM/SIGINT itself."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def,override]
        yield


class EndpointLogs:
    """One append-only file per endpoint, every line prefixed with the worker's id."""

    def __init__(self, directory: Path, redact: Redactor | None = None) -> None:
        self.directory = directory
        self._files: dict[str, TextIO] = {}
        self.redact = redact or Redactor()

    def write(self, endpoint: str, worker_id: str, line: str) -> None:
        stream = self._files.get(endpoint)
        if stream is None:
            stream = open(self.directory / f"{endpoint}.log", "a", encoding="utf-8", errors="replace", buffering=1)  # noqa: SIM115
            self._files[endpoint] = stream
        with contextlib.suppress(OSError, ValueError):
            stream.write(f"[{worker_id}] {self.redact(line)}\n")

    def close(self) -> None:
        for stream in self._files.values():
            with contextlib.suppress(OSError):
                stream.close()
        self._files.clear()


class Supervisor:
    def __init__(self, spec_path: Path, spec: Spec, *, factory: WorkerFactory | None = None) -> None:
        self.spec_path = Path(spec_path).resolve()
        self.spec = spec
        self.pid = os.getpid()
        self.url = ""
        self.started_at = ""
        self.store = JobStore()
        self.pools: dict[str, Pool] = {}
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), limits=httpx.Limits(max_connections=None, max_keepalive_connections=PROXY_KEEPALIVE), trust_env=False)
        self.logs = EndpointLogs(spec.log_dir, _redactor(spec))
        self.log = logging.getLogger(LOGGER)
        self._factory = factory
        self._worker_ids = iter(range(1, sys.maxsize))
        self._stopping: asyncio.Event | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self, sock: socket.socket) -> int:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_shutdown)
        host, port = sock.getsockname()[:2]
        self.url = f"http://{_client_host(host)}:{port}"
        config = uvicorn.Config(
            SupervisorApp(self),
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
            server_header=False,  # proxied answers keep the worker's own
            date_header=False,
            proxy_headers=False,  # loopback only: no proxy in front whose X-Forwarded-* to apply on every request
        )
        server = _Server(config)
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if serving.done():
            self.log.error("the HTTP server did not start")
            return 1
        for endpoint in self.spec.endpoints:
            self._add(endpoint)
        self.started_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        write_json_atomically(runtime_path(self.spec_path), self._runtime())
        loop_name = type(loop).__module__.split(".")[0]  # "uvloop" or "asyncio"
        self.log.info("listening on %s (pid %d, %s loop), %d endpoint(s)", self.url, self.pid, loop_name, len(self.pools))
        ticker = asyncio.ensure_future(self._tick())
        try:
            await self._stopping.wait()
        finally:
            ticker.cancel()
            self.log.info("shutting down")
            await asyncio.gather(*(pool.close("the local supervisor shut down") for pool in self.pools.values()), return_exceptions=True)
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(serving, 10)
            await self.http.aclose()
            self._remove_runtime()
            self.logs.close()
            self.log.info("stopped")
        return 0

    def request_shutdown(self) -> None:
        if self._stopping is not None:
            asyncio.get_running_loop().call_later(0.05, self._stopping.set)  # let a reply go out first

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self.store.prune()
            for pool in self.pools.values():
                pool.reconcile()

    def _runtime(self) -> dict[str, Any]:
        port = self.url.rsplit(":", 1)[1]
        return {
            "schema_version": SCHEMA_VERSION,
            "pid": self.pid,
            "url": self.url,
            "host": self.spec.host,
            "port": int(port),
            "started_at": self.started_at,
            "spec": str(self.spec_path),
        }

    def _remove_runtime(self) -> None:
        current = read_runtime(self.spec_path)
        if current is not None and current.get("pid") == self.pid:
            with contextlib.suppress(OSError):
                runtime_path(self.spec_path).unlink()

    # -- endpoints ------------------------------------------------------------------------------

    def _worker_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        for endpoint in self.spec.endpoints:
            prefix = "/v2/" if endpoint.kind == "queue" else "/lb/"
            env[url_variable(endpoint.name)] = f"{self.url}{prefix}{endpoint.name}"
        env["FLASHC_API_KEY"] = self.spec.token  # what the runtime client sends (before RUNPOD_API_KEY)
        return env

    def _make_factory(self) -> WorkerFactory:
        if self._factory is not None:
            return self._factory
        return ProcessWorkers(self._worker_env(), self.logs.write, self.http)

    def _add(self, endpoint: EndpointSpec) -> None:
        pool = Pool(
            endpoint,
            self._make_factory(),
            store=self.store,
            log=lambda worker_id, text, name=endpoint.name: self._event(name, worker_id, text),
            next_id=lambda: f"w{next(self._worker_ids)}",
        )
        self.pools[endpoint.name] = pool
        self.log.info("endpoint %s (%s, digest %s): workers %d..%d", endpoint.name, endpoint.kind, endpoint.digest or "-", endpoint.workers_min, endpoint.workers_max)
        pool.reconcile()

    def _event(self, endpoint: str, worker_id: str, text: str) -> None:
        self.logs.write(endpoint, worker_id, text)
        self.log.info("%s %s: %s", endpoint, worker_id, text.removeprefix("flashc: "))

    async def reload(self) -> dict[str, Any]:
        """Re-read the spec: start added endpoints, stop removed ones, replace the workers of changed ones."""
        try:
            new = load_spec(self.spec_path)
        except SpecError as error:
            raise ValueError(str(error)) from None
        ignored = [key for key in ("host", "port", "token", "log_dir") if getattr(new, key) != getattr(self.spec, key)]
        old_names = set(self.pools)
        new_names = {e.name for e in new.endpoints}
        changes: dict[str, list[str]] = {"added": [], "removed": [], "replaced": [], "updated": [], "unchanged": [], "ignored": ignored}
        self.spec = Spec(token=self.spec.token, log_dir=self.spec.log_dir, endpoints=new.endpoints, host=self.spec.host, port=self.spec.port)
        self.logs.redact = _redactor(self.spec)
        for name in sorted(old_names - new_names):
            pool = self.pools.pop(name)
            self.log.info("endpoint %s removed", name)
            await pool.close(f"endpoint {name!r} was removed from the deployment")
            changes["removed"].append(name)
        factory = self._make_factory()
        for pool in self.pools.values():  # workers started from now on see every endpoint's URL
            pool.factory = factory
        for endpoint in new.endpoints:
            pool = self.pools.get(endpoint.name)
            if pool is None:
                self._add(endpoint)
                changes["added"].append(endpoint.name)
            elif pool.spec.kind != endpoint.kind:
                await pool.close(f"endpoint {endpoint.name!r} changed its kind")
                self._add(endpoint)
                changes["replaced"].append(endpoint.name)
            elif pool.spec.process_key != endpoint.process_key:
                self.log.info("endpoint %s changed (digest %s -> %s): replacing its workers", endpoint.name, pool.spec.digest or "-", endpoint.digest or "-")
                pool.replace(endpoint)
                changes["replaced"].append(endpoint.name)
            elif pool.spec != endpoint:
                pool.update(endpoint)
                changes["updated"].append(endpoint.name)
            else:
                changes["unchanged"].append(endpoint.name)
        if ignored:
            self.log.warning("reload ignores changes of %s (restart the supervisor for them)", ", ".join(ignored))
        return changes

    def status(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "url": self.url,
            "started_at": self.started_at,
            "spec": str(self.spec_path),
            "endpoints": {
                name: {**pool.status(), "url": f"{self.url}{'/v2/' if pool.spec.kind == 'queue' else '/lb/'}{name}"}
                for name, pool in sorted(self.pools.items())
            },
        }


def _redactor(spec: Spec) -> Redactor:
    """What the logs must not show: the token and every secret-looking variable workers get."""
    secrets = {spec.token, *environment_secrets()}
    for endpoint in spec.endpoints:
        secrets.update(environment_secrets(endpoint.env))
    return Redactor(secrets)


class _RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, redact: Redactor) -> None:
        super().__init__(fmt)
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


def _client_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # accepted sockets that say they are TCP. With it on, an answer written as headers then
    # body waits for the client's delayed ACK: about 40 ms per request on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def _setup_logging(log_dir: Path, redact: Redactor | None = None) -> None:
    handler = logging.FileHandler(log_dir / "supervisor.log", encoding="utf-8")
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", redact or Redactor()))
    for name in (LOGGER, "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler] if name != "uvicorn.error" else []
        logger.setLevel(logging.INFO)
        logger.propagate = name == "uvicorn.error"


def _already_running(spec_path: Path) -> dict[str, Any] | None:
    """The runtime file of another live supervisor of this spec (a stale file is ignored)."""
    runtime = read_runtime(spec_path)
    pid = runtime.get("pid") if runtime else None
    if not isinstance(pid, int) or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:  # where /proc tells, a reused pid is no supervisor
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return runtime
    return runtime if b"flashc.deploy.local.supervisor" in command else None


def _run_loop(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run``, on uvloop where it is installed (as uvicorn itself would choose).

    Each ``runsync`` round trip takes the supervisor through its event loop several times
    (the request, the worker's answer, the reply); uvloop's passes are cheaper.
    """
    if os.environ.get("FLASHC_LOOP", "auto") != "asyncio":
        try:
            import uvloop
        except ImportError:
            uvloop = None
        run = getattr(uvloop, "run", None)  # uvloop 0.18 and later
        if run is not None:
            return int(run(main))
    return asyncio.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flashc.deploy.local.supervisor", description="Serve RunPod's serverless API on loopback with local worker processes.")
    parser.add_argument("--spec", required=True, type=Path, help="the JSON spec written by the deploy command")
    args = parser.parse_args(argv)
    spec_path: Path = args.spec.resolve()
    try:
        spec = load_spec(spec_path)
        spec.log_dir.mkdir(parents=True, exist_ok=True)
    except (SpecError, OSError) as error:
        print(f"flashc supervisor: {error}", file=sys.stderr)
        return 1
    _setup_logging(spec.log_dir, _redactor(spec))
    log = logging.getLogger(LOGGER)
    running = _already_running(spec_path)
    if running is not None:
        message = f"another supervisor (pid {running.get('pid')}) serves this spec at {running.get('url')}; remove {runtime_path(spec_path)} if it is gone"
        log.error(message)
        print(f"flashc supervisor: {message}", file=sys.stderr)
        return 1
    try:
        sock = _listen(spec.host, spec.port)
    except OSError as error:
        message = f"cannot listen on {spec.host}:{spec.port}: {error.strerror or error}"
        log.error(message)
        print(f"flashc supervisor: {message}", file=sys.stderr)
        return 1
    started = time.monotonic()
    supervisor = Supervisor(spec_path, spec)
    try:
        code = _run_loop(supervisor.run(sock))
    finally:
        supervisor._remove_runtime()
    log.info("exit %d after %.1f s", code, time.monotonic() - started)
    return code


if __name__ == "__main__":
    sys.exit(main())
