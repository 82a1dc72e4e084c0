"""Every endpoint spelling the SDKs allow, resolved to the right endpoint, name and settings.

Each fixture project under ``tests/fixtures/projects`` has its whole model
snapshotted (``__snapshots__/``), and the facts that matter are asserted here
directly so a snapshot update cannot silently change them.
"""

from __future__ import annotations

import pytest

from flashc import api
from flashc.model import Compute, Endpoint, EndpointKind, Spelling
from flashc.render.inspect import model_json

from support import PROJECTS

PROJECT_NAMES = sorted(p.name for p in PROJECTS.iterdir() if p.is_dir())


def endpoints(project: str) -> dict[str | None, Endpoint]:
    model = api.inspect_project(PROJECTS / project)
    return {e.name: e for e in model.endpoints}


def value(endpoint: Endpoint, key: str) -> object:
    setting = endpoint.setting(key)
    assert setting is not None, f"{endpoint.name} has no setting {key}"
    return setting.value


def codes(endpoint: Endpoint) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.start.line, d.span.start.column) for d in endpoint.problems]


@pytest.mark.parametrize("project", PROJECT_NAMES)
def test_model_snapshot(project: str, json_snapshot) -> None:
    assert model_json(api.inspect_project(PROJECTS / project)) == json_snapshot


def test_remote_spellings() -> None:
    found = endpoints("remote_spellings")
    assert sorted(found) == ["inline-gpu", "legacy-lb", "shared-gpu"]
    shared = found["shared-gpu"]
    assert [f.name for f in shared.functions] == ["first", "second"]
    assert shared.spelling is Spelling.REMOTE and shared.config_variable == "gpu"
    assert shared.resource_class == "LiveServerless" and shared.kind is EndpointKind.QUEUE
    assert value(shared, "workers") == [0, 3]
    assert shared.dependencies == ("numpy", "pillow")
    assert shared.system_dependencies == ("ffmpeg",)
    assert value(shared, "accelerate_downloads") is False
    assert found["inline-gpu"].config_variable is None
    assert found["inline-gpu"].functions[0].local is True
    legacy = found["legacy-lb"]
    assert legacy.kind is EndpointKind.LOAD_BALANCED and legacy.resource_class == "LiveLoadBalancer"
    assert [(r.method, r.path) for r in legacy.functions[0].routes] == [("POST", "/predict")]
    assert all(not e.problems for e in found.values())


def test_endpoint_decorator_on_functions_and_classes() -> None:
    found = endpoints("endpoint_decorator")
    embedder = found["embedder"]
    assert value(embedder, "gpu") == ["ADA_24", "NVIDIA A40"]
    assert value(embedder, "workers") == [0, 4]
    assert value(embedder, "idle_timeout") == 120
    assert value(embedder, "datacenter") == ["EU-RO-1", "US-CA-2"]
    assert value(embedder, "env") == {"MODEL": "mini"}
    assert value(embedder, "max_concurrency") == 8
    assert value(embedder, "volume") == [{"name": "weights", "id": None, "size": 50, "dataCenterId": "EU-RO-1"}]
    assert value(embedder, "image") == "runpod/flash:py3.11-latest"  # [tool.flashc] python-version
    assert embedder.dependencies == ("sentence-transformers",)
    function = embedder.functions[0]
    assert function.is_async and function.docstring == "Embed texts."
    assert [(p.name, p.kind, p.has_default) for p in function.parameters] == [
        ("texts", "positional", False),
        ("normalize", "keyword-only", True),
    ]
    # No name: runpod-flash names a decorator-mode endpoint after the function.
    unnamed = found["unnamed"]
    assert unnamed.compute is Compute.CPU and unnamed.resource_class == "CpuLiveServerless"
    assert value(unnamed, "name") == "unnamed" and unnamed.setting("name").origin == "default"
    assert value(unnamed, "cpu") == ["cpu3g-1-4"]
    assert [p.kind for p in unnamed.functions[0].parameters] == [
        "positional-only", "positional", "var-positional", "keyword-only", "var-keyword"
    ]
    classifier = found["classifier"]
    cls = classifier.functions[0]
    assert cls.is_class and cls.is_async
    assert [m.name for m in cls.methods] == ["predict", "labels", "version"]
    assert [p.name for p in cls.methods[0].parameters] == ["text"]
    assert value(classifier, "execution_timeout_ms") == 30000
    assert value(classifier, "flashboot") is False


def test_load_balanced_routes_bare_endpoint_and_call_forms() -> None:
    found = endpoints("routes_and_forms")
    api_endpoint = found["web-api"]
    assert api_endpoint.spelling is Spelling.ROUTES and api_endpoint.config_variable == "api"
    assert api_endpoint.resource_class == "CpuLiveLoadBalancer"
    assert value(api_endpoint, "scaler_type") == "REQUEST_COUNT"
    routes = {f.name: [(r.method, r.path) for r in f.routes] for f in api_endpoint.functions}
    assert routes == {
        "list_items": [("GET", "/items")],
        "save_item": [("POST", "/items"), ("PUT", "/items/{item_id}")],
        "delete_item": [("DELETE", "/items/{item_id}")],
        "patch_item": [("PATCH", "/items/{item_id}")],
    }
    bare = found["bare-worker"]
    assert bare.spelling is Spelling.ENDPOINT and bare.config_variable == "worker"
    assert [f.name for f in bare.functions] == ["crunch"]
    assert value(bare, "scaler_type") == "QUEUE_DELAY"
    assert [f.name for f in found["call-form"].functions] == ["resize"]
    assert [f.name for f in found["call-form-legacy"].functions] == ["legacy"]
    assert all(not e.problems for e in found.values())


