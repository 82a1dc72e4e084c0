"""What RunPod should hold for each endpoint of a build, and how that differs from what it holds.

An endpoint is two RunPod objects: a serverless *template* (image, disk, environment) and the
*endpoint* (compute, workers, scaling, its environment). :func:`desired` derives both from the
manifest resource, the way runpod-flash's resource classes do, plus what runpod-flash drops
and flashc keeps (``gpuCount``, ``executionTimeoutMs``, FlashBoot). :func:`drift` compares
them field by field with what the API reports, so a plan says ``workersMax: 1 -> 3`` rather
than "changed", and a deploy from another machine sees the same differences.

The template's environment carries ``FLASHC_ENDPOINT_DIGEST``, the endpoint's handler-package
digest: a code-only change changes it, and RunPod rolls the endpoint's workers onto the new
build. Live resource classes run runpod-flash's worker images (the build records them:
``runpod/flash``, ``runpod/flash-cpu``, ``runpod/flash-lb``, ``runpod/flash-lb-cpu``, tag
``py<version>-latest``), which load ``/app/handler_<name>.py`` from the artifact; the other
classes need the user's ``image``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flashc_runtime import deployments as runtime_deployments

from ...errors import FlashcError
from .. import redaction
from ..plan import FieldChange

DIGEST_VARIABLE = "FLASHC_ENDPOINT_DIGEST"
TEMPLATE_FIELDS = ("imageName", "containerDiskInGb", "dockerArgs", "startScript")
ENDPOINT_FIELDS = (
    "type",
    "gpuIds",
    "gpuCount",
    "instanceIds",
    "minCudaVersion",
    "locations",
    "workersMin",
    "workersMax",
    "idleTimeout",
    "scalerType",
    "scalerValue",
    "executionTimeoutMs",
    "flashBootType",
    "networkVolumeId",
)
"""Endpoint fields compared for drift (``name``, ``templateId`` and ``flashEnvironmentId`` identify it)."""


class ResourceError(FlashcError):
    """A manifest resource cannot be deployed to RunPod as it is."""


@dataclass(frozen=True, slots=True)
class Desired:
    name: str
    load_balanced: bool
    digest: str
    template: dict[str, Any]
    """saveTemplate input without ``id`` (``env`` as a mapping here)."""
    endpoint: dict[str, Any]
    """saveEndpoint input without ``id`` and ``templateId``."""
    calls_others: bool


def template_name(app: str, env: str, endpoint: str) -> str:
    """Template names are unique per account: the app, environment and endpoint make one."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"flashc-{app}-{env}-{endpoint}")


def desired(
    manifest: Mapping[str, Any],
    name: str,
    *,
    app: str,
    env: str,
    environment_id: str,
    endpoint_ids: Mapping[str, str],
    api_key: str,
) -> Desired:
    """The template and endpoint ``name`` should have; ``endpoint_ids`` are those known now
    (an endpoint calling others gets their URLs in its environment)."""
    resource = manifest["resources"][name]
    extra = manifest.get("flashc", {}).get("endpoints", {}).get(name, {})
    digest = manifest.get("flashc", {}).get("endpoint_digests", {}).get(name, "")
    load_balanced = bool(resource.get("is_load_balanced"))
    cpu = bool(resource.get("instanceIds"))
    image = live_image(resource.get("imageName"), live=bool(resource.get("is_live_resource")), load_balanced=load_balanced, cpu=cpu)
    if not image:
        raise ResourceError(
            f"endpoint '{name}' ({resource.get('resource_type')}) has no image: a non-Live resource class runs "
            "the image you give it (`image=` / `imageName=`); the Live classes use runpod-flash's worker images"
        )
    environment = {str(k): str(v) for k, v in (resource.get("env") or {}).items()}
    environment.update({"FLASH_RESOURCE_NAME": name, "FLASH_APP": app, "FLASH_ENV": env, DIGEST_VARIABLE: digest})
    if load_balanced:
        environment["FLASH_ENDPOINT_TYPE"] = "lb"
    calls_others = bool(resource.get("makes_remote_calls"))
    if calls_others:
        environment["RUNPOD_API_KEY"] = api_key
        environment["FLASH_ENVIRONMENT_ID"] = environment_id
        for other, other_id in sorted(endpoint_ids.items()):
            if other != name and other in manifest["resources"]:
                other_lb = bool(manifest["resources"][other].get("is_load_balanced"))
                environment[_url_variable(other)] = runtime_deployments.runpod_endpoint_url(other_id, load_balanced=other_lb)
    template_settings = resource.get("template") or {}
    template = {
        "name": template_name(app, env, name),
        "imageName": image,
        "containerDiskInGb": int(template_settings.get("containerDiskInGb", 64)),
        "dockerArgs": str(template_settings.get("dockerArgs", "")),
        "startScript": str(template_settings.get("startScript", "")),
        "isServerless": True,
        "volumeInGb": 0,
        "env": environment,
    }
    endpoint: dict[str, Any] = {
        "name": name,
        "type": "LB" if load_balanced else "QB",
        "workersMin": int(resource.get("workersMin", 0)),
        "workersMax": int(resource.get("workersMax", 1)),
        "idleTimeout": int(resource.get("idleTimeout", 60)),
        "scalerType": str(resource.get("scalerType", "REQUEST_COUNT" if load_balanced else "QUEUE_DELAY")),
        "scalerValue": int(resource.get("scalerValue", 4)),
        "executionTimeoutMs": int(extra.get("execution_timeout_ms") or 0),
        "flashBootType": "FLASHBOOT" if extra.get("flashboot", True) else "OFF",
        "flashEnvironmentId": environment_id,
    }
    if cpu:
        endpoint["instanceIds"] = list(resource["instanceIds"])
    else:
        endpoint["gpuIds"] = str(resource.get("gpuIds", "ANY"))
        endpoint["gpuCount"] = int(extra.get("gpu_count") or 1)
        if resource.get("minCudaVersion"):
            endpoint["minCudaVersion"] = str(resource["minCudaVersion"])
    if resource.get("locations"):
        endpoint["locations"] = str(resource["locations"])
    if resource.get("networkVolumeId"):
        endpoint["networkVolumeId"] = str(resource["networkVolumeId"])
    return Desired(name, load_balanced, digest, template, endpoint, calls_others)


