"""A built project, run as it would be deployed: every endpoint's handler started from the
artifact root by real servers (the runpod worker SDK's local API for queue endpoints, uvicorn
for the load-balanced one), called over HTTP, with a real cross-endpoint call through the
generated stubs, and the compiled client package calling them too."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flashc import api
from support import FIXTURES, Server, clean_env, free_port

pytestmark = pytest.mark.network  # the build installs the endpoints' dependencies from PyPI

QUEUE_ENDPOINTS = ("pipe-count", "pipe-shared", "pipe-model")


def url_variable(endpoint: str) -> str:
    return "FLASHC_ENDPOINT_URL_" + "".join(c if c.isalnum() else "_" for c in endpoint.upper())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e") / "pipeline"
    shutil.copytree(FIXTURES / "build" / "pipeline", root)
    cache = tmp_path_factory.mktemp("deps-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("FLASHC_DEPS_CACHE", str(cache))
    try:
        result = api.build(root)
    finally:
        patch.undo()
    assert result.package is not None, [str(d.span) + d.message for d in result.gate.diagnostics]
    return root / ".flash"


@pytest.fixture(scope="module")
def deployed(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    logs = tmp_path_factory.mktemp("e2e-logs")
    ports = {name: free_port() for name in (*QUEUE_ENDPOINTS, "pipe-api")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    servers: list[Server] = []
    try:
        for name in QUEUE_ENDPOINTS:
            args = [f"handler_{name}.py", "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", str(ports[name])]
            servers.append(_start(name, args, built, logs, urls[name], "/", {}))
        routes_env = {url_variable(name): urls[name] for name in QUEUE_ENDPOINTS}
        servers.append(_start("pipe-api", ["handler_pipe-api.py"], built, logs, urls["pipe-api"], "/ping", {"HOST": "127.0.0.1", "PORT": str(ports["pipe-api"]), **routes_env}))
        for server in servers:
            server.wait_until_ready()
        yield urls
    finally:
        for server in servers:
            server.stop()


def _start(name: str, args: list[str], cwd: Path, logs: Path, url: str, ready: str, env: dict[str, str]) -> Server:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=clean_env(**env))
    return Server(name, process, url, log, ready)


def test_a_load_balanced_route_calls_queue_endpoints_through_the_stubs(deployed: dict[str, str]) -> None:
    response = httpx.post(deployed["pipe-api"] + "/summary", json={"text": "A b a"}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json() == {"counted": {"words": 3, "unique": 2, "six": True}, "plus_one": 4, "repeat": 1}
    assert httpx.get(deployed["pipe-api"] + "/health", timeout=10).json() == {"ok": True}


def test_queue_endpoints_answer_jobs(deployed: dict[str, str]) -> None:
    model = httpx.post(deployed["pipe-model"] + "/runsync", json={"input": {"method": "scale", "x": 2}}, timeout=60).json()
    assert (model["status"], model["output"]) == ("COMPLETED", 6)
    shared = httpx.post(deployed["pipe-shared"] + "/runsync", json={"input": {"__function": "double", "x": 21}}, timeout=60).json()
    assert (shared["status"], shared["output"]) == ("COMPLETED", 42)
    failed = httpx.post(deployed["pipe-shared"] + "/runsync", json={"input": {"__function": "add", "a": "x"}}, timeout=60).json()
    assert failed["status"] == "FAILED"
    assert "TypeError" in json.loads(failed["error"])["error_type"]


def test_the_compiled_client_calls_the_deployed_endpoints(built: Path, deployed: dict[str, str]) -> None:
    script = (
        "import asyncio, json\n"
        "import workers\n"
        "async def main():\n"
        "    model = workers.Model()\n"
        "    return [await workers.count('x y x'), await workers.add(1, b=2), await model.scale(1.5)]\n"
        "print(json.dumps(asyncio.run(main())))\n"
    )
    env = clean_env(PYTHONPATH=str(built / "client"), **{url_variable(n): deployed[n] for n in QUEUE_ENDPOINTS})
    result = subprocess.run([sys.executable, "-c", script], cwd=built, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"words": 3, "unique": 2, "six": True}, 3, 4.5]
