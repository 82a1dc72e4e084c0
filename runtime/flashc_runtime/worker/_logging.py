"""One stderr logger for the worker glue.

Worker platforms collect stderr, and neither the runpod SDK nor uvicorn configures the
root logger, so without a handler of its own the glue's INFO lines would be lost.

Its lines (tracebacks included) are redacted: the values of the worker's secret-looking
environment variables (``RUNPOD_API_KEY``, ``FLASHC_API_KEY``, ``*_TOKEN``, ``*_SECRET*``,
``*PASSWORD*``, ...; 8 characters or more) become ``***``.
"""

from __future__ import annotations

import logging
import os
import re
import sys

_NAME = "flashc_runtime.worker"
_SECRET_NAME = re.compile(r"API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|AUTH", re.IGNORECASE)


class _RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        secrets = {value for name, value in os.environ.items() if _SECRET_NAME.search(name) and len(value) >= 8}
        self._secrets = sorted(secrets, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def get_logger() -> logging.Logger:
    """The ``flashc_runtime.worker`` logger, given a stderr handler the first time.

    It is left alone when the user's code has already configured it.
    """
    logger = logging.getLogger(_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s flashc: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger
