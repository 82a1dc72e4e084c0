"""Grouping declarations into endpoints and resolving each endpoint's configuration.

runpod-flash's model: functions that share one configuration object form one
endpoint ("resource"). ``@remote(cfg)`` functions sharing ``cfg`` are one
endpoint; each ``@Endpoint(...)`` is one; all routes of one ``api = Endpoint(...)``
are one load-balanced endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flashc_runtime.sdk import tables, validation
from flashc_runtime.sdk.validation import SettingError, check_exclusive

from ..diagnostics import Diagnostic, Severity, Span
from ..model import Compute, Endpoint, EndpointFunction, EndpointKind, Route, Setting, Spelling, Unresolved
from .discover import Declaration, Target
from .evaluate import Invalid, Known, RouteDecorator, SdkCall, Unknown, Value
from .codes import (
    CONFIG_NOT_STATIC,
    CONFIG_REQUIRED_MISSING,
    CONFIG_VALUE_INVALID,
    LB_METHOD_INVALID,
    LB_PATH_INVALID,
    LB_PATH_RESERVED,
    LB_ROUTE_DUPLICATE,
    LB_ROUTE_INCOMPLETE,
    ROUTE_ON_QUEUE_ENDPOINT,
)
from .settings import (
    UNSET,
    SettingsBuilder,
    _sentence,
    argument,
    common_checks,
    default_gpu_settings,
    template,
    uncertain_defaults,
    volumes,
)


@dataclass
class Group:
    """The declarations that share one configuration object."""

    spelling: Spelling
    config: SdkCall | None
    """``Endpoint(...)`` or the resource-class call; None when it cannot be resolved."""
    config_span: Span
    config_variable: str | None
    members: list[tuple[Target, list[Declaration]]] = field(default_factory=list)
    unresolved_config: Unknown | Invalid | None = None


def group_targets(targets: list[Target], problems: list[Diagnostic]) -> list[Group]:
    """Group targets by configuration object; a target belongs to its first declaration's group."""
    groups: dict[Span, Group] = {}
    for target in targets:
        keyed = [(_group_key(d), d) for d in target.declarations]
        key = keyed[0][0]
        group = groups.setdefault(key, _new_group(keyed[0][1]))
        for other_key, other in keyed[1:]:
            if other_key != key:
                problems.append(
                    Diagnostic(
                        CONFIG_VALUE_INVALID,
                        f"`{target.node.name}` is declared for more than one endpoint; only the first declaration applies",
                        other.span,
                    )
                )
        group.members.append((target, [d for k, d in keyed if k == key]))
    return list(groups.values())


def _config_call(declaration: Declaration) -> SdkCall | None:
    """The configuration object a declaration refers to (None for an unusable ``@remote`` config)."""
    decorator = declaration.decorator
    if isinstance(decorator, RouteDecorator):
        return decorator.endpoint
    if decorator.callee == "Endpoint":
        return decorator
    resource = _remote_resource(decorator)
    if isinstance(resource, Known) and isinstance(resource.value, SdkCall) and resource.value.callee in tables.RESOURCE_CLASSES:
        return resource.value
    return None


def _group_key(declaration: Declaration) -> Span:
    """Where the configuration object is created (an SDK call's identity is where it happens):
    the same for every module that uses it, even when each module's discovery evaluated it
    separately (an editor re-check rediscovers only the modules that changed)."""
    config = _config_call(declaration)
    return config.span if config is not None else declaration.decorator.span


def _new_group(declaration: Declaration) -> Group:
    decorator = declaration.decorator
    config = _config_call(declaration)
    if isinstance(decorator, RouteDecorator):
        spelling = Spelling.ROUTES
    elif decorator.callee == "Endpoint":
        spelling = Spelling.ENDPOINT
    else:
        spelling = Spelling.REMOTE
    if config is not None:
        return Group(spelling, config, config.span, declaration.config_variable)
    group = Group(Spelling.REMOTE, None, declaration.span, declaration.config_variable)
    resource = _remote_resource(decorator)  # type: ignore[arg-type]
    if isinstance(resource, (Unknown, Invalid)):
        group.unresolved_config = resource
    elif isinstance(resource, Known):
        group.unresolved_config = Invalid(
            f"`resource_config` must be one of the resource classes ({', '.join(tables.RESOURCE_CLASSES)})",
            resource.span,
        )
    return group


def _remote_resource(call: SdkCall) -> Value | None:
    if call.positional:
        return call.positional[0]
    keyword = call.keyword("resource_config")
    return keyword.value if keyword is not None else None


FunctionBuilder = Callable[[Target, tuple[Route, ...], bool], EndpointFunction]


