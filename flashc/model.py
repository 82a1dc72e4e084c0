"""The intermediate representation every stage after discovery works on.

All types are frozen dataclasses holding tuples, so a model can be cached per
file, shared between LSP requests and compared in tests. ``flashc inspect``
prints a :class:`ProjectModel`; its JSON form is documented in
``docs/inspect-schema.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from .config import Config
from .diagnostics import Diagnostic, Span


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One Python file of the project, read but not yet parsed."""

    path: str
    """Project-relative POSIX path."""
    module: str
    """Dotted module name (``pkg.sub.mod``; a package's ``__init__`` is ``pkg``)."""
    text: str
    is_package: bool = False


class EndpointKind(Enum):
    QUEUE = "queue"
    LOAD_BALANCED = "load-balanced"


class Compute(Enum):
    GPU = "gpu"
    CPU = "cpu"


class Spelling(Enum):
    """How the user declared the endpoint."""

    REMOTE = "remote"
    """``@remote(resource_config, ...)`` (the legacy decorator)."""
    ENDPOINT = "endpoint"
    """``@Endpoint(...)`` or a bare ``@ep`` on a function or class."""
    ROUTES = "routes"
    """``api = Endpoint(...)`` with ``@api.post("/path")`` routes."""


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A value flashc cannot know without running the code; says what and why."""

    reason: str
    span: Span


@dataclass(frozen=True, slots=True)
class Setting:
    """One resolved configuration value of an endpoint.

    ``value`` is JSON-compatible (enum members as their values). ``origin`` is
    ``argument`` when the user wrote it, ``default`` when the SDK default applies.
    A setting that could not be resolved has ``value=None`` and ``unresolved`` set.
    """

    key: str
    value: object
    origin: str
    span: Span | None = None
    unresolved: Unresolved | None = None


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    kind: str
    """``positional-only``, ``positional``, ``var-positional``, ``keyword-only`` or ``var-keyword``."""
    has_default: bool
    annotation: str | None = None


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    is_async: bool
    parameters: tuple[Parameter, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Route:
    method: str | None
    path: str | None
    span: Span
    unresolved: Unresolved | None = None


@dataclass(frozen=True, slots=True)
class BodyImport:
    """An import statement inside an endpoint body (what the worker imports itself)."""

    module: str
    """Absolute dotted module (relative imports resolved); ``""`` if unresolvable."""
    names: tuple[str, ...]
    """Imported names for ``from m import a, b``; empty for ``import m``."""
    span: Span
    is_local: bool
    """The module belongs to this project."""


@dataclass(frozen=True, slots=True)
class EndpointCall:
    """A call from an endpoint body to another endpoint function."""

    callee: str
    """``module:function`` of the called endpoint function."""
    span: Span
    awaited: bool


@dataclass(frozen=True, slots=True)
class EndpointFunction:
    """A function or class served by an endpoint."""

    name: str
    module: str
    path: str
    span: Span
    """The ``def``/``class`` name."""
    decorator_span: Span
    is_async: bool
    is_class: bool
    parameters: tuple[Parameter, ...] = ()
    methods: tuple[Method, ...] = ()
    docstring: str | None = None
    routes: tuple[Route, ...] = ()
    local: bool = False
    """``@remote(..., local=True)``: runs in the caller's process."""
    enclosing_function: str | None = None
    """Set when the definition is nested in a function (its closure cannot ship)."""
    body_imports: tuple[BodyImport, ...] = ()
    endpoint_calls: tuple[EndpointCall, ...] = ()
    sdk_decorator_spans: tuple[Span, ...] = ()
    """Every SDK declaration on the definition (stripped by the build; not part of the body)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One deployable endpoint (a runpod-flash "resource") and what it serves."""

    name: str | None
    """As runpod-flash derives it; None when it cannot be resolved statically."""
    kind: EndpointKind
    compute: Compute
    resource_class: str
    live: bool
    spelling: Spelling
    config_span: Span
    """Where the configuration object is created (``Endpoint(...)``, ``LiveServerless(...)``)."""
    config_variable: str | None
    functions: tuple[EndpointFunction, ...]
    settings: tuple[Setting, ...]
    dependencies: tuple[str, ...] = ()
    system_dependencies: tuple[str, ...] = ()
    problems: tuple[Diagnostic, ...] = ()
    """Configuration findings made while resolving (invalid, unknown or unresolvable values)."""

    def setting(self, key: str) -> Setting | None:
        for s in self.settings:
            if s.key == key:
                return s
        return None

    @property
    def path(self) -> str:
        return self.functions[0].path if self.functions else self.config_span.path

    def configuration_key(self) -> tuple[object, ...]:
        """What makes two declarations the same deployed endpoint: values, not where they are written."""
        settings = tuple((s.key, repr(s.value), s.unresolved is not None) for s in self.settings)
        return (self.kind, self.compute, self.resource_class, settings)

    @property
    def makes_remote_calls(self) -> bool:
        return any(f.endpoint_calls for f in self.functions)


@dataclass(frozen=True, slots=True)
class ModuleSummary:
    path: str
    module: str
    endpoints: int
    skipped: bool = False
    """True when the file cannot declare endpoints and was not analysed further."""


@dataclass(frozen=True, slots=True)
class ProjectModel:
    """Everything flashc understood about a project, without running any of it."""

    root: Path
    name: str
    config: Config
    modules: tuple[ModuleSummary, ...]
    endpoints: tuple[Endpoint, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    """Findings made while reading the project (syntax errors, config problems)."""
