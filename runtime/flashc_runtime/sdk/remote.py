"""``@remote``: runpod-flash's original decorator, and the decorating step ``Endpoint`` shares.

Decorating records *what* runs *where* in a ``__remote_config__`` dict on the
returned object, keyed exactly as runpod-flash stamps it, and returns what
callers should use: the same calls a compiled client stub makes.

- A function becomes a coroutine function (whether it was ``def`` or ``async
  def``: every endpoint call is awaited) that binds its arguments to the
  original signature and runs the function on its deployed queue-based endpoint
  through ``flashc_runtime.client.call``.
- A class becomes a proxy class of the same name whose public methods do the
  same with ``method=``; the deployed class is instantiated once per worker,
  without arguments, so the proxy takes none either.
- A load-balanced route becomes a coroutine function calling the route
  (``client.request``) on the deployed endpoint.
- ``local=True`` targets are returned unchanged and run in process.

Wrappers keep the original's ``__name__``, ``__qualname__``, ``__doc__`` and
``__module__``, and its signature (``inspect.signature`` follows ``__wrapped__``,
the original). Handler packages built by ``flashc build`` have these decorators
removed, so the code runs in place on the workers.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Mapping
from typing import Any, Callable, TypeVar

from . import tables, validation
from ._settings import string_list
from .resources import ServerlessResource

T = TypeVar("T")


def remote(
    resource_config: ServerlessResource,
    dependencies: list[str] | None = None,
    system_dependencies: list[str] | None = None,
    accelerate_downloads: bool = True,
    local: bool = False,
    method: str | None = None,
    path: str | None = None,
    **extra: Any,
) -> Callable[[T], T]:
    """Run the decorated function or class on the endpoint ``resource_config`` describes.

    For a load-balanced resource, ``method`` and ``path`` are required and make
    the function an HTTP route; for a queue-based one they are meaningless and
    ignored with a warning. ``**extra`` exists only to reject typos with a
    did-you-mean hint.
    """
    if extra:
        raise TypeError(_unknown_keywords_message(extra))
    if not isinstance(resource_config, ServerlessResource):
        raise TypeError(
            "remote() needs a resource configuration such as LiveServerless(name=...), "
            f"got {resource_config!r}"
        )
    validation.check_bool("accelerate_downloads", accelerate_downloads)
    validation.check_bool("local", local)
    if resource_config.resource_class.load_balanced:
        method, path = _check_lb_route(method, path)
    elif method is not None or path is not None:
        warnings.warn(
            f"remote(): method={method!r} and path={path!r} only apply to load-balanced "
            f"resources; {type(resource_config).__name__} is queue-based, so they are ignored",
            UserWarning,
            stacklevel=2,
        )
        method = path = None

    def decorator(target: T) -> T:
        return decorate(
            target,
            resource_config,
            dependencies=dependencies,
            system_dependencies=system_dependencies,
            local=local,
            method=method,
            path=path,
        )

    return decorator


def _unknown_keywords_message(extra: dict[str, Any]) -> str:
    parts = [f"'{name}'{tables.suggest(name, tables.REMOTE.names)}" for name in sorted(extra)]
    noun = "argument" if len(parts) == 1 else "arguments"
    return f"remote() got unknown keyword {noun} {', '.join(parts)}"


def _check_lb_route(method: object, path: object) -> tuple[str, str]:
    """Both required; the method is matched case-sensitively, as runpod-flash's ``remote`` does."""
    if method is None or path is None:
        raise validation.SettingError(
            "method" if method is None else "path",
            f"load-balanced resources need both method and path, got method={method!r}, "
            f"path={path!r}; e.g. @remote(config, method='POST', path='/api/process')",
        )
    return validation.check_route(method, path, case_sensitive=True)


def decorate(
    target: T,
    resource_config: ServerlessResource,
    dependencies: list[str] | None,
    system_dependencies: list[str] | None,
    local: bool = False,
    method: str | None = None,
    path: str | None = None,
    max_concurrency: int = 1,
) -> T:
    """Stamp ``target`` with its ``__remote_config__`` and return what callers should see."""
    config: dict[str, Any] = {
        "resource_config": resource_config,
        "method": method,
        "path": path,
        "dependencies": string_list("dependencies", dependencies),
        "system_dependencies": string_list("system_dependencies", system_dependencies),
    }
    if max_concurrency > 1:
        config["max_concurrency"] = max_concurrency
    timeout_ms = resource_config.executionTimeoutMs or None
    is_route = resource_config.resource_class.load_balanced and method is not None and path is not None
    if is_route:
        config["is_lb_route_handler"] = True
    if local:
        target.__remote_config__ = config  # type: ignore[attr-defined]
        target.__flash_local__ = True  # type: ignore[attr-defined]
        if is_route:
            target.__is_lb_route_handler__ = True  # type: ignore[attr-defined]
        return target
    if is_route:
        route = _remote_route(target, resource_config.name, str(method), str(path), timeout_ms)
        route.__remote_config__ = config  # type: ignore[attr-defined]
        route.__is_lb_route_handler__ = True  # type: ignore[attr-defined]
        return route  # type: ignore[return-value]
    if isinstance(target, type):
        remote_target: Any = _remote_class(target, resource_config.name, timeout_ms)
    else:
        remote_target = _remote_function(target, resource_config.name, timeout_ms)
    remote_target.__remote_config__ = config
    return remote_target  # type: ignore[no-any-return]


