"""``Endpoint``: its signature, its checks, the resource it builds, routes and stamps."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from flashc_runtime.sdk import (
    CpuInstanceType,
    CpuLiveLoadBalancer,
    CpuLiveServerless,
    CudaVersion,
    DataCenter,
    Endpoint,
    EndpointNotDeployedError,
    GpuGroup,
    GpuType,
    LiveLoadBalancer,
    LiveServerless,
    NetworkVolume,
    PodTemplate,
    ServerlessScalerType,
    tables,
)
from flashc_runtime.sdk.validation import SettingError


def test_signature_is_the_table():
    params = list(inspect.signature(Endpoint).parameters.values())
    assert [p.name for p in params] == list(tables.ENDPOINT.names)
    for param, row in zip(params, tables.ENDPOINT.params):
        expected_kind = (
            inspect.Parameter.POSITIONAL_OR_KEYWORD if row.positional else inspect.Parameter.KEYWORD_ONLY
        )
        assert param.kind is expected_kind, param.name
        assert param.default == row.default, param.name


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="gpus"):
        Endpoint(name="w", gpus=GpuGroup.ADA_24)


# --- constructor checks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "setting", "message"),
    [
        ({"gpu": GpuGroup.ADA_24, "cpu": "cpu3g-2-8"}, "cpu", "cannot set both gpu and cpu"),
        ({"id": "abc", "image": "me/img:1"}, "image", "cannot set both id and image"),
        ({"max_concurrency": 0}, "max_concurrency", "max_concurrency must be at least 1, got 0"),
        ({"idle_timeout": 0}, "idle_timeout", "idle_timeout must be between 1 and 3600, got 0"),
        ({"gpu_count": -1}, "gpu_count", "gpu_count must be at least 0"),
        ({"execution_timeout_ms": -5}, "execution_timeout_ms", "execution_timeout_ms must be at least 0"),
        ({"scaler_value": -1}, "scaler_value", "scaler_value must be at least 0"),
        ({"accelerate_downloads": 1}, "accelerate_downloads", "accelerate_downloads must be True or False"),
        ({"dependencies": "numpy"}, "dependencies", "dependencies must be a list of strings"),
        ({"env": {"A": 2}}, "env", "env must be a dict of str to str"),
        ({"gpu": "H100"}, "gpu", "gpu: 'H100' is not a GpuGroup or GpuType; allowed groups: any, ADA_24"),
        ({"cpu": "cpu9"}, "cpu", "cpu: 'cpu9' is not a valid CpuInstanceType; allowed: cpu3g-1-4"),
        ({"min_cuda_version": "9.0"}, "min_cuda_version", "min_cuda_version: '9.0' is not a valid CudaVersion; allowed: 11.8"),
        ({"scaler_type": "FAST"}, "scaler_type", "allowed: QUEUE_DELAY, REQUEST_COUNT"),
        ({"datacenter": "mars"}, "datacenter", "Unknown datacenter 'mars'. Valid datacenters: US-CA-2"),
        ({"cpu": "cpu3g-2-8", "datacenter": "US-CA-2"}, "datacenter", "CPU data centres: EU-RO-1"),
        ({"volume": []}, "volume", "volume must be a NetworkVolume or a non-empty list of them"),
        ({"template": "big-disk"}, "template", "template must be a PodTemplate"),
    ],
)
def test_invalid_settings(kwargs, setting, message):
    with pytest.raises(SettingError) as info:
        Endpoint(name="w", **kwargs)
    assert info.value.setting == setting
    assert message in str(info.value)


def test_image_needs_a_name_or_an_id():
    with pytest.raises(SettingError, match="name or id is required when image= is set"):
        Endpoint(image="me/img:1")
    assert Endpoint(name="vllm", image="me/img:1").is_client
    assert Endpoint(id="abc").is_client


@pytest.mark.parametrize(
    ("workers", "expected"),
    [(None, (0, 1)), (3, (0, 3)), ((1, 5), (1, 5)), ([2, 2], (2, 2)), (0, (0, 0))],
)
def test_workers_normalisation(workers, expected):
    endpoint = Endpoint(name="w", workers=workers)
    assert (endpoint.workers_min, endpoint.workers_max) == expected


@pytest.mark.parametrize(
    ("workers", "message"),
    [
        (-1, "workers cannot be negative"),
        ((5, 1), r"workers: min \(5\) cannot exceed max \(1\)"),
        ((1, 2, 3), "workers must be an int or a \\(min, max\\) tuple of ints"),
        ("3", "workers must be an int or a \\(min, max\\) tuple of ints"),
    ],
)
def test_invalid_workers(workers, message):
    with pytest.raises(SettingError, match=message):
        Endpoint(name="w", workers=workers)


def test_cpu_strings_are_coerced():
    assert Endpoint(name="w", cpu="cpu3c-1-2").cpu == [CpuInstanceType.CPU3C_1_2]
    assert Endpoint(name="w", cpu=["cpu3g-2-8", CpuInstanceType.CPU5C_2_4]).cpu == [
        CpuInstanceType.CPU3G_2_8,
        CpuInstanceType.CPU5C_2_4,
    ]


def test_gpu_and_datacenter_defaults():
    gpu = Endpoint(name="w")
    assert gpu.gpu == [GpuGroup.ANY]
    assert gpu.datacenter == DataCenter.all()
    assert Endpoint(name="w", image="me/img:1").gpu == [GpuGroup.ANY]
    assert Endpoint(name="w", gpu=GpuType.NVIDIA_L4).gpu == [GpuType.NVIDIA_L4]
    assert Endpoint(name="w", datacenter="eu_ro_1").datacenter == [DataCenter.EU_RO_1]
    cpu = Endpoint(name="w", cpu="cpu3g-2-8")
    assert (cpu.gpu, cpu.datacenter) == (None, None)
    client = Endpoint(id="abc")
    assert (client.gpu, client.datacenter) == (None, None)


def test_scaler_type_follows_usage_unless_given():
    endpoint = Endpoint(name="api")
    assert endpoint.scaler_type is ServerlessScalerType.QUEUE_DELAY
    endpoint.get("/a")(lambda: None)
    assert endpoint.scaler_type is ServerlessScalerType.REQUEST_COUNT
    assert Endpoint(name="w", scaler_type="REQUEST_COUNT").scaler_type is ServerlessScalerType.REQUEST_COUNT


def test_volume_must_fit_the_datacenters():
    volume = NetworkVolume(name="data", datacenter="US-CA-2")
    assert Endpoint(name="w", volume=volume).volume == [volume]
    with pytest.raises(SettingError, match="network volume data centre US-CA-2 is not among"):
        Endpoint(name="w", volume=volume, datacenter="EU-RO-1")


# --- the resource it builds ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("load_balanced", "cpu", "cls"),
    [
        (False, False, LiveServerless),
        (False, True, CpuLiveServerless),
        (True, False, LiveLoadBalancer),
        (True, True, CpuLiveLoadBalancer),
    ],
)
def test_resource_class_selection(load_balanced, cpu, cls):
    endpoint = Endpoint(name="w", cpu="cpu3g-2-8" if cpu else None)
    if load_balanced:
        endpoint.post("/run")(lambda: None)
    else:
        endpoint(lambda: None)
    config = endpoint.resource_config
    assert type(config) is cls
    assert config.resource_class is tables.resource_class_for(load_balanced=load_balanced, cpu=cpu, live=True)


def test_resource_fields_are_runpod_flash_camel_case():
    volume = NetworkVolume(name="data", datacenter="EU-RO-1")
    template = PodTemplate(dockerArgs="--x")
    endpoint = Endpoint(
        name="w",
        gpu=[GpuGroup.ADA_24],
        workers=(1, 4),
        idle_timeout=120,
        execution_timeout_ms=5000,
        flashboot=False,
        datacenter=["EU-RO-1"],
        volume=volume,
        env={"A": "1"},
        gpu_count=2,
        image="me/img:1",
        scaler_value=7,
        template=template,
        min_cuda_version="12.4",
    )
    config = endpoint.resource_config
    assert isinstance(config, LiveServerless)
    assert (config.name, config.workersMin, config.workersMax) == ("w", 1, 4)
    assert (config.idleTimeout, config.executionTimeoutMs, config.flashboot) == (120, 5000, False)
    assert config.datacenter == [DataCenter.EU_RO_1]
    assert config.networkVolume == volume and config.networkVolumes == [volume]
    assert (config.env, config.gpus, config.gpuCount) == ({"A": "1"}, [GpuGroup.ADA_24], 2)
    assert (config.imageName, config.scalerValue, config.minCudaVersion) == ("me/img:1", 7, CudaVersion.V12_4)
    assert config.scalerType is ServerlessScalerType.QUEUE_DELAY
    assert config.template.dockerArgs == "--x"


def test_template_may_be_a_dict_of_pod_template_fields():
    assert Endpoint(name="w", template={"containerDiskInGb": 30}).template == PodTemplate(containerDiskInGb=30)


def test_resource_gets_expanded_gpus_and_several_volumes():
    volumes = [NetworkVolume(name="a", datacenter="EU-RO-1"), NetworkVolume(name="b", datacenter="US-CA-2")]
    config = Endpoint(name="w", volume=volumes).resource_config
    assert config.gpus == GpuGroup.all()
    assert config.networkVolumes == volumes


def test_cpu_resource_gets_instance_ids_and_no_gpu_fields():
    config = Endpoint(name="w", cpu="cpu3c-1-2").resource_config
    assert config.instanceIds == [CpuInstanceType.CPU3C_1_2]
    assert (config.gpus, config.gpuCount, config.minCudaVersion) == ([], 0, None)


def test_resource_config_needs_a_name():
    with pytest.raises(SettingError, match="has no name yet"):
        Endpoint().resource_config


def test_resource_config_is_built_once():
    endpoint = Endpoint(name="w")
    assert endpoint.resource_config is endpoint.resource_config


# --- queue-based decorator ----------------------------------------------------------------


def test_decorating_stamps_and_returns_a_remote_call(monkeypatch):
    monkeypatch.delenv("FLASHC_ENDPOINT_URL_PROCESS", raising=False)
    endpoint = Endpoint(gpu=GpuGroup.ADA_24, dependencies=["numpy"], system_dependencies=["ffmpeg"])

    @endpoint
    async def process(data: dict) -> dict:
        """Doubles."""
        return data

    assert endpoint.name == "process"
    assert process.__name__ == "process" and process.__doc__ == "Doubles."
    assert process.__wrapped__.__name__ == "process"
    assert inspect.iscoroutinefunction(process)
    assert inspect.signature(process) == inspect.signature(process.__wrapped__)
    assert process.__remote_config__ == {
        "resource_config": endpoint.resource_config,
        "method": None,
        "path": None,
        "dependencies": ["numpy"],
        "system_dependencies": ["ffmpeg"],
    }
    with pytest.raises(EndpointNotDeployedError, match=r"'process' is not deployed.*deploy it first with `flashc deploy`"):
        asyncio.run(process({"x": 1}))


def test_decorating_a_class_returns_a_proxy_class(monkeypatch):
    monkeypatch.delenv("FLASHC_ENDPOINT_URL_MODEL", raising=False)

    @Endpoint(name="model")
    class Model:
        """A model."""

        def predict(self, x):
            return x

    assert Model.__remote_config__["resource_config"].name == "model"
    assert Model.__name__ == "Model" and Model.__doc__ == "A model."
    assert Model.__wrapped__.predict(None, 3) == 3
    assert inspect.iscoroutinefunction(Model.predict)
    with pytest.raises(EndpointNotDeployedError, match="'model' is not deployed"):
        asyncio.run(Model().predict(1))


def test_max_concurrency_is_stamped_only_above_one():
    @Endpoint(name="a", max_concurrency=4)
    def a():
        pass

    @Endpoint(name="b")
    def b():
        pass

    assert a.__remote_config__["max_concurrency"] == 4
    assert "max_concurrency" not in b.__remote_config__
    assert Endpoint(name="c", max_concurrency=4).max_concurrency == 4


def test_derived_name_is_checked():
    with pytest.raises(SettingError, match="must start with a letter or digit"):
        Endpoint()(lambda: None)  # "<lambda>"


def test_one_target_per_queue_endpoint():
    endpoint = Endpoint(name="w")
    endpoint(lambda: None)
    with pytest.raises(ValueError, match="already runs"):
        endpoint(lambda: None)


@pytest.mark.parametrize("kwargs", [{"id": "abc"}, {"name": "x", "image": "me/img:1"}])
def test_clients_cannot_decorate(kwargs):
    with pytest.raises(ValueError, match="as a decorator"):
        Endpoint(**kwargs)(lambda: None)


# --- load-balanced routes -----------------------------------------------------------------


@pytest.mark.parametrize("verb", ["get", "post", "put", "delete", "patch"])
def test_route_handlers_become_remote_requests_and_are_stamped(verb):
    api = Endpoint(name="api", dependencies=["pydantic"])

    def handler():
        return {"ok": True}

    route = getattr(api, verb)("/items")(handler)
    assert route is not handler and route.__wrapped__ is handler
    assert inspect.iscoroutinefunction(route)
    assert route.__is_lb_route_handler__ is True
    assert route.__remote_config__ == {
        "resource_config": api.resource_config,
        "method": verb.upper(),
        "path": "/items",
        "dependencies": ["pydantic"],
        "system_dependencies": None,
        "is_lb_route_handler": True,
    }
    assert api.routes == [{"method": verb.upper(), "path": "/items", "function": handler, "function_name": "handler"}]
    assert api.is_load_balanced


def test_routes_share_one_resource_even_if_it_was_built_queue_based_first():
    api = Endpoint(name="api")
    assert isinstance(api.resource_config, LiveServerless)
    first = api.get("/a")(lambda: None)
    second = api.post("/b")(lambda: None)
    assert isinstance(api.resource_config, LiveLoadBalancer)
    assert first.__remote_config__["resource_config"] is second.__remote_config__["resource_config"] is api.resource_config


@pytest.mark.parametrize(
    ("path", "setting", "message"),
    [
        ("items", "path", "path must start with '/', got 'items'"),
        ("/ping", "path", "path '/ping' is reserved by the worker; reserved: /execute, /ping"),
        ("/execute", "path", "reserved"),
    ],
)
def test_route_path_validation(path, setting, message):
    with pytest.raises(SettingError) as info:
        Endpoint(name="api").get(path)
    assert info.value.setting == setting
    assert message in str(info.value)


def test_route_method_validation():
    with pytest.raises(SettingError, match="method 'TRACE' is not allowed; allowed: GET, POST, PUT, DELETE, PATCH"):
        Endpoint(name="api")._route("TRACE", "/x")


def test_duplicate_routes_are_rejected():
    api = Endpoint(name="api")
    api.get("/a")(lambda: None)
    api.post("/a")(lambda: None)
    with pytest.raises(ValueError, match="duplicate route: GET /a"):
        api.get("/a")(lambda: None)


def test_routes_need_a_name():
    with pytest.raises(SettingError, match="name is required for load-balanced endpoints"):
        Endpoint(gpu=GpuGroup.ADA_24).get("/a")


def test_routes_and_direct_decoration_do_not_mix():
    routed = Endpoint(name="api")
    routed.get("/a")(lambda: None)
    with pytest.raises(ValueError, match="after registering routes"):
        routed(lambda: None)
    direct = Endpoint(name="w")
    direct(lambda: None)
    with pytest.raises(ValueError, match="cannot add routes after using Endpoint as a direct decorator"):
        direct.get("/a")


def test_route_decorator_takes_no_data():
    with pytest.raises(TypeError, match="only valid on a client Endpoint"):
        Endpoint(name="api").post("/a", {"x": 1})


def test_client_http_calls_are_awaitables_not_decorators():
    call = Endpoint(id="abc").post("/v1/completions", {"prompt": "hi"})
    assert inspect.isawaitable(call)  # awaited in tests/unit/sdk/test_sdk_runtime_calls.py
    with pytest.raises(TypeError, match="not a route decorator"):
        Endpoint(id="abc").get("/v1/models")(lambda: None)
