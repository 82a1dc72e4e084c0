"""The emulator: RunPod's GraphQL API and serverless endpoints on loopback, artifacts in S3 (moto).

Modelled behaviour worth knowing in tests:

- ``deleteFlashApp`` and ``deleteFlashEnvironment`` delete only the records: endpoints of the
  environment keep running (and billing), as on RunPod (runpod-flash issue #367). Whoever
  deletes an app must delete its endpoints first.
- ``deleteTemplate`` refuses a template an endpoint still uses.
- ``finalizeFlashArtifactUpload`` checks the object is in the bucket, of the size announced to
  ``prepareFlashArtifactUpload``, and gzip.
- ``/v2/{id}/runsync`` runs the job the way the worker image does: it loads
  ``handler_<FLASH_RESOURCE_NAME>.py`` from the environment's active artifact (downloaded
  from S3 and unpacked) in a subprocess with the template's environment, and calls ``handler``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

from .graphql_lite import QueryError, parse, select

BUCKET = "flash-artifacts"

# input type -> {field: (python type(s), required)}
_STR, _INT, _BOOL, _LIST, _DICT = (str,), (int,), (bool,), (list,), (dict,)
INPUTS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "CreateFlashAppInput": {"name": (_STR, True)},
    "CreateFlashEnvironmentInput": {"flashAppId": (_STR, True), "name": (_STR, True)},
    "FlashEnvironmentByNameInput": {"flashAppId": (_STR, True), "name": (_STR, True)},
    "PrepareFlashArtifactUploadInput": {"flashAppId": (_STR, True), "tarballSize": (_INT, True)},
    "FinalizeFlashArtifactUploadInput": {"flashAppId": (_STR, True), "objectKey": (_STR, True), "manifest": (_DICT, True)},
    "DeployBuildToEnvironmentInput": {"flashEnvironmentId": (_STR, True), "flashBuildId": (_STR, True)},
    "SaveTemplateInput": {
        "id": (_STR, False), "name": (_STR, True), "imageName": (_STR, True), "containerDiskInGb": (_INT, True),
        "dockerArgs": (_STR, True), "startScript": (_STR, False), "env": (_LIST, True), "isServerless": (_BOOL, True),
        "volumeInGb": (_INT, True), "readme": (_STR, False),
    },
    "EndpointInput": {
        "id": (_STR, False), "name": (_STR, True), "templateId": (_STR, True), "type": (_STR, False),
        "gpuIds": (_STR, False), "gpuCount": (_INT, False), "instanceIds": (_LIST, False), "minCudaVersion": (_STR, False),
        "locations": (_STR, False), "workersMin": (_INT, True), "workersMax": (_INT, True), "idleTimeout": (_INT, False),
        "scalerType": (_STR, False), "scalerValue": (_INT, False), "executionTimeoutMs": (_INT, False),
        "flashBootType": (_STR, False), "networkVolumeId": (_STR, False), "flashEnvironmentId": (_STR, False),
    },
}
ENDPOINT_VIEW = tuple(name for name in INPUTS["EndpointInput"])


@dataclass
class Failure:
    """Make the calls of ``operation`` (a GraphQL root field, ``run``, ``runsync``, or ``upload``
    when ``proxy_uploads`` is on) after the
    first ``after`` fail ``times`` times: ``status`` (HTTP), else a GraphQL error ``message``; ``delay``
    seconds first (a timeout, when longer than the client waits)."""

    operation: str
    times: int = 1
    after: int = 0
    status: int | None = None
    message: str = "Internal server error"
    delay: float = 0.0
    applied: bool = False
    """Carry the operation out before failing (the answer is lost, the change is not)."""
    seen: int = 0


@dataclass
class _Store:
    apps: dict[str, dict] = field(default_factory=dict)
    environments: dict[str, dict] = field(default_factory=dict)
    builds: dict[str, dict] = field(default_factory=dict)
    templates: dict[str, dict] = field(default_factory=dict)
    endpoints: dict[str, dict] = field(default_factory=dict)
    uploads: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, dict] = field(default_factory=dict)


class Emulator:
    def __init__(self, api_key: str, s3_url: str, workdir: Path) -> None:
        self.api_key = api_key
        self.s3_url = s3_url
        self.workdir = workdir
        self.store = _Store()
        self.calls: list[tuple[str, dict]] = []
        """``(root field or REST operation, variables)`` of every authorised request, in order."""
        self.auth_headers: list[str] = []
        self.failures: list[Failure] = []
        self.proxy_uploads = False
        """Hand out upload URLs through this server (which forwards to S3), so ``fail("upload")`` works."""
        self.upload_headers: list[dict[str, str]] = []
        self._lock = threading.RLock()
        self._lb_workers: dict[str, subprocess.Popen] = {}
        self._lb_ports: dict[str, int] = {}
        self._s3 = boto3.client(
            "s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        try:
            self._s3.create_bucket(Bucket=BUCKET)
        except self._s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle --

    def start(self) -> Emulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for process in self._lb_workers.values():
            process.terminate()
        for process in self._lb_workers.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def environment(self) -> dict[str, str]:
        """What points flashc and compiled stubs at this emulator."""
        return {
            "RUNPOD_API_BASE_URL": self.url,
            "RUNPOD_ENDPOINT_BASE_URL": self.url,
            "RUNPOD_LB_ENDPOINT_URL": self.url + "/lb/{id}",
        }

    def fail(self, operation: str, **kwargs: Any) -> Failure:
        failure = Failure(operation, **kwargs)
        self.failures.append(failure)
        return failure

    def mutations(self) -> list[str]:
        return [name for name, _ in self.calls if name in _MUTATIONS]

    # -- failures --

    def _injected(self, operation: str) -> Failure | None:
        with self._lock:
            for failure in self.failures:
                if failure.operation != operation:
                    continue
                failure.seen += 1
                if failure.seen > failure.after and failure.times > 0:
                    failure.times -= 1
                    return failure
        return None

    # -- GraphQL --

    def graphql(self, body: dict) -> tuple[int, dict]:
        document, variables = body.get("query"), body.get("variables") or {}
        if not isinstance(document, str) or not isinstance(variables, dict):
            return 400, {"errors": [{"message": "Must provide query string."}]}
        try:
            operation = parse(document, variables)
        except QueryError as error:
            return 400, {"errors": [{"message": str(error)}]}
        self.calls.append((operation.field, variables))
        failure = self._injected(operation.field)
        handler = (_MUTATIONS if operation.kind == "mutation" else _QUERIES).get(operation.field)
        if failure is not None:
            if failure.applied and handler is not None:
                with self._lock:
                    handler(self, operation.arguments)
            time.sleep(failure.delay)
            if failure.status is not None:
                return failure.status, {"errors": [{"message": failure.message}]}
            return 200, {"data": None, "errors": [{"message": failure.message, "path": [operation.field]}]}
        if handler is None:
            return 400, {"errors": [{"message": f'Cannot query field "{operation.field}" on type "{operation.kind.title()}".'}]}
        try:
            with self._lock:
                value, type_name = handler(self, operation.arguments)
            return 200, {"data": {operation.field: select(value, operation.selection, type_name)}}
        except QueryError as error:
            return 200, {"data": None, "errors": [{"message": str(error), "path": [operation.field]}]}

    # -- views --

    def _environment_view(self, environment: dict) -> dict:
        endpoints = [{"id": e["id"], "name": e["name"]} for e in self.store.endpoints.values() if e.get("flashEnvironmentId") == environment["id"]]
        build = self.store.builds.get(environment.get("activeBuildId") or "")
        artifact = None
        if build is not None:
            url = self._s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": build["objectKey"]}, ExpiresIn=3600)
            artifact = {"objectKey": build["objectKey"], "downloadUrl": url, "expiresAt": "2099-01-01T00:00:00Z"}
        return {**environment, "endpoints": endpoints, "activeArtifact": artifact, "networkVolumes": []}

    def _app_view(self, app: dict) -> dict:
        environments = [self._environment_view(e) for e in self.store.environments.values() if e["flashAppId"] == app["id"]]
        builds = [{k: b[k] for k in ("id", "objectKey", "createdAt")} for b in self.store.builds.values() if b["flashAppId"] == app["id"]]
        return {"id": app["id"], "name": app["name"], "flashEnvironments": environments, "flashBuilds": builds}

    def _endpoint_view(self, endpoint: dict) -> dict:
        view = {name: endpoint.get(name) for name in ENDPOINT_VIEW}
        view["template"] = self.store.templates.get(endpoint["templateId"])
        view["aiKey"] = None
        return view

    # -- serverless --

    def run_job(self, endpoint_id: str, payload: dict) -> dict:
        endpoint = self.store.endpoints.get(endpoint_id)
        if endpoint is None:
            return {"error": "endpoint not found"}
        job_id = f"job-{uuid.uuid4().hex[:12]}"
        environment = self.store.environments.get(endpoint.get("flashEnvironmentId") or "")
        build = self.store.builds.get((environment or {}).get("activeBuildId") or "")
        template = self.store.templates[endpoint["templateId"]]
        env = {pair["key"]: pair["value"] for pair in template["env"]}
        if build is None:
            return {"id": job_id, "status": "FAILED", "error": "the environment has no active build"}
        directory = self._unpacked(build)
        handler = directory / f"handler_{env['FLASH_RESOURCE_NAME']}.py"
        started = time.monotonic()
        completed = subprocess.run(
            [sys.executable, "-c", _RUNNER, str(handler)],
            input=json.dumps({"id": job_id, "input": payload.get("input")}).encode(),
            capture_output=True,
            cwd=directory,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(self.workdir), "RUNPOD_ENDPOINT_ID": endpoint_id, **env},
            timeout=120,
        )
        took = int((time.monotonic() - started) * 1000)
        try:
            result = json.loads(completed.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            result = {"status": "FAILED", "error": completed.stderr.decode()[-2000:]}
        return {"id": job_id, "delayTime": 1, "executionTime": took, "workerId": f"worker-{endpoint_id}", **result}

    def lb_port(self, endpoint_id: str) -> int | None:
        """The port of the endpoint's load-balanced worker, started on first use as the LB image
        does it: ``handler_<FLASH_RESOURCE_NAME>.py`` serving ``app`` on ``$PORT``."""
        with self._lock:
            if endpoint_id in self._lb_ports and self._lb_workers[endpoint_id].poll() is None:
                return self._lb_ports[endpoint_id]
            endpoint = self.store.endpoints.get(endpoint_id)
            environment = self.store.environments.get((endpoint or {}).get("flashEnvironmentId") or "")
            build = self.store.builds.get((environment or {}).get("activeBuildId") or "")
            if endpoint is None or build is None or endpoint.get("type") != "LB":
                return None
            env = {pair["key"]: pair["value"] for pair in self.store.templates[endpoint["templateId"]]["env"]}
            directory = self._unpacked(build)
            import socket

            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            log = (self.workdir / f"lb-{endpoint_id}.log").open("wb")
            self._lb_workers[endpoint_id] = subprocess.Popen(
                [sys.executable, str(directory / f"handler_{env['FLASH_RESOURCE_NAME']}.py")],
                cwd=directory, stdout=log, stderr=subprocess.STDOUT,
                env={"PATH": os.environ.get("PATH", ""), "HOME": str(self.workdir), "RUNPOD_ENDPOINT_ID": endpoint_id,
                     **env, "HOST": "127.0.0.1", "PORT": str(port)},
            )
            self._lb_ports[endpoint_id] = port
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self._lb_workers[endpoint_id].poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                    return port
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return None

    def _unpacked(self, build: dict) -> Path:
        directory = self.workdir / "builds" / build["id"]
        with self._lock:  # concurrent jobs of one build unpack it once
            return self._unpack(build, directory)

    def _unpack(self, build: dict, directory: Path) -> Path:
        if not directory.is_dir():
            data = self._s3.get_object(Bucket=BUCKET, Key=build["objectKey"])["Body"].read()
            staging = Path(tempfile.mkdtemp(dir=self.workdir))
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                archive.extractall(staging, filter="data")
            directory.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, directory)
        return directory


_RUNNER = """
import asyncio, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("flash_handler", sys.argv[1])
job = json.loads(sys.stdin.read())
try:
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    result = module.handler(job)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    answer = {"status": "COMPLETED", "output": result}
except Exception as error:
    answer = {"status": "FAILED", "error": json.dumps({"error_type": type(error).__name__, "error_message": str(error)})}
