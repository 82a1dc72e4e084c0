"""The local supervisor as it runs: a built project, a spec, ``python -m flashc.deploy.local.supervisor``
as a real process with real workers, called over loopback HTTP. Every process started here is
stopped, and the tests check that none is left."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import clean_env

from flashc import api
from flashc.deploy.local import runtime_path

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

WORK = '''\
from flashc import CpuInstanceType, Endpoint

jobs = Endpoint(name="jobs", cpu=CpuInstanceType.CPU3C_1_2, workers=(1, 3))


@jobs
def add(a: int, b: int = 2) -> int:
    return a + b


@jobs
async def greet(name: str) -> str:
    import asyncio

    await asyncio.sleep(0)
    print("greeting", name)
    return f"hello {name}"


@jobs
def boom(message: str) -> None:
    raise ValueError(message)


@jobs
async def nap(seconds: float) -> float:
    import asyncio

    await asyncio.sleep(seconds)
    return seconds


@jobs
def die(code: int = 1) -> None:
    import os

    os._exit(code)


@jobs
def pid() -> int:
    import os

    return os.getpid()


@jobs
def odd() -> object:
    return object()


@jobs
def setting(name: str) -> str | None:
    import os

    return os.environ.get(name)
'''

OTHER = '''\
from flashc import CpuInstanceType, Endpoint


@Endpoint(name="model", cpu=CpuInstanceType.CPU3C_1_2)
class Model:
    def __init__(self) -> None:
        self.factor = 3

    def scale(self, x: float) -> float:
        return x * self.factor


web = Endpoint(name="web", cpu=CpuInstanceType.CPU3C_1_2)


@web.get("/items/{item_id}")
async def item(item_id: int, verbose: bool = False) -> dict:
    return {"item_id": item_id, "verbose": verbose}


@web.post("/echo")
def echo(text: str) -> dict:
    return {"text": text, "upper": text.upper()}


@Endpoint(name="caller", cpu=CpuInstanceType.CPU3C_1_2)
async def call_add(a: int) -> int:
    from work import add

    return await add(a, b=10)
'''


# --- helpers -------------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


class Running:
    """A supervisor process started by a test, and what it wrote."""

    def __init__(self, spec_path: Path, process: subprocess.Popen[bytes], output: Path) -> None:
        self.spec_path = spec_path
        self.process = process
        self.output = output
        runtime = wait_for(self._runtime, 20, "the runtime file")
        self.url: str = runtime["url"]
        self.runtime = runtime
        self.client = httpx.Client(base_url=self.url, headers=AUTH, timeout=30, trust_env=False)

    def _runtime(self) -> dict[str, Any] | None:
        if self.process.poll() is not None:
            pytest.fail(f"the supervisor exited with {self.process.returncode}:\n{self.output.read_text()}")
        path = runtime_path(self.spec_path)
        return json.loads(path.read_text()) if path.exists() else None

    def status(self) -> dict[str, Any]:
        response = self.client.get("/admin/status")
        assert response.status_code == 200, response.text
        return response.json()

    def workers(self, endpoint: str, states: tuple[str, ...] = ("ready",)) -> list[dict[str, Any]]:
        return [w for w in self.status()["endpoints"][endpoint]["worker_list"] if w["state"] in states]

    def all_pids(self) -> set[int]:
        return {w["pid"] for e in self.status()["endpoints"].values() for w in e["worker_list"] if w["pid"]}

    def run(self, endpoint: str, payload: dict[str, Any]) -> str:
        response = self.client.post(f"/v2/{endpoint}/run", json={"input": payload})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "IN_QUEUE" and body["id"]
        return body["id"]

    def runsync(self, endpoint: str, payload: dict[str, Any], **params: Any) -> dict[str, Any]:
        response = self.client.post(f"/v2/{endpoint}/runsync", json={"input": payload}, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def job(self, endpoint: str, job_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v2/{endpoint}/status/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def finished(self, endpoint: str, job_id: str, timeout: float = 15.0) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            job = self.job(endpoint, job_id)
            return job if job["status"] not in ("IN_QUEUE", "IN_PROGRESS") else None

        return wait_for(done, timeout, f"job {job_id}")

    def terminate(self) -> int:
        """SIGTERM, then check that it and every worker it ran are gone."""
        pids = self.all_pids() if self.process.poll() is None else set()
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            pytest.fail("the supervisor did not exit within 20 s of SIGTERM")
        wait_for(lambda: not any(alive(pid) for pid in pids), 5, f"workers {sorted(pids)} to be gone")
        return code


def write_spec(path: Path, built: Path, log_dir: Path, endpoints: dict[str, dict[str, Any]]) -> Path:
    digests = json.loads((built / "flash_manifest.json").read_text())["flashc"]["endpoint_digests"]
    entries = []
    for name, settings in endpoints.items():
        package = settings.pop("package", name)
        entries.append(
            {
                "name": name,
                "kind": "load-balanced" if package == "web" else "queue",
                "package_dir": str(built / "endpoints" / package),
                "python": sys.executable,
                "env": {"GREETING_SOURCE": name},
                "digest": settings.pop("digest") if "digest" in settings else digests[package],
                "workers_min": 0,
                "workers_max": 1,
                "idle_timeout": 30,
                "max_concurrency": 1,
                "execution_timeout_ms": 0,
                **settings,
            }
        )
    spec = {"schema_version": 1, "host": "127.0.0.1", "port": 0, "token": TOKEN, "log_dir": str(log_dir), "endpoints": entries}
    path.write_text(json.dumps(spec, indent=2))
    return path


def start(spec_path: Path, **env: str) -> Running:
    output = spec_path.with_suffix(".out")
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flashc.deploy.local.supervisor", "--spec", str(spec_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(PYTHONPATH=str(Path(spec_path).parent / "not-for-workers"), **env),
        )
    try:
        return Running(spec_path, process, output)
    except BaseException:
        process.kill()
        process.wait(timeout=10)
        raise


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("supervised")
    (root / "pyproject.toml").write_text('[project]\nname = "supervised"\nversion = "0"\n')
    (root / "work.py").write_text(WORK)
    (root / "other.py").write_text(OTHER)
    result = api.build(root, api.BuildOptions(install_dependencies=False))
    assert result.package is not None, [d.message for d in result.gate.diagnostics]
    built = root / ".flash"
    broken = built / "endpoints" / "broken"  # a handler package whose import fails
    shutil.copytree(built / "endpoints" / "jobs", broken)
    (broken / "_flashc_handler.py").write_text('raise ImportError("no numpy here")\n')
    return built


@pytest.fixture(scope="module")
def supervisor(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    where = tmp_path_factory.mktemp("supervisor")
    spec = write_spec(
        where / "local.json",
        built,
        where / "logs",
        {
            "jobs": {"workers_min": 1, "workers_max": 2},
            "burst": {"package": "jobs", "workers_max": 3, "idle_timeout": 1},
            "slow": {"package": "jobs", "execution_timeout_ms": 1000},
            "single": {"package": "jobs"},
            "model": {},
            "caller": {},
            "broken": {"package": "broken", "digest": "x"},
            "web": {"workers_min": 1, "workers_max": 2},
            "web-broken": {"package": "web", "python": str(where / "no-such-python")},
        },
    )
    running = start(spec)
    try:
        yield running
    finally:
        assert running.terminate() == 0
        assert not runtime_path(spec).exists()


# --- the API -------------------------------------------------------------------------------------


def test_runtime_file_and_loopback(supervisor: Running) -> None:
    runtime = supervisor.runtime
    assert runtime["pid"] == supervisor.process.pid
    assert runtime["url"].startswith("http://127.0.0.1:") and runtime["port"] == int(runtime["url"].rsplit(":", 1)[1])
    assert runtime["started_at"].endswith("Z")


def test_every_route_needs_the_token(supervisor: Running) -> None:
    for method, path in [("GET", "/admin/status"), ("POST", "/v2/jobs/runsync"), ("GET", "/v2/jobs/health"), ("GET", "/lb/web/ping"), ("GET", "/nowhere")]:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + TOKEN}):
            response = httpx.request(method, supervisor.url + path, headers=headers, json={"input": {}}, timeout=10)
            assert response.status_code == 401, (method, path, headers)
            assert "token" in response.json()["error"]
    assert httpx.get(supervisor.url + "/v2/jobs/health", headers={"Authorization": TOKEN}, timeout=10).status_code == 200


def test_runsync_sync_async_and_class_functions(supervisor: Running) -> None:
    job = supervisor.runsync("jobs", {"__function": "add", "a": 2, "b": 3})
    assert job["status"] == "COMPLETED" and job["output"] == 5
    assert set(job) >= {"id", "status", "output", "delayTime", "executionTime"}
    assert isinstance(job["delayTime"], int) and isinstance(job["executionTime"], int)
    assert supervisor.runsync("jobs", {"__function": "greet", "name": "ada"})["output"] == "hello ada"
    assert supervisor.runsync("model", {"method": "scale", "x": 2})["output"] == 6  # a cold start
    assert supervisor.job("jobs", job["id"])["output"] == 5  # finished jobs are kept


def test_run_then_status(supervisor: Running) -> None:
    job_id = supervisor.run("jobs", {"__function": "add", "a": 40})
    job = supervisor.finished("jobs", job_id)
    assert (job["id"], job["status"], job["output"]) == (job_id, "COMPLETED", 42)
    assert supervisor.client.post(f"/v2/jobs/status/{job_id}").json()["output"] == 42  # POST too, like the runpod SDK
    assert supervisor.client.get("/v2/jobs/status/no-such-job").status_code == 404
    assert supervisor.client.get(f"/v2/model/status/{job_id}").status_code == 404  # another endpoint's job


def test_runsync_returns_the_current_state_when_the_wait_is_over(supervisor: Running) -> None:
    job = supervisor.runsync("jobs", {"__function": "nap", "seconds": 0.6}, wait=100)
    assert job["status"] in ("IN_QUEUE", "IN_PROGRESS") and "output" not in job
    assert supervisor.finished("jobs", job["id"])["output"] == 0.6


def test_failed_jobs_carry_a_runpod_error_string(supervisor: Running) -> None:
    job = supervisor.runsync("jobs", {"__function": "boom", "message": "no good"})
    assert job["status"] == "FAILED" and "output" not in job
    error = json.loads(job["error"])
    assert error["error_type"] == "builtins.ValueError"
    assert error["error_message"] == "no good"
    assert "Traceback" in error["error_traceback"] and "raise ValueError(message)" in error["error_traceback"]
    wrong = json.loads(supervisor.runsync("jobs", {"__function": "nope"})["error"])
    assert wrong["error_type"] == "flashc_runtime.errors.InvalidInputError" and "nope" in wrong["error_message"]
    odd = json.loads(supervisor.runsync("jobs", {"__function": "odd"})["error"])
    assert "not JSON-serialisable" in odd["error_message"]


def test_the_input_must_be_an_object(supervisor: Running) -> None:
    for body in ({"input": [1, 2]}, {"nope": 1}, [1], {"input": "x"}):
        response = supervisor.client.post("/v2/jobs/runsync", json=body)
        assert response.status_code == 400, body
        assert "input" in response.json()["error"]
    response = supervisor.client.post("/v2/jobs/run", content=b"{not json")
    assert response.status_code == 400
    assert supervisor.client.post("/v2/missing/run", json={"input": {}}).status_code == 404
    assert supervisor.client.post("/v2/web/run", json={"input": {}}).status_code == 404
    assert supervisor.client.get("/v2/jobs/run").status_code == 405


def test_cancel_a_running_and_a_waiting_job(supervisor: Running) -> None:
    running = supervisor.run("single", {"__function": "nap", "seconds": 5})
    wait_for(lambda: supervisor.job("single", running)["status"] == "IN_PROGRESS", what="the first job to start")
    waiting = supervisor.run("single", {"__function": "add", "a": 1})
    assert supervisor.job("single", waiting)["status"] == "IN_QUEUE"
    assert supervisor.client.post(f"/v2/single/cancel/{waiting}").json() == {"id": waiting, "status": "CANCELLED"}
    assert supervisor.client.post(f"/v2/single/cancel/{running}").json() == {"id": running, "status": "CANCELLED"}
    assert supervisor.job("single", running)["status"] == "CANCELLED"
    started = time.monotonic()
    assert supervisor.runsync("single", {"__function": "add", "a": 1})["output"] == 3  # the slot was freed
    assert time.monotonic() - started < 4
    assert supervisor.job("single", waiting)["status"] == "CANCELLED"


def test_health(supervisor: Running) -> None:
    supervisor.runsync("jobs", {"__function": "add", "a": 1})
    health = supervisor.client.get("/v2/jobs/health").json()
    assert set(health) == {"jobs", "workers"}
    assert set(health["jobs"]) == {"completed", "failed", "inProgress", "inQueue", "retried"}
    assert set(health["workers"]) == {"idle", "running", "initializing"}
    assert health["jobs"]["completed"] >= 1
    assert health["workers"]["idle"] + health["workers"]["running"] >= 1


def test_a_worker_that_dies_fails_its_job_and_is_replaced(supervisor: Running) -> None:
    (before,) = supervisor.workers("jobs")
    job = supervisor.runsync("jobs", {"__function": "die"})
    assert job["status"] == "FAILED"
    error = json.loads(job["error"])
    assert "worker exited with exit code 1 while running the job" in error["error_message"]
    replaced = supervisor.runsync("jobs", {"__function": "pid"})
    assert replaced["status"] == "COMPLETED" and replaced["output"] != before["pid"]
    assert not alive(before["pid"])


def test_killing_a_worker_mid_job(supervisor: Running) -> None:
    job_id = supervisor.run("jobs", {"__function": "nap", "seconds": 30})
    wait_for(lambda: supervisor.job("jobs", job_id)["status"] == "IN_PROGRESS", what="the job to start")
    worker_id = supervisor.job("jobs", job_id)["workerId"]
    (worker,) = [w for w in supervisor.workers("jobs") if w["id"] == worker_id]
    os.kill(worker["pid"], signal.SIGKILL)
    job = supervisor.finished("jobs", job_id)
    assert job["status"] == "FAILED"
    assert "worker exited with signal 9" in json.loads(job["error"])["error_message"]
    fresh = supervisor.runsync("jobs", {"__function": "pid"})
    assert fresh["status"] == "COMPLETED" and fresh["output"] != worker["pid"]


def test_a_burst_scales_to_workers_max_then_back_after_the_idle_timeout(supervisor: Running) -> None:
    assert supervisor.workers("burst", ("starting", "ready")) == []  # workers_min 0
    ids = [supervisor.run("burst", {"__function": "nap", "seconds": 1.5}) for _ in range(4)]
    wait_for(lambda: len(supervisor.workers("burst")) == 3, 10, "three ready workers")
    time.sleep(0.3)
    assert len(supervisor.workers("burst", ("starting", "ready"))) == 3  # never more than workers_max
    jobs = [supervisor.finished("burst", job_id) for job_id in ids]
    assert [job["status"] for job in jobs] == ["COMPLETED"] * 4
    assert len({job["workerId"] for job in jobs}) == 3
    wait_for(lambda: supervisor.status()["endpoints"]["burst"]["worker_list"] == [], 10, "idle workers to stop")


def test_an_execution_timeout_times_the_job_out_and_replaces_the_worker(supervisor: Running) -> None:
    first = supervisor.runsync("slow", {"__function": "pid"})["output"]
    job = supervisor.runsync("slow", {"__function": "nap", "seconds": 20})
    assert job["status"] == "TIMED_OUT"
    assert 900 <= job["executionTime"] < 5000
    assert "1000 ms" in json.loads(job["error"])["error_message"]
    assert supervisor.runsync("slow", {"__function": "pid"})["output"] != first
    wait_for(lambda: not alive(first), 5, "the timed-out worker to be gone")


# --- load-balanced endpoints ---------------------------------------------------------------------


def test_load_balanced_routes_are_proxied(supervisor: Running) -> None:
    client = supervisor.client
    response = client.get("/lb/web/items/7", params={"verbose": "true"})
    assert response.status_code == 200 and response.json() == {"item_id": 7, "verbose": True}
    assert response.headers["content-type"] == "application/json"
    assert client.post("/lb/web/echo", json={"text": "hi"}).json() == {"text": "hi", "upper": "HI"}
    missing = client.get("/lb/web/nowhere")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}  # the app's own answer
    assert client.post("/lb/web/echo", json={}).status_code == 422
    assert client.get("/lb/web/ping").status_code == 200
    assert client.get("/lb/web").status_code == 404  # "/" of the app, which has no such route
    assert client.delete("/lb/web/echo").status_code == 405
    assert client.get("/lb/jobs/x").status_code == 404
    assert client.get("/lb/missing/x").status_code == 404


def test_a_load_balanced_endpoint_without_a_worker_answers_503(supervisor: Running) -> None:
    started = time.monotonic()
    response = supervisor.client.get("/lb/web-broken/ping")
    assert response.status_code == 503
    assert "could start" in response.json()["error"] and "no-such-python" in response.json()["error"]
    assert time.monotonic() - started < 10  # a failed start answers at once, without the full wait


# --- reload and shutdown -------------------------------------------------------------------------


def test_reload_replaces_only_what_changed_and_sigterm_stops_everything(built: Path, tmp_path: Path) -> None:
    endpoints = {
        "jobs": {"workers_min": 1},
        "model": {"workers_min": 1},
        "web": {"workers_min": 1},
    }
    spec = write_spec(tmp_path / "local.json", built, tmp_path / "logs", {k: dict(v) for k, v in endpoints.items()})
    running = start(spec)
    try:
        ready = running.workers
        pids = {name: wait_for(lambda n=name: ready(n), 15, f"{name} to start")[0]["pid"] for name in endpoints}
        changed = {k: dict(v) for k, v in endpoints.items() if k != "web"}
        changed["model"]["digest"] = "changed"
        changed["extra"] = {"package": "jobs", "workers_min": 1}
        write_spec(spec, built, tmp_path / "logs", changed)
        response = running.client.post("/admin/reload")
        assert response.status_code == 200, response.text
        result = response.json()
        assert (result["added"], result["removed"], result["replaced"], result["unchanged"]) == (["extra"], ["web"], ["model"], ["jobs"])
        wait_for(lambda: ready("model") and ready("model")[0]["pid"] != pids["model"], 15, "a new model worker")
        assert [w["digest"] for w in running.workers("model", ("starting", "ready", "draining"))] == ["changed"]
        wait_for(lambda: not alive(pids["model"]), 10, "the old model worker to stop")
        wait_for(lambda: ready("extra"), 15, "the added endpoint")
        assert ready("jobs")[0]["pid"] == pids["jobs"]
        assert not alive(pids["web"])
        assert set(running.status()["endpoints"]) == {"jobs", "model", "extra"}
        assert running.runsync("model", {"method": "scale", "x": 1})["output"] == 3
        assert running.client.get("/lb/web/ping").status_code == 404
        bad = spec.read_text().replace('"schema_version": 1', '"schema_version": 99')
        spec.write_text(bad)
        assert running.client.post("/admin/reload").status_code == 400
        assert set(running.status()["endpoints"]) == {"jobs", "model", "extra"}
    finally:
        code = running.terminate()
    assert code == 0
    assert not runtime_path(spec).exists()
    logs = tmp_path / "logs"
    assert {p.name for p in logs.iterdir()} >= {"supervisor.log", "jobs.log", "model.log", "web.log", "extra.log"}
    assert all(line.startswith("[w") for line in (logs / "jobs.log").read_text().splitlines())


def test_admin_shutdown(built: Path, tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "local.json", built, tmp_path / "logs", {"jobs": {"workers_min": 1}})
    running = start(spec)
    pids = {w["pid"] for w in wait_for(lambda: running.workers("jobs"), 15, "a worker")}
    response = running.client.post("/admin/shutdown")
    assert response.status_code == 202
    assert running.process.wait(timeout=20) == 0
    wait_for(lambda: not any(alive(pid) for pid in pids), 5, "the worker to be gone")
    assert not runtime_path(spec).exists()
    running.client.close()


@pytest.mark.parametrize("loop", ["asyncio", "auto"])
def test_the_event_loop_is_uvloop_where_installed_unless_asked_for_asyncio(built: Path, tmp_path: Path, loop: str) -> None:
    spec = write_spec(tmp_path / "local.json", built, tmp_path / "logs", {"jobs": {"workers_min": 1}})
    running = start(spec, FLASHC_LOOP=loop)
    try:
        answers = [running.client.post("/v2/jobs/runsync", json={"input": {"__function": "add", "a": n}}).json() for n in range(3)]
        assert [(a["status"], a["output"]) for a in answers] == [("COMPLETED", 2), ("COMPLETED", 3), ("COMPLETED", 4)]
    finally:
        assert running.terminate() == 0
    expected = "uvloop" if loop == "auto" and importlib.util.find_spec("uvloop") else "asyncio"
    assert f"{expected} loop)" in (tmp_path / "logs" / "supervisor.log").read_text()


def test_a_bad_spec_exits_1(tmp_path: Path) -> None:
    spec = tmp_path / "local.json"
    spec.write_text(json.dumps({"schema_version": 1, "token": "", "log_dir": "logs", "endpoints": []}))
    result = subprocess.run([sys.executable, "-m", "flashc.deploy.local.supervisor", "--spec", str(spec)], check=False, capture_output=True, text=True, timeout=30, env=clean_env())
    assert result.returncode == 1 and "token" in result.stderr


# --- workers: environment, logs, cross-endpoint calls, broken handlers ----------------------------


def test_the_worker_environment(supervisor: Running) -> None:
    def setting(name: str) -> Any:
        return supervisor.runsync("jobs", {"__function": "setting", "name": name})["output"]

    assert setting("GREETING_SOURCE") == "jobs"  # the spec's env
    assert setting("PYTHONUNBUFFERED") == "1"
    assert setting("FLASHC_ENDPOINT_URL_JOBS") == supervisor.url + "/v2/jobs"
    assert setting("FLASHC_ENDPOINT_URL_WEB") == supervisor.url + "/lb/web"
    assert setting("FLASHC_API_KEY") == TOKEN
    assert setting("PYTHONPATH") is None
    assert (setting("FLASHC_WORKER_ID") or "").startswith("w")


def test_an_endpoint_calls_another_through_its_stub(supervisor: Running) -> None:
    job = supervisor.runsync("caller", {"a": 5})
    assert (job["status"], job.get("output")) == ("COMPLETED", 15), job


def test_worker_output_goes_to_the_endpoint_log(supervisor: Running) -> None:
    job = supervisor.runsync("jobs", {"__function": "greet", "name": "logged"})
    log = supervisor.spec_path.parent / "logs" / "jobs.log"
    wait_for(lambda: f"[{job['workerId']}] greeting logged" in log.read_text(), 5, "the print in the log")
    assert (supervisor.spec_path.parent / "logs" / "supervisor.log").read_text().count("listening on") == 1


def test_a_handler_that_cannot_be_imported_fails_its_jobs(supervisor: Running) -> None:
    job = supervisor.runsync("broken", {"__function": "add", "a": 1})
    assert job["status"] == "FAILED"
    error = json.loads(job["error"])
    assert error["error_type"] == "builtins.ImportError"
    assert "no numpy here" in error["error_message"] and "Traceback" in error["error_traceback"]
    assert supervisor.status()["endpoints"]["broken"]["worker_list"] == []


def test_a_second_supervisor_of_the_same_spec_is_refused(supervisor: Running) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flashc.deploy.local.supervisor", "--spec", str(supervisor.spec_path)],
        check=False, capture_output=True, text=True, timeout=30, env=clean_env(),
    )
    assert result.returncode == 1 and "another supervisor" in result.stderr
    assert runtime_path(supervisor.spec_path).exists()


# --- the stdio worker on its own -----------------------------------------------------------------


def stdio_worker(package: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flashc_runtime.worker.stdio"],
        cwd=package, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
    )


def test_stdio_worker_protocol(built: Path) -> None:
    lines = [
        {"id": "a", "input": {"__function": "nap", "seconds": 0.3}},
        {"id": "b", "input": {"__function": "greet", "name": "x"}},
        {"id": "c", "input": {"__function": "nap", "seconds": 30}},
        {"cancel": "c"},
        {"id": "d", "input": {"__function": "odd"}},
    ]
    worker = stdio_worker(built / "endpoints" / "jobs")
    try:
        out, err = worker.communicate("\n".join(json.dumps(line) for line in lines) + "\nnot json\n", timeout=20)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    messages = [json.loads(line) for line in out.splitlines()]  # user prints never reach the protocol
    hello, answers = messages[0], {m["id"]: m for m in messages[1:]}
    assert hello == {"ready": True, "pid": worker.pid, "max_concurrency": 1}
    assert answers["a"] == {"id": "a", "status": "COMPLETED", "output": 0.3}  # finished after the end of input
    assert answers["b"] == {"id": "b", "status": "COMPLETED", "output": "hello x"}
    assert answers["c"] == {"id": "c", "status": "CANCELLED"}
    assert answers["d"]["status"] == "FAILED" and answers["d"]["error"]["type"] == "builtins.TypeError"
    assert "greeting x" in err and "not JSON" in err


def test_stdio_worker_reports_a_failed_import(built: Path) -> None:
    worker = stdio_worker(built / "endpoints" / "broken")
    out, _ = worker.communicate("", timeout=20)
    assert worker.returncode == 1
    message = json.loads(out.splitlines()[0])
    assert message["ready"] is False and message["error"]["type"] == "builtins.ImportError"
    assert message["error"]["message"] == "no numpy here"
