"""Case 5: the local target. A trivial queue endpoint and a trivial load-balanced route are
deployed with ``flashc deploy --no-isolate``; we measure the sequential round trip (p50/p99)
and the throughput of 32 concurrent callers, and check that under load every call ran exactly
once (each worker appends the caller's tag to a record file). The reference is the runpod
worker SDK's local API server (``handler.py --rp_serve_api``) with the same trivial handler.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from ..measure import BenchError
from ..report import Row, failed, missing
from . import FLASHC, Context

CALLERS = 32
ENV = "bench"

PROJECT = '''\
from flashc import CpuInstanceType, Endpoint


@Endpoint(name="bench-echo", cpu=CpuInstanceType.CPU3C_1_2, workers=(1, 1))
async def echo(n: int, tag: str) -> dict:
    import os

    record = os.open({records!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(record, (tag + "\\n").encode())
    finally:
        os.close(record)
    return {{"n": n, "tag": tag}}


web = Endpoint(name="bench-web", cpu=CpuInstanceType.CPU3C_1_2, workers=(1, 1))


@web.post("/echo")
async def web_echo(n: int, tag: str) -> dict:
    import os

    record = os.open({web_records!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(record, (tag + "\\n").encode())
    finally:
        os.close(record)
    return {{"n": n, "tag": tag}}
'''

HANDLER = '''\
import runpod


def handler(job):
    job_input = job["input"]
    return {"n": job_input["n"], "tag": job_input["tag"]}


if __name__ == "__main__":
    runpod.serverless.start({"handler": handler})
'''


class Caller:
    """How one server is called: ``post(client, n, tag)`` returns the answer's ``(n, tag)``."""

    def __init__(self, url: str, headers: dict[str, str], queue: bool) -> None:
        self.url, self.headers, self.queue = url, headers, queue

    def body(self, n: int, tag: str) -> dict:
        return {"input": {"n": n, "tag": tag}} if self.queue else {"n": n, "tag": tag}

    def answer(self, response: httpx.Response) -> tuple[int, str]:
        if response.status_code != 200:
            raise BenchError(f"{self.url}: HTTP {response.status_code}: {response.text[:200]}")
        body = response.json()
        if self.queue:
            if body.get("status") != "COMPLETED":
                raise BenchError(f"{self.url}: {body}")
            body = body["output"]
        return body["n"], body["tag"]


def latencies(caller: Caller, calls: int, prefix: str) -> list[float]:
    """Sequential round trips on one kept-alive connection, ms, after 10 warm-up calls."""
    found = []
    with httpx.Client(headers=caller.headers, timeout=60, trust_env=False) as http:
        for n in range(-10, calls):
            tag = f"{prefix}-{n}"
            started = time.perf_counter()
            got = caller.answer(http.post(caller.url, json=caller.body(n, tag)))
            elapsed = (time.perf_counter() - started) * 1000
            if got != (n, tag):
                raise BenchError(f"{caller.url}: asked ({n}, {tag}), answered {got}")
            if n >= 0:
                found.append(elapsed)
    return found


async def _burst(caller: Caller, calls: int, prefix: str) -> tuple[float, int, int]:
    """``calls`` calls from :data:`CALLERS` concurrent callers: (calls per second, wrong answers, failures)."""
    limits = httpx.Limits(max_connections=CALLERS, max_keepalive_connections=CALLERS)
    wrong = failures = 0
    next_call = iter(range(calls))
    async with httpx.AsyncClient(headers=caller.headers, timeout=120, limits=limits, trust_env=False) as http:

        async def worker() -> None:
            nonlocal wrong, failures
            for n in next_call:
                tag = f"{prefix}-{n}"
                try:
                    got = caller.answer(await http.post(caller.url, json=caller.body(n, tag)))
                except (BenchError, httpx.HTTPError):
                    failures += 1
                    continue
                wrong += got != (n, tag)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CALLERS)))
        wall = time.perf_counter() - started
    return calls / wall, wrong, failures


def throughput(caller: Caller, calls: int, rounds: int, prefix: str) -> tuple[list[float], int, int]:
    rates, wrong, failures = [], 0, 0
    for r in range(rounds):
        rate, w, f = asyncio.run(_burst(caller, calls, f"{prefix}{r}"))
        rates.append(rate)
        wrong += w
        failures += f
    return rates, wrong, failures


