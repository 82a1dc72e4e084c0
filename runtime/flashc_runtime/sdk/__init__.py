"""The runpod-flash compatible SDK surface: enums, resources, ``Endpoint``, ``remote``, errors.

``flashc`` re-exports it for user code; generated workers import it from here,
since ``flashc_runtime`` ships without ``flashc``.
"""

from __future__ import annotations

from .endpoint import Endpoint
from .enums import (
    CPU_DATACENTERS,
    CpuInstanceType,
    CudaVersion,
    DataCenter,
    GpuGroup,
    GpuType,
    ServerlessScalerType,
    ServerlessType,
)
from .exceptions import (
    EndpointNotDeployedError,
    FlashRuntimeError,
    GraphQLError,
    GraphQLMutationError,
    GraphQLQueryError,
    ManifestError,
    ManifestServiceUnavailableError,
    RemoteExecutionError,
    SerializationError,
)
from .jobs import JobOutput
from .remote import remote
from .resources import (
    CpuLiveLoadBalancer,
    CpuLiveServerless,
    CpuLoadBalancerSlsResource,
    CpuServerlessEndpoint,
    LiveLoadBalancer,
    LiveServerless,
    LoadBalancerSlsResource,
    NetworkVolume,
    PodTemplate,
    ServerlessEndpoint,
)
from .tables import DEFAULT_WORKERS_MAX, DEFAULT_WORKERS_MIN

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
