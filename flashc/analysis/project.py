"""The whole front end: files in, :class:`~flashc.model.ProjectModel` out.

Parsing is the expensive step, so a file is parsed only when it can matter: a
module is searched for endpoints when it mentions a flash SDK module or imports
(transitively) a project module that does; any other module is parsed lazily,
the first time a configuration refers to one of its names.
"""

from __future__ import annotations

import ast
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from flashc_runtime.sdk import tables

from ..config import Config
from ..diagnostics import Diagnostic, Span
from ..discovery import iter_source_paths, module_name
from ..model import Endpoint, EndpointFunction, ModuleSummary, ProjectModel, Route, SourceFile
from . import body
from .discover import Declaration, Target, discover
from .evaluate import Evaluator, ModuleScope
from .parse import ParsedModule, decode_source, parse_module, read_source
from .resolve import FunctionBuilder, Group, group_targets, resolve_group
from .symbols import collect_bindings, resolve_relative

_SDK_MENTION = re.compile(r"\b(?:{})\b".format("|".join(tables.SDK_MODULES)))
_FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+\(?([\w ,\t]*)", re.MULTILINE)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w., \t]+)", re.MULTILINE)


class ModuleScopes(Mapping[str, ModuleScope]):
    """Module name -> parsed scope, parsing each file on first use."""

    def __init__(self, sources: dict[str, SourceFile]) -> None:
        self._sources = sources
        self._scopes: dict[str, ModuleScope | None] = {}
        self.diagnostics: list[Diagnostic] = []

    def __getitem__(self, name: str) -> ModuleScope:
        if name not in self._scopes:
            self._scopes[name] = self._parse(self._sources[name])
        scope = self._scopes[name]
        if scope is None:
            raise KeyError(name)
        return scope

    def __contains__(self, name: object) -> bool:
        return name in self._sources

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    def _parse(self, source: SourceFile) -> ModuleScope | None:
        key = (source.path, source.module, source.is_package, source.text)
        cached = _PARSED.get(key)
        if cached is not None:
            _PARSED.move_to_end(key)
        else:
            cached = _parse_scope(source)
            _PARSED[key] = cached
            if len(_PARSED) > _PARSED_LIMIT:
                _PARSED.popitem(last=False)
        if isinstance(cached, Diagnostic):
            self.diagnostics.append(cached)
            return None
        return cached


_PARSED_LIMIT = 4096
_PARSED: OrderedDict[tuple[str, str, bool, str], ModuleScope | Diagnostic] = OrderedDict()
"""Parsed modules by content, shared by the analyses of one process (the editor server
re-checks after every keystroke: only the edited file is parsed again). A module's parse
and bindings depend on its own text alone, and nothing mutates them, so sharing is safe."""


def _parse_scope(source: SourceFile) -> ModuleScope | Diagnostic:
    parsed = parse_module(source)
    if isinstance(parsed, Diagnostic):
        return parsed
    collector = collect_bindings(parsed.tree, source.module, source.is_package)
    return ModuleScope(parsed, collector.bindings, tuple(collector.star_imports))


@dataclass(frozen=True, slots=True)
class Analysis:
    """The model plus what the rules need beyond it: the parsed modules behind it."""

    model: ProjectModel
    sources: Mapping[str, SourceFile]
    """Module name -> source, for every file read."""
    scopes: ModuleScopes
    """Module name -> parsed module and bindings (parsed on first use)."""
    candidates: frozenset[str]
    """Modules that can declare or call endpoints (the rest were never parsed)."""


def analyse_project(root: Path, config: Config) -> ProjectModel:
    return analyse(root, config).model


def analyse(root: Path, config: Config, overrides: Mapping[str, str] | None = None) -> Analysis:
    """Read and analyse the project at ``root``.

    ``overrides`` maps project-relative paths to text used instead of the file's
    content (unsaved editor buffers, fixes being applied).
    """
    sources, diagnostics = read_sources(root, config, overrides)
    return analyse_sources(root, config, sources, diagnostics)


def read_sources(root: Path, config: Config, overrides: Mapping[str, str] | None = None) -> tuple[dict[str, SourceFile], list[Diagnostic]]:
    """Every project file as text (module name -> source), plus FC902 for unreadable ones."""
    diagnostics: list[Diagnostic] = []
    sources: dict[str, SourceFile] = {}
    for file, relative in iter_source_paths(root, config):
        name, is_package = module_name(relative)
        text = overrides.get(relative) if overrides else None
        source = SourceFile(relative, name, text, is_package) if text is not None else _read(root, file, relative, name, is_package)
        if isinstance(source, Diagnostic):
            diagnostics.append(source)
        elif name and name not in sources:
            sources[name] = source
    return sources, diagnostics


