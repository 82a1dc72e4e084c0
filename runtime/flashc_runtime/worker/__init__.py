"""The glue that runs inside a worker: it turns jobs and HTTP requests into calls of
the user's functions. :mod:`.queue` serves queue-based endpoints through the runpod
worker SDK, :mod:`.lb` serves load-balanced endpoints as a plain ASGI app.

Only the standard library is imported here, because this package is vendored into
every handler package and runs before the endpoint's own dependencies are on the path.
"""

from __future__ import annotations

import os
import sys

__all__ = ["add_vendored_dependencies"]


def add_vendored_dependencies(handler_file: str) -> None:
    """Put ``_deps/`` (third-party packages installed beside ``handler_file``) on ``sys.path``.

    The handler package's own directory must come first so that its modules win over
    same-named distributions, so ``_deps`` goes right after it. The artifact entry does
    the same before importing the handler; this covers a handler that is run directly.
    """
    package = os.path.dirname(os.path.abspath(handler_file))
    deps = os.path.join(package, "_deps")
    entries = [os.path.abspath(entry) for entry in sys.path]
    if not os.path.isdir(deps) or deps in entries:
        return
    index = entries.index(package) + 1 if package in entries else 0
    sys.path.insert(index, deps)
