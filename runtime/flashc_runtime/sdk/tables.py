"""Signatures, defaults and limits of the SDK callables, as data.

The runtime classes (``Endpoint``, ``remote``, the eight resource classes,
``NetworkVolume``, ``PodTemplate``) take exactly these parameters, and the static
analysis binds user call sites against the same tables, so "unknown keyword",
"missing name" and every default mean the same thing on both sides.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from .enums import CudaVersion, CpuInstanceType, GpuGroup, ServerlessScalerType, ServerlessType

T = TypeVar("T")


class _Required:
    """Marks a parameter without a default."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()

# --- limits and fixed vocabularies -------------------------------------------------

DEFAULT_WORKERS_MIN = 0
DEFAULT_WORKERS_MAX = 1
IDLE_TIMEOUT_RANGE = (1, 3600)
VOLUME_SIZE_RANGE_GB = (10, 4096)
DEFAULT_VOLUME_SIZE_GB = 100
DEFAULT_CONTAINER_DISK_GB = 64
SUPPORTED_PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13")
DEFAULT_PYTHON_VERSION = "3.12"
ROUTE_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
RESERVED_PATHS = ("/execute", "/ping")
# Endpoint names become URL host labels and template names on the platform.
ENDPOINT_NAME_MAX_LENGTH = 63

SDK_MODULES = ("runpod_flash", "tetra_rp", "flashc")
"""Import roots whose SDK names (``remote``, ``Endpoint``, ...) flashc recognises."""


# --- parameters ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: object = None
    positional: bool = False
    """May be passed positionally (in declaration order)."""


@dataclass(frozen=True, slots=True)
class Signature:
    callable_name: str
    params: tuple[Param, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, object]:
        return {p.name: p.default for p in self.params if p.default is not REQUIRED}


@dataclass(frozen=True, slots=True)
class BindingError:
    """Why a call's arguments do not fit a signature; ``argument`` names the offender."""

    kind: str  # "unknown" | "duplicate" | "too-many-positional" | "missing"
    argument: str | int
    message: str


@dataclass(frozen=True, slots=True)
class Bound(Generic[T]):
    arguments: dict[str, T]
    errors: tuple[BindingError, ...]


