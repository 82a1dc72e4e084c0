"""LoadBalancedApp: routing, parameter binding and conversion, errors, limits and lifespan."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any, Optional

import httpx
import pytest
from flashc_runtime.worker.lb import MAX_BODY_BYTES, LoadBalancedApp


async def classify(text: str, top_k: int = 3) -> dict[str, Any]:
    return {"label": text[::-1], "top_k": top_k}


def get_item(
    item_id: int,
    verbose: bool = False,
    tags: list[str] | None = None,
    ratio: float = 1.0,
) -> dict[str, Any]:
    return {"item_id": item_id, "verbose": verbose, "tags": tags, "ratio": ratio}


def search(q, limit: Optional[int] = None, ids: list[int] = []) -> dict[str, Any]:  # noqa: B006, UP045 (typing.Optional on purpose)
    return {"q": q, "limit": limit, "ids": ids}


def update(item_id: int, name: str, price: float) -> dict[str, Any]:
    return {"item_id": item_id, "name": name, "price": price}


def remove(item_id: str) -> None:
    return None


def fail(reason: str) -> None:
    raise KeyError(reason)


def scores(values: list[int], extra: Any = None, **options: Any) -> dict[str, Any]:
    return {"sum": sum(values), "extra": extra, "options": options}


@dataclass
class Point:
    x: int
    y: int


def point() -> Point:
    return Point(1, 2)


def not_json() -> object:
    return object()


def positional(a: int, /, b: int = 0) -> list[int]:
    return [a, b]


APP = LoadBalancedApp(
    "api",
    [
        ("POST", "/classify", classify),
        ("GET", "/items/{item_id}", get_item),
        ("PUT", "/items/{item_id}", update),
        ("DELETE", "/items/{item_id}", remove),
        ("GET", "/search", search),
        ("POST", "/fail", fail),
        ("post", "/scores/", scores),
        ("GET", "/point", point),
        ("GET", "/bad", not_json),
        ("POST", "/positional", positional),
    ],
)


def request(
    method: str, url: str, app: LoadBalancedApp = APP, **kwargs: Any
) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test"
        ) as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(send())


def detail_locs(response: httpx.Response) -> list[list[str]]:
    return [entry["loc"] for entry in response.json()["detail"]]


def test_ping_is_healthy() -> None:
    response = request("GET", "/ping")
    assert (response.status_code, response.json()) == (200, {"status": "healthy"})
    assert response.headers["content-type"] == "application/json"


def test_a_user_ping_route_wins() -> None:
    app = LoadBalancedApp("x", [("GET", "/ping", lambda: {"status": "mine"})])
    assert request("GET", "/ping", app).json() == {"status": "mine"}


def test_post_takes_a_flat_json_object() -> None:
    response = request("POST", "/classify", json={"text": "abc"})
    assert (response.status_code, response.json()) == (
        200,
        {"label": "cba", "top_k": 3},
    )
    assert (
        request("POST", "/classify", json={"text": "x", "top_k": 1}).json()["top_k"]
        == 1
    )


def test_get_converts_path_and_query_by_annotation() -> None:
    response = request("GET", "/items/7?verbose=true&tags=a&tags=b&ratio=0.5")
    assert response.status_code == 200
    assert response.json() == {
        "item_id": 7,
        "verbose": True,
        "tags": ["a", "b"],
        "ratio": 0.5,
    }
    assert request("GET", "/items/7").json() == {
        "item_id": 7,
        "verbose": False,
        "tags": None,
        "ratio": 1.0,
    }
    assert request("GET", "/items/7?verbose=0").json()["verbose"] is False


def test_unannotated_query_values_stay_strings_and_optional_unwraps() -> None:
    response = request("GET", "/search?q=42&limit=5&ids=1&ids=2")
    assert response.json() == {"q": "42", "limit": 5, "ids": [1, 2]}


def test_an_explicit_none_in_the_query_is_empty() -> None:
    assert request("GET", "/search?q=x&limit=").json()["limit"] is None
    assert request("GET", "/items/1?ratio=").status_code == 422


def test_encoded_slashes_stay_inside_a_path_parameter() -> None:
    response = request("DELETE", "/items/a%2Fb")
    assert response.status_code == 200
    app = LoadBalancedApp("x", [("GET", "/files/{name}", lambda name: name)])
    assert (
        request("GET", "/files/dir%2Ffile%20one.txt", app).json() == "dir/file one.txt"
    )
    assert request("GET", "/files/dir/file.txt", app).status_code == 404


def test_several_parameters_in_one_segment() -> None:
    app = LoadBalancedApp(
        "x", [("GET", "/v/{major}.{minor}", lambda major, minor: [major, minor])]
    )
    assert request("GET", "/v/1.20", app).json() == ["1", "20"]


def test_path_parameters_with_a_json_body() -> None:
    response = request("PUT", "/items/3", json={"name": "pen", "price": 2})
    assert response.json() == {"item_id": 3, "name": "pen", "price": 2.0}
    assert isinstance(response.json()["price"], float)


def test_none_is_null() -> None:
    response = request("DELETE", "/items/abc")
    assert (response.status_code, response.text) == (200, "null")


@pytest.mark.parametrize(
    ("method", "url", "body", "loc"),
    [
        ("POST", "/classify", {}, ["body", "text"]),
        ("POST", "/classify", {"text": "a", "colour": "red"}, ["body", "colour"]),
        ("POST", "/classify", {"text": 5}, ["body", "text"]),
        ("POST", "/classify", {"text": "a", "top_k": "3"}, ["body", "top_k"]),
        ("POST", "/classify", {"text": "a", "top_k": True}, ["body", "top_k"]),
        ("GET", "/items/seven", None, ["path", "item_id"]),
        ("GET", "/items/7?verbose=maybe", None, ["query", "verbose"]),
        ("GET", "/items/7?ratio=x", None, ["query", "ratio"]),
        ("GET", "/items/7?colour=red", None, ["query", "colour"]),
        ("GET", "/search", None, ["query", "q"]),
        ("GET", "/search?q=1&ids=one", None, ["query", "ids"]),
        (
            "PUT",
            "/items/3",
            {"item_id": 4, "name": "n", "price": 1},
            ["body", "item_id"],
        ),
        ("POST", "/scores", {"values": [1, "2"]}, ["body", "values"]),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(
    method: str, url: str, body: Any, loc: list[str]
) -> None:
    response = (
        request(method, url, json=body) if body is not None else request(method, url)
    )
    assert response.status_code == 422, response.text
    assert loc in detail_locs(response)


def test_every_problem_is_reported_at_once() -> None:
    response = request("PUT", "/items/x", json={"price": "free", "colour": 1})
    assert response.status_code == 422
    assert sorted(detail_locs(response)) == sorted(
        [["path", "item_id"], ["body", "price"], ["body", "colour"], ["body", "name"]]
    )


def test_body_must_be_a_json_object() -> None:
    response = request("POST", "/classify", content=b"[1, 2]")
    assert response.status_code == 422
    assert "expected a JSON object" in response.json()["detail"][0]["msg"]
    broken = request("POST", "/classify", content=b"{not json")
    assert (broken.status_code, broken.json()["detail"][0]["type"]) == (
        422,
        "json_invalid",
    )


def test_empty_body_means_no_parameters() -> None:
    app = LoadBalancedApp("x", [("POST", "/go", lambda: "went")])
    assert request("POST", "/go", app).json() == "went"


def test_extra_keywords_are_accepted_when_the_function_takes_them() -> None:
    response = request(
        "POST", "/scores/", json={"values": [1, 2], "extra": {"a": 1}, "mode": "fast"}
    )
    assert response.json() == {"sum": 3, "extra": {"a": 1}, "options": {"mode": "fast"}}


def test_positional_only_parameters_are_passed_positionally() -> None:
    assert request("POST", "/positional", json={"a": 1, "b": 2}).json() == [1, 2]
    assert request("POST", "/positional", json={"a": 1}).json() == [1, 0]


def test_unknown_path_is_404_and_wrong_method_is_405_with_allow() -> None:
    assert request("GET", "/nowhere").status_code == 404
    response = request("POST", "/items/1")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, PUT"


def test_there_is_no_execute_route() -> None:
    body = {"function_name": "f", "function_code": "def f():\n    return 1\n"}
    assert request("POST", "/execute", json=body).status_code == 404


def test_trailing_slash_is_the_same_route() -> None:
    assert request("POST", "/classify/", json={"text": "ab"}).status_code == 200
    assert request("POST", "/scores", json={"values": []}).status_code == 200


def test_exceptions_are_500_with_type_and_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logged: list[str] = []
    import logging

    handler = logging.Handler()
    handler.emit = lambda record: logged.append(handler.format(record))  # type: ignore[method-assign]
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("flashc_runtime.worker").addHandler(handler)
    try:
        response = request("POST", "/fail", json={"reason": "gone"})
    finally:
        logging.getLogger("flashc_runtime.worker").removeHandler(handler)
    assert response.status_code == 500
    assert response.json() == {"error": {"type": "KeyError", "message": "'gone'"}}
    assert any("Traceback" in line and "KeyError: 'gone'" in line for line in logged), (
        logged
    )


def test_results_that_are_not_json_are_500() -> None:
    response = request("GET", "/bad")
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "TypeError"


def test_dataclasses_are_returned_as_objects() -> None:
    assert request("GET", "/point").json() == {"x": 1, "y": 2}


def test_sync_functions_run_in_threads() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def meet() -> str:
        barrier.wait()
        return threading.current_thread().name

    app = LoadBalancedApp("x", [("GET", "/meet", meet)])

    async def both() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test"
        ) as client:
            return list(await asyncio.gather(client.get("/meet"), client.get("/meet")))

    responses = asyncio.run(both())
    assert [response.status_code for response in responses] == [200, 200]
    assert threading.main_thread().name not in {
        response.json() for response in responses
    }


def test_routes_must_fit_their_functions() -> None:
    with pytest.raises(ValueError, match="no parameter 'item_id'"):
        LoadBalancedApp("x", [("GET", "/items/{item_id}", lambda: None)])
    with pytest.raises(ValueError, match="repeats a parameter"):
        LoadBalancedApp("x", [("GET", "/a/{x}/{x}", lambda x: x)])
    with pytest.raises(ValueError, match="declared twice"):
        LoadBalancedApp("x", [("GET", "/a", lambda: 1), ("get", "/a/", lambda: 2)])


# A tiny ASGI driver for what httpx's transport does not exercise: lifespan and chunked bodies.


async def drive(
    app: LoadBalancedApp, scope: dict[str, Any], messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    inbox = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=5)
    return sent


def test_lifespan_startup_and_shutdown_complete() -> None:
    sent = asyncio.run(
        drive(
            APP,
            {"type": "lifespan"},
            [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}],
        )
    )
    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


def http_scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]] = ()
) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": list(headers),
    }


def test_chunked_bodies_are_joined() -> None:
    chunks = [b'{"text": ', b'"chunked"}']
    messages = [
        {"type": "http.request", "body": chunks[0], "more_body": True},
        {"type": "http.request", "body": chunks[1]},
    ]
    sent = asyncio.run(drive(APP, http_scope("POST", "/classify"), messages))
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {"label": "deknuhc", "top_k": 3}


def test_bodies_over_the_limit_are_413() -> None:
    declared = http_scope(
        "POST", "/classify", [(b"content-length", str(MAX_BODY_BYTES + 1).encode())]
    )
    sent = asyncio.run(drive(APP, declared, []))  # refused before reading anything
    assert sent[0]["status"] == 413

    chunk = b" " * (1024 * 1024)
    streamed = [
        {"type": "http.request", "body": chunk, "more_body": True} for _ in range(11)
    ]
    sent = asyncio.run(drive(APP, http_scope("POST", "/classify"), streamed))
    assert sent[0]["status"] == 413

    big = json.dumps({"text": "x" * (MAX_BODY_BYTES + 10)})
    assert request("POST", "/classify", content=big).status_code == 413


def test_a_small_limit_can_be_set() -> None:
    app = LoadBalancedApp(
        "x", [("POST", "/echo", lambda text: text)], max_body_bytes=20
    )
    assert request("POST", "/echo", app, json={"text": "short"}).status_code == 200
    assert (
        request("POST", "/echo", app, json={"text": "much too long for it"}).status_code
        == 413
    )
