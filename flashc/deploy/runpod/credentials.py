"""The RunPod API key: ``RUNPOD_API_KEY``, then the project's ``.env``, then ``~/.runpod/config.toml``.

The key is registered with :mod:`flashc.deploy.redaction` as soon as it is read, so no
message, log line or traceback flashc prints carries it. :class:`ApiKey` keeps the source
the key came from: a refused key (HTTP 401) is reported with it, because a stale
``RUNPOD_API_KEY`` hiding a fresh ``flashc login`` is the usual cause.

``flashc login`` writes ``~/.runpod/config.toml`` (mode 0600) in the layout the runpod SDK
reads (``[default]`` table, ``api_key``).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import FlashcError
from .. import redaction

try:
    import tomllib
except ImportError:  # pragma: no cover -- Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

VARIABLE = "RUNPOD_API_KEY"
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


class CredentialsError(FlashcError):
    """No API key was found, or the one given cannot be stored."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    value: str = field(repr=False)
    source: str
    """Where the key came from, for messages: ``RUNPOD_API_KEY``, ``/p/.env``, ``~/.runpod/config.toml``."""

    def __str__(self) -> str:  # never the value
        return f"the RunPod API key from {self.source}"


def config_path() -> Path:
    """``~/.runpod/config.toml`` (``$HOME`` decides where ``~`` is)."""
    return Path(os.path.expanduser("~")) / ".runpod" / "config.toml"


def resolve(root: Path | None) -> ApiKey:
    """The key to use for the project at ``root`` (None: no project, e.g. ``flashc app list``)."""
    for found in (_from_environment(), _from_dotenv(root), _from_config()):
        if found is not None:
            redaction.register(found.value)
            return found
    where = f"{VARIABLE}" + (f", {root / '.env'}" if root is not None else "") + f" or {config_path()}"
    raise CredentialsError(f"no RunPod API key found (looked in {where}); run `flashc login` or set {VARIABLE}")


def _from_environment() -> ApiKey | None:
    value = os.environ.get(VARIABLE, "").strip()
    return ApiKey(value, VARIABLE) if value else None


def _from_dotenv(root: Path | None) -> ApiKey | None:
    if root is None:
        return None
    path = root / ".env"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        match = _DOTENV_LINE.match(line)
        if match is None or match[1] != VARIABLE:
            continue
        value = match[2]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        if value:
            return ApiKey(value, str(path))
    return None


def _from_config() -> ApiKey | None:
    path = config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CredentialsError(f"{path} cannot be read ({type(error).__name__}); `flashc login` rewrites it") from None
    table = data.get("default") if isinstance(data.get("default"), dict) else data
    value = table.get("api_key") if isinstance(table, dict) else None
    if isinstance(value, str) and value.strip():
        return ApiKey(value.strip(), str(path))
    return None


def login(api_key: str) -> Path:
    """Store ``api_key`` in ``~/.runpod/config.toml``, readable by its owner only; returns the path."""
    value = api_key.strip()
    if not value or any(c.isspace() or c in "\"\\" for c in value):
        raise CredentialsError("the API key must be one word without quotes or backslashes")
    redaction.register(value)
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as handle:
        os.chmod(handle.name, 0o600)
        handle.write(f'[default]\napi_key = "{value}"\n')
    os.replace(handle.name, path)
    os.chmod(path, 0o600)
    return path
