"""The RunPod commands of ``flashc``: ``login``, ``app list|get|delete``, ``env list|create|info|delete``.

A thin shell like :mod:`flashc.cli`: parse, call :mod:`flashc.api`, render. Deletes ask
first unless ``--yes``; without a terminal to ask on they refuse.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from . import api

app_commands = typer.Typer(help="RunPod apps (deleting one deletes its endpoints too).", no_args_is_help=True)
env_commands = typer.Typer(help="RunPod environments of an app (deleting one deletes its endpoints too).", no_args_is_help=True)

APP_OPTION = typer.Option(None, "--app", help="The RunPod app (default: the project's name).")
PATH_OPTION = typer.Option(Path("."), "--path", help="The project directory (its .env may hold the key).")
JSON_OPTION = typer.Option(False, "--json", help="Print JSON.")
YES_OPTION = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")


def _run(action):  # type: ignore[no-untyped-def]
    from .cli import _run as run

    return run(action)


def _progress(message: str) -> None:
    typer.echo(f"  {message}", err=True)


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        typer.echo(f"flashc: error: refusing to {question[0].lower()}{question[1:-1]} without --yes (no terminal to ask on)", err=True)
        raise typer.Exit(2)
    if not typer.confirm(question, default=False):
        typer.echo("Nothing was deleted.", err=True)
        raise typer.Exit(1)


def _print(data: object, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else text)


def login(
    api_key: str = typer.Option(..., "--api-key", prompt="RunPod API key", hide_input=True, help="The key (prompted for when not given)."),
) -> None:
    """Store a RunPod API key in ~/.runpod/config.toml (readable by you only)."""
    path = _run(lambda: api.runpod_login(api_key))
    typer.echo(f"Saved the API key to {path} (mode 0600). RUNPOD_API_KEY and a project's .env take precedence over it.")


@app_commands.command("list")
def app_list(path: Path = PATH_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The account's apps and their environments."""
    apps = _run(lambda: api.runpod_apps(path))
    _print(apps, as_json, "\n".join(f"{a['name']}  ({a['id']})  environments: {', '.join(a['environments']) or 'none'}" for a in apps) or "No apps.")


@app_commands.command("get")
def app_get(name: str = typer.Argument(..., help="The app."), path: Path = PATH_OPTION, as_json: bool = JSON_OPTION) -> None:
    """An app: its environments (with their endpoints) and builds."""
    found = _run(lambda: api.runpod_app(name, path))
    lines = [f"{found['name']}  ({found['id']})"]
    for environment in found["environments"]:
        lines.append(f"  {environment['name']}  ({environment['id']})  build {environment['active_build'] or 'none'}  endpoints: {', '.join(environment['endpoints']) or 'none'}")
    lines.append(f"  builds: {len(found['builds'])}")
    _print(found, as_json, "\n".join(lines))


@app_commands.command("delete")
def app_delete(name: str = typer.Argument(..., help="The app."), path: Path = PATH_OPTION, yes: bool = YES_OPTION) -> None:
    """Delete every endpoint of every environment of the app, the environments, then the app."""
    _confirm(f"Delete app `{name}` with all its environments and endpoints?", yes)
    deleted = _run(lambda: api.runpod_delete_app(name, path, progress=_progress))
    typer.echo(f"Deleted app `{name}`" + (f" and its endpoints {', '.join(deleted)}." if deleted else " (it had no endpoints)."))


@env_commands.command("list")
def env_list(app: Optional[str] = APP_OPTION, path: Path = PATH_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The app's environments."""
    found = _run(lambda: api.runpod_environments(app, path))
    _print(found, as_json, "\n".join(f"{e['name']}  ({e['id']})  endpoints: {', '.join(e['endpoints']) or 'none'}" for e in found) or "No environments.")


@env_commands.command("create")
def env_create(name: str = typer.Argument(..., help="The environment."), app: Optional[str] = APP_OPTION, path: Path = PATH_OPTION) -> None:
    """Create an environment (and the app, if it does not exist yet)."""
    created = _run(lambda: api.runpod_create_environment(name, app, path))
    typer.echo(f"Created environment `{created['name']}` ({created['id']}).")


@env_commands.command("info")
def env_info(name: str = typer.Argument(..., help="The environment."), app: Optional[str] = APP_OPTION, path: Path = PATH_OPTION, as_json: bool = JSON_OPTION) -> None:
    """An environment: its active build and its endpoints as RunPod reports them."""
    found = _run(lambda: api.runpod_environment(name, app, path))
    lines = [f"{found['name']}  ({found['id']})  build {found['active_build'] or 'none'}"]
    lines += [f"  {n}: {e['url']}  (workers {e['workers'][0]}-{e['workers'][1]})" for n, e in sorted(found["endpoints"].items())]
    _print(found, as_json, "\n".join(lines))


@env_commands.command("delete")
def env_delete(name: str = typer.Argument(..., help="The environment."), app: Optional[str] = APP_OPTION, path: Path = PATH_OPTION, yes: bool = YES_OPTION) -> None:
    """Delete the environment's endpoints, then the environment."""
    _confirm(f"Delete environment `{name}` and its endpoints?", yes)
    deleted = _run(lambda: api.runpod_delete_environment(name, app, path, progress=_progress))
    typer.echo(f"Deleted environment `{name}`" + (f" and its endpoints {', '.join(deleted)}." if deleted else " (it had no endpoints)."))


def report_deployed(state: object, env: str, *, json_output: bool) -> None:
    """After a RunPod deploy: where each endpoint is (the key is not shown: it stays where it was)."""
    if json_output:
        return
    endpoints = state.endpoints  # type: ignore[attr-defined]
    typer.echo(f"Deployed to runpod/{env} (app `{state.remote.get('app')}`)")  # type: ignore[attr-defined]
    for name, endpoint in sorted(endpoints.items()):
        typer.echo(f"  {name}: {endpoint.url}  (endpoint {endpoint.endpoint_id})")
    typer.echo(f"Call them with `flashc run SCRIPT --env {env}` (with your RunPod API key).")


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.add_typer(app_commands, name="app")
    app.add_typer(env_commands, name="env")
