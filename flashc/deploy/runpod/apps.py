"""``flashc app ...`` and ``flashc env ...``: RunPod apps and environments, read from and changed on RunPod.

Deleting an environment deletes its endpoints first, and deleting an app deletes every
environment's endpoints first: the endpoints are found on RunPod by their environment id,
not in a local record, so nothing is left running and billed (runpod-flash issue #367).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flashc_runtime import deployments as runtime_deployments

from .. import state as states
from . import credentials
from . import operations as ops
from .graphql import GraphQLClient
from .target import DeployError, teardown


def _client(root: Path | None) -> GraphQLClient:
    return GraphQLClient(credentials.resolve(root))


def _app(client: GraphQLClient, name: str) -> dict:
    found = ops.app_by_name(client, name)
    if found is None:
        raise DeployError(f"RunPod has no app named `{name}`; `flashc app list` lists them")
    return found


def _environment(app: dict, name: str) -> dict:
    found = next((e for e in app.get("flashEnvironments") or [] if e.get("name") == name), None)
    if found is None:
        names = ", ".join(sorted(e["name"] for e in app.get("flashEnvironments") or [])) or "none"
        raise DeployError(f"app `{app['name']}` has no environment `{name}`; it has: {names}")
    return found


def list_apps(root: Path | None) -> list[dict]:
    with _client(root) as client:
        return [
            {"id": a["id"], "name": a["name"], "environments": sorted(e["name"] for e in a.get("flashEnvironments") or [])}
            for a in sorted(ops.list_apps(client), key=lambda a: a["name"])
        ]


def get_app(root: Path | None, name: str) -> dict:
    with _client(root) as client:
        app = _app(client, name)
    return {
        "id": app["id"],
        "name": app["name"],
        "environments": [_environment_summary(e) for e in sorted(app.get("flashEnvironments") or [], key=lambda e: e["name"])],
        "builds": [b["id"] for b in app.get("flashBuilds") or []],
    }


def delete_app(root: Path | None, name: str, *, progress: Callable[[str], None] | None = None) -> list[str]:
    """Tear down every environment's endpoints, delete the environments, then the app; returns
    the endpoints deleted."""
    deleted: list[str] = []
    with _client(root) as client:
        app = _app(client, name)
        for environment in app.get("flashEnvironments") or []:
            deleted += teardown(client, environment, progress=progress)
            ops.delete_environment(client, environment["id"])
        ops.delete_app(client, app["id"])
    return deleted


def list_environments(root: Path | None, app: str) -> list[dict]:
    with _client(root) as client:
        found = _app(client, app)
    return [_environment_summary(e) for e in sorted(found.get("flashEnvironments") or [], key=lambda e: e["name"])]


def create_environment(root: Path | None, app: str, name: str) -> dict:
    states.check_env_name(name)
    with _client(root) as client:
        found = ops.app_by_name(client, app) or ops.create_app(client, app)
        if any(e.get("name") == name for e in found.get("flashEnvironments") or []):
            raise DeployError(f"app `{app}` already has an environment `{name}`")
        return ops.create_environment(client, found["id"], name)


def environment_info(root: Path | None, app: str, name: str) -> dict:
    with _client(root) as client:
        environment = _environment(_app(client, app), name)
        endpoints, _ = ops.deployed(client)
    mine = sorted((e for e in endpoints if e.get("flashEnvironmentId") == environment["id"]), key=lambda e: e["name"])
    return {
        **_environment_summary(environment),
        "endpoints": {
            e["name"]: {
                "id": e["id"],
                "url": runtime_deployments.runpod_endpoint_url(e["id"], load_balanced=e.get("type") == "LB"),
                "workers": [e.get("workersMin"), e.get("workersMax")],
            }
            for e in mine
        },
    }


def delete_environment(root: Path | None, app: str, name: str, *, progress: Callable[[str], None] | None = None) -> list[str]:
    with _client(root) as client:
        environment = _environment(_app(client, app), name)
        deleted = teardown(client, environment, progress=progress)
        ops.delete_environment(client, environment["id"])
    if root is not None:
        recorded = states.load(root, name)
        if recorded is not None and recorded.target == "runpod" and recorded.remote.get("app") == app:
            states.remove(root, name)
    return deleted


def _environment_summary(environment: dict) -> dict:
    return {
        "id": environment["id"],
        "name": environment["name"],
        "state": environment.get("state"),
        "active_build": environment.get("activeBuildId"),
        "endpoints": sorted(e["name"] for e in environment.get("endpoints") or []),
    }
