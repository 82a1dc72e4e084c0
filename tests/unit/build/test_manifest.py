"""``flash_manifest.json``: runpod-flash's schema, flashc's facts, the same bytes every time.

Each project's manifest is snapshotted in the file's own key order
(``__snapshots__/``); the schema (required and allowed keys per resource, as
runpod-flash 1.19-1.21 write them) and the derivations that matter are asserted
here directly.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path

import pytest

from flashc import __version__
from flashc.analysis import analyse
from flashc.config import load_config
from flashc.emit.manifest import (
    OPTIONAL_RESOURCE_KEYS,
    RESOURCE_KEYS,
    TEMPLATE_KEYS,
    build_manifest,
    gpu_ids,
    manifest_bytes,
    source_fingerprint,
)
from flashc.model import EndpointKind, ProjectModel

from support import PROJECTS, REPO

PROJECTS_BUILT = {
    "quickstart": REPO / "examples" / "quickstart",
    "remote_spellings": PROJECTS / "remote_spellings",
    "endpoint_decorator": PROJECTS / "endpoint_decorator",
    "routes_and_forms": PROJECTS / "routes_and_forms",
    "cross_module": PROJECTS / "cross_module",
}
GENERATED_AT = "2026-01-01T00:00:00Z"

TOP_LEVEL_KEYS = [
    "version",
    "python_version",
    "generated_at",
    "project_name",
    "resources",
    "function_registry",
    "routes",
    "source_fingerprint",
    "flashc",
]
FUNCTION_KEYS = {"name", "module", "is_async", "is_class"}
OPTIONAL_FUNCTION_KEYS = {"class_methods", "http_method", "http_path"}
FLASHC_ENDPOINT_KEYS = {
    "dependencies",
    "system_dependencies",
    "gpu_count",
    "execution_timeout_ms",
    "flashboot",
    "accelerate_downloads",
    "handler_package",
}
OPTIONAL_FLASHC_ENDPOINT_KEYS = {"cuda_versions", "workers_pfb_target", "flash_environment_id"}


def analysed(root: Path) -> tuple[ProjectModel, str]:
    analysis = analyse(root, load_config(root))
    files = [(source.path, source.text.encode("utf-8")) for source in analysis.sources.values()]
    return analysis.model, source_fingerprint(files)


def handler_files(model: ProjectModel) -> dict[str, str]:
    return {str(e.name): f"handler_{e.name}.py" for e in model.endpoints if e.kind is EndpointKind.QUEUE}


def manifest_of(project: str, **extra: object) -> dict[str, object]:
    model, fingerprint = analysed(PROJECTS_BUILT[project])
    return build_manifest(model, handler_files=handler_files(model), source_fingerprint=fingerprint, generated_at=GENERATED_AT, **extra)


def ordered(value: object) -> object:
    """The snapshot keeps the manifest's key order (syrupy sorts plain dicts)."""
    if isinstance(value, dict):
        return OrderedDict((key, ordered(item)) for key, item in value.items())
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return value


@pytest.mark.parametrize("project", sorted(PROJECTS_BUILT))
def test_manifest_snapshot(project: str, json_snapshot) -> None:
    assert ordered(manifest_of(project)) == json_snapshot


@pytest.mark.parametrize("project", sorted(PROJECTS_BUILT))
def test_schema(project: str) -> None:
    manifest = manifest_of(project)
    keys = list(manifest)
    assert keys == [k for k in TOP_LEVEL_KEYS if k in keys]
    assert set(TOP_LEVEL_KEYS) - set(keys) <= {"routes"}
    assert manifest["version"] == "1.0"
    resources = manifest["resources"]
    assert isinstance(resources, dict) and list(resources) == sorted(resources)
    for name, resource in resources.items():
        present = list(resource)
        assert set(RESOURCE_KEYS) <= set(present), name
        assert set(present) <= set(RESOURCE_KEYS) | set(OPTIONAL_RESOURCE_KEYS), name
        # runpod-flash's order: the fixed keys, the deployment fields, handler_file, target_python_version
        expected_order = [*RESOURCE_KEYS[:-1], *OPTIONAL_RESOURCE_KEYS, RESOURCE_KEYS[-1]]
        assert present == [k for k in expected_order if k in present], name
        assert ("handler_file" in resource) == (not resource["is_load_balanced"]), name
        assert resource["target_python_version"] == manifest["python_version"]
        if "template" in resource:
            assert list(resource["template"]) == list(TEMPLATE_KEYS)
        for function in resource["functions"]:
            assert FUNCTION_KEYS <= set(function) <= FUNCTION_KEYS | OPTIONAL_FUNCTION_KEYS
            assert ("http_method" in function) == resource["is_load_balanced"]
            assert manifest["function_registry"][function["name"]] == name
        if resource["is_load_balanced"]:
            assert "max_concurrency" not in resource
            assert manifest["routes"][name] == {f"{f['http_method']} {f['http_path']}": f["name"] for f in resource["functions"]}
    section = manifest["flashc"]
    assert list(section)[:2] == ["version", "endpoints"] and section["version"] == __version__
    assert list(section["endpoints"]) == list(resources)
    for name, entry in section["endpoints"].items():
        assert FLASHC_ENDPOINT_KEYS <= set(entry) <= FLASHC_ENDPOINT_KEYS | OPTIONAL_FLASHC_ENDPOINT_KEYS
        assert entry["handler_package"] == f"endpoints/{name}"


