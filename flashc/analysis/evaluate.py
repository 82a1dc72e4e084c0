"""Static evaluation of configuration expressions, across the project's modules.

Configurations are ordinary Python: literals, enum members, variables, values
imported from sibling modules, ``**`` spreads of literal dicts, f-strings of
constants. The evaluator computes such expressions without running user code;
anything else becomes :class:`Unknown` carrying what could not be evaluated and
why, so nothing is dropped silently.
"""

from __future__ import annotations

import ast
import builtins
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from flashc_runtime.sdk import enums, tables

from ..diagnostics import Span
from .parse import ParsedModule, unparse
from .symbols import Binding, BindingKind

# --- values --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Known:
    """A statically known value; ``span`` is where it was written."""

    value: object
    span: Span


@dataclass(frozen=True, slots=True)
class Unknown:
    """Not knowable without running code (a call, an environment lookup, an external module)."""

    reason: str
    span: Span


@dataclass(frozen=True, slots=True)
class Invalid:
    """Knowable, and wrong (e.g. an enum member that does not exist)."""

    reason: str
    span: Span


Value = Known | Unknown | Invalid


@dataclass(frozen=True, slots=True, repr=False)
class SdkSymbol:
    """A name of the flash SDK (``Endpoint``, ``LiveServerless``, ``GpuGroup``...)."""

    name: str

    def __repr__(self) -> str:  # shown in messages about wrong values ("got <GpuGroup>")
        return f"<{self.name}>"


@dataclass(frozen=True, slots=True, repr=False)
class ModuleRef:
    name: str
    local: bool

    def __repr__(self) -> str:
        return f"<module {self.name}>"


@dataclass(frozen=True, slots=True, repr=False)
class DefinitionRef:
    """A module-level ``def`` or ``class``."""

    module: str
    name: str
    node: ast.AST = field(compare=False, hash=False)

    def __repr__(self) -> str:
        return f"<definition {self.module}.{self.name}>"


@dataclass(frozen=True, slots=True)
class KeywordArgument:
    name: str
    value: Value
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class SdkCall:
    """A call of an SDK class or decorator factory; identity is where it happens."""

    callee: str
    positional: tuple[Value, ...]
    keywords: tuple[KeywordArgument, ...]
    span: Span
    spread_problems: tuple[Unknown | Invalid, ...] = ()
    """``*args``/``**kwargs`` that could not be expanded (their settings are unknown)."""

    def keyword(self, name: str) -> KeywordArgument | None:
        for keyword in self.keywords:
            if keyword.name == name:
                return keyword
        return None


@dataclass(frozen=True, slots=True)
class RouteFactory:
    """``api.post`` before it is called with a path."""

    endpoint: SdkCall
    method: str


@dataclass(frozen=True, slots=True)
class RouteDecorator:
    """``api.post("/path")``: registers the decorated function as a route of ``endpoint``."""

    endpoint: SdkCall
    method: str
    path: Value
    span: Span


@dataclass(frozen=True, slots=True)
class Applied:
    """``decorator(target)`` written as a call rather than with ``@``."""

    decorator: Known
    target: Value


@dataclass(frozen=True, slots=True, repr=False)
class Builtin:
    name: str

    def __repr__(self) -> str:
        return f"<builtin {self.name}>"


SDK_CALLABLES = frozenset({"remote", "Endpoint", "NetworkVolume", "PodTemplate", *tables.RESOURCE_CLASSES})
SDK_NAMES = SDK_CALLABLES | frozenset(enums.ENUMS) | {"CPU_DATACENTERS"}
ROUTE_ATTRIBUTES = frozenset(m.lower() for m in tables.ROUTE_METHODS)

_CONSTANT_BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "str", "int", "float", "bool"}
_MAX_SEQUENCE = 10_000  # guards "x" * 10**9 and the like
_MAX_INT_BITS = 10_000
"""Larger integers are not evaluated (no setting needs one; Python will not print one past 4300 digits)."""
_MAX_ELEMENTS = 100_000
"""Elements a container value may hold, counting shared parts as often as printing it would."""
_MAX_NESTING = 100
"""Levels a container value may nest (printing deeper values exhausts the recursion limit)."""
_WIDE_FORMAT = re.compile(r"\d{5,}")
"""A width or precision of 10000 or more in a format (``f"{x:>1000000000}"``): a huge string."""