_READ_LIMIT = 8192
_READ: OrderedDict[tuple[str, str, str, bool, bytes], SourceFile] = OrderedDict()
"""Decoded files by their bytes, shared by the analyses of one process: an editor re-check
reads every file again (an edit elsewhere may have saved it) but decodes only what changed."""


def _read(root: Path, file: str, relative: str, name: str, is_package: bool) -> SourceFile | Diagnostic:
    try:
        with open(file, "rb") as stream:
            data = stream.read()
    except OSError:
        return read_source(root, Path(file), name, is_package)  # says why
    key = (str(root), relative, name, is_package, data)
    cached = _READ.get(key)
    if cached is not None:
        _READ.move_to_end(key)
        return cached
    source = decode_source(relative, name, data, is_package)
    if isinstance(source, SourceFile):
        _READ[key] = source
        if len(_READ) > _READ_LIMIT:
            _READ.popitem(last=False)
    return source


def analyse_sources(
    root: Path,
    config: Config,
    sources: dict[str, SourceFile],
    diagnostics: list[Diagnostic],
    candidates: set[str] | frozenset[str] | None = None,
) -> Analysis:
    scopes = ModuleScopes(sources)
    package_names = _package_names(sources)
    evaluator = Evaluator(scopes, package_names)
    candidates = candidate_modules(sources) if candidates is None else candidates
    targets: list[Target] = []
    names = _same(root, "modules", frozenset(sources))
    for name in sorted(candidates):
        scope = scopes.get(name)
        if scope is None:
            continue
        found, problems = _discover(root, name, scope, scopes, names, package_names)
        targets.extend(found)
        diagnostics.extend(problems)

    endpoint_names = _same(root, "endpoints", frozenset((t.scope.parsed.name, t.node.name) for t in targets))

    def build_function(target: Target, routes: tuple[Route, ...], local: bool) -> EndpointFunction:
        return _endpoint_function(target, routes, local, endpoint_names, evaluator.is_local_module)

    python_version = config.python_version or tables.DEFAULT_PYTHON_VERSION
    groups = group_targets(targets, diagnostics)
    reused = (root, python_version, endpoint_names, names)
    endpoints = _merge_identical([_resolve(group, build_function, reused) for group in groups])
    endpoints.sort(key=lambda e: (e.path, e.config_span.start, e.name or ""))
    diagnostics.extend(scopes.diagnostics)
    counts: dict[str, int] = {}
    for endpoint in endpoints:
        for function in endpoint.functions:
            counts[function.module] = counts.get(function.module, 0) + 1
    modules = tuple(
        ModuleSummary(s.path, s.module, counts.get(s.module, 0), skipped=s.module not in candidates)
        for s in sorted(sources.values(), key=lambda s: s.path)
    )
    model = ProjectModel(
        root=root,
        name=config.app or root.name,
        config=config,
        modules=modules,
        endpoints=tuple(endpoints),
        diagnostics=tuple(sorted(set(diagnostics), key=Diagnostic.sort_key)),
    )
    return Analysis(model, sources, scopes, frozenset(candidates))


@dataclass(frozen=True, slots=True)
class _Discovered:
    """One module's discovery and everything it read: valid while all of it is unchanged."""

    scope: ModuleScope
    read: tuple[tuple[str, ModuleScope | None], ...]
    """The other modules its evaluation looked up, as they were."""
    names: frozenset[str]
    """The project's module names (which imports are local)."""
    targets: tuple[Target, ...]
    problems: tuple[Diagnostic, ...]


_DISCOVERED_LIMIT = 4096
_DISCOVERED: OrderedDict[tuple[Path, str], _Discovered] = OrderedDict()
"""The newest discovery of each module of each project, for the re-checks of one process
(least recently used first, bounded like the parses it holds)."""
_NAMES: dict[tuple[Path, str], frozenset] = {}


def _same(root: Path, kind: str, names: frozenset) -> frozenset:
    """``names`` (the project's module names, or its endpoint functions), as the very object of
    the previous check of ``root`` when equal: then what was computed with them is valid after
    one identity test, not a comparison of every name."""
    previous = _NAMES.get((root, kind))
    if previous is not None and previous == names:
        return previous
    _NAMES[(root, kind)] = names
    return names


