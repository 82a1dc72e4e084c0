"""Turning an evaluated ``Endpoint(...)`` or resource-class call into checked settings.

Arguments are bound against the SDK's own signature tables and every value is
normalised by the SDK's own validation functions (``flashc_runtime.sdk``), so
the static check and the runtime agree on defaults, members and limits. Each
problem becomes a diagnostic at the argument that caused it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from flashc_runtime.sdk import tables, validation
from flashc_runtime.sdk.enums import DataCenter, GpuGroup, ServerlessScalerType
from flashc_runtime.sdk.validation import SettingError

from ..diagnostics import Diagnostic, Note, Severity, Span
from ..model import Setting, Unresolved
from .codes import (
    CONFIG_ARGUMENT_UNKNOWN,
    CONFIG_NOT_STATIC,
    CONFIG_REQUIRED_MISSING,
    CONFIG_VALUE_INVALID,
    ENDPOINT_NAME_INVALID,
)
from .evaluate import Invalid, Known, SdkCall, Unknown, Value


UNSET = object()
"""An argument the call does not pass (``None`` is a value the user may write)."""
_REJECTED = object()
"""What :meth:`SettingsBuilder.normalize` returns for an invalid value."""


def _nonnegative(setting: str) -> Callable[[object], object]:
    return lambda value: validation.check_count(value, setting)


def _string(setting: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if not isinstance(value, str):
            raise SettingError(setting, f"{setting} must be a string, got {value!r}")
        return value

    return check


def _boolean(setting: str) -> Callable[[object], object]:
    return lambda value: validation.check_bool(setting, value)


def _strings(setting: str) -> Callable[[object], object]:
    return lambda value: validation.check_string_list(setting, value)


# Canonical (Endpoint-style) setting -> its normaliser. ``None`` values mean "unset".
NORMALIZERS: dict[str, Callable[[object], object]] = {
    "name": validation.check_endpoint_name,
    "id": _string("id"),
    "image": _string("image"),
    "gpu": validation.normalize_gpu,
    "cpu": validation.normalize_cpu,
    "workers": validation.normalize_workers,
    "idle_timeout": validation.check_idle_timeout,
    "dependencies": _strings("dependencies"),
    "system_dependencies": _strings("system_dependencies"),
    "accelerate_downloads": _boolean("accelerate_downloads"),
    "local": _boolean("local"),
    "datacenter": validation.normalize_datacenters,
    "env": validation.check_env,
    "gpu_count": _nonnegative("gpu_count"),
    "execution_timeout_ms": _nonnegative("execution_timeout_ms"),
    "flashboot": _boolean("flashboot"),
    "scaler_type": validation.normalize_scaler_type,
    "scaler_value": _nonnegative("scaler_value"),
    "min_cuda_version": validation.normalize_cuda_version,
    "max_concurrency": validation.check_max_concurrency,
    "python_version": validation.check_python_version,
    "template_id": _string("template_id"),
    "locations": _string("locations"),
}


def to_json(value: object) -> object:
    """A JSON-compatible rendering of a normalised setting value."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple, frozenset, set)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, SdkCall):
        return {"type": value.callee, **{k.name: to_json(k.value.value) for k in value.keywords if isinstance(k.value, Known)}}
    if value is None or isinstance(value, (str, int, float)):
        return value
    return repr(value)  # not a setting's type (reported already): a builtin, a module, bytes, ``...``


