"""The base of the SDK's keyword-only configuration classes.

A subclass names a ``tables.Signature``; its constructor then accepts exactly
those keywords with exactly those defaults, and ``inspect.signature`` shows
them. Binding goes through ``tables.bind_arguments``, the function the static
analysis binds call sites with, so both report the same unknown and missing
arguments.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, ClassVar, TypeVar

from . import tables, validation
from .validation import SettingError

S = TypeVar("S", bound="SettingsObject")


def python_signature(signature: tables.Signature) -> inspect.Signature:
    """``signature`` as an ``inspect.Signature`` (what IDEs and ``help()`` show)."""
    return inspect.Signature(
        [
            inspect.Parameter(
                param.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD
                if param.positional
                else inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if param.default is tables.REQUIRED else param.default,
            )
            for param in signature.params
        ]
    )


class SettingsObject:
    """Keyword-only settings validated once, in ``_configure``, at construction."""

    signature: ClassVar[tables.Signature]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "signature" in vars(cls):
            cls.__signature__ = python_signature(cls.signature)

    def __init__(self, **kwargs: Any) -> None:
        bound = tables.bind_arguments(self.signature, (), list(kwargs.items()))
        if bound.errors:
            raise TypeError("; ".join(error.message for error in bound.errors))
        # Defaults such as ``gpus=[GpuGroup.ANY]`` are lists: never share them.
        values = copy.deepcopy(self.signature.defaults())
        values.update(bound.arguments)
        self._given = tuple(name for name in self.signature.names if name in bound.arguments)
        self._configure(values)

    def _configure(self, values: dict[str, Any]) -> None:
        raise NotImplementedError

    def _settings(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.signature.names}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._settings() == other._settings()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the pydantic models it mirrors

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._given)
        return f"{type(self).__name__}({shown})"


def optional_str(setting: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise SettingError(setting, f"{setting} must be a string, got {value!r}")
    return value


def string_list(setting: str, value: object) -> list[str] | None:
    return None if value is None else list(validation.check_string_list(setting, value))


def coerce(setting: str, cls: type[S], value: object) -> S:
    """An instance of ``cls``, or a dict of its keywords (as runpod-flash's models accept)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        return cls(**value)
    raise SettingError(setting, f"{setting} must be a {cls.__name__}, got {value!r}")
