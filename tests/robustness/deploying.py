"""Helpers of the fault and security tests: a small project deployed for real with
``python -m flashc`` (``--no-isolate``: no package index), commands paused at a named point
(``FLASHC_TEST_PAUSE_AT``, see ``flashc/testhooks.py``) and killed there, and /proc checks of
what is running. Loopback only; every command has a timeout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

FLASHC = [sys.executable, "-m", "flashc"]
ENV = "faults"
SUPERVISOR = "flashc.deploy.local.supervisor"
COMMAND_TIMEOUT = 120.0

WORK = '''\
from flashc import CpuInstanceType, Endpoint

jobs = Endpoint(name="jobs", cpu=CpuInstanceType.CPU3C_1_2, workers=(2, 3))


@jobs
def add(a: int, b: int = 2) -> int:
    return a + b
'''


def make_project(root: Path, source: str = WORK) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "faults"\nversion = "0"\n', encoding="utf-8")
    (root / "work.py").write_text(source, encoding="utf-8")
    return root


def environment(**extra: str) -> dict[str, str]:
    """This environment without RunPod settings, test pause settings or PYTHONPATH, plus ``extra``."""
    variables = {
        k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "FLASHC_TEST_", "FLASHC_ENDPOINT_URL_")) and k != "PYTHONPATH"
    }
    return {**variables, "PYTHONUNBUFFERED": "1", **extra}


def flashc(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLASHC, *args], cwd=cwd, env=environment(**(env or {})), capture_output=True, text=True, timeout=timeout)


def deploy(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = flashc("deploy", "--no-isolate", "--env", ENV, *args, cwd=root, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


# --- processes ------------------------------------------------------------------------------------


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and not _zombie(pid)


def command_line(pid: int) -> list[str]:
    try:
        return [part.decode(errors="replace") for part in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if part]
    except OSError:
        return []


def processes_under(path: Path) -> list[int]:
    """Live processes whose working directory or command line is inside ``path``."""
    found = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if (cwd.startswith(str(path)) or any(str(path) in part for part in command_line(pid))) and not _zombie(pid):
            found.append(pid)
    return found


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def supervisors(root: Path) -> list[int]:
    """Live supervisor processes of the project ``root`` (not a worker forked by one, before it runs)."""
    found = [pid for pid in _pids() if SUPERVISOR in (command := command_line(pid)) and any(str(root) in part for part in command) and not _zombie(pid)]
    return sorted(pid for pid in found if _parent(pid) not in found)


def workers(root: Path) -> list[int]:
    """Live worker processes running in ``root``'s deployments."""
    found = []
    for pid in _pids():
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if cwd.startswith(str(root / ".flash")) and b"FLASHC_WORKER_ID=" in environ and not _zombie(pid):
            found.append(pid)
    return sorted(found)


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, what: str = "a condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# --- state ------------------------------------------------------------------------------------


def state_file(root: Path) -> Path:
    return root / ".flash" / "deployments" / f"{ENV}.json"


def state(root: Path) -> dict[str, Any] | None:
    path = state_file(root)
    return json.loads(path.read_text()) if path.exists() else None


def call(recorded: dict[str, Any], a: int = 40) -> Any:
    """``add(a)`` through the deployment's queue API, with its token."""
    response = httpx.post(
        f"{recorded['endpoints']['jobs']['url']}/runsync",
        json={"input": {"__function": "add", "a": a}},
        headers={"Authorization": f"Bearer {recorded['token']}"},
        timeout=60,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    return response.json()


def answers(recorded: dict[str, Any]) -> bool:
    body = call(recorded)
    return body.get("status") == "COMPLETED" and body.get("output") == 42


def leftovers(root: Path) -> list[str]:
    """What interrupted builds left beside ``.flash/``."""
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".flash.tmp-", ".flash.old-")))


def assert_consistent(root: Path) -> None:
    """The recorded state matches what runs: a state whose supervisor is the only one running and
    answers (or one reported not running, nothing of it left), or no state and nothing running."""
    recorded = state(root)
    running = supervisors(root)
    if recorded is None:
        assert running == [] and workers(root) == [], (running, workers(root))
        return
    if recorded["pid"] in running:
        assert running == [recorded["pid"]], running
        assert answers(recorded)
    else:
        assert running == [] and workers(root) == [], (running, workers(root))
        status = flashc("status", "--env", ENV, cwd=root)
        assert status.returncode == 0 and "NOT RUNNING" in status.stdout, status.stdout + status.stderr


# --- paused commands --------------------------------------------------------------------------------


class Paused:
    """A ``flashc`` command started with ``FLASHC_TEST_PAUSE_AT=<point>``, waiting there."""

    def __init__(self, root: Path, point: str, *args: str, env: dict[str, str] | None = None, name: str = "paused") -> None:
        self.marker = root.parent / f"{name}.marker"
        self.output = root.parent / f"{name}.out"
        self.marker.unlink(missing_ok=True)
        variables = environment(FLASHC_TEST_PAUSE_AT=point, FLASHC_TEST_PAUSE_MARKER=str(self.marker), **(env or {}))
        with self.output.open("wb") as out:
            self.process = subprocess.Popen([*FLASHC, *args], cwd=root, env=variables, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while not self.marker.exists():
            if self.process.poll() is not None:
                pytest.fail(f"`flashc {' '.join(args)}` ended ({self.process.returncode}) before reaching {point}:\n{self.text()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"`flashc {' '.join(args)}` did not reach {point} within {COMMAND_TIMEOUT:g} s:\n{self.text()}")
            time.sleep(0.02)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def kill(self, sig: int) -> int:
        self.process.send_signal(sig)
        return self.wait()

    def resume(self) -> None:
        self.marker.unlink(missing_ok=True)

    def wait(self, timeout: float = COMMAND_TIMEOUT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"the command did not end within {timeout:g} s:\n{self.text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