def test_aliases_resolve_by_meaning() -> None:
    found = endpoints("aliases")
    assert sorted(found) == ["via-alias", "via-flashc", "via-module", "via-submodule", "via-tetra"]
    assert value(found["via-module"], "gpu") == ["ADA_48_PRO"]
    assert found["via-alias"].resource_class == "CpuLiveServerless"
    assert value(found["via-flashc"], "gpu") == ["HOPPER_141"]
    assert all(not e.problems for e in found.values())


def test_configs_and_routes_from_other_modules() -> None:
    found = endpoints("cross_module")
    gpu = found["xm-gpu"]
    assert gpu.config_variable == "gpu_config"
    assert gpu.functions[0].module == "pkg.workers" and gpu.functions[0].path == "pkg/workers.py"
    assert value(gpu, "gpu") == ["AMPERE_48"]
    assert gpu.dependencies == ("torch", "transformers")  # through pkg.settings -> configs.DEPS
    assert gpu.config_span.path == "configs.py"
    assert value(found["xm-cpu"], "cpu") == ["cpu5c-2-4"]
    api_endpoint = found["xm-api"]
    route = api_endpoint.functions[0]
    assert route.path == "routes.py" and [(r.method, r.path) for r in route.routes] == [("POST", "/generate")]
    assert [(c.callee, c.awaited) for c in route.endpoint_calls] == [
        ("pkg.workers:tokenize", False),
        ("pkg.workers:generate", True),
    ]
    assert [(i.module, i.names, i.is_local) for i in route.body_imports] == [
        ("pkg.workers", ("generate", "tokenize"), True)
    ]
    assert api_endpoint.makes_remote_calls
    imports = gpu.functions[0].body_imports
    assert [(i.module, i.is_local) for i in imports] == [("transformers", False)]


def test_spreads_fstrings_and_nested_definitions() -> None:
    found = endpoints("dynamic_values")
    fetch = found["prod-fetch-v02"]
    assert value(fetch, "workers") == [1, 4]
    assert value(fetch, "idle_timeout") == 300
    assert fetch.dependencies == ("requests", "httpx")
    parse = found["prod-parse"]
    assert value(parse, "workers") == [0, 5]
    assert value(parse, "idle_timeout") == 90
    assert value(parse, "gpu") == ["any"]


def test_unresolvable_values_are_reported_with_reasons() -> None:
    model = api.inspect_project(PROJECTS / "unresolved")
    by_function = {e.functions[0].name: e for e in model.endpoints}
    environment = by_function["from_environment"]
    assert environment.name is None
    name = environment.setting("name")
    assert name.value is None and "reads the environment" in name.unresolved.reason
    assert "external_settings" in environment.setting("gpu").unresolved.reason
    assert codes(environment) == [("FC322", 14, 10), ("FC322", 14, 44), ("FC320", 14, 60)]
    factory = by_function["from_factory"]
    assert factory.name is None
    assert factory.setting("name").unresolved.reason == "`make_config()` is computed by calling `make_config` at run time"
    spread = by_function["from_spread"]
    assert value(spread, "name") == "spread"
    assert spread.setting("idle_timeout").origin == "unknown"
    assert spread.setting("idle_timeout").unresolved is not None


def test_invalid_values_are_diagnosed_at_the_argument() -> None:
    model = api.inspect_project(PROJECTS / "invalid")
    problems = sorted(
        (d.code, d.span.start.line, d.span.start.column) for e in model.endpoints for d in e.problems
    )
    assert problems == [
        ("FC302", 19, 62),  # path without leading /
        ("FC303", 19, 41),  # FETCH
        ("FC304", 42, 1),  # duplicate POST /same
        ("FC305", 32, 10),  # /ping is reserved
        ("FC320", 4, 29),  # GpuGroup.NOPE
        ("FC320", 4, 48),  # idle_timeout=0
        ("FC320", 4, 64),  # workers=(3, 1)
        ("FC320", 4, 80),  # max_concurrency=0
        ("FC320", 9, 44),  # gpu with cpu
        ("FC320", 24, 45),  # CPU endpoint in a GPU-only data centre
        ("FC321", 9, 61),  # worker= (did you mean workers?)
        ("FC323", 14, 8),  # resource class without name
    ]
    messages = {d.code: d.message for e in model.endpoints for d in e.problems}
    assert messages["FC321"] == "Endpoint() got an unknown keyword argument 'worker' (did you mean 'workers'?)"
    assert "allowed" in messages["FC303"] or "GET, POST, PUT, DELETE, PATCH" in messages["FC303"]