def resolve_group(group: Group, build_function: FunctionBuilder, python_version: str) -> Endpoint:
    builder = SettingsBuilder(group.config_span)
    if group.spelling is Spelling.REMOTE:
        return _resolve_remote(group, builder, build_function, python_version)
    return _resolve_endpoint(group, builder, build_function, python_version)


# --- @Endpoint / api = Endpoint(...) --------------------------------------------------------


def _resolve_endpoint(group: Group, builder: SettingsBuilder, build_function: FunctionBuilder, python_version: str) -> Endpoint:
    call = group.config
    assert call is not None
    load_balanced = group.spelling is Spelling.ROUTES
    bound = tables.bind_arguments(tables.ENDPOINT, call.positional, [(k.name, k.value) for k in call.keywords])
    builder.binding_errors(bound.errors, call)
    given = {name for name in bound.arguments}
    functions = _functions(group, builder, build_function, load_balanced)
    for param in tables.ENDPOINT.params:
        value, span = argument(call, bound.arguments, param.name)
        if param.name == "volume" and value is not UNSET:
            volumes(builder, value, span, "volume")
        elif param.name == "template" and value is not UNSET:
            template(builder, value, span, "template")
        elif value is not UNSET:
            builder.add(param.name, value, span)
        elif param.name == "name" and not load_balanced and len(functions) == 1:
            builder.add("name", functions[0].name, None)
        elif param.name == "scaler_type":
            builder.add("scaler_type", "REQUEST_COUNT" if load_balanced else "QUEUE_DELAY", None)
        elif param.name == "workers":
            builder.add("workers", (tables.DEFAULT_WORKERS_MIN, tables.DEFAULT_WORKERS_MAX), None)
        elif param.default is not None:
            builder.add(param.name, param.default, None)
    cpu = "cpu" in given
    builder.check(lambda: _exclusive(given, "gpu", "cpu"), "cpu")
    builder.check(lambda: _exclusive(given, "id", "image"), "image")
    if "image" in given and builder.is_unset("name") and "id" not in given:
        builder.problem(CONFIG_REQUIRED_MISSING, "`image=` needs `name=` or `id=`", builder.settings["image"].span or call.span)
    if load_balanced and "name" not in given:
        builder.problem(CONFIG_REQUIRED_MISSING, "Load-balanced endpoints need a name: `Endpoint(name=...)`", call.span)
    if not cpu and "id" not in given:
        default_gpu_settings(builder)
    if load_balanced and isinstance(builder.resolved("max_concurrency"), int) and builder.resolved("max_concurrency") > 1:
        builder.problem(
            CONFIG_VALUE_INVALID,
            "`max_concurrency` applies to queue-based endpoints only; load-balanced endpoints ignore it",
            builder.settings["max_concurrency"].span or call.span,
            Severity.WARNING,
        )
    resource = tables.resource_class_for(load_balanced=load_balanced, cpu=cpu)
    if "image" not in given:
        builder.add("image", tables.default_image(resource.image_type, python_version), None)
    common_checks(builder, load_balanced=load_balanced, cpu=cpu)
    uncertain_defaults(builder, call)
    return _endpoint(group, builder, functions, resource, load_balanced, cpu)


def _exclusive(given: set[str], first: str, second: str) -> None:
    check_exclusive(**{first: True if first in given else None, second: True if second in given else None})


# --- @remote(resource_config, ...) -----------------------------------------------------------


