"""FC310–FC311: names the platform uses as keys must be unique.

An endpoint's name identifies its deployed resource, and a function's name is its
key in the manifest's function registry; two meanings for one name deploy one of
them silently, or fail at deploy time (runpod-flash: "defined in multiple files").
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.codes import ENDPOINT_NAME_DUPLICATE, FUNCTION_NAME_DUPLICATE
from ..diagnostics import Diagnostic, Note, Severity
from ..model import Endpoint, EndpointFunction
from .base import Rule
from .context import RuleContext

RULES: tuple[Rule, ...] = (
    Rule(
        ENDPOINT_NAME_DUPLICATE,
        "endpoint-name-duplicate",
        "One endpoint name for different configurations, or declared in different files.",
        Severity.ERROR,
        None,
        why=(
            "The name is the deployed resource's identity: two configurations under one name "
            "overwrite each other on deploy, and runpod-flash refuses a name declared in two files."
        ),
        example=(
            "# a.py\n"
            "@Endpoint(name=\"worker\", gpu=GpuGroup.AMPERE_24)\n"
            "async def a(x): ...\n\n"
            "# b.py\n"
            "@Endpoint(name=\"worker\", cpu=\"cpu3c-1-2\")\n"
            "async def b(x): ..."
        ),
        instead=(
            "# a.py\n"
            "@Endpoint(name=\"gpu-worker\", gpu=GpuGroup.AMPERE_24)\n"
            "async def a(x): ...\n\n"
            "# b.py\n"
            "@Endpoint(name=\"cpu-worker\", cpu=\"cpu3c-1-2\")\n"
            "async def b(x): ..."
        ),
        notes=(
            "Several functions may share one endpoint: give them the same configuration object "
            "(`@remote(cfg)` with one `cfg`), or identical `@Endpoint(...)` declarations in one file."
        ),
    ),
    Rule(
        FUNCTION_NAME_DUPLICATE,
        "function-name-duplicate",
        "One function name registered under two endpoints.",
        Severity.ERROR,
        None,
        why=(
            "Cross-endpoint calls are routed by function name through the manifest's function "
            "registry, which holds one endpoint per name: the other function becomes unreachable."
        ),
        example=(
            "@remote(resource_config=gpu)\n"
            "async def process(x): ...\n\n"
            "@remote(resource_config=cpu)\n"
            "async def process(x): ...  # in another module"
        ),
        instead=(
            "@remote(resource_config=gpu)\n"
            "async def process_image(x): ...\n\n"
            "@remote(resource_config=cpu)\n"
            "async def process_text(x): ..."
        ),
    ),
)


def check(context: RuleContext) -> Iterator[Diagnostic]:
    if not context.whole_project:
        return
    yield from _endpoint_names(context.model.endpoints)
    yield from _function_names(list(context.functions()))


def _endpoint_names(endpoints: tuple[Endpoint, ...]) -> Iterator[Diagnostic]:
    first: dict[str, Endpoint] = {}
    for endpoint in endpoints:
        if endpoint.name is None:
            continue
        earlier = first.setdefault(endpoint.name, endpoint)
        if earlier is endpoint:
            continue
        if earlier.path != endpoint.path:
            reason = f"is also declared in `{earlier.path}`"
        elif earlier.configuration_key() != endpoint.configuration_key():
            reason = "is already used by an endpoint with a different configuration"
        else:
            continue  # the same configuration twice in one file: merged into one endpoint by the analysis
        yield Diagnostic(
            ENDPOINT_NAME_DUPLICATE,
            f"Endpoint name `{endpoint.name}` {reason}",
            endpoint.config_span,
            Severity.ERROR,
            notes=(Note(f"`{endpoint.name}` is first configured here", earlier.config_span),),
        )


def _function_names(functions: list[tuple[Endpoint, EndpointFunction]]) -> Iterator[Diagnostic]:
    first: dict[str, tuple[Endpoint, EndpointFunction]] = {}
    for endpoint, function in functions:
        earlier_endpoint, earlier = first.setdefault(function.name, (endpoint, function))
        if earlier is function or (earlier.module, earlier.name) == (function.module, function.name):
            continue
        where = f"endpoint `{earlier_endpoint.name}`" if earlier_endpoint.name else "another endpoint"
        if earlier_endpoint is endpoint:
            where = "this endpoint, from another module"
        yield Diagnostic(
            FUNCTION_NAME_DUPLICATE,
            f"Function name `{function.name}` is already registered under {where}",
            function.span,
            Severity.ERROR,
            notes=(Note(f"`{function.name}` is first registered here", earlier.span),),
        )
