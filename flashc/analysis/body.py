"""Facts about an endpoint's own code: signature, methods, in-body imports, endpoint calls."""

from __future__ import annotations

import ast
from collections.abc import Callable

from ..model import BodyImport, EndpointCall, Method, Parameter
from .evaluate import ModuleScope
from .symbols import BindingKind, resolve_relative

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def parameters(node: FunctionNode, skip_self: bool = False) -> tuple[Parameter, ...]:
    args = node.args
    result: list[Parameter] = []

    def add(arg: ast.arg, kind: str, has_default: bool) -> None:
        annotation = ast.unparse(arg.annotation) if arg.annotation is not None else None
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


def body_imports(scope: ModuleScope, node: ast.AST, is_local: Callable[[str], bool]) -> tuple[BodyImport, ...]:
    """Every import statement inside the definition, at any depth."""
    found: list[BodyImport] = []
    for child in ast.walk(node):
        if isinstance(child, ast.Import):
            for alias in child.names:
                found.append(BodyImport(alias.name, (), scope.parsed.span(child), is_local(alias.name)))
        elif isinstance(child, ast.ImportFrom):
            source = scope.parsed.source
            module = resolve_relative(source.module, source.is_package, child.level, child.module)
            names = tuple(alias.name for alias in child.names)
            found.append(BodyImport(module, names, scope.parsed.span(child), bool(module) and is_local(module)))
    return tuple(found)


def endpoint_calls(
    scope: ModuleScope,
    node: ast.AST,
    is_endpoint: Callable[[str, str], bool],
    own: tuple[str, str],
) -> tuple[EndpointCall, ...]:
    """Calls in the body to other endpoint functions (direct, module-attribute, in-body import)."""
    imported = _in_body_names(scope, node)
    awaited = {id(child.value) for child in ast.walk(node) if isinstance(child, ast.Await)}
    calls: list[EndpointCall] = []
    for child in ast.walk(node):
        if not isinstance(child, ast.Call):
            continue
        callee = _callee(scope, child.func, imported)
        if callee is not None and callee != own and is_endpoint(*callee):
            calls.append(EndpointCall(f"{callee[0]}:{callee[1]}", scope.parsed.span(child), id(child) in awaited))
    return tuple(calls)


def _in_body_names(scope: ModuleScope, node: ast.AST) -> dict[str, tuple[str, str]]:
    """Names bound by in-body imports: ``name -> (module, attribute)`` (attribute ``""`` for modules)."""
    source = scope.parsed.source
    names: dict[str, tuple[str, str]] = {}
    for child in ast.walk(node):
        if isinstance(child, ast.ImportFrom):
            module = resolve_relative(source.module, source.is_package, child.level, child.module)
            for alias in child.names:
                names[alias.asname or alias.name] = (module, alias.name)
        elif isinstance(child, ast.Import):
            for alias in child.names:
                if alias.asname:
                    names[alias.asname] = (alias.name, "")
                else:
                    names[alias.name.split(".")[0]] = (alias.name.split(".")[0], "")
    return names


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
