"""Reading and parsing one file, and the position bookkeeping of its source.

Analysis runs on the standard library's ``ast`` (10x faster than libcst). ``ast``
columns are UTF-8 byte offsets; :class:`ParsedModule` converts them to code
points so spans are right on lines with non-ASCII text.
"""

from __future__ import annotations

import ast
import bisect
import copy as copy_module
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import LINE_BREAK, Diagnostic, Position, Severity, Span, split_lines
from ..model import SourceFile
from .codes import FILE_UNREADABLE, SYNTAX_ERROR


_KEYWORDS = {
    keyword: re.compile(rf"\b{keyword}(?:[ \t\f]|\\(?:\r\n|\r|\n))+") for keyword in ("def", "class")
}
"""``def``/``class`` and what may separate it from the name (blanks, backslash continuations)."""


def unparse(node: ast.AST) -> str:
    """The source of ``node``, for messages and signatures; never raises.

    ``ast.unparse`` fails on an integer literal longer than the interpreter converts to
    decimal (``0xfff...`` of 5000 digits), spelled here in hexadecimal instead, and on
    nesting deeper than the recursion limit (``...``).
    """
    try:
        return ast.unparse(node)
    except ValueError:
        pass
    except RecursionError:
        return "..."
    try:
        copy = copy_module.deepcopy(node)
        for child in ast.walk(copy):
            if isinstance(child, ast.Constant) and type(child.value) is int and not _printable(child.value):
                child.value = _HexLiteral(child.value)
        return ast.unparse(copy)
    except (ValueError, RecursionError):
        return "..."


def _printable(value: int) -> bool:
    try:
        repr(value)
    except ValueError:
        return False
    return True


class _HexLiteral(int):
    """An integer that ``repr`` (and so ``ast.unparse``) writes in hexadecimal, whatever its size."""

    def __repr__(self) -> str:
        return hex(self)


