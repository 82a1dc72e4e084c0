"""Handler packages rendered from the real templates and served by real processes.

One artifact tree is written per session (``handler_<endpoint>.py`` entries at the
root, ``endpoints/<endpoint>/`` packages with user modules, a vendored copy of the
runtime and a ``_deps`` directory). Every server is launched at once so their cold
starts overlap; each fixture then waits for its own server. All processes listen on
loopback only and are terminated at the end of the session.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import REPO, Server, clean_env, free_port

from flashc.templates import render


WORKER_MODULE = """\
import asyncio

import fancylib


def add(a: int, b: int = 2) -> int:
    return a + b


async def greet(name: str) -> str:
    await asyncio.sleep(0)
    return f"{fancylib.GREETING} {name}"


def explode(message: str) -> None:
    raise ValueError(message)


def total(*numbers: int, scale: int = 1) -> int:
    return sum(numbers) * scale


def report() -> dict:
    return {"error": "only data", "ok": True}


def nothing() -> dict:
    return {}


def origin() -> dict:
    import flashc_runtime

    return {"runtime": flashc_runtime.__file__, "fancylib": fancylib.__file__}
"""

CLASS_MODULE = """\
class Classifier:
    def __init__(self) -> None:
        self.calls = 0

    def predict(self, text: str) -> dict:
        self.calls += 1
        return {"label": "positive" if "good" in text else "negative", "calls": self.calls}

    async def embed(self, text: str) -> list:
        return [len(word) for word in text.split()]
"""

ROUTES_MODULE = """\
import asyncio


async def classify(text: str, top_k: int = 1) -> dict:
    await asyncio.sleep(0)
    return {"label": text.upper(), "top_k": top_k}


def get_item(item_id: int, verbose: bool = False, tags: list[str] = []) -> dict:
    return {"item_id": item_id, "verbose": verbose, "tags": tags}


def crash() -> None:
    raise RuntimeError("route failed")
