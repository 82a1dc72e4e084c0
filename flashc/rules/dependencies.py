"""FC401–FC404: what an endpoint imports against what its worker installs.

Only the endpoint's code ships; the worker pip-installs the endpoint's
``dependencies`` on top of its image (the GPU image brings torch). Imports are
read from the endpoint's own syntax tree rather than the model's
``body_imports``, because these rules also need each alias, the relative level
and whether an import is optional (``try: ... except ImportError``). Project
modules the body imports run on the worker too, so their module-level imports
are followed, transitively.
"""

from __future__ import annotations

import ast
import bisect
import difflib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from ..analysis import packages
from ..analysis.codes import (
    DEPENDENCY_UNDECLARED,
    DEPENDENCY_UNUSED,
    LOCAL_MODULE_MISSING,
    REQUIREMENT_INVALID,
)
from ..analysis.evaluate import ModuleScope
from ..analysis.symbols import BindingKind
from ..diagnostics import Diagnostic, Note, Severity, Span
from ..model import Compute, Endpoint, EndpointFunction, Spelling
from .base import Rule
from .context import RuleContext

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

RULES: tuple[Rule, ...] = (
    Rule(
        DEPENDENCY_UNDECLARED,
        "dependency-undeclared",
        "An endpoint imports a third-party package that its `dependencies` do not declare.",
        ERROR,
        None,
        why=(
            "The worker installs only the endpoint's `dependencies`. An import they do not cover "
            "works on your machine and fails on the worker with `ModuleNotFoundError`. Project "
            "modules the body imports ship with it, and their own imports run there too."
        ),
        example=(
            "@Endpoint(name=\"thumbnail\", cpu=\"cpu3c-1-2\", dependencies=[\"numpy\"])\n"
            "def thumbnail(path: str) -> list[int]:\n"
            "    import cv2\n"
            "    return list(cv2.imread(path).shape)"
        ),
        instead=(
            "@Endpoint(name=\"thumbnail\", cpu=\"cpu3c-1-2\", dependencies=[\"numpy\", \"opencv-python-headless\"])\n"
            "def thumbnail(path: str) -> list[int]:\n"
            "    import cv2\n"
            "    return list(cv2.imread(path).shape)"
        ),
        notes=(
            "Import names are matched to distributions by a table of known mismatches (`cv2`, `PIL`, "
            "`sklearn`, `yaml`...), by the packages installed next to flashc, and by the name itself "
            "(dotted for namespace packages: `google.cloud.storage` is `google-cloud-storage`); "
            "versions, extras and markers are not evaluated. The standard library of the workers' "
            "Python (`python-version`) is never reported. `torch` and `triton` on GPU endpoints, and "
            "`runpod` on every endpoint, come with the worker image and are reported as info; the "
            "flash runtime (`runpod_flash`, `flashc`) ships with every endpoint and is never "
            "reported. Optional imports (inside `try: ... except ImportError` or `if TYPE_CHECKING:`) "
            "are not reported. Each package is reported once per function. Endpoints whose "
            "`dependencies` cannot be resolved (FC322) and `local=True` functions are skipped."
        ),
    ),
    Rule(
        DEPENDENCY_UNUSED,
        "dependency-unused",
        "A declared dependency that no code of the endpoint imports.",
        WARNING,
        None,
        why=(
            "Every dependency is installed for every worker, which costs build time, artifact size "
            "and cold starts. An unused one is often a misspelt name, or an import that moved to "
            "another endpoint."
        ),
        example=(
            "@Endpoint(name=\"stats\", cpu=\"cpu3c-1-2\", dependencies=[\"numpy\", \"pandas\"])\n"
            "def stats(values: list[float]) -> float:\n"
            "    import numpy as np\n"
            "    return float(np.mean(values))"
        ),
        instead=(
            "@Endpoint(name=\"stats\", cpu=\"cpu3c-1-2\", dependencies=[\"numpy\"])\n"
            "def stats(values: list[float]) -> float:\n"
            "    import numpy as np\n"
            "    return float(np.mean(values))"
        ),
        notes=(
            "Imports count through the project modules the code imports. Packages other packages "
            "load by themselves are never reported: "
            + ", ".join(f"`{name}`" for name in sorted(packages.RUNTIME_ONLY))
            + ". A distribution imported under a name flashc cannot know (not in its table, not "
            "installed next to flashc) is reported wrongly; the warning names the imports looked "
            "for. Endpoints with a `local=True` function, unresolved `dependencies` or a missing "
            "project module (FC404) are skipped."
        ),
    ),
    Rule(
        REQUIREMENT_INVALID,
        "requirement-invalid",
        "A `dependencies` entry that is not a PEP 508 requirement.",
        ERROR,
        None,
        why=(
            "The entries are handed to pip as requirements; one pip cannot read fails the build, or "
            "the worker's start in `flash dev`, and a requirement without a name cannot be matched "
            "to the imports that need it."
        ),
        example="@Endpoint(name=\"embed\", gpu=GpuGroup.ANY, dependencies=[\"numpy=1.26\", \"torch --index-url https://example.org\"])",
        instead="@Endpoint(name=\"embed\", gpu=GpuGroup.ANY, dependencies=[\"numpy==1.26\", \"torch\"])",
        notes=(
            "pip options, paths and bare URLs are not requirements, even where pip's command line "
            "takes them; write a direct reference as `name @ url`. `system_dependencies` are not checked."
        ),
    ),
    Rule(
        LOCAL_MODULE_MISSING,
        "local-module-missing",
        "An endpoint imports a project module, or a name of one, that does not exist.",
        ERROR,
        None,
        why=(
            "The import fails on the worker with `ModuleNotFoundError` or `ImportError`, typically "
            "after a module was renamed or moved, or when a relative import climbs out of its package."
        ),
        example=(
            "# app/workers.py, next to app/helpers.py\n"
            "@Endpoint(name=\"score\", cpu=\"cpu3c-1-2\")\n"
            "def score(x: float) -> float:\n"
            "    from .helper import scale\n"
            "    return scale(x)"
        ),
        instead=(
            "@Endpoint(name=\"score\", cpu=\"cpu3c-1-2\")\n"
            "def score(x: float) -> float:\n"
            "    from .helpers import scale\n"
            "    return scale(x)"
        ),
        notes=(
            "Imported names are looked up among the module-level names of the module (and its "
            "submodules); a module with `import *` or a module-level `__getattr__` is not checked "
            "for names. Only imports inside endpoint bodies are checked."
        ),
    ),
)


