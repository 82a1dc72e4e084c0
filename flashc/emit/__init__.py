"""ProjectModel -> BuildTree: every decision of a build is made here; templates only interpolate.

The tree is pure data (deterministic for the same sources and options), so it is
snapshot-tested as is; :mod:`flashc.package` writes it out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import flashc_runtime

from .. import __version__
from ..analysis import Analysis
from ..model import Endpoint, EndpointKind
from ..templates import render
from .code import CodePlanner, module_file, requirements_text
from .manifest import build_manifest, source_fingerprint
from .tree import BuildFile, BuildTree, build_epoch

HANDLER_MODULE = "_flashc_handler"


@dataclass(frozen=True, slots=True)
class EmitOptions:
    ship_module: bool = False
    """``--ship module``: whole source modules instead of extracted definitions."""
    requirements: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Endpoint name -> what its worker installs (after exclusions)."""
    extra_manifest: Mapping[str, object] = field(default_factory=dict)
    """Added to the manifest's ``flashc`` section."""


def package_directory(endpoint: Endpoint) -> str:
    return f"endpoints/{endpoint.name}"


def handler_file(endpoint: Endpoint) -> str:
    """Where runpod-flash's worker image looks for the endpoint's handler."""
    return f"handler_{endpoint.name}.py"


def emit(analysis: Analysis, options: EmitOptions = EmitOptions()) -> BuildTree:
    model = analysis.model
    unnamed = [e for e in model.endpoints if not e.name]
    if unnamed:
        raise ValueError(f"an endpoint configured at {unnamed[0].config_span} has no static name")
    planner = CodePlanner(analysis)
    artifact: list[BuildFile] = []
    shipped_sources: list[tuple[str, bytes]] = []
    digests: dict[str, str] = {}
    runtime = _runtime_files()
    for endpoint in sorted(model.endpoints, key=lambda e: e.name or ""):
        directory = package_directory(endpoint)
        first = len(artifact)
        code = planner.endpoint_code(endpoint, options.ship_module)
        for module, (path, text) in sorted(code.files.items()):
            data = text.encode("utf-8")
            artifact.append(BuildFile(f"{directory}/{module_file(module, path)}", data))
            shipped_sources.append((f"{directory}/{module_file(module, path)}", data))
        artifact.append(BuildFile(f"{directory}/{HANDLER_MODULE}.py", _handler(endpoint).encode("utf-8")))
        artifact.append(BuildFile(f"{directory}/requirements.txt", requirements_text(options.requirements.get(endpoint.name or "", ())).encode("utf-8")))
        artifact.extend(BuildFile(f"{directory}/flashc_runtime/{path}", data) for path, data in runtime)
        # What deploy targets compare to replace only the endpoints that changed.
        digests[endpoint.name or ""] = source_fingerprint((f.path, f.data) for f in artifact[first:])
        artifact.append(BuildFile(handler_file(endpoint), _entry(endpoint).encode("utf-8")))
    generated_at = datetime.fromtimestamp(build_epoch(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = build_manifest(
        model,
        handler_files={e.name: handler_file(e) for e in model.endpoints if e.kind is EndpointKind.QUEUE and e.name},
        source_fingerprint=source_fingerprint(shipped_sources),
        generated_at=generated_at,
        flashc={"endpoint_digests": digests, **options.extra_manifest},
    )
    artifact.append(BuildFile("flash_manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")))
    client = [
        BuildFile(f"client/{module_file(module, source.path)}", planner.client_module(module).encode("utf-8"))
        for module, source in sorted(analysis.sources.items())
    ]
    return BuildTree(tuple(sorted(artifact, key=lambda f: f.path)), tuple(sorted(client, key=lambda f: f.path)))


def _handler(endpoint: Endpoint) -> str:
    """``_flashc_handler.py``: the queue handler or load-balancer app of the endpoint."""
    targets = [
        {"module": f.module, "name": f.name, "alias": f"_{f.name}"}
        for f in endpoint.functions
    ]
    common = {"endpoint": endpoint.name, "flashc_version": __version__, "targets": targets}
    if endpoint.kind is EndpointKind.LOAD_BALANCED:
        routes = [
            {"method": route.method, "path": route.path, "alias": f"_{f.name}"}
            for f in endpoint.functions
            for route in f.routes
        ]
        return render("lb_app.py.j2", routes=routes, **common)
    classes = [f for f in endpoint.functions if f.is_class]
    cls = None
    if classes:
        cls = {"name": classes[0].name, "alias": f"_{classes[0].name}", "methods": [m.name for m in classes[0].methods]}
    functions = [{"name": f.name, "alias": f"_{f.name}"} for f in endpoint.functions if not f.is_class]
    setting = endpoint.setting("max_concurrency")
    max_concurrency = setting.value if setting is not None and isinstance(setting.value, int) else 1
    return render("queue_handler.py.j2", functions=functions, cls=cls, max_concurrency=max_concurrency, **common)


def _entry(endpoint: Endpoint) -> str:
    load_balanced = endpoint.kind is EndpointKind.LOAD_BALANCED
    return render(
        "artifact_entry.py.j2",
        endpoint=endpoint.name,
        package=package_directory(endpoint),
        attribute="app" if load_balanced else "handler",
        kind="load-balanced" if load_balanced else "queue",
    )


def _runtime_files() -> list[tuple[str, bytes]]:
    """The runtime package's sources, vendored into every handler package."""
    root = Path(flashc_runtime.__file__).parent
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed"):
            files.append((path.relative_to(root).as_posix(), path.read_bytes()))
    return files
