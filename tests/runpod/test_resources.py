"""Manifest resources as RunPod templates and endpoints, and their drift (no server needed)."""

from __future__ import annotations

import pytest

from flashc.deploy.plan import FieldChange
from flashc.deploy.runpod import resources

KEY = "rpa_SECRETSECRETSECRET"


def manifest(**gpu_overrides):
    gpu = {
        "resource_type": "LiveServerless", "is_live_resource": True, "is_load_balanced": False, "makes_remote_calls": True,
        "imageName": "runpod/flash:py3.12-latest", "gpuIds": "ADA_24", "workersMin": 0, "workersMax": 3,
        "idleTimeout": 60, "scalerType": "QUEUE_DELAY", "scalerValue": 4, "minCudaVersion": "12.8",
        "locations": "US-CA-2,EU-RO-1", "env": {"MODEL": "small"},
        "template": {"containerDiskInGb": 64, "dockerArgs": "", "startScript": "", "advancedStart": False, "containerRegistryAuthId": ""},
        **gpu_overrides,
    }
    lb = {"resource_type": "CpuLiveLoadBalancer", "is_load_balanced": True, "makes_remote_calls": False,
          "imageName": "runpod/flash-lb-cpu:py3.12-latest", "instanceIds": ["cpu3c-1-2"], "workersMin": 1, "workersMax": 2}
    return {
        "resources": {"gpu": gpu, "api": lb},
        "flashc": {
            "endpoint_digests": {"gpu": "a" * 64, "api": "b" * 64},
            "endpoints": {"gpu": {"gpu_count": 2, "execution_timeout_ms": 5000, "flashboot": False}, "api": {}},
        },
    }


def test_a_gpu_endpoint_keeps_what_runpod_flash_drops(monkeypatch):
    monkeypatch.setenv("RUNPOD_ENDPOINT_BASE_URL", "https://example.test")
    monkeypatch.setenv("RUNPOD_LB_ENDPOINT_URL", "https://{id}.lb.example.test")
    want = resources.desired(manifest(), "gpu", app="shop", env="prod", environment_id="env-1", endpoint_ids={"api": "ep-api"}, api_key=KEY)
    assert want.endpoint == {
        "name": "gpu", "type": "QB", "workersMin": 0, "workersMax": 3, "idleTimeout": 60, "scalerType": "QUEUE_DELAY",
        "scalerValue": 4, "executionTimeoutMs": 5000, "flashBootType": "OFF", "flashEnvironmentId": "env-1",
        "gpuIds": "ADA_24", "gpuCount": 2, "minCudaVersion": "12.8", "locations": "US-CA-2,EU-RO-1",
    }
    assert want.template["name"] == "flashc-shop-prod-gpu" and want.template["imageName"] == "runpod/flash:py3.12-latest"
    assert want.template["env"] == {
        "MODEL": "small", "FLASH_RESOURCE_NAME": "gpu", "FLASH_APP": "shop", "FLASH_ENV": "prod",
        "FLASHC_ENDPOINT_DIGEST": "a" * 64, "RUNPOD_API_KEY": KEY, "FLASH_ENVIRONMENT_ID": "env-1",
        "FLASHC_ENDPOINT_URL_API": "https://ep-api.lb.example.test",
    }
    as_input = resources.template_input(want, "tpl-1")
    assert as_input["id"] == "tpl-1" and {"key": "MODEL", "value": "small"} in as_input["env"]
    assert resources.endpoint_input(want, "tpl-1", None)["templateId"] == "tpl-1"


def test_a_load_balanced_cpu_endpoint():
    want = resources.desired(manifest(), "api", app="shop", env="prod", environment_id="env-1", endpoint_ids={}, api_key=KEY)
    assert want.load_balanced and want.endpoint["type"] == "LB" and want.endpoint["scalerType"] == "REQUEST_COUNT"
    assert want.endpoint["instanceIds"] == ["cpu3c-1-2"] and "gpuIds" not in want.endpoint
    assert want.template["env"]["FLASH_ENDPOINT_TYPE"] == "lb" and "RUNPOD_API_KEY" not in want.template["env"]


def test_a_non_live_class_needs_an_image():
    with pytest.raises(resources.ResourceError, match="endpoint 'gpu' \\(ServerlessEndpoint\\) has no image"):
        resources.desired(manifest(resource_type="ServerlessEndpoint", imageName=None), "gpu", app="a", env="e", environment_id="x", endpoint_ids={}, api_key=KEY)


def test_drift_names_each_field_and_masks_secrets():
    want = resources.desired(manifest(), "gpu", app="shop", env="prod", environment_id="env-1", endpoint_ids={}, api_key=KEY)
    remote_endpoint = {**want.endpoint, "workersMax": 1, "gpuIds": "AMPERE_16"}
    remote_template = {
        **{k: want.template[k] for k in resources.TEMPLATE_FIELDS},
        "env": [{"key": k, "value": v} for k, v in want.template["env"].items() if k != "MODEL"]
        + [{"key": "RUNPOD_API_KEY", "value": "rpa_OLDKEYOLDKEYOLD"}],
    }
    remote_template["env"] = [p for p in remote_template["env"] if not (p["key"] == "RUNPOD_API_KEY" and p["value"] == KEY)]
    assert resources.drift(want, remote_endpoint, remote_template) == (
        FieldChange("env.MODEL", None, "small"),
        FieldChange("env.RUNPOD_API_KEY", "***", "***"),
        FieldChange("gpuIds", "AMPERE_16", "ADA_24"),
        FieldChange("workersMax", 1, 3),
    )
    same = {**want.template, "env": [{"key": k, "value": v} for k, v in want.template["env"].items()]}
    assert resources.drift(want, want.endpoint, same) == ()


def test_live_images_follow_runpod_flash_overrides(monkeypatch):
    def image():
        return resources.desired(manifest(), "gpu", app="a", env="e", environment_id="x", endpoint_ids={}, api_key=KEY).template["imageName"]

    for name in ("FLASH_GPU_IMAGE", "FLASH_IMAGE_TAG"):
        monkeypatch.delenv(name, raising=False)
    assert image() == "runpod/flash:py3.12-latest"
    monkeypatch.setenv("FLASH_IMAGE_TAG", "1.21.0")
    assert image() == "runpod/flash:py3.12-1.21.0"
    monkeypatch.setenv("FLASH_GPU_IMAGE", "registry.example/flash:custom")
    assert image() == "registry.example/flash:custom"
    user = manifest(resource_type="ServerlessEndpoint", is_live_resource=False, imageName="me/worker:1")
    assert resources.desired(user, "gpu", app="a", env="e", environment_id="x", endpoint_ids={}, api_key=KEY).template["imageName"] == "me/worker:1"
