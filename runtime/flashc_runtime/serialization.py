"""How call arguments travel: JSON, or cloudpickle where JSON cannot carry a value.

Both sides of a queue call use this module. The client encodes each argument on
its own (a keyword argument, or one element of ``__args``):

- a value ``json.dumps`` accepts (``NaN`` and infinities excluded, which are not
  JSON) goes as JSON;
- any other value goes as ``{"__cloudpickle__": "<base64 of cloudpickle.dumps>"}``,
  but only when the endpoint allows it; otherwise the call fails with
  :class:`SerializationError` naming the argument and its type;
- an argument whose encoded form exceeds :data:`MAX_ARGUMENT_BYTES` (10 MiB)
  fails with :class:`PayloadTooLargeError` naming it and its size.

All of this happens before anything is sent. The worker undoes it with
:func:`decode_arguments`, which checks the same limit before decoding and stops
waiting for ``cloudpickle.loads`` after :data:`DESERIALIZE_TIMEOUT_SECONDS`.

Only the standard library is imported at module level; ``cloudpickle`` is
imported when a value is pickled or unpickled.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Mapping
from typing import Any

from .sdk.exceptions import (
    DeserializeTimeoutError,
    PayloadTooLargeError,
    SerializationError,
)

__all__ = [
    "ARGS_KEY",
    "DESERIALIZE_TIMEOUT_SECONDS",
    "MAX_ARGUMENT_BYTES",
    "PICKLE_KEY",
    "decode_arguments",
    "decode_value",
    "encode_input",
    "encode_value",
    "is_pickled",
    "pickled",
]

MAX_ARGUMENT_BYTES = 10 * 1024 * 1024
"""The largest one argument may be, encoded (JSON text, or the base64 text of a pickle)."""

DESERIALIZE_TIMEOUT_SECONDS = 30.0
"""How long the worker waits for one argument to unpickle."""

PICKLE_KEY = "__cloudpickle__"
"""The key of the one-key object that carries a pickled value."""

ARGS_KEY = "__args"
"""The input key holding positional arguments (a list), as the worker reads it."""


def _size(count: int) -> str:
    mib = count / (1024 * 1024)
    return f"{count} bytes ({mib:.1f} MiB)"


def is_pickled(value: object) -> bool:
    """Whether ``value`` is the wire form of a pickled value."""
    return type(value) is dict and len(value) == 1 and isinstance(value.get(PICKLE_KEY), str)


PICKLE_HINT = "allow cloudpickle for this endpoint (FLASHC_PICKLE_<NAME>=1, or pickle=True)"


def encode_value(
    value: Any,
    name: str,
    *,
    allow_pickle: bool,
    limit: int = MAX_ARGUMENT_BYTES,
    hint: str = PICKLE_HINT,
) -> str:
    """The JSON text carrying ``value`` (the argument ``name``), checked against ``limit``.

    Raises :class:`SerializationError` when JSON cannot carry the value and
    pickling is not allowed (or fails), :class:`PayloadTooLargeError` when the
    encoded form is larger than ``limit`` bytes.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        if not allow_pickle:
            raise SerializationError(
                f"argument '{name}' of type {_type_name(value)} cannot be sent as JSON ({error}); "
                f"pass JSON values (dicts, lists, strings, numbers, booleans, None), or {hint}"
            ) from None
        text = json.dumps({PICKLE_KEY: _pickle(value, name)})
    size = len(text.encode("utf-8")) if not text.isascii() else len(text)
    if size > limit:
        raise PayloadTooLargeError(
            f"argument '{name}' is {_size(size)} encoded, more than the {_size(limit)} one "
            "argument may carry; pass a reference (a URL, a path on a network volume) instead"
        )
    return text


def _type_name(value: object) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _pickle(value: Any, name: str) -> str:
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - cloudpickle ships with flashc
        raise SerializationError(
            f"argument '{name}' of type {_type_name(value)} needs cloudpickle, which is not installed"
        ) from None
    try:
        data = cloudpickle.dumps(value)
    except Exception as error:  # anything unpicklable: locks, sockets, generators ...
        raise SerializationError(
            f"argument '{name}' of type {_type_name(value)} cannot be pickled: {error}"
        ) from None
    return base64.b64encode(data).decode("ascii")


