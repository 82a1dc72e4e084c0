"""Client stubs: endpoint definitions replaced by async functions that call the deployed endpoint.

The compiled client package is the user's own modules with every endpoint
function, class or route swapped, in place and under the same name, for a stub
with the same signature and docstring whose body sends the arguments to the
deployed endpoint through ``flashc_runtime.client``. Everything else in the
module (comments, formatting, other definitions) is kept as written, except
that imports of the runpod-flash SDK are pointed at ``flashc``, which offers
the same names, so the client needs neither ``runpod_flash`` nor ``tetra_rp``.

Each stub is a coroutine function, whatever the endpoint was (``def`` or
``async def``), because calling an endpoint is always asynchronous: callers
write ``await f(x)``, exactly as with runpod-flash.

The functions here are pure (text in, text out) and idempotent: running
:func:`stub_module` on its own output with the same ``stubs`` and ``keep``
changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

CLIENT_ALIAS = "_flashc_client"
IMPORT_LINE = f"from flashc_runtime import client as {CLIENT_ALIAS}"
"""The one import every module with stubs gains (after its docstring and ``__future__`` imports)."""

SDK_ROOTS = ("runpod_flash", "tetra_rp")
"""Import roots rewritten to ``flashc`` (``tetra_rp`` is runpod-flash's former name)."""

KINDS = ("function", "class", "route")

_CLASS_METHOD_DECORATORS = ("staticmethod", "classmethod")


class StubError(ValueError):
    """The stubs asked for do not fit the source (a name is missing, or is not what it should be)."""


@dataclass(frozen=True, slots=True)
class StubTarget:
    """What one endpoint definition becomes in the client."""

    name: str
    """Name of the module-level function or class."""
    endpoint: str
    """The endpoint (runpod-flash resource) it is deployed as."""
    kind: str
    """``function``, ``class`` or ``route``."""
    methods: tuple[str, ...] = ()
    """Class endpoints: the public methods to stub, in order."""
    http_method: str | None = None
    """Routes: the HTTP method (``GET``, ``POST`` ...)."""
    http_path: str | None = None
    """Routes: the path, possibly with ``{name}`` parameters."""


@dataclass(frozen=True, slots=True)
class UnmappedImport:
    """An import of the runpod-flash SDK that cannot be pointed at ``flashc``."""

    line: int
    """1-based line of the import statement."""
    column: int
    """0-based column (code points) of the import statement."""
    statement: str
    reason: str


def sdk_surface() -> frozenset[str]:
    """The names ``flashc`` exports (what ``from flashc import X`` can import)."""
    import flashc

    return frozenset(flashc.__all__)


# --- the module transform ----------------------------------------------------------------


def stub_module(
    source: str,
    stubs: Mapping[str, StubTarget],
    *,
    keep: Collection[str] = (),
    strip: Collection[tuple[int, int]] = (),
    faithful: bool = True,
) -> str:
    """``source`` with every module-level definition named in ``stubs`` replaced by its stub.

    - Stubs keep the definition's place, name, parameters (names, kinds, defaults;
      annotations when ``faithful``) and docstring, and lose its decorators. With
      ``faithful=False`` (stubs inside a handler package, where the module's other
      names do not exist) annotations are dropped and every default becomes
      ``_flashc_client.DEFAULT``, which the runtime leaves out of the request, so
      the remote side applies its own default.
    - Definitions named in ``keep`` stay, minus the decorators in ``strip``: each
      ``(line, column)`` (1-based line, 0-based code-point column, as ``ast`` via
      ``ParsedModule.span`` reports a decorator expression) removes the decorator
      of a kept definition that contains it (positions elsewhere are ignored).
      Positions refer to ``source``; for a second run over the output, pass
      ``strip=()`` (the decorators are gone, and lines may have moved).
      Comments written on or between removed decorators are kept.
    - Imports of ``runpod_flash``/``tetra_rp`` are pointed at ``flashc`` where
      ``flashc`` exports every imported name; the others are left as they are and
      listed by :func:`unmapped_sdk_imports`, to be reported by the caller.
    - ``from flashc_runtime import client as _flashc_client`` is added once, after
      the docstring and ``from __future__`` imports, when the module has stubs.

    Raises :class:`StubError` when a name of ``stubs`` or ``keep`` is not defined
    at module level (outside functions and classes), when a target's kind does
    not match its definition, and when ``source`` does not parse.
    """
    for target in stubs.values():
        _check_target(target)
    both = set(stubs) & set(keep)
    if both:
        raise StubError(f"{', '.join(sorted(both))}: both stubbed and kept")
    wrapper = _wrapper(source)
    stubber = _ModuleStubber(stubs, frozenset(keep), tuple(strip), faithful)
    module = wrapper.visit(stubber)
    missing = sorted((set(stubs) - stubber.stubbed) | (set(keep) - stubber.kept))
    if missing:
        raise StubError(f"not defined at module level: {', '.join(missing)}")
    if stubber.stubbed and not _has_client_import(module):
        module = _insert_client_import(module)
    return module.code


def stub_source(source: str, targets: Mapping[str, StubTarget], *, faithful: bool) -> str:
    """Only the stubs of ``targets`` (module-level definitions of ``source``), in source order.

    The text starts with the client import line and is a module of its own: it
    is what an extracted handler module includes to call *other* endpoints.
    Stubs are separated by two blank lines; comments above the definitions are
    not copied. With ``faithful=True`` annotations and defaults still name the
    source module's globals, so that is for code that has them in scope.
    Returns ``""`` when ``targets`` is empty.
    """
    for target in targets.values():
        _check_target(target)
    if not targets:
        return ""
    module = _parse(source)
    collector = _DefinitionCollector(set(targets))
    module.visit(collector)
    missing = sorted(set(targets) - {node.name.value for node in collector.found})
    if missing:
        raise StubError(f"not defined at module level: {', '.join(missing)}")
    parts = [IMPORT_LINE + "\n"]
    for node in collector.found:
        stub = _stub(node, targets[node.name.value], faithful).with_changes(leading_lines=(), lines_after_decorators=())
        parts.append(module.code_for_node(stub))
    return "\n\n".join(parts)


def unmapped_sdk_imports(source: str) -> tuple[UnmappedImport, ...]:
    """Imports of ``runpod_flash``/``tetra_rp`` that :func:`stub_module` leaves as they are.

    ``import runpod_flash.core.resources`` (binds ``runpod_flash`` to the real
    package tree) and ``from runpod_flash... import X`` where ``flashc`` does not
    export ``X`` cannot be redirected; a client that keeps them needs
    runpod-flash installed. Works on the input or the output of ``stub_module``.
    """
    wrapper = _wrapper(source)
    finder = _UnmappedFinder(sdk_surface())
    wrapper.visit(finder)
    return tuple(finder.found)


# --- parsing ---------------------------------------------------------------------------------


def _parse(source: str) -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise StubError(f"the module does not parse: {error}") from None


def _wrapper(source: str) -> MetadataWrapper:
    return MetadataWrapper(_parse(source), unsafe_skip_copy=True)


def _check_target(target: StubTarget) -> None:
    if target.kind not in KINDS:
        raise StubError(f"{target.name}: unknown stub kind {target.kind!r}; expected one of {', '.join(KINDS)}")
    if target.kind == "route" and not (target.http_method and target.http_path):
        raise StubError(f"{target.name}: a route stub needs http_method and http_path")


# --- SDK imports ---------------------------------------------------------------------------


def _sdk_root(dotted: str | None) -> str | None:
    if not dotted:
        return None
    root = dotted.split(".", 1)[0]
    return root if root in SDK_ROOTS else None


def _from_import_problem(node: cst.ImportFrom, surface: frozenset[str]) -> str | None:
    """Why ``node`` (an absolute SDK ``from`` import) cannot point at ``flashc``; None if it can."""
    dotted = get_full_name_for_node(node.module) if node.module is not None else None
    if isinstance(node.names, cst.ImportStar):
        if dotted in SDK_ROOTS:
            return None
        return f"`from {dotted} import *`: flashc re-exports the package's names, not {dotted}'s"
    missing = [alias.name.value for alias in node.names if isinstance(alias.name, cst.Name) and alias.name.value not in surface]
    if missing:
        return f"flashc does not export {', '.join(missing)}"
    return None


def _is_sdk_from_import(node: cst.ImportFrom) -> bool:
    return not node.relative and node.module is not None and _sdk_root(get_full_name_for_node(node.module)) is not None


class _UnmappedFinder(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, surface: frozenset[str]) -> None:
        self.surface = surface
        self.found: list[UnmappedImport] = []

    def _add(self, node: cst.CSTNode, reason: str) -> None:
        position: CodeRange = self.get_metadata(PositionProvider, node)
        statement = cst.Module([]).code_for_node(node)
        self.found.append(UnmappedImport(position.start.line, position.start.column, statement, reason))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if _is_sdk_from_import(node):
            problem = _from_import_problem(node, self.surface)
            if problem is not None:
                self._add(node, problem)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            dotted = get_full_name_for_node(alias.name)
            root = _sdk_root(dotted)
            if root is not None and dotted != root:
                self._add(node, f"`import {dotted}` names a submodule flashc does not mirror")


def _rewrite_import(node: cst.Import) -> cst.Import:
    """``import runpod_flash [as x]`` -> ``import flashc as runpod_flash`` (or ``as x``)."""
    names = []
    for alias in node.names:
        dotted = get_full_name_for_node(alias.name)
        if dotted in SDK_ROOTS:
            asname = alias.asname or cst.AsName(name=cst.Name(dotted))
            alias = alias.with_changes(name=cst.Name("flashc"), asname=asname)
        names.append(alias)
    return node.with_changes(names=names)


def _rewrite_from_import(node: cst.ImportFrom, surface: frozenset[str]) -> cst.ImportFrom:
    if not _is_sdk_from_import(node) or _from_import_problem(node, surface) is not None:
        return node
    return node.with_changes(module=cst.Name("flashc"))


# --- the transformer ---------------------------------------------------------------------


class _ModuleStubber(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(
        self,
        stubs: Mapping[str, StubTarget],
        keep: frozenset[str],
        strip: tuple[tuple[int, int], ...],
        faithful: bool,
    ) -> None:
        super().__init__()
        self.stubs = stubs
        self.keep = keep
        self.strip = strip
        self.faithful = faithful
        self.surface = sdk_surface()
        self.depth = 0
        self.stubbed: set[str] = set()
        self.kept: set[str] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.depth += 1
        return True

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.CSTNode:
        self.depth -= 1
        return self._leave_definition(original, updated)

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.depth += 1
        return True

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.CSTNode:
        self.depth -= 1
        return self._leave_definition(original, updated)

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        return _rewrite_import(updated)

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        return _rewrite_from_import(updated, self.surface)

    def _leave_definition(
        self, original: cst.FunctionDef | cst.ClassDef, updated: cst.FunctionDef | cst.ClassDef
    ) -> cst.CSTNode:
        if self.depth:
            return updated
        name = updated.name.value
        target = self.stubs.get(name)
        if target is not None:
            self.stubbed.add(name)
            return _stub(updated, target, self.faithful)
        if name in self.keep:
            self.kept.add(name)
            drop = {i for i, decorator in enumerate(original.decorators) if self._stripped(decorator)}
            return _without_decorators(updated, drop)
        return updated

    def _stripped(self, decorator: cst.Decorator) -> bool:
        position: CodeRange = self.get_metadata(PositionProvider, decorator)
        start = (position.start.line, position.start.column)
        end = (position.end.line, position.end.column)
        return any(start <= point < end for point in self.strip)


class _DefinitionCollector(cst.CSTVisitor):
    """Module-level definitions named in ``names``, in source order."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.found: list[cst.FunctionDef | cst.ClassDef] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if node.name.value in self.names:
            self.found.append(node)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        if node.name.value in self.names:
            self.found.append(node)
        return False


# --- decorators ------------------------------------------------------------------------------


def _without_decorators(
    node: cst.FunctionDef | cst.ClassDef, drop: Collection[int] | None = None
) -> cst.FunctionDef | cst.ClassDef:
    """``node`` without the decorators at indices ``drop`` (all when None).

    Comments on the lines of removed decorators move to the next decorator
    that stays, or above the ``def``/``class`` line.
    """
    kept: list[cst.Decorator] = []
    pending: list[cst.EmptyLine] = []
    for index, decorator in enumerate(node.decorators):
        if drop is None or index in drop:
            pending.extend(decorator.leading_lines)
            comment = decorator.trailing_whitespace.comment
            if comment is not None:
                pending.append(cst.EmptyLine(comment=comment))
            continue
        if pending:
            decorator = decorator.with_changes(leading_lines=[*pending, *decorator.leading_lines])
            pending = []
        kept.append(decorator)
    if len(kept) == len(node.decorators):
        return node
    return node.with_changes(decorators=kept, lines_after_decorators=[*pending, *node.lines_after_decorators])


# --- stubs -------------------------------------------------------------------------------------


def _stub(node: cst.FunctionDef | cst.ClassDef, target: StubTarget, faithful: bool) -> cst.FunctionDef | cst.ClassDef:
    if target.kind == "class":
        if not isinstance(node, cst.ClassDef):
            raise StubError(f"{target.name}: a class stub was asked for, but it is a function")
        return _class_stub(node, target, faithful)
    if not isinstance(node, cst.FunctionDef):
        raise StubError(f"{target.name}: a {target.kind} stub was asked for, but it is a class")
    if target.kind == "route":
        call = (
            f"{CLIENT_ALIAS}.request({_literal(target.endpoint)}, {_literal(str(target.http_method).upper())}, "
            f"{_literal(str(target.http_path))}, {_arguments(node.params, skip_first=False)})"
        )
    else:
        call = (
            f"{CLIENT_ALIAS}.call({_literal(target.endpoint)}, {_literal(target.name)}, "
            f"{_arguments(node.params, skip_first=False)})"
        )
    return _function_stub(_without_decorators(node), call, faithful)  # type: ignore[arg-type]


def _function_stub(node: cst.FunctionDef, call: str, faithful: bool) -> cst.FunctionDef:
    body: list[cst.BaseStatement] = []
    docstring = _docstring(node.body)
    if docstring is not None:
        body.append(docstring)
    body.append(cst.parse_statement(f"return await {call}\n"))
    header = node.body.header if isinstance(node.body, cst.IndentedBlock) else cst.TrailingWhitespace()
    changes: dict[str, object] = {
        "asynchronous": node.asynchronous or cst.Asynchronous(),
        "body": cst.IndentedBlock(body=body, header=header),
    }
    if not faithful:
        changes["params"] = _unfaithful_parameters(node.params)
        changes["returns"] = None
    return node.with_changes(**changes)


def _class_stub(node: cst.ClassDef, target: StubTarget, faithful: bool) -> cst.ClassDef:
    defined: dict[str, cst.FunctionDef] = {}
    if isinstance(node.body, cst.IndentedBlock):
        for statement in node.body.body:
            if isinstance(statement, cst.FunctionDef) and statement.name.value not in defined:
                defined[statement.name.value] = statement
    body: list[cst.BaseStatement] = []
    docstring = _docstring(node.body)
    if docstring is not None:
        body.append(docstring)
    for name in target.methods:
        method = defined.get(name)
        if method is None:  # inherited, or defined dynamically: all we know is its name
            method = cst.ensure_type(cst.parse_statement(f"async def {name}(self, **kwargs):\n    pass\n"), cst.FunctionDef)
            method = method.with_changes(leading_lines=[cst.EmptyLine()] if body else [])
        staticmethod = any(_decorator_name(d) == "staticmethod" for d in method.decorators)
        drop = {i for i, d in enumerate(method.decorators) if _decorator_name(d) not in _CLASS_METHOD_DECORATORS}
        method = _without_decorators(method, drop)
        call = (
            f"{CLIENT_ALIAS}.call({_literal(target.endpoint)}, {_literal(target.name)}, "
            f"{_arguments(method.params, skip_first=not staticmethod)}, method={_literal(name)})"
        )
        body.append(_function_stub(method, call, faithful))  # type: ignore[arg-type]
    if not body:
        body.append(cst.SimpleStatementLine(body=[cst.Pass()]))
    header = node.body.header if isinstance(node.body, cst.IndentedBlock) else cst.TrailingWhitespace()
    stub = _without_decorators(node)
    return stub.with_changes(
        bases=(),
        keywords=(),
        lpar=cst.MaybeSentinel.DEFAULT,
        rpar=cst.MaybeSentinel.DEFAULT,
        whitespace_after_name=cst.SimpleWhitespace(""),
        body=cst.IndentedBlock(body=body, header=header),
    )


def _decorator_name(decorator: cst.Decorator) -> str | None:
    return decorator.decorator.value if isinstance(decorator.decorator, cst.Name) else None


def _docstring(body: cst.BaseSuite) -> cst.SimpleStatementLine | None:
    """The docstring statement of a definition's body, if it has one."""
    if isinstance(body, cst.IndentedBlock):
        first = body.body[0] if body.body else None
        if isinstance(first, cst.SimpleStatementLine) and _is_string_expression(first.body[0]):
            return first.with_changes(body=[first.body[0].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)])
        return None
    first_small = body.body[0] if body.body else None
    if first_small is not None and _is_string_expression(first_small):
        return cst.SimpleStatementLine(body=[first_small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)])
    return None


