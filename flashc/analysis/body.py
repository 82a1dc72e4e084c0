"""Facts about an endpoint's own code: signature, methods, in-body imports, endpoint calls."""

from __future__ import annotations

import ast
from collections.abc import Callable

from ..diagnostics import Span
from ..model import BodyImport, EndpointCall, Method, Parameter
from .evaluate import ModuleScope
from .parse import unparse
from .symbols import BindingKind, resolve_relative

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def parameters(node: FunctionNode, skip_self: bool = False) -> tuple[Parameter, ...]:
    args = node.args
    result: list[Parameter] = []

    def add(arg: ast.arg, kind: str, has_default: bool) -> None:
        annotation = unparse(arg.annotation) if arg.annotation is not None else None
        result.append(Parameter(arg.arg, kind, has_default, annotation))

    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    for index, arg in enumerate(positional):
        kind = "positional-only" if index < len(args.posonlyargs) else "positional"
        add(arg, kind, index >= first_default)
    if args.vararg:
        add(args.vararg, "var-positional", False)
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        add(arg, "keyword-only", default is not None)
    if args.kwarg:
        add(args.kwarg, "var-keyword", False)
    if skip_self and result and result[0].kind in ("positional-only", "positional"):
        result = result[1:]
    return tuple(result)


def public_methods(scope: ModuleScope, node: ast.ClassDef) -> tuple[Method, ...]:
    """Public methods in source order: what a class endpoint dispatches to."""
    methods = []
    for statement in node.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and not statement.name.startswith("_"):
            is_static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in statement.decorator_list)
            methods.append(
                Method(
                    statement.name,
                    isinstance(statement, ast.AsyncFunctionDef),
                    parameters(statement, skip_self=not is_static),
                    scope.parsed.name_span(statement),
                )
            )
    return tuple(methods)


def imports_and_calls(
    scope: ModuleScope,
    node: ast.AST,
    is_local: Callable[[str], bool],
    is_endpoint: Callable[[str, str], bool],
    own: tuple[str, str],
) -> tuple[tuple[BodyImport, ...], tuple[EndpointCall, ...]]:
    """The definition's import statements and its calls to other endpoints, in one walk.

    Imports at any depth are what the worker imports itself; calls are matched
    directly (``embed()``), through a module (``workers.embed()``) or through an
    in-body import. The walk depends on this module's text alone, so it is kept with
    the parse (``scope.facts``) and re-checks of an unchanged module skip it; only
    which modules are local and which callees are endpoints is decided anew.
    """
    key = f"body-walk:{id(node)}"
    walked = scope.facts.get(key)
    if walked is None or walked[0] is not node:
        walked = (node, *_walk_body(scope, node))
        scope.facts[key] = walked
    _, imported, called = walked
    imports = tuple(BodyImport(module, names, span, bool(module) and is_local(module)) for module, names, span in imported)
    calls = tuple(
        EndpointCall(f"{callee[0]}:{callee[1]}", span, awaited)
        for callee, span, awaited in called
        if callee != own and is_endpoint(*callee)
    )
    return imports, calls


def _walk_body(scope: ModuleScope, node: ast.AST) -> tuple[list[tuple[str, tuple[str, ...], Span]], list[tuple[tuple[str, str], Span, bool]]]:
    """``(module, names, span)`` of each import statement (``names`` empty for ``import m``)
    and ``(callee, span, awaited)`` of each call whose callee is a module-level name."""
    import_nodes: list[ast.Import | ast.ImportFrom] = []
    calls: list[ast.Call] = []
    awaited: set[int] = set()
    for child in ast.walk(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            import_nodes.append(child)
        elif isinstance(child, ast.Call):
            calls.append(child)
        elif isinstance(child, ast.Await):
            awaited.add(id(child.value))
    source = scope.parsed.source
    imports: list[tuple[str, tuple[str, ...], Span]] = []
    names: dict[str, tuple[str, str]] = {}
    for statement in import_nodes:
        span = scope.parsed.span(statement)
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                imports.append((alias.name, (), span))
                top = alias.name.split(".")[0]
                names[alias.asname or top] = (alias.name if alias.asname else top, "")
        else:
            module = resolve_relative(source.module, source.is_package, statement.level, statement.module)
            imports.append((module, tuple(a.name for a in statement.names), span))
            for alias in statement.names:
                names[alias.asname or alias.name] = (module, alias.name)
    called = []
    for call in calls:
        callee = _callee(scope, call.func, names)
        if callee is not None:
            called.append((callee, scope.parsed.span(call), id(call) in awaited))
    return imports, called


def _callee(scope: ModuleScope, func: ast.expr, imported: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    if isinstance(func, ast.Name):
        if func.id in imported:
            module, attribute = imported[func.id]
            return (module, attribute) if attribute else None
        bindings = scope.bindings.get(func.id)
        if not bindings:
            return None
        binding = bindings[-1]
        if binding.kind in (BindingKind.FUNCTION, BindingKind.CLASS):
            return (scope.parsed.name, func.id)
        if binding.kind is BindingKind.IMPORT_FROM:
            return (binding.target, binding.attribute)
        return None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        base = func.value.id
        if base in imported and not imported[base][1]:
            return (imported[base][0], func.attr)
        bindings = scope.bindings.get(base)
        if bindings and bindings[-1].kind is BindingKind.IMPORT:
            return (bindings[-1].target, func.attr)
        if bindings and bindings[-1].kind is BindingKind.IMPORT_FROM:
            return (f"{bindings[-1].target}.{bindings[-1].attribute}", func.attr)
    return None