print(json.dumps(answer))
"""


def _check_input(type_name: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise QueryError(f'Variable "$input" got invalid value; Expected type "{type_name}" to be an object.')
    spec = INPUTS[type_name]
    for name, item in value.items():
        if name not in spec:
            raise QueryError(f'Variable "$input" got invalid value; Field "{name}" is not defined by type "{type_name}".')
        kinds, _ = spec[name]
        if item is not None and (not isinstance(item, kinds) or (kinds is not _BOOL and isinstance(item, bool))):
            raise QueryError(f'Variable "$input" got invalid value {json.dumps(item)} at "{name}"; expected {kinds[0].__name__}.')
    for name, (_, required) in spec.items():
        if required and value.get(name) is None:
            raise QueryError(f'Variable "$input" got invalid value; Field "{name}" of required type was not provided.')
    return value


def _argument(arguments: dict, name: str) -> Any:
    if not isinstance(arguments.get(name), str) or not arguments[name]:
        raise QueryError(f'Argument "{name}" of required type "String!" was not provided.')
    return arguments[name]


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- queries --


def _myself(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    store = emulator.store
    return {
        "id": "user-1",
        "flashApps": [emulator._app_view(a) for a in store.apps.values()],
        "endpoints": [emulator._endpoint_view(e) for e in store.endpoints.values()],
        "podTemplates": list(store.templates.values()),
    }, "User"


def _app_by_name(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    name = _argument(arguments, "flashAppName")
    app = next((a for a in emulator.store.apps.values() if a["name"] == name), None)
    if app is None:
        raise QueryError(f"Flash app {name} not found")
    return emulator._app_view(app), "FlashApp"


def _app(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    app = emulator.store.apps.get(_argument(arguments, "flashAppId"))
    if app is None:
        raise QueryError("Flash app not found")
    return emulator._app_view(app), "FlashApp"


def _environment_by_name(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    wanted = _check_input("FlashEnvironmentByNameInput", arguments.get("input"))
    for environment in emulator.store.environments.values():
        if environment["flashAppId"] == wanted["flashAppId"] and environment["name"] == wanted["name"]:
            return emulator._environment_view(environment), "FlashEnvironment"
    raise QueryError(f"Flash environment {wanted['name']} not found")


def _build(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    build = emulator.store.builds.get(_argument(arguments, "flashBuildId"))
    if build is None:
        raise QueryError("Flash build not found")
    return {"id": build["id"], "manifest": build["manifest"], "objectKey": build["objectKey"], "createdAt": build["createdAt"]}, "FlashBuild"


# -- mutations --


def _create_app(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    wanted = _check_input("CreateFlashAppInput", arguments.get("input"))
    if any(a["name"] == wanted["name"] for a in emulator.store.apps.values()):
        raise QueryError(f"A flash app named {wanted['name']} already exists")
    app = {"id": _new_id("app-"), "name": wanted["name"], "createdAt": _now()}
    emulator.store.apps[app["id"]] = app
    return emulator._app_view(app), "FlashApp"


def _delete_app(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    app_id = _argument(arguments, "flashAppId")
    if emulator.store.apps.pop(app_id, None) is None:
        raise QueryError("Flash app not found")
    for environment_id in [i for i, e in emulator.store.environments.items() if e["flashAppId"] == app_id]:
        del emulator.store.environments[environment_id]  # endpoints stay: RunPod does not cascade
    return None, "Boolean"


def _create_environment(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    wanted = _check_input("CreateFlashEnvironmentInput", arguments.get("input"))
    if wanted["flashAppId"] not in emulator.store.apps:
        raise QueryError("Flash app not found")
    if any(e["flashAppId"] == wanted["flashAppId"] and e["name"] == wanted["name"] for e in emulator.store.environments.values()):
        raise QueryError(f"Flash environment {wanted['name']} already exists")
    environment = {"id": _new_id("env-"), "name": wanted["name"], "flashAppId": wanted["flashAppId"], "state": "HEALTHY", "activeBuildId": None, "createdAt": _now()}
    emulator.store.environments[environment["id"]] = environment
    return emulator._environment_view(environment), "FlashEnvironment"


def _delete_environment(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    if emulator.store.environments.pop(_argument(arguments, "flashEnvironmentId"), None) is None:
        raise QueryError("Flash environment not found")
    return None, "Boolean"


def _prepare_upload(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    wanted = _check_input("PrepareFlashArtifactUploadInput", arguments.get("input"))
    if wanted["flashAppId"] not in emulator.store.apps:
        raise QueryError("Flash app not found")
    if wanted["tarballSize"] <= 0:
        raise QueryError("tarballSize must be positive")
    key = f"{wanted['flashAppId']}/{uuid.uuid4().hex}.tar.gz"
    emulator.store.uploads[key] = wanted["tarballSize"]
    url = emulator._s3.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key, "ContentType": "application/gzip"}, ExpiresIn=900
    )
    if emulator.proxy_uploads:
        url = emulator.url + "/s3" + url[len(emulator.s3_url):]
    return {"uploadUrl": url, "objectKey": key, "expiresAt": "2099-01-01T00:00:00Z"}, "FlashArtifactUpload"


def _finalize_upload(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    wanted = _check_input("FinalizeFlashArtifactUploadInput", arguments.get("input"))
    size = emulator.store.uploads.get(wanted["objectKey"])
    if size is None or not wanted["objectKey"].startswith(wanted["flashAppId"] + "/"):
        raise QueryError("unknown objectKey for this app")
    try:
        head = emulator._s3.head_object(Bucket=BUCKET, Key=wanted["objectKey"])
    except Exception:  # noqa: BLE001 - any S3 error means no object
        raise QueryError("the artifact was not uploaded") from None
    if head["ContentLength"] != size:
        raise QueryError(f"the artifact has {head['ContentLength']} bytes, {size} were announced")
    start = emulator._s3.get_object(Bucket=BUCKET, Key=wanted["objectKey"], Range="bytes=0-1")["Body"].read()
    if start != b"\x1f\x8b":
        raise QueryError("the artifact is not gzip")
    build = {"id": _new_id("build-"), "flashAppId": wanted["flashAppId"], "objectKey": wanted["objectKey"], "manifest": wanted["manifest"], "createdAt": _now()}
    emulator.store.builds[build["id"]] = build
    return {"id": build["id"], "manifest": build["manifest"]}, "FlashBuild"


def _deploy_build(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    wanted = _check_input("DeployBuildToEnvironmentInput", arguments.get("input"))
    environment = emulator.store.environments.get(wanted["flashEnvironmentId"])
    build = emulator.store.builds.get(wanted["flashBuildId"])
    if environment is None or build is None or build["flashAppId"] != environment["flashAppId"]:
        raise QueryError("environment or build not found in this app")
    environment["activeBuildId"] = build["id"]
    return emulator._environment_view(environment), "FlashEnvironment"


def _save_template(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    wanted = _check_input("SaveTemplateInput", arguments.get("input"))
    for pair in wanted["env"]:
        if not isinstance(pair, dict) or set(pair) != {"key", "value"} or not all(isinstance(v, str) for v in pair.values()):
            raise QueryError('env entries must be {"key": String!, "value": String!}')
    if not wanted["isServerless"]:
        raise QueryError("an endpoint's template must be serverless")
    templates = emulator.store.templates
    if wanted.get("id"):
        if wanted["id"] not in templates:
            raise QueryError("Template not found")
        template = templates[wanted["id"]]
    else:
        if any(t["name"] == wanted["name"] for t in templates.values()):
            raise QueryError(f"Template name {wanted['name']} must be unique")
        template = {"id": _new_id("tpl-")}
    template.update({k: wanted.get(k, "") for k in ("name", "imageName", "containerDiskInGb", "dockerArgs", "startScript", "env")})
    template["isServerless"] = True
    templates[template["id"]] = template
    return template, "PodTemplate"


def _delete_template(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    name = _argument(arguments, "templateName")
    template = next((t for t in emulator.store.templates.values() if t["name"] == name), None)
    if template is None:
        raise QueryError("Template not found")
    if any(e["templateId"] == template["id"] for e in emulator.store.endpoints.values()):
        raise QueryError("Template is in use by an endpoint")
    del emulator.store.templates[template["id"]]
    return None, "Boolean"


def _save_endpoint(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    wanted = _check_input("EndpointInput", arguments.get("input"))
    if wanted["templateId"] not in emulator.store.templates:
        raise QueryError("Template not found")
    if wanted["workersMin"] > wanted["workersMax"]:
        raise QueryError("workersMin must not exceed workersMax")
    if wanted.get("flashEnvironmentId") and wanted["flashEnvironmentId"] not in emulator.store.environments:
        raise QueryError("Flash environment not found")
    if wanted.get("id"):
        endpoint = emulator.store.endpoints.get(wanted["id"])
        if endpoint is None:
            raise QueryError("Endpoint not found")
    else:
        endpoint = {"id": uuid.uuid4().hex[:14]}
    endpoint.update(wanted)
    emulator.store.endpoints[endpoint["id"]] = endpoint
    return emulator._endpoint_view(endpoint), "Endpoint"


def _delete_endpoint(emulator: Emulator, arguments: dict) -> tuple[Any, str]:
    if emulator.store.endpoints.pop(_argument(arguments, "id"), None) is None:
        raise QueryError("Endpoint not found")
    return None, "Boolean"


_QUERIES = {
    "myself": _myself,
    "flashAppByName": _app_by_name,
    "flashApp": _app,
    "flashEnvironmentByName": _environment_by_name,
    "flashBuild": _build,
}
_MUTATIONS = {
    "createFlashApp": _create_app,
    "deleteFlashApp": _delete_app,
    "createFlashEnvironment": _create_environment,
    "deleteFlashEnvironment": _delete_environment,
    "prepareFlashArtifactUpload": _prepare_upload,
    "finalizeFlashArtifactUpload": _finalize_upload,
    "deployBuildToEnvironment": _deploy_build,
    "saveTemplate": _save_template,
    "deleteTemplate": _delete_template,
    "saveEndpoint": _save_endpoint,
    "deleteEndpoint": _delete_endpoint,
}


def _handler(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            header = self.headers.get("Authorization", "")
            emulator.auth_headers.append(header)
            if header != f"Bearer {emulator.api_key}":
                self._answer(401, {"error": "Unauthorized"})
                return False
            return True

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            return json.loads(raw) if raw else None

        def do_POST(self) -> None:  # noqa: N802
            try:
                body = self._body()
            except ValueError:
                self._answer(400, {"error": "body is not JSON"})
                return
            if not self._authorised():
                return
            parts = self.path.strip("/").split("/")
            if parts[0] == "lb":
                self._load_balanced("POST", body)
            elif self.path == "/graphql":
                if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                    self._answer(415, {"errors": [{"message": "Content-Type must be application/json"}]})
                    return
                self._answer(*emulator.graphql(body if isinstance(body, dict) else {}))
            elif len(parts) == 3 and parts[0] == "v2" and parts[2] in ("runsync", "run"):
                self._job(parts[1], parts[2], body)
            else:
                self._answer(404, {"error": f"no route {self.path}"})

        def _job(self, endpoint_id: str, operation: str, body: Any) -> None:
            emulator.calls.append((operation, {"endpoint": endpoint_id}))
            if endpoint_id not in emulator.store.endpoints:
                self._answer(404, {"error": "endpoint not found"})
                return
            if not isinstance(body, dict) or not isinstance(body.get("input"), dict) or not body["input"]:
                self._answer(400, {"error": "Job has missing field(s): input."})
                return
            failure = emulator._injected(operation)
            if failure is not None:
                time.sleep(failure.delay)
                self._answer(failure.status or 500, {"error": failure.message})
                return
            job = emulator.run_job(endpoint_id, body)
            emulator.store.jobs[job["id"]] = job
            if operation == "run":
                self._answer(200, {"id": job["id"], "status": "IN_QUEUE"})
            else:
                self._answer(200, job)

        def _load_balanced(self, method: str, body: Any) -> None:
            """``/lb/{id}/path``: what RunPod routes to ``https://{id}.api.runpod.ai/path``."""
            import httpx

            _, endpoint_id, *rest = self.path.split("/", 3)[1:] + [""]
            rest_path = "/" + (rest[0] if rest else "")
            emulator.calls.append(("lb", {"endpoint": endpoint_id, "method": method, "path": rest_path}))
            port = emulator.lb_port(endpoint_id)
            if port is None:
                self._answer(404, {"error": "no load-balanced endpoint " + endpoint_id})
                return
            forwarded = httpx.request(
                method, f"http://127.0.0.1:{port}{rest_path}", content=None if body is None else json.dumps(body).encode(),
                headers={"Content-Type": "application/json"}, timeout=120,
            )
            self.send_response(forwarded.status_code)
            self.send_header("Content-Type", forwarded.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(forwarded.content)))
            self.end_headers()
            self.wfile.write(forwarded.content)

        def do_PUT(self) -> None:  # noqa: N802
            """The upload proxy: presigned URLs carry no bearer key, and must not get one."""
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length)
            if not self.path.startswith("/s3/"):
                self._answer(404, {"error": f"no route {self.path}"})
                return
            emulator.upload_headers.append(dict(self.headers.items()))
            emulator.calls.append(("upload", {"bytes": len(data)}))
            failure = emulator._injected("upload")
            if failure is not None:
                time.sleep(failure.delay)
                self._answer(failure.status or 503, {"error": failure.message})
                return
            import httpx

            forwarded = httpx.put(
                emulator.s3_url + self.path[len("/s3"):], content=data,
                headers={"Content-Type": self.headers.get("Content-Type", ""), "Content-Length": str(len(data))}, timeout=60,
            )
            self.send_response(forwarded.status_code)
            self.send_header("Content-Length", str(len(forwarded.content)))
            self.end_headers()
            self.wfile.write(forwarded.content)

        def do_GET(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            parts = self.path.strip("/").split("/")
            if parts[0] == "lb":
                self._load_balanced("GET", None)
            elif len(parts) == 4 and parts[0] == "v2" and parts[2] == "status":
                emulator.calls.append(("status", {"endpoint": parts[1], "job": parts[3]}))
                job = emulator.store.jobs.get(parts[3])
                self._answer(200, job) if job else self._answer(404, {"error": "job not found"})
            elif len(parts) == 3 and parts[0] == "v2" and parts[2] == "health":
                known = parts[1] in emulator.store.endpoints
                self._answer(200 if known else 404, {"jobs": {"completed": 0, "failed": 0, "inQueue": 0, "inProgress": 0}, "workers": {"idle": 0, "running": 0}})
            else:
                self._answer(404, {"error": f"no route {self.path}"})

    return Handler
