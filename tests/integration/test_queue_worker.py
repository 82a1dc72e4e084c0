"""Rendered queue handlers under the runpod worker SDK's local API server (`/runsync`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest


def runsync(url: str, payload: Any) -> dict[str, Any]:
    response = httpx.post(f"{url}/runsync", json={"input": payload}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def output(url: str, payload: Any) -> Any:
    job = runsync(url, payload)
    assert job["status"] == "COMPLETED", job
    return job.get("output")


def failure(url: str, payload: Any) -> dict[str, Any]:
    job = runsync(url, payload)
    assert job["status"] == "FAILED", job
    return json.loads(job["error"])


@pytest.fixture(scope="module", params=["queue", "queue-entry"])
def url(request: pytest.FixtureRequest) -> str:
    """(a) `_flashc_handler.py` run in its package, (b) `handler_<endpoint>.py` run at the artifact root."""
    return request.getfixturevalue(
        "queue_url" if request.param == "queue" else "queue_entry_url"
    )


def test_sync_and_async_functions(url: str) -> None:
    assert output(url, {"__function": "add", "a": 2, "b": 3}) == 5
    assert output(url, {"__function": "add", "a": 2}) == 4
    assert output(url, {"__function": "greet", "name": "ada"}) == "hello from _deps ada"


def test_functions_from_packages_and_digit_modules(url: str) -> None:
    assert output(url, {"__function": "shout", "text": "hey"}) == "HEY!"
    assert output(url, {"__function": "double", "x": 21}) == 42


def test_positional_arguments_and_the_empty_marker(url: str) -> None:
    assert output(url, {"__function": "total", "__args": [1, 2, 3], "scale": 2}) == 12
    assert output(url, {"__function": "total", "__empty": True}) == 0


def test_vendored_runtime_and_deps_are_the_ones_used(url: str, artifact: Path) -> None:
    where = output(url, {"__function": "origin"})
    package = artifact / "endpoints" / "workers"
    assert (
        Path(where["runtime"])
        .resolve()
        .is_relative_to(package.resolve() / "flashc_runtime")
    )
    assert Path(where["fancylib"]).resolve().is_relative_to(package.resolve() / "_deps")


def test_a_raising_function_fails_the_job_with_its_type_and_message(url: str) -> None:
    error = failure(url, {"__function": "explode", "message": "kaput"})
    assert "ValueError" in error["error_type"]
    assert error["error_message"] == "kaput"
    assert "gpu_worker.py" in error["error_traceback"]


def test_dispatch_errors_list_the_functions(url: str) -> None:
    error = failure(url, {"a": 1})
    assert "InvalidInputError" in error["error_type"]
    assert (
        "available: add, double, explode, greet, nothing, origin, report, shout, total"
        in error["error_message"]
    )
    error = failure(url, {"__function": "nope"})
    assert "unknown function 'nope'" in error["error_message"]


def test_arguments_that_do_not_bind_fail_the_job(url: str) -> None:
    error = failure(url, {"__function": "add", "a": 1, "c": 2})
    assert "InvalidInputError" in error["error_type"]
    assert "unexpected keyword argument 'c'" in error["error_message"]


def test_a_returned_error_key_is_data_not_a_failure(url: str) -> None:
    assert output(url, {"__function": "report"}) == {"error": "only data", "ok": True}


def test_an_empty_dict_is_returned_not_dropped(url: str) -> None:
    assert output(url, {"__function": "nothing"}) == {}


def test_class_endpoint_keeps_one_instance_and_dispatches_on_method(
    class_url: str,
) -> None:
    first = output(class_url, {"method": "predict", "text": "good day"})
    second = output(class_url, {"method": "predict", "text": "bad day"})
    assert first["label"] == "positive" and second["label"] == "negative"
    assert second["calls"] == first["calls"] + 1
    assert output(class_url, {"method": "embed", "text": "ab cde"}) == [2, 3]
    error = failure(class_url, {"method": "train"})
    assert "unknown method 'train'" in error["error_message"]
    assert "available: embed, predict" in error["error_message"]
