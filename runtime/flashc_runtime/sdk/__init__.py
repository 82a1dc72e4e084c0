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
    AuthenticationError,
    DeserializeTimeoutError,
    EndpointHTTPError,
    EndpointNotDeployedError,
    EndpointUnavailableError,
    FlashRuntimeError,
    GraphQLError,
    GraphQLMutationError,
    GraphQLQueryError,
    ManifestError,
    ManifestServiceUnavailableError,
    PayloadTooLargeError,
    RemoteCancelledError,
    RemoteExecutionError,
    RemoteTimeoutError,
    SerializationError,
)
from .jobs import EndpointJob, JobOutput
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
    "AuthenticationError",
    "CpuInstanceType",
    "CpuLiveLoadBalancer",
    "CpuLiveServerless",
    "CpuLoadBalancerSlsResource",
    "CpuServerlessEndpoint",
    "CudaVersion",
    "DataCenter",
    "DeserializeTimeoutError",
    "Endpoint",
    "EndpointHTTPError",
    "EndpointJob",
    "EndpointNotDeployedError",
    "EndpointUnavailableError",
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
    "PayloadTooLargeError",
    "PodTemplate",
    "RemoteCancelledError",
    "RemoteExecutionError",
    "RemoteTimeoutError",
    "SerializationError",
    "ServerlessEndpoint",
    "ServerlessScalerType",
    "ServerlessType",
    "remote",
]
