"""Un-compiled code calling ``@Endpoint``/``@remote`` targets reaches the deployed endpoint,
with the request a compiled stub sends (checked against real stubs: those compiled for
handler packages, which also leave unpassed defaults to the remote side)."""

from __future__ import annotations

import asyncio
import inspect
import time

import pytest

from flashc_runtime import client, transport
from flashc_runtime.sdk import (
    Endpoint,
    EndpointJob,
    EndpointNotDeployedError,
    LiveLoadBalancer,
    LiveServerless,
    RemoteExecutionError,
    RemoteTimeoutError,
    remote,
)

from unit.runtime.test_client_fake_runpod import FakeRunPod

from flashc.transforms.stubs import StubTarget, stub_source

NAMES = ("sdk-worker", "sdk-sync", "sdk-model", "sdk-api", "sdk-old", "sdk-slow", "abc123", "sdk-local")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(transport, "RETRY_BACKOFF_SECONDS", 0.01)
    monkeypatch.setattr(client, "POLL_INTERVAL_SECONDS", 0.01)
    for variable in transport.API_KEY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("FLASHC_API_KEY", "sdk-token")
    with FakeRunPod(token="sdk-token") as fake:
        for name in NAMES:
            monkeypatch.setenv(client.url_variable(name), fake.url)
            monkeypatch.delenv(client.timeout_variable(name), raising=False)
        yield fake


def inputs(server: FakeRunPod) -> list[dict]:
    return [r.body["input"] for r in server.sent("/runsync")]


def test_an_async_function_runs_on_its_endpoint(server: FakeRunPod) -> None:
    @Endpoint(name="sdk-worker", cpu="cpu3c-1-2")
    async def add(a: int, b: int = 2) -> int:
        """Adds."""
        return a + b

    assert inspect.iscoroutinefunction(add)
    assert (add.__name__, add.__doc__) == ("add", "Adds.")
    assert inspect.signature(add) == inspect.signature(add.__wrapped__)
    assert asyncio.run(add(1)) == 1  # the fake adds what it is sent: b is left to the remote default
    assert asyncio.run(add(1, b=5)) == 6
    assert inputs(server) == [{"a": 1, "__function": "add"}, {"a": 1, "b": 5, "__function": "add"}]
    assert server.sent()[0].headers["Authorization"] == "Bearer sdk-token"
    with pytest.raises(TypeError, match="missing a required argument: 'a'"):
        asyncio.run(add())
    assert len(server.sent()) == 2  # nothing sent for a call that does not bind


def test_a_sync_function_is_awaited_too(server: FakeRunPod) -> None:
    @Endpoint(name="sdk-sync")
    def gather(first, *rest, label="a", **options):
        return [first, *rest, label, options]

    call = gather(1, 2, 3, mode="x")
    assert inspect.iscoroutine(call)
    assert asyncio.run(call) == {"echo": {"__args": [1, 2, 3], "mode": "x", "__function": "gather"}}
    assert asyncio.run(gather(first=1, label="b")) == {"echo": {"__args": [1], "label": "b", "__function": "gather"}}


def test_a_failure_on_the_endpoint_is_raised_locally(server: FakeRunPod) -> None:
    @Endpoint(name="sdk-worker")
    def explode() -> None:
        raise ValueError("never runs here")

    with pytest.raises(RemoteExecutionError, match="ValueError: bad value: 3"):
        asyncio.run(explode())
    assert inputs(server) == [{"__function": "explode", "__empty": True}]


def test_a_class_becomes_a_proxy_of_remote_methods(server: FakeRunPod) -> None:
    @Endpoint(name="sdk-model", gpu=None)
    class Model:
        """Holds a model per worker."""

        def __init__(self):
            self.weights = "loaded on the worker"

        def predict(self, text: str, top_k: int = 3) -> dict:
            return {"text": text}

        async def embed(self, text, /, *, normalize=True):
            return [text]

        @staticmethod
        def version():
            return "1"

        def _private(self):
            return "local only"

    model = Model()
    assert Model.__name__ == "Model" and Model.__doc__ == "Holds a model per worker."
    assert Model.__wrapped__.__name__ == "Model"
    assert not hasattr(model, "_private") and not hasattr(model, "weights")
    assert inspect.signature(Model.predict) == inspect.signature(Model.__wrapped__.predict)
    assert all(inspect.iscoroutinefunction(getattr(Model, name)) for name in ("predict", "embed", "version"))
    asyncio.run(model.predict("hi"))
    asyncio.run(model.embed("hi", normalize=False))
    asyncio.run(Model.version())
    assert inputs(server) == [
        {"text": "hi", "__function": "Model", "method": "predict"},
        {"__args": ["hi"], "normalize": False, "__function": "Model", "method": "embed"},
        {"__function": "Model", "method": "version", "__empty": True},
    ]
    with pytest.raises(TypeError):
        Model("arguments")  # the deployed instance is created without any


def test_load_balanced_routes_call_the_deployed_routes(server: FakeRunPod) -> None:
    api = Endpoint(name="sdk-api", cpu="cpu3c-1-2")

    @api.get("/items/{item_id}")
    def get_item(item_id: int, verbose: bool = False) -> dict:
        return {"local": True}

    @api.post("/classify")
    async def classify(text: str, top_k: int = 1) -> dict:
        return {"local": True}

    assert inspect.iscoroutinefunction(get_item)
    assert asyncio.run(get_item(7, verbose=True)) == {"item_id": "7", "query": {"verbose": ["true"]}}
    assert asyncio.run(classify("hi")) == {"label": "HI", "body": {"text": "hi"}}
    assert server.routes() == ["GET /items/7", "POST /classify"]
    assert api.routes[0]["function"] is get_item.__wrapped__


