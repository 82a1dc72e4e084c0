"""Fixes as text: turning rules' deferred changes into edits, and applying edits.

Rules describe insertions abstractly (:class:`~flashc.diagnostics.InsertStatements`);
:mod:`flashc.transforms.insert` performs them with libcst, and the changed text
is reduced here to one whole-line :class:`Edit`, the form editors and ``--diff``
consume.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import partial

from ..diagnostics import Diagnostic, Edit, Fix, InsertStatements, Position, Span, split_lines

_lines_with_ends = partial(split_lines, keepends=True)
"""Lines with their line breaks, as Python and editors count them."""


def line_edit(path: str, before: str, after: str) -> Edit:
    """The smallest whole-line edit that turns ``before`` into ``after``."""
    return _line_edit(path, _lines_with_ends(before), _lines_with_ends(after))


def _line_edit(path: str, old_lines: list[str], new_lines: list[str], equal_before: int = 0, equal_after: int = 0) -> Edit:
    """:func:`line_edit` on lines; the first ``equal_before`` and last ``equal_after`` lines are
    known to be the same in both (a shortcut: the result is the same as without it)."""
    shortest = min(len(old_lines), len(new_lines))
    prefix = min(equal_before, shortest)
    while prefix < shortest and old_lines[prefix] == new_lines[prefix]:
        prefix += 1
    suffix = min(equal_after, shortest - prefix)
    while suffix < shortest - prefix and old_lines[len(old_lines) - 1 - suffix] == new_lines[len(new_lines) - 1 - suffix]:
        suffix += 1
    start = Position(prefix + 1, 0)
    end = Position(len(old_lines) - suffix + 1, 0)
    replacement = "".join(new_lines[prefix : len(new_lines) - suffix])
    return Edit(Span(path, start, end), replacement)


class _Lines:
    """A text's lines and where each starts, computed once for all the fixes of a file."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = _lines_with_ends(text)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def at_line_start(self, offset: int, following: str) -> bool:
        """Whether ``offset`` starts a line, also when ``following`` comes next (a ``\r`` then ``\n`` is one break)."""
        if offset == 0:
            return True
        previous = self.text[offset - 1]
        return previous == "\n" or (previous == "\r" and not following.startswith("\n"))

    def edit(self, path: str, start: int, end: int, replacement: str) -> Edit:
        """The line edit of replacing ``text[start:end]`` by ``replacement``, without diffing the whole file."""
        text = self.text
        aligned = (
            self.at_line_start(start, replacement or text[end:])
            and self.at_line_start(end, text[end:])
            and (end == len(text) or not replacement or replacement[-1] == "\n" or (replacement[-1] == "\r" and not text.startswith("\n", end)))
        )
        if not aligned:
            return line_edit(path, text, text[:start] + replacement + text[end:])
        first = bisect.bisect_left(self.starts, start)
        last = bisect.bisect_left(self.starts, end)
        new_lines = [*self.lines[:first], *_lines_with_ends(replacement), *self.lines[last:]]
        return _line_edit(path, self.lines, new_lines, first, len(self.lines) - last)


def materialize(diagnostics: Sequence[Diagnostic], texts: Mapping[str, str]) -> list[Diagnostic]:
    """Turn every pending fix into text edits (libcst parses each affected file once)."""
    from .insert import FixError, insert_region  # libcst, only when there is a fix to make

    result = []
    made: dict[tuple[str, InsertStatements], Edit | None] = {}
    """Each change once per file: uses of one name in one function share their fix."""
    lines: dict[str, _Lines] = {}

    def edit(path: str, text: str, change: InsertStatements) -> Edit:
        key = (path, change)
        if key not in made:
            try:
                start, end, replacement = insert_region(text, change)
            except FixError:
                made[key] = None
            else:
                if path not in lines or lines[path].text is not text:
                    lines[path] = _Lines(text)
                made[key] = lines[path].edit(path, start, end, replacement)
        found = made[key]
        if found is None:
            raise FixError(f"cannot make {change} into edits")
        return found

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
                edits.append(edit(diagnostic.span.path, text, change))
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
    lines = _lines_with_ends(text)
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
