"""Load-balanced endpoints: a dependency-free ASGI app that maps HTTP routes to user functions.

The wire shape is runpod-flash's: ``{name}`` path segments bind to the parameters of
that name; POST/PUT/PATCH/DELETE take the other parameters as one flat JSON object;
GET takes them as query parameters, converted by annotation. The return value is the
JSON response. ``GET /ping`` answers the platform's health check.

Only the declared routes exist. Unlike runpod-flash's generated apps there is no
``/execute`` route, nor any other that would run code sent in a request.

It is a plain ASGI 3 callable rather than a FastAPI app because it is vendored into
every handler package and must import nothing beyond the standard library.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import re
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from ._logging import get_logger

__all__ = ["BODY_METHODS", "MAX_BODY_BYTES", "LoadBalancedApp"]

MAX_BODY_BYTES = 10 * 1024 * 1024
"""Larger request bodies are refused with 413 before they are buffered."""

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods whose parameters come in a JSON body; the others take query parameters."""

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_EMPTY = inspect.Parameter.empty
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class LoadBalancedApp:
    """An ASGI app serving ``routes``: ``(method, path, function)`` triples."""

    def __init__(
        self,
        name: str,
        routes: Iterable[tuple[str, str, Callable[..., Any]]],
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.name = name
        self.max_body_bytes = max_body_bytes
        self._log = get_logger()
        self._routes = [
            _Route(method, path, function) for method, path, function in routes
        ]
        seen: set[tuple[str, str]] = set()
        for route in self._routes:
            if route.key in seen:
                raise ValueError(
                    f"endpoint {name!r}: route {route.method} {route.path} is declared twice"
                )
            seen.add(route.key)
        if ("GET", "/ping") not in seen:
            self._routes.append(_Route("GET", "/ping", _healthy))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            status, body, headers = await self._respond(scope, receive)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode("ascii")),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def _respond(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        method = scope["method"].upper()
        path = scope["path"]
        segments = _request_segments(scope)
        matches = [
            (route, found)
            for route in self._routes
            if (found := route.match(segments)) is not None
        ]
        if not matches:
            return 404, _json_bytes({"detail": "Not Found"}), []
        chosen = next(
            ((route, found) for route, found in matches if route.method == method), None
        )
        if chosen is None:
            allow = ", ".join(sorted({route.method for route, _ in matches}))
            return (
                405,
                _json_bytes({"detail": "Method Not Allowed"}),
                [(b"allow", allow.encode("ascii"))],
            )
        route, found = chosen
        try:
            if method in BODY_METHODS:
                supplied = _body_object(
                    await _read_body(scope, receive, self.max_body_bytes)
                )
            else:
                supplied = _query_values(scope.get("query_string", b""))
            args, kwargs = route.bind(found, supplied)
        except _HTTPError as error:
            return error.status, _json_bytes({"detail": error.detail}), []
        try:
            return 200, _json_bytes(await route.call(args, kwargs)), []
        except Exception as error:  # noqa: BLE001 -- any failure of user code is a 500, never a crash
            self._log.error("%s %s %s failed", self.name, method, path, exc_info=error)
            failure = {"error": {"type": type(error).__name__, "message": str(error)}}
            return 500, _json_bytes(failure), []


class _HTTPError(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class _Parameter:
    name: str
    annotation: Any
    default: Any
    positional_only: bool


class _Route:
    """One route: its path pattern and how request values become the function's arguments."""

    def __init__(self, method: str, path: str, function: Callable[..., Any]) -> None:
        self.method = method.upper()
        self.path = _normalise(path)
        if not self.path.startswith("/"):
            raise ValueError(f"route path {path!r} must start with '/'")
        self.key = (self.method, self.path)
        self.segments = tuple(_compile(segment, path) for segment in _split(self.path))
        self.function = function
        self.is_async = inspect.iscoroutinefunction(function)
        hints = _type_hints(function)
        self.parameters: dict[str, _Parameter] = {}
        self.extra_keywords = False
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                self.extra_keywords = True
            elif parameter.kind is not inspect.Parameter.VAR_POSITIONAL:
                self.parameters[parameter.name] = _Parameter(
                    parameter.name,
                    hints.get(parameter.name, parameter.annotation),
                    parameter.default,
                    parameter.kind is inspect.Parameter.POSITIONAL_ONLY,
                )
        names = [name for segment in self.segments for name in segment.groupindex]
        if len(set(names)) != len(names):
            raise ValueError(f"route path {path!r} repeats a parameter")
        unbound = [
            name
            for segment in self.segments
            for name in segment.groupindex
            if name not in self.parameters
        ]
        if unbound and not self.extra_keywords:
            raise ValueError(
                f"route {self.method} {path}: {function.__name__}() has no parameter {unbound[0]!r}"
            )

    def match(self, segments: tuple[str, ...]) -> dict[str, str] | None:
        """The path parameters if the request's (decoded) segments fit this route."""
        if len(segments) != len(self.segments):
            return None
        values: dict[str, str] = {}
        for pattern, segment in zip(self.segments, segments):
            found = pattern.fullmatch(segment)
            if found is None:
                return None
            values.update(found.groupdict())
        return values

    def bind(
        self,
        path_values: dict[str, str],
        supplied: dict[str, Any] | dict[str, list[str]],
    ) -> tuple[list[Any], dict[str, Any]]:
        """The call's arguments, or a 422 listing every parameter that is missing, unknown or invalid."""
        errors: list[dict[str, Any]] = []
        values: dict[str, Any] = {}
        from_body = self.method in BODY_METHODS
        where = "body" if from_body else "query"

        for name, text in path_values.items():
            parameter = self.parameters.get(name)
            try:
                values[name] = _from_text(
                    text, parameter.annotation if parameter else _EMPTY
                )
            except ValueError as error:
                errors.append(_problem("path", name, str(error), "invalid"))
        for name, value in supplied.items():
            parameter = self.parameters.get(name)
            if name in path_values or (parameter is None and not self.extra_keywords):
                errors.append(
                    _problem(where, name, "unexpected parameter", "unexpected")
                )
                continue
            annotation = parameter.annotation if parameter else _EMPTY
            try:
                if from_body:
                    values[name] = _from_json(value, annotation)
                elif _list_item(annotation) is not None:
                    values[name] = [
                        _from_text(item, _list_item(annotation)) for item in value
                    ]
                else:
                    values[name] = _from_text(value[-1], annotation)
            except ValueError as error:
                errors.append(_problem(where, name, str(error), "invalid"))
        for name, parameter in self.parameters.items():
            if (
                name not in path_values
                and name not in supplied
                and parameter.default is _EMPTY
            ):
                errors.append(
                    _problem(where, name, "missing required parameter", "missing")
                )
        if errors:
            raise _HTTPError(422, errors)

        args = [
            values.pop(p.name, p.default)
            for p in self.parameters.values()
            if p.positional_only
        ]
        return args, values

    async def call(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Await async functions; run sync ones in a thread so the event loop keeps serving."""
        if self.is_async:
            return await self.function(*args, **kwargs)
        result = await asyncio.to_thread(self.function, *args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


async def _healthy() -> dict[str, str]:
    return {"status": "healthy"}


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to set up or tear down: user code was imported with the module."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit``."""
    too_large = _HTTPError(413, f"request body exceeds {limit} bytes")
    for name, value in scope.get("headers", ()):
        if (
            name.lower() == b"content-length"
            and value.strip().isdigit()
            and int(value) > limit
        ):
            raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _HTTPError(400, "client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _body_object(body: bytes) -> dict[str, Any]:
    """The flat JSON object of parameters; an empty body means no parameters."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as error:
        raise _HTTPError(
            422, [_problem("body", None, f"invalid JSON: {error}", "json_invalid")]
        ) from None
    if not isinstance(value, dict):
        message = f"expected a JSON object of the parameters, got {_json_kind(value)}"
        raise _HTTPError(422, [_problem("body", None, message, "object_expected")])
    return value


def _query_values(query_string: bytes) -> dict[str, list[str]]:
    """Query parameters, every value of a repeated key kept in order."""
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(
        query_string.decode("latin-1"), keep_blank_values=True
    ):
        values.setdefault(name, []).append(value)
    return values


def _problem(where: str, name: str | None, message: str, kind: str) -> dict[str, Any]:
    """One entry of a 422 ``detail`` list, shaped like FastAPI's so existing clients can read it."""
    return {
        "loc": [where] if name is None else [where, name],
        "msg": message,
        "type": kind,
    }


def _from_text(text: str, annotation: Any) -> Any:
    """Convert a path or query value by its annotation; unannotated and unknown types stay strings."""
    if annotation is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError(f"{text!r} is not a valid bool")
    if annotation in (int, float):
        try:
            return annotation(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid {annotation.__name__}") from None
    options = _union_options(annotation)
    if options:
        if text == "" and type(None) in typing.get_args(annotation):
            return None  # how query encoders (httpx, requests) send an explicit None
        for option in options:
            try:
                return _from_text(text, option)
            except ValueError:
                pass
        raise ValueError(f"{text!r} is not a valid {_describe(annotation)}")
    return text


def _from_json(value: Any, annotation: Any) -> Any:
    """Check a JSON body value against simple annotations (ints also pass as floats)."""
    if annotation in (_EMPTY, Any) or isinstance(annotation, str):
        return value
    if annotation is type(None):
        ok = value is None
    elif annotation is bool:
        ok = isinstance(value, bool)
    elif annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        ok = False
    elif annotation is str:
        ok = isinstance(value, str)
    elif _union_options(annotation, keep_none=True):
        for option in _union_options(annotation, keep_none=True):
            try:
                return _from_json(value, option)
            except ValueError:
                pass
        ok = False
    elif _list_item(annotation) is not None:
        if not isinstance(value, list):
            ok = False
        else:
            return [_from_json(item, _list_item(annotation)) for item in value]
    elif annotation is dict or typing.get_origin(annotation) is dict:
        ok = isinstance(value, dict)
    else:
        return value  # dataclasses, models and the like: passed through as JSON
    if not ok:
        raise ValueError(f"expected {_describe(annotation)}, got {_json_kind(value)}")
    return value


def _union_options(annotation: Any, *, keep_none: bool = False) -> tuple[Any, ...]:
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return ()
    return tuple(
        arg for arg in typing.get_args(annotation) if keep_none or arg is not type(None)
    )


def _list_item(annotation: Any) -> Any | None:
    """The item annotation of ``list[X]`` (``Optional`` unwrapped), ``_EMPTY`` for a bare ``list``."""
    options = _union_options(annotation)
    if len(options) == 1:
        annotation = options[0]
    if annotation is list:
        return _EMPTY
    if typing.get_origin(annotation) is list:
        args = typing.get_args(annotation)
        return args[0] if args else _EMPTY
    return None


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _json_kind(value: Any) -> str:
    names = {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _type_hints(function: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations (strings under ``from __future__ import annotations``), if resolvable."""
    try:
        return typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 -- an unresolvable forward reference: use the raw annotations
        return {}


def _compile(segment: str, path: str) -> re.Pattern[str]:
    """One path segment of a route; a ``{name}`` part matches any non-empty text."""
    parts = _PARAM.split(segment)
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
        for index, part in enumerate(parts)
    )
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ValueError(f"route path {path!r}: {error}") from None


def _split(path: str) -> tuple[str, ...]:
    stripped = path.strip("/")
    return tuple(stripped.split("/")) if stripped else ()


def _request_segments(scope: Scope) -> tuple[str, ...]:
    """The request path's segments, each percent-decoded on its own.

    Splitting the raw path before decoding keeps an encoded ``/`` (``%2F``) inside a
    path parameter instead of turning it into a separator.
    """
    raw = scope.get("raw_path")
    if not raw:
        return _split(scope["path"])
    path = raw.split(b"?", 1)[0].decode("latin-1")
    return tuple(unquote(segment) for segment in _split(path))


def _normalise(path: str) -> str:
    """A trailing slash does not make a different route."""
    return path.rstrip("/") or "/"


def _json_bytes(value: Any) -> bytes:
    return json.dumps(
        value,
        default=_json_default,
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    ).encode("utf-8")


def _json_default(value: Any) -> Any:
    """Dataclasses, pydantic-style models and sets, which FastAPI apps also returned as JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
