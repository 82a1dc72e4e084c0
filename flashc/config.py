"""``[tool.flashc]`` in pyproject.toml, read into a frozen :class:`Config`.

Every key is validated here, once; an unknown key or a wrong type is a
:class:`~flashc.errors.ConfigError` naming the key, the value and what is allowed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flashc_runtime.sdk import tables

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


@dataclass(frozen=True, slots=True)
class Config:
    app: str | None = None
    """The app name (runpod-flash's project name); defaults to the project directory's name."""
    exclude: tuple[str, ...] = ()
    """gitignore-style patterns of files flashc does not read, on top of .gitignore."""
    python_version: str | None = None
    """The workers' Python; must be one runpod-flash supports."""


# key -> (attribute, one-line description); the description is printed for unknown keys.
_KEYS: dict[str, tuple[str, str]] = {
    "app": ("app", "app name (string)"),
    "exclude": ("exclude", "gitignore-style patterns to skip (list of strings)"),
    "python-version": ("python_version", "worker Python version (string)"),
}


def load_config(root: Path) -> Config:
    """Read ``root/pyproject.toml``; a project without one (or without the table) gets defaults."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return Config()
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{pyproject}: not valid TOML: {error}") from None
    table = document.get("tool", {}).get("flashc", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.flashc] must be a table")
    return config_from_table(table, source=str(pyproject))


def config_from_table(table: dict[str, Any], source: str = "[tool.flashc]") -> Config:
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _KEYS:
            allowed = "; ".join(f"{k} ({desc})" for k, (_, desc) in sorted(_KEYS.items()))
            raise ConfigError(
                f"{source}: unknown key [tool.flashc] {key!r}{tables.suggest(key, list(_KEYS))}. "
                f"Allowed keys: {allowed}"
            )
        attribute = _KEYS[key][0]
        values[attribute] = _check(key, value, source)
    return Config(**values)


def _check(key: str, value: Any, source: str) -> Any:
    if key == "exclude":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: [tool.flashc] exclude must be a list of strings, got {value!r}")
        return tuple(value)
    if key == "python-version":
        if value not in tables.SUPPORTED_PYTHON_VERSIONS:
            raise ConfigError(
                f"{source}: [tool.flashc] python-version {value!r} is not supported; "
                f"allowed: {', '.join(tables.SUPPORTED_PYTHON_VERSIONS)}"
            )
        return value
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: [tool.flashc] {key} must be a non-empty string, got {value!r}")
    return value
