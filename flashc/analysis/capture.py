"""Which names an endpoint body takes from outside itself, and where it uses them.

Only the body ships to the worker, so a name the body uses must be bound inside
it (a parameter, a local, an in-body import, a nested definition), be a builtin,
or be another endpoint (a cross-endpoint call). This module finds the uses that
are none of the first kinds; :mod:`flashc.rules.scoping` judges them.

Scoping follows Python's rules: a name assigned anywhere in a function is local
to all of it; class bodies are not visible from their methods; comprehensions
have their own scope except for their first iterable; ``global`` sends a name to
the module and ``nonlocal`` to an enclosing function. The endpoint's own
decorators, default values and annotations run where the ``def`` runs, so they
are resolved outside the body and reported as such.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

from .symbols import Binding, BindingKind

FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)
DEFINITION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
COMPREHENSION_NODES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPE_NODES = (*DEFINITION_NODES, ast.Lambda, *COMPREHENSION_NODES)


class Site(Enum):
    """Where a use is evaluated."""

    BODY = "body"
    """Inside the body (runs on the worker, per call or at class creation)."""
    DEFAULT = "default"
    """A default value of the endpoint's own parameters (runs when the worker defines it)."""
    ANNOTATION = "annotation"
    """An annotation of the endpoint's own signature."""
    DECORATOR = "decorator"
    """A decorator of the endpoint other than the SDK's own."""


class Origin(Enum):
    CLOSURE = "closure"
    """A variable of a function enclosing the endpoint definition."""
    MODULE = "module"
    """The module scope (bound there, a builtin, or bound nowhere)."""


@dataclass(slots=True)
class Scope:
    node: ast.AST
    kind: str
    """``function``, ``lambda``, ``class``, ``comprehension`` or ``outside``."""
    parent: Scope | None
    bindings: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    assigned_globals: set[str] = field(default_factory=set)
    """Names declared ``global`` here that this scope also assigns."""


@dataclass(frozen=True, slots=True)
class FreeUse:
    """A use of a name that the body does not bind itself."""

    name: str
    node: ast.Name
    site: Site
    origin: Origin
    home: ast.AST | None
    """The definition whose body a fix would add the missing binding to: the
    outermost function of the body containing the use (a class endpoint's
    method), the class for uses directly in a class body, None for uses outside
    the body or where an added binding would not be visible."""
    global_scope: ast.AST | None = None
    """The definition that declared the name ``global`` (None if it did not)."""
    attribute: str | None = None
    """``x`` when the use is ``name.x`` (a module's endpoint called as ``workers.embed``)."""


@dataclass(frozen=True, slots=True)
class ScopeStatement:
    """A ``global``/``nonlocal`` statement inside the body."""

    node: ast.Global | ast.Nonlocal
    scope: ast.AST
    """The function it appears in."""
    leaves_body: bool
    """The declared names live outside the body (always true for ``global``)."""


@dataclass(frozen=True, slots=True)
class BodyUses:
    uses: tuple[FreeUse, ...]
    scope_statements: tuple[ScopeStatement, ...]
    assigned_globals: dict[int, frozenset[str]]
    """``id(scope node)`` -> names it declares ``global`` and assigns (per-worker state)."""


def analyse_body(
    definition: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
    enclosing: Iterable[ast.AST],
    skip_decorators: Iterable[ast.expr],
    annotations_evaluated: bool,
) -> BodyUses:
    """The free names of ``definition``'s body and signature.

    ``enclosing`` lists the definitions around it, outermost first (functions
    among them are closures the worker will not have). ``skip_decorators`` are
    the SDK decorators, which the build strips.
    """
    walker = _Walker(annotations_evaluated)
    outside = walker.outside_scope(list(enclosing))
    skipped = {id(d) for d in skip_decorators}
    for decorator in definition.decorator_list:
        if id(decorator) not in skipped:
            walker.walk(decorator, outside, Site.DECORATOR, None)
    if isinstance(definition, ast.ClassDef):
        for expression in (*definition.bases, *(k.value for k in definition.keywords)):
            walker.walk(expression, outside, Site.BODY, None)
        scope = walker.new_scope(definition, "class", outside)
        walker.walk_statements(definition.body, scope, definition)
    else:
        walker.signature(definition, outside, Site.DEFAULT, Site.ANNOTATION, None)
        scope = walker.new_scope(definition, "function", outside)
        walker.walk_statements(definition.body, scope, definition)
    return BodyUses(tuple(walker.uses), tuple(walker.statements), walker.assigned_globals)


