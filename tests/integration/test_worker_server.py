"""`python -m flashc_runtime.worker.serve`: one built endpoint served over HTTP on its own, as
the docker target's containers run it, here as a real process on loopback (no engine needed)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from flashc import api
from support import clean_env, free_port

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SOURCES = {
    "jobs.py": '''from flashc import CpuInstanceType, Endpoint

jobs = Endpoint(name="jobs", cpu=CpuInstanceType.CPU3C_1_2, max_concurrency=4)


@jobs
async def add(a: int, b: int = 1) -> int:
    return a + b


@jobs
async def sleepy(seconds: float) -> str:
    import asyncio

    await asyncio.sleep(seconds)
    return "woke"


@jobs
def boom(message: str) -> None:
    raise ValueError(message)
''',
    "web.py": '''from flashc import CpuInstanceType, Endpoint

web = Endpoint(name="web", cpu=CpuInstanceType.CPU3C_1_2)


@web.get("/items/{item_id}")
async def item(item_id: int, detail: bool = False) -> dict:
    return {"id": item_id, "detail": detail}


@web.post("/echo")
async def echo(text: str) -> dict:
    return {"text": text}
''',
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("server-project")
    (root / "pyproject.toml").write_text('[project]\nname = "s"\nversion = "0"\n')
    for name, text in SOURCES.items():
        (root / name).write_text(text)
    result = api.build(root, api.BuildOptions(install_dependencies=False))
    assert not result.failed, result.gate.diagnostics
    return root / ".flash" / "endpoints"


def serve(package: Path, **extra: str):
    port = free_port()
    env = clean_env(HOST="127.0.0.1", PORT=str(port), FLASHC_WORKER_TOKEN=TOKEN, **extra)
    process = subprocess.Popen([sys.executable, "-m", "flashc_runtime.worker.serve"], cwd=package, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()
        try:
            if httpx.get(f"{url}/ping", headers=AUTH, timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("the worker server did not answer")


@pytest.fixture(scope="module")
def queue(built: Path):
    process, url = serve(built / "jobs", FLASHC_EXECUTION_TIMEOUT_MS="3000")
    yield url
    process.terminate()
    assert process.wait(timeout=10) == 0  # SIGTERM stops it cleanly


@pytest.fixture(scope="module")
def web(built: Path):
    process, url = serve(built / "web")
    yield url
    process.terminate()
    assert process.wait(timeout=10) == 0


def post(url: str, body: object, **kwargs) -> httpx.Response:
    return httpx.post(url, json=body, headers=AUTH, timeout=30, **kwargs)


def test_runsync_answers_with_the_job_envelope(queue: str) -> None:
    job = post(f"{queue}/runsync", {"input": {"__function": "add", "a": 2, "b": 3}}).json()
    assert job["status"] == "COMPLETED" and job["output"] == 5
    assert set(job) == {"id", "status", "delayTime", "executionTime", "output"}
    # The local target's spelling of the same route works too.
    assert post(f"{queue}/v2/jobs/runsync", {"input": {"__function": "add", "a": 1}}).json()["output"] == 2


def test_run_then_status_until_completed(queue: str) -> None:
    submitted = post(f"{queue}/run", {"input": {"__function": "sleepy", "seconds": 0.2}}).json()
    assert submitted["status"] == "IN_QUEUE"
    deadline = time.monotonic() + 10
    while True:
        job = httpx.get(f"{queue}/status/{submitted['id']}", headers=AUTH, timeout=10).json()
        if job["status"] not in ("IN_QUEUE", "IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert job["status"] == "COMPLETED" and job["output"] == "woke"


def test_a_failing_job_carries_type_message_and_traceback(queue: str) -> None:
    job = post(f"{queue}/runsync", {"input": {"__function": "boom", "message": "no luck"}}).json()
    assert job["status"] == "FAILED"
    error = json.loads(job["error"])
    assert error["error_type"] == "builtins.ValueError" and error["error_message"] == "no luck"
    assert "raise ValueError(message)" in error["error_traceback"]


def test_cancel_and_execution_timeout(queue: str) -> None:
    submitted = post(f"{queue}/run", {"input": {"__function": "sleepy", "seconds": 30}}).json()
    cancelled = post(f"{queue}/cancel/{submitted['id']}", None).json()
    assert cancelled["status"] == "CANCELLED"
    assert httpx.post(f"{queue}/status/{submitted['id']}", headers=AUTH).json()["status"] == "CANCELLED"
    timed_out = post(f"{queue}/runsync", {"input": {"__function": "sleepy", "seconds": 30}}).json()
    assert timed_out["status"] == "TIMED_OUT" and timed_out["error"] == "the job ran longer than 3 s"


def test_runsync_wait_returns_a_job_still_running(queue: str) -> None:
    job = post(f"{queue}/runsync?wait=0", {"input": {"__function": "sleepy", "seconds": 0.5}}).json()
    assert job["status"] in ("IN_QUEUE", "IN_PROGRESS") and "output" not in job


def test_health_counts_jobs(queue: str) -> None:
    health = httpx.get(f"{queue}/health", headers=AUTH).json()
    assert set(health) == {"jobs", "workers"}
    assert set(health["jobs"]) == {"completed", "failed", "inProgress", "inQueue", "retried"}
    assert health["jobs"]["completed"] >= 1


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "error"),
    [
        ("POST", "/runsync", {"input": {}}, {}, 401, "missing or wrong bearer token"),
        ("POST", "/runsync", {"input": {}}, {"Authorization": "Bearer nope"}, 401, "missing or wrong bearer token"),
        ("POST", "/runsync", {"nope": 1}, AUTH, 400, 'the body must be a JSON object with an "input" object'),
        ("GET", "/runsync", None, AUTH, 405, "/runsync takes POST, not GET"),
        ("GET", "/status/unknown", None, AUTH, 404, "no job 'unknown' (unknown, or finished more than 600 s ago)"),
        ("GET", "/nowhere", None, AUTH, 404, "no route GET /nowhere"),
        ("POST", "/runsync?wait=soon", {"input": {}}, AUTH, 400, "wait must be a number of milliseconds, got 'soon'"),
    ],
)
def test_bad_requests(queue: str, method: str, path: str, body, headers, status: int, error: str) -> None:
    response = httpx.request(method, queue + path, json=body, headers=headers)
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_the_bare_token_is_accepted_too(queue: str) -> None:
    response = httpx.post(f"{queue}/runsync", json={"input": {"__function": "add", "a": 1}}, headers={"Authorization": TOKEN})
    assert response.json()["output"] == 2


def test_load_balanced_routes_ping_and_token(web: str) -> None:
    assert httpx.get(f"{web}/items/7?detail=true", headers=AUTH).json() == {"id": 7, "detail": True}
    assert httpx.get(f"{web}/ping", headers=AUTH).json() == {"status": "healthy"}
    assert httpx.get(f"{web}/items/7").status_code == 401
    # A chunked request body is read whole.
    chunks = iter([b'{"text": ', b'"chunked"}'])
    response = httpx.post(f"{web}/echo", content=chunks, headers={**AUTH, "Content-Type": "application/json"})
    assert response.json() == {"text": "chunked"}
    assert httpx.get(f"{web}/missing", headers=AUTH).status_code == 404


def test_keep_alive_serves_many_requests_on_one_connection(web: str) -> None:
    with httpx.Client(headers=AUTH) as client:
        answers = [client.get(f"{web}/items/{i}").json()["id"] for i in range(20)]
    assert answers == list(range(20))
