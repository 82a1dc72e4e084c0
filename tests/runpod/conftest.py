"""Fixtures of the RunPod target's tests: a moto S3 server (once per session), a fresh RunPod
API emulator per test pointed at it, and a built copy of an example project."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from runpod_emulator import Emulator
from support import REPO, free_port

MOTO_START_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto in server mode on loopback: the object storage presigned upload URLs point at."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"moto server exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture
def api_key() -> str:
    return "rpa_" + secrets.token_hex(20).upper()


@pytest.fixture
def runpod(s3_server, api_key, tmp_path, monkeypatch):
    """A fresh emulator; flashc (this process) points at it, with ``api_key`` in RUNPOD_API_KEY
    and a HOME of its own (no real ~/.runpod)."""
    for name in list(os.environ):
        if name.startswith(("RUNPOD_", "FLASHC_ENDPOINT_URL_", "FLASHC_API_KEY")) or (name.startswith("FLASH_") and "IMAGE" in name):
            monkeypatch.delenv(name)
    work = tmp_path / "emulator"
    work.mkdir()
    emulator = Emulator(api_key, s3_server, work).start()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RUNPOD_API_KEY", api_key)
    for name, value in emulator.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FLASHC_RUNPOD_TIMEOUT", "30")
    yield emulator
    emulator.stop()


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of ``examples/cpu_worker`` (two queue endpoints, no dependencies to install)."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "examples" / "cpu_worker", root, ignore=shutil.ignore_patterns(".flash", "__pycache__"))
    return root
