"""``flashc inspect`` output: the ProjectModel as a readable table or as stable JSON.

The JSON form is documented in ``docs/inspect-schema.md``; keys are sorted,
positions are ``{"path", "line", "column"}`` with 1-based line and column, and
nothing machine-specific (absolute paths, times) appears, so it can be diffed
and attached to bug reports.
"""

from __future__ import annotations

import json

from ..diagnostics import Diagnostic, Span
from ..model import Endpoint, EndpointFunction, Parameter, ProjectModel, Setting

SCHEMA_VERSION = 1


def position(span: Span | None) -> dict[str, object] | None:
    if span is None:
        return None
    return {"path": span.path, "line": span.start.line, "column": span.start.column + 1}


def diagnostic_json(diagnostic: Diagnostic) -> dict[str, object]:
    return {
        "code": diagnostic.code,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        "location": position(diagnostic.span),
    }


def _setting_json(setting: Setting) -> dict[str, object]:
    return {
        "value": setting.value,
        "origin": setting.origin,
        "location": position(setting.span),
        "unresolved": None
        if setting.unresolved is None
        else {"reason": setting.unresolved.reason, "location": position(setting.unresolved.span)},
    }


def _parameter_json(parameter: Parameter) -> dict[str, object]:
    return {
        "name": parameter.name,
        "kind": parameter.kind,
        "has_default": parameter.has_default,
        "annotation": parameter.annotation,
    }


def _function_json(function: EndpointFunction) -> dict[str, object]:
    return {
        "name": function.name,
        "module": function.module,
        "location": position(function.span),
        "is_async": function.is_async,
        "is_class": function.is_class,
        "local": function.local,
        "nested_in": function.enclosing_function,
        "parameters": [_parameter_json(p) for p in function.parameters],
        "methods": [
            {
                "name": m.name,
                "is_async": m.is_async,
                "parameters": [_parameter_json(p) for p in m.parameters],
                "location": position(m.span),
            }
            for m in function.methods
        ],
        "routes": [
            {
                "method": r.method,
                "path": r.path,
                "location": position(r.span),
                "unresolved": None if r.unresolved is None else r.unresolved.reason,
            }
            for r in function.routes
        ],
        "imports": [
            {"module": i.module, "names": list(i.names), "local": i.is_local, "location": position(i.span)}
            for i in function.body_imports
        ],
        "calls": [
            {"callee": c.callee, "awaited": c.awaited, "location": position(c.span)}
            for c in function.endpoint_calls
        ],
        "docstring": function.docstring,
    }


def endpoint_json(endpoint: Endpoint) -> dict[str, object]:
    return {
        "name": endpoint.name,
        "kind": endpoint.kind.value,
        "compute": endpoint.compute.value,
        "resource_class": endpoint.resource_class,
        "live": endpoint.live,
        "spelling": endpoint.spelling.value,
        "config_variable": endpoint.config_variable,
        "location": position(endpoint.config_span),
        "settings": {s.key: _setting_json(s) for s in endpoint.settings},
        "dependencies": list(endpoint.dependencies),
        "system_dependencies": list(endpoint.system_dependencies),
        "makes_remote_calls": endpoint.makes_remote_calls,
        "functions": [_function_json(f) for f in endpoint.functions],
        "problems": [diagnostic_json(d) for d in endpoint.problems],
    }


def model_json(model: ProjectModel) -> dict[str, object]:
    return {
        "schema_version": SCHEMA_VERSION,
        "project": {
            "name": model.name,
            "python_version": model.config.python_version,
        },
        "modules": [
            {"path": m.path, "module": m.module, "endpoints": m.endpoints, "analysed": not m.skipped}
            for m in model.modules
        ],
        "endpoints": [endpoint_json(e) for e in model.endpoints],
        "diagnostics": [diagnostic_json(d) for d in model.diagnostics],
    }


def render_json(model: ProjectModel) -> str:
    return json.dumps(model_json(model), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- text ------------------------------------------------------------------------------------

SUMMARY_KEYS = ("gpu", "cpu", "workers", "idle_timeout", "datacenter", "image", "max_concurrency")
"""The settings an endpoint's summary lists (here and in the editor's hover), in this order."""


def format_value(value: object) -> str:
    """A setting's JSON value as people read it (``1..3``, ``a, b``, ``k=v``, ``-``); also the editor's hover."""
    if isinstance(value, list):
        if len(value) == 2 and all(isinstance(v, int) for v in value):
            return f"{value[0]}..{value[1]}"
        return ", ".join(format_value(v) for v in value) if value else "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items()) or "-"
    if value is None:
        return "-"
    return str(value)


def signature(function: EndpointFunction) -> str:
    """``async def f(a, b)`` / ``class C: m(x)``: how an endpoint function is listed."""
    if function.is_class:
        methods = ", ".join(f"{m.name}({', '.join(p.name for p in m.parameters)})" for m in function.methods)
        return f"class {function.name}: {methods or 'no public methods'}"
    prefix = "async def" if function.is_async else "def"
    return f"{prefix} {function.name}({', '.join(p.name for p in function.parameters)})"


def _endpoint_text(endpoint: Endpoint) -> list[str]:
    name = endpoint.name or "<unresolved name>"
    kind = "load-balanced" if endpoint.kind.value == "load-balanced" else "queue"
    lines = [f"{name}  [{kind}, {endpoint.compute.value.upper()}, {endpoint.resource_class}]  {endpoint.config_span}"]
    for function in endpoint.functions:
        lines.append(f"    {signature(function)}  {function.span}")
        for route in function.routes:
            lines.append(f"        {route.method or '?'} {route.path or '?'}")
        for call in function.endpoint_calls:
            lines.append(f"        calls {call.callee}{'' if call.awaited else ' (not awaited)'}")
    settings = {s.key: s for s in endpoint.settings}
    for key in SUMMARY_KEYS:
        setting = settings.get(key)
        if setting is None:
            continue
        shown = f"unresolved: {setting.unresolved.reason}" if setting.unresolved else format_value(setting.value)
        marker = "  (default)" if setting.origin == "default" else ""
        lines.append(f"    {key:<16}{shown}{marker}")
    if endpoint.dependencies:
        lines.append(f"    {'dependencies':<16}{', '.join(endpoint.dependencies)}")
    if endpoint.system_dependencies:
        lines.append(f"    {'system deps':<16}{', '.join(endpoint.system_dependencies)}")
    for problem in endpoint.problems:
        lines.append(f"    ! {problem.code} {problem.message}  {problem.span}")
    return lines


def render_text(model: ProjectModel) -> str:
    count = len(model.endpoints)
    analysed = sum(1 for m in model.modules if not m.skipped)
    header = (
        f"{model.name}: {count} endpoint{'s' if count != 1 else ''} "
        f"in {len(model.modules)} module{'s' if len(model.modules) != 1 else ''} ({analysed} analysed)"
    )
    lines = [header]
    for endpoint in model.endpoints:
        lines.append("")
        lines.extend(_endpoint_text(endpoint))
    if model.diagnostics:
        lines.append("")
        lines.extend(f"! {d.code} {d.message}  {d.span}" for d in model.diagnostics)
    return "\n".join(lines) + "\n"
