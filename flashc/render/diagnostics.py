"""``flashc check`` output for people (text, concise, statistics) and for tools (JSON).

Every renderer is a pure function of the diagnostics it is given: no printing, no clock, no
absolute paths, so the same findings always produce the same bytes. The CLI decides what to
print and where. SARIF and GitHub annotations live in :mod:`.sarif` and :mod:`.github`; the
formats are documented in ``docs/check-output.md``.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

from ..diagnostics import Applicability, Diagnostic, Fix, Note, Position, Severity, Span
from ..rules.registry import rule as lookup_rule

TAB_WIDTH = 4
"""Columns a tab advances to in a source excerpt (tab stops, not a fixed width)."""

FIX_COMMAND = "flashc check --fix"
UNSAFE_FLAG = "--unsafe-fixes"


# --- fixes -----------------------------------------------------------------------------------


def is_fixable(diagnostic: Diagnostic, *, unsafe_fixes: bool = False) -> bool:
    """Whether ``flashc check --fix`` (with ``--unsafe-fixes`` when enabled) would apply its fix.

    Display-only fixes are never applied, so they never count.
    """
    fix = diagnostic.fix
    if fix is None:
        return False
    if fix.applicability is Applicability.SAFE:
        return True
    return fix.applicability is Applicability.UNSAFE and unsafe_fixes


def _has_hidden_fix(diagnostic: Diagnostic, *, unsafe_fixes: bool) -> bool:
    """An unsafe fix the user has not opted into: the summary says how to enable it."""
    fix = diagnostic.fix
    return fix is not None and fix.applicability is Applicability.UNSAFE and not unsafe_fixes


def rule_name(code: str) -> str | None:
    """The kebab-case name of the rule behind ``code``; None for a code the catalogue lacks."""
    found = lookup_rule(code)
    return found.name if found is not None else None


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


# --- text ------------------------------------------------------------------------------------


def header(diagnostic: Diagnostic, *, unsafe_fixes: bool = False) -> str:
    """``path:line:col: CODE [*] [severity] message``, the first line of text and concise output.

    The column is 1-based, as editors and terminals expect for ``path:line:col`` links.
    """
    marker = " [*]" if is_fixable(diagnostic, unsafe_fixes=unsafe_fixes) else ""
    return f"{diagnostic.span}: {diagnostic.code}{marker} [{diagnostic.severity.value}] {diagnostic.message}"


def _char_width(char: str) -> int:
    """Terminal cells a character occupies: 2 for wide East Asian forms, 0 for combining marks."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _display(line: str) -> tuple[str, list[int]]:
    """The line as it is printed, and the display column where each code point starts.

    Tabs become spaces up to the next tab stop and other control characters a single space, so
    the caret row can be built from the returned offsets and stays under the right characters
    even with tabs, wide characters and combining marks before the span. The offsets list has
    one extra entry: the display width of the whole line.
    """
    shown: list[str] = []
    offsets: list[int] = []
    cell = 0
    for char in line:
        offsets.append(cell)
        if char == "\t":
            advance = TAB_WIDTH - cell % TAB_WIDTH
            shown.append(" " * advance)
        elif unicodedata.category(char) == "Cc":
            advance = 1
            shown.append(" ")
        else:
            advance = _char_width(char)
            shown.append(char)
        cell += advance
    offsets.append(cell)
    return "".join(shown), offsets


def _caret_row(offsets: list[int], span: Span) -> str:
    """Spaces up to the span's start, then one ``^`` per display cell it covers (at least one).

    A span that continues onto later lines is underlined to the end of its first line.
    """
    last = len(offsets) - 1
    start = min(span.start.column, last)
    end = min(span.end.column, last) if span.end.line == span.start.line else last
    width = max(1, offsets[end] - offsets[start]) if end > start else 1
    return " " * offsets[start] + "^" * width


def _note_text(note: Note) -> str:
    return f"{note.span}: {note.message}" if note.span is not None else note.message


def _labelled(gutter: str, label: str, text: str) -> str:
    """``= note: text`` under the gutter, later lines of a multi-line text indented to match."""
    prefix = f"{gutter} = {label}: "
    return prefix + text.replace("\n", "\n" + " " * len(prefix))


def fix_kind(fix: Fix) -> str:
    """How a fix is applied, in the words the help line and docs use."""
    if fix.applicability is Applicability.SAFE:
        return "safe fix"
    if fix.applicability is Applicability.UNSAFE:
        return "unsafe fix"
    return "display-only: apply it by hand"


def _text_block(diagnostic: Diagnostic, read_line: Callable[[str, int], str | None], unsafe_fixes: bool) -> str:
    span = diagnostic.span
    number = str(span.start.line)
    gutter = " " * len(number)
    lines = [header(diagnostic, unsafe_fixes=unsafe_fixes)]
    source = read_line(span.path, span.start.line)
    if source is not None:
        shown, offsets = _display(source)
        lines.append(f"{gutter} |")
        lines.append(f"{number} | {shown}".rstrip())
        lines.append(f"{gutter} | {_caret_row(offsets, span)}")
    for note in diagnostic.notes:
        lines.append(_labelled(gutter, "note", _note_text(note)))
    if diagnostic.fix is not None:
        lines.append(_labelled(gutter, "help", f"{diagnostic.fix.title} ({fix_kind(diagnostic.fix)})"))
    return "\n".join(lines)


