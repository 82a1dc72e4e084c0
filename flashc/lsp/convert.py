"""flashc's data as LSP data: diagnostics, fixes as workspace edits, suppression edits.

Pure functions of a checked text: every range is computed from the text the
check saw (``CheckResult.texts``), in the client's position encoding.
"""

from __future__ import annotations

import io
import tokenize
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from lsprotocol import types

from ..diagnostics import Applicability, Diagnostic, Edit, Fix, Position, Severity, Span
from ..rules.registry import rule as lookup_rule
from ..rules.suppressions import find_suppressions
from . import positions

SOURCE = "flashc"

RULES_URL = "https://github.com/flashc/flashc/blob/main/docs/rules.md"
"""Where each diagnostic's ``codeDescription`` points; a rule's section is ``#fc101-module-import-captured``."""

SEVERITIES = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}

SUPPRESS_COMMENT = "  # flashc: ignore[{codes}]"


def rule_url(code: str) -> str:
    """The documentation of rule ``code`` (the catalogue's top for a code flashc does not know)."""
    found = lookup_rule(code)
    return f"{RULES_URL}#{found.code.lower()}-{found.name}" if found is not None else RULES_URL


class Texts:
    """The checked texts of one project, split into lines once, with their URIs."""

    def __init__(self, root: Path, texts: Mapping[str, str], encoding: str, uris: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.texts = texts
        self.encoding = encoding
        self.uris = uris or {}
        """Project-relative path -> the URI the client opened it under (others are made from the path)."""
        self._lines: dict[str, list[str]] = {}

    def lines(self, path: str) -> list[str]:
        if path not in self._lines:
            text = self.texts.get(path)
            if text is None:  # not a checked file (a note about pyproject.toml): read what is there
                try:
                    text = (self.root / path).read_text(encoding="utf-8", errors="replace")
                except OSError:
                    text = ""
            self._lines[path] = positions.split_lines(text)
        return self._lines[path]

    def range(self, span: Span) -> types.Range:
        return positions.lsp_range(self.lines(span.path), span, self.encoding)

    def uri(self, path: str) -> str:
        return self.uris.get(path) or (self.root / path).as_uri()


def to_lsp(diagnostic: Diagnostic, texts: Texts) -> types.Diagnostic:
    """One flashc diagnostic as an LSP diagnostic.

    Notes with a location become ``relatedInformation``; notes without one are
    appended to the message (clients show related information next to the
    finding, and a note without a place has nowhere else to go).
    """
    message = diagnostic.message
    related = []
    for note in diagnostic.notes:
        if note.span is None:
            message += f"\n{note.message}"
        else:
            related.append(types.DiagnosticRelatedInformation(
                location=types.Location(uri=texts.uri(note.span.path), range=texts.range(note.span)),
                message=note.message,
            ))
    return types.Diagnostic(
        range=texts.range(diagnostic.span),
        message=message,
        severity=SEVERITIES[diagnostic.severity],
        code=diagnostic.code,
        code_description=types.CodeDescription(href=rule_url(diagnostic.code)),
        source=SOURCE,
        related_information=related or None,
        data=list(key(diagnostic)),
    )


def key(diagnostic: Diagnostic) -> tuple[object, ...]:
    """What identifies a diagnostic between a publish and a code action request (its ``data``)."""
    start, end = diagnostic.span.start, diagnostic.span.end
    return (diagnostic.code, diagnostic.span.path, start.line, start.column, end.line, end.column)


def text_edits(edits: Iterable[Edit], texts: Texts) -> dict[str, list[types.TextEdit]]:
    """Edits grouped by URI, in document order, duplicates dropped (LSP edits must not overlap)."""
    grouped: dict[str, list[types.TextEdit]] = {}
    for edit in sorted(set(edits), key=lambda e: (e.span.path, e.span.start, e.span.end)):
        grouped.setdefault(texts.uri(edit.span.path), []).append(
            types.TextEdit(range=texts.range(edit.span), new_text=edit.replacement)
        )
    return grouped


def workspace_edit(
    by_uri: Mapping[str, list[types.TextEdit]], version_of: Callable[[str], int | None], document_changes: bool
) -> types.WorkspaceEdit:
    """Versioned ``documentChanges`` when the client supports them, plain ``changes`` otherwise."""
    if not document_changes:
        return types.WorkspaceEdit(changes={uri: list(edits) for uri, edits in by_uri.items()})
    return types.WorkspaceEdit(document_changes=[
        types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version_of(uri)),
            edits=list(edits),
        )
        for uri, edits in by_uri.items()
    ])


def fix_title(fix: Fix) -> str:
    """The code action's title: the fix's own, marked when it needs review."""
    return fix.title if fix.applicability is Applicability.SAFE else f"{fix.title} ({fix.applicability.value})"


# --- suppressions -----------------------------------------------------------------------------


def suppression_edit(path: str, text: str, line: int, codes: Iterable[str]) -> Edit | None:
    """The edit that suppresses ``codes`` on ``line`` (1-based), or None where no comment can go.

    An existing ``# flashc: ignore[...]`` comment at the end of the line gets the
    codes added; otherwise ``  # flashc: ignore[CODES]`` goes at the end of the line.
    No comment is offered on a line that ends inside a string or with a line
    continuation, where a ``#`` would not start a comment (or would break the code).
    """
    lines = positions.split_lines(text)
    if not 1 <= line <= len(lines):
        return None
    content = lines[line - 1]
    wanted = list(dict.fromkeys(c.upper() for c in codes))
    for suppression in find_suppressions(path, text):
        if suppression.file_level or suppression.comment.start.line != line or suppression.target_line != line:
            continue
        if suppression.listed is None:  # a bare `# flashc: ignore` already covers every code
            return None
        present = {item.code for item in suppression.listed}
        missing = [c for c in wanted if c not in present]
        if not missing:
            return None
        if not suppression.listed:
            return Edit(suppression.comment, "# flashc: ignore[{}]".format(", ".join(missing)))
        end = suppression.listed[-1].span.end
        return Edit(Span(path, end, end), "".join(f", {c}" for c in missing))
    stripped = content.rstrip()
    if stripped.endswith("\\") or _ends_inside_string(text, line):
        return None
    span = Span(path, Position(line, len(stripped)), Position(line, len(content)))
    return Edit(span, SUPPRESS_COMMENT.format(codes=", ".join(wanted)))


def _ends_inside_string(text: str, line: int) -> bool:
    """Whether the end of ``line`` lies inside a (triple-quoted) string token."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.start[0] > line:
                return False
            if token.type == tokenize.STRING and token.start[0] <= line < token.end[0]:
                return True
            fstring_middle = getattr(tokenize, "FSTRING_MIDDLE", None)
            if fstring_middle is not None and token.type == fstring_middle and token.start[0] <= line < token.end[0]:
                return True
    except (tokenize.TokenError, SyntaxError):
        return False
    return False


# --- whole-document replacements ---------------------------------------------------------------


def minimal_edit(path: str, before: str, after: str) -> Edit:
    """One edit turning ``before`` into ``after``: the differing middle, common ends kept."""
    prefix = 0
    limit = min(len(before), len(after))
    while prefix < limit and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]:
        suffix += 1
    start = positions.position_at(before, prefix)
    end = positions.position_at(before, len(before) - suffix)
    return Edit(Span(path, start, end), after[prefix : len(after) - suffix])