# --- what callers get --------------------------------------------------------------------------


def _signature(target: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):  # some callables have none: their keywords go as given
        return None


def bind_arguments(
    signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """A call's arguments as the wire carries them (and as compiled stubs build them).

    Checked against ``signature`` first (a ``TypeError`` as the function itself
    would raise). Parameters go by name, ``**kwargs`` merged in; positional-only
    ones cannot, so they go in order under ``"__args"``; with ``*args``, every
    positional parameter goes there, followed by the ``*args`` values. Defaults
    the caller left out are not sent (the remote side applies its own), except
    where a later positional value needs its place held.
    """
    if signature is None:
        if args:
            return {"__args": list(args), **kwargs}
        return dict(kwargs)
    given = signature.bind(*args, **kwargs).arguments
    parameters = list(signature.parameters.values())
    star = next((p for p in parameters if p.kind is p.VAR_POSITIONAL), None)
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    listed = positional if star is not None else [p for p in positional if p.kind is p.POSITIONAL_ONLY]
    last = max((index for index, p in enumerate(listed) if p.name in given), default=-1)
    values = [given.get(p.name, p.default) for p in listed[: last + 1]]
    if star is not None:
        values.extend(given.get(star.name, ()))
    arguments: dict[str, Any] = {}
    if values:
        arguments["__args"] = values
    for parameter in parameters:
        if parameter.name not in given:
            continue
        if parameter.kind is parameter.KEYWORD_ONLY or (
            parameter.kind is parameter.POSITIONAL_OR_KEYWORD and star is None
        ):
            arguments[parameter.name] = given[parameter.name]
        elif parameter.kind is parameter.VAR_KEYWORD:
            arguments.update(given[parameter.name])
    return arguments


def _remote_function(target: Callable[..., Any], endpoint: str, timeout_ms: int | None) -> Callable[..., Any]:
    """An async function that runs ``target`` on the queue-based ``endpoint``."""
    signature = _signature(target)
    name = target.__name__

    @functools.wraps(target)
    async def remote_call(*args: Any, **kwargs: Any) -> Any:
        from .. import client

        arguments = bind_arguments(signature, args, kwargs)
        return await client.call(endpoint, name, arguments, execution_timeout_ms=timeout_ms)

    return remote_call


def _remote_route(
    target: Callable[..., Any], endpoint: str, method: str, path: str, timeout_ms: int | None
) -> Callable[..., Any]:
    """An async function that calls the route ``method path`` of the load-balanced ``endpoint``."""
    signature = _signature(target)

    @functools.wraps(target)
    async def remote_request(*args: Any, **kwargs: Any) -> Any:
        from .. import client

        arguments = bind_arguments(signature, args, kwargs)
        return await client.request(endpoint, method, path, arguments, execution_timeout_ms=timeout_ms)

    return remote_request


def public_methods(cls: type) -> list[str]:
    """The methods a class endpoint serves: its public callables, inherited ones included."""
    return [name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name, None))]


def _remote_class(cls: type, endpoint: str, timeout_ms: int | None) -> type:
    """A class of the same name whose public methods run on the class endpoint ``endpoint``."""
    namespace: dict[str, Any] = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "__wrapped__": cls,
    }
    for name in public_methods(cls):
        namespace[name] = _remote_method(cls, name, endpoint, timeout_ms)
    return type(cls.__name__, (), namespace)


def _remote_method(cls: type, name: str, endpoint: str, timeout_ms: int | None) -> Any:
    raw = inspect.getattr_static(cls, name)
    function = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else getattr(cls, name)
    signature = _signature(function)
    if signature is not None and not isinstance(raw, staticmethod) and signature.parameters:
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    owner = cls.__name__

    async def send(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from .. import client

        arguments = bind_arguments(signature, args, kwargs)
        return await client.call(endpoint, owner, arguments, method=name, execution_timeout_ms=timeout_ms)

    # Plain functions lend their name, doc and signature; other callables only their name.
    wraps = functools.wraps(function) if inspect.isfunction(function) else _named(name)

    if isinstance(raw, staticmethod):

        @wraps
        async def remote_static(*args: Any, **kwargs: Any) -> Any:
            return await send(args, kwargs)

        return staticmethod(remote_static)

    @wraps
    async def remote_method(self_or_cls: Any, *args: Any, **kwargs: Any) -> Any:
        return await send(args, kwargs)

    return classmethod(remote_method) if isinstance(raw, classmethod) else remote_method


def _named(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def rename(function: Callable[..., Any]) -> Callable[..., Any]:
        function.__name__ = function.__qualname__ = name
        return function

    return rename
