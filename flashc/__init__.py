"""flashc: write runpod-flash style endpoints, then lint, build and deploy them.

User code imports the SDK from here (``from flashc import Endpoint, GpuGroup``)
exactly as it would from ``runpod_flash``. Everything below is re-exported from
``flashc_runtime.sdk``, which is also what deployed workers import. This module
deliberately imports nothing else of flashc (no CLI, no analysis): every user
module and every worker pays for ``import flashc``, so it must stay cheap.
"""

from __future__ import annotations

from flashc_runtime.sdk import (
    CPU_DATACENTERS,
    DEFAULT_WORKERS_MAX,
    DEFAULT_WORKERS_MIN,
    CpuInstanceType,
    CpuLiveLoadBalancer,
    CpuLiveServerless,
    CpuLoadBalancerSlsResource,
    CpuServerlessEndpoint,
    CudaVersion,
    DataCenter,
    Endpoint,
    EndpointNotDeployedError,
    FlashRuntimeError,
    GpuGroup,
    GpuType,
    GraphQLError,
    GraphQLMutationError,
    GraphQLQueryError,
    JobOutput,
    LiveLoadBalancer,
    LiveServerless,
    LoadBalancerSlsResource,
    ManifestError,
    ManifestServiceUnavailableError,
    NetworkVolume,
    PodTemplate,
    RemoteExecutionError,
    SerializationError,
    ServerlessEndpoint,
    ServerlessScalerType,
    ServerlessType,
    remote,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "CPU_DATACENTERS",
    "DEFAULT_WORKERS_MAX",
    "DEFAULT_WORKERS_MIN",
    "CpuInstanceType",
    "CpuLiveLoadBalancer",
    "CpuLiveServerless",
    "CpuLoadBalancerSlsResource",
    "CpuServerlessEndpoint",
    "CudaVersion",
    "DataCenter",
    "Endpoint",
    "EndpointNotDeployedError",
    "FlashRuntimeError",
    "GpuGroup",
    "GpuType",
    "GraphQLError",
    "GraphQLMutationError",
    "GraphQLQueryError",
    "JobOutput",
    "LiveLoadBalancer",
    "LiveServerless",
    "LoadBalancerSlsResource",
    "ManifestError",
    "ManifestServiceUnavailableError",
    "NetworkVolume",
    "PodTemplate",
    "RemoteExecutionError",
    "SerializationError",
    "ServerlessEndpoint",
    "ServerlessScalerType",
    "ServerlessType",
    "remote",
]
