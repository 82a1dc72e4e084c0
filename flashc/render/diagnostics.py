"""Diagnostics for people (text with the source line and a caret) and for tools (JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from ..diagnostics import Diagnostic, Severity
from .inspect import diagnostic_json


def render_text(diagnostics: Sequence[Diagnostic], read_line: Callable[[str, int], str | None]) -> str:
    """``path:line:col: CODE message``, then the source line with a caret under the span."""
    blocks = []
    for diagnostic in diagnostics:
        span = diagnostic.span
        block = [f"{span}: {diagnostic.code} [{diagnostic.severity.value}] {diagnostic.message}"]
        line = read_line(span.path, span.start.line)
        if line is not None:
            width = (
                span.end.column - span.start.column
                if span.end.line == span.start.line and span.end.column > span.start.column
                else 1
            )
            number = str(span.start.line)
            block.append(f"{' ' * len(number)} |")
            block.append(f"{number} | {line.expandtabs(1)}")
            block.append(f"{' ' * len(number)} | {' ' * span.start.column}{'^' * width}")
        for note in diagnostic.notes:
            block.append(f"  = note: {note.message}")
        blocks.append("\n".join(block))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    if not diagnostics:
        return "All checks passed."
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = len(diagnostics) - errors
    parts = [f"{errors} error{'s' if errors != 1 else ''}"]
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return f"Found {', '.join(parts)}."


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([diagnostic_json(d) for d in diagnostics], indent=2, sort_keys=True, ensure_ascii=False) + "\n"
