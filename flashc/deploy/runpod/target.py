"""The RunPod target: plan a deployment against what RunPod holds, apply it step by step.

``plan`` reads the remote state through the API (the app, the environment, its active
build's manifest, its endpoints and their templates) and compares it with the build: it
never looks at a local record, so a deploy from CI or another machine decides the same.
``apply`` runs the steps runpod-flash runs (create or find the app and environment,
upload the artifact, ``deployBuildToEnvironment``, then ``saveTemplate``/``saveEndpoint``
per endpoint), only where the plan says something differs, and deletes the endpoints the
code no longer has (after confirmation, or ``--yes``).

Every step that changes something is recorded in ``.flash/deployments/<env>.json`` as soon
as the API confirms it. When step k of n fails, the file says what exists and the error
says which step failed; the next deploy plans from RunPod's state again and resumes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flashc_runtime import deployments as runtime_deployments

from ...errors import FlashcError
from .. import output
from .. import state as states
from ..plan import Action, Change, Plan
from ..state import DeployedEndpoint, DeployState
from . import credentials, resources, upload
from . import operations as ops
from .graphql import GraphQLClient

TARGET = "runpod"
NEW_ID = "(new)"


class DeployError(FlashcError):
    """The RunPod target cannot do what was asked (the message says what and why)."""


class PartialDeployError(DeployError):
    """Step ``step`` of ``steps`` failed; what the earlier steps made is recorded."""

    def __init__(self, message: str, *, step: int, steps: int) -> None:
        super().__init__(message)
        self.step = step
        self.steps = steps


@dataclass(frozen=True, slots=True)
class RunPodOptions:
    app: str | None = None
    """The RunPod app (default: the one recorded for the environment, else the project's name)."""
    yes: bool = False
    """Delete endpoints removed from the code without asking."""
    confirm: Callable[[str], bool] | None = None
    """Asked before deleting; None: not interactive, so deletes need ``yes``."""
    progress: Callable[[str], None] | None = None


@dataclass(frozen=True, slots=True)
class Built:
    """The build, with its artifact's sha256: what tells whether RunPod already runs it."""

    manifest: dict
    artifact: Path
    sha256: str

    @classmethod
    def read(cls, root: Path) -> Built:
        built = output.Built.read(root)
        return cls(built.manifest, built.artifact, built.artifact_sha256())

    @property
    def names(self) -> list[str]:
        return sorted(self.manifest.get("resources", {}))

    def upload_manifest(self) -> dict:
        """The manifest sent with the build: the artifact's sha256 added, so a later plan can
        tell from RunPod alone whether the environment runs this artifact."""
        flashc = {**self.manifest.get("flashc", {}), "artifact_sha256": self.sha256}
        return {**self.manifest, "flashc": flashc}


@dataclass
class Remote:
    """What RunPod holds for one app and environment."""

    app: dict | None
    environment: dict | None
    endpoints: dict[str, dict] = field(default_factory=dict)
    """This environment's endpoints by name."""
    duplicates: list[dict] = field(default_factory=list)
    """Further endpoints of this environment with a name already seen (left over by someone)."""
    templates: dict[str, dict] = field(default_factory=dict)
    """The account's templates by name."""
    active_manifest: dict | None = None

    def template_of(self, endpoint: dict) -> dict | None:
        template = endpoint.get("template")
        if isinstance(template, dict) and template.get("id"):
            return template
        return next((t for t in self.templates.values() if t.get("id") == endpoint.get("templateId")), None)


def read_remote(client: GraphQLClient, app: str, env: str) -> Remote:
    found_app = ops.app_by_name(client, app)
    environment = None
    if found_app is not None:
        environment = next((e for e in found_app.get("flashEnvironments") or [] if e.get("name") == env), None)
    endpoints, templates = ops.deployed(client)
    remote = Remote(found_app, environment, templates={t["name"]: t for t in templates if t.get("name")})
    if environment is not None:
        for endpoint in sorted(endpoints, key=lambda e: str(e.get("id"))):
            if endpoint.get("flashEnvironmentId") != environment["id"]:
                continue
            if endpoint.get("name") in remote.endpoints:
                remote.duplicates.append(endpoint)
            else:
                remote.endpoints[endpoint["name"]] = endpoint
        if environment.get("activeBuildId"):
            build = ops.build(client, environment["activeBuildId"])
            manifest = (build or {}).get("manifest")
            if isinstance(manifest, str):
                try:
                    manifest = json.loads(manifest)
                except ValueError:
                    manifest = None
            remote.active_manifest = manifest if isinstance(manifest, dict) else None
    return remote


def _app_name(root: Path, env: str, options: RunPodOptions, built: Built | None) -> str:
    if options.app:
        return options.app
    recorded = _recorded(root, env)
    if recorded is not None and recorded.remote.get("app"):
        return str(recorded.remote["app"])
    if built is not None and built.manifest.get("project_name"):
        return str(built.manifest["project_name"])
    return root.name


def _recorded(root: Path, env: str) -> DeployState | None:
    recorded = states.load(root, env)
    return recorded if recorded is not None and recorded.target == TARGET else None


# --- plan ----------------------------------------------------------------------------------------


def compute_plan(built: Built, remote: Remote, *, app: str, env: str, api_key: str) -> Plan:
    notes: list[str] = []
    if remote.app is None:
        notes.append(f"create app `{app}`")
    if remote.environment is None:
        notes.append(f"create environment `{env}`")
    if _needs_upload(built, remote):
        notes.append(f"upload the artifact (sha256 {built.sha256[:12]}) and make it the environment's build")
    environment_id = (remote.environment or {}).get("id", NEW_ID)
    ids = _planned_ids(built, remote)
    actions: list[Action] = []
    for name in sorted(set(built.names) | set(remote.endpoints)):
        endpoint = remote.endpoints.get(name)
        if name not in built.manifest["resources"]:
            actions.append(Action(Change.REMOVE, name, f"no longer in the project; endpoint {endpoint['id']}"))  # type: ignore[index]
            continue
        want = resources.desired(built.manifest, name, app=app, env=env, environment_id=environment_id, endpoint_ids=ids, api_key=api_key)
        if endpoint is None:
            actions.append(Action(Change.CREATE, name, "new endpoint"))
            continue
        drifted = resources.drift(want, endpoint, remote.template_of(endpoint))
        if drifted:
            code_only = all(f.field == "code" for f in drifted)
            why = "its code changed: its workers roll onto the new build" if code_only else "its settings drifted"
            actions.append(Action(Change.UPDATE, name, f"{why}; endpoint {endpoint['id']}", drifted))
        else:
            actions.append(Action(Change.KEEP, name, f"unchanged; endpoint {endpoint['id']}"))
    for duplicate in remote.duplicates:
        actions.append(Action(Change.REMOVE, duplicate["name"], f"a second endpoint of that name; endpoint {duplicate['id']}"))
    return Plan(env, TARGET, tuple(actions), tuple(notes))


def _needs_upload(built: Built, remote: Remote) -> bool:
    active = remote.active_manifest or {}
    return active.get("flashc", {}).get("artifact_sha256") != built.sha256


def _planned_ids(built: Built, remote: Remote) -> dict[str, str]:
    return {name: remote.endpoints[name]["id"] if name in remote.endpoints else NEW_ID for name in built.names}


def plan(root: Path, env: str, options: RunPodOptions = RunPodOptions()) -> Plan:
    """What a deploy would change; changes nothing (not even on RunPod)."""
    built = Built.read(root)
    key = credentials.resolve(root)
    app = _app_name(root, env, options, built)
    with GraphQLClient(key) as client:
        return compute_plan(built, read_remote(client, app, env), app=app, env=env, api_key=key.value)


# --- apply ---------------------------------------------------------------------------------------


class _Recorder:
    """The deployment's record, saved after every change RunPod confirms."""

    def __init__(self, root: Path, env: str, app: str, url: str, python: str, previous: DeployState | None) -> None:
        self.root = root
        remote = dict(previous.remote) if previous is not None else {}
        remote["app"] = app
        remote.setdefault("templates", {})
        self.state = DeployState(
            env=env, target=TARGET, url=url, token="", pid=0,
            endpoints=dict(previous.endpoints) if previous is not None else {}, remote=remote,
        )
        self.python = python

    def start_from(self, remote: Remote, *, app: str, env: str, names: list[str]) -> None:
        """What RunPod holds now, not what an older record says (someone may have changed it since)."""
        self.state.endpoints.clear()
        for name, endpoint in remote.endpoints.items():
            template = remote.template_of(endpoint)
            digest = resources.remote_env(template).get(resources.DIGEST_VARIABLE, "")
            self.state.endpoints[name] = self._entry(name, str(endpoint["id"]), digest, endpoint.get("type") == "LB")
        ours = {resources.template_name(app, env, name): name for name in {*names, *remote.endpoints, *self.state.remote.get("templates", {})}}
        self.state.remote["templates"] = {ours[t]: template["id"] for t, template in remote.templates.items() if t in ours}
        self.state.remote["environment_id"] = (remote.environment or {}).get("id", "")
        self.state.remote["app_id"] = (remote.app or {}).get("id", "")

    def _entry(self, name: str, endpoint_id: str, digest: str, load_balanced: bool) -> DeployedEndpoint:
        return DeployedEndpoint(
            name=name,
            kind="load-balanced" if load_balanced else "queue",
            digest=digest,
            url=runtime_deployments.runpod_endpoint_url(endpoint_id, load_balanced=load_balanced),
            package_dir="",
            python=self.python,
            endpoint_id=endpoint_id,
        )

    def note(self, **values: Any) -> None:
        self.state.remote.update(values)
        self.save()

    def template(self, name: str, template_id: str | None) -> None:
        templates = dict(self.state.remote.get("templates", {}))
        if template_id is None:
            templates.pop(name, None)
        else:
            templates[name] = template_id
        self.state.remote["templates"] = templates
        self.save()

    def endpoint(self, name: str, endpoint: dict | None, *, digest: str = "", load_balanced: bool = False) -> None:
        if endpoint is None:
            self.state.endpoints.pop(name, None)
        else:
            self.state.endpoints[name] = self._entry(name, str(endpoint["id"]), digest, load_balanced)
        self.save()

    def save(self) -> None:
        states.save(self.root, self.state)


def apply(root: Path, env: str, options: RunPodOptions = RunPodOptions()) -> tuple[Plan, DeployState]:
    with states.locked(root, env, progress=options.progress):
        return _apply(root, env, options)


def _apply(root: Path, env: str, options: RunPodOptions) -> tuple[Plan, DeployState]:
    built = Built.read(root)
    key = credentials.resolve(root)
    app = _app_name(root, env, options, built)
    say = options.progress or (lambda message: None)
    with GraphQLClient(key) as client:
        remote = read_remote(client, app, env)
        the_plan = compute_plan(built, remote, app=app, env=env, api_key=key.value)
        removals = [a for a in the_plan.actions if a.change is Change.REMOVE]
        if removals and not options.yes:
            question = f"delete {len(removals)} endpoint(s) of `{env}` no longer in the project ({', '.join(a.endpoint for a in removals)})?"
            if options.confirm is None:
                raise DeployError(f"the deploy would {question[:-1]}; confirm with --yes (nothing was changed)")
            if not options.confirm(question):
                raise DeployError("deploy cancelled: nothing was changed")
        recorder = _Recorder(root, env, app, client.url, str(built.manifest.get("python_version", "")), _recorded(root, env))
        recorder.start_from(remote, app=app, env=env, names=built.names)
        steps = _steps(client, built, remote, the_plan, recorder, app=app, env=env, api_key=key.value, say=say)
        for number, (label, step) in enumerate(steps, start=1):
            say(f"[{number}/{len(steps)}] {label}")
            try:
                step()
            except FlashcError as error:
                recorder.save()
                raise PartialDeployError(
                    f"step {number} of {len(steps)} ({label}) failed: {error}\n"
                    f"{states.state_path(root, env)} records what exists now; "
                    f"`flashc deploy --target runpod --env {env}` resumes from there",
                    step=number, steps=len(steps),
                ) from error
        recorder.note(complete=True)
    return the_plan, recorder.state


def _steps(
    client: GraphQLClient,
    built: Built,
    remote: Remote,
    the_plan: Plan,
    recorder: _Recorder,
    *,
    app: str,
    env: str,
    api_key: str,
    say: Callable[[str], None],
) -> list[tuple[str, Callable[[], None]]]:
    """The plan as steps, each a closure over ``remote`` (which they update as they go)."""
    steps: list[tuple[str, Callable[[], None]]] = []
    recorder.state.remote["complete"] = False

    def ensure_app() -> None:
        if remote.app is None:
            remote.app = ops.create_app(client, app)
            remote.app.setdefault("flashEnvironments", [])
        recorder.note(app_id=remote.app["id"])

    def ensure_environment() -> None:
        assert remote.app is not None
        if remote.environment is None:
            remote.environment = ops.create_environment(client, remote.app["id"], env)
        recorder.note(environment_id=remote.environment["id"])

    steps.append((f"app `{app}`", ensure_app))
    steps.append((f"environment `{env}`", ensure_environment))
    if _needs_upload(built, remote):

        def upload_build() -> None:
            assert remote.app is not None and remote.environment is not None
            size = upload.check_artifact(built.artifact)
            prepared = ops.prepare_upload(client, remote.app["id"], size)
            upload.put_artifact(prepared["uploadUrl"], built.artifact, progress=say)
            finalized = ops.finalize_upload(client, remote.app["id"], prepared["objectKey"], built.upload_manifest())
            recorder.note(build_id=finalized["id"], artifact_sha256=built.sha256)
            ops.deploy_build(client, remote.environment["id"], finalized["id"])
            remote.active_manifest = built.upload_manifest()
            recorder.note(active_build_id=finalized["id"])

        steps.append((f"artifact upload ({built.artifact.stat().st_size / 2**20:.1f} MiB) and deployBuildToEnvironment", upload_build))
    changing = {a.endpoint: a for a in the_plan.actions if a.change in (Change.CREATE, Change.UPDATE, Change.KEEP)}
    # Endpoints calling others go last: their environment holds the others' URLs.
    order = sorted(changing, key=lambda name: (bool(built.manifest["resources"][name].get("makes_remote_calls")), name))
    for name in order:
        action = changing[name]
        if action.change is Change.KEEP and not built.manifest["resources"][name].get("makes_remote_calls"):
            continue  # recorded from RunPod's state already
        steps.append((f"{action.change.value if action.change is not Change.KEEP else 'check'} endpoint `{name}`",
                      _endpoint_step(client, built, remote, recorder, name, app=app, env=env, api_key=api_key)))
    removals = [(n, str(e["id"])) for n, e in sorted(remote.endpoints.items()) if n not in built.manifest["resources"]]
    removals += [(str(d["name"]), str(d["id"])) for d in remote.duplicates]
    for name, endpoint_id in removals:
        steps.append((f"delete endpoint `{name}` ({endpoint_id})", _removal_step(client, remote, recorder, name, endpoint_id, app=app, env=env)))
    return steps


def _endpoint_step(
    client: GraphQLClient, built: Built, remote: Remote, recorder: _Recorder, name: str, *, app: str, env: str, api_key: str
) -> Callable[[], None]:
    def run() -> None:
        assert remote.environment is not None
        ids = {n: e["id"] for n, e in remote.endpoints.items() if n in built.manifest["resources"]}
        want = resources.desired(
            built.manifest, name, app=app, env=env, environment_id=remote.environment["id"], endpoint_ids=ids, api_key=api_key
        )
        endpoint = remote.endpoints.get(name)
        template = remote.template_of(endpoint) if endpoint is not None else remote.templates.get(want.template["name"])
        drifted = resources.drift(want, endpoint or {}, template)
        template_drift = [f for f in drifted if f.field == "code" or f.field.startswith(("template.", "env."))]
        if template is None or template_drift:
            template = ops.save_template(client, resources.template_input(want, template.get("id") if template else None))
            remote.templates[template["name"]] = template
            recorder.template(name, template["id"])
        endpoint_drift = [f for f in drifted if f not in template_drift]
        if endpoint is None or endpoint_drift:
            saved = ops.save_endpoint(client, resources.endpoint_input(want, template["id"], endpoint.get("id") if endpoint else None))
            saved = {**saved, "template": template}
            remote.endpoints[name] = saved
        recorder.endpoint(name, remote.endpoints[name], digest=want.digest, load_balanced=want.load_balanced)

    return run


def _removal_step(
    client: GraphQLClient, remote: Remote, recorder: _Recorder, name: str, endpoint_id: str, *, app: str, env: str
) -> Callable[[], None]:
    def run() -> None:
        ops.delete_endpoint(client, endpoint_id)
        if remote.endpoints.get(name, {}).get("id") == endpoint_id:
            remote.endpoints.pop(name, None)
            recorder.endpoint(name, None)
            template = resources.template_name(app, env, name)
            if template in remote.templates:
                ops.delete_template(client, template)
                remote.templates.pop(template, None)
            recorder.template(name, None)

    return run


# --- teardown, status, calling -----------------------------------------------------------------


def teardown(client: GraphQLClient, environment: dict, *, progress: Callable[[str], None] | None = None) -> list[str]:
    """Delete every endpoint of ``environment`` (found on RunPod, not in a local record) and
    the templates flashc made for them; returns the endpoint names deleted."""
    endpoints, templates = ops.deployed(client)
    by_id = {t.get("id"): t for t in templates}
    deleted = []
    for endpoint in sorted(endpoints, key=lambda e: str(e.get("name"))):
        if endpoint.get("flashEnvironmentId") != environment["id"]:
            continue
        if progress:
            progress(f"deleting endpoint `{endpoint.get('name')}` ({endpoint['id']})")
        ops.delete_endpoint(client, endpoint["id"])
        deleted.append(str(endpoint.get("name")))
        template = (endpoint.get("template") or {}) if isinstance(endpoint.get("template"), dict) else {}
        template = template if template.get("name") else by_id.get(endpoint.get("templateId"), {})
        if str(template.get("name", "")).startswith("flashc-"):
            ops.delete_template(client, template["name"])
    return deleted


def destroy(root: Path, env: str, options: RunPodOptions = RunPodOptions()) -> bool:
    """Delete the environment's endpoints on RunPod and forget the record; False when there was none."""
    with states.locked(root, env, progress=options.progress):
        recorded = _recorded(root, env)
        try:
            built: Built | None = Built.read(root)
        except DeployError:
            built = None
        app = _app_name(root, env, options, built)
        key = credentials.resolve(root)
        with GraphQLClient(key) as client:
            found = ops.app_by_name(client, app)
            environment = next((e for e in (found or {}).get("flashEnvironments") or [] if e.get("name") == env), None)
            deleted = teardown(client, environment, progress=options.progress) if environment is not None else []
        if recorded is not None:
            states.remove(root, env)
        return bool(deleted) or recorded is not None


def status(root: Path, env: str, options: RunPodOptions = RunPodOptions()) -> dict:
    recorded = _recorded(root, env)
    if recorded is None:
        raise DeployError(f"nothing is deployed to RunPod as `{env}`; `flashc deploy --target runpod --env {env}` deploys the project")
    app = _app_name(root, env, options, None)
    with GraphQLClient(credentials.resolve(root)) as client:
        remote = read_remote(client, app, env)
    endpoints = {
        name: {"id": e["id"], "url": runtime_deployments.runpod_endpoint_url(e["id"], load_balanced=e.get("type") == "LB"),
               "workers": f"{e.get('workersMin')}-{e.get('workersMax')}"}
        for name, e in sorted(remote.endpoints.items())
    }
    return {"env": env, "target": TARGET, "app": app, "running": bool(endpoints), "url": recorded.url, "endpoints": endpoints}


def client_environment(root: Path, env: str) -> dict[str, str]:
    """The variables ``flashc run`` sets for a RunPod deployment: each endpoint's URL and the API key."""
    recorded = _recorded(root, env)
    if recorded is None or not recorded.endpoints:
        raise DeployError(f"nothing is deployed to RunPod as `{env}`; `flashc deploy --target runpod --env {env}` deploys the project first")
    key = credentials.resolve(root)
    variables = {"RUNPOD_API_KEY": key.value, "FLASHC_API_KEY": key.value}
    for name, endpoint in sorted(recorded.endpoints.items()):
        url = runtime_deployments.runpod_endpoint_url(endpoint.endpoint_id, load_balanced=endpoint.kind == "load-balanced")
        variables["FLASHC_ENDPOINT_URL_" + "".join(c if c.isalnum() else "_" for c in name.upper())] = url
    return variables
