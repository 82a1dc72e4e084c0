"""The local supervisor under load: bursts of 200 concurrent calls against one real supervisor
process with real workers, over loopback.

Every worker appends the tag of each input it runs to a record file, so the tests can tell
that every input ran exactly once (nothing lost, nothing run twice), and every answer must be
the value computed from its caller's own input. Oversized and pickled arguments are mixed into
the bursts: the rules that hold for one call hold under load too. At the end nothing started
here is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flashc_runtime import client
from flashc_runtime.sdk.exceptions import (
    PayloadTooLargeError,
    RemoteExecutionError,
    SerializationError,
)
from support import clean_env

from flashc import api
from flashc.deploy.local import runtime_path
from flashc.deploy.local.supervisor import PROXY_KEEPALIVE, _listen

TOKEN = "load-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BURST = 200
WORKERS_MAX = 3
CONCURRENCY = 8
OVERSIZED = 11 * 1024 * 1024  # characters of a string argument: more than the 10 MiB one argument may carry
LARGE = 8 * 1024 * 1024  # ... and one that is large but allowed

PROJECT = '''\
from flashc import CpuInstanceType, Endpoint

web = Endpoint(name="loadweb", cpu=CpuInstanceType.CPU3C_1_2, workers=(1, 3), max_concurrency=8)


@Endpoint(name="load", cpu=CpuInstanceType.CPU3C_1_2, workers=(1, 3), max_concurrency=8)
async def work(n: int, tag: str, extra: object = None) -> dict:
    import asyncio
    import os
    import random

    await asyncio.sleep(random.uniform(0.005, 0.05))
    record = os.open(os.path.join(os.environ["LOAD_RECORDS"], "load"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(record, (tag + "\\n").encode())
    finally:
        os.close(record)
    shape = len(extra) if isinstance(extra, str) else sorted(extra) if extra is not None else None
    return {"tag": tag, "value": n * 3 + 1, "extra": shape, "pid": os.getpid()}


@Endpoint(name="pickled", cpu=CpuInstanceType.CPU3C_1_2, workers=(0, 1), max_concurrency=8)
async def take(n: int, tag: str, extra: object = None) -> dict:
    import os

    record = os.open(os.path.join(os.environ["LOAD_RECORDS"], "pickled"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(record, (tag + "\\n").encode())
    finally:
        os.close(record)
    return {"tag": tag, "value": n * 3 + 1, "extra": sorted(extra) if extra is not None else None}


@web.post("/work")
async def web_work(n: int, tag: str) -> dict:
    import asyncio
    import os
    import random

    await asyncio.sleep(random.uniform(0.005, 0.05))
    record = os.open(os.path.join(os.environ["LOAD_RECORDS"], "loadweb"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(record, (tag + "\\n").encode())
    finally:
        os.close(record)
    return {"tag": tag, "value": n * 3 + 1, "pid": os.getpid()}
'''


def expected(n: int) -> int:
    return n * 3 + 1


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(what: str, count: int, wall: float, latencies: list[float], per: str = "per call") -> None:
    """One line of numbers (shown with ``pytest -s``; docs/robustness.md quotes them)."""
    line = (
        f"{what}: {count} in {wall:.2f} s wall, {per} p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    print(line)


def processes_under(path: Path) -> list[int]:
    """Live processes whose working directory or command line is inside ``path``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state != "Z" and (cwd.startswith(str(path)) or str(path) in cmdline):
            found.append(int(entry.name))
    return found


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Deployment:
    """One supervisor process, its records, and a synchronous client for set-up and checks."""

    def __init__(self, root: Path, spec: Path, records: Path, process: subprocess.Popen[bytes], output: Path) -> None:
        self.root = root
        self.spec = spec
        self.records = records
        self.process = process
        self.output = output
        deadline = time.monotonic() + 30
        while not runtime_path(spec).exists():
            if process.poll() is not None:
                pytest.fail(f"the supervisor exited with {process.returncode}:\n{output.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail("the supervisor wrote no runtime file within 30 s")
            time.sleep(0.05)
        self.url: str = json.loads(runtime_path(spec).read_text())["url"]
        self.http = httpx.Client(base_url=self.url, headers=AUTH, timeout=30, trust_env=False)

    def status(self) -> dict[str, Any]:
        response = self.http.get("/admin/status")
        assert response.status_code == 200, response.text
        return response.json()

    def ready(self, endpoint: str) -> list[dict[str, Any]]:
        return [w for w in self.status()["endpoints"][endpoint]["worker_list"] if w["state"] == "ready"]

    def totals(self, endpoint: str) -> dict[str, int]:
        return self.status()["endpoints"][endpoint]["totals"]

    def ran(self, endpoint: str) -> Counter[str]:
        """How often each tag ran on ``endpoint``'s workers."""
        path = self.records / endpoint
        return Counter(path.read_text().split()) if path.exists() else Counter()

    def stop(self) -> int:
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            pytest.fail("the supervisor did not exit within 20 s of SIGTERM")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("load")
    project = root / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "load"\nversion = "0"\n')
    (project / "work.py").write_text(PROJECT)
    result = api.build(project, api.BuildOptions(install_dependencies=False))
    assert result.package is not None, [d.message for d in result.gate.diagnostics]
    built = project / ".flash"
    digests = json.loads((built / "flash_manifest.json").read_text())["flashc"]["endpoint_digests"]
    records = root / "records"
    records.mkdir()

    def endpoint(name: str, kind: str, workers_min: int, workers_max: int, **env: str) -> dict[str, Any]:
        return {
            "name": name,
            "kind": kind,
            "package_dir": str(built / "endpoints" / name),
            "python": sys.executable,
            "env": {"LOAD_RECORDS": str(records), **env},
            "digest": digests[name],
            "workers_min": workers_min,
            "workers_max": workers_max,
            "idle_timeout": 60,
            "max_concurrency": CONCURRENCY,
            "execution_timeout_ms": 0,
            "startup_timeout": 30,
        }

    spec = root / "local.json"
    spec.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "host": "127.0.0.1",
                "port": 0,
                "token": TOKEN,
                "log_dir": str(root / "logs"),
                "endpoints": [
                    endpoint("load", "queue", 1, WORKERS_MAX),
                    endpoint("pickled", "queue", 0, 1, FLASHC_PICKLE_PICKLED="1"),
                    endpoint("loadweb", "load-balanced", 1, WORKERS_MAX),
                ],
            }
        )
    )
    output = root / "supervisor.out"
    env = {k: v for k, v in clean_env().items() if not k.startswith("FLASHC_") or k == "FLASHC_CACHE_DIR"}
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flashc.deploy.local.supervisor", "--spec", str(spec)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        running = Deployment(root, spec, records, process, output)
    except BaseException:
        process.kill()
        process.wait(timeout=10)
        raise
    try:
        deadline = time.monotonic() + 30
        while not (running.ready("load") and running.ready("loadweb")):  # workers_min are warm
            assert time.monotonic() < deadline, "the warm workers did not start within 30 s"
            time.sleep(0.05)
        started_here = set(processes_under(root))
        assert process.pid in started_here and {w["pid"] for w in running.ready("load")} <= started_here  # the check below sees them
        yield running
    finally:
        code = running.stop()
        deadline = time.monotonic() + 10
        while processes_under(root) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_under(root) == [], "processes left running under the test's directory"
        assert code == 0, output.read_text()
        assert not runtime_path(spec).exists()