def render_text(
    diagnostics: Sequence[Diagnostic],
    read_line: Callable[[str, int], str | None],
    *,
    unsafe_fixes: bool = False,
) -> str:
    """Each diagnostic as its header, the source line with a caret under the span, notes and fix.

    ``read_line(path, line)`` returns the 1-based line of a project file without its line
    ending, or None when it cannot be read (the excerpt is then left out). Blocks are separated
    by a blank line; the result ends with a newline unless it is empty.
    """
    blocks = [_text_block(d, read_line, unsafe_fixes) for d in diagnostics]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def render_concise(diagnostics: Sequence[Diagnostic], *, unsafe_fixes: bool = False) -> str:
    """One line per diagnostic, the same line that starts each block of text output."""
    return "".join(header(d, unsafe_fixes=unsafe_fixes) + "\n" for d in diagnostics)


def summary(diagnostics: Sequence[Diagnostic], *, unsafe_fixes: bool = False) -> str:
    """The closing lines: counts by severity, then what ``--fix`` would do (no trailing newline).

    Unsafe fixes the user has not enabled are counted separately as "hidden", so a user who
    sees "[*] 0 fixable" is told there is more to gain from ``--unsafe-fixes``.
    """
    if not diagnostics:
        return "All checks passed."
    counts = Counter(d.severity for d in diagnostics)
    parts = []
    if counts[Severity.ERROR]:
        parts.append(_plural(counts[Severity.ERROR], "error"))
    if counts[Severity.WARNING]:
        parts.append(_plural(counts[Severity.WARNING], "warning"))
    if counts[Severity.INFO]:
        parts.append(f"{counts[Severity.INFO]} info")
    lines = [f"Found {', '.join(parts)}."]
    fixable = sum(1 for d in diagnostics if is_fixable(d, unsafe_fixes=unsafe_fixes))
    hidden = sum(1 for d in diagnostics if _has_hidden_fix(d, unsafe_fixes=unsafe_fixes))
    command = FIX_COMMAND
    if unsafe_fixes and any(d.fix is not None and d.fix.applicability is Applicability.UNSAFE for d in diagnostics):
        command = f"{FIX_COMMAND} {UNSAFE_FLAG}"
    hidden_text = f"({_plural(hidden, 'hidden fix', 'hidden fixes')} can be enabled with `{UNSAFE_FLAG}`)"
    if fixable:
        lines.append(f"[*] {fixable} fixable with `{command}`" + (f" {hidden_text}" if hidden else "") + ".")
    elif hidden:
        lines.append(f"No safe fixes available {hidden_text}.")
    return "\n".join(lines)


# --- statistics ------------------------------------------------------------------------------


def render_statistics(diagnostics: Sequence[Diagnostic], *, unsafe_fixes: bool = False) -> str:
    """A table of how often each code was found: count, code, ``[*]`` when fixable, rule name.

    Rows are sorted by count (most frequent first), then code. A code is marked ``[*]`` when at
    least one of its diagnostics is fixable, i.e. ``--fix`` would shrink that row. Empty input
    gives an empty string.
    """
    counts = Counter(d.code for d in diagnostics)
    fixable = {d.code for d in diagnostics if is_fixable(d, unsafe_fixes=unsafe_fixes)}
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if not rows:
        return ""
    count_width = max(len(str(count)) for _, count in rows)
    code_width = max(len(code) for code, _ in rows)
    lines = []
    for code, count in rows:
        marker = "[*]" if code in fixable else "   "
        line = f"{count:>{count_width}}  {code:<{code_width}}  {marker}  {rule_name(code) or ''}"
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


# --- JSON ------------------------------------------------------------------------------------


def location_json(position: Position) -> dict[str, int]:
    """``{"line", "column"}``, both 1-based (the column in code points)."""
    return {"line": position.line, "column": position.column + 1}


def _fix_json(fix: Fix) -> dict[str, object]:
    return {
        "title": fix.title,
        "applicability": fix.applicability.value,
        "edits": [
            {
                "path": edit.span.path,
                "location": location_json(edit.span.start),
                "end_location": location_json(edit.span.end),
                "content": edit.replacement,
            }
            for edit in fix.edits
        ],
    }


def _note_json(note: Note) -> dict[str, object]:
    span = note.span
    return {
        "message": note.message,
        "path": span.path if span is not None else None,
        "location": location_json(span.start) if span is not None else None,
        "end_location": location_json(span.end) if span is not None else None,
    }


def check_json(diagnostic: Diagnostic) -> dict[str, object]:
    """One diagnostic as a JSON object (the schema is in ``docs/check-output.md``)."""
    return {
        "code": diagnostic.code,
        "name": rule_name(diagnostic.code),
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        "path": diagnostic.span.path,
        "location": location_json(diagnostic.span.start),
        "end_location": location_json(diagnostic.span.end),
        "fix": _fix_json(diagnostic.fix) if diagnostic.fix is not None else None,
        "notes": [_note_json(note) for note in diagnostic.notes],
    }


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    """A JSON array of :func:`check_json` objects, in the order given, with sorted keys."""
    return json.dumps([check_json(d) for d in diagnostics], indent=2, sort_keys=True, ensure_ascii=False) + "\n"