def suggest(name: str, choices: Sequence[str]) -> str:
    """A ' (did you mean 'x'?)' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def bind_arguments(
    signature: Signature,
    positional: Sequence[T],
    keywords: Sequence[tuple[str, T]],
) -> Bound[T]:
    """Bind call arguments to ``signature`` the way Python would, collecting every error."""
    arguments: dict[str, T] = {}
    errors: list[BindingError] = []
    positional_params = [p for p in signature.params if p.positional]
    for index, value in enumerate(positional):
        if index >= len(positional_params):
            errors.append(
                BindingError(
                    "too-many-positional",
                    index,
                    f"{signature.callable_name}() takes {len(positional_params)} positional "
                    f"argument{'s' if len(positional_params) != 1 else ''} but "
                    f"{len(positional)} were given",
                )
            )
            break
        arguments[positional_params[index].name] = value
    for name, value in keywords:
        if name not in signature.names:
            errors.append(
                BindingError(
                    "unknown",
                    name,
                    f"{signature.callable_name}() got an unknown keyword argument "
                    f"'{name}'{suggest(name, signature.names)}",
                )
            )
        elif name in arguments:
            errors.append(
                BindingError(
                    "duplicate",
                    name,
                    f"{signature.callable_name}() got multiple values for argument '{name}'",
                )
            )
        else:
            arguments[name] = value
    for param in signature.params:
        if param.default is REQUIRED and param.name not in arguments:
            errors.append(
                BindingError(
                    "missing",
                    param.name,
                    f"{signature.callable_name}() is missing the required argument '{param.name}'",
                )
            )
    return Bound(arguments, tuple(errors))


REMOTE = Signature(
    "remote",
    (
        Param("resource_config", REQUIRED, positional=True),
        Param("dependencies", None, positional=True),
        Param("system_dependencies", None, positional=True),
        Param("accelerate_downloads", True, positional=True),
        Param("local", False, positional=True),
        Param("method", None, positional=True),
        Param("path", None, positional=True),
    ),
)

ENDPOINT = Signature(
    "Endpoint",
    (
        Param("name", None, positional=True),
        Param("id", None),
        Param("gpu", None),
        Param("cpu", None),
        Param("workers", None),
        Param("idle_timeout", 60),
        Param("dependencies", None),
        Param("system_dependencies", None),
        Param("accelerate_downloads", True),
        Param("volume", None),
        Param("datacenter", None),
        Param("env", None),
        Param("gpu_count", 1),
        Param("execution_timeout_ms", 0),
        Param("flashboot", True),
        Param("image", None),
        Param("scaler_type", None),
        Param("scaler_value", 4),
        Param("template", None),
        Param("min_cuda_version", CudaVersion.V12_8),
        Param("max_concurrency", 1),
    ),
)

ROUTE = Signature("route", (Param("path", REQUIRED, positional=True),))
"""``api.get("/path")`` and its siblings take the path alone."""

NETWORK_VOLUME = Signature(
    "NetworkVolume",
    (
        Param("name", None),
        Param("id", None),
        Param("size", DEFAULT_VOLUME_SIZE_GB),
        Param("dataCenterId", None),
        Param("datacenter", None),
    ),
)

POD_TEMPLATE = Signature(
    "PodTemplate",
    (
        Param("name", ""),
        Param("imageName", ""),
        Param("advancedStart", False),
        Param("config", None),
        Param("containerDiskInGb", DEFAULT_CONTAINER_DISK_GB),
        Param("containerRegistryAuthId", ""),
        Param("dockerArgs", ""),
        Param("env", None),
        Param("ports", ""),
        Param("startScript", ""),
    ),
)


def _resource_signature(class_name: str, *, load_balanced: bool, cpu: bool) -> Signature:
    """The user-settable fields of a resource class (all keyword-only, as in pydantic)."""
    return Signature(
        class_name,
        (
            Param("name", REQUIRED),
            Param("id", None),
            Param("gpus", None if cpu else [GpuGroup.ANY]),
            Param("instanceIds", [CpuInstanceType.CPU3G_2_8] if cpu else None),
            Param("workersMin", DEFAULT_WORKERS_MIN),
            Param("workersMax", DEFAULT_WORKERS_MAX),
            Param("idleTimeout", 60),
            Param("executionTimeoutMs", 0),
            Param("gpuCount", 0 if cpu else 1),
            Param("minCudaVersion", None if cpu else CudaVersion.V12_8),
            Param("cudaVersions", None),
            Param("env", None),
            Param("flashboot", True),
            Param("imageName", ""),
            Param("networkVolume", None),
            Param("networkVolumes", None),
            Param("networkVolumeId", None),
            Param("datacenter", None),
            Param("locations", None),
            Param("python_version", None),
            Param("flashEnvironmentId", None),
            Param(
                "scalerType",
                ServerlessScalerType.REQUEST_COUNT if load_balanced else ServerlessScalerType.QUEUE_DELAY,
            ),
            Param("scalerValue", 4),
            Param("templateId", None),
            Param("template", None),
            Param("type", ServerlessType.LB if load_balanced else ServerlessType.QB),
            Param("workersPFBTarget", 0),
        ),
    )


# --- resource classes --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceClass:
    name: str
    load_balanced: bool
    cpu: bool
    live: bool

    @property
    def image_type(self) -> str:
        """Which runpod/flash image family serves this class: gpu, cpu, lb or lb-cpu."""
        if self.load_balanced:
            return "lb-cpu" if self.cpu else "lb"
        return "cpu" if self.cpu else "gpu"

    @property
    def signature(self) -> Signature:
        return RESOURCE_SIGNATURES[self.name]


RESOURCE_CLASSES: dict[str, ResourceClass] = {
    rc.name: rc
    for rc in (
        ResourceClass("LiveServerless", load_balanced=False, cpu=False, live=True),
        ResourceClass("CpuLiveServerless", load_balanced=False, cpu=True, live=True),
        ResourceClass("ServerlessEndpoint", load_balanced=False, cpu=False, live=False),
        ResourceClass("CpuServerlessEndpoint", load_balanced=False, cpu=True, live=False),
        ResourceClass("LiveLoadBalancer", load_balanced=True, cpu=False, live=True),
        ResourceClass("CpuLiveLoadBalancer", load_balanced=True, cpu=True, live=True),
        ResourceClass("LoadBalancerSlsResource", load_balanced=True, cpu=False, live=False),
        ResourceClass("CpuLoadBalancerSlsResource", load_balanced=True, cpu=True, live=False),
    )
}

RESOURCE_SIGNATURES: dict[str, Signature] = {
    rc.name: _resource_signature(rc.name, load_balanced=rc.load_balanced, cpu=rc.cpu)
    for rc in RESOURCE_CLASSES.values()
}


def resource_class_for(*, load_balanced: bool, cpu: bool, live: bool = True) -> ResourceClass:
    """The class ``Endpoint`` builds for a usage (runpod-flash's ``_build_resource_config``)."""
    for rc in RESOURCE_CLASSES.values():
        if (rc.load_balanced, rc.cpu, rc.live) == (load_balanced, cpu, live):
            return rc
    raise AssertionError("every combination has a class")


IMAGE_REPOSITORIES = {
    "gpu": "runpod/flash",
    "cpu": "runpod/flash-cpu",
    "lb": "runpod/flash-lb",
    "lb-cpu": "runpod/flash-lb-cpu",
}


def default_image(image_type: str, python_version: str, tag: str = "latest") -> str:
    """The runpod/flash worker image a Live* class defaults ``imageName`` to."""
    return f"{IMAGE_REPOSITORIES[image_type]}:py{python_version}-{tag}"


# Resource-class field -> the Endpoint-style setting it feeds. ``workersMin`` and
# ``workersMax`` both feed ``workers``; the rest are one to one.
RESOURCE_FIELD_TO_SETTING: dict[str, str] = {
    "name": "name",
    "id": "id",
    "gpus": "gpu",
    "instanceIds": "cpu",
    "workersMin": "workers",
    "workersMax": "workers",
    "idleTimeout": "idle_timeout",
    "executionTimeoutMs": "execution_timeout_ms",
    "gpuCount": "gpu_count",
    "minCudaVersion": "min_cuda_version",
    "cudaVersions": "cuda_versions",
    "env": "env",
    "flashboot": "flashboot",
    "imageName": "image",
    "networkVolume": "volume",
    "networkVolumes": "volume",
    "networkVolumeId": "volume_id",
    "datacenter": "datacenter",
    "locations": "locations",
    "python_version": "python_version",
    "flashEnvironmentId": "flash_environment_id",
    "scalerType": "scaler_type",
    "scalerValue": "scaler_value",
    "templateId": "template_id",
    "template": "template",
    "type": "type",
    "workersPFBTarget": "workers_pfb_target",
}
