"""Fixes as text: turning rules' deferred changes into edits, and applying edits.

Rules describe insertions abstractly (:class:`~flashc.diagnostics.InsertStatements`);
:mod:`flashc.transforms.insert` performs them with libcst, and the changed text
is reduced here to one whole-line :class:`Edit`, the form editors and ``--diff``
consume.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ..diagnostics import Diagnostic, Edit, Fix, Position, Span


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
    from .insert import FixError, insert_statements  # libcst, only when there is a fix to make

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
