"""The generated handler files: they compile, read well (snapshots) and wire up the runtime."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest

from flashc.templates import render

FUNCTIONS_CONTEXT: dict[str, Any] = {
    "endpoint": "my-worker",
    "flashc_version": "0.1.0",
    "targets": [
        {"module": "gpu_worker", "name": "infer", "alias": "infer"},
        {"module": "pkg.mod", "name": "infer", "alias": "pkg_mod_infer"},
        {"module": "01_prep", "name": "prepare", "alias": "prepare"},
    ],
    "functions": [
        {"name": "infer", "alias": "infer"},
        {"name": "infer_batch", "alias": "pkg_mod_infer"},
        {"name": "prepare", "alias": "prepare"},
    ],
    "cls": None,
    "max_concurrency": 4,
}
CLASS_CONTEXT: dict[str, Any] = {
    "endpoint": "model",
    "flashc_version": "0.1.0",
    "targets": [{"module": "models", "name": "Classifier", "alias": "Classifier"}],
    "functions": [],
    "cls": {
        "name": "Classifier",
        "alias": "Classifier",
        "methods": ["embed", "predict"],
    },
    "max_concurrency": 1,
}
LB_CONTEXT: dict[str, Any] = {
    "endpoint": "api",
    "flashc_version": "0.1.0",
    "targets": [
        {"module": "routes", "name": "classify", "alias": "classify"},
        {"module": "routes", "name": "get_item", "alias": "get_item"},
    ],
    "routes": [
        {"method": "POST", "path": "/classify", "alias": "classify"},
        {"method": "GET", "path": "/items/{item_id}", "alias": "get_item"},
    ],
}
ENTRY_CONTEXTS = {
    "queue": {
        "endpoint": "my-worker",
        "package": "endpoints/my-worker",
        "attribute": "handler",
        "kind": "queue",
    },
    "lb": {
        "endpoint": "api",
        "package": "endpoints/api",
        "attribute": "app",
        "kind": "load-balanced",
    },
}

RENDERED = {
    "queue-functions": ("queue_handler.py.j2", FUNCTIONS_CONTEXT),
    "queue-class": ("queue_handler.py.j2", CLASS_CONTEXT),
    "lb": ("lb_app.py.j2", LB_CONTEXT),
    "entry-queue": ("artifact_entry.py.j2", ENTRY_CONTEXTS["queue"]),
    "entry-lb": ("artifact_entry.py.j2", ENTRY_CONTEXTS["lb"]),
}


@pytest.mark.parametrize("case", sorted(RENDERED))
def test_rendered_files_compile(case: str) -> None:
    template, context = RENDERED[case]
    text = render(template, **context)
    compile(text, f"<{case}>", "exec")
    assert "Do not edit" in text.splitlines()[0]
    assert "\n\n\n\n" not in text


@pytest.mark.parametrize("case", ["queue-functions", "queue-class", "lb"])
def test_runpod_and_uvicorn_are_only_imported_to_start(case: str) -> None:
    """Importing a handler must not need the server packages; only `main()` does."""
    template, context = RENDERED[case]
    lines = render(template, **context).splitlines()
    main = lines.index("def main() -> None:")
    for number, line in enumerate(lines):
        if "import runpod" in line or "import uvicorn" in line:
            assert number > main and line.startswith("    "), line


def test_queue_handler_snapshot(text_snapshot) -> None:
    assert render("queue_handler.py.j2", **FUNCTIONS_CONTEXT) == text_snapshot


def test_class_queue_handler_snapshot(text_snapshot) -> None:
    assert render("queue_handler.py.j2", **CLASS_CONTEXT) == text_snapshot


def test_lb_app_snapshot(text_snapshot) -> None:
    assert render("lb_app.py.j2", **LB_CONTEXT) == text_snapshot


def test_entry_snapshot(text_snapshot) -> None:
    assert render("artifact_entry.py.j2", **ENTRY_CONTEXTS["queue"]) == text_snapshot


@pytest.mark.parametrize(
    "template", ["queue_handler.py.j2", "lb_app.py.j2", "artifact_entry.py.j2"]
)
def test_a_missing_context_value_is_an_error(template: str) -> None:
    with pytest.raises(jinja2.UndefinedError):
        render(template, endpoint="x")


def test_entry_puts_the_package_first_then_deps_and_re_exports(tmp_path: Path) -> None:
    package = tmp_path / "endpoints" / "my-worker"
    (package / "_deps" / "shadow").mkdir(parents=True)
    (package / "_deps" / "shadow" / "__init__.py").write_text("WHERE = 'deps'\n")
    (package / "_deps" / "onlydep.py").write_text("WHERE = 'deps'\n")
    (package / "shadow.py").write_text("WHERE = 'package'\n")
    (package / "_flashc_handler.py").write_text(
        "import onlydep, shadow\n"
        "endpoint = 'the endpoint'\n"
        "def handler(job):\n    return (shadow.WHERE, onlydep.WHERE)\n"
        "def main():\n    print('main ran')\n"
        "__all__ = ['endpoint', 'handler', 'main']\n"
    )
    (tmp_path / "handler_my-worker.py").write_text(
        render("artifact_entry.py.j2", **ENTRY_CONTEXTS["queue"])
    )
    probe = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('entry', sys.argv[1])\n"
        "entry = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(entry)\n"
        "print(entry.handler({}), entry.endpoint)\n"
        "print(sys.path[0] == entry._PACKAGE, sys.path[1].endswith('_deps'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "handler_my-worker.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "('package', 'deps') the endpoint",
        "True True",
    ]
    started = subprocess.run(
        [sys.executable, str(tmp_path / "handler_my-worker.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (started.returncode, started.stdout) == (0, "main ran\n"), started.stderr


def test_worker_modules_import_only_the_standard_library() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import flashc_runtime.worker.queue, flashc_runtime.worker.lb\n"
        "new = {name.split('.')[0] for name in set(sys.modules) - before}\n"
        "print(sorted(new - set(sys.stdlib_module_names) - {'flashc_runtime'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr
