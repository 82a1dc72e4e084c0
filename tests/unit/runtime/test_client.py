"""``flashc_runtime.client`` against a real loopback server answering like RunPod.

What is sent (headers, bodies, how many times), what comes back (values and
exceptions), the polling of long jobs, timeouts, retries only where no job can
run twice, the job API, load-balanced routes, and the pooled connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from flashc_runtime import client, transport
from flashc_runtime.sdk import (
    AuthenticationError,
    EndpointHTTPError,
    EndpointNotDeployedError,
    EndpointUnavailableError,
    FlashRuntimeError,
    JobOutput,
    PayloadTooLargeError,
    RemoteCancelledError,
    RemoteExecutionError,
    RemoteTimeoutError,
)

from support import free_port
from unit.runtime.test_client_fake_runpod import FAILURE, FakeRunPod

ENDPOINT = "gpu-worker"
URL_VARIABLE = "FLASHC_ENDPOINT_URL_GPU_WORKER"


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short waits between attempts and polls; no token or endpoint settings from outside."""
    monkeypatch.setattr(transport, "RETRY_BACKOFF_SECONDS", 0.01)
    monkeypatch.setattr(client, "POLL_INTERVAL_SECONDS", 0.01)
    monkeypatch.setattr(client, "POLL_INTERVAL_MAX_SECONDS", 0.05)
    for variable in (*transport.API_KEY_VARIABLES, "FLASHC_TIMEOUT_GPU_WORKER", "FLASHC_PICKLE_GPU_WORKER"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    with FakeRunPod() as fake:
        monkeypatch.setenv(URL_VARIABLE, fake.url + "/")
        yield fake


def run(function: str, arguments: dict | None = None, **options):
    return asyncio.run(client.call(ENDPOINT, function, arguments or {}, **options))


# --- a queue call ------------------------------------------------------------------------------


def test_a_call_posts_runsync_and_returns_the_output(server: FakeRunPod, monkeypatch) -> None:
    monkeypatch.setenv("FLASHC_API_KEY", "flashc-token")
    monkeypatch.setenv("RUNPOD_API_KEY", "runpod-token")
    assert run("add", {"a": 1, "b": 2, "c": client.DEFAULT}) == 3
    (request,) = server.sent()
    assert (request.method, request.path) == ("POST", "/runsync")
    assert request.body == {"input": {"a": 1, "b": 2, "__function": "add"}}
    assert request.headers["Authorization"] == "Bearer flashc-token"  # FLASHC_API_KEY first
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("flashc-runtime/")


def test_the_token_falls_back_to_runpod_api_key_and_is_optional(server: FakeRunPod, monkeypatch) -> None:
    monkeypatch.setenv("RUNPOD_API_KEY", "runpod-token")
    run("add", {"a": 1})
    monkeypatch.delenv("RUNPOD_API_KEY")
    run("add", {"a": 1})
    first, second = server.sent()
    assert first.headers["Authorization"] == "Bearer runpod-token"
    assert "Authorization" not in second.headers


def test_class_methods_positional_arguments_and_empty_calls(server: FakeRunPod) -> None:
    assert run("add", {"__args": [1, 2, client.DEFAULT]}) == 3
    assert run("Model", {"text": "hi"}, method="predict") == {"echo": {"text": "hi", "__function": "Model", "method": "predict"}}
    assert run("nothing") == {"echo": {"__function": "nothing", "__empty": True}}
    assert [r.body["input"] for r in server.sent()] == [
        {"__args": [1, 2], "__function": "add"},
        {"text": "hi", "__function": "Model", "method": "predict"},
        {"__function": "nothing", "__empty": True},
    ]


def test_a_long_job_is_polled_until_it_ends(server: FakeRunPod) -> None:
    assert run("slow", {"polls": 3}) == "slow done"
    routes = server.routes()
    assert routes[0] == "POST /runsync"
    job_id = server.sent("/status/")[0].route.rsplit("/", 1)[1]
    assert routes[1:] == [f"GET /status/{job_id}"] * 3


def test_status_requests_are_retried_on_gateway_errors(server: FakeRunPod) -> None:
    assert run("slow", {"polls": 1, "status_failures": 2}) == "slow done"
    assert len(server.sent("/runsync")) == 1
    assert len(server.sent("/status/")) == 3  # two 502s, then the answer


def test_a_call_past_its_timeout_cancels_the_job(server: FakeRunPod) -> None:
    started = time.monotonic()
    with pytest.raises(RemoteTimeoutError) as raised:
        run("stuck", timeout=0.3)
    assert time.monotonic() - started < 5
    error = raised.value
    assert isinstance(error, TimeoutError)
    job_id = error.job_id
    assert job_id and server.jobs[job_id].status == "CANCELLED"
    assert server.routes()[-1] == f"POST /cancel/{job_id}"
    assert f"stuck on endpoint 'gpu-worker' (job {job_id}) did not finish within 0.3 s (it was cancelled)" in str(error)
    assert "FLASHC_TIMEOUT_GPU_WORKER" in str(error)


def test_a_call_cancelled_locally_cancels_its_job(server: FakeRunPod) -> None:
    async def impatient():
        await asyncio.wait_for(client.call(ENDPOINT, "stuck", {}), 0.3)

    with pytest.raises(TimeoutError):
        asyncio.run(impatient())
    (job,) = server.jobs.values()
    assert job.status == "CANCELLED"
    assert server.routes()[-1] == f"POST /cancel/{job.id}"


def test_the_timeout_comes_from_the_environment_before_execution_timeout_ms(server: FakeRunPod, monkeypatch) -> None:
    assert client.endpoint_timeout(ENDPOINT) == client.DEFAULT_TIMEOUT_SECONDS
    assert client.endpoint_timeout(ENDPOINT, execution_timeout_ms=1500) == 1.5
    assert client.endpoint_timeout(ENDPOINT, execution_timeout_ms=0) == client.DEFAULT_TIMEOUT_SECONDS
    # One second: long enough to connect on a loaded machine, short for a job that never ends.
    monkeypatch.setenv("FLASHC_TIMEOUT_GPU_WORKER", "1")
    assert client.endpoint_timeout(ENDPOINT, execution_timeout_ms=1500) == 1.0
    assert client.endpoint_timeout(ENDPOINT, timeout=7, execution_timeout_ms=1500) == 7
    with pytest.raises(RemoteTimeoutError):
        run("stuck", execution_timeout_ms=60_000)  # the variable's 1 s wins
    monkeypatch.setenv("FLASHC_TIMEOUT_GPU_WORKER", "soon")
    with pytest.raises(FlashRuntimeError, match="FLASHC_TIMEOUT_GPU_WORKER must be a positive number of seconds, got 'soon'"):
        run("add")


def test_runsync_without_an_answer_in_time_is_not_retried(server: FakeRunPod) -> None:
    with pytest.raises(RemoteTimeoutError, match="no answer within 0.2 s; if it started a job, that job may still run"):
        run("sleep", {"seconds": 0.6}, timeout=0.2)
    assert len(server.sent("/runsync")) == 1


# --- failures ------------------------------------------------------------------------------------


def test_a_failed_job_raises_the_remote_exception(server: FakeRunPod) -> None:
    with pytest.raises(RemoteExecutionError) as raised:
        run("explode")
    error = raised.value
    assert (error.error_type, error.message) == ("ValueError", "bad value: 3")
    assert str(error) == "ValueError: bad value: 3"
    assert error.traceback == FAILURE["error_traceback"]
    assert error.__notes__ == ["Remote traceback:\n" + FAILURE["error_traceback"].rstrip()]
    with pytest.raises(RemoteExecutionError) as plain:
        run("fail_plain")
    assert (plain.value.error_type, str(plain.value), plain.value.traceback) == (None, "worker ran out of memory", None)


def test_a_failure_found_by_polling_is_raised_too(server: FakeRunPod) -> None:
    with pytest.raises(RemoteExecutionError, match="ValueError: bad value: 3"):
        run("explode", {"polls": 2})


def test_cancelled_and_timed_out_jobs(server: FakeRunPod) -> None:
    with pytest.raises(RemoteCancelledError, match=r"cancelled on endpoint 'gpu-worker' \(job job-1\) was cancelled") as cancelled:
        run("cancelled")
    assert cancelled.value.job_id == "job-1"
    with pytest.raises(RemoteTimeoutError, match="stopped by the platform at the endpoint's execution timeout"):
        run("timed_out", {"polls": 1})
    with pytest.raises(FlashRuntimeError, match="ended with status 'PAUSED'"):
        run("odd_status")
    with pytest.raises(FlashRuntimeError, match="not a job"):
        run("not_a_job")


def test_a_refused_token_says_where_it_came_from(monkeypatch) -> None:
    with FakeRunPod(token="right") as server:
        monkeypatch.setenv(URL_VARIABLE, server.url)
        monkeypatch.setenv("RUNPOD_API_KEY", "wrong")
        with pytest.raises(AuthenticationError) as wrong:
            run("add")
        assert wrong.value.status_code == 401 and wrong.value.variable == "RUNPOD_API_KEY"
        assert "refused add with HTTP 401: the bearer token sent comes from RUNPOD_API_KEY" in str(wrong.value)
        monkeypatch.delenv("RUNPOD_API_KEY")
        with pytest.raises(AuthenticationError, match="no bearer token was sent: set FLASHC_API_KEY or RUNPOD_API_KEY"):
            run("add")
        monkeypatch.setenv("FLASHC_API_KEY", "right")
        assert run("add", {"a": 2}) == 2
    assert len(server.sent("/runsync")) == 3  # never retried


def test_an_unknown_endpoint_is_not_deployed(server: FakeRunPod, monkeypatch) -> None:
    with pytest.raises(EndpointNotDeployedError, match=r"'gpu-worker' is not deployed \(http://127\.0\.0\.1:\d+ answered HTTP 404 to missing\): deploy it first with `flashc deploy`"):
        run("missing")
    monkeypatch.delenv(URL_VARIABLE)
    with pytest.raises(EndpointNotDeployedError, match="or set FLASHC_ENDPOINT_URL_GPU_WORKER to its base URL") as raised:
        run("add")
    assert (raised.value.endpoint, raised.value.variable) == (ENDPOINT, URL_VARIABLE)
    assert run("add", {"a": 5}, url=server.url) == 5  # an explicit URL needs no variable


# --- retries: only where no job can run twice ----------------------------------------------------


def test_gateway_refusals_before_a_job_is_accepted_are_retried(server: FakeRunPod, caplog) -> None:
    caplog.set_level(logging.INFO, logger="flashc_runtime.client")
    assert run("unavailable_twice", {"a": 1}) == {"echo": {"a": 1, "__function": "unavailable_twice"}}
    assert len(server.sent("/runsync")) == 3
    assert len([r for r in caplog.records if "HTTP 503; retrying" in r.getMessage()]) == 2


@pytest.mark.parametrize(
    ("function", "error", "message"),
    [
        ("gateway_timeout", EndpointUnavailableError, "answered HTTP 504 to gateway_timeout"),
        ("accepted_then_503", EndpointUnavailableError, "answered HTTP 503"),
        ("drop", EndpointUnavailableError, "may have been processed, so it was not sent again"),
    ],
)
def test_runsync_is_never_retried_once_it_may_have_reached_a_worker(server: FakeRunPod, function, error, message) -> None:
    with pytest.raises(error, match=message):
        run(function)
    assert len(server.sent("/runsync")) == 1


def test_a_refused_connection_is_retried_then_reported(monkeypatch, caplog) -> None:
    caplog.set_level(logging.INFO, logger="flashc_runtime.client")
    monkeypatch.setenv(URL_VARIABLE, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(EndpointUnavailableError, match="cannot connect .* after 4 attempts") as raised:
        run("add")
    assert isinstance(raised.value, ConnectionError)
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == transport.RETRY_ATTEMPTS - 1
    assert retries[0].startswith("add on endpoint 'gpu-worker': cannot connect (ConnectError")
    assert retries[-1].endswith(f"(attempt {transport.RETRY_ATTEMPTS} of {transport.RETRY_ATTEMPTS})")


def test_a_server_that_comes_up_during_the_retries_gets_the_call(monkeypatch) -> None:
    monkeypatch.setattr(transport, "RETRY_BACKOFF_SECONDS", 0.3)
    port = free_port()  # nothing listens there yet: connections are refused ...
    monkeypatch.setenv(URL_VARIABLE, f"http://127.0.0.1:{port}")
    servers: list[FakeRunPod] = []

    async def scenario():
        async def start_later():
            await asyncio.sleep(0.1)  # ... until a server listens on that port
            fake = FakeRunPod(port=port)
            servers.append(fake.__enter__())

        starter = asyncio.create_task(start_later())
        result = await client.call(ENDPOINT, "add", {"a": 4}, timeout=10)
        await starter
        return result

    try:
        assert asyncio.run(scenario()) == 4
    finally:
        for fake in servers:
            fake.__exit__()
    assert len(servers[0].sent("/runsync")) == 1


# --- the job API ---------------------------------------------------------------------------------


def test_jobs_submit_status_wait_and_cancel(server: FakeRunPod) -> None:
    jobs = client.Jobs(ENDPOINT)

    async def scenario():
        job_id = await jobs.submit("slow", {"polls": 2})
        queued = await jobs.status(job_id)
        done = await jobs.wait(job_id, timeout=5)
        other = await jobs.submit("Model", {"text": "x"}, method="predict")
        cancelled = await jobs.cancel(other)
        return job_id, queued, done, other, cancelled

    job_id, queued, done, other, cancelled = asyncio.run(scenario())
    assert server.sent("/run")[0].body == {"input": {"polls": 2, "__function": "slow"}}
    assert server.sent("/run")[1].body == {"input": {"text": "x", "__function": "Model", "method": "predict"}}
    assert isinstance(queued, JobOutput) and queued.id == job_id and queued.status == "IN_PROGRESS"
    assert not queued.done
    assert (done.status, done.output, done.workerId, done.done) == ("COMPLETED", "slow done", "w-1", True)
    assert (cancelled.id, cancelled.status) == (other, "CANCELLED")
    assert server.routes()[-1] == f"POST /cancel/{other}"


def test_jobs_wait_gives_up_without_cancelling(server: FakeRunPod) -> None:
    jobs = client.Jobs(ENDPOINT)

    async def scenario():
        job_id = await jobs.submit("stuck", {})
        with pytest.raises(RemoteTimeoutError, match="did not finish within 0.2 s \\(it was left running\\)"):
            await jobs.wait(job_id, timeout=0.2)
        return job_id

    job_id = asyncio.run(scenario())
    assert server.jobs[job_id].status == "IN_PROGRESS"
    assert not server.sent("/cancel/")


def test_jobs_result_raises_what_the_job_ended_with(server: FakeRunPod) -> None:
    jobs = client.Jobs(ENDPOINT)

    async def scenario():
        ok = await jobs.result(await jobs.submit("add", {"a": 2, "b": 3}))
        with pytest.raises(RemoteExecutionError, match="ValueError: bad value: 3"):
            await jobs.result(await jobs.submit("explode", {}))

        return ok

    assert asyncio.run(scenario()) == 5


def test_jobs_raw_input_and_unknown_jobs(server: FakeRunPod) -> None:
    jobs = client.Jobs(ENDPOINT)

    async def scenario():
        queued = await jobs.run({"__function": "add", "a": 1}, webhook="https://example.invalid/hook")
        answered = await jobs.runsync({"__function": "add", "a": 1, "b": 1})
        with pytest.raises(EndpointHTTPError, match="HTTP 404") as unknown:
            await jobs.status("no-such-job")
        return queued, answered, unknown.value

    queued, answered, unknown = asyncio.run(scenario())
    assert server.sent("/run")[0].body == {"input": {"__function": "add", "a": 1}, "webhook": "https://example.invalid/hook"}
    assert (queued.status, queued.workerId, queued.delayTime) == ("IN_QUEUE", "", 0)
    assert (answered.status, answered.output) == ("COMPLETED", 2)
    assert unknown.status_code == 404


# --- load-balanced routes ----------------------------------------------------------------------


def test_routes_fill_the_path_and_send_the_rest(server: FakeRunPod) -> None:
    item = asyncio.run(client.request(ENDPOINT, "get", "/items/{item_id}", {"item_id": "a b", "verbose": True, "tags": ["x", "y"], "skip": client.DEFAULT}))
    assert item == {"item_id": "a%20b", "query": {"verbose": ["true"], "tags": ["x", "y"]}}
    classified = asyncio.run(client.request(ENDPOINT, "POST", "/classify", {"text": "hi", "top_k": 2}))
    assert classified == {"label": "HI", "body": {"text": "hi", "top_k": 2}}
    assert asyncio.run(client.request(ENDPOINT, "POST", "/empty", {})) is None
    post = server.sent("/classify")[0]
    assert post.headers["Content-Type"] == "application/json"


def test_route_errors(server: FakeRunPod) -> None:
    with pytest.raises(RemoteExecutionError) as crash:
        asyncio.run(client.request(ENDPOINT, "POST", "/crash", {}))
    assert (crash.value.error_type, crash.value.message) == ("RuntimeError", "route failed")
    assert "RuntimeError: route failed" in crash.value.traceback
    with pytest.raises(EndpointHTTPError, match="answered HTTP 422 to POST /invalid") as invalid:
        asyncio.run(client.request(ENDPOINT, "POST", "/invalid", {}))
    assert invalid.value.status_code == 422
    with pytest.raises(TypeError, match="missing the path parameter 'item_id'"):
        asyncio.run(client.request(ENDPOINT, "GET", "/items/{item_id}", {}))


def test_a_route_behind_a_busy_gateway_is_retried(server: FakeRunPod) -> None:
    assert asyncio.run(client.request(ENDPOINT, "POST", "/busy", {})) == {"ok": True}
    assert len(server.sent("/busy")) == 2


def test_a_route_body_over_10_mib_is_refused_before_sending(server: FakeRunPod) -> None:
    with pytest.raises(PayloadTooLargeError, match=r"argument 'blob' is 11534338 bytes \(11.0 MiB\) encoded, more than the 10485760 bytes"):
        asyncio.run(client.request(ENDPOINT, "POST", "/classify", {"blob": "x" * (11 * 1024 * 1024)}))
    halves = {"a": "x" * (6 * 1024 * 1024), "b": "y" * (6 * 1024 * 1024)}
    with pytest.raises(PayloadTooLargeError, match="the request body for endpoint 'gpu-worker' is 12582927 bytes, more than the 10485760 bytes a load-balanced endpoint accepts"):
        asyncio.run(client.request(ENDPOINT, "POST", "/classify", halves))
    assert server.sent() == []


def test_raw_http_requests(server: FakeRunPod) -> None:
    assert asyncio.run(client.http_request(ENDPOINT, "POST", "/classify", {"text": "raw"}))["label"] == "RAW"
    assert asyncio.run(client.http_request(ENDPOINT, "GET", "/items/7", {"q": 1}))["query"] == {"q": ["1"]}
    with pytest.raises(TypeError, match="a mapping"):
        asyncio.run(client.http_request(ENDPOINT, "GET", "/items/7", [1]))


# --- the pooled connection ---------------------------------------------------------------------


def test_calls_on_one_loop_share_a_connection_closed_with_the_loop(server: FakeRunPod) -> None:
    async def three_calls():
        results = [await client.call(ENDPOINT, "add", {"a": n}) for n in range(3)]
        loop = asyncio.get_running_loop()
        assert loop in transport._pools
        return results, transport._pools[loop].client

    results, pooled = asyncio.run(three_calls())
    assert results == [0, 1, 2]
    assert len({r.port for r in server.sent()}) == 1  # one connection, kept alive
    assert pooled.is_closed  # closed by asyncio.run's shutdown of async generators
    assert not [loop for loop in transport._pools if not loop.is_closed()]
    run("add", {"a": 1})  # a new loop gets a new client
    assert server.sent()[-1].port != server.sent()[0].port


def test_concurrent_calls_on_one_loop(server: FakeRunPod) -> None:
    async def many():
        return await asyncio.gather(*(client.call(ENDPOINT, "add", {"a": n, "b": n}) for n in range(8)))

    assert asyncio.run(many()) == [2 * n for n in range(8)]
    assert len(server.sent("/runsync")) == 8


def test_closing_the_pool_explicitly(server: FakeRunPod) -> None:
    async def scenario():
        await client.call(ENDPOINT, "add", {"a": 1})
        await transport.aclose()
        assert asyncio.get_running_loop() not in transport._pools
        return await client.call(ENDPOINT, "add", {"a": 2})

    assert asyncio.run(scenario()) == 2


def test_job_output_from_any_answer() -> None:
    queued = JobOutput.from_response({"id": "j", "status": "IN_QUEUE"})
    assert (queued.workerId, queued.delayTime, queued.executionTime, queued.done) == ("", 0, 0, False)
    assert JobOutput.from_response({"id": "j", "status": "COMPLETED", "workerId": None, "output": 1}).workerId == ""
    with pytest.raises(ValueError, match="JobOutput is missing status"):
        JobOutput.from_response({"id": "j"})
    with pytest.raises(ValueError, match="a job is a JSON object"):
        JobOutput.from_response([])  # type: ignore[arg-type]
    assert json.loads(json.dumps(queued.to_dict()))["status"] == "IN_QUEUE"
