"""The RunPod commands end to end (through the CLI), calling deployed endpoints, and the API key's secrecy."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from flashc import api
from flashc.cli import app as cli
from flashc.deploy import state as states
from flashc.deploy.runpod import credentials
from flashc.deploy.runpod.graphql import AuthenticationError


def flashc(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def test_deploy_app_and_environment_commands_through_the_cli(runpod, project, api_key):
    outputs = []

    def run(*args: str, code: int = 0) -> str:
        result = flashc(*args)
        outputs.append(result.output)
        assert result.exit_code == code, result.output
        return result.output

    preview = json.loads(run("deploy", str(project), "--target", "runpod", "--env", "prod", "--plan", "--format", "json", "-q"))
    assert [a["change"] for a in preview["actions"]] == ["create", "create"]
    text = run("deploy", str(project), "--target", "runpod", "--env", "prod", "-q")
    assert "Deployed to runpod/prod (app `cpu-worker`)" in text
    ids = {e["name"]: e["id"] for e in runpod.store.endpoints.values()}
    assert f"  cpu-worker-stats: {runpod.url}/v2/{ids['cpu-worker-stats']}  (endpoint {ids['cpu-worker-stats']})" in text

    assert json.loads(run("app", "list", "--path", str(project), "--json")) == [
        {"id": next(iter(runpod.store.apps)), "name": "cpu-worker", "environments": ["prod"]}
    ]
    run("env", "create", "staging", "--path", str(project))
    listed = json.loads(run("env", "list", "--path", str(project), "--json"))
    assert [(e["name"], e["endpoints"]) for e in listed] == [("prod", sorted(ids)), ("staging", [])]
    info = json.loads(run("env", "info", "prod", "--path", str(project), "--json"))
    assert {n: e["id"] for n, e in info["endpoints"].items()} == ids and info["active_build"]
    assert "refusing to delete environment `staging`" in run("env", "delete", "staging", "--path", str(project), code=2)
    run("env", "delete", "staging", "--path", str(project), "--yes")
    assert [e["name"] for e in runpod.store.environments.values()] == ["prod"]

    # Deleting the app tears its endpoints down first (RunPod itself would leave them running).
    assert "its endpoints cpu-worker-redact, cpu-worker-stats" in run("app", "delete", "cpu-worker", "--path", str(project), "--yes")
    assert runpod.store.apps == {} and runpod.store.environments == {}
    assert runpod.store.endpoints == {} and runpod.store.templates == {}
    assert all(api_key not in output for output in outputs)


def test_deleting_an_environment_tears_down_its_endpoints(runpod, project):
    api.deploy(project, api.DeployOptions(target="runpod", env="prod"))
    deleted = api.runpod_delete_environment("prod", None, project)
    assert sorted(deleted) == ["cpu-worker-redact", "cpu-worker-stats"]
    assert runpod.store.endpoints == {} and runpod.store.environments == {}
    assert states.load(project, "prod") is None


def test_a_compiled_stub_calls_the_deployed_endpoint_through_the_emulator(runpod, project, api_key):
    api.deploy(project, api.DeployOptions(target="runpod", env="prod"))
    runpod.calls.clear()
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, "-m", "flashc", "run", "main.py", "--env", "prod"],
        cwd=project, env=environment, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    lines = dict(line.split(": ", 1) for line in completed.stdout.splitlines())
    assert "'words': 32" in lines["text_stats"] and "'top_words': [['worker', 4], ['the', 3], ['a', 2]]" in lines["text_stats"]
    assert "'emails': 1" in lines["redact"] and "[redacted]" in lines["redact"]
    ids = {e["name"]: e["id"] for e in runpod.store.endpoints.values()}
    assert sorted(c[1]["endpoint"] for c in runpod.calls if c[0] == "runsync") == sorted(ids.values())
    assert set(runpod.auth_headers[-2:]) == {f"Bearer {api_key}"}
    assert api_key not in completed.stdout + completed.stderr


def test_a_refused_key_says_where_it_came_from(runpod, project, monkeypatch, api_key):
    monkeypatch.setenv("RUNPOD_API_KEY", "rpa_STALEKEY0000000000")
    with pytest.raises(AuthenticationError, match=r"RunPod refused the RunPod API key from RUNPOD_API_KEY \(HTTP 401"):
        api.deploy(project, api.DeployOptions(target="runpod", env="prod", dry_run=True))
    monkeypatch.delenv("RUNPOD_API_KEY")
    (project / ".env").write_text("OTHER=1\nRUNPOD_API_KEY='rpa_WRONGDOTENV00000000'\n")
    result = flashc("deploy", str(project), "--target", "runpod", "--env", "prod", "--plan", "-q")
    assert result.exit_code == 2
    assert f"RunPod API key from {project / '.env'} (HTTP 401" in result.output
    assert "rpa_WRONGDOTENV00000000" not in result.output and "rpa_STALEKEY" not in result.output


def test_key_sources_in_order_and_login_writes_a_private_file(runpod, project, monkeypatch, api_key):
    monkeypatch.delenv("RUNPOD_API_KEY")
    with pytest.raises(credentials.CredentialsError, match="no RunPod API key found"):
        credentials.resolve(project)
    result = flashc("login", "--api-key", api_key)
    assert result.exit_code == 0 and api_key not in result.output
    path = credentials.config_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials.resolve(project).source == str(path)
    (project / ".env").write_text(f"RUNPOD_API_KEY={api_key}  # mine\n")
    assert credentials.resolve(project).source == str(project / ".env")
    monkeypatch.setenv("RUNPOD_API_KEY", api_key)
    assert credentials.resolve(project).source == "RUNPOD_API_KEY"
    assert api_key not in repr(credentials.resolve(project))


def test_the_key_is_in_no_output_log_or_record(runpod, project, api_key, tmp_path):
    """A whole session through the CLI, in a subprocess with --debug, including a failure with a
    traceback and an endpoint calling another (its environment carries the key)."""
    (project / "caller.py").write_text(
        "from flashc import CpuInstanceType, Endpoint\n"
        "from text_worker import text_stats\n\n\n"
        '@Endpoint(name="cpu-caller", cpu=CpuInstanceType.CPU3C_1_2)\n'
        "async def summary(text: str) -> dict:\n"
        "    return await text_stats(text, top=1)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    outputs = []
    for args in (
        ["deploy", ".", "--target", "runpod", "--env", "prod"],
        ["deploy", ".", "--target", "runpod", "--env", "prod", "--plan", "--format", "json"],
        ["status", ".", "--env", "prod", "--format", "json"],
        ["env", "info", "prod", "--json"],
    ):
        completed = subprocess.run([sys.executable, "-m", "flashc", "--debug", *args], cwd=project, env=env, capture_output=True, text=True, timeout=300)
        assert completed.returncode == 0, completed.stderr
        outputs.append(completed.stdout + completed.stderr)
    template = next(t for t in runpod.store.templates.values() if t["name"].endswith("cpu-caller"))
    assert {"key": "RUNPOD_API_KEY", "value": api_key} in template["env"]  # the caller needs it, as in runpod-flash
    runpod.fail("saveTemplate", message=f"invalid input near {api_key}")  # a server echoing the key back
    (project / "caller.py").write_text((project / "caller.py").read_text().replace("top=1", "top=2"))
    failed = subprocess.run([sys.executable, "-m", "flashc", "--debug", "deploy", ".", "--target", "runpod", "--env", "prod"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert failed.returncode == 2 and "Traceback" in failed.stderr and "invalid input near ***" in failed.stderr
    outputs.append(failed.stdout + failed.stderr)
    recorded = [p.read_text() for p in (project / ".flash").rglob("*") if p.is_file() and p.suffix in (".json", ".log", ".txt", ".toml")]
    assert all(api_key not in text for text in outputs + recorded)


def test_a_compiled_stub_calls_a_load_balanced_endpoint_through_the_emulator(runpod, tmp_path, api_key):
    import shutil

    from support import REPO

    project = tmp_path / "lb"
    shutil.copytree(REPO / "examples" / "lb_api", project, ignore=shutil.ignore_patterns(".flash", "__pycache__"))
    api.deploy(project, api.DeployOptions(target="runpod", env="prod"))
    (endpoint,) = runpod.store.endpoints.values()
    assert endpoint["type"] == "LB" and endpoint["scalerType"] == "REQUEST_COUNT"
    template = runpod.store.templates[endpoint["templateId"]]
    assert template["imageName"] == "runpod/flash-lb-cpu:py3.12-latest"
    assert {"key": "FLASH_ENDPOINT_TYPE", "value": "lb"} in template["env"]
    assert states.load(project, "prod").endpoints["lb-api-shop"].url == f"{runpod.url}/lb/{endpoint['id']}"
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, "-m", "flashc", "run", "main.py", "--env", "prod"],
        cwd=project, env=environment, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    lines = dict(line.split(": ", 1) for line in completed.stdout.splitlines())
    assert set(lines) == {"health", "in stock", "item 2", "quote", "too many"}
    paths = [c[1]["path"] for c in runpod.calls if c[0] == "lb"]
    assert "/items/2" in paths


def test_the_cli_deletes_removed_endpoints_only_with_yes_when_it_cannot_ask(runpod, project):
    assert flashc("deploy", str(project), "--target", "runpod", "--env", "prod", "-q").exit_code == 0
    worker = project / "text_worker.py"
    source = worker.read_text()
    worker.write_text(source[: source.index('@Endpoint(name="cpu-worker-redact"')])
    (project / "main.py").write_text("")
    plan = flashc("deploy", str(project), "--target", "runpod", "--env", "prod", "--plan", "-q")
    assert "  - remove  cpu-worker-redact  (no longer in the project; endpoint " in plan.output
    assert plan.output.endswith("runpod/prod: 1 to remove, 1 other step\n")
    refused = flashc("deploy", str(project), "--target", "runpod", "--env", "prod", "-q")
    assert refused.exit_code == 2 and "confirm with --yes (nothing was changed)" in refused.output
    assert len(runpod.store.endpoints) == 2
    done = flashc("deploy", str(project), "--target", "runpod", "--env", "prod", "-q", "--yes")
    assert done.exit_code == 0, done.output
    assert [e["name"] for e in runpod.store.endpoints.values()] == ["cpu-worker-stats"]
