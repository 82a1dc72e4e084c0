"""Paths and process helpers shared by the tests (importable: pytest puts ``tests/`` on ``sys.path``)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
PROJECTS = FIXTURES / "projects"
REPO = TESTS.parent


# --- servers started by tests (loopback only, always stopped) -----------------------------------

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """No RunPod settings (the SDK must stay in local mode) and no PYTHONPATH (the vendored runtime must be used)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RUNPOD_") and k != "PYTHONPATH"
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    ready_path: str

    def wait_until_ready(self) -> str:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code < 500:
                    return self.url
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        pytest.fail(
            f"{self.name} did not answer within {STARTUP_TIMEOUT:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


