"""Just enough GraphQL for the emulator: one operation with one root field, its arguments
(``name: $variable`` or literals) and its selection set, which answers are cut down to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r'\s*(?:(\.\.\.)|([A-Za-z_][A-Za-z0-9_]*)|(\$[A-Za-z_][A-Za-z0-9_]*)|("(?:[^"\\]|\\.)*")|(-?\d+)|([{}()\[\]:!,=]))')

Selection = dict[str, "Selection | None"]


class QueryError(Exception):
    """A document the emulator (like the real server) rejects; the message is the server's."""


@dataclass
class Operation:
    kind: str
    name: str | None
    field: str
    arguments: dict[str, Any]
    selection: Selection | None


def _tokens(document: str) -> list[str]:
    tokens, position = [], 0
    document = document.strip()
    while position < len(document):
        match = _TOKEN.match(document, position)
        if match is None or match.end() == position:
            raise QueryError(f"Syntax Error: unexpected character {document[position]!r}")
        tokens.append(next(g for g in match.groups() if g is not None))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise QueryError(f"Syntax Error: expected {expected or 'a token'}, found {token or 'end of document'}")
        self.i += 1
        return token

    def skip_variable_definitions(self) -> None:
        self.take("(")
        depth = 1
        while depth:
            token = self.take()
            depth += {"(": 1, ")": -1}.get(token, 0)

    def value(self, variables: dict[str, Any]) -> Any:
        token = self.take()
        if token.startswith("$"):
            if token[1:] not in variables:
                raise QueryError(f'Variable "{token}" is not defined')
            return variables[token[1:]]
        if token.startswith('"'):
            return token[1:-1]
        if token.lstrip("-").isdigit():
            return int(token)
        if token in ("true", "false"):
            return token == "true"
        if token == "null":
            return None
        raise QueryError(f"Syntax Error: unexpected {token}")

    def arguments(self, variables: dict[str, Any]) -> dict[str, Any]:
        arguments: dict[str, Any] = {}
        if self.peek() != "(":
            return arguments
        self.take("(")
        while self.peek() != ")":
            name = self.take()
            self.take(":")
            arguments[name] = self.value(variables)
            if self.peek() == ",":
                self.take(",")
        self.take(")")
        return arguments

    def selection(self, variables: dict[str, Any]) -> Selection:
        self.take("{")
        fields: Selection = {}
        while self.peek() != "}":
            name = self.take()
            if self.peek() == "(":
                self.arguments(variables)
            fields[name] = self.selection(variables) if self.peek() == "{" else None
        self.take("}")
        return fields


def parse(document: str, variables: dict[str, Any]) -> Operation:
    parser = _Parser(_tokens(document))
    kind, name = "query", None
    if parser.peek() in ("query", "mutation"):
        kind = parser.take()
        if parser.peek() not in ("(", "{"):
            name = parser.take()
        if parser.peek() == "(":
            parser.skip_variable_definitions()
    parser.take("{")
    field = parser.take()
    arguments = parser.arguments(variables)
    selection = parser.selection(variables) if parser.peek() == "{" else None
    parser.take("}")
    if parser.peek() is not None:
        raise QueryError("the emulator answers one root field per operation")
    return Operation(kind, name, field, arguments, selection)


def select(value: Any, selection: Selection | None, type_name: str) -> Any:
    """``value`` cut down to ``selection``; a field the type does not have is an error, as on the server."""
    if selection is None or value is None:
        return value
    if isinstance(value, list):
        return [select(item, selection, type_name) for item in value]
    if not isinstance(value, dict):
        raise QueryError(f'Field of type "{type_name}" must not have a selection')
    result = {}
    for field, sub in selection.items():
        if field not in value:
            raise QueryError(f'Cannot query field "{field}" on type "{type_name}".')
        result[field] = select(value[field], sub, field)
    return result