def _tree_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MiB) of a process and its descendants now; zeros without psutil."""
    try:
        import psutil
    except ImportError:
        return 0.0, 0.0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0
    cpu = rss = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            cpu += times.user + times.system + times.children_user + times.children_system
            rss += process.memory_info().rss / 2**20
        except psutil.Error:
            pass
    return cpu, rss


def _measure(caller: Caller, pid: int, label: str, case_prefix: str, context: Context, records: Path | None) -> list[Row]:
    calls = 40 if context.quick else 300
    burst_calls = 64 if context.quick else 640
    rounds = 1 if context.quick else 3
    cpu_before, _ = _tree_usage(pid)
    wall_started = time.perf_counter()
    series = latencies(caller, calls, f"{case_prefix}-seq")
    cpu_after, rss = _tree_usage(pid)
    wall = time.perf_counter() - wall_started
    latency = Row("runtime", f"{label}: round trip", unit="ms", values=series, rss_mb=rss or None,
                  cpu=(cpu_after - cpu_before) / (calls + 10) if cpu_after else None, wall=wall / (calls + 10),
                  note="CPU s and wall s: per call, server side CPU (every process of it)")
    if records is not None:
        records.write_text("")
    rates, wrong, failures = throughput(caller, burst_calls, rounds, f"{case_prefix}-burst")
    note = f"{burst_calls} calls per round from {CALLERS} callers; wrong answers: {wrong}, failed calls: {failures}"
    loaded = Row("runtime", f"{label}: throughput, {CALLERS} callers", unit="/s", values=rates, note=note)
    if records is not None:
        counts = Counter(records.read_text().split())
        lost = sum(1 for r in range(rounds) for n in range(burst_calls) if counts.get(f"{case_prefix}-burst{r}-{n}", 0) == 0)
        duplicated = sum(1 for c in counts.values() if c > 1)
        loaded.note += f"; lost: {lost}, run twice: {duplicated}"
        loaded.target, loaded.met = "no lost or duplicated job", lost == 0 and duplicated == 0 and wrong == 0 and failures == 0
    return [latency, loaded]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flashc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "FLASHC_ENDPOINT_URL_")) and k != "PYTHONPATH"}
    return subprocess.run([*FLASHC, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def run_flashc(context: Context) -> list[Row]:
    root = context.work / "runtime-project"
    root.mkdir(parents=True, exist_ok=True)
    records, web_records = root / "records.txt", root / "web-records.txt"
    (root / "pyproject.toml").write_text('[project]\nname = "bench-runtime"\nversion = "0"\n', encoding="utf-8")
    (root / "work.py").write_text(PROJECT.format(records=str(records), web_records=str(web_records)), encoding="utf-8")
    context.progress("runtime: flashc deploy")
    deployed = _flashc("deploy", "--no-isolate", "--env", ENV, "--quiet", cwd=root)
    if deployed.returncode != 0:
        return [failed("runtime", "flashc local target", (deployed.stderr or deployed.stdout).strip()[-400:])]
    try:
        state = json.loads((root / ".flash" / "deployments" / f"{ENV}.json").read_text())
        headers = {"Authorization": f"Bearer {state['token']}"}
        queue = Caller(f"{state['endpoints']['bench-echo']['url']}/runsync", headers, queue=True)
        web = Caller(f"{state['url']}/lb/bench-web/echo", headers, queue=False)
        context.progress("runtime: flashc queue endpoint")
        rows = _measure(queue, state["pid"], "flashc queue endpoint (/runsync)", "q", context, records)
        context.progress("runtime: flashc load-balanced route")
        rows += _measure(web, state["pid"], "flashc load-balanced route", "lb", context, web_records)
        return rows
    except (BenchError, httpx.HTTPError, KeyError, OSError) as error:
        return [failed("runtime", "flashc local target", f"{type(error).__name__}: {error}")]
    finally:
        _flashc("undeploy", "--env", ENV, cwd=root)


def run_runpod(context: Context) -> list[Row]:
    import importlib.util

    if importlib.util.find_spec("runpod") is None:  # not imported here: it configures logging
        return [missing("runtime", "runpod worker SDK local API (peer)", "runpod is not installed (the `bench` extra installs it)")]
    root = context.work / "runpod-worker"
    root.mkdir(parents=True, exist_ok=True)
    (root / "handler.py").write_text(HANDLER, encoding="utf-8")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")}
    log = (root / "server.log").open("w")
    context.progress("runtime: runpod worker SDK local API server")
    server = subprocess.Popen(
        [sys.executable, "handler.py", "--rp_serve_api", "--rp_api_port", str(port), "--rp_api_host", "127.0.0.1", "--rp_log_level", "ERROR"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/runsync"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                raise BenchError(f"the runpod worker exited with {server.returncode}: {(root / 'server.log').read_text()[-400:]}")
            try:
                if httpx.post(url, json={"input": {"n": 0, "tag": "up"}}, timeout=5, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("the runpod worker's local API did not answer within 90 s")
            time.sleep(0.2)
        caller = Caller(url, {}, queue=True)
        return _measure(caller, server.pid, "runpod worker SDK local API (peer, /runsync)", "rp", context, None)
    except (BenchError, httpx.HTTPError) as error:
        return [failed("runtime", "runpod worker SDK local API (peer)", str(error))]
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def run(context: Context) -> tuple[str, list[Row]]:
    about = (
        f"Round trip: sequential calls on one kept-alive connection after 10 warm-up calls, p50 (median) and p99 in "
        f"the spread column. Throughput: {CALLERS} concurrent callers, several rounds. One worker per endpoint, as "
        "the runpod worker serves one process. Target: queue p50 no slower than the runpod worker's, and no lost or "
        "duplicated job under load."
    )
    ours = run_flashc(context)
    theirs = run_runpod(context)
    queue = next((r for r in ours if r.name.startswith("flashc queue endpoint") and "round trip" in r.name and r.values), None)
    peer = next((r for r in theirs if r.name.endswith("round trip") and r.values), None)
    if queue is not None:
        queue.target = "p50 ≤ runpod worker's"
        if peer is not None and queue.median is not None and peer.median is not None:
            queue.peer = f"{queue.median / peer.median:.2f}x runpod"
            queue.met = queue.median <= peer.median
        for row in ours:
            if "throughput" in row.name and peer is not None:
                their_rate = next((r for r in theirs if "throughput" in r.name and r.values), None)
                if their_rate is not None and row.median and their_rate.median:
                    row.peer = f"{row.median / their_rate.median:.2f}x runpod"
    return about, ours + theirs
