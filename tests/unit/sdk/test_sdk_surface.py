"""What ``import flashc`` offers, what it costs, and the error and job types."""

from __future__ import annotations

import pickle
import subprocess
import sys
from dataclasses import FrozenInstanceError

import pytest

import flashc
import flashc_runtime.sdk as sdk
from flashc import (
    FlashRuntimeError,
    GraphQLError,
    GraphQLMutationError,
    GraphQLQueryError,
    JobOutput,
    ManifestError,
    ManifestServiceUnavailableError,
    RemoteExecutionError,
    SerializationError,
)

SURFACE = [
    "remote", "Endpoint", "LiveServerless", "CpuLiveServerless", "ServerlessEndpoint",
    "CpuServerlessEndpoint", "LiveLoadBalancer", "CpuLiveLoadBalancer", "LoadBalancerSlsResource",
    "CpuLoadBalancerSlsResource", "PodTemplate", "NetworkVolume", "GpuGroup", "GpuType",
    "CpuInstanceType", "DataCenter", "CudaVersion", "JobOutput", "FlashRuntimeError",
    "RemoteExecutionError", "SerializationError", "GraphQLError", "GraphQLMutationError",
    "GraphQLQueryError", "ManifestError", "ManifestServiceUnavailableError",
]  # fmt: skip


def test_flashc_exports_exactly_the_sdk_surface():
    # The requested surface, and the rest of runpod-flash's exports the runtime SDK has, so
    # compiled clients (whose runpod_flash imports become flashc imports) find every name.
    assert set(SURFACE) <= set(flashc.__all__)
    assert sorted(flashc.__all__) == sorted(sdk.__all__)
    for name in flashc.__all__:
        assert getattr(flashc, name) is getattr(sdk, name), name
    assert flashc.__version__ == "0.1.0.dev0"


def test_runtime_sdk_all_is_importable():
    for name in sdk.__all__:
        assert hasattr(sdk, name), name
    assert set(SURFACE) <= set(sdk.__all__)
    assert {"DEFAULT_WORKERS_MIN", "DEFAULT_WORKERS_MAX", "CPU_DATACENTERS", "ServerlessScalerType", "ServerlessType"} <= set(sdk.__all__)
    assert (sdk.DEFAULT_WORKERS_MIN, sdk.DEFAULT_WORKERS_MAX) == (0, 1)


def _imported_modules(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}


def test_import_flashc_stays_light():
    modules = _imported_modules("import flashc")
    assert "flashc_runtime.sdk" in modules
    heavy = {m for m in modules if m.split(".")[0] in {"libcst", "jinja2", "typer", "pydantic", "httpx"}}
    assert heavy == set()
    assert not {m for m in modules if m.startswith(("flashc.cli", "flashc.analysis"))}


def test_runtime_does_not_import_flashc():
    assert "flashc" not in _imported_modules("import flashc_runtime.sdk")


# --- exceptions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "parent"),
    [
        (FlashRuntimeError, Exception),
        (RemoteExecutionError, FlashRuntimeError),
        (SerializationError, FlashRuntimeError),
        (GraphQLError, FlashRuntimeError),
        (GraphQLMutationError, GraphQLError),
        (GraphQLQueryError, GraphQLError),
        (ManifestError, FlashRuntimeError),
        (ManifestServiceUnavailableError, ManifestError),
    ],
)
def test_exception_hierarchy(error, parent):
    assert issubclass(error, parent)
    assert error.__doc__


def test_remote_execution_error_carries_the_remote_failure():
    plain = RemoteExecutionError("worker died")
    assert str(plain) == "worker died"
    assert (plain.error_type, plain.traceback) == (None, None)
    full = RemoteExecutionError("bad input", error_type="ValueError", traceback="Traceback (most recent call last):\n  ...\n")
    assert str(full) == "ValueError: bad input"
    assert full.__notes__ == ["Remote traceback:\nTraceback (most recent call last):\n  ..."]
    copy = pickle.loads(pickle.dumps(full))
    assert (copy.message, copy.error_type, copy.traceback) == (full.message, full.error_type, full.traceback)


# --- JobOutput -------------------------------------------------------------------------------

RESPONSE = {"id": "job-1", "workerId": "w-1", "status": "COMPLETED", "delayTime": 12, "executionTime": 340}


def test_job_output_round_trip():
    job = JobOutput.from_dict({**RESPONSE, "output": {"x": 1}, "extra": "ignored"})
    assert (job.id, job.workerId, job.status, job.delayTime, job.executionTime) == ("job-1", "w-1", "COMPLETED", 12, 340)
    assert (job.output, job.error, job.started_at, job.ended_at) == ({"x": 1}, "", None, None)
    assert job.to_dict() == {**RESPONSE, "output": {"x": 1}, "error": "", "started_at": None, "ended_at": None}
    assert JobOutput.from_dict(job.to_dict()) == job


def test_job_output_is_frozen_and_needs_its_fields():
    job = JobOutput.from_dict(RESPONSE)
    with pytest.raises(FrozenInstanceError):
        job.status = "FAILED"
    with pytest.raises(ValueError, match="JobOutput is missing workerId, delayTime"):
        JobOutput.from_dict({"id": "j", "status": "FAILED", "executionTime": 0})