_IMAGE_VARIABLES = {
    (False, False): "FLASH_GPU_IMAGE",
    (False, True): "FLASH_CPU_IMAGE",
    (True, False): "FLASH_LB_IMAGE",
    (True, True): "FLASH_CPU_LB_IMAGE",
}


def live_image(image: object, *, live: bool, load_balanced: bool, cpu: bool) -> str | None:
    """A Live class's worker image as runpod-flash picks it: ``FLASH_GPU_IMAGE`` (``FLASH_CPU_IMAGE``,
    ``FLASH_LB_IMAGE``, ``FLASH_CPU_LB_IMAGE``) when set, else the build's image with its
    ``latest`` tag replaced by ``FLASH_IMAGE_TAG`` when set. Read when deploying: a build
    depends on the project only. Other classes keep the user's image."""
    if not isinstance(image, str) or not image:
        return None
    if not live:
        return image
    override = os.environ.get(_IMAGE_VARIABLES[(load_balanced, cpu)], "").strip()
    if override:
        return override
    tag = os.environ.get("FLASH_IMAGE_TAG", "").strip()
    if tag and image.endswith("-latest"):
        return image[: -len("latest")] + tag
    return image


def _url_variable(endpoint: str) -> str:
    return "FLASHC_ENDPOINT_URL_" + re.sub(r"[^A-Z0-9]", "_", endpoint.upper())


def template_input(want: Desired, template_id: str | None) -> dict[str, Any]:
    fields = {**want.template, "env": [{"key": k, "value": v} for k, v in sorted(want.template["env"].items())]}
    if template_id:
        fields["id"] = template_id
    return fields


def endpoint_input(want: Desired, template_id: str, endpoint_id: str | None) -> dict[str, Any]:
    fields = {**want.endpoint, "templateId": template_id}
    if endpoint_id:
        fields["id"] = endpoint_id
    return fields


def remote_env(template: Mapping[str, Any] | None) -> dict[str, str]:
    pairs = (template or {}).get("env") or []
    return {str(p.get("key")): str(p.get("value")) for p in pairs if isinstance(p, dict)}


def drift(want: Desired, endpoint: Mapping[str, Any], template: Mapping[str, Any] | None) -> tuple[FieldChange, ...]:
    """Each field whose remote value differs from the wanted one, ``old -> new``; secrets masked."""
    changes: list[FieldChange] = []
    have_env = remote_env(template)
    want_env = want.template["env"]
    if have_env.get(DIGEST_VARIABLE) != want_env.get(DIGEST_VARIABLE):
        changes.append(FieldChange("code", _short(have_env.get(DIGEST_VARIABLE)), _short(want_env.get(DIGEST_VARIABLE))))
    for key in TEMPLATE_FIELDS:
        old = (template or {}).get(key)
        if old != want.template[key]:
            changes.append(FieldChange(f"template.{key}", old, want.template[key]))
    for key in sorted(set(have_env) | set(want_env)):
        if key == DIGEST_VARIABLE or have_env.get(key) == want_env.get(key):
            continue
        changes.append(FieldChange(f"env.{key}", _shown(key, have_env.get(key)), _shown(key, want_env.get(key))))
    for key in ENDPOINT_FIELDS:
        new = want.endpoint.get(key)
        old = endpoint.get(key)
        if key == "instanceIds":
            old = list(old) if old else None
        if new is None and old in (None, "", []):
            continue
        if old != new:
            changes.append(FieldChange(key, old, new))
    return tuple(changes)


def _short(digest: str | None) -> str | None:
    return digest[:12] if digest else None


def _shown(key: str, value: str | None) -> str | None:
    """Environment values of secret-looking names are never shown (the API key is one)."""
    if value is None:
        return None
    if redaction.SECRET_NAME.search(key):
        return redaction.MASK
    return redaction.redact(value)
