"""``flashc check --format github``: GitHub Actions workflow commands that annotate a pull request.

Each diagnostic becomes one ``::error``/``::warning``/``::notice`` line. The runner parses the
line, so text that could end a property (``,``), end the property list (``:``) or end the
command (a newline) must be percent-escaped exactly as the Actions toolkit does.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..diagnostics import Diagnostic, Severity
from .diagnostics import rule_name

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """Escape the message part (after ``::``): ``%`` first, so escapes are not escaped again."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a ``key=value`` property: as data, plus the ``:`` and ``,`` that delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _title(code: str) -> str:
    name = rule_name(code)
    return f"{code} ({name})" if name else code


def _message(diagnostic: Diagnostic) -> str:
    """The message, then one ``note:`` line per note: an annotation shows no source excerpt."""
    lines = [diagnostic.message]
    for note in diagnostic.notes:
        where = f"{note.span}: " if note.span is not None else ""
        lines.append(f"note: {where}{note.message}")
    return "\n".join(lines)


def annotation(diagnostic: Diagnostic) -> str:
    """One workflow command. Columns are 1-based; ``endColumn`` is exclusive, like ``end_location``.

    GitHub accepts columns only for single-line annotations, so a span over several lines
    gives ``line`` and ``endLine`` without columns.
    """
    span = diagnostic.span
    properties = [("file", span.path), ("line", str(span.start.line))]
    if span.start.line == span.end.line:
        properties.append(("col", str(span.start.column + 1)))
    properties.append(("endLine", str(span.end.line)))
    if span.start.line == span.end.line:
        properties.append(("endColumn", str(span.end.column + 1)))
    properties.append(("title", _title(diagnostic.code)))
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{_COMMAND[diagnostic.severity]} {rendered}::{escape_data(_message(diagnostic))}"


def render_github(diagnostics: Sequence[Diagnostic]) -> str:
    """One annotation per line, in the order given; empty when there is nothing to report."""
    return "".join(annotation(d) + "\n" for d in diagnostics)