def _is_string_expression(statement: cst.BaseSmallStatement) -> bool:
    return isinstance(statement, cst.Expr) and isinstance(statement.value, (cst.SimpleString, cst.ConcatenatedString))


def _arguments(params: cst.Parameters, *, skip_first: bool) -> str:
    """The call's arguments as a dict literal, matching how the worker binds them.

    Parameters go by name, ``**kwargs`` merged in. Positional-only parameters
    cannot be passed by name, so they go in order under ``"__args"``; with
    ``*args``, every positional parameter goes there, followed by ``*args``
    (they must precede its values).
    """
    positional = [(p.name.value, True) for p in params.posonly_params] + [(p.name.value, False) for p in params.params]
    if skip_first:
        positional = positional[1:]
    entries: list[str] = []
    if isinstance(params.star_arg, cst.Param):
        listed = [name for name, _ in positional] + [f"*{params.star_arg.name.value}"]
        entries.append(f'"__args": [{", ".join(listed)}]')
    else:
        only = [name for name, positional_only in positional if positional_only]
        if only:
            entries.append(f'"__args": [{", ".join(only)}]')
        entries.extend(f"{_literal(name)}: {name}" for name, positional_only in positional if not positional_only)
    entries.extend(f"{_literal(p.name.value)}: {p.name.value}" for p in params.kwonly_params)
    if params.star_kwarg is not None:
        entries.append(f"**{params.star_kwarg.name.value}")
    return "{" + ", ".join(entries) + "}"