def _resolve_remote(group: Group, builder: SettingsBuilder, build_function: FunctionBuilder, python_version: str) -> Endpoint:
    call = group.config
    if call is None:
        reason = group.unresolved_config
        if reason is None:  # no resource_config at all: binding the remote() call reports it
            reason = Invalid("`remote()` is missing the required argument 'resource_config'", group.config_span)
        else:
            code = CONFIG_NOT_STATIC if isinstance(reason, Unknown) else CONFIG_VALUE_INVALID
            builder.problem(code, f"The endpoint configuration cannot be resolved statically: {reason.reason}", reason.span,
                            Severity.WARNING if isinstance(reason, Unknown) else Severity.ERROR)
        builder.settings["name"] = _unresolved_name(reason)
        functions = _functions(group, builder, build_function, False)
        resource = tables.RESOURCE_CLASSES["LiveServerless"]
        return _endpoint(group, builder, functions, resource, False, False)
    resource = tables.RESOURCE_CLASSES[call.callee]
    signature = resource.signature
    bound = tables.bind_arguments(signature, call.positional, [(k.name, k.value) for k in call.keywords])
    builder.binding_errors(bound.errors, call)
    for param in signature.params:
        key = tables.RESOURCE_FIELD_TO_SETTING[param.name]
        value, span = argument(call, bound.arguments, param.name)
        if param.name in ("workersMin", "workersMax", "type"):
            continue
        if param.name in ("networkVolume", "networkVolumes"):
            if value is not UNSET:
                volumes(builder, value, span, param.name)
            continue
        if param.name == "template":
            if value is not UNSET:
                template(builder, value, span, param.name)
            continue
        if value is not UNSET:
            builder.add(key, value, span, param.name)
        elif param.default not in (None, "", tables.REQUIRED):
            builder.add(key, param.default, None, param.name)
    _workers(builder, call, bound.arguments)
    if resource.live and builder.is_unset("image"):
        version = builder.resolved("python_version") or python_version
        builder.add("image", tables.default_image(resource.image_type, str(version)), None)
    if not resource.live and builder.is_unset("image") and builder.is_unset("template") and builder.is_unset("template_id"):
        builder.problem(
            CONFIG_REQUIRED_MISSING,
            f"`{resource.name}` needs `imageName`, `template` or `templateId`; "
            "the `Live*` classes default to the runpod/flash worker images",
            call.span,
        )
    functions = _functions(group, builder, build_function, resource.load_balanced)
    common_checks(builder, load_balanced=resource.load_balanced, cpu=resource.cpu)
    uncertain_defaults(builder, call)
    return _endpoint(group, builder, functions, resource, resource.load_balanced, resource.cpu)


def _workers(builder: SettingsBuilder, call: SdkCall, bound: dict[str, Value]) -> None:
    low, low_span = argument(call, bound, "workersMin")
    high, high_span = argument(call, bound, "workersMax")
    for value, span, label in ((low, low_span, "workersMin"), (high, high_span, "workersMax")):
        if isinstance(value, (Unknown, Invalid)):
            builder.add("workers", value, span, label)
            return
    given = low is not UNSET or high is not UNSET
    low_value = low.value if isinstance(low, Known) else tables.DEFAULT_WORKERS_MIN
    high_value = high.value if isinstance(high, Known) else tables.DEFAULT_WORKERS_MAX
    span = low_span or high_span
    pair = Known((low_value, high_value), span) if given and span is not None else (low_value, high_value)
    builder.add("workers", pair, span, "workersMin/workersMax")


def _unresolved_name(reason: Unknown | Invalid) -> Setting:
    return Setting("name", None, "argument", reason.span, Unresolved(reason.reason, reason.span))


# --- functions and routes ----------------------------------------------------------------------


@dataclass
class _Packages:
    """``dependencies`` (or ``system_dependencies``) collected over the ``@remote`` functions of one endpoint."""

    key: str
    names: list[str] = field(default_factory=list)
    span: Span | None = None
    unresolved: Setting | None = None

    def setting(self) -> Setting:
        if self.unresolved is not None:
            return self.unresolved
        names = list(dict.fromkeys(self.names))
        return Setting(self.key, names, "argument" if names else "default", self.span)


def _functions(group: Group, builder: SettingsBuilder, build_function: FunctionBuilder, load_balanced: bool) -> list[EndpointFunction]:
    functions: list[EndpointFunction] = []
    seen_routes: dict[tuple[str, str], str] = {}
    packages = (_Packages("dependencies"), _Packages("system_dependencies"))
    for target, declarations in group.members:
        routes: list[Route] = []
        local = False
        for declaration in declarations:
            decorator = declaration.decorator
            if isinstance(decorator, RouteDecorator):
                routes.append(_route(builder, decorator.method, decorator.path, declaration.span, False))
            elif decorator.callee == "remote":
                local = _remote_arguments(builder, decorator, declaration, load_balanced, routes, packages) or local
        for route in routes:
            if route.method and route.path:
                key = (route.method, route.path)
                if key in seen_routes:
                    builder.problem(LB_ROUTE_DUPLICATE, f"Route `{route.method} {route.path}` is already served by `{seen_routes[key]}`", route.span)
                else:
                    seen_routes[key] = target.node.name
        functions.append(build_function(target, tuple(routes), local))
    if group.spelling is Spelling.REMOTE:
        # Every @remote function brings its own packages; the endpoint installs them all.
        for collected in packages:
            setting = collected.setting()
            builder.settings[collected.key] = setting
            builder.values[collected.key] = tuple(setting.value or ())
    return functions