def _describe(node: ast.AST, limit: int = 60) -> str:
    text = unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_BINARY: dict[type, Callable[[object, object], object]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitOr: operator.or_,
}


@dataclass(slots=True)
class ModuleScope:
    """What the evaluator needs of one module: its parse and its module-level bindings."""

    parsed: ParsedModule
    bindings: Mapping[str, list[Binding]]
    star_imports: tuple[str, ...] = ()
    facts: dict[str, object] = field(default_factory=dict, compare=False, repr=False)
    """Derived from this module's tree alone (indexes the rules build), kept with the parse so
    re-checks reuse them for every unchanged module."""


class Evaluator:
    """Evaluates expressions of any project module; results are memoised per binding."""

    def __init__(self, scopes: Mapping[str, ModuleScope], local_modules: frozenset[str]) -> None:
        self.scopes = scopes
        self.local_modules = local_modules
        """Every project module and package prefix, so look-ups never parse a file."""
        self._cache: dict[tuple[str, int, str], Value] = {}
        self._in_progress: set[tuple[str, int, str]] = set()
        self._measured: dict[int, tuple[object, int, int]] = {}
        """``id(container)`` -> (the container, its element count, its nesting), see :meth:`_too_large`."""

    # -- names ------------------------------------------------------------------------

    def is_local_module(self, name: str) -> bool:
        return name in self.local_modules

    def lookup(self, scope: ModuleScope, name: str, span: Span, line: int | None) -> Value:
        """The value of module-level ``name`` as seen from ``line`` (None: after the module ran)."""
        candidates = scope.bindings.get(name, [])
        visible = [b for b in candidates if line is None or b.line < line]
        if not visible:
            if candidates:
                return Invalid(f"`{name}` is used before it is assigned (line {candidates[0].line})", span)
            if hasattr(builtins, name):
                return Known(Builtin(name), span)
            if scope.star_imports:
                sources = ", ".join(f"`{s}`" for s in scope.star_imports)
                return Unknown(f"`{name}` may come from `import *` of {sources}", span)
            return Invalid(f"`{name}` is not defined in `{scope.parsed.name}`", span)
        chosen = visible[-1]
        if chosen.conditional and len(visible) > 1:
            values = [self._binding(scope, b, span) for b in visible]
            if all(isinstance(v, Known) for v in values) and all(
                v.value == values[-1].value for v in values  # type: ignore[union-attr]
            ):
                return values[-1]
            return Unknown(f"`{name}` is assigned in several places; which applies is decided at run time", span)
        return self._binding(scope, chosen, span)

    def _binding(self, scope: ModuleScope, binding: Binding, use: Span) -> Value:
        cache_key = (scope.parsed.name, id(binding.node), binding.name)
        if cache_key in self._cache:
            return self._cache[cache_key]
        if cache_key in self._in_progress:
            return Unknown(f"`{binding.name}` is defined in terms of itself", use)
        self._in_progress.add(cache_key)
        try:
            value = self._evaluate_binding(scope, binding, use)
        finally:
            self._in_progress.discard(cache_key)
        self._cache[cache_key] = value
        return value

    def _evaluate_binding(self, scope: ModuleScope, binding: Binding, use: Span) -> Value:
        where = scope.parsed.span(binding.node)
        if binding.kind is BindingKind.ASSIGNMENT and binding.value is not None:
            return self.expression(scope, binding.value, binding.line)
        if binding.kind is BindingKind.IMPORT:
            return Known(ModuleRef(binding.target, self.is_local_module(binding.target)), where)
        if binding.kind is BindingKind.IMPORT_FROM:
            return self.import_from(binding.target, binding.attribute, where)
        if binding.kind in (BindingKind.FUNCTION, BindingKind.CLASS):
            return Known(DefinitionRef(scope.parsed.name, binding.name, binding.node), where)
        return Unknown(
            f"`{binding.name}` is bound by a statement flashc does not evaluate (line {binding.line})", use
        )

    def import_from(self, module: str, attribute: str, span: Span) -> Value:
        """The value ``from module import attribute`` binds."""
        if module.split(".")[0] in tables.SDK_MODULES:
            return self._sdk_symbol(module, attribute, span)
        if module == "os" and attribute in ("environ", "getenv"):
            return Unknown(f"`os.{attribute}` reads the environment, which is known only at run time", span)
        scope = self.scopes.get(module)
        if scope is not None and attribute in scope.bindings:
            return self.lookup(scope, attribute, span, None)
        submodule = f"{module}.{attribute}" if module else attribute
        if self.is_local_module(submodule):
            return Known(ModuleRef(submodule, True), span)
        if scope is not None:
            return Invalid(f"`{module}` has no module-level name `{attribute}`", span)
        return Unknown(
            f"`{attribute}` comes from `{module}`, which is not part of this project", span
        )

    @staticmethod
    def _sdk_symbol(module: str, name: str, span: Span) -> Value:
        if name in SDK_NAMES:
            return Known(SdkSymbol(name), span)
        return Known(ModuleRef(f"{module}.{name}", False), span)

    # -- expressions ------------------------------------------------------------------

    def expression(self, scope: ModuleScope, node: ast.expr, line: int | None) -> Value:
        span = scope.parsed.span(node)
        method = getattr(self, f"_expr_{type(node).__name__}", None)
        if method is None:
            return Unknown(f"`{_describe(node)}` is computed at run time", span)
        try:
            return method(scope, node, line, span)
        except RecursionError:
            return Unknown("the expression is nested too deeply to evaluate", span)

    def _expr_Constant(self, scope: ModuleScope, node: ast.Constant, line: int | None, span: Span) -> Value:
        return self._bounded(node.value, node, span)

    def _expr_Name(self, scope: ModuleScope, node: ast.Name, line: int | None, span: Span) -> Value:
        return self.lookup(scope, node.id, span, line)

    def _expr_Attribute(self, scope: ModuleScope, node: ast.Attribute, line: int | None, span: Span) -> Value:
        base = self.expression(scope, node.value, line)
        if not isinstance(base, Known):
            return base
        target, name = base.value, node.attr
        if isinstance(target, ModuleRef):
            if target.name.split(".")[0] in tables.SDK_MODULES:
                return self._sdk_symbol(target.name, name, span)
            if target.local:
                return self.import_from(target.name, name, span)
            if target.name == "os" and name in ("environ", "getenv"):
                return Unknown(f"`os.{name}` reads the environment, which is known only at run time", span)
            return Unknown(f"`{_describe(node)}` comes from `{target.name}`, which is not part of this project", span)
        if isinstance(target, SdkSymbol) and target.name in enums.ENUMS:
            enum = enums.ENUMS[target.name]
            if name in enum.__members__:
                return Known(enum[name], span)
            allowed = ", ".join(enum.__members__)
            return Invalid(f"`{target.name}` has no member `{name}`; members: {allowed}", span)
        if isinstance(target, SdkCall) and target.callee == "Endpoint" and name in ROUTE_ATTRIBUTES:
            return Known(RouteFactory(target, name.upper()), span)
        return Unknown(f"`{_describe(node)}` is an attribute flashc cannot evaluate", span)

    def _expr_JoinedStr(self, scope: ModuleScope, node: ast.JoinedStr, line: int | None, span: Span) -> Value:
        parts: list[str] = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
                continue
            assert isinstance(part, ast.FormattedValue)
            value = self.expression(scope, part.value, line)
            if not isinstance(value, Known):
                return value
            spec = ""
            if part.format_spec is not None:
                spec_value = self.expression(scope, part.format_spec, line)
                if not isinstance(spec_value, Known):
                    return spec_value
                spec = str(spec_value.value)
                if _WIDE_FORMAT.search(spec):
                    return Unknown(f"`{_describe(part.value)}` is formatted wider than flashc evaluates", span)
            converted = value.value
            if part.conversion == ord("r"):
                converted = repr(converted)
            elif part.conversion == ord("s"):
                converted = str(converted)
            elif part.conversion == ord("a"):
                converted = ascii(converted)
            try:
                parts.append(format(converted, spec))
            except (TypeError, ValueError) as error:
                return Invalid(f"formatting `{_describe(part.value)}` fails: {error}", span)
        return Known("".join(parts), span)

    def _sequence(self, scope: ModuleScope, elements: list[ast.expr], line: int | None) -> list[object] | Value:
        items: list[object] = []
        for element in elements:
            if isinstance(element, ast.Starred):
                spread = self.expression(scope, element.value, line)
                if not isinstance(spread, Known):
                    return spread
                if not isinstance(spread.value, (list, tuple, set, frozenset, str)):
                    return Invalid(f"`*{_describe(element.value)}` is not iterable", spread.span)
                items.extend(spread.value)
                continue
            value = self.expression(scope, element, line)
            if not isinstance(value, Known):
                return value
            items.append(value.value)
        return items

    def _expr_List(self, scope: ModuleScope, node: ast.List, line: int | None, span: Span) -> Value:
        items = self._sequence(scope, node.elts, line)
        return self._bounded(items, node, span) if isinstance(items, list) else items

    def _expr_Tuple(self, scope: ModuleScope, node: ast.Tuple, line: int | None, span: Span) -> Value:
        items = self._sequence(scope, node.elts, line)
        return self._bounded(tuple(items), node, span) if isinstance(items, list) else items

    def _expr_Set(self, scope: ModuleScope, node: ast.Set, line: int | None, span: Span) -> Value:
        items = self._sequence(scope, node.elts, line)
        if not isinstance(items, list):
            return items
        try:
            value = frozenset(items)
        except TypeError as error:
            return Invalid(f"set element is not hashable: {error}", span)
        return self._bounded(value, node, span)

    def _expr_Dict(self, scope: ModuleScope, node: ast.Dict, line: int | None, span: Span) -> Value:
        result: dict[object, object] = {}
        for key_node, value_node in zip(node.keys, node.values):
            if key_node is None:
                spread = self.expression(scope, value_node, line)
                if not isinstance(spread, Known):
                    return spread
                if not isinstance(spread.value, dict):
                    return Invalid(f"`**{_describe(value_node)}` is not a dict", spread.span)
                result.update(spread.value)
                continue
            key = self.expression(scope, key_node, line)
            value = self.expression(scope, value_node, line)
            for part in (key, value):
                if not isinstance(part, Known):
                    return part
            try:
                result[key.value] = value.value  # type: ignore[union-attr]
            except TypeError as error:
                return Invalid(f"dict key is not hashable: {error}", span)
        return self._bounded(result, node, span)

    def _expr_BinOp(self, scope: ModuleScope, node: ast.BinOp, line: int | None, span: Span) -> Value:
        operation = _BINARY.get(type(node.op))
        left = self.expression(scope, node.left, line)
        right = self.expression(scope, node.right, line)
        for part in (left, right):
            if not isinstance(part, Known):
                return part
        a, b = left.value, right.value  # type: ignore[union-attr]
        if operation is None:
            return Unknown(f"`{_describe(node)}` is computed at run time", span)
        if not _small_operands(type(node.op), a, b):
            return Unknown(f"`{_describe(node)}` is too large for flashc to evaluate", span)
        try:
            result = operation(a, b)
        except Exception as error:  # any arithmetic failure is the user's, report it
            return Invalid(f"`{_describe(node)}` fails: {error}", span)
        return self._bounded(result, node, span)

    def _expr_UnaryOp(self, scope: ModuleScope, node: ast.UnaryOp, line: int | None, span: Span) -> Value:
        operand = self.expression(scope, node.operand, line)
        if not isinstance(operand, Known):
            return operand
        value = operand.value
        if isinstance(node.op, ast.Not):
            return Known(not value, span)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(node.op, ast.USub):
                return Known(-value, span)
            if isinstance(node.op, ast.UAdd):
                return Known(+value, span)
        return Unknown(f"`{_describe(node)}` is computed at run time", span)

    def _expr_Subscript(self, scope: ModuleScope, node: ast.Subscript, line: int | None, span: Span) -> Value:
        container = self.expression(scope, node.value, line)
        index = self.expression(scope, node.slice, line)
        for part in (container, index):
            if not isinstance(part, Known):
                return part
        try:
            return Known(container.value[index.value], span)  # type: ignore[index,union-attr]
        except (KeyError, IndexError, TypeError) as error:
            return Invalid(f"`{_describe(node)}` fails: {type(error).__name__} {error}", span)

    def _expr_Call(self, scope: ModuleScope, node: ast.Call, line: int | None, span: Span) -> Value:
        callee = self.expression(scope, node.func, line)
        if isinstance(callee, Invalid):
            return callee
        if not isinstance(callee, Known):
            return Unknown(callee.reason, span)
        target = callee.value
        if isinstance(target, SdkSymbol):
            if target.name in enums.ENUMS:
                return self._enum_call(scope, node, line, span, enums.ENUMS[target.name])
            if target.name in SDK_CALLABLES:
                return Known(self._sdk_call(scope, target.name, node, line, span), span)
        if isinstance(target, RouteFactory):
            call = self._sdk_call(scope, "route", node, line, span)
            path = call.positional[0] if call.positional else (
                call.keyword("path").value if call.keyword("path") else Invalid("the route has no path", span)  # type: ignore[union-attr]
            )
            return Known(RouteDecorator(target.endpoint, target.method, path, span), span)
        if isinstance(target, (SdkCall, RouteDecorator)) and len(node.args) == 1 and not node.keywords:
            return Known(Applied(callee, self.expression(scope, node.args[0], line)), span)
        if isinstance(target, Builtin) and target.name in _CONSTANT_BUILTINS:
            return self._builtin_call(scope, target.name, node, line, span)
        name = _describe(node.func, 40)
        return Unknown(f"`{_describe(node)}` is computed by calling `{name}` at run time", span)

    def _enum_call(self, scope: ModuleScope, node: ast.Call, line: int | None, span: Span, enum: type[Enum]) -> Value:
        if len(node.args) != 1 or node.keywords:
            return Unknown(f"`{_describe(node)}` is computed at run time", span)
        argument = self.expression(scope, node.args[0], line)
        if not isinstance(argument, Known):
            return argument
        try:
            return Known(enum(argument.value), span)
        except (ValueError, TypeError):
            allowed = ", ".join(str(m.value) for m in enum)
            return Invalid(f"{argument.value!r} is not a valid `{enum.__name__}`; allowed: {allowed}", span)

    def _builtin_call(self, scope: ModuleScope, name: str, node: ast.Call, line: int | None, span: Span) -> Value:
        call = self._sdk_call(scope, name, node, line, span)
        if call.spread_problems:
            return call.spread_problems[0]
        values = [v for v in call.positional] + [k.value for k in call.keywords]
        for value in values:
            if not isinstance(value, Known):
                return value
        positional = [v.value for v in call.positional]  # type: ignore[union-attr]
        keywords = {k.name: k.value.value for k in call.keywords}  # type: ignore[union-attr]
        try:
            result = getattr(builtins, name)(*positional, **keywords)
        except Exception as error:  # the user's call fails the same way at run time
            return Invalid(f"`{_describe(node)}` fails: {error}", span)
        return self._bounded(result, node, span)

    def _bounded(self, value: object, node: ast.expr, span: Span) -> Value:
        """``value`` as Known, unless it is too large to evaluate further (or to print)."""
        if self._too_large(value):
            return Unknown(f"`{_describe(node)}` is too large for flashc to evaluate", span)
        return Known(value, span)

    def _too_large(self, value: object) -> bool:
        """An integer past ``_MAX_INT_BITS``, or a container past ``_MAX_ELEMENTS`` or ``_MAX_NESTING``.

        Containers share parts (``[[0] * 9999] * 9999``, or ``B = [A, A]`` over many lines), so a
        small value can print as billions of elements; each container is measured once.
        """
        if isinstance(value, int):
            return value.bit_length() > _MAX_INT_BITS
        if not isinstance(value, (list, tuple, set, frozenset, dict)):
            return False
        measured = self._measured
        stack: list[tuple[object, bool]] = [(value, False)]
        while stack:
            item, children_done = stack.pop()
            if id(item) in measured:
                continue
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else list(item)  # type: ignore[attr-defined]
            containers = [c for c in children if isinstance(c, (list, tuple, set, frozenset, dict)) and id(c) not in measured]
            if containers and not children_done:
                stack.append((item, True))
                stack.extend((c, False) for c in containers)
                continue
            elements, nesting = 1, 0
            for child in children:
                if id(child) in measured:
                    _, child_elements, child_nesting = measured[id(child)]
                    elements, nesting = elements + child_elements, max(nesting, child_nesting)
                else:
                    elements += 1
            # The container is kept with its measure, so its id is not reused while it is recorded.
            measured[id(item)] = (item, min(elements, _MAX_ELEMENTS + 1), nesting + 1)
        _, elements, nesting = measured[id(value)]
        return elements > _MAX_ELEMENTS or nesting > _MAX_NESTING

    def _sdk_call(self, scope: ModuleScope, callee: str, node: ast.Call, line: int | None, span: Span) -> SdkCall:
        positional: list[Value] = []
        keywords: list[KeywordArgument] = []
        problems: list[Unknown | Invalid] = []
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                spread = self.expression(scope, argument.value, line)
                if isinstance(spread, Known) and isinstance(spread.value, (list, tuple)):
                    positional.extend(Known(v, spread.span) for v in spread.value)
                else:
                    problems.append(_spread_problem(spread, argument, "*"))
                continue
            positional.append(self.expression(scope, argument, line))
        for keyword in node.keywords:
            keyword_span = scope.parsed.span(keyword)
            if keyword.arg is None:
                spread = self.expression(scope, keyword.value, line)
                if isinstance(spread, Known) and isinstance(spread.value, dict) and all(
                    isinstance(k, str) for k in spread.value
                ):
                    keywords.extend(KeywordArgument(k, Known(v, spread.span), keyword_span) for k, v in spread.value.items())
                else:
                    problems.append(_spread_problem(spread, keyword.value, "**"))
                continue
            keywords.append(KeywordArgument(keyword.arg, self.expression(scope, keyword.value, line), keyword_span))
        return SdkCall(callee, tuple(positional), tuple(keywords), span, tuple(problems))


def _small_operands(op: type, a: object, b: object) -> bool:
    """Refuse to build huge values from user source (``"x" * 10**9``, ``10 ** 10**9``)."""
    if op is ast.Mult:
        for seq, count in ((a, b), (b, a)):
            if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int):
                return len(seq) * max(count, 0) <= _MAX_SEQUENCE
    if op is ast.Add and isinstance(a, (str, bytes, list, tuple)) and isinstance(b, (str, bytes, list, tuple)):
        return len(a) + len(b) <= _MAX_SEQUENCE
    if op is ast.Mod and isinstance(a, (str, bytes)):
        return _WIDE_FORMAT.search(a if isinstance(a, str) else a.decode("latin-1")) is None
    if op is ast.Pow and isinstance(b, (int, float)):
        return abs(b) <= 64
    return True


def _spread_problem(value: Value, node: ast.expr, stars: str) -> Unknown | Invalid:
    if isinstance(value, (Unknown, Invalid)):
        return type(value)(f"`{stars}{_describe(node)}`: {value.reason}", value.span)
    kind = "a dict with string keys" if stars == "**" else "a list or tuple"
    return Invalid(f"`{stars}{_describe(node)}` is not {kind}", value.span)
