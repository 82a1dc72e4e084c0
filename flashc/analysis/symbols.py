"""The module-level names of a file: what each is bound to, where, and how surely.

Bindings are collected for the whole module before anything is judged (a
global defined below a function is still a global). Statements nested in
module-level ``if``/``try``/``with``/loops still bind module names, but are
marked conditional: which branch ran is a run-time fact.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from enum import Enum


class BindingKind(Enum):
    IMPORT = "import"
    """``import a.b as c`` (``target`` is the module) or ``import a`` (``target`` = ``a``)."""
    IMPORT_FROM = "import-from"
    """``from m import x``: ``target`` is the absolute module, ``attribute`` the name."""
    ASSIGNMENT = "assignment"
    """``x = value`` with a single name target; ``value`` is the expression."""
    FUNCTION = "function"
    CLASS = "class"
    OTHER = "other"
    """Unpacking, augmented assignment, loop or ``with`` targets: not statically evaluable."""


@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    kind: BindingKind
    node: ast.AST
    """The binding statement (or the ``alias`` node for imports)."""
    line: int
    conditional: bool
    target: str = ""
    attribute: str = ""
    value: ast.expr | None = None


def resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module of ``from <level dots><name> import ...`` inside ``module``."""
    if level == 0:
        return name or ""
    parts = module.split(".") if module else []
    package = parts if is_package else parts[:-1]
    if level - 1 > len(package):
        return ""
    base = package[: len(package) - (level - 1)]
    if name:
        base = [*base, *name.split(".")]
    return ".".join(base)


class BindingCollector:
    """Walk the module body (not function bodies) and record every name binding."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.bindings: dict[str, list[Binding]] = {}
        self.star_imports: list[str] = []

    def collect(self, body: list[ast.stmt], conditional: bool = False) -> dict[str, list[Binding]]:
        for statement in body:
            self._statement(statement, conditional)
        return self.bindings

    def _add(self, binding: Binding) -> None:
        self.bindings.setdefault(binding.name, []).append(binding)

    def _statement(self, node: ast.stmt, conditional: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self._add(Binding(alias.asname, BindingKind.IMPORT, node, node.lineno, conditional, alias.name))
                else:
                    top = alias.name.split(".")[0]
                    self._add(Binding(top, BindingKind.IMPORT, node, node.lineno, conditional, top))
        elif isinstance(node, ast.ImportFrom):
            source = resolve_relative(self.module, self.is_package, node.level, node.module)
            for alias in node.names:
                if alias.name == "*":
                    self.star_imports.append(source)
                    continue
                self._add(
                    Binding(
                        alias.asname or alias.name,
                        BindingKind.IMPORT_FROM,
                        node,
                        node.lineno,
                        conditional,
                        source,
                        alias.name,
                    )
                )
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._add(Binding(node.name, BindingKind.FUNCTION, node, node.lineno, conditional))
        elif isinstance(node, ast.ClassDef):
            self._add(Binding(node.name, BindingKind.CLASS, node, node.lineno, conditional))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                self._target(target, node, node.value, conditional)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self._target(node.target, node, node.value, conditional)
        elif isinstance(node, ast.AugAssign):
            self._target(node.target, node, None, conditional)
        elif isinstance(node, (ast.If, ast.While)):
            self.collect(node.body, True)
            self.collect(node.orelse, True)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._target(node.target, node, None, True)
            self.collect(node.body, True)
            self.collect(node.orelse, True)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    self._target(item.optional_vars, node, None, conditional)
            self.collect(node.body, conditional)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self.collect(node.body, True)  # type: ignore[attr-defined]
            for handler in node.handlers:  # type: ignore[attr-defined]
                if handler.name:
                    self._add(Binding(handler.name, BindingKind.OTHER, handler, handler.lineno, True))
                self.collect(handler.body, True)
            self.collect(node.orelse, True)  # type: ignore[attr-defined]
            self.collect(node.finalbody, conditional)  # type: ignore[attr-defined]
        elif isinstance(node, ast.Match):
            for case in node.cases:
                self.collect(case.body, True)
        else:
            # Walrus targets in module-level expressions also bind module names.
            for child in ast.walk(node):
                if isinstance(child, ast.NamedExpr) and isinstance(child.target, ast.Name):
                    self._add(Binding(child.target.id, BindingKind.OTHER, child, child.lineno, conditional))

    def _target(self, target: ast.expr, node: ast.stmt, value: ast.expr | None, conditional: bool) -> None:
        if isinstance(target, ast.Name):
            kind = BindingKind.ASSIGNMENT if value is not None else BindingKind.OTHER
            self._add(Binding(target.id, kind, node, node.lineno, conditional, value=value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(element, node, None, conditional)
        elif isinstance(target, ast.Starred):
            self._target(target.value, node, None, conditional)
        # Attribute and subscript targets bind no name.


def collect_bindings(tree: ast.Module, module: str, is_package: bool) -> BindingCollector:
    collector = BindingCollector(module, is_package)
    collector.collect(tree.body)
    return collector


def import_statement(binding: Binding) -> str | None:
    """The import that binds ``binding.name``, written on its own."""
    node = binding.node
    if isinstance(node, ast.Import):
        for alias in node.names:
            if (alias.asname or alias.name.split(".")[0]) == binding.name:
                return f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
    if isinstance(node, ast.ImportFrom):
        for alias in node.names:
            if (alias.asname or alias.name) == binding.name:
                module = "." * node.level + (node.module or "")
                return f"from {module} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
    return None
