"""Every example, deployed to this machine for real: `flashc deploy`, its `main.py` through
`flashc run`, plain HTTP with the deployment's token, `flashc undeploy`, and nothing left
running. Workers run in their own virtual environments (built from PyPI, cached per session)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support import FIXTURES, REPO

pytestmark = pytest.mark.network

EXAMPLES = ("quickstart", "cpu_worker", "mixed_pipeline", "lb_api", "class_endpoint", "with_dependencies")
FLASHC = [sys.executable, "-m", "flashc"]

# A real call over plain HTTP per example where its answer is easy to state.
HTTP_CALLS = {
    "quickstart": ("quickstart-cpu", "POST", "/runsync", {"input": {"text": "a b a"}}, {"words": 3, "unique": 2}),
    "lb_api": ("lb-api-shop", "GET", "/items/2", None, {"found": True, "item": {"id": 2, "name": "fountain pen", "price_cents": 2400, "stock": 3}}),
}


@pytest.fixture(scope="session")
def caches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environments and wheels are cached for the session, not in the user's home."""
    base = tmp_path_factory.mktemp("caches")
    return {"FLASHC_VENV_CACHE": str(base / "venvs"), "FLASHC_DEPS_CACHE": str(base / "deps"), "FLASHC_CACHE_DIR": str(base / "check")}


def flashc(*args: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "FLASHC_ENDPOINT_URL_"))}
    return subprocess.run([*FLASHC, *args], cwd=cwd, env={**variables, **env}, capture_output=True, text=True, timeout=timeout)


