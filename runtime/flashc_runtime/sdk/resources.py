"""Resource configurations: the eight endpoint classes, ``NetworkVolume`` and ``PodTemplate``.

They take runpod-flash's camelCase fields, with the parameters and defaults of
``tables`` and the checks of ``validation``; what differs between the eight
classes (queue or load balancer, GPU or CPU, live image or not) is read from
``tables.RESOURCE_CLASSES``. Unlike runpod-flash, which silently drops fields
it does not know, an unknown keyword is a ``TypeError``: a typo there would
otherwise deploy a differently configured endpoint without a word.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, ClassVar, TypeVar

from . import tables, validation
from ._settings import SettingsObject, coerce, optional_str
from .enums import DataCenter, GpuGroup, GpuType, ServerlessType, cpu_disk_limit_gb
from .validation import SettingError

T = TypeVar("T")


class NetworkVolume(SettingsObject):
    """A network volume, by name (created on deploy) or by id; ``datacenter`` aliases ``dataCenterId``."""

    signature = tables.NETWORK_VOLUME

    def _configure(self, values: dict[str, Any]) -> None:
        centre = values["dataCenterId"] if values["dataCenterId"] is not None else values["datacenter"]
        self.name, self.id, self.size, self.dataCenterId = validation.check_volume(
            name=values["name"],
            volume_id=optional_str("id", values["id"]),
            size=values["size"],
            datacenter=centre,
        )

    @property
    def datacenter(self) -> DataCenter:
        return self.dataCenterId

    @property
    def is_created(self) -> bool:
        return self.id is not None


class PodTemplate(SettingsObject):
    """Overrides for the worker's pod template (image, container disk, start script...)."""

    signature = tables.POD_TEMPLATE

    def _configure(self, values: dict[str, Any]) -> None:
        for name in ("name", "imageName", "containerRegistryAuthId", "dockerArgs", "ports", "startScript"):
            setattr(self, name, optional_str(name, values[name]) or "")
        self.advancedStart = validation.check_bool("advancedStart", values["advancedStart"])
        if values["config"] is not None and not isinstance(values["config"], dict):
            raise SettingError("config", f"config must be a dict, got {values['config']!r}")
        self.config = values["config"]
        self.containerDiskInGb = _int_at_least(values, "containerDiskInGb", 1)
        self.env = None if values["env"] is None else validation.check_env(_env_dict(values["env"]))


def _env_dict(env: object) -> object:
    """runpod-flash templates take ``[{"key": k, "value": v}]``; a plain dict is accepted too."""
    if isinstance(env, list) and all(isinstance(e, dict) and set(e) == {"key", "value"} for e in env):
        return {e["key"]: e["value"] for e in env}
    return env


class ServerlessResource(SettingsObject):
    """The shared behaviour of the eight endpoint classes (not exported, as in runpod-flash)."""

    _facts: ClassVar[tables.ResourceClass]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        facts = tables.RESOURCE_CLASSES.get(cls.__name__)
        if facts is not None:
            cls._facts = facts
            cls.signature = facts.signature
        super().__init_subclass__(**kwargs)

    @property
    def resource_class(self) -> tables.ResourceClass:
        return self._facts

    def _configure(self, values: dict[str, Any]) -> None:
        facts = self._facts
        self.id = optional_str("id", values["id"])
        self.flashboot = validation.check_bool("flashboot", values["flashboot"])
        self.name = validation.check_endpoint_name(_strip_flashboot_suffix(values["name"], self.flashboot))
        self.workersMin, self.workersMax = validation.check_worker_range(
            values["workersMin"], values["workersMax"], "workersMin/workersMax"
        )
        self.idleTimeout = validation.check_idle_timeout(values["idleTimeout"], "idleTimeout")
        self.executionTimeoutMs = _int_at_least(values, "executionTimeoutMs", 0)
        self.scalerValue = _int_at_least(values, "scalerValue", 0)
        self.workersPFBTarget = _int_at_least(values, "workersPFBTarget", 0)
        self.env = _optional(values, "env", validation.check_env)
        self.python_version = _optional(values, "python_version", validation.check_python_version)
        self.flashEnvironmentId = optional_str("flashEnvironmentId", values["flashEnvironmentId"])
        self.networkVolumeId = optional_str("networkVolumeId", values["networkVolumeId"])
        self.scalerType = validation.normalize_scaler_type(values["scalerType"], "scalerType")
        if facts.load_balanced:
            validation.check_load_balancer_scaler(self.scalerType)
        self.type = _check_type(values["type"], facts)
        self._configure_compute(values)
        self._configure_placement(values)
        self._configure_template(values)

    def _configure_compute(self, values: dict[str, Any]) -> None:
        """GPU or CPU: a CPU endpoint (any class given ``instanceIds``) has its GPU fields cleared."""
        instances = _optional(values, "instanceIds", validation.normalize_cpu)
        self.instanceIds = None if instances is None else list(instances)
        if self.instanceIds:
            self.gpus, self.gpuCount, self.minCudaVersion, self.cudaVersions = [], 0, None, []
            return
        gpus = values["gpus"]
        self.gpus = None if gpus is None else _expand_any(validation.normalize_gpu(gpus, "gpus"))
        self.gpuCount = _int_at_least(values, "gpuCount", 0)
        self.minCudaVersion = _optional(values, "minCudaVersion", validation.normalize_cuda_version)
        self.cudaVersions = [
            validation.normalize_cuda_version(v, "cudaVersions") for v in values["cudaVersions"] or ()
        ]

    def _configure_placement(self, values: dict[str, Any]) -> None:
        """Data centres, and the network volumes that must fit inside them (one per centre)."""
        centres = _optional(values, "datacenter", validation.normalize_datacenters)
        self.datacenter = None if centres is None else list(centres)
        if self.instanceIds and self.datacenter:
            validation.check_cpu_datacenters(self.datacenter)
        self.locations = optional_str("locations", values["locations"])
        if self.locations is None and self.datacenter:
            self.locations = ",".join(dc.value for dc in self.datacenter)
        volumes = [coerce("networkVolumes", NetworkVolume, v) for v in values["networkVolumes"] or ()]
        if values["networkVolume"] is not None:
            single = coerce("networkVolume", NetworkVolume, values["networkVolume"])
            if single not in volumes:
                volumes.append(single)
        validation.check_volumes_fit([v.dataCenterId for v in volumes], self.datacenter or [])
        self.networkVolumes = volumes or None
        self.networkVolume = volumes[0] if volumes else None

    def _configure_template(self, values: dict[str, Any]) -> None:
        """The image to run: Live* classes default it; the others need an image or a template."""
        facts = self._facts
        self.imageName = optional_str("imageName", values["imageName"]) or ""
        if facts.live and not self.imageName:
            version = self.python_version or tables.DEFAULT_PYTHON_VERSION
            self.imageName = tables.default_image(facts.image_type, version)
        self.templateId = optional_str("templateId", values["templateId"])
        given = values["template"]
        template = None if given is None else copy.copy(coerce("template", PodTemplate, given))
        if not (self.imageName or template or self.templateId):
            raise SettingError(
                "imageName", f"{type(self).__name__} needs one of imageName, template or templateId"
            )
        if template is None and self.templateId is None:
            template = PodTemplate(name=self.name)
        if template is not None:
            template.imageName = self.imageName or template.imageName
            if self.env:
                template.env = dict(self.env)
            self._fit_cpu_disk(template)
        self.template = template

    def _fit_cpu_disk(self, template: PodTemplate) -> None:
        """CPU flavours cap the container disk: the default is shrunk to the cap, more is an error."""
        limit = validation.cpu_disk_limit(self.instanceIds or ())
        if limit is None:
            return
        if template.containerDiskInGb == tables.DEFAULT_CONTAINER_DISK_GB:
            template.containerDiskInGb = limit
        elif template.containerDiskInGb > limit:
            limits = ", ".join(f"{i.value}: {cpu_disk_limit_gb(i)} GB" for i in self.instanceIds or ())
            raise SettingError(
                "containerDiskInGb",
                f"containerDiskInGb: {template.containerDiskInGb} GB exceeds what the CPU instances "
                f"allow ({limits}); maximum: {limit} GB",
            )