def check(context: RuleContext) -> Iterator[Diagnostic]:
    """FC404 for every endpoint; FC401–FC403 where its ``dependencies`` are known."""
    recording = _Recording(context)
    project = _ProjectImports(recording)
    shared = (
        context.python_version,
        _same("modules", frozenset(context.analysis.sources)),
        _same("endpoints", frozenset(context.endpoint_functions)),
    )
    for endpoint in context.model.endpoints:
        if not context.owns(endpoint.path):
            continue
        key = (context.model.root, endpoint.path, endpoint.config_span, endpoint.name)
        kept = _KEPT.get(key)
        if (
            kept is not None
            and kept.endpoint is endpoint
            and kept.shared[0] == shared[0]  # the Python version; the name sets are canonical:
            and kept.shared[1] is shared[1]
            and kept.shared[2] is shared[2]
            and all(context.scope(module) is scope for module, scope in kept.read)
        ):
            _KEPT.move_to_end(key)
            yield from kept.found
            continue
        recording.read = {}
        found = tuple(_endpoint_findings(recording, project, endpoint))
        _KEPT[key] = _Kept(endpoint, shared, tuple(recording.read.items()), found)
        _KEPT.move_to_end(key)
        if len(_KEPT) > _KEPT_LIMIT:
            _KEPT.popitem(last=False)
        yield from found


def _endpoint_findings(context: RuleContext, project: _ProjectImports, endpoint: Endpoint) -> Iterator[Diagnostic]:
    bodies = [(function, _function_imports(context, function)) for function in endpoint.functions]
    missing = [d for _, imports in bodies for d in _missing_modules(context, project, imports)]
    yield from missing
    setting = endpoint.setting("dependencies")
    if setting is not None and setting.unresolved is not None:
        return  # reported as FC322
    spans = _requirement_spans(context, endpoint)
    yield from _invalid_requirements(endpoint, spans)
    # ``local=True`` functions run in the caller's process, with the caller's packages.
    remote = [imports for function, imports in bodies if not function.local]
    declared = frozenset(filter(None, map(packages.requirement_name, endpoint.dependencies)))
    for imports in remote:
        yield from _undeclared(endpoint, project, imports, declared)
    # Unused is only judged on complete code: all of it remote, every project module found.
    if remote and len(remote) == len(bodies) and not missing:
        yield from _unused(endpoint, project, remote, spans)


