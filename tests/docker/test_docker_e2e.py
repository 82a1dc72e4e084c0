"""The docker target end to end on a real engine: a queue endpoint and a load-balanced endpoint
calling it are built into images, run as containers, called through the compiled stubs
(`flashc run`) and plain `python main.py`; an unchanged redeploy rebuilds and restarts
nothing; changing one endpoint rebuilds and replaces only that one; undeploy removes exactly
the deployment's containers and leaves everything else on the engine as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from docker_support import BASE_IMAGE, flashc
from flashc.deploy.docker import containers

pytestmark = pytest.mark.network  # the load-balanced endpoint's client dependency (httpx) comes from PyPI

APP_LABEL = "org.flashc.app=docker-two"
EXPECTED_OUTPUT = (
    "count: {'words': 3, 'unique': 2, 'version': %(v)d}\n"
    "hello: {'hello': 'docker'}\n"
    "count_words: {'counted': {'words': 4, 'unique': 3, 'version': %(v)d}}\n"
)


def _remove_app_images(engine) -> None:
    """Images are tagged by content, so a previous run's would make the first deploy build nothing."""
    for image in engine.images.list(filters={"label": APP_LABEL}):
        engine.images.remove(image.id, force=True)


def _plan_lines(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if line.startswith("  ") and line.strip()[:1] in "+~-="]


def _snapshot(engine) -> tuple[set[str], set[str]]:
    return {c.id for c in engine.containers.list(all=True)}, {n.id for n in engine.networks.list()}


