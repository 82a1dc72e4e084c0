"""FC101–FC109: an endpoint body may only use what ships with it.

The worker receives the body alone. Each name it uses from outside is judged by
what it is bound to at module level (an import, a variable, a constant, a helper)
or in an enclosing function, and reported with where that binding is.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator

from ..analysis.capture import (
    FreeUse,
    Origin,
    ScopeStatement,
    Site,
    analyse_body,
    definition_paths,
    enclosing_definitions,
    referenced_endpoint,
)
from ..analysis.codes import (
    CLOSURE_CAPTURED,
    DEF_TIME_NAME,
    GLOBAL_STATEMENT,
    MODULE_CONSTANT_CAPTURED,
    MODULE_FUNCTION_CAPTURED,
    MODULE_IMPORT_CAPTURED,
    MODULE_VARIABLE_CAPTURED,
    UNDEFINED_NAME,
    UNVERIFIABLE_NAME,
)
from ..analysis.evaluate import ModuleScope
from ..analysis.symbols import Binding, BindingKind, import_statement
from ..diagnostics import Applicability, Diagnostic, Fix, InsertStatements, Note, Severity
from ..model import EndpointFunction
from .base import Rule
from .context import RuleContext

ERROR, WARNING = Severity.ERROR, Severity.WARNING
UNSAFE = Applicability.UNSAFE

RULES: tuple[Rule, ...] = (
    Rule(
        MODULE_IMPORT_CAPTURED,
        "module-import-captured",
        "A name bound by a module-level import is used in an endpoint body.",
        ERROR,
        UNSAFE,
        why=(
            "Only the endpoint's body ships to the worker; the module around it does not run there. "
            "A module-level import is missing on the worker and the call fails with `NameError`, "
            "only once deployed. Importing inside the body also keeps heavy packages off the client."
        ),
        example=(
            "import numpy as np\n\n"
            "@remote(resource_config=gpu, dependencies=[\"numpy\"])\n"
            "async def total(values):\n"
            "    return float(np.sum(values))"
        ),
        instead=(
            "@remote(resource_config=gpu, dependencies=[\"numpy\"])\n"
            "async def total(values):\n"
            "    import numpy as np\n"
            "    return float(np.sum(values))"
        ),
        notes=(
            "The fix adds the same import at the top of the function (after its docstring); for a "
            "class endpoint, at the top of the method that uses it. It is unsafe because the import "
            "now runs on every call and the module-level one may become unused. A name imported "
            "from another endpoint's module (`from .workers import embed`) is a cross-endpoint call, "
            "not a capture. Names imported in several places (try/except fallbacks) get no fix."
        ),
    ),
    Rule(
        MODULE_VARIABLE_CAPTURED,
        "module-variable-captured",
        "A module-level variable is used in an endpoint body.",
        ERROR,
        None,
        why=(
            "The module does not run on the worker, so its variables (clients, loggers, loaded "
            "config, anything computed) do not exist there."
        ),
        example=(
            "logger = logging.getLogger(__name__)\n\n"
            "@Endpoint(name=\"worker\", cpu=\"cpu3c-1-2\")\n"
            "async def work(x):\n"
            "    logger.info(\"working\")"
        ),
        instead=(
            "@Endpoint(name=\"worker\", cpu=\"cpu3c-1-2\")\n"
            "async def work(x):\n"
            "    import logging\n"
            "    logging.getLogger(\"worker\").info(\"working\")"
        ),
        notes="Pass the value as an argument, or build it inside the body (in a class endpoint, in `__init__`).",
    ),
    Rule(
        MODULE_CONSTANT_CAPTURED,
        "module-constant-captured",
        "A module-level literal constant is used in an endpoint body.",
        WARNING,
        UNSAFE,
        why=(
            "Constants are module-level names too, and the worker does not have them. It is a "
            "warning because the fix is mechanical: the value is a literal."
        ),
        example=(
            "THRESHOLD = 0.5\n\n"
            "@remote(resource_config=gpu)\n"
            "async def keep(scores):\n"
            "    return [s for s in scores if s > THRESHOLD]"
        ),
        instead=(
            "@remote(resource_config=gpu)\n"
            "async def keep(scores):\n"
            "    THRESHOLD = 0.5\n"
            "    return [s for s in scores if s > THRESHOLD]"
        ),
        notes=(
            "Literal constants are numbers, strings, bytes, booleans, None, and tuples or "
            "frozensets of these, assigned once. The fix copies the assignment into the body; it is "
            "unsafe because the two copies can drift apart. No fix is offered for a name the body "
            "declares `global`."
        ),
    ),
    Rule(
        MODULE_FUNCTION_CAPTURED,
        "module-function-captured",
        "A module-level function or class that is not an endpoint is used in an endpoint body.",
        ERROR,
        None,
        why=(
            "Helpers defined next to the endpoint do not ship with it: calling, referencing or "
            "subclassing them fails on the worker."
        ),
        example=(
            "def normalise(text):\n"
            "    return text.strip().lower()\n\n"
            "@remote(resource_config=cpu)\n"
            "async def clean(texts):\n"
            "    return [normalise(t) for t in texts]"
        ),
        instead=(
            "# helpers.py\n"
            "def normalise(text):\n"
            "    return text.strip().lower()\n\n"
            "@remote(resource_config=cpu)\n"
            "async def clean(texts):\n"
            "    from helpers import normalise\n"
            "    return [normalise(t) for t in texts]"
        ),
        notes=(
            "Project modules imported inside the body ship with the endpoint, so moving the helper "
            "to its own module and importing it in the body works. Calls to other endpoints are "
            "fine: they become remote calls."
        ),
    ),
    Rule(
        CLOSURE_CAPTURED,
        "closure-captured",
        "A variable of an enclosing function is used by an endpoint defined inside that function.",
        ERROR,
        None,
        why="The endpoint's body is shipped without the function call that defined it, so its closure variables do not exist on the worker.",
        example=(
            "def make(scale):\n"
            "    @remote(resource_config=gpu)\n"
            "    async def scaled(x):\n"
            "        return x * scale\n"
            "    return scaled"
        ),
        instead=(
            "@remote(resource_config=gpu)\n"
            "async def scaled(x, scale):\n"
            "    return x * scale"
        ),
    ),
    Rule(
        DEF_TIME_NAME,
        "def-time-name",
        "A module-level name is used in the endpoint's default values, decorators or annotations.",
        ERROR,
        None,
        why=(
            "Default values and decorators are evaluated when the worker defines the function, "
            "outside its body, where module-level names do not exist. Annotations are too, unless "
            "the module has `from __future__ import annotations`."
        ),
        example=(
            "import numpy as np\n"
            "DEFAULT_SIZE = 8\n\n"
            "@remote(resource_config=gpu)\n"
            "async def sample(n: np.int64 = DEFAULT_SIZE):\n"
            "    ..."
        ),
        instead=(
            "from __future__ import annotations\n\n"
            "@remote(resource_config=gpu)\n"
            "async def sample(n: np.int64 = 8):\n"
            "    ..."
        ),
        notes=(
            "Default values and decorators are errors; annotations are warnings, and not reported "
            "at all when annotations are not evaluated at definition time (`from __future__ import "
            "annotations`, or a quoted annotation). The SDK decorators themselves are stripped by "
            "the build and never reported."
        ),
    ),
    Rule(
        UNDEFINED_NAME,
        "undefined-name",
        "A name used in an endpoint body is bound nowhere and is not a builtin.",
        ERROR,
        None,
        why="It fails with `NameError` on the worker, as it would locally; here it is found before a deploy.",
        example=(
            "@remote(resource_config=gpu)\n"
            "async def total(values):\n"
            "    return sum(valeus)"
        ),
        instead=(
            "@remote(resource_config=gpu)\n"
            "async def total(values):\n"
            "    return sum(values)"
        ),
        notes="A name the body declares `global` and assigns itself is defined by the body.",
    ),
    Rule(
        GLOBAL_STATEMENT,
        "global-statement",
        "`global` or `nonlocal` in an endpoint body.",
        WARNING,
        None,
        why=(
            "Each worker process has its own module state, and the platform starts and stops "
            "workers as it scales: a value kept with `global` is not shared between workers and "
            "does not survive a restart."
        ),
        example=(
            "@remote(resource_config=gpu)\n"
            "async def count():\n"
            "    global calls\n"
            "    calls += 1\n"
            "    return calls"
        ),
        instead=(
            "@remote(resource_config=gpu)\n"
            "async def infer(x):\n"
            "    global _model\n"
            "    try:\n"
            "        _model\n"
            "    except NameError:\n"
            "        _model = load_model()\n"
            "    return _model(x)"
        ),
        notes=(
            "A guarded per-worker cache (the name is assigned in the body and first checked with "
            "`try: name / except NameError` or `\"name\" in globals()`) is the usual way to load a "
            "model once per worker and is not reported. `nonlocal` between functions inside the "
            "body is fine too."
        ),
    ),
    Rule(
        UNVERIFIABLE_NAME,
        "unverifiable-name",
        "A name may come from a star import that flashc cannot see into.",
        WARNING,
        None,
        why=(
            "`from package import *` hides which names it binds; if the body relies on one, the "
            "worker will not have it."
        ),
        example=(
            "from torch import *\n\n"
            "@remote(resource_config=gpu)\n"
            "async def make():\n"
            "    return tensor([1, 2])"
        ),
        instead=(
            "@remote(resource_config=gpu)\n"
            "async def make():\n"
            "    from torch import tensor\n"
            "    return tensor([1, 2])"
        ),
        notes="Star imports from modules of the project are resolved, and report FC101 or FC107 instead.",
    ),
)

_MODULE_NAMES = frozenset({"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__", "__path__"})
_BUILTINS = frozenset(dir(builtins)) | _MODULE_NAMES


def check(context: RuleContext) -> Iterator[Diagnostic]:
    for _, function in context.functions():
        if function.local or not context.owns(function.module):
            continue  # ``local=True`` runs in the caller's process: nothing ships.
        scope = context.scope(function.module)
        node = context.definition(function)
        if scope is None or node is None:
            continue
        yield from _EndpointBody(context, scope, function, node).diagnostics()


class _EndpointBody:
    """The scoping findings of one endpoint definition."""

    def __init__(self, context: RuleContext, scope: ModuleScope, function: EndpointFunction, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.context = context
        self.scope = scope
        self.parsed = scope.parsed
        self.function = function
        self.node = node
        sdk_spans = set(function.sdk_decorator_spans)

        def body_uses(tree: ast.Module):  # type: ignore[no-untyped-def]
            # A pure function of the module's tree: kept with it, so a re-check of another
            # file does not walk this body again.
            skip = [d for d in node.decorator_list if self.parsed.span(d) in sdk_spans]
            enclosing = context.module_facts(function.module, "enclosing", enclosing_definitions).get(id(node), ())
            future = context.module_facts(function.module, "future-annotations", _future_annotations)
            return analyse_body(node, enclosing, skip, not future)

        key = f"body-uses:{function.span.start.line}:{function.span.start.column}:{sorted(sdk_spans)}"
        self.uses = context.module_facts(function.module, key, body_uses)

    def diagnostics(self) -> Iterator[Diagnostic]:
        guarded = self._guarded_globals()
        for use in self.uses.uses:
            if use.global_scope is not None and use.name in guarded.get(id(use.global_scope), ()):
                continue
            diagnostic = self._judge(use)
            if diagnostic is not None:
                yield diagnostic
        for statement in self.uses.scope_statements:
            if statement.leaves_body and not (
                isinstance(statement.node, ast.Global) and set(statement.node.names) <= guarded.get(id(statement.scope), set())
            ):
                yield self._scope_statement(statement)

    # --- judging one use ---------------------------------------------------------------------

    def _judge(self, use: FreeUse) -> Diagnostic | None:
        name = self._name
        if use.origin is Origin.CLOSURE:
            outer = self.function.enclosing_function or "the enclosing function"
            return self._report(CLOSURE_CAPTURED, use, f"`{use.name}` is a variable of the enclosing function `{outer}`; {name} does not have it on the worker")
        bindings = self.scope.bindings.get(use.name)
        if not bindings:
            return self._unbound(use)
        if self._is_endpoint(use, bindings):
            return None
        if use.site is not Site.BODY:
            return self._def_time(use, bindings)
        kind = _capture_kind(bindings)
        note = self._binding_note(use.name, bindings)
        if kind is MODULE_IMPORT_CAPTURED:
            fix = self._import_fix(use, bindings)
            return self._report(kind, use, f"`{use.name}` is imported at module level; only the body of {name} runs on the worker", note, fix)
        if kind is MODULE_CONSTANT_CAPTURED:
            return self._report(kind, use, f"`{use.name}` is a module-level constant; {name} does not have it on the worker", note, self._constant_fix(use, bindings[0]), WARNING)
        if kind is MODULE_FUNCTION_CAPTURED:
            what = "class" if bindings[-1].kind is BindingKind.CLASS else "function"
            return self._report(kind, use, f"`{use.name}` is a module-level {what}, not an endpoint; {name} does not have it on the worker", note)
        return self._report(MODULE_VARIABLE_CAPTURED, use, f"`{use.name}` is a module-level variable; {name} does not have it on the worker", note)

    def _unbound(self, use: FreeUse) -> Diagnostic | None:
        if use.name in _BUILTINS:
            return None
        if use.global_scope is not None and use.name in self.uses.assigned_globals.get(id(use.global_scope), ()):
            return None  # the body creates it itself
        local_star = self._from_local_star(use.name)
        if local_star is not None:
            source, binding = local_star
            note = Note(f"`{use.name}` comes from `from {source} import *`", self.parsed.span(binding.node))
            return self._report(MODULE_IMPORT_CAPTURED, use, f"`{use.name}` is imported at module level (through `from {source} import *`); only the body of {self._name} runs on the worker", note)
        opaque = [m for m in self.scope.star_imports if not m or m not in self.context.analysis.sources]
        if opaque:
            return self._report(
                UNVERIFIABLE_NAME,
                use,
                f"`{use.name}` is not defined here and may come from `from {opaque[0] or '.'} import *`, which flashc cannot verify",
                severity=WARNING,
            )
        return self._report(UNDEFINED_NAME, use, f"Undefined name `{use.name}`")

    def _def_time(self, use: FreeUse, bindings: list[Binding]) -> Diagnostic:
        where = {
            Site.DEFAULT: "a default value",
            Site.DECORATOR: "a decorator",
            Site.ANNOTATION: "an annotation",
        }[use.site]
        severity = WARNING if use.site is Site.ANNOTATION else ERROR
        message = f"`{use.name}` is a module-level name used in {where} of `{self.function.name}`, which the worker evaluates without the module"
        return self._report(DEF_TIME_NAME, use, message, self._binding_note(use.name, bindings), severity=severity)

    def _scope_statement(self, statement: ScopeStatement) -> Diagnostic:
        keyword = "global" if isinstance(statement.node, ast.Global) else "nonlocal"
        names = ", ".join(statement.node.names)
        return Diagnostic(
            GLOBAL_STATEMENT,
            f"`{keyword} {names}` keeps state per worker process: it is not shared between workers and is lost when one stops",
            self.parsed.span(statement.node),
            WARNING,
        )

    # --- what a name is bound to -------------------------------------------------------------

    def _is_endpoint(self, use: FreeUse, bindings: list[Binding]) -> bool:
        """A reference to an endpoint (called directly, or as ``module.function``) ships as a remote call."""
        endpoints = self.context.endpoint_functions
        return referenced_endpoint(use, bindings, self.parsed.name, lambda m, n: (m, n) in endpoints) is not None

    def _from_local_star(self, name: str) -> tuple[str, Binding] | None:
        for source in self.scope.star_imports:
            other = self.context.scope(source) if source in self.context.analysis.sources else None
            if other is not None and name in other.bindings:
                for binding in self.parsed.tree.body:
                    if isinstance(binding, ast.ImportFrom) and any(a.name == "*" for a in binding.names):
                        return source, Binding(name, BindingKind.IMPORT_FROM, binding, binding.lineno, False, source, name)
        return None

    def _binding_note(self, name: str, bindings: list[Binding]) -> Note:
        binding = bindings[0]
        verb = {
            BindingKind.IMPORT: "imported",
            BindingKind.IMPORT_FROM: "imported",
            BindingKind.FUNCTION: "defined",
            BindingKind.CLASS: "defined",
        }.get(binding.kind, "assigned")
        more = f" (and {len(bindings) - 1} more time{'s' if len(bindings) > 2 else ''})" if len(bindings) > 1 else ""
        return Note(f"`{name}` is {verb} here{more}", self.parsed.span(binding.node))

    # --- fixes -------------------------------------------------------------------------------

    def _import_fix(self, use: FreeUse, bindings: list[Binding]) -> Fix | None:
        if len(bindings) != 1 or bindings[0].conditional:
            return None
        statement = import_statement(bindings[0])
        if statement is None:
            return None
        return self._insert_fix(use, statement, f"Add `{statement}` at the top of `{self._home_name(use)}`")

    def _constant_fix(self, use: FreeUse, binding: Binding) -> Fix | None:
        value = self.parsed.segment(binding.value) if binding.value is not None else None
        if value is None:
            return None
        statement = f"{use.name} = {value}"
        return self._insert_fix(use, statement, f"Copy `{statement if len(statement) <= 40 else use.name + ' = ...'}` into `{self._home_name(use)}`")

    def _insert_fix(self, use: FreeUse, statement: str, title: str) -> Fix | None:
        if use.home is None or use.global_scope is not None:
            return None
        path = self.context.module_facts(self.function.module, "definition-paths", definition_paths).get(id(use.home))
        if path is None:
            return None
        return Fix(title, (), UNSAFE, (InsertStatements(path, (statement,)),))

    def _home_name(self, use: FreeUse) -> str:
        home = use.home
        name = getattr(home, "name", self.function.name)
        if home is not self.node and isinstance(self.node, ast.ClassDef):
            return f"{self.node.name}.{name}"
        return name

    # --- helpers -------------------------------------------------------------------------------

    @property
    def _name(self) -> str:
        return f"`{self.function.name}`"

    def _report(self, code: str, use: FreeUse, message: str, note: Note | None = None, fix: Fix | None = None, severity: Severity = ERROR) -> Diagnostic:
        return Diagnostic(code, message, self.parsed.span(use.node), severity, fix, (note,) if note else ())

    def _guarded_globals(self) -> dict[int, set[str]]:
        """Per scope, the ``global`` names used as a guarded per-worker cache."""
        guarded: dict[int, set[str]] = {}
        for scope_id, names in self.uses.assigned_globals.items():
            scope_node = next((n for n in ast.walk(self.node) if id(n) == scope_id), None)
            if scope_node is not None:
                found = {name for name in names if _is_guarded(scope_node, name)}
                if found:
                    guarded[scope_id] = found
        return guarded


def _capture_kind(bindings: list[Binding]) -> str:
    kinds = {b.kind for b in bindings}
    if kinds & {BindingKind.IMPORT, BindingKind.IMPORT_FROM}:
        return MODULE_IMPORT_CAPTURED
    if kinds <= {BindingKind.FUNCTION, BindingKind.CLASS}:
        return MODULE_FUNCTION_CAPTURED
    if len(bindings) == 1 and not bindings[0].conditional and bindings[0].kind is BindingKind.ASSIGNMENT and _is_literal(bindings[0].value):
        return MODULE_CONSTANT_CAPTURED
    return MODULE_VARIABLE_CAPTURED


def _is_literal(node: ast.expr | None) -> bool:
    """Numbers, strings, bytes, booleans, None, and tuples/frozensets of these."""
    if isinstance(node, ast.Constant):
        return node.value is not Ellipsis
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float, complex))
    if isinstance(node, ast.Tuple):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "frozenset" and not node.keywords:
        if not node.args:
            return True
        argument = node.args[0]
        return len(node.args) == 1 and isinstance(argument, (ast.Tuple, ast.List, ast.Set)) and all(_is_literal(e) for e in argument.elts)
    return False


def _is_guarded(scope: ast.AST, name: str) -> bool:
    """``try: name / except NameError``, ``"name" in globals()`` or ``globals().get("name")``."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Try) and any(_catches_name_error(h) for h in node.handlers):
            if any(isinstance(n, ast.Name) and n.id == name for statement in node.body for n in ast.walk(statement)):
                return True
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) and node.left.value == name:
            if any(_is_globals_call(c) for c in node.comparators):
                return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "setdefault"):
            if _is_globals_call(node.func.value) and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == name:
                return True
    return False


def _catches_name_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id in ("NameError", "Exception", "BaseException") for t in types)


def _is_globals_call(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "keys":
        node = node.func.value
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "globals" and not node.args


def _future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(statement, ast.ImportFrom) and statement.module == "__future__" and any(a.name == "annotations" for a in statement.names)
        for statement in tree.body
    )
