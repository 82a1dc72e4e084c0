"""The local target: RunPod's serverless API served on loopback by a supervisor process
(:mod:`.supervisor`) that runs each endpoint's handler package in local worker processes.

The deploy command writes a spec (:mod:`.spec`) and starts
``python -m flashc.deploy.local.supervisor --spec PATH`` detached; the supervisor writes
the runtime file (:func:`runtime_path`) once it listens. Importing this package starts
nothing and imports neither uvicorn nor httpx.
"""

from __future__ import annotations

from .spec import (
    KINDS,
    SCHEMA_VERSION,
    EndpointSpec,
    Spec,
    SpecError,
    dump_spec,
    load_spec,
    parse_spec,
    read_runtime,
    runtime_path,
    write_json_atomically,
)

SUPERVISOR_MODULE = "flashc.deploy.local.supervisor"
"""Run it as ``python -m flashc.deploy.local.supervisor --spec PATH``."""

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "SUPERVISOR_MODULE",
    "EndpointSpec",
    "Spec",
    "SpecError",
    "dump_spec",
    "load_spec",
    "parse_spec",
    "read_runtime",
    "runtime_path",
    "write_json_atomically",
]