_RESOLVED_LIMIT = 4096
_RESOLVED: OrderedDict[tuple[Path, Span], tuple[tuple[object, ...], tuple[tuple[Target, tuple[Declaration, ...]], ...], Endpoint]] = OrderedDict()
"""The newest endpoint resolved for each configuration of each project, with what it was
resolved from (see :func:`_resolve`); an edit replaces its entry, so a session does not pile up."""


def _same_inputs(before: tuple[object, ...], now: tuple[object, ...]) -> bool:
    """Equal values (a root, a version) or, for name sets, the very same object (see :func:`_same`)."""
    return len(before) == len(now) and all(
        a is b if isinstance(a, frozenset) else a == b for a, b in zip(before, now)
    )


def _resolve(group: Group, build_function: FunctionBuilder, reused: tuple[object, ...]) -> Endpoint:
    """:func:`resolve_group`, reused while the group's targets are the very objects of a previous
    check (so their modules and what those read are unchanged), with the same Python version,
    endpoint functions and module names (``reused``: what the endpoint's facts depend on beyond
    its own modules)."""
    members = tuple((target, tuple(chosen)) for target, chosen in group.members)
    key = (reused[0], group.config_span)  # type: ignore[index]
    kept = _RESOLVED.get(key)
    if (
        kept is not None
        and _same_inputs(kept[0], reused)
        and len(kept[1]) == len(members)
        and all(t is u and len(c) == len(d) and all(x is y for x, y in zip(c, d)) for (t, c), (u, d) in zip(kept[1], members))
    ):
        _RESOLVED.move_to_end(key)
        return kept[2]
    endpoint = resolve_group(group, build_function, reused[1])  # type: ignore[arg-type]
    _RESOLVED[key] = (reused, members, endpoint)
    _RESOLVED.move_to_end(key)
    if len(_RESOLVED) > _RESOLVED_LIMIT:
        _RESOLVED.popitem(last=False)
    return endpoint


class _Recording(Mapping[str, ModuleScope]):
    """The project's scopes, noting each module looked up (what a discovery depends on)."""

    def __init__(self, scopes: ModuleScopes) -> None:
        self._scopes = scopes
        self.read: dict[str, ModuleScope | None] = {}

    def __getitem__(self, name: str) -> ModuleScope:
        try:
            scope = self._scopes[name]
        except KeyError:
            self.read[name] = None
            raise
        self.read[name] = scope
        return scope

    def __contains__(self, name: object) -> bool:
        return name in self._scopes

    def __iter__(self) -> Iterator[str]:
        return iter(self._scopes)

    def __len__(self) -> int:
        return len(self._scopes)


def _discover(
    root: Path, name: str, scope: ModuleScope, scopes: ModuleScopes, names: frozenset[str], package_names: frozenset[str]
) -> tuple[tuple[Target, ...], tuple[Diagnostic, ...]]:
    """:func:`discover` of one module, reused while the module, the modules its evaluation read
    and the set of project modules are unchanged (parses are shared by content, so unchanged
    means the same object). Each module is evaluated on its own, so what it reads is complete;
    targets of different modules using one configuration still group together, by where the
    configuration is created."""
    kept = _DISCOVERED.get((root, name))
    if (
        kept is not None
        and kept.scope is scope
        and kept.names is names
        and all(scopes.get(other) is was for other, was in kept.read)
    ):
        _DISCOVERED.move_to_end((root, name))
        return kept.targets, kept.problems
    recording = _Recording(scopes)
    found, problems = discover(scope, Evaluator(recording, package_names))
    recording.read.pop(name, None)
    _DISCOVERED[(root, name)] = _Discovered(scope, tuple(recording.read.items()), names, tuple(found), tuple(problems))
    _DISCOVERED.move_to_end((root, name))
    if len(_DISCOVERED) > _DISCOVERED_LIMIT:
        _DISCOVERED.popitem(last=False)
    return tuple(found), tuple(problems)


