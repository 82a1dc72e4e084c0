"""FC201–FC202: calls to endpoints, wherever they are written.

A call to an endpoint function becomes a remote call through an async client
stub (in the project's client code and in other endpoints' bodies alike), so its
result is a coroutine that must be awaited, and its arguments must bind to the
endpoint's parameters: the worker rejects them otherwise, after a cold start.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from flashc_runtime.sdk import tables

from ..analysis.capture import FUNCTION_NODES, local_names
from ..analysis.codes import ENDPOINT_CALL_NOT_AWAITED, ENDPOINT_CALL_SIGNATURE_MISMATCH
from ..analysis.evaluate import ModuleScope
from ..analysis.symbols import BindingKind, resolve_relative
from ..diagnostics import Diagnostic, Note, Severity
from ..model import EndpointFunction
from .base import Rule
from .context import RuleContext


RULES: tuple[Rule, ...] = (
    Rule(
        ENDPOINT_CALL_NOT_AWAITED,
        "endpoint-call-not-awaited",
        "A call to an endpoint whose result (a coroutine) is not awaited.",
        Severity.ERROR,
        None,
        why=(
            "Calling an endpoint sends the arguments to a worker and waits for the answer "
            "asynchronously, even when the function was written with `def`. Without `await` the "
            "call never happens and the code works on a coroutine object instead of the result."
        ),
        example=(
            "async def main():\n"
            "    result = embed(texts)[\"vectors\"]\n\n"
            "def cli():\n"
            "    embed(texts)"
        ),
        instead=(
            "async def main():\n"
            "    result = (await embed(texts))[\"vectors\"]\n\n"
            "def cli():\n"
            "    asyncio.run(embed(texts))"
        ),
        notes=(
            "Reported when the coroutine is discarded, or used as a value (indexed, an attribute "
            "read, compared, iterated, tested, formatted, passed to a builtin such as `print` or "
            "`len`). Handing it on (assigning it, returning it, passing it to `asyncio.gather`, "
            "`asyncio.run` or your own function) is fine. Calls to `local=True` functions written "
            "with `def` run in place and are not reported."
        ),
    ),
    Rule(
        ENDPOINT_CALL_SIGNATURE_MISMATCH,
        "endpoint-call-signature-mismatch",
        "A call's arguments cannot bind to the endpoint's parameters.",
        Severity.ERROR,
        None,
        why=(
            "The arguments travel to the worker and are bound there; a wrong call fails only "
            "after the request was queued and a worker started."
        ),
        example=(
            "@remote(resource_config=gpu)\n"
            "async def embed(texts, batch_size=32): ...\n\n"
            "await embed(text=[\"a\"])"
        ),
        instead="await embed(texts=[\"a\"])",
        notes="Calls that spread `*args` or `**kwargs` are not checked: their contents are not known statically.",
    ),
)

# A coroutine used as one of these is a bug, whatever the code does next.
_VALUE_BUILTINS = frozenset({"print", "len", "str", "repr", "int", "float", "bool", "list", "tuple", "dict", "set", "sorted", "sum", "min", "max", "abs", "round", "any", "all", "iter", "next"})


def check(context: RuleContext) -> Iterator[Diagnostic]:
    endpoints = {
        key: function for key, (_, function) in context.endpoint_functions.items() if not function.is_class
    }
    if not endpoints:
        return
    names = _same_names(frozenset(name for _, name in endpoints))
    for module in sorted(context.analysis.candidates):
        if not context.owns(module):
            continue
        scope = context.scope(module)
        if scope is None:
            continue
        walker = _CallSites(scope, endpoints, names)
        for call, parent, frame in _sites(scope, names):
            walker.judge(call, parent, frame)
        yield from walker.found


_NAMES: list[frozenset[str]] = []
"""The endpoint function names of the previous check (see :func:`_same_names`)."""


def _same_names(names: frozenset[str]) -> frozenset[str]:
    """``names``, as the previous check's very object when equal: call sites found with them
    stay valid after one identity test."""
    if _NAMES and _NAMES[0] == names:
        return _NAMES[0]
    _NAMES[:] = [names]
    return names


def _sites(scope: ModuleScope, names: frozenset[str]) -> list[tuple[ast.Call, ast.AST | None, _Frame]]:
    """Calls of a name in ``names`` with their parent node and function, once per module text
    and set of names (kept with the parse: an editor re-check walks only the edited module)."""
    kept = scope.facts.get("call-sites")
    if kept is not None and kept[0] is names:  # type: ignore[index]
        return kept[1]  # type: ignore[index,return-value]
    # Only statements with a line that looks like a call of an endpoint name are walked.
    lines = {line for name, found in _call_like_lines(scope).items() if name in names for line in found}
    walker = _CallSites(scope, {}, names)
    if lines:
        for statement in scope.parsed.tree.body:
            if any(statement.lineno <= line <= (statement.end_lineno or statement.lineno) for line in lines):
                walker.visit(statement, None, _Frame(None))
    scope.facts["call-sites"] = (names, walker.sites)
    return walker.sites


_CALL_LIKE = re.compile(r"(?<!def )\b((?!\d)\w+)\s*\(")
"""A name followed by ``(``, except after ``def``: one pass over the text, whatever the number
of endpoint names (an alternation of a thousand names made this rule the slowest part of a check)."""


def _call_like_lines(scope: ModuleScope) -> dict[str, set[int]]:
    """Name -> the lines where it is followed by ``(``, once per module text (kept with its parse)."""
    kept = scope.facts.get("call-like-lines")
    if kept is None:
        text = scope.parsed.source.text
        matches = [(m.group(1), m.start()) for m in _CALL_LIKE.finditer(text)]
        kept = {}
        line, previous = 1, 0
        for name, offset in matches:
            line += text.count("\n", previous, offset)
            previous = offset
            kept.setdefault(name, set()).add(line)
        scope.facts["call-like-lines"] = kept
    return kept  # type: ignore[return-value]


@dataclass
class _Frame:
    """The function a call is written in (None: module level); its names are computed on first use."""

    node: ast.FunctionDef | ast.AsyncFunctionDef | None
    parent: _Frame | None = None
    module: tuple[str, bool] = ("", False)
    """The module's name and whether it is a package (for relative imports)."""

    @property
    def is_async(self) -> bool:
        return isinstance(self.node, ast.AsyncFunctionDef)

    @cached_property
    def locals(self) -> set[str]:
        return local_names(self.node) if self.node is not None else set()

    @cached_property
    def imports(self) -> dict[str, tuple[str, str]]:
        """Names bound by imports in this function: ``name -> (module, attribute)`` (``""`` for modules)."""
        return self._imports()

    def _imports(self) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        if self.node is None:
            return found
        for child in ast.walk(self.node):
            if isinstance(child, ast.ImportFrom):
                module = resolve_relative(*self.module, child.level, child.module)
                for alias in child.names:
                    found[alias.asname or alias.name] = (module, alias.name)
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    top = alias.name.split(".")[0]
                    found[alias.asname or top] = (alias.name if alias.asname else top, "")
        return found


class _CallSites:
    def __init__(self, scope: ModuleScope, endpoints: dict[tuple[str, str], EndpointFunction], names: frozenset[str]) -> None:
        self.scope = scope
        self.parsed = scope.parsed
        self.endpoints = endpoints
        self.names = names
        self.found: list[Diagnostic] = []
        self.sites: list[tuple[ast.Call, ast.AST | None, _Frame]] = []

    # --- walking, with each node's parent ----------------------------------------------------

    def statements(self, body: list[ast.stmt], frame: _Frame) -> None:
        for statement in body:
            self.visit(statement, None, frame)

    def visit(self, node: ast.AST, parent: ast.AST | None, frame: _Frame) -> None:
        if isinstance(node, FUNCTION_NODES):
            for child in (*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)):
                self.visit(child, node, frame)
            source = self.parsed.source
            inner = _Frame(node, frame, (source.module, source.is_package))
            self.statements(node.body, inner)
            return
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name in self.names:
                self.sites.append((node, parent, frame))
        for child in ast.iter_child_nodes(node):
            self.visit(child, node, frame)

    # --- one call ------------------------------------------------------------------------------

    def judge(self, call: ast.Call, parent: ast.AST | None, frame: _Frame) -> None:
        """Findings of one call site (see :func:`_sites`) against the endpoints of this check."""
        key = self._callee(call.func, frame)
        function = self.endpoints.get(key) if key else None
        if function is None:
            return
        if (not function.local or function.is_async) and self._misused(call, parent):
            self.found.append(self._not_awaited(call, function, frame))
        self.found.extend(self._signature(call, function))

    def _misused(self, call: ast.Call, parent: ast.AST | None) -> bool:
        """Whether the coroutine is discarded or used as if it were the result."""
        if parent is None or isinstance(parent, ast.Await):
            return False
        if isinstance(parent, ast.Expr):
            return True
        if isinstance(parent, (ast.Attribute, ast.Subscript)):
            return parent.value is call
        if isinstance(parent, (ast.BinOp, ast.Compare, ast.UnaryOp, ast.BoolOp, ast.FormattedValue)):
            return True
        if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)):
            return parent.iter is call
        if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            return parent.test is call
        if isinstance(parent, ast.Call) and call in parent.args:
            target = parent.func
            return (isinstance(target, ast.Name) and target.id in _VALUE_BUILTINS) or (
                isinstance(target, ast.Attribute) and target.attr in ("dumps", "dump") and isinstance(target.value, ast.Name) and target.value.id == "json"
            )
        return False

    def _not_awaited(self, call: ast.Call, function: EndpointFunction, frame: _Frame) -> Diagnostic:
        shown = f"`{function.name}()`"
        if frame.is_async:
            message = f"{shown} returns a coroutine (endpoint calls run remotely and asynchronously); `await` it"
        elif frame.node is not None:
            message = f"{shown} is called from synchronous `{frame.node.name}` and returns a coroutine that never runs; make `{frame.node.name}` async and `await` it, or run it with `asyncio.run(...)`"
        else:
            message = f"{shown} is called at module level and returns a coroutine that never runs; run it with `asyncio.run(...)`"
        return Diagnostic(ENDPOINT_CALL_NOT_AWAITED, message, self.parsed.span(call), Severity.ERROR, None, (self._defined(function),))

    def _signature(self, call: ast.Call, function: EndpointFunction) -> Iterator[Diagnostic]:
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return
        parameters = function.parameters
        positional = [p for p in parameters if p.kind in ("positional-only", "positional")]
        accepts_args = any(p.kind == "var-positional" for p in parameters)
        accepts_kwargs = any(p.kind == "var-keyword" for p in parameters)
        by_name = {p.name: p for p in parameters if p.kind not in ("var-positional", "var-keyword")}
        shown = f"`{function.name}()`"
        note = (self._defined(function),)

        def problem(message: str, node: ast.AST) -> Diagnostic:
            return Diagnostic(ENDPOINT_CALL_SIGNATURE_MISMATCH, message, self.parsed.span(node), Severity.ERROR, None, note)

        bound = {p.name for p in positional[: len(call.args)]}
        if len(call.args) > len(positional) and not accepts_args:
            given, takes = len(call.args), len(positional)
            yield problem(f"{shown} takes {takes} positional argument{'s' if takes != 1 else ''} but {given} were given", call.args[takes])
        for keyword in call.keywords:
            name = keyword.arg
            assert name is not None
            parameter = by_name.get(name)
            if parameter is None or parameter.kind == "positional-only":
                if accepts_kwargs:
                    continue
                if parameter is None:
                    yield problem(f"{shown} got an unexpected keyword argument `{name}`{tables.suggest(name, list(by_name))}", keyword)
                else:
                    yield problem(f"{shown} got positional-only argument `{name}` passed as a keyword", keyword)
            elif name in bound:
                yield problem(f"{shown} got multiple values for argument `{name}`", keyword)
            else:
                bound.add(name)
        missing = [p.name for p in parameters if p.kind in ("positional-only", "positional", "keyword-only") and not p.has_default and p.name not in bound]
        if missing:
            listed = ", ".join(f"`{m}`" for m in missing)
            yield problem(f"{shown} is missing required argument{'s' if len(missing) > 1 else ''} {listed}", call)

    def _defined(self, function: EndpointFunction) -> Note:
        return Note(f"`{function.name}` is an endpoint function defined here", function.span)

    # --- what a callee is --------------------------------------------------------------------

    def _callee(self, func: ast.expr, frame: _Frame) -> tuple[str, str] | None:
        if isinstance(func, ast.Name):
            return self._resolve(func.id, frame, attribute=None)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return self._resolve(func.value.id, frame, attribute=func.attr)
        return None

    def _resolve(self, name: str, frame: _Frame, attribute: str | None) -> tuple[str, str] | None:
        """``(module, function)`` that ``name`` (or ``name.attribute``) refers to at this point."""
        current: _Frame | None = frame
        while current is not None and current.node is not None:
            if name in current.locals:
                imported = current.imports.get(name)
                if imported is None:
                    return None  # a parameter or local shadows it
                module, member = imported
                return _member(module, member, attribute)
            current = current.parent
        bindings = self.scope.bindings.get(name)
        if not bindings:
            return None
        binding = bindings[-1]
        if binding.kind in (BindingKind.FUNCTION, BindingKind.CLASS):
            return (self.parsed.name, name) if attribute is None else None
        if binding.kind is BindingKind.IMPORT_FROM:
            return _member(binding.target, binding.attribute, attribute)
        if binding.kind is BindingKind.IMPORT:
            return _member(binding.target, "", attribute)
        return None


def _member(module: str, member: str, attribute: str | None) -> tuple[str, str] | None:
    """``from module import member`` then ``member.attribute`` (or the member itself)."""
    if attribute is None:
        return (module, member) if member else None
    return (f"{module}.{member}" if member else module, attribute)