def test_deploy_call_redeploy_change_one_and_undeploy(engine, two_endpoints: Path, caches: dict[str, str]) -> None:
    root = two_endpoints
    _remove_app_images(engine)
    # Bystanders: an unrelated container, and one labelled as another project's same environment.
    bystanders = [
        engine.containers.create(BASE_IMAGE, ["sleep", "600"], labels={"test": "bystander"}),
        engine.containers.create(BASE_IMAGE, ["sleep", "600"], labels={"org.flashc.project": "0" * 16, "org.flashc.env": "e2e"}),
    ]
    containers_before, networks_before = _snapshot(engine)
    # What an interrupted deploy of this environment could have left: removed by the next deploy.
    stray = engine.containers.create(BASE_IMAGE, ["sleep", "600"], labels={
        "org.flashc.project": containers.project_id(root), "org.flashc.env": "e2e", "org.flashc.endpoint": "two-worker",
    })
    try:
        first = flashc("deploy", "--target", "docker", "--env", "e2e", cwd=root, env=caches)
        assert first.returncode == 0, first.stdout + first.stderr
        assert _plan_lines(first.stdout) == ["+ create  two-api  (new endpoint)", "+ create  two-worker  (new endpoint)"]
        assert "building the image of `two-api`" in first.stderr and "building the image of `two-worker`" in first.stderr
        assert "Successfully tagged flashc/docker-two-two-worker:" in first.stderr  # build output streamed as progress
        assert f"removing stray container {stray.name}" in first.stderr

        state = json.loads((root / ".flash/deployments/e2e.json").read_text())
        assert state["target"] == "docker" and state["pid"] == 0
        endpoints = state["endpoints"]
        assert sorted(endpoints) == ["two-api", "two-worker"]
        assert {e["kind"] for e in endpoints.values()} == {"queue", "load-balanced"}
        assert len({e["port"] for e in endpoints.values()}) == 2
        for name, endpoint in endpoints.items():
            assert endpoint["url"] == f"http://127.0.0.1:{endpoint['port']}"
            container = engine.containers.get(endpoint["container"])
            assert container.status == "running"
            assert container.image.tags == [endpoint["image"]]
            assert container.labels["org.flashc.env"] == "e2e" and container.labels["org.flashc.endpoint"] == name
            assert container.labels["org.flashc.port"] == str(endpoint["port"])
        images_before = {name: engine.images.get(e["image"]).id for name, e in endpoints.items()}

        ran = flashc("run", "main.py", "--env", "e2e", cwd=root, env=caches)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stdout == EXPECTED_OUTPUT % {"v": 1}
        variables = {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "FLASHC_"))}
        plain = subprocess.run([sys.executable, "main.py"], cwd=root, env={**variables, "FLASHC_ENV": "e2e"}, capture_output=True, text=True, timeout=120)
        assert plain.returncode == 0, plain.stdout + plain.stderr
        assert plain.stdout == EXPECTED_OUTPUT % {"v": 1}

        status = flashc("status", "--env", "e2e", "--format", "json", cwd=root)
        assert status.returncode == 0, status.stderr
        found = json.loads(status.stdout)
        assert found["running"] is True and found["target"] == "docker"
        assert {n: (e["state"], e["port"], e["image"]) for n, e in found["endpoints"].items()} == {
            n: ("running", e["port"], e["image"]) for n, e in endpoints.items()
        }

        logs = flashc("logs", "two-worker", "--env", "e2e", cwd=root)
        assert logs.returncode == 0, logs.stderr
        assert logs.stdout.splitlines()[0] == f"flashc: serving on http://127.0.0.1:{endpoints['two-worker']['port']}"
        assert sum(" count done in " in line for line in logs.stdout.splitlines()) == 4  # two calls from each run

        # Unchanged: nothing rebuilt, nothing restarted.
        again = flashc("deploy", "--target", "docker", "--env", "e2e", cwd=root, env=caches)
        assert again.returncode == 0, again.stdout + again.stderr
        assert _plan_lines(again.stdout) == ["= keep    two-api  (unchanged)", "= keep    two-worker  (unchanged)"]
        assert "docker/e2e: nothing to change" in again.stdout
        assert "building the image" not in again.stderr
        unchanged = json.loads((root / ".flash/deployments/e2e.json").read_text())["endpoints"]
        assert unchanged == endpoints

        # One endpoint changed: only its image is rebuilt and only its container replaced.
        worker = root / "worker.py"
        worker.write_text(worker.read_text().replace('"version": 1', '"version": 2'))
        changed = flashc("deploy", "--target", "docker", "--env", "e2e", cwd=root, env=caches)
        assert changed.returncode == 0, changed.stdout + changed.stderr
        assert _plan_lines(changed.stdout) == ["= keep    two-api  (unchanged)", "~ replace two-worker  (its code or configuration changed)"]
        assert "building the image of `two-worker`" in changed.stderr
        assert "building the image of `two-api`" not in changed.stderr
        after = json.loads((root / ".flash/deployments/e2e.json").read_text())["endpoints"]
        assert after["two-api"] == endpoints["two-api"]
        assert after["two-worker"]["image"] != endpoints["two-worker"]["image"]
        assert after["two-worker"]["container"] != endpoints["two-worker"]["container"]
        assert after["two-worker"]["port"] == endpoints["two-worker"]["port"]
        assert engine.images.get(after["two-api"]["image"]).id == images_before["two-api"]
        ran = flashc("run", "main.py", "--env", "e2e", cwd=root, env=caches)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stdout == EXPECTED_OUTPUT % {"v": 2}
    finally:
        undeployed = flashc("undeploy", "--env", "e2e", cwd=root)
    assert undeployed.returncode == 0, undeployed.stderr
    assert undeployed.stdout == "Undeployed e2e.\n"
    try:
        assert not (root / ".flash/deployments/e2e.json").exists()
        assert engine.containers.list(all=True, filters={"label": ["org.flashc.env=e2e", f"org.flashc.project-path={root.resolve()}"]}) == []
        assert _snapshot(engine) == (containers_before, networks_before)  # the bystanders are still there
        again = flashc("undeploy", "--env", "e2e", cwd=root)
        assert again.stdout == "Nothing was deployed.\n"
    finally:
        for container in bystanders:
            container.remove(force=True)
        _remove_app_images(engine)
