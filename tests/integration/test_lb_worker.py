"""A rendered load-balanced app served over real HTTP: by uvicorn, and by the entry's own `__main__`."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture(scope="module", params=["lb", "lb-entry"])
def url(request: pytest.FixtureRequest) -> str:
    """(c) `uvicorn _flashc_handler:app` in the package, and `handler_api.py` with HOST/PORT at the root."""
    return request.getfixturevalue(
        "lb_url" if request.param == "lb" else "lb_entry_url"
    )


def test_ping(url: str) -> None:
    response = httpx.get(f"{url}/ping", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "healthy"})


def test_json_body(url: str) -> None:
    response = httpx.post(
        f"{url}/classify", json={"text": "abc", "top_k": 2}, timeout=10
    )
    assert (response.status_code, response.json()) == (
        200,
        {"label": "ABC", "top_k": 2},
    )


def test_path_parameter_and_query_conversion(url: str) -> None:
    response = httpx.get(
        f"{url}/items/5",
        params=[("verbose", "true"), ("tags", "a"), ("tags", "b")],
        timeout=10,
    )
    assert (response.status_code, response.json()) == (
        200,
        {"item_id": 5, "verbose": True, "tags": ["a", "b"]},
    )


def test_422_names_the_parameter(url: str) -> None:
    response = httpx.post(f"{url}/classify", json={"top_k": 2}, timeout=10)
    assert response.status_code == 422
    assert ["body", "text"] in [entry["loc"] for entry in response.json()["detail"]]
    response = httpx.get(f"{url}/items/five", timeout=10)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "item_id"]


def test_404_405_and_500(url: str) -> None:
    assert httpx.get(f"{url}/missing", timeout=10).status_code == 404
    assert (
        httpx.post(
            f"{url}/execute", json={"function_code": "x"}, timeout=10
        ).status_code
        == 404
    )
    wrong = httpx.get(f"{url}/classify", timeout=10)
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
    crash = httpx.post(f"{url}/crash", timeout=10)
    assert crash.status_code == 500
    assert crash.json() == {
        "error": {"type": "RuntimeError", "message": "route failed"}
    }
