"""``@remote``: runpod-flash's original decorator, and the decorating step ``Endpoint`` shares.

Decorating records *what* runs *where* in a ``__remote_config__`` dict on the
returned object, keyed exactly as runpod-flash stamps it. Calling a decorated
queue-based function is the runtime's job and is not wired up yet: the
returned stand-in raises ``FlashRuntimeError`` saying so. Load-balancer route
handlers and ``local=True`` targets are returned unchanged, as in runpod-flash,
because their bodies run where they are called.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, TypeVar

from . import tables, validation
from ._settings import string_list
from .exceptions import FlashRuntimeError
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
    if resource_config.resource_class.load_balanced and method is not None and path is not None:
        config["is_lb_route_handler"] = True
        target.__remote_config__ = config  # type: ignore[attr-defined]
        target.__is_lb_route_handler__ = True  # type: ignore[attr-defined]
        return target
    if local:
        target.__remote_config__ = config  # type: ignore[attr-defined]
        target.__flash_local__ = True  # type: ignore[attr-defined]
        return target
    stand_in = _not_deployed(target, resource_config.name)
    stand_in.__remote_config__ = config  # type: ignore[attr-defined]
    return stand_in  # type: ignore[return-value]


def _not_deployed(target: Any, endpoint_name: str) -> Callable[..., Any]:
    """A stand-in that says calls need the runtime; ``__wrapped__`` keeps the original."""

    @functools.wraps(target, updated=())
    def stand_in(*args: Any, **kwargs: Any) -> Any:
        raise FlashRuntimeError(
            f"{target.__qualname__} is a remote endpoint ('{endpoint_name}'); deploy it with "
            "`flashc deploy` (runtime calls arrive with the runtime issue)"
        )

    return stand_in
