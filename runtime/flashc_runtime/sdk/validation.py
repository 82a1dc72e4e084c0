"""Validation rules of the SDK settings, shared by the runtime and the static check.

Each function takes one user value (real enum members or the strings the SDK
coerces), returns it normalised, and raises :class:`SettingError` naming the
setting, the value and what is allowed. The runtime classes raise the first
error; ``flashc``'s analysis calls the same functions on statically evaluated
values and reports every error as a diagnostic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import TypeVar

from . import tables
from .enums import (
    CPU_DATACENTERS,
    CpuInstanceType,
    CudaVersion,
    DataCenter,
    GpuGroup,
    GpuType,
    ServerlessScalerType,
    cpu_disk_limit_gb,
)

E = TypeVar("E", bound=Enum)


class SettingError(ValueError):
    """An invalid setting: ``setting`` is the parameter it came from."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting
        self.message = message


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _allowed(enum: type[Enum]) -> str:
    return ", ".join(str(m.value) for m in enum)


def _enum_member(setting: str, enum: type[E], value: object) -> E:
    """``value`` as a member of ``enum``: a member already, or a member's value."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except (ValueError, TypeError):
        raise SettingError(
            setting,
            f"{setting}: {value!r} is not a valid {enum.__name__}; allowed: {_allowed(enum)}",
        ) from None


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def normalize_gpu(value: object, setting: str = "gpu") -> tuple[GpuGroup | GpuType, ...]:
    """A ``GpuGroup``/``GpuType`` or a list of them (pool ids and model names as strings too)."""
    items = _as_list(value)
    if not items:
        raise SettingError(setting, f"{setting}: the list of GPUs must not be empty")
    result: list[GpuGroup | GpuType] = []
    for item in items:
        if isinstance(item, (GpuGroup, GpuType)):
            result.append(item)
            continue
        for enum in (GpuGroup, GpuType):
            try:
                result.append(enum(item))
                break
            except (ValueError, TypeError):
                continue
        else:
            raise SettingError(
                setting,
                f"{setting}: {item!r} is not a GpuGroup or GpuType; "
                f"allowed groups: {_allowed(GpuGroup)}",
            )
    return tuple(result)


def normalize_cpu(value: object, setting: str = "cpu") -> tuple[CpuInstanceType, ...]:
    items = _as_list(value)
    if not items:
        raise SettingError(setting, f"{setting}: the list of CPU instance types must not be empty")
    return tuple(_enum_member(setting, CpuInstanceType, item) for item in items)


def normalize_workers(value: object, setting: str = "workers") -> tuple[int, int]:
    """``n`` means ``(0, n)``; ``(min, max)`` must be non-negative with min <= max."""
    if value is None:
        return (tables.DEFAULT_WORKERS_MIN, tables.DEFAULT_WORKERS_MAX)
    if _is_int(value):
        low, high = tables.DEFAULT_WORKERS_MIN, value
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        low, high = value
    else:
        raise SettingError(
            setting, f"{setting} must be an int or a (min, max) tuple of ints, got {value!r}"
        )
    return check_worker_range(low, high, setting)


def check_worker_range(low: object, high: object, setting: str = "workers") -> tuple[int, int]:
    if not (_is_int(low) and _is_int(high)):
        raise SettingError(setting, f"{setting}: worker counts must be ints, got ({low!r}, {high!r})")
    if low < 0 or high < 0:
        raise SettingError(setting, f"{setting} cannot be negative: ({low}, {high})")
    if low > high:
        raise SettingError(setting, f"{setting}: min ({low}) cannot exceed max ({high})")
    return (low, high)


def check_int_range(setting: str, value: object, low: int, high: int | None = None) -> int:
    if not _is_int(value):
        raise SettingError(setting, f"{setting} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise SettingError(setting, f"{setting} must be {bounds}, got {value}")
    return value


def check_idle_timeout(value: object, setting: str = "idle_timeout") -> int:
    low, high = tables.IDLE_TIMEOUT_RANGE
    return check_int_range(setting, value, low, high)


def check_max_concurrency(value: object, setting: str = "max_concurrency") -> int:
    return check_int_range(setting, value, 1)


def check_count(value: object, setting: str) -> int:
    """Counts and durations that may be zero but not negative (gpu_count, timeouts, scaler_value)."""
    return check_int_range(setting, value, 0)


def check_bool(setting: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SettingError(setting, f"{setting} must be True or False, got {value!r}")
    return value


def normalize_datacenters(value: object, setting: str = "datacenter") -> tuple[DataCenter, ...]:
    result: list[DataCenter] = []
    for item in _as_list(value):
        if isinstance(item, DataCenter):
            result.append(item)
        elif isinstance(item, str):
            try:
                result.append(DataCenter.from_string(item))
            except ValueError as error:
                raise SettingError(setting, f"{setting}: {error}") from None
        else:
            raise SettingError(
                setting, f"{setting}: {item!r} is not a DataCenter; allowed: {_allowed(DataCenter)}"
            )
    return tuple(result)


def normalize_cuda_version(value: object, setting: str = "min_cuda_version") -> CudaVersion:
    return _enum_member(setting, CudaVersion, value)


def normalize_scaler_type(value: object, setting: str = "scaler_type") -> ServerlessScalerType:
    return _enum_member(setting, ServerlessScalerType, value)


def check_python_version(value: object, setting: str = "python_version") -> str:
    if value not in tables.SUPPORTED_PYTHON_VERSIONS:
        raise SettingError(
            setting,
            f"{setting}: Python {value} is not supported; "
            f"allowed: {', '.join(tables.SUPPORTED_PYTHON_VERSIONS)}",
        )
    return str(value)


def check_string_list(setting: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SettingError(setting, f"{setting} must be a list of strings, got {value!r}")
    return tuple(value)


def check_env(value: object, setting: str = "env") -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise SettingError(setting, f"{setting} must be a dict of str to str, got {value!r}")
    return dict(value)


_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_endpoint_name(value: object, setting: str = "name") -> str:
    """Names become template names and URL labels: letters, digits, ``-``, ``_``, ``.``."""
    if not isinstance(value, str):
        raise SettingError(setting, f"{setting} must be a string, got {value!r}")
    if not value:
        raise SettingError(setting, f"{setting} must not be empty")
    if len(value) > tables.ENDPOINT_NAME_MAX_LENGTH:
        raise SettingError(
            setting,
            f"{setting} {value!r} is {len(value)} characters long; "
            f"the limit is {tables.ENDPOINT_NAME_MAX_LENGTH}",
        )
    if not _NAME_PATTERN.match(value):
        raise SettingError(
            setting,
            f"{setting} {value!r} may only contain letters, digits, '-', '_' and '.', "
            "and must start with a letter or digit",
        )
    return value


def check_volume(
    *, name: object, volume_id: object, size: object, datacenter: object
) -> tuple[str | None, str | None, int, DataCenter]:
    """A network volume needs a name or an id, a size in 10..4096 GB and one data centre."""
    if name is None and volume_id is None:
        raise SettingError("volume", "NetworkVolume needs a name or an id")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise SettingError("volume", f"NetworkVolume name must be a non-empty string, got {name!r}")
    low, high = tables.VOLUME_SIZE_RANGE_GB
    checked_size = check_int_range("size", size, low, high)
    centres = normalize_datacenters(DataCenter.EU_RO_1 if datacenter is None else datacenter, "dataCenterId")
    if len(centres) != 1:
        raise SettingError("dataCenterId", "a NetworkVolume lives in exactly one data centre")
    return name, volume_id, checked_size, centres[0]  # type: ignore[return-value]


def check_exclusive(**given: object) -> None:
    """At most one of the named settings may be set (``gpu``/``cpu``, ``id``/``image``)."""
    present = [name for name, value in given.items() if value is not None]
    if len(present) > 1:
        first, second = present[:2]
        raise SettingError(second, f"cannot set both {first} and {second}: they are mutually exclusive")


def check_cpu_datacenters(datacenters: Iterable[DataCenter]) -> None:
    unsupported = [dc.value for dc in datacenters if dc not in CPU_DATACENTERS]
    if unsupported:
        supported = ", ".join(sorted(dc.value for dc in CPU_DATACENTERS))
        raise SettingError(
            "datacenter",
            f"CPU endpoints are not available in {', '.join(unsupported)}; "
            f"CPU data centres: {supported}",
        )


def check_volumes_fit(volumes: Sequence[DataCenter], datacenters: Sequence[DataCenter]) -> None:
    """One volume per data centre, each inside the endpoint's data centres."""
    seen: set[DataCenter] = set()
    for centre in volumes:
        if centre in seen:
            raise SettingError(
                "volume", f"only one network volume is allowed per data centre ({centre.value})"
            )
        seen.add(centre)
        if datacenters and centre not in datacenters:
            raise SettingError(
                "volume",
                f"network volume data centre {centre.value} is not among the endpoint's "
                f"data centres ({', '.join(dc.value for dc in datacenters)})",
            )


