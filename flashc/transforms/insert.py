"""Inserting statements at the top of a definition's body, as a libcst transform.

libcst keeps indentation, comments and the rest of the file exactly as written
(a one-line ``def f(): return x`` becomes an indented block). It takes ~100 ms to
import, so :mod:`flashc.transforms.fixes` imports this module only when a fix
is made into edits.
"""

from __future__ import annotations

import functools

import libcst as cst

from ..diagnostics import InsertStatements


class FixError(Exception):
    """A fix could not be turned into edits (the source changed or does not parse)."""


def insert_statements(source: str, change: InsertStatements) -> str:
    """``source`` with ``change.statements`` added at the top of the definition's body."""
    start, end, replacement = insert_region(source, change)
    return source[:start] + replacement + source[end:]


def insert_region(source: str, change: InsertStatements) -> tuple[int, int, str]:
    """:func:`insert_statements` as ``(start, end, replacement)``: what replaces ``source[start:end]``.

    Only the top-level statement holding the definition is transformed and printed again,
    so the fixes of a file with thousands of definitions cost time in proportion to their
    number, not to its square.
    """
    try:
        return _insert(source, change)
    except cst.ParserSyntaxError as error:
        raise FixError(str(error)) from None
    except RecursionError:
        raise FixError("the code is nested too deeply for libcst") from None


def _insert(source: str, change: InsertStatements) -> tuple[int, int, str]:
    layout = _layout(source)
    if isinstance(layout, str):
        raise FixError(layout)
    statements = [cst.parse_statement(text + "\n") for text in change.statements]
    module = layout.module
    index, earlier = layout.holders.get(change.scope[0], (None, 0)) if change.scope else (None, 0)
    if index is not None:
        original = module.body[index]
        start, code = layout.starts[index], module.code_for_node(original)
        if source.startswith(code, start):
            inserter = _Inserter(change.scope, statements)
            inserter.counts[0][change.scope[0][0]] = earlier
            updated = original.visit(inserter)
            if inserter.done:
                return start, start + len(code), module.code_for_node(updated)
    inserter = _Inserter(change.scope, statements)
    updated_module = module.visit(inserter)
    if not inserter.done:
        raise FixError(f"definition {'.'.join(name for name, _ in change.scope)} not found")
    return 0, len(source), updated_module.code


class _Layout:
    """A parsed file, where each top-level statement starts, and which one holds each module-level definition."""

    def __init__(self, source: str) -> None:
        self.module = module = cst.parse_module(source)
        offset = sum(len(module.code_for_node(line)) for line in module.header)
        self.starts: list[int] = []
        self.holders: dict[tuple[str, int], tuple[int, int]] = {}
        """``(name, occurrence)`` -> (index of the top-level statement holding it, how many
        module-level definitions of that name come before that statement)."""
        counts: dict[str, int] = {}
        for index, statement in enumerate(module.body):
            self.starts.append(offset)
            offset += len(module.code_for_node(statement))
            before = dict(counts)
            for name in _module_level_definitions(statement):
                occurrence = counts.get(name, 0)
                counts[name] = occurrence + 1
                self.holders[(name, occurrence)] = (index, before.get(name, 0))


def _module_level_definitions(statement: cst.CSTNode) -> list[str]:
    """Names of the definitions ``statement`` makes at module level (itself, or under ``if``/``try``/``with``...)."""
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        return [statement.name.value]
    names: list[str] = []
    for child in statement.children:
        if isinstance(child, (cst.BaseExpression, cst.BaseSmallStatement)):
            continue
        names.extend(_module_level_definitions(child))
    return names


@functools.lru_cache(maxsize=16)
def _layout(source: str) -> _Layout | str:
    """libcst trees are immutable: a file with several fixes is parsed once, not once per fix
    (and one that libcst cannot parse is tried once: the reason is kept)."""
    try:
        return _Layout(source)
    except cst.ParserSyntaxError as error:
        return str(error)
    except RecursionError:
        return "the code is nested too deeply for libcst"


class _Inserter(cst.CSTTransformer):
    def __init__(self, scope: tuple[tuple[str, int], ...], statements: list[cst.BaseStatement]) -> None:
        self.scope = scope
        self.statements = statements
        self.path: list[tuple[str, int]] = []
        self.counts: list[dict[str, int]] = [{}]
        self.done = False

    def _enter(self, name: str) -> bool:
        counts = self.counts[-1]
        index = counts.get(name, 0)
        counts[name] = index + 1
        self.path.append((name, index))
        self.counts.append({})
        # Only descend where the target can be.
        return tuple(self.path) == self.scope[: len(self.path)]

    def _leave(self, original: cst.FunctionDef | cst.ClassDef, updated: cst.FunctionDef | cst.ClassDef) -> cst.FunctionDef | cst.ClassDef:
        is_target = tuple(self.path) == self.scope
        self.path.pop()
        self.counts.pop()
        if not is_target:
            return updated
        self.done = True
        return updated.with_changes(body=_with_statements(updated.body, self.statements))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return self._enter(node.name.value)

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        return self._leave(original, updated)  # type: ignore[return-value]

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return self._enter(node.name.value)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        return self._leave(original, updated)  # type: ignore[return-value]


def _with_statements(body: cst.BaseSuite, statements: list[cst.BaseStatement]) -> cst.BaseSuite:
    if isinstance(body, cst.SimpleStatementSuite):
        # ``def f(): return x`` -> an indented block, the old one-liner as its last line.
        line = cst.SimpleStatementLine(body=body.body, trailing_whitespace=body.trailing_whitespace)
        return cst.IndentedBlock(body=[*statements, line])
    assert isinstance(body, cst.IndentedBlock)
    existing = list(body.body)
    start = 1 if existing and _is_docstring(existing[0]) else 0
    return body.with_changes(body=[*existing[:start], *statements, *existing[start:]])


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