# --- reusing an endpoint's findings in the next check -------------------------------------------


@dataclass(frozen=True, slots=True)
class _Kept:
    """One endpoint's findings and everything they were computed from."""

    endpoint: Endpoint
    """The very object: the analysis reuses it while its modules and what they read are unchanged."""
    shared: tuple[object, ...]
    """The workers' Python, the project's module names and its endpoint functions."""
    read: tuple[tuple[str, ModuleScope | None], ...]
    """Every other module the findings looked into, as it was."""
    found: tuple[Diagnostic, ...]


_KEPT_LIMIT = 4096
_KEPT: OrderedDict[tuple[object, ...], _Kept] = OrderedDict()
"""The newest findings of each endpoint (by project, file, configuration and name), for the
re-checks of one process (the editor's): an edit re-judges only the endpoints whose code, or
the modules that code reads, changed, and replaces their entries."""
_SAME: dict[str, frozenset] = {}


def _same(kind: str, value: frozenset) -> frozenset:
    """``value``, as the previous check's very object when equal (validity is then one identity test)."""
    previous = _SAME.get(kind)
    if previous is not None and previous == value:
        return previous
    _SAME[kind] = value
    return value


class _Recording:
    """The rule context, noting each module whose parse the findings look into."""

    def __init__(self, context: RuleContext) -> None:
        self._context = context
        self.read: dict[str, ModuleScope | None] = {}

    def scope(self, module: str) -> ModuleScope | None:
        scope = self._context.scope(module)
        self.read[module] = scope
        return scope

    def __getattr__(self, name: str) -> object:
        return getattr(self._context, name)


# --- reading imports --------------------------------------------------------------------------

ImportNode = ast.Import | ast.ImportFrom