def test_the_older_remote_decorator(server: FakeRunPod) -> None:
    @remote(LiveServerless(name="sdk-old"))
    def double(x):
        return 2 * x

    @remote(LiveLoadBalancer(name="sdk-api"), method="POST", path="/classify")
    def classify(text):
        return text

    assert asyncio.run(double(4)) == {"echo": {"x": 4, "__function": "double"}}
    assert asyncio.run(classify("ok"))["label"] == "OK"


def test_local_targets_run_in_process(server: FakeRunPod) -> None:
    def triple(x):
        return 3 * x

    assert remote(LiveServerless(name="sdk-local"), local=True)(triple) is triple
    assert triple(2) == 6

    async def route(x):
        return x

    assert remote(LiveLoadBalancer(name="sdk-api"), method="GET", path="/r", local=True)(route) is route
    assert route.__is_lb_route_handler__ and route.__flash_local__
    assert asyncio.run(route(5)) == 5
    assert server.sent() == []


def test_execution_timeout_ms_bounds_the_call(server: FakeRunPod) -> None:
    @Endpoint(name="sdk-slow", execution_timeout_ms=300)
    def stuck():
        pass

    started = time.monotonic()
    with pytest.raises(RemoteTimeoutError, match="did not finish within 0.3 s") as raised:
        asyncio.run(stuck())
    assert time.monotonic() - started < 5
    assert server.jobs[raised.value.job_id].status == "CANCELLED"


def test_an_undeployed_endpoint_says_how_to_deploy_it(monkeypatch) -> None:
    monkeypatch.delenv("FLASHC_ENDPOINT_URL_NOWHERE", raising=False)

    @Endpoint(name="nowhere")
    def f():
        pass

    with pytest.raises(EndpointNotDeployedError, match=r"'nowhere' is not deployed .*`flashc deploy`.*FLASHC_ENDPOINT_URL_NOWHERE"):
        asyncio.run(f())


def test_a_client_endpoint_calls_routes_and_jobs(server: FakeRunPod) -> None:
    endpoint = Endpoint(id="abc123")

    async def scenario():
        classified = await endpoint.post("/classify", {"text": "hey"})
        item = await endpoint.get("/items/9", {"q": "x"})
        job = await endpoint.run({"__function": "slow", "polls": 1})
        first = job.done
        await job.wait(timeout=5)
        quick = await endpoint.runsync({"__function": "add", "a": 2, "b": 2})
        stuck = await endpoint.run({"__function": "stuck"})
        cancelled = await endpoint.cancel(stuck.id)
        return classified, item, job, first, quick, cancelled

    classified, item, job, first, quick, cancelled = asyncio.run(scenario())
    assert classified["label"] == "HEY"
    assert item["query"] == {"q": ["x"]}
    assert isinstance(job, EndpointJob) and first is False
    assert (job.done, job.output) == (True, "slow done")
    assert (quick.done, quick.output) == (True, 4)
    assert cancelled.job.status == "CANCELLED"
    assert server.sent("/run")[0].body == {"input": {"__function": "slow", "polls": 1}}


# --- the same request as a compiled stub --------------------------------------------------------

SOURCE = '''
from flashc import Endpoint

@Endpoint(name="sdk-worker")
async def kinds(a, b=1, /, c=2, *, d, e=3):
    return [a, b, c, d, e]

@Endpoint(name="sdk-sync")
def gather(first, *rest, label="a", **options):
    return [first, *rest, label, options]

@Endpoint(name="sdk-model")
class Model:
    def predict(self, text, top_k=3):
        return text

    @staticmethod
    def version():
        return "1"

api = Endpoint(name="sdk-api")

@api.post("/classify")
def classify(text, top_k=1):
    return text
'''

STUBS = {
    "kinds": StubTarget("kinds", "sdk-worker", "function"),
    "gather": StubTarget("gather", "sdk-sync", "function"),
    "Model": StubTarget("Model", "sdk-model", "class", methods=("predict", "version")),
    "classify": StubTarget("classify", "sdk-api", "route", http_method="POST", http_path="/classify"),
}

CALLS = [
    ("kinds", lambda ns: ns["kinds"](1, d=4)),
    ("kinds", lambda ns: ns["kinds"](1, 2, 3, d=4, e=5)),
    ("kinds", lambda ns: ns["kinds"](1, 2, c=7, d=4)),
    ("gather", lambda ns: ns["gather"](1)),
    ("gather", lambda ns: ns["gather"](1, 2, 3, label="z", extra=True)),
    ("Model", lambda ns: ns["Model"]().predict("hi", top_k=1)),
    ("Model", lambda ns: ns["Model"].version()),
    ("classify", lambda ns: ns["classify"]("t")),
]


def test_decorators_send_what_compiled_stubs_send(server: FakeRunPod) -> None:
    decorated: dict = {"__name__": "decorated_app"}
    exec(compile(SOURCE, "app.py", "exec"), decorated)
    stubs: dict = {"__name__": "stub_app"}
    exec(compile(stub_source(SOURCE, STUBS, faithful=False), "stubs.py", "exec"), stubs)
    for _, make in CALLS:
        asyncio.run(make(decorated))
    by_decorators = [(r.method, r.path, r.body) for r in server.sent()]
    server.requests.clear()
    for _, make in CALLS:
        asyncio.run(make(stubs))
    by_stubs = [(r.method, r.path, r.body) for r in server.sent()]
    assert len(by_decorators) == len(CALLS)
    assert by_decorators == by_stubs
