"""Fixes as libcst transforms, and applying fixes to source text.

Rules describe insertions abstractly (:class:`~flashc.diagnostics.InsertStatements`);
here libcst performs them, so indentation, comments and the rest of the file
stay exactly as written (a one-line ``def f(): return x`` becomes an indented
block). The changed text is then reduced to one whole-line :class:`Edit`, the
form editors and ``--diff`` consume.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import libcst as cst

from ..diagnostics import Diagnostic, Edit, Fix, InsertStatements, Position, Span


class FixError(Exception):
    """A fix could not be turned into edits (the source changed or does not parse)."""


def insert_statements(source: str, change: InsertStatements) -> str:
    """``source`` with ``change.statements`` added at the top of the definition's body."""
    try:
        module = cst.parse_module(source)
        statements = [cst.parse_statement(text + "\n") for text in change.statements]
    except cst.ParserSyntaxError as error:
        raise FixError(str(error)) from None
    inserter = _Inserter(change.scope, statements)
    updated = module.visit(inserter)
    if not inserter.done:
        raise FixError(f"definition {'.'.join(name for name, _ in change.scope)} not found")
    return updated.code


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


# --- text edits --------------------------------------------------------------------------------


def line_edit(path: str, before: str, after: str) -> Edit:
    """The smallest whole-line edit that turns ``before`` into ``after``."""
    old_lines = before.splitlines(keepends=True)
    new_lines = after.splitlines(keepends=True)
    prefix = 0
    while prefix < min(len(old_lines), len(new_lines)) and old_lines[prefix] == new_lines[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(old_lines), len(new_lines)) - prefix
        and old_lines[len(old_lines) - 1 - suffix] == new_lines[len(new_lines) - 1 - suffix]
    ):
        suffix += 1
    start = Position(prefix + 1, 0)
    end = Position(len(old_lines) - suffix + 1, 0)
    replacement = "".join(new_lines[prefix : len(new_lines) - suffix])
    return Edit(Span(path, start, end), replacement)


def materialize(diagnostics: Sequence[Diagnostic], texts: Mapping[str, str]) -> list[Diagnostic]:
    """Turn every pending fix into text edits (libcst parses each affected file once per fix)."""
    result = []
    for diagnostic in diagnostics:
        fix = diagnostic.fix
        if fix is None or not fix.pending:
            result.append(diagnostic)
            continue
        text = texts.get(diagnostic.span.path)
        try:
            if text is None:
                raise FixError("source not available")
            edits = list(fix.edits)
            for change in fix.pending:
                edits.append(line_edit(diagnostic.span.path, text, insert_statements(text, change)))
        except FixError:
            result.append(replace(diagnostic, fix=None))
            continue
        result.append(replace(diagnostic, fix=Fix(fix.title, tuple(edits), fix.applicability)))
    return result


def apply_fixes(text: str, fixes: Iterable[Fix]) -> tuple[str, int]:
    """Apply non-overlapping fixes to ``text``; returns the new text and how many fixes applied.

    Identical edits (the same import added for two uses) are applied once. A fix
    overlapping one already taken is left for the next round, when it is
    recomputed against the new text.
    """
    taken: list[Edit] = []
    applied = 0
    seen: set[Edit] = set()
    for fix in fixes:
        edits = [e for e in fix.edits if e not in seen]
        if not edits:
            applied += 1
            continue
        if any(_overlaps(e, t) for e in edits for t in taken):
            continue
        taken.extend(edits)
        seen.update(edits)
        applied += 1
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def offset(position: Position) -> int:
        index = min(position.line - 1, len(lines))
        return min(offsets[index] + position.column, len(text))

    result = text
    for edit in sorted(taken, key=lambda e: (e.span.start, e.span.end), reverse=True):
        start, end = offset(edit.span.start), offset(edit.span.end)
        result = result[:start] + edit.replacement + result[end:]
    return result, applied


def _overlaps(a: Edit, b: Edit) -> bool:
    """Whether two edits touch the same text (insertions at one point do not: both apply)."""
    if a.span.start == a.span.end:
        return b.span.start < a.span.start < b.span.end
    if b.span.start == b.span.end:
        return a.span.start < b.span.start < a.span.end
    return a.span.start < b.span.end and b.span.start < a.span.end