def _int_at_least(values: dict[str, Any], field: str, low: int) -> int:
    return validation.check_int_range(field, values[field], low)


def _optional(values: dict[str, Any], field: str, check: Callable[[Any, str], T]) -> T | None:
    """``check(value, field)``, or None when the field is None (unset)."""
    return None if values[field] is None else check(values[field], field)


def _strip_flashboot_suffix(name: object, flashboot: bool) -> object:
    """runpod-flash drops a trailing ``-fb`` (its old FlashBoot marker) when flashboot is on."""
    while flashboot and isinstance(name, str) and name.endswith("-fb"):
        name = name[: -len("-fb")]
    return name


def _expand_any(gpus: tuple[GpuGroup | GpuType, ...]) -> list[GpuGroup | GpuType]:
    if GpuGroup.ANY in gpus or GpuType.ANY in gpus:
        return list(GpuGroup.all())
    return list(gpus)


def _check_type(value: object, facts: tables.ResourceClass) -> ServerlessType:
    """``type`` is fixed by the class; saying otherwise is a contradiction, not an override."""
    expected = ServerlessType.LB if facts.load_balanced else ServerlessType.QB
    if value not in (expected, expected.value):
        raise SettingError(
            "type",
            f"type: {facts.name} is always {expected.value}, got {value!r}; allowed: {expected.value}",
        )
    return expected


class ServerlessEndpoint(ServerlessResource):
    """Queue-based GPU endpoint running your own image or template."""


class CpuServerlessEndpoint(ServerlessEndpoint):
    """Queue-based CPU endpoint running your own image or template."""


class LiveServerless(ServerlessEndpoint):
    """Queue-based GPU endpoint on the runpod/flash worker image."""


class CpuLiveServerless(CpuServerlessEndpoint):
    """Queue-based CPU endpoint on the runpod/flash-cpu worker image."""


class LoadBalancerSlsResource(ServerlessResource):
    """Load-balanced (HTTP) GPU endpoint running your own image or template."""


class CpuLoadBalancerSlsResource(LoadBalancerSlsResource):
    """Load-balanced (HTTP) CPU endpoint running your own image or template."""


class LiveLoadBalancer(LoadBalancerSlsResource):
    """Load-balanced (HTTP) GPU endpoint on the runpod/flash-lb worker image."""


class CpuLiveLoadBalancer(CpuLoadBalancerSlsResource):
    """Load-balanced (HTTP) CPU endpoint on the runpod/flash-lb-cpu worker image."""


RESOURCE_TYPES: dict[str, type[ServerlessResource]] = {
    cls.__name__: cls
    for cls in (
        ServerlessEndpoint,
        CpuServerlessEndpoint,
        LiveServerless,
        CpuLiveServerless,
        LoadBalancerSlsResource,
        CpuLoadBalancerSlsResource,
        LiveLoadBalancer,
        CpuLiveLoadBalancer,
    )
}
"""Class name -> class, for building the class ``tables.resource_class_for`` names."""
