"""Helpers of the docker target's tests (tests/docker/), importable as ``docker_support``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_IMAGE = "flashc/debian-python:bookworm"
"""Debian 12 with python3, made by ``scripts/docker-engine``."""
FLASHC = [sys.executable, "-m", "flashc"]


def flashc(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, without RunPod settings or endpoint URLs from this environment."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "FLASHC_ENDPOINT_URL_", "FLASHC_API_KEY"))}
    return subprocess.run([*FLASHC, *args], cwd=cwd, env={**variables, **(env or {})}, capture_output=True, text=True, timeout=timeout)
