"""``flash_manifest.json``: the build's description of its endpoints, in runpod-flash's schema.

The manifest has the keys, nesting and key order runpod-flash 1.19-1.21 write
(``version`` "1.0", ``resources`` keyed by endpoint name, ``function_registry``,
``routes`` for load-balanced endpoints, ``source_fingerprint``), so tools that
read runpod-flash manifests read flashc's. Deployment settings appear under the
resource-class field names runpod-flash records (``imageName``, ``gpuIds``,
``workersMin`` ...), derived from the statically resolved settings the way
runpod-flash's resource classes derive them at import time (``gpuIds`` from the
GPU list, ``locations`` from the data centres, the CPU container-disk cap ...).

What runpod-flash leaves out of its manifest, and therefore never deploys
(``gpu_count``, ``execution_timeout_ms``, ``flashboot``, the dependency lists
...), is kept in a top-level ``"flashc"`` section that runpod-flash ignores.

Where flashc knowingly differs from runpod-flash's values:

- ``is_async`` is what the user wrote (runpod-flash records ``true`` for every
  queue-based ``def`` because its client wrapper is async);
- ``functions`` are in source order (runpod-flash: alphabetical), and a
  function serving several routes has one entry per route;
- ``locations`` ignores ``RUNPOD_DEFAULT_LOCATIONS``/``RUNPOD_DEFAULT_DATACENTER``
  on the build machine: a build depends on the project only.

Everything is pure: the caller passes the time stamp, the fingerprint and the
handler file names, so the same project gives the same manifest, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from flashc_runtime.sdk import tables, validation
from flashc_runtime.sdk.enums import POOLS_TO_TYPES, CpuInstanceType, GpuGroup, GpuType

from .. import __version__
from ..model import Compute, Endpoint, EndpointFunction, EndpointKind, ProjectModel

SCHEMA_VERSION = "1.0"

HANDLER_PACKAGES = "endpoints"
"""Directory of the per-endpoint handler packages in the artifact."""

RESOURCE_KEYS = (
    "resource_type",
    "file_path",
    "local_path_prefix",
    "module_path",
    "functions",
    "is_load_balanced",
    "is_live_resource",
    "config_variable",
    "makes_remote_calls",
    "target_python_version",
)
"""Keys every resource has (``handler_file`` too, for queue-based ones)."""

OPTIONAL_RESOURCE_KEYS = (
    "max_concurrency",
    "imageName",
    "python_version",
    "templateId",
    "gpuIds",
    "instanceIds",
    "workersMin",
    "workersMax",
    "idleTimeout",
    "scalerType",
    "scalerValue",
    "locations",
    "minCudaVersion",
    "env",
    "networkVolumes",
    "networkVolume",
    "networkVolumeId",
    "template",
    "handler_file",
)
"""Keys a resource has when they apply, in the order runpod-flash writes them."""

TEMPLATE_KEYS = ("containerDiskInGb", "dockerArgs", "startScript", "advancedStart", "containerRegistryAuthId")
_TEMPLATE_DEFAULTS = {name: tables.POD_TEMPLATE.param(name).default for name in TEMPLATE_KEYS}
_VOLUME_KEYS = ("name", "id", "size", "dataCenterId")


def build_manifest(
    model: ProjectModel,
    *,
    handler_files: Mapping[str, str],
    source_fingerprint: str,
    generated_at: str,
    flashc: Mapping[str, object] = {},
) -> dict[str, object]:
    """The manifest of ``model`` as a dict whose key order is the file's.

    ``handler_files`` maps each queue-based endpoint to its handler file (the
    manifest's ``handler_file``); ``flashc`` adds keys to the ``"flashc"``
    section (artifact digests and the like). Raises ``ValueError`` when an
    endpoint cannot be built: its name, a setting or a route is not known
    statically, two endpoints share a name or a function name, a queue-based
    endpoint has no handler file, or the Python versions disagree.
    """
    _check_buildable(model)
    endpoints = sorted(model.endpoints, key=lambda e: str(e.name))
    python_version = _app_python_version(model, endpoints)
    resources: dict[str, object] = {}
    registry: dict[str, str] = {}
    routes: dict[str, dict[str, str]] = {}
    for endpoint in endpoints:
        name = str(endpoint.name)
        resources[name] = _resource(endpoint, handler_files, python_version)
        for function in endpoint.functions:
            owner = registry.get(function.name)
            if owner is not None and owner != name:
                raise ValueError(
                    f"function name '{function.name}' is used by endpoints '{owner}' and '{name}'; "
                    "function names are global keys of the manifest's function_registry"
                )
            registry[function.name] = name
        if endpoint.kind is EndpointKind.LOAD_BALANCED:
            routes[name] = _routes(endpoint)
    manifest: dict[str, object] = {
        "version": SCHEMA_VERSION,
        "python_version": python_version,
        "generated_at": generated_at,
        "project_name": model.name,
        "resources": resources,
        "function_registry": registry,
    }
    if routes:
        manifest["routes"] = routes
    manifest["source_fingerprint"] = source_fingerprint
    clash = sorted({"version", "endpoints"} & set(flashc))
    if clash:
        raise ValueError(f"the flashc section's {', '.join(clash)} is written by build_manifest itself")
    manifest["flashc"] = {
        "version": __version__,
        "endpoints": {str(e.name): _flashc_endpoint(e) for e in endpoints},
        **flashc,
    }
    return manifest


def manifest_bytes(manifest: Mapping[str, object]) -> bytes:
    """The file's bytes: two-space indented JSON in the dict's own key order, newline-terminated."""
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def source_fingerprint(files: Iterable[tuple[str, bytes]]) -> str:
    """SHA-256 of the shipped source files, as runpod-flash computes ``source_fingerprint``.

    ``files`` are ``(project-relative POSIX path, content)``. In path order, each
    file contributes the UTF-8 path's length (8 bytes, big-endian), the path,
    the content's length (8 bytes, big-endian) and the content; the lengths keep
    ``("a", b"bc")`` and ``("ab", b"c")`` apart.
    """
    digest = hashlib.sha256()
    for path, data in sorted(files, key=lambda item: item[0]):
        encoded = path.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


# --- checks -----------------------------------------------------------------------------------


def _check_buildable(model: ProjectModel) -> None:
    reasons: list[str] = []
    seen: dict[str, Endpoint] = {}
    for endpoint in model.endpoints:
        where = f"{endpoint.config_span}"
        if endpoint.name is None:
            setting = endpoint.setting("name")
            why = setting.unresolved.reason if setting is not None and setting.unresolved else "unknown"
            reasons.append(f"{where}: the endpoint's name cannot be resolved statically ({why})")
            continue
        label = f"endpoint '{endpoint.name}' ({where})"
        if endpoint.name in seen:
            reasons.append(f"{label}: the name is also used by the endpoint at {seen[endpoint.name].config_span}")
        seen.setdefault(endpoint.name, endpoint)
        for setting in endpoint.settings:
            if setting.unresolved is not None:
                reasons.append(f"{label}: `{setting.key}` cannot be resolved statically ({setting.unresolved.reason})")
        if not endpoint.functions:
            reasons.append(f"{label}: serves no function or class")
        if endpoint.kind is EndpointKind.LOAD_BALANCED:
            for function in endpoint.functions:
                if not function.routes:
                    reasons.append(f"{label}: {function.name} has no HTTP method and path")
                for route in function.routes:
                    if route.unresolved is not None or not route.method or not route.path:
                        why = route.unresolved.reason if route.unresolved else "method or path missing"
                        reasons.append(f"{label}: a route of {function.name} cannot be resolved statically ({why})")
            seen_routes: dict[str, str] = {}
            for function in endpoint.functions:
                for route in function.routes:
                    key = f"{route.method} {route.path}"
                    if key in seen_routes and seen_routes[key] != function.name:
                        reasons.append(f"{label}: route '{key}' is served by both {seen_routes[key]} and {function.name}")
                    seen_routes.setdefault(key, function.name)
    if reasons:
        raise ValueError("cannot build the manifest:\n" + "\n".join(f"  {r}" for r in reasons))


def _app_python_version(model: ProjectModel, endpoints: list[Endpoint]) -> str:
    """One Python for the whole app: the project's setting, else the one the resources declare."""
    declared = {str(e.name): str(_value(e, "python_version")) for e in endpoints if _value(e, "python_version")}
    chosen = model.config.python_version
    if chosen is not None:
        conflicting = {name: version for name, version in declared.items() if version != chosen}
        if conflicting:
            details = ", ".join(f"{name}={version}" for name, version in sorted(conflicting.items()))
            raise ValueError(f"python-version {chosen} of the project conflicts with resources declaring {details}")
        return chosen
    versions = sorted(set(declared.values()))
    if len(versions) > 1:
        details = ", ".join(f"{name}={version}" for name, version in sorted(declared.items()))
        raise ValueError(f"an app has one Python version, but its resources declare {details}")
    return versions[0] if versions else tables.DEFAULT_PYTHON_VERSION


# --- resources -----------------------------------------------------------------------------------


def _value(endpoint: Endpoint, key: str) -> object:
    setting = endpoint.setting(key)
    return None if setting is None else setting.value


def _resource(endpoint: Endpoint, handler_files: Mapping[str, str], python_version: str) -> dict[str, object]:
    name = str(endpoint.name)
    first = endpoint.functions[0]
    load_balanced = endpoint.kind is EndpointKind.LOAD_BALANCED
    resource: dict[str, object] = {
        "resource_type": endpoint.resource_class,
        "file_path": first.path,
        "local_path_prefix": "/" + first.path.removesuffix(".py"),
        "module_path": first.module,
        "functions": [entry for function in endpoint.functions for entry in _function_entries(function, load_balanced)],
        "is_load_balanced": load_balanced,
        "is_live_resource": endpoint.live,
        "config_variable": endpoint.config_variable,
        "makes_remote_calls": endpoint.makes_remote_calls,
    }
    resource.update(_deployment(endpoint))
    if not load_balanced:
        handler = handler_files.get(name)
        if handler is None:
            raise ValueError(f"endpoint '{name}' is queue-based but has no handler file")
        resource["handler_file"] = handler
    resource["target_python_version"] = python_version
    return resource


def _function_entries(function: EndpointFunction, load_balanced: bool) -> list[dict[str, object]]:
    entry: dict[str, object] = {
        "name": function.name,
        "module": function.module,
        "is_async": function.is_async,
        "is_class": function.is_class,
    }
    if function.is_class and function.methods:
        entry["class_methods"] = [method.name for method in function.methods]
    if not load_balanced:
        return [entry]
    return [{**entry, "http_method": route.method, "http_path": route.path} for route in function.routes]


def _routes(endpoint: Endpoint) -> dict[str, str]:
    return {
        f"{route.method} {route.path}": function.name for function in endpoint.functions for route in function.routes
    }


def _deployment(endpoint: Endpoint) -> dict[str, object]:
    """The resource-class fields runpod-flash records, in its order, when they are set."""
    cpu = endpoint.compute is Compute.CPU
    config: dict[str, object] = {}
    concurrency = _value(endpoint, "max_concurrency")
    if endpoint.kind is EndpointKind.QUEUE and isinstance(concurrency, int) and concurrency > 1:
        config["max_concurrency"] = concurrency
    for key, setting in (("imageName", "image"), ("python_version", "python_version"), ("templateId", "template_id")):
        value = _value(endpoint, setting)
        if value:
            config[key] = value
    gpus = _value(endpoint, "gpu")
    if not cpu and isinstance(gpus, list) and gpus:
        config["gpuIds"] = gpu_ids(gpus)
    instances = _value(endpoint, "cpu")
    if cpu and isinstance(instances, list) and instances:
        config["instanceIds"] = list(instances)
    workers = _value(endpoint, "workers")
    low, high = workers if isinstance(workers, list) else (tables.DEFAULT_WORKERS_MIN, tables.DEFAULT_WORKERS_MAX)
    config["workersMin"] = low
    config["workersMax"] = high
    for key, setting in (("idleTimeout", "idle_timeout"), ("scalerType", "scaler_type"), ("scalerValue", "scaler_value")):
        value = _value(endpoint, setting)
        if value is not None:
            config[key] = value
    locations = _value(endpoint, "locations")
    if not locations:
        centres = _value(endpoint, "datacenter")
        locations = ",".join(str(c) for c in centres) if isinstance(centres, list) else None
    if locations:
        config["locations"] = locations
    cuda = _value(endpoint, "min_cuda_version")
    if not cpu and cuda is not None:
        config["minCudaVersion"] = cuda
    env = _value(endpoint, "env")
    if isinstance(env, dict):
        config["env"] = dict(env)
    volumes = _value(endpoint, "volume")
    volume_id = _value(endpoint, "volume_id")
    if isinstance(volumes, list) and volumes:
        config["networkVolumes"] = [
            {key: volume[key] for key in _VOLUME_KEYS if isinstance(volume, dict) and volume.get(key) is not None}
            for volume in volumes
        ]
    elif volume_id:
        config["networkVolumeId"] = volume_id
    template = _template(endpoint, cpu, instances)
    if template is not None:
        config["template"] = template
    return config


def gpu_ids(gpus: Iterable[object]) -> str:
    """runpod-flash's ``gpuIds``: the GPU pools, plus ``-<model>`` for the models of a pool
    chosen through some of its models only; ``any`` stands for every pool. Sorted as
    runpod-flash sorts it (pools first, case-insensitively)."""
    groups: set[GpuGroup] = set()
    models: set[GpuType] = set()
    for value in gpus:
        if value in (GpuGroup.ANY.value, GpuType.ANY.value):
            groups.update(GpuGroup.all())
            continue
        try:
            groups.add(GpuGroup(value))
        except ValueError:
            models.add(GpuType(value))
    tokens = {group.value for group in groups}
    for pool, members in POOLS_TO_TYPES.items():
        chosen = models.intersection(members)
        if not chosen:
            continue
        tokens.add(pool.value)
        if pool not in groups:
            tokens.update(f"-{model.value}" for model in members if model not in chosen)
    return ",".join(sorted(tokens, key=lambda token: (token.startswith("-"), token.lstrip("-").lower())))


def _template(endpoint: Endpoint, cpu: bool, instances: object) -> dict[str, object] | None:
    """The pod template fields runpod-flash records; none when only ``templateId`` is given."""
    given = _value(endpoint, "template")
    if given is None and _value(endpoint, "template_id"):
        return None
    fields = {key: (given.get(key, default) if isinstance(given, dict) else default) for key, default in _TEMPLATE_DEFAULTS.items()}
    if cpu and isinstance(instances, list) and fields["containerDiskInGb"] == tables.DEFAULT_CONTAINER_DISK_GB:
        limit = validation.cpu_disk_limit([CpuInstanceType(i) for i in instances])
        if limit is not None:
            fields["containerDiskInGb"] = limit
    return fields


# --- the flashc section --------------------------------------------------------------------------

_DROPPED_SETTINGS = (
    ("execution_timeout_ms", 0),
    ("flashboot", True),
    ("accelerate_downloads", True),
)


def _flashc_endpoint(endpoint: Endpoint) -> dict[str, object]:
    """What flashc deploys that runpod-flash's manifest has no field for."""
    cpu = endpoint.compute is Compute.CPU
    entry: dict[str, object] = {
        "dependencies": list(endpoint.dependencies),
        "system_dependencies": list(endpoint.system_dependencies),
        "gpu_count": 0 if cpu else _int(_value(endpoint, "gpu_count"), 1),
    }
    for key, default in _DROPPED_SETTINGS:
        value = _value(endpoint, key)
        entry[key] = default if value is None else value
    cuda_versions = _value(endpoint, "cuda_versions")
    if not cpu and isinstance(cuda_versions, list) and cuda_versions:
        entry["cuda_versions"] = list(cuda_versions)
    pfb_target = _value(endpoint, "workers_pfb_target")
    if isinstance(pfb_target, int) and pfb_target:
        entry["workers_pfb_target"] = pfb_target
    environment = _value(endpoint, "flash_environment_id")
    if environment:
        entry["flash_environment_id"] = environment
    entry["handler_package"] = f"{HANDLER_PACKAGES}/{endpoint.name}"
    return entry


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