@pytest.mark.parametrize("project", sorted(PROJECTS_BUILT))
def test_deterministic(project: str) -> None:
    first, second = manifest_of(project), manifest_of(project)
    assert first == second
    assert manifest_bytes(first) == manifest_bytes(second)
    assert json.loads(manifest_bytes(first)) == first
    assert manifest_bytes(first).decode().startswith('{\n  "version": "1.0",\n  "python_version": ')


def test_quickstart_facts() -> None:
    manifest = manifest_of("quickstart", flashc={"artifact": {"sha256": "ab"}})
    resources = manifest["resources"]
    gpu = resources["quickstart-gpu"]
    assert gpu["resource_type"] == "LiveServerless"
    assert gpu["gpuIds"] == "ADA_24"
    assert gpu["imageName"] == "runpod/flash:py3.12-latest"
    assert (gpu["workersMin"], gpu["workersMax"]) == (0, 3)
    assert gpu["locations"].split(",")[0] == "US-CA-2" and gpu["minCudaVersion"] == "12.8"
    assert gpu["config_variable"] is None and gpu["handler_file"] == "handler_quickstart-gpu.py"
    cpu = resources["quickstart-cpu"]
    assert cpu["config_variable"] == "cpu_config" and cpu["idleTimeout"] == 30
    assert cpu["template"]["containerDiskInGb"] == 10  # the cpu3c-1-2 cap, as runpod-flash sizes it
    assert "gpuIds" not in cpu and "minCudaVersion" not in cpu and "locations" not in cpu
    api = resources["quickstart-api"]
    assert api["resource_type"] == "CpuLiveLoadBalancer" and api["makes_remote_calls"] is True
    assert manifest["routes"] == {"quickstart-api": {"GET /health": "health", "POST /analyze": "analyze"}}
    assert manifest["flashc"]["endpoints"]["quickstart-gpu"]["dependencies"] == ["numpy"]
    assert manifest["flashc"]["artifact"] == {"sha256": "ab"}
    assert list(manifest["flashc"]) == ["version", "endpoints", "artifact"]


def test_endpoint_decorator_facts() -> None:
    manifest = manifest_of("endpoint_decorator")
    assert manifest["python_version"] == "3.11"
    embedder = manifest["resources"]["embedder"]
    assert embedder["max_concurrency"] == 8
    assert embedder["gpuIds"] == "ADA_24,AMPERE_48,-NVIDIA RTX A6000"
    assert embedder["locations"] == "EU-RO-1,US-CA-2"
    assert embedder["env"] == {"MODEL": "mini"}
    assert embedder["networkVolumes"] == [{"name": "weights", "size": 50, "dataCenterId": "EU-RO-1"}]
    classifier = manifest["resources"]["classifier"]
    assert classifier["functions"] == [
        {"name": "Classifier", "module": "models", "is_async": True, "is_class": True, "class_methods": ["predict", "labels", "version"]}
    ]
    dropped = manifest["flashc"]["endpoints"]["classifier"]
    assert (dropped["execution_timeout_ms"], dropped["flashboot"], dropped["gpu_count"]) == (30000, False, 1)


def test_routes_and_forms_facts() -> None:
    manifest = manifest_of("routes_and_forms")
    assert manifest["routes"] == {
        "web-api": {
            "GET /items": "list_items",
            "POST /items": "save_item",
            "PUT /items/{item_id}": "save_item",
            "DELETE /items/{item_id}": "delete_item",
            "PATCH /items/{item_id}": "patch_item",
        }
    }
    functions = manifest["resources"]["web-api"]["functions"]
    assert [(f["name"], f["http_method"]) for f in functions][:3] == [("list_items", "GET"), ("save_item", "POST"), ("save_item", "PUT")]
    assert manifest["resources"]["call-form-legacy"]["config_variable"] is None