def _merge_identical(endpoints: list[Endpoint]) -> list[Endpoint]:
    """One endpoint for identical declarations in one file.

    ``@Endpoint(name="jobs", cpu=...)`` written on two functions creates two
    configuration objects, but runpod-flash deploys them as one resource serving both
    functions. Declarations that differ, or live in different files, stay apart
    (and FC310 reports them).
    """
    merged: dict[tuple[object, ...], Endpoint] = {}
    result: list[Endpoint] = []
    for endpoint in endpoints:
        if endpoint.name is None:
            result.append(endpoint)
            continue
        key = (endpoint.name, endpoint.path, endpoint.configuration_key())
        first = merged.get(key)
        if first is None:
            merged[key] = endpoint
            result.append(endpoint)
            continue
        combined = replace(first, functions=first.functions + endpoint.functions, problems=first.problems + endpoint.problems)
        merged[key] = combined
        result[result.index(first)] = combined
    return result


def _package_names(sources: Mapping[str, SourceFile]) -> frozenset[str]:
    """Every project module and every package prefix of one (``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``)."""
    names: set[str] = set()
    for module in sources:
        parts = module.split(".")
        names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return frozenset(names)


def candidate_modules(sources: Mapping[str, SourceFile]) -> set[str]:
    """Modules that mention the SDK, or import (transitively) a project module that does."""
    scans = {name: _scan(source) for name, source in sources.items()}
    candidates = {name for name, (mentions, _) in scans.items() if mentions}
    if not candidates:
        return candidates
    imports = {name: imported for name, (_, imported) in scans.items() if name not in candidates}
    changed = True
    while changed:
        changed = False
        for name, imported in imports.items():
            if name not in candidates and imported & candidates:
                candidates.add(name)
                changed = True
    return candidates


_SCANNED_LIMIT = 8192
_SCANNED: OrderedDict[SourceFile, tuple[bool, frozenset[str]]] = OrderedDict()
""":func:`_scan` by source, for the re-checks of one process (only edited files are scanned again)."""


def _scan(source: SourceFile) -> tuple[bool, frozenset[str]]:
    """Whether ``source`` mentions the SDK, and the project modules it may import."""
    scanned = _SCANNED.get(source)
    if scanned is None:
        mentions = _mentions_sdk(source.text)
        scanned = (mentions, frozenset() if mentions else frozenset(_imported_modules(source)))
        _SCANNED[source] = scanned
        if len(_SCANNED) > _SCANNED_LIMIT:
            _SCANNED.popitem(last=False)
    return scanned


def _mentions_sdk(text: str) -> bool:
    # A substring test first: most files of a large tree never name the SDK, and ``in`` is
    # an order of magnitude faster than the word-boundary regex that confirms it.
    return any(module in text for module in tables.SDK_MODULES) and _SDK_MENTION.search(text) is not None


def _imported_modules(source: SourceFile) -> set[str]:
    """Project-relative guesses of what ``source`` imports (a cheap textual scan)."""
    found: set[str] = set()
    for dots, module, names in _FROM_IMPORT.findall(source.text):
        base = resolve_relative(source.module, source.is_package, len(dots), module or None)
        if base:
            found.add(base)
        for name in re.split(r"[\s,]+", names):
            if name and name != "as":
                found.add(f"{base}.{name}" if base else name)
    for group in _IMPORT.findall(source.text):
        for part in group.split(","):
            module = part.strip().split(" ")[0]
            if module:
                found.add(module)
    return found


def _endpoint_function(
    target: Target,
    routes: tuple[Route, ...],
    local: bool,
    endpoint_names: set[tuple[str, str]],
    is_local_module,
) -> EndpointFunction:
    node, scope = target.node, target.scope
    parsed: ParsedModule = scope.parsed
    is_class = isinstance(node, ast.ClassDef)
    methods = body.public_methods(scope, node) if is_class else ()
    imports, calls = body.imports_and_calls(scope, node, is_local_module, lambda m, n: (m, n) in endpoint_names, (parsed.name, node.name))
    return EndpointFunction(
        name=node.name,
        module=parsed.name,
        path=parsed.path,
        span=parsed.name_span(node),
        decorator_span=target.declarations[0].span,
        sdk_decorator_spans=tuple(d.span for d in target.declarations),
        is_async=any(m.is_async for m in methods) if is_class else isinstance(node, ast.AsyncFunctionDef),
        is_class=is_class,
        parameters=() if is_class else body.parameters(node),  # type: ignore[arg-type]
        methods=methods,
        docstring=ast.get_docstring(node),
        routes=routes,
        local=local,
        enclosing_function=target.enclosing_function,
        body_imports=imports,
        endpoint_calls=calls,
    )
