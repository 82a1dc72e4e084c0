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
    try:
        module = _parse(source)
        statements = [cst.parse_statement(text + "\n") for text in change.statements]
    except cst.ParserSyntaxError as error:
        raise FixError(str(error)) from None
    inserter = _Inserter(change.scope, statements)
    updated = module.visit(inserter)
    if not inserter.done:
        raise FixError(f"definition {'.'.join(name for name, _ in change.scope)} not found")
    return updated.code


@functools.lru_cache(maxsize=16)
def _parse(source: str) -> cst.Module:
    """libcst trees are immutable: a file with several fixes is parsed once, not once per fix."""
    return cst.parse_module(source)


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
