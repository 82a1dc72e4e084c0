"""``Endpoint``: runpod-flash's unified endpoint configuration and decorator.

Three uses, told apart by arguments and by how the object is used:

* ``@Endpoint(name=..., gpu=...)`` on a function or class: a queue-based endpoint;
* ``api = Endpoint(name=...)`` then ``@api.get("/path")`` ...: a load-balanced one;
* ``Endpoint(id=...)`` or ``Endpoint(image=..., name=...)``: a client of an
  existing or pre-built endpoint: ``await ep.post(path, data)`` (and ``get``,
  ``put``, ``delete``, ``patch``) call its routes, ``await ep.run(input)`` /
  ``runsync(input)`` / ``cancel(job_id)`` its jobs.

Clients find their endpoint at ``FLASHC_ENDPOINT_URL_<NAME>`` (the name, else
the id), else, given an id, at RunPod's addresses for it.

The resource class behind it is chosen by ``tables.resource_class_for`` and
built with runpod-flash's camelCase fields, so ``resource_config`` is exactly
what the equivalent ``LiveServerless(...)`` & co. would have been.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from typing import Any, Callable, TypeVar

from . import tables, validation
from ._settings import coerce, optional_str, string_list
from .enums import CpuInstanceType, CudaVersion, DataCenter, GpuGroup, GpuType, ServerlessScalerType
from .jobs import EndpointJob
from .remote import decorate
from .resources import RESOURCE_TYPES, NetworkVolume, PodTemplate, ServerlessResource
from .validation import SettingError

T = TypeVar("T")


class Endpoint:
    """A RunPod serverless endpoint: its settings, and the decorator that binds code to it."""

    def __init__(
        self,
        name: str | None = None,
        *,
        id: str | None = None,
        gpu: GpuGroup | GpuType | list[GpuGroup | GpuType] | None = None,
        cpu: str | CpuInstanceType | list[str | CpuInstanceType] | None = None,
        workers: int | tuple[int, int] | None = None,
        idle_timeout: int = 60,
        dependencies: list[str] | None = None,
        system_dependencies: list[str] | None = None,
        accelerate_downloads: bool = True,
        volume: NetworkVolume | list[NetworkVolume] | None = None,
        datacenter: DataCenter | str | list[DataCenter | str] | None = None,
        env: dict[str, str] | None = None,
        gpu_count: int = 1,
        execution_timeout_ms: int = 0,
        flashboot: bool = True,
        image: str | None = None,
        scaler_type: ServerlessScalerType | None = None,
        scaler_value: int = 4,
        template: PodTemplate | None = None,
        min_cuda_version: CudaVersion | str | None = CudaVersion.V12_8,
        max_concurrency: int = 1,
    ) -> None:
        validation.check_exclusive(gpu=gpu, cpu=cpu)
        validation.check_exclusive(id=id, image=image)
        if name is None and id is None and image is not None:
            raise SettingError("name", "name or id is required when image= is set")
        self._max_concurrency = validation.check_max_concurrency(max_concurrency)
        # Without a name, a queue-based endpoint takes its target's __name__ in __call__.
        self.name = None if name is None else validation.check_endpoint_name(name)
        self.id = optional_str("id", id)
        self.image = optional_str("image", image)
        self._gpu = None if gpu is None else list(validation.normalize_gpu(gpu))
        self._cpu = None if cpu is None else list(validation.normalize_cpu(cpu))
        self._workers_min, self._workers_max = validation.normalize_workers(workers)
        self.idle_timeout = validation.check_idle_timeout(idle_timeout)
        self.dependencies = string_list("dependencies", dependencies)
        self.system_dependencies = string_list("system_dependencies", system_dependencies)
        self.accelerate_downloads = validation.check_bool("accelerate_downloads", accelerate_downloads)
        self.volume = _volumes(volume)
        self.datacenter = None if datacenter is None else list(validation.normalize_datacenters(datacenter))
        self.env = None if env is None else validation.check_env(env)
        self.gpu_count = validation.check_count(gpu_count, "gpu_count")
        self.execution_timeout_ms = validation.check_int_range(
            "execution_timeout_ms", execution_timeout_ms, 0
        )
        self.flashboot = validation.check_bool("flashboot", flashboot)
        self._explicit_scaler_type = (
            None if scaler_type is None else validation.normalize_scaler_type(scaler_type)
        )
        self.scaler_value = validation.check_count(scaler_value, "scaler_value")
        self.template = None if template is None else coerce("template", PodTemplate, template)
        self.min_cuda_version = (
            None if min_cuda_version is None else validation.normalize_cuda_version(min_cuda_version)
        )
        # Anything that provisions (all but id= clients) defaults to any GPU in any data
        # centre; CPU endpoints get no default, and may only name the CPU data centres.
        if self._cpu is None and self._gpu is None and self.id is None:
            self._gpu = [GpuGroup.ANY]
        if self._cpu is None and self.id is None and not self.datacenter:
            self.datacenter = DataCenter.all()
        if self._cpu is not None and self.datacenter:
            validation.check_cpu_datacenters(self.datacenter)
        validation.check_volumes_fit([v.dataCenterId for v in self.volume or ()], self.datacenter or [])
        self._routes: list[dict[str, Any]] = []
        self._qb_target: Any = None
        self._resource_config: ServerlessResource | None = None

    # -- what the arguments and the usage decided --

    @property
    def is_cpu(self) -> bool:
        return self._cpu is not None

    @property
    def is_client(self) -> bool:
        """``id=`` or ``image=``: a client of an endpoint whose code is not ours."""
        return self.id is not None or self.image is not None

    @property
    def is_load_balanced(self) -> bool:
        return bool(self._routes)

    @property
    def gpu(self) -> list[GpuGroup | GpuType] | None:
        return None if self._gpu is None else list(self._gpu)

    @property
    def cpu(self) -> list[CpuInstanceType] | None:
        return None if self._cpu is None else list(self._cpu)

    @property
    def workers_min(self) -> int:
        return self._workers_min

    @property
    def workers_max(self) -> int:
        return self._workers_max

    @property
    def max_concurrency(self) -> int:
        return self._max_concurrency

    @property
    def scaler_type(self) -> ServerlessScalerType:
        """As given, else REQUEST_COUNT for load-balanced and QUEUE_DELAY for queue-based use."""
        return self._scaler_type(self.is_load_balanced)

    def _scaler_type(self, load_balanced: bool) -> ServerlessScalerType:
        if self._explicit_scaler_type is not None:
            return self._explicit_scaler_type
        if load_balanced:
            return ServerlessScalerType.REQUEST_COUNT
        return ServerlessScalerType.QUEUE_DELAY

    @property
    def routes(self) -> list[dict[str, Any]]:
        """The registered routes: ``method``, ``path``, ``function`` and ``function_name``."""
        return [dict(route) for route in self._routes]

    @property
    def resource_config(self) -> ServerlessResource:
        """The Live* resource this endpoint provisions, built once and then shared by every stamp."""
        if self._resource_config is None:
            if self.name is None:
                raise SettingError(
                    "name", "this Endpoint has no name yet: pass name=, or use it as a decorator"
                )
            self._resource_config = self._build_resource_config(self.name, self.is_load_balanced)
        return self._resource_config

    def _build_resource_config(self, name: str, load_balanced: bool) -> ServerlessResource:
        """runpod-flash's ``_build_resource_config``, always choosing the Live* classes."""
        kwargs: dict[str, Any] = {
            "name": name,
            "workersMin": self._workers_min,
            "workersMax": self._workers_max,
            "idleTimeout": self.idle_timeout,
            "executionTimeoutMs": self.execution_timeout_ms,
            "flashboot": self.flashboot,
            "datacenter": self.datacenter,
            "scalerType": self._scaler_type(load_balanced),
            "scalerValue": self.scaler_value,
        }
        if self.template is not None:
            kwargs["template"] = self.template
        if self.volume is not None:
            if len(self.volume) == 1:
                kwargs["networkVolume"] = self.volume[0]
            else:
                kwargs["networkVolumes"] = list(self.volume)
        if self.env is not None:
            kwargs["env"] = self.env
        if self.is_cpu:
            kwargs["instanceIds"] = self.cpu
        else:
            if self._gpu is not None:
                kwargs["gpus"] = self.gpu
            kwargs["gpuCount"] = self.gpu_count
            if self.min_cuda_version is not None:
                kwargs["minCudaVersion"] = self.min_cuda_version
        if self.image is not None:
            kwargs["imageName"] = self.image
        facts = tables.resource_class_for(load_balanced=load_balanced, cpu=self.is_cpu, live=True)
        return RESOURCE_TYPES[facts.name](**kwargs)

    # -- queue-based: the endpoint decorates one function or class --

    def __call__(self, target: T) -> T:
        if self.is_client:
            mode = "id" if self.id is not None else "image"
            raise ValueError(
                f"cannot use Endpoint({mode}=...) as a decorator: it is a client of an endpoint "
                "whose code is not here; use Endpoint(name=...) for your own code"
            )
        if self._routes:
            raise ValueError(
                "cannot use Endpoint as a direct decorator after registering routes with "
                ".get()/.post()/etc.; use one pattern or the other"
            )
        if self._qb_target is not None:
            raise ValueError(
                f"this Endpoint already runs {self._qb_target.__qualname__}; a queue-based "
                "endpoint serves one function or class, so create another Endpoint"
            )
        name = self.name if self.name is not None else validation.check_endpoint_name(target.__name__)
        config = self._resource_config
        if config is None:
            config = self._build_resource_config(name, load_balanced=False)
        self.name, self._qb_target, self._resource_config = name, target, config
        return decorate(
            target,
            config,
            dependencies=self.dependencies,
            system_dependencies=self.system_dependencies,
            max_concurrency=self._max_concurrency,
        )

    # -- load-balanced: HTTP routes sharing the endpoint's workers --

    def get(self, path: str, data: Any = None, **kwargs: Any) -> Callable[[T], T]:
        """Decorator registering a GET route (an HTTP call on a client endpoint)."""
        return self._http("GET", path, data, kwargs)

    def post(self, path: str, data: Any = None, **kwargs: Any) -> Callable[[T], T]:
        """Decorator registering a POST route (an HTTP call on a client endpoint)."""
        return self._http("POST", path, data, kwargs)

    def put(self, path: str, data: Any = None, **kwargs: Any) -> Callable[[T], T]:
        """Decorator registering a PUT route (an HTTP call on a client endpoint)."""
        return self._http("PUT", path, data, kwargs)

    def delete(self, path: str, data: Any = None, **kwargs: Any) -> Callable[[T], T]:
        """Decorator registering a DELETE route (an HTTP call on a client endpoint)."""
        return self._http("DELETE", path, data, kwargs)

    def patch(self, path: str, data: Any = None, **kwargs: Any) -> Callable[[T], T]:
        """Decorator registering a PATCH route (an HTTP call on a client endpoint)."""
        return self._http("PATCH", path, data, kwargs)

    def _http(self, method: str, path: str, data: Any, kwargs: dict[str, Any]) -> Callable[[T], T]:
        if self.is_client:
            return _ClientCall(self, method, path, data, kwargs)  # type: ignore[return-value]
        if data is not None or kwargs:
            raise TypeError(
                "data and keyword arguments are only valid on a client Endpoint (id= or image=); "
                f"to register a route use @api.{method.lower()}('/path') alone"
            )
        return self._route(method, path)

    # -- calling the deployed endpoint as a client --

    def _client_name(self) -> str:
        name = self.name if self.name is not None else self.id
        if name is None:
            raise SettingError("name", "this Endpoint has no name or id to call it by")
        return name

    def _client_url(self, load_balanced: bool) -> str | None:
        """The environment's URL wins (the client reads it); else RunPod's, from the id."""
        from .. import client

        if os.environ.get(client.url_variable(self._client_name()), "").strip() or self.id is None:
            return None
        if load_balanced:
            return f"https://{self.id}.api.runpod.ai"
        return f"https://api.runpod.ai/v2/{self.id}"

    def _jobs(self) -> Any:
        from .. import client

        return client.Jobs(
            self._client_name(),
            url=self._client_url(load_balanced=False),
            execution_timeout_ms=self.execution_timeout_ms or None,
        )

    async def run(self, input: Mapping[str, Any], webhook: str | None = None) -> EndpointJob:
        """Queue a job with ``input`` (``POST /run``); returns it, to ``wait`` for or ``cancel``."""
        jobs = self._jobs()
        return EndpointJob(await jobs.run(input, webhook=webhook), jobs)

    async def runsync(self, input: Mapping[str, Any], timeout: float = 60) -> EndpointJob:
        """Run a job with ``input`` (``POST /runsync``), waiting up to ``timeout`` seconds for the answer."""
        jobs = self._jobs()
        return EndpointJob(await jobs.runsync(input, timeout=timeout), jobs)

    async def cancel(self, job_id: str) -> EndpointJob:
        """Cancel the job ``job_id`` (``POST /cancel/{id}``)."""
        jobs = self._jobs()
        return EndpointJob(await jobs.cancel(job_id), jobs)

    def _route(self, method: str, path: str) -> Callable[[T], T]:
        if self.name is None:
            raise SettingError(
                "name", "name is required for load-balanced endpoints: use Endpoint(name='my-api', ...)"
            )
        method, path = validation.check_route(method, path)
        if self._qb_target is not None:
            raise ValueError(
                "cannot add routes after using Endpoint as a direct decorator; "
                "use one pattern or the other"
            )

        def decorator(function: T) -> T:
            for route in self._routes:
                if (route["method"], route["path"]) == (method, path):
                    raise ValueError(
                        f"duplicate route: {method} {path} (already registered to "
                        f"'{route['function_name']}')"
                    )
            # The first route makes the endpoint load-balanced: (re)build its resource.
            config = self._resource_config if self._routes else self._build_resource_config(self.name, True)
            self._resource_config = config
            self._routes.append(
                {"method": method, "path": path, "function": function, "function_name": function.__name__}
            )
            return decorate(
                function,
                config,
                dependencies=self.dependencies,
                system_dependencies=self.system_dependencies,
                method=method,
                path=path,
            )

        return decorator

    def __repr__(self) -> str:
        kind = "client" if self.is_client else "load-balanced" if self.is_load_balanced else "queue-based"
        return f"<Endpoint name={self.name!r} id={self.id!r} {kind} {'cpu' if self.is_cpu else 'gpu'}>"