_DEFAULT = cst.parse_expression(f"{CLIENT_ALIAS}.DEFAULT")
_NO_SPACE_EQUAL = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def _unfaithful_parameters(params: cst.Parameters) -> cst.Parameters:
    """No annotations; every default the sentinel (the remote side applies the real one)."""

    def plain(param: cst.Param) -> cst.Param:
        if param.default is None:
            return param.with_changes(annotation=None)
        return param.with_changes(annotation=None, default=_DEFAULT, equal=_NO_SPACE_EQUAL)

    return params.with_changes(
        posonly_params=[plain(p) for p in params.posonly_params],
        params=[plain(p) for p in params.params],
        star_arg=plain(params.star_arg) if isinstance(params.star_arg, cst.Param) else params.star_arg,
        kwonly_params=[plain(p) for p in params.kwonly_params],
        star_kwarg=plain(params.star_kwarg) if params.star_kwarg is not None else None,
    )


def _literal(text: str) -> str:
    """A Python string literal for ``text``, double-quoted where possible."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        literal = '"' + literal[1:-1].replace("\\'", "'") + '"'
    return literal


# --- the client import -------------------------------------------------------------------------


def _is_client_import(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if (
            isinstance(small, cst.ImportFrom)
            and not small.relative
            and small.module is not None
            and get_full_name_for_node(small.module) == "flashc_runtime"
            and not isinstance(small.names, cst.ImportStar)
            and any(
                alias.name.value == "client" and alias.asname is not None and get_full_name_for_node(alias.asname.name) == CLIENT_ALIAS
                for alias in small.names
                if isinstance(alias.name, cst.Name)
            )
        ):
            return True
    return False


def _has_client_import(module: cst.Module) -> bool:
    return any(_is_client_import(statement) for statement in module.body)


def _is_future_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(s, cst.ImportFrom) and s.module is not None and get_full_name_for_node(s.module) == "__future__"
        for s in statement.body
    )


def _is_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body)


def _insert_client_import(module: cst.Module) -> cst.Module:
    """Add the client import after the docstring and ``__future__`` imports.

    When an import follows, the new line joins its group (taking over the blank
    lines above it); otherwise it gets a line of its own.
    """
    body = list(module.body)
    index = 0
    if body and isinstance(body[0], cst.SimpleStatementLine) and _is_string_expression(body[0].body[0]):
        index = 1
    while index < len(body) and _is_future_import(body[index]):
        index += 1
    line = cst.ensure_type(cst.parse_statement(IMPORT_LINE + "\n"), cst.SimpleStatementLine)
    following = body[index] if index < len(body) else None
    blank_lines_only = following is not None and all(e.comment is None for e in following.leading_lines)
    if following is not None and _is_import(following) and blank_lines_only:
        line = line.with_changes(leading_lines=following.leading_lines)
        body[index] = following.with_changes(leading_lines=())
    else:
        line = line.with_changes(leading_lines=[cst.EmptyLine()] if index else [])
        if following is not None and not following.leading_lines:
            blank = 2 if isinstance(following, (cst.FunctionDef, cst.ClassDef)) else 1
            body[index] = following.with_changes(leading_lines=[cst.EmptyLine()] * blank)
    body.insert(index, line)
    return module.with_changes(body=body)


__all__ = [
    "CLIENT_ALIAS",
    "IMPORT_LINE",
    "StubError",
    "StubTarget",
    "UnmappedImport",
    "sdk_surface",
    "stub_module",
    "stub_source",
    "unmapped_sdk_imports",
]