@pytest.fixture
def client_env(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runtime client reaches the deployment through its environment, and may send pickles."""
    monkeypatch.setenv(client.url_variable("load"), f"{deployment.url}/v2/load")
    monkeypatch.setenv(client.url_variable("pickled"), f"{deployment.url}/v2/pickled")
    monkeypatch.setenv("FLASHC_API_KEY", TOKEN)
    monkeypatch.setenv(client.pickle_variable("load"), "1")  # the client may send them; the endpoint refuses
    monkeypatch.setenv(client.pickle_variable("pickled"), "1")
    monkeypatch.setenv(client.timeout_variable("load"), "40")
    monkeypatch.setenv(client.timeout_variable("pickled"), "40")


async def watch_workers(url: str, endpoint: str, stop: asyncio.Event) -> list[int]:
    """How many workers ``endpoint`` had (in any state but exited), every 50 ms until ``stop``."""
    seen: list[int] = []
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10, trust_env=False) as http:
        while not stop.is_set():
            status = (await http.get("/admin/status")).json()
            seen.append(len(status["endpoints"][endpoint]["worker_list"]))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)
    return seen


def run(coroutine: Any, limit: float = 45.0) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, limit))


# --- queue endpoints -------------------------------------------------------------------------


def test_a_burst_of_client_calls_with_oversized_and_pickled_arguments(deployment: Deployment, client_env: None) -> None:
    before = {name: deployment.totals(name) for name in ("load", "pickled")}
    prefix = "client"
    oversized = {7, 70, 170}  # these fail before anything is sent
    refused = {11, 111}  # pickled arguments to an endpoint that does not accept them
    large = {13, 113}  # large arguments within the limit
    accepted = range(5)  # pickled arguments to one that does
    big = "x" * OVERSIZED

    async def one(n: int) -> tuple[float, Any]:
        started = time.perf_counter()
        arguments: dict[str, Any] = {"n": n, "tag": f"{prefix}-{n}"}
        if n in oversized:
            arguments["extra"] = big
        elif n in refused:
            arguments["extra"] = {n, n + 1}  # a set: JSON cannot carry it
        elif n in large:
            arguments["extra"] = "y" * LARGE
        try:
            outcome: Any = await client.call("load", "work", arguments)
        except Exception as error:  # noqa: BLE001 -- checked below
            outcome = error
        return time.perf_counter() - started, outcome

    async def pickled(n: int) -> Any:
        return await client.call("pickled", "take", {"n": n, "tag": f"pickled-{n}", "extra": {n, -n, 100}})

    async def burst() -> tuple[float, list[tuple[float, Any]], list[Any], list[int]]:
        stop = asyncio.Event()
        watcher = asyncio.ensure_future(watch_workers(deployment.url, "load", stop))
        started = time.perf_counter()
        try:
            results, side = await asyncio.gather(
                asyncio.gather(*(one(n) for n in range(BURST))), asyncio.gather(*(pickled(n) for n in accepted))
            )
        finally:
            stop.set()
        wall = time.perf_counter() - started
        return wall, results, side, await watcher

    wall, results, side, sizes = run(burst())
    latencies = []
    for n, (seconds, outcome) in enumerate(results):
        if n in oversized:
            assert isinstance(outcome, PayloadTooLargeError) and isinstance(outcome, SerializationError), outcome
            assert "'extra'" in str(outcome)
        elif n in refused:
            assert isinstance(outcome, RemoteExecutionError), outcome
            assert outcome.error_type == "flashc_runtime.sdk.exceptions.SerializationError", outcome
            assert "does not accept cloudpickle" in outcome.message
        else:
            assert isinstance(outcome, dict), outcome
            shape = LARGE if n in large else None
            assert (outcome["tag"], outcome["value"], outcome["extra"]) == (f"{prefix}-{n}", expected(n), shape)
            latencies.append(seconds)
    assert side == [{"tag": f"pickled-{n}", "value": expected(n), "extra": sorted({n, -n, 100})} for n in accepted]

    ran = deployment.ran("load")
    mine = {tag: count for tag, count in ran.items() if tag.startswith(prefix + "-")}
    assert mine == {f"{prefix}-{n}": 1 for n in range(BURST) if n not in oversized | refused}  # once each, the others never
    assert deployment.ran("pickled") == Counter(f"pickled-{n}" for n in accepted)
    pids = {outcome["pid"] for _, outcome in results if isinstance(outcome, dict)}
    assert 1 <= len(pids) <= WORKERS_MAX
    assert max(sizes) == WORKERS_MAX, sizes  # the burst scaled the endpoint up, never past its maximum
    after = deployment.totals("load")
    assert after["completed"] - before["load"]["completed"] == BURST - len(oversized) - len(refused)
    assert after["failed"] - before["load"]["failed"] == len(refused)  # the oversized ones never arrived
    report(f"client.call, queue endpoint, {BURST} concurrent (workers seen: max {max(sizes)}, pids {len(pids)})", BURST, wall, latencies)


def test_a_burst_of_raw_runs_then_status_polling(deployment: Deployment) -> None:
    before = deployment.totals("load")
    prefix = "raw"

    async def burst() -> tuple[float, dict[str, int], dict[str, dict[str, Any]], list[int]]:
        stop = asyncio.Event()
        watcher = asyncio.ensure_future(watch_workers(deployment.url, "load", stop))
        limits = httpx.Limits(max_connections=BURST + 10, max_keepalive_connections=BURST + 10)
        async with httpx.AsyncClient(base_url=deployment.url, headers=AUTH, timeout=30, limits=limits, trust_env=False) as http:
            started = time.perf_counter()

            async def submit(n: int) -> tuple[str, int]:
                response = await http.post("/v2/load/run", json={"input": {"n": n, "tag": f"{prefix}-{n}"}})
                assert response.status_code == 200, response.text
                body = response.json()
                assert body["status"] == "IN_QUEUE", body
                return body["id"], n

            ids = dict(await asyncio.gather(*(submit(n) for n in range(BURST))))

            async def poll(job_id: str) -> dict[str, Any]:
                while True:
                    response = await http.get(f"/v2/load/status/{job_id}")
                    assert response.status_code == 200, response.text
                    job = response.json()
                    if job["status"] not in ("IN_QUEUE", "IN_PROGRESS"):
                        return job
                    await asyncio.sleep(0.1 + random.random() * 0.1)

            jobs = dict(zip(ids, await asyncio.gather(*(poll(job_id) for job_id in ids))))
            wall = time.perf_counter() - started
        stop.set()
        return wall, ids, jobs, await watcher

    wall, ids, jobs, sizes = run(burst())
    assert len(ids) == BURST  # every id distinct
    for job_id, n in ids.items():
        job = jobs[job_id]
        assert (job["id"], job["status"]) == (job_id, "COMPLETED"), job
        assert (job["output"]["tag"], job["output"]["value"]) == (f"{prefix}-{n}", expected(n))
    ran = deployment.ran("load")
    assert {tag: count for tag, count in ran.items() if tag.startswith(prefix + "-")} == {f"{prefix}-{n}": 1 for n in range(BURST)}
    assert max(sizes) == WORKERS_MAX, sizes
    assert len({job["workerId"] for job in jobs.values()}) <= WORKERS_MAX
    assert deployment.totals("load")["completed"] - before["completed"] == BURST
    runs = [(job["delayTime"] + job["executionTime"]) / 1000 for job in jobs.values()]
    report(f"/run + status polling, queue endpoint, {BURST} concurrent (workers seen: max {max(sizes)})", BURST, wall, runs, "queue wait + run")


# --- load-balanced endpoints -----------------------------------------------------------------


def test_bursts_of_load_balanced_requests(deployment: Deployment) -> None:
    supervisor_pid = deployment.status()["pid"]
    descriptors = [open_descriptors(supervisor_pid)]

    async def burst(prefix: str) -> tuple[float, list[tuple[float, httpx.Response]], list[int]]:
        stop = asyncio.Event()
        watcher = asyncio.ensure_future(watch_workers(deployment.url, "loadweb", stop))
        limits = httpx.Limits(max_connections=BURST + 10, max_keepalive_connections=BURST + 10)
        async with httpx.AsyncClient(base_url=deployment.url, headers=AUTH, timeout=30, limits=limits, trust_env=False) as http:

            async def one(n: int) -> tuple[float, httpx.Response]:
                started = time.perf_counter()
                response = await http.post("/lb/loadweb/work", json={"n": n, "tag": f"{prefix}-{n}"})
                return time.perf_counter() - started, response

            started = time.perf_counter()
            results = await asyncio.gather(*(one(n) for n in range(BURST)))
            wall = time.perf_counter() - started
        stop.set()
        return wall, results, await watcher

    for prefix in ("lb", "lb2"):  # the first meets one warm worker, the second three
        wall, results, sizes = run(burst(prefix))
        for n, (_, response) in enumerate(results):
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["tag"], body["value"]) == (f"{prefix}-{n}", expected(n))
        ran = deployment.ran("loadweb")
        assert {tag: count for tag, count in ran.items() if tag.startswith(prefix + "-")} == {f"{prefix}-{n}": 1 for n in range(BURST)}
        assert max(sizes) == WORKERS_MAX, sizes
        pids = {response.json()["pid"] for _, response in results}
        assert len(pids) <= WORKERS_MAX
        report(f"load-balanced POST, {BURST} concurrent (workers seen: max {max(sizes)}, pids {len(pids)})", BURST, wall, [s for s, _ in results])
        time.sleep(0.3)  # the burst's connections are closed on both sides
        descriptors.append(open_descriptors(supervisor_pid))
    print(f"supervisor descriptors: {descriptors[0]} before, {descriptors[1]} after one burst, {descriptors[2]} after two")
    # No descriptor per request: what stays open after a burst is the proxy's small keep-alive
    # pool (a few more: a worker started by the burst, its pipes), and a second burst adds nothing.
    assert descriptors[1] <= descriptors[0] + PROXY_KEEPALIVE + 10, descriptors
    assert descriptors[2] <= descriptors[1] + 5, descriptors


# --- the supervisor's sockets ----------------------------------------------------------------


def test_the_listening_socket_lets_asyncio_disable_nagle() -> None:
    async def accepted_nodelay() -> int:
        sock = _listen("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted = writer.get_extra_info("socket")
            seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(connected, sock=sock)
        try:
            _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            value = await asyncio.wait_for(seen, 5)
            writer.close()
            return value
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(accepted_nodelay()) != 0


def test_no_worker_crashed_under_load(deployment: Deployment) -> None:
    """Runs last: every worker the bursts started is still the one that serves (none died, none was replaced)."""
    for endpoint in ("load", "loadweb"):
        log = (deployment.root / "logs" / f"{endpoint}.log").read_text()
        assert "exited with" not in log and "could not start" not in log and "protocol error" not in log, log[-2000:]
        assert len(deployment.ready(endpoint)) == WORKERS_MAX