"""


def _target(module: str, name: str, alias: str | None = None) -> dict[str, str]:
    return {"module": module, "name": name, "alias": alias or name}


WORKERS_TARGETS = [
    _target("gpu_worker", "add"),
    _target("gpu_worker", "greet"),
    _target("gpu_worker", "explode"),
    _target("gpu_worker", "total"),
    _target("gpu_worker", "report"),
    _target("gpu_worker", "nothing"),
    _target("gpu_worker", "origin"),
    _target("pkg.mod", "shout", "pkg_mod_shout"),
    _target("01_helpers", "double", "helpers_double"),
]


def write_package(
    root: Path, endpoint: str, files: dict[str, str], handler: str, entry: str
) -> Path:
    """An ``endpoints/<endpoint>/`` package with the vendored runtime, plus its root entry."""
    package = root / "endpoints" / endpoint
    for relative, text in {**files, "_flashc_handler.py": handler}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    shutil.copytree(
        REPO / "runtime" / "flashc_runtime",
        package / "flashc_runtime",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (root / f"handler_{endpoint}.py").write_text(entry, encoding="utf-8")
    return package


@pytest.fixture(scope="session")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("artifact")
    write_package(
        root,
        "workers",
        {
            "gpu_worker.py": WORKER_MODULE,
            "pkg/__init__.py": "",
            "pkg/mod.py": "def shout(text: str) -> str:\n    return text.upper() + '!'\n",
            "01_helpers.py": "def double(x: int) -> int:\n    return 2 * x\n",
            "_deps/fancylib/__init__.py": 'GREETING = "hello from _deps"\n',
            "requirements.txt": "fancylib\n",
        },
        render(
            "queue_handler.py.j2",
            endpoint="workers",
            flashc_version="0.0.0-test",
            targets=WORKERS_TARGETS,
            functions=[
                {"name": t["name"], "alias": t["alias"]} for t in WORKERS_TARGETS
            ],
            cls=None,
            max_concurrency=2,
        ),
        render(
            "artifact_entry.py.j2",
            endpoint="workers",
            package="endpoints/workers",
            attribute="handler",
            kind="queue",
        ),
    )
    write_package(
        root,
        "model",
        {"models.py": CLASS_MODULE},
        render(
            "queue_handler.py.j2",
            endpoint="model",
            flashc_version="0.0.0-test",
            targets=[_target("models", "Classifier")],
            functions=[],
            cls={
                "name": "Classifier",
                "alias": "Classifier",
                "methods": ["predict", "embed"],
            },
            max_concurrency=1,
        ),
        render(
            "artifact_entry.py.j2",
            endpoint="model",
            package="endpoints/model",
            attribute="handler",
            kind="queue",
        ),
    )
    write_package(
        root,
        "api",
        {"routes.py": ROUTES_MODULE},
        render(
            "lb_app.py.j2",
            endpoint="api",
            flashc_version="0.0.0-test",
            targets=[
                _target("routes", "classify"),
                _target("routes", "get_item"),
                _target("routes", "crash"),
            ],
            routes=[
                {"method": "POST", "path": "/classify", "alias": "classify"},
                {"method": "GET", "path": "/items/{item_id}", "alias": "get_item"},
                {"method": "POST", "path": "/crash", "alias": "crash"},
            ],
        ),
        render(
            "artifact_entry.py.j2",
            endpoint="api",
            package="endpoints/api",
            attribute="app",
            kind="load-balanced",
        ),
    )
    return root


@pytest.fixture(scope="session")
def servers(
    artifact: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
    logs = tmp_path_factory.mktemp("server-logs")
    launched: dict[str, Server] = {}

    def launch(
        name: str, args: list[str], cwd: Path, ready_path: str, port: int, **env: str
    ) -> None:
        log = logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, *args],
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=clean_env(**env),
            )
        launched[name] = Server(
            name, process, f"http://127.0.0.1:{port}", log, ready_path
        )

    def runpod_api(port: int) -> list[str]:
        return [
            "--rp_serve_api",
            "--rp_api_host",
            "127.0.0.1",
            "--rp_api_port",
            str(port),
        ]

    try:
        port = free_port()
        launch(
            "queue",
            ["_flashc_handler.py", *runpod_api(port)],
            artifact / "endpoints" / "workers",
            "/",
            port,
        )
        port = free_port()
        launch(
            "class",
            ["_flashc_handler.py", *runpod_api(port)],
            artifact / "endpoints" / "model",
            "/",
            port,
        )
        port = free_port()
        launch(
            "queue-entry",
            ["handler_workers.py", *runpod_api(port)],
            artifact,
            "/",
            port,
        )
        port = free_port()
        uvicorn = [
            "-m",
            "uvicorn",
            "_flashc_handler:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        launch(
            "lb",
            [*uvicorn, "--log-level", "warning"],
            artifact / "endpoints" / "api",
            "/ping",
            port,
        )
        port = free_port()
        launch(
            "lb-entry",
            ["handler_api.py"],
            artifact,
            "/ping",
            port,
            HOST="127.0.0.1",
            PORT=str(port),
        )
        yield launched
    finally:
        for server in launched.values():
            server.stop()


@pytest.fixture(scope="session")
def queue_url(servers: dict[str, Server]) -> str:
    return servers["queue"].wait_until_ready()


@pytest.fixture(scope="session")
def class_url(servers: dict[str, Server]) -> str:
    return servers["class"].wait_until_ready()


@pytest.fixture(scope="session")
def queue_entry_url(servers: dict[str, Server]) -> str:
    return servers["queue-entry"].wait_until_ready()


@pytest.fixture(scope="session")
def lb_url(servers: dict[str, Server]) -> str:
    return servers["lb"].wait_until_ready()


@pytest.fixture(scope="session")
def lb_entry_url(servers: dict[str, Server]) -> str:
    return servers["lb-entry"].wait_until_ready()