def processes_under(path: Path) -> list[int]:
    """Processes whose working directory or command line is inside ``path`` (workers, supervisor)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(path)) or str(path) in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture
def project(request, tmp_path: Path) -> Path:
    source = REPO / "examples" / request.param if request.param in EXAMPLES else FIXTURES / "build" / request.param
    root = tmp_path / request.param
    shutil.copytree(source, root, ignore=shutil.ignore_patterns(".flash", ".flashc_cache"))
    return root


@pytest.mark.parametrize("project", EXAMPLES, indirect=True)
def test_example_deploys_answers_and_undeploys(project: Path, caches: dict[str, str], text_snapshot) -> None:
    deployed = flashc("deploy", "--env", "e2e", "--quiet", cwd=project, env=caches)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    try:
        state = json.loads((project / ".flash/deployments/e2e.json").read_text())
        ran = flashc("run", "main.py", "--env", "e2e", cwd=project, env=caches, timeout=300)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stdout == text_snapshot
        # Un-compiled code finds the deployment of its project too: plain `python main.py`.
        variables = {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "FLASHC_"))}
        plain = subprocess.run([sys.executable, "main.py"], cwd=project, env={**variables, "FLASHC_ENV": "e2e"}, capture_output=True, text=True, timeout=300)
        assert (plain.returncode, plain.stdout) == (0, ran.stdout), plain.stderr

        # The same endpoints over plain HTTP: the token is required.
        name, endpoint = sorted(state["endpoints"].items())[0]
        probe = f"{endpoint['url']}/health" if endpoint["kind"] == "queue" else f"{endpoint['url']}/ping"
        assert httpx.get(probe, timeout=30).status_code == 401
        answer = httpx.get(probe, headers={"Authorization": f"Bearer {state['token']}"}, timeout=60)
        assert answer.status_code == 200, (name, answer.text)
        if project.name in HTTP_CALLS:
            endpoint_name, method, path, body, expected = HTTP_CALLS[project.name]
            url = state["endpoints"][endpoint_name]["url"] + path
            reply = httpx.request(method, url, json=body, headers={"Authorization": f"Bearer {state['token']}"}, timeout=120).json()
            assert (reply["output"] if "output" in reply else reply) == expected
    finally:
        undeployed = flashc("undeploy", "--env", "e2e", cwd=project, env=caches)
    assert undeployed.returncode == 0 and "Undeployed e2e." in undeployed.stdout
    assert not (project / ".flash/deployments/e2e.json").exists()
    assert processes_under(project / ".flash") == []


@pytest.mark.parametrize("project", ["pipeline"], indirect=True)
def test_errors_cross_the_wire_with_their_traceback(project: Path, caches: dict[str, str]) -> None:
    script = project / "errors.py"
    script.write_text(
        "import asyncio\n"
        "from flashc import RemoteExecutionError, SerializationError\n"
        "import workers\n"
        "async def main():\n"
        "    try:\n"
        "        await workers.add('x')\n"
        "    except RemoteExecutionError as error:\n"
        "        print('remote:', error.error_type, 'Traceback' in (error.traceback or ''))\n"
        "    try:\n"
        "        await workers.count('x' * (11 * 1024 * 1024))\n"
        "    except SerializationError as error:\n"
        "        print('too big:', 'text' in str(error))\n"
        "asyncio.run(main())\n",
        encoding="utf-8",
    )
    assert flashc("deploy", "--env", "e2e", "--quiet", cwd=project, env=caches).returncode == 0
    try:
        ran = flashc("run", "errors.py", "--env", "e2e", cwd=project, env=caches, timeout=300)
        assert ran.returncode == 0, ran.stderr
        lines = ran.stdout.splitlines()
        assert lines[0].startswith("remote: ") and "TypeError" in lines[0] and lines[0].endswith("True")
        assert lines[1] == "too big: True"
    finally:
        flashc("undeploy", "--env", "e2e", cwd=project, env=caches)
    assert processes_under(project / ".flash") == []


@pytest.mark.parametrize("project", ["pipeline"], indirect=True)
def test_redeploying_replaces_only_what_changed(project: Path, caches: dict[str, str]) -> None:
    assert flashc("deploy", "--env", "e2e", "--quiet", cwd=project, env=caches).returncode == 0
    try:
        again = flashc("deploy", "--env", "e2e", "--quiet", cwd=project, env=caches)
        assert "local/e2e: nothing to change" in again.stdout
        text_tools = project / "text_tools.py"
        text_tools.write_text(text_tools.read_text().replace("text.lower().split()", "text.lower().split() + []"), encoding="utf-8")
        changed = flashc("deploy", "--env", "e2e", "--quiet", "--plan", cwd=project, env=caches)
        assert changed.returncode == 0, changed.stderr
        changed = flashc("deploy", "--env", "e2e", "--quiet", cwd=project, env=caches)
        assert "~ replace pipe-count" in changed.stdout and "= keep    pipe-shared" in changed.stdout
        assert "local/e2e: 1 to replace" in changed.stdout
    finally:
        flashc("undeploy", "--env", "e2e", cwd=project, env=caches)


def test_init_makes_a_project_that_deploys_and_answers(tmp_path: Path, caches: dict[str, str]) -> None:
    created = flashc("init", "fresh-app", cwd=tmp_path, env=caches)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "fresh-app"
    assert flashc("check", cwd=project, env=caches).stdout == "All checks passed.\n"
    assert flashc("deploy", "--env", "e2e", "--quiet", cwd=project, env=caches).returncode == 0
    try:
        ran = flashc("run", "main.py", "--env", "e2e", cwd=project, env=caches, timeout=300)
        assert ran.returncode == 0 and ran.stdout.strip(), ran.stdout + ran.stderr
    finally:
        flashc("undeploy", "--env", "e2e", cwd=project, env=caches)
    assert processes_under(project / ".flash") == []
    again = flashc("init", "fresh-app", cwd=tmp_path, env=caches)
    assert again.returncode == 2 and "fresh-app" in again.stderr


@pytest.mark.parametrize("project", ["pipeline"], indirect=True)
def test_serve_redeploys_on_change_and_stops_on_interrupt(project: Path, caches: dict[str, str]) -> None:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")}
    process = subprocess.Popen([*FLASHC, "serve"], cwd=project, env={**variables, **caches}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        state_file = project / ".flash/deployments/serve.json"
        deadline = time.monotonic() + 120
        while not state_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        state = json.loads(state_file.read_text())
        count_digest = state["endpoints"]["pipe-count"]["digest"]
        text_tools = project / "text_tools.py"
        text_tools.write_text(text_tools.read_text() + "\n# changed\n", encoding="utf-8")
        while time.monotonic() < deadline:
            state = json.loads(state_file.read_text())
            if state["endpoints"]["pipe-count"]["digest"] != count_digest:
                break
            time.sleep(0.3)
        assert state["endpoints"]["pipe-count"]["digest"] != count_digest
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert "sources changed: redeploying" in output and "stopping" in output
    assert not (project / ".flash/deployments/serve.json").exists()
    assert processes_under(project / ".flash") == []