class _Walker:
    def __init__(self, annotations_evaluated: bool) -> None:
        self.annotations_evaluated = annotations_evaluated
        self.uses: list[FreeUse] = []
        self.statements: list[ScopeStatement] = []
        self.assigned_globals: dict[int, frozenset[str]] = {}
        self._closure: list[Scope] = []

    # --- scopes ----------------------------------------------------------------------------

    def outside_scope(self, enclosing: list[ast.AST]) -> Scope:
        """The scope the definition itself is written in; enclosing functions become closures."""
        self._closure = [
            self._bound_scope(node, "function", None) for node in reversed(enclosing) if isinstance(node, FUNCTION_NODES)
        ]
        return Scope(ast.Module(body=[], type_ignores=[]), "outside", None)

    def new_scope(self, node: ast.AST, kind: str, parent: Scope) -> Scope:
        scope = self._bound_scope(node, kind, parent)
        if scope.assigned_globals:
            self.assigned_globals[id(node)] = frozenset(scope.assigned_globals)
        return scope

    def _bound_scope(self, node: ast.AST, kind: str, parent: Scope | None) -> Scope:
        scope = Scope(node, kind, parent)
        if isinstance(node, (*FUNCTION_NODES, ast.Lambda)):
            arguments = node.args
            for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg):
                if arg is not None:
                    scope.bindings.add(arg.arg)
            roots: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
        elif isinstance(node, ast.ClassDef):
            roots = list(node.body)
        else:
            roots = []
        _bind(scope, roots)
        scope.assigned_globals = scope.bindings & scope.globals
        scope.bindings -= scope.globals | scope.nonlocals
        return scope

    # --- walking ---------------------------------------------------------------------------

    def walk_statements(self, statements: Iterable[ast.AST], scope: Scope, home: ast.AST | None) -> None:
        for statement in statements:
            self.walk(statement, scope, Site.BODY, home)

    def walk(self, node: ast.AST, scope: Scope, site: Site, home: ast.AST | None) -> None:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self._use(node, scope, site, home)
            return
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and isinstance(node.value.ctx, ast.Load):
            self._use(node.value, scope, site, home, node.attr)
            return
        if isinstance(node, FUNCTION_NODES):
            for decorator in node.decorator_list:
                self.walk(decorator, scope, site, home)
            self.signature(node, scope, site, site, home)
            inner = self.new_scope(node, "function", scope)
            # Uses in a class endpoint's method are fixed in that method.
            self.walk_statements(node.body, inner, node if scope.kind == "class" or home is None else home)
            return
        if isinstance(node, ast.ClassDef):
            for expression in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
                self.walk(expression, scope, site, home)
            self.walk_statements(node.body, self.new_scope(node, "class", scope), home)
            return
        if isinstance(node, ast.Lambda):
            for default in (*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)):
                self.walk(default, scope, site, home)
            inner = self.new_scope(node, "lambda", scope)
            self.walk(node.body, inner, site, home if scope.kind != "class" else None)
            return
        if isinstance(node, COMPREHENSION_NODES):
            self._comprehension(node, scope, site, home)
            return
        if isinstance(node, ast.AnnAssign):
            self.walk(node.target, scope, site, home)
            if node.value is not None:
                self.walk(node.value, scope, site, home)
            # Local variable annotations are never evaluated; class-level ones are.
            if scope.kind == "class" and self.annotations_evaluated:
                self.walk(node.annotation, scope, site, home)
            return
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            self._use(node.target, scope, site, home)  # ``x += 1`` reads ``x`` first
            self.walk(node.value, scope, site, home)
            return
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            leaves = isinstance(node, ast.Global) or any(not _nonlocal_inside(name, scope) for name in node.names)
            self.statements.append(ScopeStatement(node, scope.node, leaves))
            return
        for child in ast.iter_child_nodes(node):
            self.walk(child, scope, site, home)

    def signature(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope, default_site: Site, annotation_site: Site, home: ast.AST | None) -> None:
        arguments = node.args
        for default in (*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)):
            self.walk(default, scope, default_site, home)
        if not self.annotations_evaluated:
            return
        type_params = {p.name for p in getattr(node, "type_params", ()) if hasattr(p, "name")}
        annotations = [a.annotation for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg) if a is not None and a.annotation is not None]
        if node.returns is not None:
            annotations.append(node.returns)
        for annotation in annotations:
            for name in _names(annotation):
                if name.id not in type_params:
                    self._use(name, scope, annotation_site, home)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp, scope: Scope, site: Site, home: ast.AST | None) -> None:
        generators = node.generators
        self.walk(generators[0].iter, scope, site, home)
        inner = Scope(node, "comprehension", scope)
        for generator in generators:
            for name in _names(generator.target, ast.Store):
                inner.bindings.add(name.id)
        # A comprehension directly in a class body cannot see the class's names or its bindings.
        inner_home = None if scope.kind == "class" else home
        for index, generator in enumerate(generators):
            self.walk(generator.target, inner, site, inner_home)
            if index:
                self.walk(generator.iter, inner, site, inner_home)
            for condition in generator.ifs:
                self.walk(condition, inner, site, inner_home)
        parts = (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)
        for part in parts:
            self.walk(part, inner, site, inner_home)

    # --- resolution ------------------------------------------------------------------------

    def _use(self, node: ast.Name, scope: Scope, site: Site, home: ast.AST | None, attribute: str | None = None) -> None:
        name = node.id
        current: Scope | None = scope
        first = True
        while current is not None and current.kind != "outside":
            if name in current.globals:
                self.uses.append(FreeUse(name, node, site, Origin.MODULE, home, current.node, attribute))
                return
            # A class body's names are visible to that body only, not to the scopes nested in it;
            # a ``nonlocal`` name is not bound here (bindings exclude it), so the search goes on outward.
            if (first or current.kind != "class") and name in current.bindings:
                return
            current = current.parent
            first = False
        for enclosing in self._closure:
            if name in enclosing.globals:
                break
            if name in enclosing.bindings:
                self.uses.append(FreeUse(name, node, site, Origin.CLOSURE, None))
                return
        self.uses.append(FreeUse(name, node, site, Origin.MODULE, home, None, attribute))


