"""``[tool.flashc]`` in pyproject.toml, read into a frozen :class:`Config`.

Every key is validated here, once; an unknown key or a wrong type is a
:class:`~flashc.errors.ConfigError` naming the key, the value and what is allowed.
This module sits below the rule catalogue, so rule codes are checked for their
shape only; :mod:`flashc.rules.selection` checks that each names a rule.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flashc_runtime.sdk import tables

from .diagnostics import Severity
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
    select: tuple[str, ...] = ("ALL",)
    """Rule codes or prefixes to run (upper case); ``ALL`` is every rule."""
    extend_select: tuple[str, ...] = ()
    """Codes or prefixes enabled on top of ``select``."""
    ignore: tuple[str, ...] = ()
    """Codes or prefixes not to run."""
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(gitignore-style pattern relative to the project root, codes or prefixes) pairs, in file order."""
    severity: tuple[tuple[str, Severity], ...] = ()
    """(code or prefix, severity) overrides of the rules' default severities."""
    fail_on: Severity | None = Severity.ERROR
    """The lowest severity that makes ``flashc check`` fail; None: findings never do."""


# key -> (attribute, one-line description); the description is printed for unknown keys.
_KEYS: dict[str, tuple[str, str]] = {
    "app": ("app", "app name (string)"),
    "exclude": ("exclude", "gitignore-style patterns to skip (list of strings)"),
    "python-version": ("python_version", "worker Python version (string)"),
    "select": ("select", "rule codes or prefixes to run (list of strings)"),
    "extend-select": ("extend_select", "rule codes or prefixes to run on top of select (list of strings)"),
    "ignore": ("ignore", "rule codes or prefixes not to run (list of strings)"),
    "per-file-ignores": ("per_file_ignores", "gitignore-style pattern = rule codes not to report there (table)"),
    "severity": ("severity", "rule code or prefix = error, warning or info (table)"),
    "fail-on": ("fail_on", "lowest severity that fails `flashc check`: error, warning, info or never"),
}

_SELECTOR = re.compile(r"(?:FC\d{0,3}|ALL)", re.IGNORECASE)
_SELECTOR_FORMS = "ALL, FC, or FC followed by one to three digits (FC1, FC10, FC101)"
"""What a rule selector may look like, for error messages."""
_SEVERITIES: dict[str, Severity] = {severity.value: severity for severity in Severity}
FAIL_ON: dict[str, Severity | None] = {**_SEVERITIES, "never": None}
"""``fail-on`` values (also the choices of a ``--fail-on`` option); None: findings never fail."""


def load_config(root: Path) -> Config:
    """Read ``root/pyproject.toml``; a project without one (or without the table) gets defaults."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return Config()
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{pyproject}: not valid TOML: {error}") from None
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{pyproject}: `tool` must be a table (holding [tool.flashc]), got {tool!r}")
    table = tool.get("flashc", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.flashc] must be a table, got {table!r}")
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


def selectors(value: Any, where: str) -> tuple[str, ...]:
    """Validate a list of rule codes or prefixes (``where`` names its origin) and upper-case them.

    Public because command-line values (``--select``) need the same check.
    """
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of rule codes or prefixes, got {value!r}")
    return tuple(_selector(item, where) for item in value)


def _selector(value: str, where: str) -> str:
    """One rule code or prefix, upper-cased; anything else is a :class:`ConfigError`."""
    if not _SELECTOR.fullmatch(value):
        raise ConfigError(f"{where}: {value!r} is not a rule code or prefix; allowed: {_SELECTOR_FORMS}")
    return value.upper()


def _table(key: str, value: Any, source: str, shape: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [tool.flashc] {key} must be a table of {shape}, got {value!r}")
    return value


def _per_file_ignores(value: Any, source: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    table = _table("per-file-ignores", value, source, "gitignore-style pattern = [rule codes]")
    pairs = []
    for pattern, codes in table.items():
        where = f"{source}: [tool.flashc.per-file-ignores] {pattern!r}"
        if not pattern.strip():
            raise ConfigError(f"{where}: the pattern must not be empty")
        pairs.append((pattern, selectors(codes, where)))
    return tuple(pairs)


def _severity(value: Any, source: str) -> tuple[tuple[str, Severity], ...]:
    table = _table("severity", value, source, "rule code or prefix = severity")
    where = f"{source}: [tool.flashc.severity]"
    overrides: dict[str, Severity] = {}
    for key, level in table.items():
        code = _selector(key, where)
        if code in overrides:
            raise ConfigError(f"{where}: {key!r} repeats {code!r} (codes are case-insensitive)")
        if not isinstance(level, str) or level not in _SEVERITIES:
            raise ConfigError(f"{where} {key!r}: {level!r} is not a severity; allowed: {', '.join(_SEVERITIES)}")
        overrides[code] = _SEVERITIES[level]
    return tuple(overrides.items())


def _check(key: str, value: Any, source: str) -> Any:
    if key in ("select", "extend-select", "ignore"):
        return selectors(value, f"{source}: [tool.flashc] {key}")
    if key == "per-file-ignores":
        return _per_file_ignores(value, source)
    if key == "severity":
        return _severity(value, source)
    if key == "fail-on":
        if not isinstance(value, str) or value not in FAIL_ON:
            raise ConfigError(f"{source}: [tool.flashc] fail-on {value!r} is not allowed; allowed: {', '.join(FAIL_ON)}")
        return FAIL_ON[value]
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
