"""Positions between flashc (1-based lines, code-point columns) and LSP (0-based lines,
columns in the negotiated encoding: UTF-16 code units unless the client chose otherwise).

Columns are converted with the text of the line they are on, taken from the text
that was checked, so a character outside the Basic Multilingual Plane (an emoji)
counts as two UTF-16 units and an ``é`` as one, exactly as editors count them.
Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` (what Python and LSP both count; not
``str.splitlines``, which also breaks at form feeds and other separators).
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from ..diagnostics import LINE_BREAK, Position, Span, split_lines

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"



def units(text: str, encoding: str = UTF16) -> int:
    """The length of ``text`` in the code units of ``encoding``."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", errors="surrogatepass"))
    return len(text) + sum(1 for character in text if ord(character) > 0xFFFF)


def to_units(line: str, column: int, encoding: str = UTF16) -> int:
    """A code-point column of ``line`` as a column in ``encoding`` units (clamped to the line)."""
    return units(line[: max(column, 0)], encoding)


def from_units(line: str, column: int, encoding: str = UTF16) -> int:
    """A column in ``encoding`` units as a code-point column of ``line``.

    A column inside a character (half of a surrogate pair) rounds down to its start;
    one past the end of the line clamps to the end.
    """
    if encoding == UTF32 or line.isascii():
        return min(max(column, 0), len(line))
    counted = 0
    for index, character in enumerate(line):
        width = units(character, encoding)
        if counted + width > column:
            return index
        counted += width
    return len(line)


def lsp_position(lines: Sequence[str], position: Position, encoding: str = UTF16) -> types.Position:
    """A flashc position in a file with ``lines`` as an LSP position (clamped into the file)."""
    index = position.line - 1
    if index < 0:
        return types.Position(line=0, character=0)
    if index >= len(lines):
        last = len(lines) - 1 if lines else 0
        return types.Position(line=last, character=units(lines[last], encoding) if lines else 0)
    return types.Position(line=index, character=to_units(lines[index], position.column, encoding))


def lsp_range(lines: Sequence[str], span: Span, encoding: str = UTF16) -> types.Range:
    return types.Range(start=lsp_position(lines, span.start, encoding), end=lsp_position(lines, span.end, encoding))


def flashc_position(lines: Sequence[str], position: types.Position, encoding: str = UTF16) -> Position:
    """An LSP position as a flashc position (1-based line, code-point column)."""
    line = lines[position.line] if 0 <= position.line < len(lines) else ""
    return Position(position.line + 1, from_units(line, position.character, encoding))


def offset(lines: Sequence[str], text: str, position: Position) -> int:
    """The code-point offset into ``text`` of a flashc position (``lines`` = ``split_lines(text)``)."""
    start = 0
    for match, _ in zip(LINE_BREAK.finditer(text), range(position.line - 1)):
        start = match.end()
    index = position.line - 1
    length = len(lines[index]) if 0 <= index < len(lines) else 0
    return start + min(max(position.column, 0), length)


def position_at(text: str, index: int) -> Position:
    """The flashc position of code-point offset ``index`` in ``text``."""
    line, start = 1, 0
    for match in LINE_BREAK.finditer(text, 0, index):
        if match.end() > index:
            break
        line, start = line + 1, match.end()
    return Position(line, index - start)
