"""What a rule's check function is given: the analysis, and cheap ways into it."""

from __future__ import annotations

import ast
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from flashc_runtime.sdk import tables

from ..analysis import Analysis
from ..analysis.evaluate import ModuleScope
from ..diagnostics import Span
from ..model import Endpoint, EndpointFunction, ProjectModel

T = TypeVar("T")
DefinitionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass
class RuleContext:
    analysis: Analysis
    shard: tuple[int, int] = (0, 1)
    """``(index, count)``: this run reports for one of ``count`` disjoint parts of the project
    (the engine runs parts in parallel processes); ``(0, 1)`` is all of it."""

    def owns(self, key: str) -> bool:
        """Whether this shard reports for ``key`` (a module name or path): a stable split."""
        index, count = self.shard
        return count == 1 or zlib.crc32(key.encode("utf-8", "surrogateescape")) % count == index

    @property
    def whole_project(self) -> bool:
        """Whether this is the shard that runs project-wide rules (exactly one does)."""
        return self.shard[0] == 0

    @property
    def model(self) -> ProjectModel:
        return self.analysis.model

    @property
    def python_version(self) -> str:
        """The workers' Python (``[tool.flashc] python-version``, else the SDK default)."""
        return self.model.config.python_version or tables.DEFAULT_PYTHON_VERSION

    @cached_property
    def endpoint_functions(self) -> dict[tuple[str, str], tuple[Endpoint, EndpointFunction]]:
        """``(module, name)`` -> the endpoint serving it and the function's facts."""
        found: dict[tuple[str, str], tuple[Endpoint, EndpointFunction]] = {}
        for endpoint in self.model.endpoints:
            for function in endpoint.functions:
                found.setdefault((function.module, function.name), (endpoint, function))
        return found

    def functions(self) -> Iterator[tuple[Endpoint, EndpointFunction]]:
        for endpoint in self.model.endpoints:
            for function in endpoint.functions:
                yield endpoint, function

    def module_facts(self, module: str, kind: str, compute: Callable[[ast.Module], T]) -> T:
        """``compute(tree)`` for ``module``, once per module content and kind (shared by all rules,
        and by later checks while the module is unchanged: see ``ModuleScope.facts``)."""
        scope = self.scope(module)
        assert scope is not None, module
        if kind not in scope.facts:
            scope.facts[kind] = compute(scope.parsed.tree)
        return scope.facts[kind]  # type: ignore[return-value]

    def scope(self, module: str) -> ModuleScope | None:
        """The parsed module (None when it does not parse or is not in the project)."""
        return self.analysis.scopes.get(module)

    def definition(self, function: EndpointFunction) -> DefinitionNode | None:
        """The ``def``/``class`` node of an endpoint function."""
        scope = self.scope(function.module)
        if scope is None:
            return None
        found: dict[tuple[str, Span], DefinitionNode | None] = scope.facts.setdefault("definition-at", {})  # type: ignore[assignment]
        key = (function.name, function.span)
        if key not in found:  # once per module text: re-checks find the same node
            found[key] = next(
                (node for node in self.module_facts(function.module, "definitions", _definitions).get(function.name, ())
                 if scope.parsed.name_span(node) == function.span),
                None,
            )
        return found[key]

    def node_at(self, module: str, span: Span) -> ast.AST | None:
        """The outermost expression or statement of ``module`` written exactly at ``span``."""
        scope = self.scope(module)
        if scope is None:
            return None
        for node in ast.walk(scope.parsed.tree):
            if isinstance(node, (ast.expr, ast.stmt)) and scope.parsed.span(node) == span:
                return node
        return None

    def module_of_path(self, path: str) -> str | None:
        for name, source in self.analysis.sources.items():
            if source.path == path:
                return name
        return None


def _definitions(tree: ast.Module) -> dict[str, list[DefinitionNode]]:
    """Every ``def``/``class`` of a module by name (one walk serves all its endpoints)."""
    found: dict[str, list[DefinitionNode]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.setdefault(node.name, []).append(node)
    return found