def test_cross_module_facts() -> None:
    manifest = manifest_of("cross_module")
    api = manifest["resources"]["xm-api"]
    assert (api["file_path"], api["module_path"], api["local_path_prefix"]) == ("routes.py", "routes", "/routes")
    assert api["config_variable"] == "api" and api["makes_remote_calls"] is True
    workers = manifest["resources"]["xm-gpu"]
    assert (workers["file_path"], workers["module_path"], workers["local_path_prefix"]) == ("pkg/workers.py", "pkg.workers", "/pkg/workers")
    assert manifest["flashc"]["endpoints"]["xm-gpu"]["dependencies"] == ["torch", "transformers"]


def test_gpu_ids() -> None:
    assert gpu_ids(["any"]) == ",".join(
        ["ADA_24", "ADA_32_PRO", "ADA_48_PRO", "ADA_80_PRO", "AMPERE_16", "AMPERE_24", "AMPERE_48", "AMPERE_80", "BLACKWELL_180", "BLACKWELL_96", "HOPPER_141"]
    )
    assert gpu_ids(["NVIDIA L4"]) == "AMPERE_24,-NVIDIA GeForce RTX 3090,-NVIDIA RTX A5000"
    assert gpu_ids(["AMPERE_24", "NVIDIA L4"]) == "AMPERE_24"  # the whole pool was asked for
    assert gpu_ids(["NVIDIA L4", "NVIDIA RTX A5000", "HOPPER_141"]) == "AMPERE_24,HOPPER_141,-NVIDIA GeForce RTX 3090"


def test_source_fingerprint() -> None:
    files = [("b.py", b"two"), ("a.py", b"one")]
    expected = hashlib.sha256()
    for path, data in sorted(files):
        expected.update(len(path).to_bytes(8, "big") + path.encode() + len(data).to_bytes(8, "big") + data)
    assert source_fingerprint(files) == expected.hexdigest()
    assert source_fingerprint(reversed(files)) == expected.hexdigest()
    assert source_fingerprint([("a", b"bc")]) != source_fingerprint([("ab", b"c")])
    assert source_fingerprint([]) == hashlib.sha256().hexdigest()


def test_unbuildable_projects_are_refused() -> None:
    model, fingerprint = analysed(PROJECTS / "unresolved")
    with pytest.raises(ValueError, match="cannot build the manifest") as raised:
        build_manifest(model, handler_files=handler_files(model), source_fingerprint=fingerprint, generated_at=GENERATED_AT)
    assert "name cannot be resolved statically" in str(raised.value)


def test_missing_handler_file_and_reserved_flashc_keys() -> None:
    model, fingerprint = analysed(PROJECTS_BUILT["quickstart"])
    with pytest.raises(ValueError, match="'quickstart-cpu' is queue-based but has no handler file"):
        build_manifest(model, handler_files={}, source_fingerprint=fingerprint, generated_at=GENERATED_AT)
    with pytest.raises(ValueError, match="endpoints"):
        build_manifest(model, handler_files=handler_files(model), source_fingerprint=fingerprint, generated_at=GENERATED_AT, flashc={"endpoints": {}})


def test_python_versions_must_agree(make_project) -> None:
    module = (
        "from runpod_flash import LiveServerless, remote\n\n"
        "a = LiveServerless(name='a', python_version='3.11')\n"
        "b = LiveServerless(name='b', python_version='3.12')\n\n"
        "@remote(a)\nasync def fa(x):\n    return x\n\n"
        "@remote(b)\nasync def fb(x):\n    return x\n"
    )
    root = make_project({"app.py": module})
    model, fingerprint = analysed(root)
    with pytest.raises(ValueError, match="one Python version"):
        build_manifest(model, handler_files=handler_files(model), source_fingerprint=fingerprint, generated_at=GENERATED_AT)
    root.joinpath("app.py").write_text(module.replace("3.12", "3.11"), encoding="utf-8")
    model, fingerprint = analysed(root)
    manifest = build_manifest(model, handler_files=handler_files(model), source_fingerprint=fingerprint, generated_at=GENERATED_AT)
    assert manifest["python_version"] == "3.11"
    assert manifest["resources"]["a"]["python_version"] == "3.11"
    assert manifest["resources"]["a"]["imageName"] == "runpod/flash:py3.11-latest"
