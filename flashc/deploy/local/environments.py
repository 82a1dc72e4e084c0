"""Each endpoint's Python environment on this machine: a virtual environment with exactly its
requirements, so what works locally is what the worker will have.

Environments are cached by (Python, requirement set): redeploying, or two endpoints
with the same requirements, reuse one. They are created with uv when it is
available (seconds), else with ``venv`` and pip, in a temporary directory renamed
into place, so an interrupted creation is never mistaken for a finished one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ...dependencies import find_uv
from ...errors import DependencyError

CREATE_TIMEOUT = 900
LOAD_BALANCER_SERVER = "uvicorn>=0.30"
"""What a load-balanced worker runs its ASGI app with (the worker image has its own)."""


def default_cache_dir() -> Path:
    configured = os.environ.get("FLASHC_VENV_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "flashc" / "venvs"


def interpreter(
    requirements: Sequence[str],
    *,
    load_balanced: bool,
    isolate: bool = True,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> str:
    """The Python that runs an endpoint's workers.

    ``isolate=False`` (``--no-isolate``) runs every endpoint with flashc's own
    interpreter, which must then have the requirements installed.
    """
    if not isolate:
        return sys.executable
    wanted = sorted(dict.fromkeys([*requirements, *([LOAD_BALANCER_SERVER] if load_balanced else [])]))
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    key = hashlib.sha256(json.dumps([sys.executable, version, wanted]).encode()).hexdigest()[:24]
    directory = (cache_dir or default_cache_dir()) / key
    python = directory / "bin" / "python"
    if python.exists():
        return str(python)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=directory.parent))
    try:
        if progress:
            progress(f"creating an environment with {', '.join(wanted) or 'no packages'}")
        _create(staging, wanted)
        try:
            os.replace(staging, directory)
        except OSError:
            if not python.exists():  # not another process winning the same race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(python)


def _create(directory: Path, requirements: list[str]) -> None:
    uv = find_uv()
    if uv:
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(directory)])
        if requirements:
            _run([uv, "pip", "install", "--quiet", "--python", str(directory / "bin" / "python"), *requirements])
        return
    _run([sys.executable, "-m", "venv", str(directory)])
    if requirements:
        _run([str(directory / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements])


def _run(command: list[str]) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=CREATE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise DependencyError(f"creating an environment took longer than {CREATE_TIMEOUT} s: {' '.join(command[:3])} ...") from None
    if result.returncode != 0:
        detail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-12:])
        raise DependencyError(f"creating an environment failed ({' '.join(command[:3])} ...):\n{detail}")
