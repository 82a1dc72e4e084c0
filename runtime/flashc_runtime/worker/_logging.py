"""One stderr logger for the worker glue.

Worker platforms collect stderr, and neither the runpod SDK nor uvicorn configures the
root logger, so without a handler of its own the glue's INFO lines would be lost.
"""

from __future__ import annotations

import logging
import sys

_NAME = "flashc_runtime.worker"


def get_logger() -> logging.Logger:
    """The ``flashc_runtime.worker`` logger, given a stderr handler the first time.

    It is left alone when the user's code has already configured it.
    """
    logger = logging.getLogger(_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s flashc: %(message)s")
        )
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger
