"""Keeping secrets out of what flashc prints and logs.

A secret is a deployment's token (registered with :func:`register` when a state is read or
a token is made), the value of any environment variable whose name says it holds one
(``RUNPOD_API_KEY``, ``AWS_SECRET_ACCESS_KEY``, ``HF_TOKEN``, ``DB_PASSWORD``, ...), and
whatever follows ``Bearer``. :func:`redact` replaces each with ``***``. Values shorter than
:data:`MIN_LENGTH` are left alone (``DEBUG_TOKEN=1`` would otherwise mask every ``1``).

Applied where text leaves flashc: the CLI's error messages and ``--debug`` tracebacks, the
supervisor's log and every worker output line it writes to the endpoint logs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

MASK = "***"
MIN_LENGTH = 8
SECRET_NAME = re.compile(r"API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|AUTH", re.IGNORECASE)
_BEARER = re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]{4,}", re.IGNORECASE)

_registered: set[str] = set()


def register(*secrets: str | None) -> None:
    """Redact these values from now on, in this process."""
    _registered.update(secret for secret in secrets if secret and len(secret) >= MIN_LENGTH)


def environment_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """The values of the variables of ``environ`` (default: this process's) whose names say secret."""
    environ = os.environ if environ is None else environ
    return {value for name, value in environ.items() if SECRET_NAME.search(name) and len(value) >= MIN_LENGTH}


class Redactor:
    """:func:`redact` with a fixed set of secrets, for many lines (the supervisor's logs)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {secret for secret in secrets if secret and len(secret) >= MIN_LENGTH}
        self._secrets = sorted(values, key=len, reverse=True)  # a secret containing another goes first

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return _BEARER.sub(lambda match: match[1] + MASK, text)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret (registered, in the environment, ``extra``) replaced by ``***``."""
    return Redactor({*_registered, *environment_secrets(), *extra})(text)