@dataclass
class SettingsBuilder:
    """Collects settings and diagnostics for one endpoint configuration."""

    config_span: Span
    settings: dict[str, Setting] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)
    """Normalised Python values of the resolved settings, for cross-setting checks."""
    problems: list[Diagnostic] = field(default_factory=list)

    def problem(
        self, code: str, message: str, span: Span, severity: Severity = Severity.ERROR, notes: tuple[Note, ...] = ()
    ) -> None:
        self.problems.append(Diagnostic(code, message, span, severity, notes=notes))

    def binding_errors(self, errors: tuple[tables.BindingError, ...], call: SdkCall) -> None:
        for error in errors:
            keyword = call.keyword(error.argument) if isinstance(error.argument, str) else None
            span = keyword.span if keyword is not None else call.span
            code = {
                "unknown": CONFIG_ARGUMENT_UNKNOWN,
                "missing": CONFIG_REQUIRED_MISSING,
            }.get(error.kind, CONFIG_VALUE_INVALID)
            self.problem(code, error.message[0].upper() + error.message[1:], span)
        for spread in call.spread_problems:
            if isinstance(spread, Unknown):
                self.problem(
                    CONFIG_NOT_STATIC,
                    f"Arguments of `{call.callee}` cannot be resolved statically: {spread.reason}",
                    spread.span,
                    Severity.WARNING,
                )
            else:
                self.problem(CONFIG_VALUE_INVALID, f"Invalid arguments to `{call.callee}`: {spread.reason}", spread.span)

    def add(self, key: str, value: Value | object, span: Span | None, label: str | None = None) -> None:
        """Record ``key`` from an argument ``Value`` (or a plain default when not a Value)."""
        label = label or key
        if isinstance(value, (Unknown, Invalid)):
            self.settings[key] = Setting(key, None, "argument", span, Unresolved(value.reason, value.span))
            at = span or value.span
            notes = () if _contains(at, value.span) else (Note("the value comes from here", value.span),)
            if isinstance(value, Unknown):
                message = f"`{label}` cannot be resolved statically: {value.reason}"
                self.problem(CONFIG_NOT_STATIC, message, at, Severity.WARNING, notes)
            else:
                self.problem(CONFIG_VALUE_INVALID, f"Invalid `{label}`: {value.reason}", at, Severity.ERROR, notes)
            return
        origin = "argument" if isinstance(value, Known) else "default"
        raw = value.value if isinstance(value, Known) else value
        normalized = self.normalize(key, raw, span or self.config_span, label)
        if normalized is _REJECTED:
            # Reported; cross-setting checks see only valid values (a string is no list of data centres).
            self.values.pop(key, None)
            normalized = raw
        else:
            self.values[key] = normalized
        self.settings[key] = Setting(key, to_json(normalized), origin, span)

    def normalize(self, key: str, raw: object, span: Span, label: str) -> object:
        """The SDK's normal form of ``raw``; ``_REJECTED`` (and a diagnostic) when it is invalid."""
        if raw is None or key not in NORMALIZERS:
            return raw
        try:
            return NORMALIZERS[key](raw)
        except SettingError as error:
            code = ENDPOINT_NAME_INVALID if key == "name" else CONFIG_VALUE_INVALID
            self.problem(code, f"Invalid `{label}`: {_detail(error)}", span)
            return _REJECTED

    def check(self, check: Callable[[], object], key: str) -> None:
        """Run a cross-setting check; its error points at ``key``'s argument."""
        try:
            check()
        except SettingError as error:
            setting = self.settings.get(error.setting) or self.settings.get(key)
            span = setting.span if setting is not None and setting.span is not None else self.config_span
            self.problem(CONFIG_VALUE_INVALID, _sentence(error.message), span)

    def is_unset(self, key: str) -> bool:
        """Neither given a value nor left unresolved (so a default may apply)."""
        setting = self.settings.get(key)
        return setting is None or (setting.value is None and setting.unresolved is None)

    def resolved(self, key: str, default: object = None) -> object:
        return self.values.get(key, default)


def _contains(outer: Span, inner: Span) -> bool:
    return outer.path == inner.path and outer.start <= inner.start and inner.end <= outer.end


def _detail(error: SettingError) -> str:
    """The error message without its leading setting name ("idle_timeout must be ..." -> "must be ...")."""
    message = error.message
    if message.startswith(error.setting):
        message = message[len(error.setting) :].lstrip(": ")
    return message


def uncertain_defaults(builder: SettingsBuilder, call: SdkCall) -> None:
    """Defaults are only guesses when ``**options`` could not be expanded: say so."""
    spreads = call.spread_problems
    if not spreads:
        return
    for key, setting in list(builder.settings.items()):
        if setting.origin == "default":
            reason = "may be set by arguments flashc cannot expand (see the diagnostic on them)"
            builder.settings[key] = Setting(key, None, "unknown", None, Unresolved(reason, spreads[0].span))
            builder.values.pop(key, None)


def _sentence(message: str) -> str:
    return message[0].upper() + message[1:] if message else message


def argument(call: SdkCall, bound: dict[str, Value], name: str) -> tuple[Value | object, Span | None]:
    """The bound value of ``name`` with its keyword span, or ``UNSET``."""
    keyword = call.keyword(name)
    if name in bound:
        return bound[name], keyword.span if keyword is not None else bound[name].span
    return UNSET, None