def pickled(value: Any, name: str = "output") -> dict[str, str]:
    """``value`` in its pickled wire form (for a worker returning what JSON cannot carry)."""
    return {PICKLE_KEY: _pickle(value, name)}


def encode_input(
    payload: Mapping[str, Any],
    *,
    allow_pickle: bool,
    limit: int = MAX_ARGUMENT_BYTES,
    hint: str = PICKLE_HINT,
) -> str:
    """The JSON text of a job's ``input`` object, each argument encoded by :func:`encode_value`.

    ``__args`` (a list) is encoded element by element, named ``__args[i]``.
    Reserved keys holding plain strings and booleans (``__function``,
    ``method``, ``__empty``) go as they are.
    """
    parts = []
    for key, value in payload.items():
        if key == ARGS_KEY and isinstance(value, (list, tuple)):
            items = ",".join(
                encode_value(item, f"{ARGS_KEY}[{index}]", allow_pickle=allow_pickle, limit=limit, hint=hint)
                for index, item in enumerate(value)
            )
            text = f"[{items}]"
        else:
            text = encode_value(value, key, allow_pickle=allow_pickle, limit=limit, hint=hint)
        parts.append(f"{json.dumps(key)}:{text}")
    return "{" + ",".join(parts) + "}"


def decode_value(
    value: Any,
    name: str = "value",
    *,
    allow_pickle: bool,
    limit: int = MAX_ARGUMENT_BYTES,
    timeout: float = DESERIALIZE_TIMEOUT_SECONDS,
) -> Any:
    """``value`` as sent: unpickled when it is the pickled form, else unchanged."""
    if not is_pickled(value):
        return value
    if not allow_pickle:
        raise SerializationError(
            f"argument '{name}' was sent pickled, but this endpoint does not accept cloudpickle "
            "(set FLASHC_PICKLE_<NAME>=1 where it is deployed to allow it)"
        )
    text = value[PICKLE_KEY]
    if len(text) > limit:
        raise PayloadTooLargeError(
            f"argument '{name}' is {_size(len(text))} encoded, more than the {_size(limit)} one "
            "argument may carry"
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise SerializationError(f"argument '{name}' is not valid base64: {error}") from None
    return _unpickle(data, name, timeout)


def _unpickle(data: bytes, name: str, timeout: float) -> Any:
    """``cloudpickle.loads(data)`` in a daemon thread, given up on after ``timeout`` seconds.

    A thread cannot be stopped: one that never finishes is left behind (it does
    not keep the process alive), but the caller gets its error on time.
    """
    import cloudpickle

    outcome: dict[str, Any] = {}

    def load() -> None:
        try:
            outcome["value"] = cloudpickle.loads(data)
        except BaseException as error:  # reported to the caller below
            outcome["error"] = error

    thread = threading.Thread(target=load, name=f"flashc-unpickle-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise DeserializeTimeoutError(
            f"argument '{name}' did not unpickle within {timeout:g} s"
        )
    if "error" in outcome:
        error = outcome["error"]
        raise SerializationError(
            f"argument '{name}' cannot be unpickled: {type(error).__name__}: {error}"
        ) from error
    return outcome["value"]


def decode_arguments(
    input: Mapping[str, Any],
    *,
    allow_pickle: bool,
    limit: int = MAX_ARGUMENT_BYTES,
    timeout: float = DESERIALIZE_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """A job's ``input`` with every pickled argument (a keyword's value, or an element
    of ``__args``) replaced by the value it carries; other keys are copied unchanged.

    Raises :class:`SerializationError` for a pickled argument the endpoint does not
    accept (``allow_pickle=False``) or that does not decode,
    :class:`PayloadTooLargeError` for one over ``limit`` bytes (checked before
    decoding), :class:`DeserializeTimeoutError` when unpickling one takes longer
    than ``timeout`` seconds. Blocking: call it in a thread from async code.
    """
    if not isinstance(input, Mapping):
        return input  # not an input object: the caller reports that
    decoded: dict[str, Any] = {}
    for key, value in input.items():
        if key == ARGS_KEY and isinstance(value, list):
            decoded[key] = [
                decode_value(item, f"{ARGS_KEY}[{index}]", allow_pickle=allow_pickle, limit=limit, timeout=timeout)
                for index, item in enumerate(value)
            ]
        else:
            decoded[key] = decode_value(value, key, allow_pickle=allow_pickle, limit=limit, timeout=timeout)
    return decoded
