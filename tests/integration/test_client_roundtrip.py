"""flashc's client runtime against the real worker servers: both sides agree on the wire."""

from __future__ import annotations

import asyncio

import pytest

from flashc_runtime import client
from flashc_runtime.sdk.exceptions import RemoteExecutionError


@pytest.fixture
def deployed(
    monkeypatch: pytest.MonkeyPatch, queue_url: str, class_url: str, lb_url: str
) -> None:
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    monkeypatch.setenv(client.url_variable("workers"), queue_url)
    monkeypatch.setenv(client.url_variable("model"), class_url)
    monkeypatch.setenv(client.url_variable("api"), lb_url)


@pytest.mark.usefixtures("deployed")
def test_queue_calls() -> None:
    assert asyncio.run(client.call("workers", "add", {"a": 1, "b": 2})) == 3
    assert (
        asyncio.run(client.call("workers", "total", {"__args": [1, 2], "scale": 3}))
        == 9
    )
    assert asyncio.run(client.call("workers", "nothing", {})) == {}
    result = asyncio.run(
        client.call("model", "Classifier", {"text": "good"}, method="predict")
    )
    assert result["label"] == "positive"


@pytest.mark.usefixtures("deployed")
def test_a_remote_exception_arrives_with_its_type_and_message() -> None:
    with pytest.raises(RemoteExecutionError) as caught:
        asyncio.run(client.call("workers", "explode", {"message": "far away"}))
    assert caught.value.message == "far away"
    assert "ValueError" in (caught.value.error_type or "")


@pytest.mark.usefixtures("deployed")
def test_load_balanced_requests() -> None:
    assert asyncio.run(client.request("api", "POST", "/classify", {"text": "hi"})) == {
        "label": "HI",
        "top_k": 1,
    }
    item = asyncio.run(
        client.request(
            "api",
            "GET",
            "/items/{item_id}",
            {"item_id": 4, "verbose": True, "tags": ["x"]},
        )
    )
    assert item == {"item_id": 4, "verbose": True, "tags": ["x"]}
    with pytest.raises(RemoteExecutionError) as caught:
        asyncio.run(client.request("api", "POST", "/crash", {}))
    assert (caught.value.error_type, caught.value.message) == (
        "RuntimeError",
        "route failed",
    )