def check_load_balancer_scaler(scaler: ServerlessScalerType) -> None:
    if scaler is ServerlessScalerType.QUEUE_DELAY:
        raise SettingError(
            "scaler_type",
            "load-balanced endpoints scale by REQUEST_COUNT; QUEUE_DELAY is for queue-based ones",
        )


class ReservedPathError(SettingError):
    """A route path the worker serves itself (``/ping``, ``/execute``)."""


def check_route_method(method: object, *, case_sensitive: bool = False) -> str:
    """GET, POST, PUT, DELETE or PATCH; ``Endpoint`` routes accept any case, ``remote`` does not."""
    candidate = method if case_sensitive or not isinstance(method, str) else method.upper()
    if candidate not in tables.ROUTE_METHODS:
        raise SettingError(
            "method", f"method {method!r} is not allowed; allowed: {', '.join(tables.ROUTE_METHODS)}"
        )
    return candidate  # type: ignore[return-value]


def check_route_path(path: object) -> str:
    """A URL path: starts with ``/``, no white space, not one the worker reserves."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise SettingError("path", f"path must start with '/', got {path!r}")
    if any(character.isspace() for character in path):
        raise SettingError("path", f"path must not contain white space, got {path!r}")
    if path in tables.RESERVED_PATHS:
        raise ReservedPathError(
            "path",
            f"path '{path}' is reserved by the worker; reserved: {', '.join(tables.RESERVED_PATHS)}",
        )
    return path


def check_route(method: object, path: object, *, case_sensitive: bool = False) -> tuple[str, str]:
    """``Endpoint`` routes (and ``remote(method=, path=)`` with ``case_sensitive=True``)."""
    return check_route_method(method, case_sensitive=case_sensitive), check_route_path(path)


def cpu_disk_limit(instances: Sequence[CpuInstanceType]) -> int | None:
    """The container disk every listed CPU flavour allows (the smallest of their limits)."""
    return min((cpu_disk_limit_gb(i) for i in instances), default=None)
