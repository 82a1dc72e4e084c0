"""Finding endpoint declarations in a module, by meaning rather than spelling.

Every decorator is evaluated statically; what it evaluates to decides what it
is. ``@remote(cfg)``, ``@rf.remote(...)``, ``@r(...)`` after ``from runpod_flash
import remote as r``, ``@Endpoint(...)``, a bare ``@ep`` where ``ep = Endpoint(...)``
(even imported from another module), ``@api.post("/p")`` and the call forms
``remote(cfg)(fn)`` / ``Endpoint(...)(fn)`` all reduce to the same few values.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ..diagnostics import Diagnostic, Severity, Span
from .codes import CONFIG_NOT_STATIC
from .evaluate import Applied, DefinitionRef, Evaluator, Known, ModuleScope, RouteDecorator, SdkCall, SdkSymbol, Value
from .parse import unparse

DEFINITION = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_DECORATOR_NAMES = frozenset({"remote", "Endpoint"})
_ROUTE_NAMES = frozenset({"get", "post", "put", "delete", "patch"})


@dataclass(frozen=True, slots=True)
class Declaration:
    """One SDK decorator applied to one definition."""

    decorator: SdkCall | RouteDecorator
    span: Span
    """The decorator expression (or the call, for ``remote(cfg)(fn)``)."""
    config_variable: str | None
    """The module variable holding the config or Endpoint, as runpod-flash records it."""


@dataclass(frozen=True, slots=True)
class Target:
    """A function or class declared as (part of) an endpoint."""

    scope: ModuleScope
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    declarations: tuple[Declaration, ...]
    enclosing_function: str | None = None


def discover(scope: ModuleScope, evaluator: Evaluator) -> tuple[list[Target], list[Diagnostic]]:
    """All endpoint targets of a module, plus diagnostics for declarations flashc cannot read."""
    targets: list[Target] = []
    problems: list[Diagnostic] = []
    for node, enclosing in _decorated(scope):
        declarations = []
        for decorator in node.decorator_list:
            value = evaluator.expression(scope, decorator, decorator.lineno)
            declaration = _declaration(scope, decorator, value, problems)
            if declaration is not None:
                declarations.append(declaration)
        if declarations:
            targets.append(Target(scope, node, tuple(declarations), enclosing))
    targets.extend(_applied_targets(scope, evaluator, problems))
    return targets, problems


def _decorated(scope: ModuleScope) -> tuple[tuple[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, str | None], ...]:
    """The decorated definitions of :func:`_definitions`: found once per module text (kept with
    its parse, so an editor re-check walks only the modules that changed)."""
    kept = scope.facts.get("decorated-definitions")
    if kept is None:
        kept = tuple((node, enclosing) for node, enclosing in _definitions(scope.parsed.tree.body, None) if node.decorator_list)
        scope.facts["decorated-definitions"] = kept
    return kept  # type: ignore[return-value]


def _applied_calls(scope: ModuleScope) -> tuple[tuple[ast.stmt, ast.Call], ...]:
    """Module-level statements of the form ``x = f(...)(...)`` or ``f(...)(...)``, once per module text."""
    kept = scope.facts.get("applied-calls")
    if kept is None:
        found = []
        for statement in scope.parsed.tree.body:
            call = statement.value if isinstance(statement, (ast.Assign, ast.Expr)) else None
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Call):
                found.append((statement, call))
        kept = tuple(found)
        scope.facts["applied-calls"] = kept
    return kept  # type: ignore[return-value]


def _definitions(
    body: list[ast.stmt], enclosing: str | None
) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, str | None]]:
    """Definitions at module level (also under ``if``/``try``/``with``) and inside functions."""
    for statement in body:
        if isinstance(statement, DEFINITION):
            yield statement, enclosing
            if not isinstance(statement, ast.ClassDef):
                inner = f"{enclosing}.{statement.name}" if enclosing else statement.name
                yield from _definitions(statement.body, inner)
            continue
        nested: list[ast.stmt] = []
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(statement, field, None) or ():
                if isinstance(child, ast.stmt):
                    nested.append(child)
                elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    nested.extend(child.body)
        yield from _definitions(nested, enclosing)


def _declaration(scope: ModuleScope, decorator: ast.expr, value: Value, problems: list[Diagnostic]) -> Declaration | None:
    span = scope.parsed.span(decorator)
    if isinstance(value, Known):
        target = value.value
        if isinstance(target, SdkCall) and target.callee in _DECORATOR_NAMES:
            return Declaration(target, span, _config_variable(decorator, target))
        if isinstance(target, RouteDecorator):
            return Declaration(target, span, _config_variable(decorator, target))
        if isinstance(target, SdkSymbol) and target.name in _DECORATOR_NAMES:
            problems.append(
                Diagnostic(
                    CONFIG_NOT_STATIC,
                    f"`@{unparse(decorator)}` must be called with its configuration, "
                    f"e.g. `@{unparse(decorator)}(...)`",
                    span,
                )
            )
        return None
    if _looks_like_sdk_decorator(decorator):
        problems.append(
            Diagnostic(
                CONFIG_NOT_STATIC,
                f"Cannot tell statically whether `@{_short(decorator)}` declares an endpoint: {value.reason}",
                span,
                Severity.WARNING,
            )
        )
    return None


def _config_variable(decorator: ast.expr, value: SdkCall | RouteDecorator) -> str | None:
    """``@ep``/``@api.post(...)`` -> the variable; ``@remote(cfg)`` -> ``cfg``; inline -> None."""
    node = decorator
    if isinstance(value, RouteDecorator):
        node = decorator.func.value if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute) else decorator
    elif isinstance(decorator, ast.Call) and value.callee == "remote":
        node = decorator.args[0] if decorator.args else next(
            (k.value for k in decorator.keywords if k.arg == "resource_config"), decorator
        )
    elif isinstance(decorator, ast.Call):
        return None
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _looks_like_sdk_decorator(decorator: ast.expr) -> bool:
    node = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(node, ast.Name):
        return node.id in _DECORATOR_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr in _DECORATOR_NAMES or (node.attr in _ROUTE_NAMES and isinstance(decorator, ast.Call))
    return False


def _short(node: ast.expr) -> str:
    text = unparse(node)
    return text if len(text) <= 50 else text[:47] + "..."


def _applied_targets(scope: ModuleScope, evaluator: Evaluator, problems: list[Diagnostic]) -> Iterator[Target]:
    """``x = remote(cfg)(fn)`` and ``Endpoint(...)(Cls)`` at module level."""
    applied_calls = _applied_calls(scope)
    if not applied_calls:
        return
    definitions = {
        node.name: node for node in scope.parsed.tree.body if isinstance(node, DEFINITION)
    }
    for statement, call in applied_calls:
        value = evaluator.expression(scope, call, statement.lineno)
        if not (isinstance(value, Known) and isinstance(value.value, Applied)):
            continue
        applied = value.value
        decorator, target = applied.decorator.value, applied.target
        if not (isinstance(target, Known) and isinstance(target.value, DefinitionRef)):
            continue
        node = definitions.get(target.value.name) if target.value.module == scope.parsed.name else None
        declaration = _declaration(scope, call.func, applied.decorator, problems)
        if node is not None and declaration is not None and isinstance(decorator, (SdkCall, RouteDecorator)):
            yield Target(scope, node, (declaration,))