@dataclass(slots=True)
class ParsedModule:
    """A parsed file plus the helpers every analysis pass needs."""

    source: SourceFile
    tree: ast.Module
    lines: list[str] = field(default_factory=list)
    line_starts: list[int] | None = field(default=None, repr=False, compare=False)
    """Where each line starts in the text (computed on first use)."""

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def name(self) -> str:
        return self.source.module

    def position(self, line: int, byte_column: int) -> Position:
        """Convert an ``ast`` (line, UTF-8 byte column) to a code-point position."""
        if 1 <= line <= len(self.lines):
            text = self.lines[line - 1]
            if not text.isascii():
                byte_column = len(text.encode("utf-8")[:byte_column].decode("utf-8", errors="ignore"))
        return Position(line, byte_column)

    def span(self, node: ast.AST) -> Span:
        start = self.position(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end_line = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
        end_col = getattr(node, "end_col_offset", None)
        end = self.position(end_line, end_col) if end_col is not None else start
        return Span(self.path, start, end)

    def segment(self, node: ast.AST) -> str | None:
        """The source text of ``node``, as ``ast.get_source_segment`` gives it (which splits the
        whole file, character by character, on every call)."""
        end_line, end_column = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        if end_line is None or end_column is None or not 1 <= node.lineno <= end_line <= len(self.lines):  # type: ignore[attr-defined]
            return None
        start = self._offset(self.position(node.lineno, node.col_offset))  # type: ignore[attr-defined]
        return self.source.text[start : self._offset(self.position(end_line, end_column))]

    def name_span(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> Span:
        """The span of the defined name in ``def name`` / ``class name`` (on a later line after a
        backslash); the whole definition if the name is not spelled as written (NFKC-normalised)."""
        keyword = "class" if isinstance(node, ast.ClassDef) else "def"
        first = node.body[0] if node.body else node
        begin = self._offset(self.position(node.lineno, node.col_offset))
        end = self._offset(self.position(first.lineno, first.col_offset))
        text = self.source.text
        match = _KEYWORDS[keyword].search(text, begin, max(end, begin))
        name_end = match.end() + len(node.name) if match is not None else 0
        if match is None or not text.startswith(node.name, match.end()) or text[name_end : name_end + 1].isidentifier():
            return self.span(node)
        line = bisect.bisect_right(self._line_starts(), match.end())
        start = Position(line, match.end() - self._line_starts()[line - 1])
        return Span(self.path, start, Position(line, start.column + len(node.name)))

    def _line_starts(self) -> list[int]:
        if self.line_starts is None:
            self.line_starts = [0, *(match.end() for match in LINE_BREAK.finditer(self.source.text))]
        return self.line_starts

    def _offset(self, position: Position) -> int:
        """The index in the text of a (code-point) position."""
        starts = self._line_starts()
        return starts[min(position.line, len(starts)) - 1] + position.column


def read_source(root: Path, file: Path, module: str, is_package: bool) -> SourceFile | Diagnostic:
    """Read ``file`` as UTF-8 (PEP 263 cookies honoured); unreadable files become FC902."""
    relative = file.relative_to(root).as_posix()
    try:
        data = file.read_bytes()
    except OSError as error:
        return _unreadable(relative, f"cannot be read: {error.strerror or error}")
    return decode_source(relative, module, data, is_package)


def decode_source(relative: str, module: str, data: bytes, is_package: bool) -> SourceFile | Diagnostic:
    """The text of a file's bytes, as :func:`read_source` reads them."""
    if b"\0" in data:
        return _unreadable(relative, "is a binary file, not Python source")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except (SyntaxError, LookupError) as error:
        return _unreadable(relative, f"declares an encoding Python cannot use: {error}")
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as error:
        if not isinstance(error, UnicodeDecodeError):
            return _unreadable(relative, f"declares an encoding Python cannot use: {error}")
        # Point at the first byte that does not decode, as a position in the file.
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line = data.count(b"\n", 0, error.start) + 1
        column = len(data[line_start : error.start].decode(encoding, errors="replace"))
        byte = data[error.start : error.start + 1].hex()
        return _unreadable(
            relative,
            f"is not valid {encoding}: byte 0x{byte} cannot be decoded; save it as UTF-8 or declare its encoding (`# -*- coding: latin-1 -*-`)",
            Position(line, column),
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return SourceFile(relative, module, text, is_package)


def _unreadable(path: str, reason: str, start: Position = Position(1, 0)) -> Diagnostic:
    return Diagnostic(
        FILE_UNREADABLE, f"`{path}` {reason}", Span(path, start, start), Severity.ERROR
    )


def parse_module(source: SourceFile) -> ParsedModule | Diagnostic:
    """Parse ``source``; a syntax error becomes an FC900 diagnostic at its position."""
    try:
        tree = ast.parse(source.text, filename=source.path, type_comments=False)
    except SyntaxError as error:
        line = error.lineno or 1
        column = max((error.offset or 1) - 1, 0)  # ``offset`` is 1-based, in code points
        start = Position(line, column)
        message = error.msg[:1].upper() + error.msg[1:] if error.msg else "Invalid syntax"
        return Diagnostic(
            SYNTAX_ERROR,
            f"Syntax error: {message}",
            Span(source.path, start, start),
            Severity.ERROR,
        )
    except (ValueError, RecursionError, MemoryError) as error:
        start = Position(1, 0)
        return Diagnostic(
            SYNTAX_ERROR, f"Cannot parse this file: {error}", Span(source.path, start, start)
        )
    parsed = ParsedModule(source, tree, split_lines(source.text))
    deep = _too_deep(tree)
    if deep is not None:
        start = parsed.span(deep).start
        return Diagnostic(
            SYNTAX_ERROR,
            f"Cannot analyse this file: the code here is nested more than {MAX_NESTING} levels deep",
            Span(source.path, start, start),
        )
    return parsed


MAX_NESTING = 500
"""The deepest syntax tree flashc analyses. Python compiles deeper ones (``a + a + ...`` with 2000
terms), but flashc's passes walk trees recursively and would exhaust the recursion limit (1000)."""


def _too_deep(tree: ast.Module) -> ast.AST | None:
    """A node (with a position) nested more than ``MAX_NESTING`` levels deep, if there is one."""
    stack: list[tuple[ast.AST, int, ast.AST]] = [(tree, 0, tree)]
    while stack:
        node, depth, located = stack.pop()
        if depth > MAX_NESTING:
            return located
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1, child if hasattr(child, "lineno") else located))
    return None
