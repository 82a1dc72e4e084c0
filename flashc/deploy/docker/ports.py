"""Host ports of endpoint containers: deterministic, without collisions, kept across redeploys.

Containers use the host's network, so each endpoint needs a port of its own on this machine.
An endpoint's first choice is a stable hash (sha256, not Python's per-process ``hash``) of
its project, environment and name into :data:`PORT_RANGE`: the same project deploys to the
same ports on every machine and every run. From there the next port is tried (wrapping
around the range) while the port is taken: by another endpoint of this allocation, by another
flashc deployment on the engine (its containers' ``org.flashc.port`` labels), or by any
socket listening on it. A port recorded in the deployment state is kept as long as nothing
else claims it, so redeploys never move an endpoint.
"""

from __future__ import annotations

import errno
import hashlib
import socket
from collections.abc import Callable, Collection, Mapping

PORT_RANGE = (20000, 29999)
"""Inclusive; below Linux's default ephemeral range (32768-60999), above well-known services."""


def preferred_port(project: str, env: str, endpoint: str, port_range: tuple[int, int] = PORT_RANGE) -> int:
    low, high = port_range
    digest = hashlib.sha256(f"{project}\0{env}\0{endpoint}".encode()).digest()
    return low + int.from_bytes(digest[:8], "big") % (high - low + 1)


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something on this machine holds ``port`` (binding it fails)."""
    for family, address in ((socket.AF_INET, host), (socket.AF_INET, "0.0.0.0")):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address, port))
            except OSError as error:
                if error.errno in (errno.EADDRINUSE, errno.EACCES):
                    return True
                raise
    return False


def allocate(
    project: str,
    env: str,
    endpoints: Collection[str],
    *,
    recorded: Mapping[str, int],
    taken: Collection[int] = (),
    busy: Callable[[int], bool] = listening,
    port_range: tuple[int, int] = PORT_RANGE,
) -> dict[str, int]:
    """A port for each of ``endpoints`` (sorted by name, so the result does not depend on order).

    ``recorded``: ports the deployment has now (kept unless ``taken`` claims them; their own
    containers hold them, so they are not probed). ``taken``: ports of other deployments.
    ``busy``: whether a port is held on this machine.
    """
    low, high = port_range
    size = high - low + 1
    claimed = set(taken)
    result: dict[str, int] = {}
    for name in sorted(endpoints):
        port = recorded.get(name, 0)
        if port and low <= port <= high and port not in claimed:
            result[name] = port
            claimed.add(port)
    for name in sorted(endpoints):
        if name in result:
            continue
        start = preferred_port(project, env, name, port_range)
        for offset in range(size):
            port = low + (start - low + offset) % size
            if port in claimed or busy(port):
                continue
            result[name] = port
            claimed.add(port)
            break
        else:
            raise RuntimeError(f"no free port in {low}-{high} for endpoint {name!r}")
    return result