@dataclass(frozen=True, slots=True)
class _Import:
    """One module an import statement loads, resolved as the worker resolves it."""

    target: str
    """The absolute module; ``""`` when a relative import climbs out of its package."""
    written: str
    """The module as the source spells it (``..helpers``)."""
    aliases: tuple[ast.alias, ...] = field(compare=False, repr=False)
    """What ``from written import ...`` imports; empty for ``import written``."""
    span: Span
    """The alias of ``import a, b``; the whole statement of ``from ... import``."""
    level: int
    optional: bool
    """Inside ``try: ... except ImportError`` or ``if TYPE_CHECKING:``: may fail, or never runs."""
    scope: ModuleScope = field(compare=False, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(alias.name for alias in self.aliases)


_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def _function_imports(context: RuleContext, function: EndpointFunction) -> tuple[_Import, ...]:
    """Every import inside the endpoint's ``def``/``class``, in source order."""
    scope = context.scope(function.module)
    node = context.definition(function)
    if scope is None or node is None:
        return ()
    # The imports depend on the module's text alone: kept with its parse for later checks.
    key = f"dependency-imports:{id(node)}"
    kept = scope.facts.get(key)
    if kept is None or kept[0] is not node:  # type: ignore[index]
        kept = (node, tuple(_imports(scope, _import_statements([node], module_level=False))))
        scope.facts[key] = kept
    return kept[1]  # type: ignore[index,return-value]


def _imports(scope: ModuleScope, statements: Iterable[tuple[ImportNode, bool]]) -> Iterator[_Import]:
    span = scope.parsed.span
    for node, optional in statements:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield _Import(alias.name, alias.name, (), span(alias), 0, optional, scope)
        else:
            target = _resolve(scope, node.level, node.module)
            written = "." * node.level + (node.module or "")
            yield _Import(target, written, tuple(node.names), span(node), node.level, optional, scope)


def _package_of(scope: ModuleScope) -> list[str]:
    """The package a module's relative imports start from (``[]`` for a top-level module)."""
    source = scope.parsed.source
    parts = source.module.split(".")
    return parts if source.is_package else parts[:-1]


def _resolve(scope: ModuleScope, level: int, module: str | None) -> str:
    """The absolute module of ``from <level dots><module> import``; ``""`` past the top-level package.

    Stricter than ``symbols.resolve_relative``, which lets ``from .x`` in a top-level
    module stand for ``x``: Python refuses it, and FC404 has to say so.
    """
    if level == 0:
        return module or ""
    package = _package_of(scope)
    if level > len(package):
        return ""
    base = package[: len(package) - level + 1]
    return ".".join([*base, *(module.split(".") if module else [])])


def _import_statements(nodes: Iterable[ast.AST], module_level: bool, optional: bool = False) -> Iterator[tuple[ImportNode, bool]]:
    """Import statements below ``nodes`` in source order, each with whether it is optional.

    With ``module_level``, function bodies are skipped: importing the module does not run them.
    """
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, optional
        elif module_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        elif isinstance(node, ast.Try) and any(_catches_import_errors(h) for h in node.handlers):
            yield from _import_statements(node.body, module_level, True)
            yield from _import_statements([*node.handlers, *node.orelse, *node.finalbody], module_level, optional)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_statements(node.body, module_level, True)
            yield from _import_statements(node.orelse, module_level, optional)
        else:
            yield from _import_statements(ast.iter_child_nodes(node), module_level, optional)


def _catches_import_errors(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(_simple_name(t) in _IMPORT_ERRORS for t in types)


def _is_type_checking(test: ast.expr) -> bool:
    return _simple_name(test) == "TYPE_CHECKING"


def _simple_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


# --- project modules --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Use:
    """A third-party module that an endpoint makes the worker import."""

    module: str
    at: Span
    """The import in the endpoint's body (of the module itself, or of the project module loading it)."""
    optional: bool
    via: tuple[str, _Import] | None = None
    """The project module that imports it, and where; None when the body imports it directly."""


class _ProjectImports:
    """Sorts imports into project, standard-library and third-party, and follows project modules."""

    def __init__(self, context: RuleContext) -> None:
        self._context = context
        self.sources = context.analysis.sources
        self.modules = frozenset(prefix for module in self.sources for prefix in _ancestors(module))
        """Every project module and package (directories without ``__init__`` included)."""
        self._roots = frozenset(module.partition(".")[0] for module in self.sources)
        self._stdlib = packages.stdlib_modules(context.python_version)
        self._module_level: dict[str, tuple[_Import, ...]] = {}
        self._below: dict[tuple[str, ...], tuple[tuple[tuple[str, _Import], ...], tuple[str, ...]]] = {}

    def is_project(self, item: _Import) -> bool:
        """Relative, or of a top-level project module (a project ``types.py`` does not hide ``types``)."""
        top = packages.top_level(item.target)
        return item.level > 0 or (top in self._roots and top not in self._stdlib)

    def is_third_party(self, item: _Import) -> bool:
        top = packages.top_level(item.target)
        return bool(top) and top not in self._stdlib and not self.is_project(item)

    def loaded(self, item: _Import) -> list[str]:
        """The project modules that running ``item`` executes (packages first, then submodules)."""
        candidates = [*_ancestors(item.target), *(f"{item.target}.{name}" for name in item.names)] if item.target else []
        return [module for module in candidates if module in self.sources]

    def uses(self, imports: Iterable[_Import]) -> Iterator[_Use]:
        """The third-party modules ``imports`` make the worker import, through project modules too."""
        for item in imports:
            if self.is_third_party(item):
                for module in packages.imported_modules(item.target, item.names):
                    yield _Use(module, item.span, item.optional)
            elif self.is_project(item) and not self._endpoints_only(item):
                for importer, inner in self._third_party_below(self.loaded(item)):
                    for module in packages.imported_modules(inner.target, inner.names):
                        yield _Use(module, item.span, item.optional or inner.optional, (importer, inner))

    def _endpoints_only(self, item: _Import) -> bool:
        """``from workers import embed`` of endpoints only: the build ships stubs, not the module."""
        endpoints = self._context.endpoint_functions
        return bool(item.aliases) and all((item.target, alias.name) in endpoints for alias in item.aliases)

    def _third_party_below(self, modules: list[str]) -> tuple[tuple[str, _Import], ...]:
        """``(project module, import)`` for each third-party import that loading ``modules`` runs."""
        key = tuple(modules)
        if key not in self._below:
            seen: set[str] = set()
            self._below[key] = (tuple(self._walk(modules, seen)), tuple(seen))
        found, seen_then = self._below[key]
        for module in seen_then:  # what an endpoint's findings depend on, also when shared
            self._context.scope(module)
        return found

    def _walk(self, modules: list[str], seen: set[str]) -> Iterator[tuple[str, _Import]]:
        """Depth first in source order, each module once: import cycles are common, chains long."""
        stack: list[Iterator[tuple[str, _Import | None]]] = [((module, None) for module in modules)]
        while stack:
            module, item = next(stack[-1], ("", None))
            if not module:
                stack.pop()
            elif item is not None:
                yield module, item
            elif module not in seen:
                seen.add(module)
                stack.append(self._steps(module))

    def _steps(self, module: str) -> Iterator[tuple[str, _Import | None]]:
        """What loading ``module`` does: ``(module, import)`` of a third-party import, ``(other, None)`` to load another."""
        for item in self._imports_of(module):
            if self.is_third_party(item):
                yield module, item
            elif self.is_project(item):
                yield from ((loaded, None) for loaded in self.loaded(item))

    def _imports_of(self, module: str) -> tuple[_Import, ...]:
        """The module-level imports of project ``module`` (parsed once per check)."""
        scope = self._context.scope(module)  # also when known: the recording notes it
        if module not in self._module_level:
            self._module_level[module] = () if scope is None else _module_level_imports(scope)
        return self._module_level[module]


def _module_level_imports(scope: ModuleScope) -> tuple[_Import, ...]:
    """A module's module-level imports, once per module text (kept with its parse)."""
    kept = scope.facts.get("module-level-imports")
    if kept is None:
        kept = tuple(_imports(scope, _import_statements(scope.parsed.tree.body, module_level=True)))
        scope.facts["module-level-imports"] = kept
    return kept  # type: ignore[return-value]


def _ancestors(module: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``: what importing ``a.b.c`` runs, in order."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


# --- FC401 dependency-undeclared --------------------------------------------------------------


def _undeclared(endpoint: Endpoint, project: _ProjectImports, imports: tuple[_Import, ...], declared: frozenset[str]) -> Iterator[Diagnostic]:
    reported: set[str] = set()
    for use in project.uses(imports):
        if use.optional or _bundled(use.module) or _covered(use.module, declared):
            continue
        distribution = packages.suggested_distribution(use.module)
        key = canonicalize_name(distribution)
        if key not in reported:
            reported.add(key)
            yield _undeclared_diagnostic(endpoint, use, distribution)


def _bundled(module: str) -> bool:
    """The flash runtime: every module declaring an endpoint imports it, and it ships with each."""
    return not packages.BUNDLED.isdisjoint(packages.distributions(module))


def _covered(module: str, declared: frozenset[str]) -> bool:
    """Some declared distribution provides ``module`` (installed metadata only when needed)."""
    return not declared.isdisjoint(packages.distributions(module)) or not declared.isdisjoint(
        packages.installed_distributions(module)
    )


def _undeclared_diagnostic(endpoint: Endpoint, use: _Use, distribution: str) -> Diagnostic:
    if use.via is None:
        subject, notes = f"`{use.module}`", []
    else:
        module, inner = use.via
        subject = f"`{module}` imports `{use.module}`, which"
        notes = [Note(f"`{use.module}` is imported here", inner.span)]
    provided = _provided(use.module, endpoint.compute)
    if provided is not None:
        return Diagnostic(DEPENDENCY_UNDECLARED, f"{subject} need not be in `dependencies`: {provided}", use.at, INFO, notes=tuple(notes))
    message = f"{subject} is not declared: add `{distribution}` to the `dependencies` of {_label(endpoint)}"
    others = [name for name in packages.listed_distributions(use.module) if name != distribution]
    if others:
        notes.append(Note(f"{_either(others)} would do as well"))
    if not set(packages.distributions(use.module)).isdisjoint(packages.GPU_IMAGE):
        notes.append(Note(f"only GPU worker images come with `{distribution}`; this endpoint runs on CPU"))
    return Diagnostic(DEPENDENCY_UNDECLARED, message, use.at, ERROR, notes=tuple(notes))


def _provided(module: str, compute: Compute) -> str | None:
    """Why the worker has ``module`` without it being declared, or None."""
    provided = set(packages.distributions(module))
    if provided & packages.EVERY_IMAGE:
        return "every worker image provides it"
    if compute is Compute.GPU and provided & packages.GPU_IMAGE:
        return "the GPU worker image provides it"
    return None


# --- FC402 dependency-unused ------------------------------------------------------------------


def _unused(endpoint: Endpoint, project: _ProjectImports, bodies: list[tuple[_Import, ...]], spans: dict[str, Span]) -> Iterator[Diagnostic]:
    modules = {use.module for imports in bodies for use in project.uses(imports)}
    known = {name for module in modules for name in packages.distributions(module)}
    known |= packages.companions_of(known)
    seen: set[str] = set()
    for text in endpoint.dependencies:
        name = packages.requirement_name(text)
        if name is None or name in seen:
            continue
        seen.add(name)
        if name in known or name in packages.RUNTIME_ONLY:
            continue
        if any(name in packages.installed_distributions(module) for module in modules):
            continue
        looked_for = _either([f"import {module}" for module in packages.import_names(name)])
        yield Diagnostic(
            DEPENDENCY_UNUSED,
            f"`{text}` is declared but the code of {_label(endpoint)} never imports it",
            spans.get(text, _fallback_span(endpoint)),
            WARNING,
            notes=(Note(f"flashc looked for {looked_for}"),),
        )


# --- FC403 requirement-invalid ----------------------------------------------------------------


def _invalid_requirements(endpoint: Endpoint, spans: dict[str, Span]) -> Iterator[Diagnostic]:
    for text in dict.fromkeys(endpoint.dependencies):
        if packages.requirement_name(text) is None:
            shown = f"`{text}`" if text.strip() else "An empty string"
            yield Diagnostic(
                REQUIREMENT_INVALID,
                f"{shown} is not a valid requirement: {packages.requirement_problem(text)}",
                spans.get(text, _fallback_span(endpoint)),
            )


def _requirement_spans(context: RuleContext, endpoint: Endpoint) -> dict[str, Span]:
    """Where each requirement string is written, when ``dependencies`` is a literal list or tuple."""
    found: dict[str, Span] = {}
    for scope, literal in _dependency_literals(context, endpoint):
        for element in literal.elts:
            if isinstance(element, ast.Constant) and isinstance(element.value, str):
                found.setdefault(element.value, scope.parsed.span(element))
    return found


def _dependency_literals(context: RuleContext, endpoint: Endpoint) -> Iterator[tuple[ModuleScope, ast.List | ast.Tuple]]:
    """The list or tuple literals given as ``dependencies`` (each ``@remote`` brings its own)."""
    setting = endpoint.setting("dependencies")
    sites = [setting.span] if setting is not None and setting.span is not None else []
    if endpoint.spelling is Spelling.REMOTE:
        sites.extend(function.decorator_span for function in endpoint.functions)
    for site in sites:
        module = context.module_of_path(site.path)
        scope = context.scope(module) if module else None
        if scope is None:
            continue
        lines, nodes = context.module_facts(scope.parsed.name, "dependencies-arguments", _argument_nodes)
        # Only nodes starting on the site's lines can be it or lie within it (in walk order).
        candidates = sorted(nodes[bisect.bisect_left(lines, site.start.line) : bisect.bisect_right(lines, site.end.line)])
        for _, node in candidates:
            literal = _literal(scope, _dependencies_value(scope, node, site))
            if literal is not None:
                yield scope, literal


def _argument_nodes(tree: ast.Module) -> tuple[list[int], list[tuple[int, ast.AST]]]:
    """The nodes that can be a ``dependencies`` argument or hold one, so each site walks only these:
    as (walk position, node) sorted by first line, with those lines (an endpoint with thousands of
    ``@remote`` functions looks each of them up, not through the whole module each time)."""
    kinds = (ast.keyword, ast.List, ast.Tuple, ast.Call)
    found = sorted(
        ((node.lineno, index, node) for index, node in enumerate(ast.walk(tree)) if isinstance(node, kinds)),
        key=lambda item: (item[0], item[1]),
    )
    return [line for line, _, _ in found], [(index, node) for _, index, node in found]


def _dependencies_value(scope: ModuleScope, node: ast.AST, site: Span) -> ast.expr | None:
    """The ``dependencies`` value written at ``site`` if ``node`` is it (keyword or positional)."""
    span = scope.parsed.span
    if isinstance(node, ast.keyword) and node.arg == "dependencies" and _within(span(node), site):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)) and span(node) == site:
        return node  # ``remote(config, [...])``: the setting is the value itself
    if isinstance(node, ast.Call) and len(node.args) > 1 and span(node) == site:
        return node.args[1]  # a further ``@remote(config, [...])`` of the same endpoint
    return None


def _literal(scope: ModuleScope, value: ast.expr | None) -> ast.List | ast.Tuple | None:
    """``value`` as a list or tuple literal, following one module-level ``DEPS = [...]``."""
    if isinstance(value, ast.Name):
        bindings = scope.bindings.get(value.id, [])
        if len(bindings) == 1 and bindings[0].kind is BindingKind.ASSIGNMENT:
            value = bindings[0].value
    return value if isinstance(value, (ast.List, ast.Tuple)) else None


def _within(inner: Span, outer: Span) -> bool:
    return inner.path == outer.path and outer.start <= inner.start and inner.end <= outer.end


# --- FC404 local-module-missing ---------------------------------------------------------------


def _missing_modules(context: RuleContext, project: _ProjectImports, imports: tuple[_Import, ...]) -> Iterator[Diagnostic]:
    for item in imports:
        if item.level and not item.target:
            yield Diagnostic(LOCAL_MODULE_MISSING, _escaping_message(item), item.span)
        elif project.is_project(item) and item.target not in project.modules:
            match = difflib.get_close_matches(item.target, sorted(project.modules), n=1, cutoff=0.8)
            notes = (Note(f"did you mean `{match[0]}`?"),) if match else ()
            yield Diagnostic(LOCAL_MODULE_MISSING, f"`{item.target}` is not a module of this project", item.span, notes=notes)
        elif project.is_project(item):
            yield from _missing_names(context, project, item)


def _escaping_message(item: _Import) -> str:
    package = _package_of(item.scope)
    if not package:
        return f"`{item.scope.parsed.name}` is not in a package, so the relative import `{item.written}` has nothing to start from"
    return f"The relative import `{item.written}` climbs out of the top-level package `{package[0]}`"


def _missing_names(context: RuleContext, project: _ProjectImports, item: _Import) -> Iterator[Diagnostic]:
    """``from module import name`` where ``name`` is neither a submodule nor bound in ``module``."""
    for alias in item.aliases:
        if alias.name == "*" or _provides(context, project, item.target, alias.name):
            continue
        yield Diagnostic(LOCAL_MODULE_MISSING, _missing_name_message(project, item.target, alias.name), item.scope.parsed.span(alias))


def _provides(context: RuleContext, project: _ProjectImports, module: str, name: str) -> bool:
    if f"{module}.{name}" in project.modules:
        return True
    if module not in project.sources:
        return False  # a directory without __init__.py has nothing but its submodules
    scope = context.scope(module)
    if scope is None or scope.star_imports or "__getattr__" in scope.bindings:
        return True  # cannot tell (unparsable, or names made at run time)
    return name in scope.bindings or (name.startswith("__") and name.endswith("__"))


def _missing_name_message(project: _ProjectImports, module: str, name: str) -> str:
    source = project.sources.get(module)
    if source is None:
        return f"`{module}` has no submodule `{name}`"
    if source.is_package:
        return f"`{module}` has no submodule or module-level name `{name}`"
    return f"`{module}` has no module-level name `{name}`"


# --- wording ----------------------------------------------------------------------------------


def _label(endpoint: Endpoint) -> str:
    return f"`{endpoint.name}`" if endpoint.name else "this endpoint"


def _either(items: list[str]) -> str:
    """Back-quoted and joined: "`a`", "`a` or `b`", "`a`, `b` or `c`"."""
    quoted = [f"`{item}`" for item in items]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _fallback_span(endpoint: Endpoint) -> Span:
    """Where ``dependencies`` is set when its entries are not written as literals."""
    setting = endpoint.setting("dependencies")
    return setting.span if setting is not None and setting.span is not None else endpoint.config_span