def volumes(builder: SettingsBuilder, value: Value, span: Span | None, label: str) -> None:
    """``volume=NetworkVolume(...)`` or a list of them -> a JSON list of volume dicts."""
    if not isinstance(value, Known):
        builder.add("volume", value, span, label)
        return
    items = value.value if isinstance(value.value, (list, tuple)) else [value.value]
    result: list[dict[str, object]] = []
    centres: list[DataCenter] = []
    for item in items:
        if not (isinstance(item, SdkCall) and item.callee == "NetworkVolume"):
            builder.problem(CONFIG_VALUE_INVALID, f"`{label}` must be a NetworkVolume or a list of them, got {to_json(item)!r}", value.span)
            continue
        bound = tables.bind_arguments(tables.NETWORK_VOLUME, item.positional, [(k.name, k.value) for k in item.keywords])
        builder.binding_errors(bound.errors, item)
        fields: dict[str, object] = {}
        for name in ("name", "id", "size", "dataCenterId", "datacenter"):
            field_value = bound.arguments.get(name)
            if field_value is None:
                fields[name] = tables.NETWORK_VOLUME.param(name).default
            elif isinstance(field_value, Known):
                fields[name] = field_value.value
            else:
                builder.add("volume", field_value, span, f"{label}.{name}")
                return
        try:
            name, volume_id, size, centre = validation.check_volume(
                name=fields["name"],
                volume_id=fields["id"],
                size=fields["size"],
                datacenter=fields["dataCenterId"] if fields["dataCenterId"] is not None else fields["datacenter"],
            )
        except SettingError as error:
            builder.problem(CONFIG_VALUE_INVALID, _sentence(error.message), item.span)
            continue
        centres.append(centre)
        result.append({"name": name, "id": volume_id, "size": size, "dataCenterId": centre.value})
    builder.values["volume_datacenters"] = tuple(centres)
    builder.settings["volume"] = Setting("volume", result, "argument", span)


def template(builder: SettingsBuilder, value: Value, span: Span | None, label: str) -> None:
    """``template=PodTemplate(...)`` -> the dict of its (known) fields."""
    if isinstance(value, Known) and isinstance(value.value, SdkCall) and value.value.callee == "PodTemplate":
        call = value.value
        bound = tables.bind_arguments(tables.POD_TEMPLATE, call.positional, [(k.name, k.value) for k in call.keywords])
        builder.binding_errors(bound.errors, call)
        fields = {}
        for name, field_value in bound.arguments.items():
            if isinstance(field_value, Known):
                fields[name] = to_json(field_value.value)
            else:
                builder.add("template", field_value, span, f"{label}.{name}")
                return
        builder.values["template"] = fields
        builder.settings["template"] = Setting("template", fields, "argument", span)
    elif isinstance(value, Known) and isinstance(value.value, dict):
        builder.values["template"] = value.value
        builder.settings["template"] = Setting("template", to_json(value.value), "argument", span)
    elif isinstance(value, Known):
        builder.problem(CONFIG_VALUE_INVALID, f"`{label}` must be a PodTemplate, got {to_json(value.value)!r}", value.span)
    else:
        builder.add("template", value, span, label)


def common_checks(builder: SettingsBuilder, *, load_balanced: bool, cpu: bool) -> None:
    """The SDK's cross-setting rules, shared by both spellings."""
    datacenters = builder.resolved("datacenter") or ()
    if cpu and datacenters:
        builder.check(lambda: validation.check_cpu_datacenters(datacenters), "datacenter")
    volume_centres = builder.resolved("volume_datacenters") or ()
    if volume_centres:
        builder.check(lambda: validation.check_volumes_fit(volume_centres, datacenters), "volume")
    scaler = builder.resolved("scaler_type")
    if load_balanced and isinstance(scaler, ServerlessScalerType):
        builder.check(lambda: validation.check_load_balancer_scaler(scaler), "scaler_type")
    template_fields = builder.resolved("template") or {}
    disk = template_fields.get("containerDiskInGb") if isinstance(template_fields, dict) else None
    instances = builder.resolved("cpu") or ()
    limit = validation.cpu_disk_limit(instances) if cpu and instances else None
    if limit is not None and isinstance(disk, int) and disk > limit:
        builder.problem(
            CONFIG_VALUE_INVALID,
            f"Container disk {disk} GB exceeds what the CPU instances allow (max {limit} GB)",
            (builder.settings["template"].span or builder.config_span),
        )


def default_gpu_settings(builder: SettingsBuilder) -> None:
    """GPU endpoints default to every pool and every data centre (runpod-flash's defaults)."""
    if builder.is_unset("gpu"):
        builder.add("gpu", [GpuGroup.ANY], None)
    if builder.is_unset("datacenter"):
        builder.add("datacenter", DataCenter.all(), None)
