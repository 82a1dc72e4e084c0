"""Hover: the endpoint under the cursor, described with the facts ``flashc inspect`` shows."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Position, Span
from ..model import Endpoint, ProjectModel, Setting
from ..render.inspect import SUMMARY_KEYS, format_value, signature


def endpoint_at(model: ProjectModel, path: str, position: Position) -> tuple[Endpoint, Span] | None:
    """The endpoint whose declaration covers ``position`` in ``path``, and the span hovered.

    A declaration is the ``def``/``class`` name, its decorators (routes included)
    and the configuration object (``Endpoint(...)``, ``LiveServerless(...)``).
    The innermost span wins (a route decorator over its endpoint's config).
    """
    found = [
        (span, endpoint)
        for endpoint in model.endpoints
        for span in _declaration_spans(endpoint)
        if span.path == path and span.start <= position <= span.end
    ]
    if not found:
        return None
    span, endpoint = min(found, key=lambda pair: (_size(pair[0]), pair[0].start))
    return endpoint, span


def _declaration_spans(endpoint: Endpoint) -> Iterator[Span]:
    yield endpoint.config_span
    for function in endpoint.functions:
        yield function.span
        yield function.decorator_span
        yield from function.sdk_decorator_spans
        for route in function.routes:
            yield route.span


def _size(span: Span) -> tuple[int, int]:
    lines = span.end.line - span.start.line
    return (lines, span.end.column - span.start.column if lines == 0 else span.end.column)


def markdown(endpoint: Endpoint) -> str:
    """The endpoint as Markdown: name, kind, compute, settings, dependencies, functions and routes."""
    kind = "load-balanced" if endpoint.kind.value == "load-balanced" else "queue"
    name = endpoint.name or "<unresolved name>"
    lines = [
        f"**{_code(name)}**: {kind} endpoint, {endpoint.compute.value.upper()}, {_code(endpoint.resource_class)}",
        "",
        f"Declared at {_code(_where(endpoint.config_span))}"
        + (f" as {_code(endpoint.config_variable)}" if endpoint.config_variable else ""),
        "",
    ]
    settings = {s.key: s for s in endpoint.settings}
    for key in SUMMARY_KEYS:
        if key in settings:
            lines.append(f"- {key}: {_setting(settings[key])}")
    lines.append(f"- dependencies: {', '.join(_code(d) for d in endpoint.dependencies) or 'none'}")
    if endpoint.system_dependencies:
        lines.append(f"- system dependencies: {', '.join(_code(d) for d in endpoint.system_dependencies)}")
    lines += ["", "Serves:", ""]
    for function in endpoint.functions:
        lines.append(f"- {_code(signature(function))} at {_code(_where(function.span))}")
        for route in function.routes:
            route_text = f"{route.method or '?'} {route.path or '?'}"
            lines.append(f"    - {_code(route_text)}")
        for call in function.endpoint_calls:
            lines.append(f"    - calls {_code(call.callee)}{'' if call.awaited else ' (not awaited)'}")
    if endpoint.problems:
        lines += ["", "Problems:", ""]
        lines.extend(f"- {problem.code} {problem.message}" for problem in endpoint.problems)
    return "\n".join(lines) + "\n"


def _setting(setting: Setting) -> str:
    if setting.unresolved is not None:
        return f"unresolved ({setting.unresolved.reason})"
    shown = _code(format_value(setting.value))
    return f"{shown} (default)" if setting.origin == "default" else shown


def _where(span: Span) -> str:
    return f"{span.path}:{span.start.line}"


def _code(text: str) -> str:
    """``text`` as a Markdown code span (longer fences when it holds backticks)."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"
