"""``remote``: its signature, keyword checks, load-balancer rules and stamps."""

from __future__ import annotations

import asyncio
import inspect
import warnings

import pytest

from flashc_runtime.sdk import (
    CpuLiveLoadBalancer,
    CpuLoadBalancerSlsResource,
    EndpointNotDeployedError,
    LiveLoadBalancer,
    LiveServerless,
    LoadBalancerSlsResource,
    remote,
    tables,
)
from flashc_runtime.sdk.validation import SettingError

LB_RESOURCES = [
    lambda: LiveLoadBalancer(name="api"),
    lambda: CpuLiveLoadBalancer(name="api"),
    lambda: LoadBalancerSlsResource(name="api", imageName="me/img:1"),
    lambda: CpuLoadBalancerSlsResource(name="api", imageName="me/img:1"),
]


def test_signature_is_the_table_plus_extra():
    params = list(inspect.signature(remote).parameters.values())
    assert params[-1].kind is inspect.Parameter.VAR_KEYWORD
    named = params[:-1]
    assert [p.name for p in named] == list(tables.REMOTE.names)
    for param, row in zip(named, tables.REMOTE.params):
        if row.default is tables.REQUIRED:
            assert param.default is inspect.Parameter.empty
        else:
            assert param.default == row.default, param.name
        expected_kind = (
            inspect.Parameter.POSITIONAL_OR_KEYWORD if row.positional else inspect.Parameter.KEYWORD_ONLY
        )
        assert param.kind is expected_kind, param.name


def test_unknown_keyword_suggests_the_closest():
    with pytest.raises(TypeError) as info:
        remote(LiveServerless(name="w"), dependecies=["numpy"])
    assert str(info.value) == "remote() got unknown keyword argument 'dependecies' (did you mean 'dependencies'?)"


def test_several_unknown_keywords_are_all_named():
    with pytest.raises(TypeError, match=r"unknown keyword arguments 'methd' \(did you mean 'method'\?\), 'zzz'$"):
        remote(LiveServerless(name="w"), zzz=1, methd="GET")


def test_resource_config_must_be_a_resource():
    with pytest.raises(TypeError, match="needs a resource configuration"):
        remote({"name": "w"})


@pytest.mark.parametrize("make_resource", LB_RESOURCES)
def test_load_balanced_route_becomes_a_remote_request(make_resource):
    resource = make_resource()

    async def handler(x: int) -> int:
        return x

    decorated = remote(resource, method="POST", path="/compute", dependencies=["numpy"])(handler)
    assert decorated is not handler
    assert decorated.__wrapped__ is handler
    assert inspect.iscoroutinefunction(decorated)
    assert inspect.signature(decorated) == inspect.signature(handler)
    assert decorated.__is_lb_route_handler__ is True
    assert decorated.__remote_config__ == {
        "resource_config": resource,
        "method": "POST",
        "path": "/compute",
        "dependencies": ["numpy"],
        "system_dependencies": None,
        "is_lb_route_handler": True,
    }


@pytest.mark.parametrize(
    ("kwargs", "setting", "message"),
    [
        ({}, "method", "need both method and path, got method=None, path=None"),
        ({"method": "GET"}, "path", "need both method and path, got method='GET', path=None"),
        ({"method": "get", "path": "/a"}, "method", "method 'get' is not allowed; allowed: GET, POST, PUT, DELETE, PATCH"),
        ({"method": "TRACE", "path": "/a"}, "method", "allowed: GET, POST, PUT, DELETE, PATCH"),
        ({"method": "GET", "path": "a"}, "path", "path must start with '/', got 'a'"),
        ({"method": "GET", "path": "/ping"}, "path", "reserved"),
    ],
)
@pytest.mark.parametrize("make_resource", LB_RESOURCES[:2])
def test_load_balanced_route_validation(make_resource, kwargs, setting, message):
    with pytest.raises(SettingError) as info:
        remote(make_resource(), **kwargs)
    assert info.value.setting == setting
    assert message in str(info.value)


def test_method_and_path_on_a_queue_resource_warn_and_are_ignored():
    with pytest.warns(UserWarning, match="only apply to load-balanced resources; LiveServerless is queue-based"):
        decorator = remote(LiveServerless(name="w"), method="POST", path="/x")

    def work():
        pass

    stamped = decorator(work).__remote_config__
    assert (stamped["method"], stamped["path"]) == (None, None)
    assert "is_lb_route_handler" not in stamped


def test_queue_function_becomes_a_remote_call(monkeypatch):
    monkeypatch.delenv("FLASHC_ENDPOINT_URL_GPU_WORKER", raising=False)
    resource = LiveServerless(name="gpu-worker")

    def work(x):
        """Work."""
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for a plain queue decorator
        stand_in = remote(resource, system_dependencies=["ffmpeg"])(work)
    assert stand_in is not work
    assert stand_in.__wrapped__ is work
    assert (stand_in.__name__, stand_in.__doc__) == ("work", "Work.")
    assert inspect.iscoroutinefunction(stand_in)  # a def too: every endpoint call is awaited
    assert inspect.signature(stand_in) == inspect.signature(work)
    assert stand_in.__remote_config__ == {
        "resource_config": resource,
        "method": None,
        "path": None,
        "dependencies": None,
        "system_dependencies": ["ffmpeg"],
    }
    with pytest.raises(TypeError, match="missing a required argument: 'x'"):
        asyncio.run(stand_in())  # bound to the original signature before anything is sent
    with pytest.raises(EndpointNotDeployedError, match=r"'gpu-worker' is not deployed.*`flashc deploy`.*FLASHC_ENDPOINT_URL_GPU_WORKER"):
        asyncio.run(stand_in(1))


def test_local_returns_the_original():
    def work(x):
        return x * 2

    assert remote(LiveServerless(name="w"), local=True)(work) is work
    assert work.__flash_local__ is True
    assert work(2) == 4
    assert work.__remote_config__["resource_config"].name == "w"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dependencies": "numpy"}, "dependencies must be a list of strings"),
        ({"system_dependencies": [1]}, "system_dependencies must be a list of strings"),
        ({"local": "yes"}, "local must be True or False"),
        ({"accelerate_downloads": None}, "accelerate_downloads must be True or False"),
    ],
)
def test_argument_types(kwargs, message):
    with pytest.raises(SettingError, match=message):
        remote(LiveServerless(name="w"), **kwargs)(lambda: None)
