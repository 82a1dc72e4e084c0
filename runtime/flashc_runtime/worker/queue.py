"""Queue-based endpoints: one runpod job in, one call of a user function out.

The runpod worker SDK calls :attr:`QueueEndpoint.handler` with a job
``{"id": ..., "input": {...}}`` and awaits it. The input is the call's keyword
arguments, plus a few reserved keys that pick the target and carry what JSON keywords
cannot: ``__function`` (which function of a multi-function endpoint, or the class of a
class endpoint), ``method`` (which method of a class endpoint), ``__args`` (positional arguments) and ``__empty`` (the
placeholder clients send for a call without arguments, because the platform rejects an
empty input).

Failures are raised, never returned as ``{"error": ...}`` dicts: the SDK then marks the
job FAILED and reports the exception's type, message and traceback, so a client can tell
a failure from a function that returns a dict.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import InvalidInputError
from ._logging import get_logger

__all__ = ["InvalidInputError", "QueueEndpoint"]

_FUNCTION_KEY = "__function"
_METHOD_KEY = "method"
_ARGS_KEY = "__args"
_EMPTY_KEY = "__empty"


class QueueEndpoint:
    """Dispatches runpod jobs to the functions, or the methods of one class, of an endpoint.

    A class endpoint's instance is created here, once per worker, so what its
    constructor loads (a model, a client) is shared by every job.
    """

    def __init__(
        self,
        name: str,
        *,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        cls: type | None = None,
        methods: Iterable[str] = (),
        max_concurrency: int = 1,
    ) -> None:
        if bool(functions) == (cls is not None):
            raise ValueError(
                f"endpoint {name!r} needs either functions or a class, not both or neither"
            )
        if max_concurrency < 1:
            raise ValueError(
                f"endpoint {name!r}: max_concurrency must be at least 1, got {max_concurrency}"
            )
        self.name = name
        self.max_concurrency = max_concurrency
        self._log = get_logger()
        self._class_name: str | None = None
        if cls is not None:
            self._class_name = cls.__name__
            self.instance = cls()
            names = tuple(methods) or _public_methods(cls)
            self._targets = {method: getattr(self.instance, method) for method in names}
            self._selector = _METHOD_KEY
        else:
            self.instance = None
            self._targets = dict(functions or {})
            self._selector = _FUNCTION_KEY
        self._signatures = {
            key: _signature(target) for key, target in self._targets.items()
        }
        self._keywords = {
            key: _keyword_names(signature)
            for key, signature in self._signatures.items()
        }

    async def handler(self, job: Mapping[str, Any]) -> Any:
        """The runpod handler: run the job's target with its input and return the result."""
        started = time.perf_counter()
        job_id = job.get("id", "?")
        key = "?"
        try:
            raw = job.get("input")
            if isinstance(raw, dict) and _may_hold_pickles(raw):
                # Pickled arguments only where the endpoint allows them: unpickling runs code.
                # (Imported here: the client side loads the SDK, which plain jobs never need.)
                from ..client import pickle_allowed
                from ..serialization import decode_arguments

                raw = await asyncio.to_thread(decode_arguments, raw, allow_pickle=pickle_allowed(self.name))
            key, args, kwargs = self._parse(raw)
            result = await self._call(key, args, kwargs)
        except BaseException as error:
            self._log_after_answer(
                "%s job %s %s failed after %.1f ms: %s",
                self.name,
                job_id,
                key,
                _elapsed_ms(started),
                type(error).__name__,
            )
            raise
        self._log_after_answer(
            "%s job %s %s done in %.1f ms", self.name, job_id, key, _elapsed_ms(started)
        )
        return _protect_output(result)

    def _log_after_answer(self, message: str, *args: Any) -> None:
        """Log ``message`` (INFO) once the event loop's current pass is over.

        The job's answer is sent in this pass (by the stdio worker, or by the SDK), so the
        log line, whose record and formatting cost about as much as a small job, follows it
        instead of delaying it.
        """
        try:
            asyncio.get_running_loop().call_soon(self._log.info, message, *args)
        except RuntimeError:  # no running loop: log now
            self._log.info(message, *args)

    def start_config(self) -> dict[str, Any]:
        """The argument of ``runpod.serverless.start``."""
        config: dict[str, Any] = {"handler": self.handler}
        if self.max_concurrency > 1:
            limit = self.max_concurrency
            config["concurrency_modifier"] = lambda current: limit
        return config

    def _parse(self, raw: object) -> tuple[str, list[Any], dict[str, Any]]:
        """Split a job input into the target's key, positional and keyword arguments."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise InvalidInputError(
                f"job input must be a JSON object, got {type(raw).__name__}"
            )
        kwargs = dict(raw)
        kwargs.pop(_EMPTY_KEY, None)
        if self._class_name is not None:
            self._check_class(kwargs.pop(_FUNCTION_KEY, None))
        key = self._select(kwargs.pop(self._selector, None))
        args = kwargs.pop(_ARGS_KEY, [])
        if not isinstance(args, list):
            raise InvalidInputError(
                f"{_ARGS_KEY} must be a list of positional arguments, got {type(args).__name__}"
            )
        signature = self._signatures[key]
        keywords = self._keywords[key]  # plain keyword calls are judged without bind(), which costs more than a small job
        if signature is not None and (args or keywords is None or not _fits(keywords, kwargs)):
            try:
                signature.bind(*args, **kwargs)
            except TypeError as error:
                raise InvalidInputError(f"{key}(): {error}") from None
        return key, args, kwargs

    def _check_class(self, requested: object) -> None:
        """Clients name the class in ``__function`` (and the method in ``method``); it must be ours."""
        if requested is not None and requested != self._class_name:
            raise InvalidInputError(
                f"unknown class {requested!r} on endpoint {self.name!r} "
                f"(it serves {self._class_name})"
            )

    def _select(self, requested: object) -> str:
        """The target a job names, or the only one; anything else lists the choices."""
        if requested is None and len(self._targets) == 1:
            return next(iter(self._targets))
        if isinstance(requested, str) and requested in self._targets:
            return requested
        available = ", ".join(sorted(self._targets))
        what = "method" if self._selector == _METHOD_KEY else "function"
        if requested is None:
            raise InvalidInputError(
                f"endpoint {self.name!r} has several {what}s; name one with "
                f"{self._selector!r} in the input (available: {available})"
            )
        raise InvalidInputError(
            f"unknown {what} {requested!r} on endpoint {self.name!r} (available: {available})"
        )

    async def _call(self, key: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Await async targets; run sync ones in a thread so that concurrent jobs overlap."""
        target = self._targets[key]
        if inspect.iscoroutinefunction(target):
            return await target(*args, **kwargs)
        result = await asyncio.to_thread(target, *args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


def _public_methods(cls: type) -> tuple[str, ...]:
    return tuple(
        name
        for name in dir(cls)
        if not name.startswith("_") and callable(getattr(cls, name, None))
    )


def _signature(target: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(target)
    except (
        TypeError,
        ValueError,
    ):  # some builtins have none; the call itself will check
        return None


def _keyword_names(
    signature: inspect.Signature | None,
) -> tuple[frozenset[str], frozenset[str]] | None:
    """(every parameter, the required ones) of a signature of plain named parameters only.

    None when a call needs ``bind`` to be judged: no signature, ``*args``/``**kwargs``, or
    positional-only parameters.
    """
    if signature is None:
        return None
    plain = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = signature.parameters.values()
    if any(p.kind not in plain for p in parameters):
        return None
    names = frozenset(p.name for p in parameters)
    required = frozenset(p.name for p in parameters if p.default is inspect.Parameter.empty)
    return names, required


def _fits(keywords: tuple[frozenset[str], frozenset[str]], kwargs: dict[str, Any]) -> bool:
    names, required = keywords
    given = kwargs.keys()
    return given <= names and required <= given


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class _VerbatimOutput(dict):  # type: ignore[type-arg]
    """A dict result that reaches the client as returned, through two quirks of the runpod SDK.

    The SDK pops ``"error"`` from a dict output and fails the job when it is set, and it
    drops an output equal to ``{}``, so a function returning ``{"error": ...}`` as data
    would be reported as failed and one returning ``{}`` would seem to return nothing.
    Here ``pop("error")`` leaves the key in place and an empty result never equals a
    plain ``{}``; it still serialises as an ordinary JSON object. Real failures are
    raised, so no error is hidden by this.
    """

    __hash__ = None  # type: ignore[assignment]

    def pop(self, key: Any, *default: Any) -> Any:
        if key == "error":
            return default[0] if default else None
        return super().pop(key, *default)

    def __eq__(self, other: object) -> bool:
        if not self and type(other) is dict:
            return False
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)


def _protect_output(result: Any) -> Any:
    if type(result) is dict and (not result or "error" in result):
        return _VerbatimOutput(result)
    return result


def _may_hold_pickles(raw: Mapping[str, Any]) -> bool:
    """Only inputs with a pickled argument (at the top level or in ``__args``) need the decoder."""
    values = list(raw.values())
    values.extend(raw.get("__args") or () if isinstance(raw.get("__args"), list) else ())
    return any(type(v) is dict and len(v) == 1 and "__cloudpickle__" in v for v in values)
