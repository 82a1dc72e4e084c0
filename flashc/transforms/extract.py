"""Extracting endpoint definitions from a module, as libcst transforms.

The worker runs an endpoint's definition alone: its ``def``/``class`` with the
SDK decorators removed (the build already resolved what they say), written at
the top level of a module of its own. libcst keeps the definition's comments,
formatting and other decorators exactly as written.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .insert import FixError


@dataclass(frozen=True, slots=True)
class Extracted:
    definitions: tuple[str, ...]
    """Each requested definition's code, in the order asked for, ending with a newline."""
    future_imports: tuple[str, ...]
    """The module's ``from __future__ import ...`` statements (they change how the code compiles)."""


def extract_definitions(
    source: str,
    names: Sequence[tuple[int, int]],
    strip: Collection[tuple[int, int]],
) -> Extracted:
    """The definitions whose *name* starts at each ``(line, column)`` of ``names``, without the
    decorators starting at ``strip`` (1-based lines, 0-based columns in code points).

    Definitions may be nested (under ``if``/``try``, or in a function); they come
    out at the top level either way.
    """
    try:
        wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    except cst.ParserSyntaxError as error:
        raise FixError(str(error)) from None
    positions = wrapper.resolve(PositionProvider)
    finder = _Finder(positions, set(names), set(strip))
    wrapper.module.visit(finder)
    missing = [name for name in names if name not in finder.found]
    if missing:
        raise FixError(f"no definition at {missing}")
    module = wrapper.module
    definitions = tuple(module.code_for_node(finder.found[name]) for name in names)
    future = tuple(
        module.code_for_node(statement)
        for statement in module.body
        if isinstance(statement, cst.SimpleStatementLine)
        and any(isinstance(s, cst.ImportFrom) and _dotted(s.module) == "__future__" for s in statement.body)
    )
    return Extracted(definitions, future)


class _Finder(cst.CSTVisitor):
    def __init__(self, positions, names: set[tuple[int, int]], strip: set[tuple[int, int]]) -> None:  # type: ignore[no-untyped-def]
        self.positions = positions
        self.names = names
        self.strip = strip
        self.found: dict[tuple[int, int], cst.FunctionDef | cst.ClassDef] = {}

    def _visit(self, node: cst.FunctionDef | cst.ClassDef) -> bool:
        start = self.positions[node.name].start
        key = (start.line, start.column)
        if key in self.names:
            kept = [d for d in node.decorators if self._position(d.decorator) not in self.strip]
            if kept:
                kept[0] = kept[0].with_changes(leading_lines=())
            # The first decorator carries the blank lines/comments above the definition: keep
            # the definition's own leading lines and drop the removed decorators' ones.
            self.found[key] = node.with_changes(decorators=kept, leading_lines=())
        return True

    def _position(self, node: cst.CSTNode) -> tuple[int, int]:
        start = self.positions[node].start
        return (start.line, start.column)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return self._visit(node)

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return self._visit(node)


def _dotted(node: cst.BaseExpression | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""
