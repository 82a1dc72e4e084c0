"""Diagnostics as data: what is wrong, where, and how to fix it.

A leaf module: it imports nothing else of flashc, so every stage (analysis,
rules, renderers, the LSP shell) can depend on it.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from enum import Enum

LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""What ends a line for Python, for LSP clients and so for every position flashc reports."""


def split_lines(text: str, *, keepends: bool = False) -> list[str]:
    """The lines of ``text`` as Python numbers them: only ``\\n``, ``\\r\\n`` and ``\\r`` end a line.

    ``str.splitlines`` also breaks at form feeds, ``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028`` and
    ``\\u2029``, which would put every position after such a character on the wrong line.
    Without ``keepends`` a trailing line break makes a last, empty line.
    """
    if keepends:
        return io.StringIO(text, newline="").readlines()
    return LINE_BREAK.split(text)


@dataclass(frozen=True, slots=True, order=True)
class Position:
    line: int
    """1-based line number."""
    column: int
    """0-based column in code points (the LSP shell converts to UTF-16 units)."""


@dataclass(frozen=True, slots=True, order=True)
class Span:
    path: str
    """Project-relative POSIX path, never absolute, so output is reproducible."""
    start: Position
    end: Position

    def __str__(self) -> str:
        return f"{self.path}:{self.start.line}:{self.start.column + 1}"


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Applicability(Enum):
    """How safe a fix is to apply without review (ruff's three levels)."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


@dataclass(frozen=True, slots=True)
class Edit:
    span: Span
    replacement: str


@dataclass(frozen=True, slots=True)
class InsertStatements:
    """A deferred edit: insert ``statements`` at the top of a definition's body.

    Rules describe the change; :mod:`flashc.transforms.fixes` turns it into text
    edits with libcst (one parse per file, and only when edits are needed: for
    ``--fix``, ``--diff``, JSON/SARIF output or an editor's code action).
    """

    scope: tuple[tuple[str, int], ...]
    """The definition, as ``(name, occurrence)`` pairs from the module down; the
    occurrence counts same-named definitions directly under the same parent."""
    statements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Fix:
    title: str
    """Imperative: "Move `import torch` into `infer`"."""
    edits: tuple[Edit, ...]
    applicability: Applicability
    pending: tuple[InsertStatements, ...] = ()
    """Changes not yet made into ``edits`` (see :class:`InsertStatements`)."""


@dataclass(frozen=True, slots=True)
class Note:
    message: str
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    """A rule code such as ``FC101``; never reused for another meaning."""
    message: str
    """One sentence saying what is wrong, code elements in backticks."""
    span: Span
    severity: Severity = Severity.ERROR
    fix: Fix | None = None
    notes: tuple[Note, ...] = ()

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Position, then code, then message: a total order, so output never depends on set order."""
        return (self.span.path, self.span.start.line, self.span.start.column, self.code, self.message)