def _remote_arguments(
    builder: SettingsBuilder,
    call: SdkCall,
    declaration: Declaration,
    load_balanced: bool,
    routes: list[Route],
    packages: tuple[_Packages, ...],
) -> bool:
    """Bind one ``remote(...)`` call's own arguments; returns its ``local`` flag."""
    bound = tables.bind_arguments(tables.REMOTE, call.positional, [(k.name, k.value) for k in call.keywords])
    builder.binding_errors(bound.errors, call)
    for collected in packages:
        value, span = argument(call, bound.arguments, collected.key)
        if value is UNSET:
            continue
        builder.add(collected.key, value, span)
        collected.span = collected.span or span
        resolved = builder.settings[collected.key]
        if resolved.unresolved is not None:
            collected.unresolved = collected.unresolved or resolved
        elif isinstance(builder.values.get(collected.key), tuple):
            collected.names.extend(builder.values[collected.key])
    value, span = argument(call, bound.arguments, "accelerate_downloads")
    if value is not UNSET:
        builder.add("accelerate_downloads", value, span)
    local_value, _ = argument(call, bound.arguments, "local")
    local = isinstance(local_value, Known) and local_value.value is True
    method, method_span = argument(call, bound.arguments, "method")
    path, path_span = argument(call, bound.arguments, "path")
    if load_balanced:
        if method is UNSET or path is UNSET:
            missing = "method" if method is UNSET else "path"
            builder.problem(LB_ROUTE_INCOMPLETE, f"Load-balanced endpoints need `method=` and `path=` on `@remote`; `{missing}` is missing", declaration.span)
        else:
            routes.append(_route(builder, method, path, declaration.span, True, method_span))
    elif method is not UNSET or path is not UNSET:
        builder.problem(
            ROUTE_ON_QUEUE_ENDPOINT,
            "`method`/`path` are ignored on a queue-based resource; use a load-balancer class to serve routes",
            method_span or path_span or declaration.span,
            Severity.WARNING,
        )
    return local


def _route(
    builder: SettingsBuilder,
    method: Value | str,
    path: Value,
    span: Span,
    case_sensitive: bool,
    method_span: Span | None = None,
) -> Route:
    """Check one route with the SDK's own route rules; each problem at its argument."""
    for part in (method, path):
        if isinstance(part, (Unknown, Invalid)):
            code = CONFIG_NOT_STATIC if isinstance(part, Unknown) else LB_PATH_INVALID
            severity = Severity.WARNING if isinstance(part, Unknown) else Severity.ERROR
            builder.problem(code, f"The route cannot be resolved statically: {part.reason}", part.span, severity)
            return Route(None, None, span, Unresolved(part.reason, part.span))
    method_value = method.value if isinstance(method, Known) else method
    path_value = path.value if isinstance(path, Known) else None
    path_span = path.span if isinstance(path, Known) else span
    checked_method: str | None = None
    checked_path: str | None = None
    try:
        checked_method = validation.check_route_method(method_value, case_sensitive=case_sensitive)
    except SettingError as error:
        builder.problem(LB_METHOD_INVALID, _sentence(error.message), method_span or span)
    try:
        checked_path = validation.check_route_path(path_value)
    except validation.ReservedPathError as error:
        builder.problem(LB_PATH_RESERVED, _sentence(error.message), path_span)
    except SettingError as error:
        builder.problem(LB_PATH_INVALID, _sentence(error.message), path_span)
    return Route(
        checked_method or (method_value if isinstance(method_value, str) else None),
        checked_path or (path_value if isinstance(path_value, str) else None),
        span,
    )


# --- assembling the Endpoint -------------------------------------------------------------------


def _endpoint(group: Group, builder: SettingsBuilder, functions: list[EndpointFunction], resource: tables.ResourceClass, load_balanced: bool, cpu: bool) -> Endpoint:
    name_setting = builder.settings.get("name")
    name = name_setting.value if name_setting is not None and isinstance(name_setting.value, str) else None
    # An invalid value (reported already) is kept raw in ``values``: a string or a number is no list.
    dependencies = _listed(builder.values.get("dependencies"))
    system_dependencies = _listed(builder.values.get("system_dependencies"))
    settings = tuple(sorted(builder.settings.values(), key=lambda s: s.key))
    return Endpoint(
        name=name,
        kind=EndpointKind.LOAD_BALANCED if load_balanced else EndpointKind.QUEUE,
        compute=Compute.CPU if cpu else Compute.GPU,
        resource_class=resource.name,
        live=resource.live,
        spelling=group.spelling,
        config_span=group.config_span,
        config_variable=group.config_variable,
        functions=tuple(functions),
        settings=settings,
        dependencies=tuple(str(d) for d in dependencies),
        system_dependencies=tuple(str(d) for d in system_dependencies),
        problems=tuple(builder.problems),
    )


def _listed(value: object) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else ()
