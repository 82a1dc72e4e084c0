"""What code each endpoint's handler package ships, and in what form.

An endpoint ships its own definitions (SDK decorators removed), the project
modules its body imports (followed transitively), and, for every other endpoint
it calls, a stub in place of that endpoint's definition. ``--ship module``
(runpod-flash's behaviour) ships the whole source modules instead, with the
other endpoints still replaced by stubs.

A project module reached through imports ships in one of three forms:

- ``copy``: it declares no endpoints; shipped as written;
- ``stubs``: only endpoints are imported from it; shipped as just their stubs;
- ``mirror``: other names are imported from it too; shipped as written with its
  endpoints replaced by stubs (what the client package holds).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..analysis import Analysis
from ..analysis.capture import Origin, analyse_body, enclosing_definitions, referenced_endpoint
from ..analysis.evaluate import ModuleScope
from ..analysis.symbols import import_statement, resolve_relative
from ..diagnostics import split_lines
from ..model import Endpoint, EndpointFunction, EndpointKind
from ..transforms.extract import extract_definitions
from ..transforms.stubs import StubTarget, stub_module, stub_source

COPY, STUBS, MIRROR = "copy", "stubs", "mirror"


def stub_target(endpoint: Endpoint, function: EndpointFunction) -> StubTarget:
    """How a call to ``function`` reaches ``endpoint``."""
    if function.is_class:
        return StubTarget(function.name, endpoint.name or "", "class", methods=tuple(m.name for m in function.methods))
    if endpoint.kind is EndpointKind.LOAD_BALANCED and function.routes:
        route = function.routes[0]
        return StubTarget(function.name, endpoint.name or "", "route", http_method=route.method, http_path=route.path)
    return StubTarget(function.name, endpoint.name or "", "function")


@dataclass
class Shipped:
    """The source files of one handler package: module name -> (project path, text)."""

    files: dict[str, tuple[str, str]] = field(default_factory=dict)


class CodePlanner:
    """Decides and produces the code of handler packages and of the client package."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.sources = analysis.sources
        self.endpoint_of: dict[tuple[str, str], tuple[Endpoint, EndpointFunction]] = {}
        for endpoint in analysis.model.endpoints:
            for function in endpoint.functions:
                self.endpoint_of.setdefault((function.module, function.name), (endpoint, function))
        self._by_module: dict[str, list[tuple[Endpoint, EndpointFunction]]] = {}
        for key, value in self.endpoint_of.items():
            self._by_module.setdefault(key[0], []).append(value)

    # --- the client package --------------------------------------------------------------

    def client_module(self, module: str) -> str:
        """``module`` as the client package holds it: every endpoint replaced by its stub."""
        functions = self._by_module.get(module)
        if not functions:
            return self.sources[module].text
        source = self._without_applications(module)
        stubs = {f.name: stub_target(e, f) for e, f in functions if not f.local}
        local = [f for _, f in functions if f.local]
        strip = [(s.start.line, s.start.column) for f in local for s in f.sdk_decorator_spans]
        return stub_module(source, stubs, keep=[f.name for f in local], strip=strip)

    # --- handler packages ----------------------------------------------------------------

    def endpoint_code(self, endpoint: Endpoint, ship_module: bool) -> Shipped:
        """The user code of ``endpoint``'s handler package."""
        shipped = Shipped()
        pending: list[tuple[str, tuple[str, ...]]] = []
        own_modules = sorted({f.module for f in endpoint.functions})
        for module in own_modules:
            functions = [f for f in endpoint.functions if f.module == module]
            if ship_module:
                text = self._module_with(module, functions)
                # The whole module ships: what any of its functions imports must be there too.
                pending.extend(self._imports_of(module))
            else:
                text, needed = self._extracted(module, functions)
                pending.extend(needed)
            shipped.files[module] = (self.sources[module].path, text)
        for function in endpoint.functions:
            for body_import in function.body_imports:
                if body_import.is_local:
                    pending.append((body_import.module, body_import.names))
        self._follow(shipped, pending, frozenset(own_modules))
        return shipped

    def _module_with(self, module: str, functions: list[EndpointFunction]) -> str:
        """``--ship module``: the whole module, this endpoint's code kept, other endpoints stubbed."""
        keep = {f.name for f in functions}
        stubs = {f.name: stub_target(e, f) for e, f in self._by_module.get(module, []) if f.name not in keep and not f.local}
        local = [f for _, f in self._by_module.get(module, []) if f.local]
        strip = [(s.start.line, s.start.column) for f in (*functions, *local) for s in f.sdk_decorator_spans]
        return stub_module(self._without_applications(module), stubs, keep=[*keep, *(f.name for f in local)], strip=strip)

    def _without_applications(self, module: str) -> str:
        """The module with ``x = remote(cfg)(fn)`` made ``x = fn`` (and ``Endpoint(...)(fn)`` dropped).

        The build has resolved what the application declares; left in place it would
        wrap the stub (or the extracted code) in the SDK again. Lines keep their
        numbers, so decorator positions found by the analysis still match.
        """
        source = self.sources[module]
        scope = self.analysis.scopes.get(module)
        declared = {span for _, f in self._by_module.get(module, []) for span in f.sdk_decorator_spans}
        if scope is None or not declared:
            return source.text
        lines = split_lines(source.text, keepends=True)
        for statement in scope.parsed.tree.body:
            call = statement.value if isinstance(statement, (ast.Assign, ast.Expr)) else None
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Call) and len(call.args) == 1):
                continue
            if scope.parsed.span(call.func) not in declared or not isinstance(call.args[0], ast.Name):
                continue
            first, last = statement.lineno - 1, (statement.end_lineno or statement.lineno) - 1
            indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
            if isinstance(statement, ast.Assign):
                targets = " = ".join(ast.unparse(t) for t in statement.targets)
                replacement = f"{indent}{targets} = {call.args[0].id}\n"
            else:
                replacement = "\n"
            lines[first : last + 1] = [replacement, *("\n" for _ in range(last - first))]
        return "".join(lines)

    def _extracted(self, module: str, functions: list[EndpointFunction]) -> tuple[str, list[tuple[str, tuple[str, ...]]]]:
        """The endpoint's definitions from ``module``, and what they reach through module-level names."""
        source = self.sources[module]
        scope = self.analysis.scopes.get(module)
        assert scope is not None, module
        imports: list[str] = []
        same_module: dict[str, StubTarget] = {}
        local_functions: list[EndpointFunction] = []
        needed: list[tuple[str, tuple[str, ...]]] = []
        own = {f.name for f in functions}
        for function in functions:
            for binding, (target_module, name) in self._endpoint_references(scope, function):
                other_endpoint, other = self.endpoint_of[(target_module, name)]
                if target_module == module:
                    if other.local and other.name not in own:
                        local_functions.append(other)
                    elif other.name not in own:
                        same_module[other.name] = stub_target(other_endpoint, other)
                    continue
                statement = import_statement(binding)
                if statement and statement not in imports:
                    imports.append(statement)
                needed.append((binding.target, (binding.attribute,) if binding.attribute else ()))
        definitions = [*functions, *local_functions]
        extracted = extract_definitions(
            source.text,
            [(f.span.start.line, f.span.start.column) for f in definitions],
            {(s.start.line, s.start.column) for f in definitions for s in f.sdk_decorator_spans},
        )
        parts = [f"# Extracted by flashc from {source.path}: the endpoint's own code. Do not edit.\n"]
        parts.extend(extracted.future_imports)
        parts.extend(f"{statement}\n" for statement in imports)
        if same_module:
            parts.append(stub_source(source.text, same_module, faithful=False))
        parts.extend(extracted.definitions)
        # Two blank lines between top-level parts, as PEP 8 (and every formatter) has it.
        return "\n\n\n".join(p.rstrip("\n") for p in parts if p.strip()) + "\n", needed

    def _endpoint_references(self, scope: ModuleScope, function: EndpointFunction):  # type: ignore[no-untyped-def]
        """Module-level names the definition uses that refer to endpoints (they become stubs)."""
        node = next(
            (
                n
                for n in ast.walk(scope.parsed.tree)
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and n.name == function.name
                and scope.parsed.name_span(n) == function.span
            ),
            None,
        )
        if node is None:
            return
        sdk = set(function.sdk_decorator_spans)
        skip = [d for d in node.decorator_list if scope.parsed.span(d) in sdk]
        enclosing = enclosing_definitions(scope.parsed.tree).get(id(node), ())
        uses = analyse_body(node, enclosing, skip, annotations_evaluated=False)
        seen: set[tuple[str, str]] = set()
        for use in uses.uses:
            if use.origin is not Origin.MODULE:
                continue
            found = referenced_endpoint(use, scope.bindings.get(use.name, ()), scope.parsed.name, lambda m, n: (m, n) in self.endpoint_of)
            if found is not None and (found[1], use.name) not in seen:
                seen.add((found[1], use.name))
                yield found

    # --- following project imports -------------------------------------------------------

    def _follow(self, shipped: Shipped, pending: list[tuple[str, tuple[str, ...]]], own: frozenset[str]) -> None:
        modes: dict[str, str] = {}
        while pending:
            target, names = pending.pop()
            for module, imported in self._modules_for(target, names):
                if module in own:
                    continue
                mode = self._mode(module, imported)
                previous = modes.get(module)
                if previous == mode or previous == MIRROR or (previous == COPY and mode != MIRROR):
                    continue
                modes[module] = mode
                if mode != STUBS:
                    pending.extend(self._imports_of(module))
        for module, mode in sorted(modes.items()):
            source = self.sources[module]
            if mode == COPY:
                text = source.text
            elif mode == MIRROR:
                text = self.client_module(module)
            else:
                functions = self._by_module.get(module, [])
                stubs = {f.name: stub_target(e, f) for e, f in functions}
                text = f"# Stubs generated by flashc for the endpoints of {source.path}. Do not edit.\n\n" + stub_source(source.text, stubs, faithful=False)
            shipped.files[module] = (source.path, text)

    def _modules_for(self, target: str, names: tuple[str, ...]) -> Iterable[tuple[str, tuple[str, ...]]]:
        """The project modules ``from target import names`` runs: packages on the way, the module, submodules."""
        if not target:
            return
        parts = target.split(".")
        for i in range(1, len(parts)):
            package = ".".join(parts[:i])
            if package in self.sources:
                yield package, ("*",)
        submodules = [n for n in names if f"{target}.{n}" in self.sources]
        if target in self.sources:
            yield target, tuple(n for n in names if n not in submodules) or (() if names else ("*",))
        for name in submodules:
            yield f"{target}.{name}", ("*",)

    def _mode(self, module: str, names: tuple[str, ...]) -> str:
        functions = self._by_module.get(module)
        if not functions:
            return COPY
        if names and all((module, n) in self.endpoint_of and not self.endpoint_of[(module, n)][1].local for n in names):
            return STUBS
        return MIRROR

    def _imports_of(self, module: str) -> list[tuple[str, tuple[str, ...]]]:
        """The project imports anywhere in a module (what shipping it as written can run)."""
        scope = self.analysis.scopes.get(module)
        if scope is None:
            return []
        source = self.sources[module]
        found = []
        for node in ast.walk(scope.parsed.tree):
            if isinstance(node, ast.Import):
                found.extend((alias.name, ()) for alias in node.names if self._is_project(alias.name))
            elif isinstance(node, ast.ImportFrom):
                target = resolve_relative(source.module, source.is_package, node.level, node.module)
                if self._is_project(target):
                    found.append((target, tuple(a.name for a in node.names)))
        return found

    def _is_project(self, module: str) -> bool:
        return bool(module) and any(m == module or m.startswith(module + ".") for m in self.sources)


def requirements_text(requirements: Iterable[str]) -> str:
    lines = list(dict.fromkeys(requirements))
    return "".join(f"{line}\n" for line in lines)


def module_file(module: str, path: str) -> str:
    """Where ``module`` goes inside a package directory (keeps ``pkg/__init__.py`` forms)."""
    parts = module.split(".")
    if path.endswith("__init__.py"):
        return "/".join(parts) + "/__init__.py"
    return "/".join(parts) + ".py"

