"""Endpoint configuration and load-balancer routes (FC3xx).

The front end (``flashc.analysis.resolve`` and ``settings``) finds these while
it resolves each endpoint with the SDK's own validation, so :func:`check`
adds nothing; this module holds their documentation for the catalogue,
``select``/``ignore`` and suppression comments.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis import codes
from ..diagnostics import Diagnostic, Severity
from .base import Rule
from .context import RuleContext

_LOAD_BALANCER_CLASSES = "`LiveLoadBalancer`, `CpuLiveLoadBalancer`, `LoadBalancerSlsResource`, `CpuLoadBalancerSlsResource`"

RULES: tuple[Rule, ...] = (
    Rule(
        code=codes.LB_ROUTE_INCOMPLETE,
        name="lb-route-incomplete",
        summary="`@remote` on a load-balancer resource without both `method=` and `path=`.",
        severity=Severity.ERROR,
        fix=None,
        why=(
            "A load-balanced endpoint serves each function at an HTTP route. A `@remote` function on a "
            f"load-balancer class ({_LOAD_BALANCER_CLASSES}) without a method or a path has no route, "
            "so no request can reach it."
        ),
        example=(
            "from runpod_flash import LiveLoadBalancer, remote\n\n"
            'api = LiveLoadBalancer(name="api")\n\n\n'
            '@remote(api, method="POST")\n'
            "async def predict(data: dict) -> dict:\n"
            "    return data\n"
        ),
        instead=(
            "from runpod_flash import LiveLoadBalancer, remote\n\n"
            'api = LiveLoadBalancer(name="api")\n\n\n'
            '@remote(api, method="POST", path="/predict")\n'
            "async def predict(data: dict) -> dict:\n"
            "    return data\n"
        ),
        notes=(
            "Reported at the decorator, naming the missing argument. Routes written as "
            '`@api.post("/path")` on `api = Endpoint(...)` always have both parts.'
        ),
    ),
    Rule(
        code=codes.LB_PATH_INVALID,
        name="lb-path-invalid",
        summary="A route path that does not start with `/` or contains white space.",
        severity=Severity.ERROR,
        fix=None,
        why="The worker matches request URLs against the path; a path without a leading `/` or with spaces never matches.",
        example=(
            "from runpod_flash import Endpoint\n\n"
            'api = Endpoint(name="api", cpu="cpu3c-1-2")\n\n\n'
            '@api.post("predict")\n'
            "async def predict(data: dict) -> dict:\n"
            "    return data\n"
        ),
        instead=(
            "from runpod_flash import Endpoint\n\n"
            'api = Endpoint(name="api", cpu="cpu3c-1-2")\n\n\n'
            '@api.post("/predict")\n'
            "async def predict(data: dict) -> dict:\n"
            "    return data\n"
        ),
        notes=(
            "Applies to `@api.get/post/put/delete/patch(path)` and to `@remote(..., path=...)`; also reported "
            "when the path or method expression itself is invalid. The worker's own paths are FC305; a path "
            "flashc cannot evaluate statically is FC322."
        ),
    ),
    Rule(
        code=codes.LB_METHOD_INVALID,
        name="lb-method-invalid",
        summary="A route method other than GET, POST, PUT, DELETE or PATCH.",
        severity=Severity.ERROR,
        fix=None,
        why="The load balancer only routes these five HTTP methods; any other is rejected when the endpoint is deployed.",
        example=(
            "from runpod_flash import LiveLoadBalancer, remote\n\n"
            'api = LiveLoadBalancer(name="api")\n\n\n'
            '@remote(api, method="post", path="/predict")\n'
            "async def predict(data: dict) -> dict:\n"
            "    return data\n"
        ),
        instead=(
            "from runpod_flash import LiveLoadBalancer, remote\n\n"
            'api = LiveLoadBalancer(name="api")\n\n\n'
            '@remote(api, method="POST", path="/predict")\n'
            "async def predict(data: dict) -> dict:\n"
            "    return data\n"
        ),
        notes=(
            "`@remote(method=...)` is case-sensitive, as in runpod-flash: `\"post\"` is invalid there. "
            "Reported at the `method=` argument."
        ),
    ),
    Rule(
        code=codes.LB_ROUTE_DUPLICATE,
        name="lb-route-duplicate",
        summary="Two functions of one load-balanced endpoint serve the same method and path.",
        severity=Severity.ERROR,
        fix=None,
        why="Only one handler can answer a request; the other function would be unreachable.",
        example=(
            "from runpod_flash import Endpoint\n\n"
            'api = Endpoint(name="api", cpu="cpu3c-1-2")\n\n\n'
            '@api.post("/items")\n'
            "async def create(item: dict) -> dict:\n"
            "    return item\n\n\n"
            '@api.post("/items")\n'
            "async def replace(item: dict) -> dict:\n"
            "    return item\n"
        ),
        instead=(
            "from runpod_flash import Endpoint\n\n"
            'api = Endpoint(name="api", cpu="cpu3c-1-2")\n\n\n'
            '@api.post("/items")\n'
            "async def create(item: dict) -> dict:\n"
            "    return item\n\n\n"
            '@api.put("/items")\n'
            "async def replace(item: dict) -> dict:\n"
            "    return item\n"
        ),
        notes=(
            "Reported at the later route, naming the function that already serves it. The same path with "
            "another method, or the same route on another endpoint, is fine."
        ),
    ),
    Rule(
        code=codes.LB_PATH_RESERVED,
        name="lb-path-reserved",
        summary="A route on `/ping` or `/execute`, which the worker serves itself.",
        severity=Severity.ERROR,
        fix=None,
        why="The worker answers health checks on `/ping` and queue-style jobs on `/execute`; a route there would never be called.",
        example=(
            "from runpod_flash import Endpoint\n\n"
            'api = Endpoint(name="api", cpu="cpu3c-1-2")\n\n\n'
            '@api.get("/ping")\n'
            "async def ping() -> dict:\n"
            '    return {"ok": True}\n'
        ),
        instead=(
            "from runpod_flash import Endpoint\n\n"
            'api = Endpoint(name="api", cpu="cpu3c-1-2")\n\n\n'
            '@api.get("/health")\n'
            "async def health() -> dict:\n"
            '    return {"ok": True}\n'
        ),
        notes="Exact matches only: `/ping/deep` or `/executions` are allowed.",
    ),
    Rule(
        code=codes.ROUTE_ON_QUEUE_ENDPOINT,
        name="route-on-queue-endpoint",
        summary="`method=`/`path=` on `@remote` with a queue-based resource, where they are ignored.",
        severity=Severity.WARNING,
        fix=None,
        why=(
            "Queue-based endpoints (`LiveServerless`, `ServerlessEndpoint` and their CPU variants) take jobs, "
            "not HTTP requests: the route is silently dropped, which usually means the wrong resource class."
        ),
        example=(
            "from runpod_flash import LiveServerless, remote\n\n"
            'gpu = LiveServerless(name="worker")\n\n\n'
            '@remote(gpu, method="POST", path="/predict")\n'
            "async def predict(data: dict) -> dict:\n"
            "    return data\n"
        ),
        instead=(
            "from runpod_flash import LiveLoadBalancer, remote\n\n"
            'api = LiveLoadBalancer(name="worker")\n\n\n'
            '@remote(api, method="POST", path="/predict")\n'
            "async def predict(data: dict) -> dict:\n"
            "    return data\n"
        ),
        notes="Reported at `method=` (else `path=`). Remove the arguments if a queue endpoint is what you want.",
    ),
    Rule(
        code=codes.ENDPOINT_NAME_INVALID,
        name="endpoint-name-invalid",
        summary="An endpoint name that is empty, too long or has characters Runpod does not accept.",
        severity=Severity.ERROR,
        fix=None,
        why=(
            "The name becomes the endpoint's template name and URL label: at most 63 characters of letters, "
            "digits, `-`, `_` and `.`, starting with a letter or digit. Deploying another name fails."
        ),
        example=(
            "from runpod_flash import Endpoint\n\n\n"
            '@Endpoint(name="text summarizer")\n'
            "async def summarize(text: str) -> str:\n"
            "    return text[:100]\n"
        ),
        instead=(
            "from runpod_flash import Endpoint\n\n\n"
            '@Endpoint(name="text-summarizer")\n'
            "async def summarize(text: str) -> str:\n"
            "    return text[:100]\n"
        ),
        notes="Checks `name=` of `Endpoint(...)` and of the resource classes, and the function name an unnamed `@Endpoint(...)` uses.",
    ),
    Rule(
        code=codes.CONFIG_VALUE_INVALID,
        name="config-value-invalid",
        summary="A configuration value runpod-flash would reject, or settings that contradict each other.",
        severity=Severity.ERROR,
        fix=None,
        why=(
            "These values fail when the endpoint is created, after the build; flashc applies runpod-flash's "
            "own validation to each value before anything is deployed."
        ),
        example=(
            "from runpod_flash import Endpoint, GpuGroup\n\n\n"
            '@Endpoint(name="worker", gpu=GpuGroup.ADA_24, idle_timeout=0, workers=(3, 1))\n'
            "async def work(n: int) -> int:\n"
            "    return n\n"
        ),
        instead=(
            "from runpod_flash import Endpoint, GpuGroup\n\n\n"
            '@Endpoint(name="worker", gpu=GpuGroup.ADA_24, idle_timeout=5, workers=(1, 3))\n'
            "async def work(n: int) -> int:\n"
            "    return n\n"
        ),
        notes=(
            "Covers unknown enum members (`GpuGroup.NOPE`), values out of range, wrong types, mutually "
            "exclusive settings (`gpu=` with `cpu=`, `id=` with `image=`), CPU endpoints in data centres "
            "without CPU workers, network volumes outside the endpoint's data centres, container disks over "
            "the CPU instance's limit, a `resource_config` that is not a resource class or is used before it "
            "is assigned, and a function declared for more than one endpoint. `max_concurrency` on a "
            "load-balanced endpoint is reported as a warning, since it is ignored rather than rejected."
        ),
    ),
    Rule(
        code=codes.CONFIG_ARGUMENT_UNKNOWN,
        name="config-argument-unknown",
        summary="A keyword argument that `remote`, `Endpoint` or a resource class does not have.",
        severity=Severity.ERROR,
        fix=None,
        why=(
            "An unknown argument is almost always a misspelt setting, which then never applies. runpod-flash "
            "silently ignores unknown arguments to the resource classes; flashc reports them with the "
            "closest known name."
        ),
        example=(
            "from runpod_flash import Endpoint, GpuGroup\n\n\n"
            '@Endpoint(name="worker", gpu=GpuGroup.ADA_24, worker=2)\n'
            "async def work(n: int) -> int:\n"
            "    return n\n"
        ),
        instead=(
            "from runpod_flash import Endpoint, GpuGroup\n\n\n"
            '@Endpoint(name="worker", gpu=GpuGroup.ADA_24, workers=2)\n'
            "async def work(n: int) -> int:\n"
            "    return n\n"
        ),
        notes="Also checks `NetworkVolume(...)` and `PodTemplate(...)`. Reported at the argument.",
    ),
    Rule(
        code=codes.CONFIG_NOT_STATIC,
        name="config-not-static",
        summary="A setting or declaration flashc cannot resolve without running the program.",
        severity=Severity.WARNING,
        fix=None,
        why=(
            "flashc reads the project without importing it. A value that needs the program to run (an "
            "environment variable, a function call, a value from a package outside the project) is left "
            "unresolved: the build cannot check it or write it into the manifest."
        ),
        example=(
            "import os\n\n"
            "from runpod_flash import Endpoint\n\n\n"
            '@Endpoint(name=os.environ["ENDPOINT_NAME"])\n'
            "async def work(n: int) -> int:\n"
            "    return n\n"
        ),
        instead=(
            "from runpod_flash import Endpoint\n\n"
            'ENDPOINT_NAME = "worker"\n\n\n'
            "@Endpoint(name=ENDPOINT_NAME)\n"
            "async def work(n: int) -> int:\n"
            "    return n\n"
        ),
        notes=(
            "The message gives the reason; when the value is defined elsewhere, a note points there. Literals, enum "
            "members, module constants (also imported from project modules), f-strings of constants and "
            "`**` of literal dicts are resolved. A warning, except for `@Endpoint` or `@remote` written "
            "without a call (`@Endpoint` instead of `@Endpoint(...)`), which declares no endpoint at all "
            "and is an error."
        ),
    ),
    Rule(
        code=codes.CONFIG_REQUIRED_MISSING,
        name="config-required-missing",
        summary="A setting the endpoint cannot be created without.",
        severity=Severity.ERROR,
        fix=None,
        why="runpod-flash raises when the endpoint is created; flashc reports it before the build.",
        example=(
            "from runpod_flash import Endpoint\n\n"
            'api = Endpoint(cpu="cpu3c-1-2")\n\n\n'
            '@api.post("/predict")\n'
            "async def predict(data: dict) -> dict:\n"
            "    return data\n"
        ),
        instead=(
            "from runpod_flash import Endpoint\n\n"
            'api = Endpoint(name="api", cpu="cpu3c-1-2")\n\n\n'
            '@api.post("/predict")\n'
            "async def predict(data: dict) -> dict:\n"
            "    return data\n"
        ),
        notes=(
            "Covers `remote()` without a resource configuration, load-balanced `Endpoint(...)` without "
            "`name=`, `image=` without `name=` or `id=`, `ServerlessEndpoint`-style classes without "
            "`imageName`, `template` or `templateId` (the `Live*` classes default to the flash worker "
            "images), and required arguments of the SDK's classes."
        ),
    ),
)


def check(context: RuleContext) -> Iterator[Diagnostic]:
    """Nothing to add: the front end reports these codes while resolving endpoints."""
    return iter(())