def _nonlocal_inside(name: str, scope: Scope) -> bool:
    """Whether ``nonlocal name`` in ``scope`` refers to a function inside the body."""
    current = scope.parent
    while current is not None and current.kind != "outside":
        if current.kind in ("function", "lambda") and name in current.bindings:
            return True
        current = current.parent
    return False


def _bind(scope: Scope, roots: list[ast.AST]) -> None:
    """Record every name ``roots`` bind in ``scope`` itself (nested scopes are not entered)."""
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                scope.bindings.add(node.id)
            continue
        if isinstance(node, DEFINITION_NODES):
            scope.bindings.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, COMPREHENSION_NODES):
            # Walrus targets inside a comprehension bind in the enclosing scope.
            scope.bindings.update(n.target.id for n in _walk_same_scope(node) if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name))
            continue
        if isinstance(node, ast.Import):
            scope.bindings.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            scope.bindings.update(alias.asname or alias.name for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Global):
            scope.globals.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            scope.nonlocals.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            scope.bindings.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            scope.bindings.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            scope.bindings.add(node.rest)
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _walk_same_scope(node: ast.AST) -> Iterator[ast.AST]:
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, (*DEFINITION_NODES, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(child))


def _names(node: ast.AST, context: type = ast.Load) -> Iterator[ast.Name]:
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, context):
            yield child


def enclosing_definitions(tree: ast.Module) -> dict[int, tuple[ast.AST, ...]]:
    """``id(definition)`` -> the definitions (functions, classes, lambdas) around it, outermost first.

    One pass over the module serves every endpoint in it.
    """
    found: dict[int, tuple[ast.AST, ...]] = {}
    stack: list[tuple[ast.AST, tuple[ast.AST, ...]]] = [(tree, ())]
    while stack:
        node, around = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, DEFINITION_NODES):
                found[id(child)] = around
                stack.append((child, (*around, child)))
            elif isinstance(child, ast.Lambda):
                stack.append((child, (*around, child)))
            elif isinstance(child, (ast.stmt, ast.ExceptHandler, ast.match_case)):
                stack.append((child, around))
    return found


def definition_paths(tree: ast.Module) -> dict[int, tuple[tuple[str, int], ...]]:
    """``id(definition)`` -> its ``(name, occurrence)`` path (see :class:`~flashc.diagnostics.InsertStatements`)."""
    paths: dict[int, tuple[tuple[str, int], ...]] = {}

    def visit(node: ast.AST, prefix: tuple[tuple[str, int], ...], counts: dict[str, int]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, DEFINITION_NODES):
                index = counts.get(child.name, 0)
                counts[child.name] = index + 1
                path = (*prefix, (child.name, index))
                paths[id(child)] = path
                visit(child, path, {})
            else:
                visit(child, prefix, counts)

    visit(tree, (), {})
    return paths


def local_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """The names a function binds itself: parameters and locals (``global``/``nonlocal`` ones excluded)."""
    return _Walker(annotations_evaluated=False)._bound_scope(node, "function", None).bindings


def referenced_endpoint(
    use: FreeUse,
    bindings: Sequence[Binding],
    module: str,
    is_endpoint: Callable[[str, str], bool],
) -> tuple[Binding, tuple[str, str]] | None:
    """The endpoint a module-level name refers to, and the binding that makes it so.

    ``embed`` defined or imported at module level, or ``workers.embed`` through a
    module import: the worker calls it remotely, so it is not a capture.
    """
    for binding in bindings:
        if binding.kind in (BindingKind.FUNCTION, BindingKind.CLASS) and is_endpoint(module, use.name):
            return binding, (module, use.name)
        if binding.kind is BindingKind.IMPORT_FROM:
            if is_endpoint(binding.target, binding.attribute):
                return binding, (binding.target, binding.attribute)
            submodule = f"{binding.target}.{binding.attribute}"
            if use.attribute and is_endpoint(submodule, use.attribute):
                return binding, (submodule, use.attribute)
        if binding.kind is BindingKind.IMPORT and use.attribute and is_endpoint(binding.target, use.attribute):
            return binding, (binding.target, use.attribute)
    return None