class _ClientCall:
    """What ``get``/``post``/... return on a client Endpoint: an HTTP call to await.

    It is not a decorator (client endpoints have no routes of their own), and
    says so when used as one.
    """

    def __init__(self, endpoint: Endpoint, method: str, path: str, data: Any, options: dict[str, Any]) -> None:
        unknown = sorted(set(options) - {"timeout"})
        if unknown:
            raise TypeError(f"{method.lower()}() got unexpected keyword arguments: {', '.join(unknown)}")
        if not isinstance(path, str) or not path.startswith("/"):
            raise SettingError("path", f"path must start with '/', got {path!r}")
        self._endpoint, self._method, self._path, self._data = endpoint, method, path, data
        self._timeout = options.get("timeout")

    async def _send(self) -> Any:
        from .. import client

        endpoint = self._endpoint
        return await client.http_request(
            endpoint._client_name(),
            self._method,
            self._path,
            self._data,
            url=endpoint._client_url(load_balanced=True),
            timeout=self._timeout,
        )

    def __await__(self) -> Generator[Any, None, Any]:
        return self._send().__await__()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"{self._method.lower()}({self._path!r}) on a client Endpoint (id= or image=) is an HTTP "
            "call to the deployed endpoint, to be awaited, not a route decorator; routes belong to "
            "Endpoint(name=...) without id= or image="
        )

    def __repr__(self) -> str:
        return f"<{self._method} {self._path} on {self._endpoint!r}, not yet awaited>"


def _volumes(volume: object) -> list[NetworkVolume] | None:
    """One ``NetworkVolume`` or a non-empty list of them."""
    if volume is None:
        return None
    if isinstance(volume, NetworkVolume):
        return [volume]
    if isinstance(volume, list) and volume and all(isinstance(v, NetworkVolume) for v in volume):
        return list(volume)
    raise SettingError(
        "volume", f"volume must be a NetworkVolume or a non-empty list of them, got {volume!r}"
    )
