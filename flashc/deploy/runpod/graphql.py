"""RunPod's GraphQL API over httpx: one operation per method, errors as exceptions that say why.

``{RUNPOD_API_BASE_URL}/graphql`` (default ``https://api.runpod.io``), ``Authorization:
Bearer <key>``. Queries are retried on a lost connection, a timeout or a 5xx answer;
mutations only when the connection could not be made (then nothing was sent), because
repeating one may create a second app, template or endpoint.

A GraphQL ``errors`` answer becomes :class:`GraphQLQueryError` or
:class:`GraphQLMutationError` carrying the server's messages; HTTP 401/403 becomes
:class:`AuthenticationError` naming where the key came from. The key never appears in
a message (it is registered for redaction when read, see :mod:`.credentials`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import httpx

from ...errors import FlashcError
from .credentials import ApiKey

DEFAULT_API_BASE_URL = "https://api.runpod.io"
BASE_URL_VARIABLE = "RUNPOD_API_BASE_URL"
TIMEOUT_VARIABLE = "FLASHC_RUNPOD_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 60.0
QUERY_ATTEMPTS = 3
BACKOFF_SECONDS = 0.25


class RunPodError(FlashcError):
    """The RunPod API could not be reached or answered something unusable."""


class AuthenticationError(RunPodError):
    """RunPod refused the API key."""


class GraphQLError(RunPodError):
    """The API answered a GraphQL operation with errors."""

    def __init__(self, operation: str, messages: list[str]) -> None:
        self.operation = operation
        self.messages = messages
        super().__init__(f"RunPod {self.kind} {operation} failed: {'; '.join(messages) or 'no message'}")

    kind = "operation"


class GraphQLQueryError(GraphQLError):
    kind = "query"


class GraphQLMutationError(GraphQLError):
    kind = "mutation"


def api_base_url() -> str:
    return (os.environ.get(BASE_URL_VARIABLE, "").strip() or DEFAULT_API_BASE_URL).rstrip("/")


def timeout_seconds() -> float:
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise FlashcError(f"{TIMEOUT_VARIABLE} must be a positive number of seconds, not {text!r}")
    return value


class GraphQLClient:
    """A connection to the API with one key; use as a context manager (or call :meth:`close`)."""

    def __init__(self, key: ApiKey, *, base_url: str | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.key = key
        self.url = f"{(base_url or api_base_url()).rstrip('/')}/graphql"
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=timeout_seconds(),
            headers={"Authorization": f"Bearer {key.value}", "Content-Type": "application/json", "User-Agent": "flashc"},
        )

    def __enter__(self) -> GraphQLClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def query(self, operation: str, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._execute(operation, document, variables or {}, mutation=False)

    def mutate(self, operation: str, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._execute(operation, document, variables or {}, mutation=True)

    def _execute(self, operation: str, document: str, variables: dict[str, Any], *, mutation: bool) -> dict[str, Any]:
        body = {"query": document, "variables": variables, "operationName": operation}
        error_type = GraphQLMutationError if mutation else GraphQLQueryError
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.post(self.url, json=body)
            except httpx.ConnectError as error:
                failure: str = f"cannot connect to {self.url} ({error})"
                if attempt < QUERY_ATTEMPTS:
                    self._sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
                    continue
                raise RunPodError(f"RunPod {error_type.kind} {operation}: {failure}") from None
            except httpx.HTTPError as error:  # sent: a mutation may have happened
                failure = f"{type(error).__name__} talking to {self.url}"
                if not mutation and attempt < QUERY_ATTEMPTS:
                    self._sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
                    continue
                hint = "; it may or may not have taken effect (the next deploy finds out)" if mutation else ""
                raise RunPodError(f"RunPod {error_type.kind} {operation}: {failure}{hint}") from None
            if response.status_code in (401, 403):
                raise AuthenticationError(
                    f"RunPod refused {self.key} (HTTP {response.status_code} to {operation}); "
                    + _auth_advice(self.key)
                )
            if response.status_code >= 500 and not mutation and attempt < QUERY_ATTEMPTS:
                self._sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
                continue
            return self._data(operation, response, error_type)

    def _data(self, operation: str, response: httpx.Response, error_type: type[GraphQLError]) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict) and payload.get("errors"):
            errors = payload["errors"] if isinstance(payload["errors"], list) else [payload["errors"]]
            raise error_type(operation, [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors])
        if response.status_code >= 400:
            raise error_type(operation, [f"HTTP {response.status_code}: {response.text[:300]}"])
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise error_type(operation, [f"the answer has no data: {json.dumps(payload)[:300] if payload is not None else response.text[:300]}"])
        return data


def _auth_advice(key: ApiKey) -> str:
    if key.source == "RUNPOD_API_KEY":
        return "RUNPOD_API_KEY is set and wins over .env and `flashc login`: fix or unset it"
    return f"replace it (`flashc login` writes ~/.runpod/config.toml; {key.source} is read before it)" if key.source.endswith(".env") else "run `flashc login` with a valid key"
