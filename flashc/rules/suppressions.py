"""Suppression comments, and FC901 for the ones that suppress nothing.

Forms (ruff's, with flashc's name)::

    x = f()  # flashc: ignore[FC101, FC103]   findings starting on this line
    # flashc: ignore[FC101]                   alone on a line: the next line of code
    x = f()  # flashc: ignore                 every code on this line
    # flashc: ignore-file[FC101]              on its own line anywhere: the whole file
    x = f()  # noqa: FC101, E501              flake8 style; only the FC codes count

A bare ``# noqa`` is not honoured: it is usually meant for another linter, and
honouring it would hide flashc's findings by accident. Comments are found with
``tokenize``, so text that only looks like a comment inside a string is not one.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from flashc_runtime.sdk import tables

from ..analysis.codes import UNUSED_SUPPRESSION
from ..diagnostics import Applicability, Diagnostic, Edit, Fix, Position, Span
from .registry import RULES
from .selection import Selection

# A bracket that does not close makes no directive: a typo must not turn into "ignore everything".
_FLASHC = re.compile(r"#\s*flashc:\s*(?P<kind>ignore-file|ignore)(?:\s*\[(?P<codes>[^\[\]#]*)\]|(?![\w-])(?!\s*\[))")
_NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*)", re.IGNORECASE)
_ITEM = re.compile(r"[^,\s]+")
_OURS = re.compile(r"FC\d+", re.IGNORECASE)
_PREFIX = re.compile(r"FC\d{0,2}", re.IGNORECASE)
_LAYOUT = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


@dataclass(frozen=True, slots=True)
class Listed:
    """One code as written in a suppression comment."""

    text: str
    span: Span
    ours: bool
    """An FC code (False: another tool's code in a ``noqa`` list, never touched)."""

    @property
    def code(self) -> str:
        return self.text.upper()


@dataclass(frozen=True, slots=True)
class Suppression:
    comment: Span
    """The directive, from its ``#`` to its last character."""
    file_level: bool
    target_line: int | None
    """The line a line-level suppression covers; None for file-level ones and when no code follows."""
    listed: tuple[Listed, ...] | None
    """The codes in the comment; None for a bare ``# flashc: ignore`` (every code)."""
    removal: Edit
    """Deletes the whole directive (and its line, when it is alone on it)."""

    @property
    def path(self) -> str:
        return self.comment.path

    @property
    def codes(self) -> tuple[Listed, ...]:
        """flashc's codes in the comment (empty for a bare one)."""
        return tuple(item for item in self.listed or () if item.ours)

    def covers(self, diagnostic: Diagnostic) -> bool:
        """Whether this comment would suppress ``diagnostic`` (FC900/FC902 aside)."""
        if diagnostic.span.path != self.path:
            return False
        if not self.file_level and diagnostic.span.start.line != self.target_line:
            return False
        return self.listed is None or any(item.code == diagnostic.code for item in self.codes)


_FOUND_LIMIT = 8192
_FOUND: OrderedDict[tuple[str, str], tuple[Suppression, ...]] = OrderedDict()
"""Suppressions by file and text, for the re-checks of one process (an editor's): every check
looks at every file of the project, and only the edited one has changed."""


def find_suppressions(path: str, text: str) -> list[Suppression]:
    """The suppression comments of one file (``path`` is project-relative POSIX)."""
    key = (path, text)
    found = _FOUND.get(key)
    if found is None:
        found = tuple(_find_suppressions(path, text))
        _FOUND[key] = found
        if len(_FOUND) > _FOUND_LIMIT:
            _FOUND.popitem(last=False)
    return list(found)


def _find_suppressions(path: str, text: str) -> list[Suppression]:
    lowered = text.lower()  # plain substring tests: far faster than a case-insensitive regex
    if "flashc:" not in lowered and "noqa" not in lowered:
        return []
    lines = io.StringIO(text).readlines()  # the physical lines tokenize sees
    found = []
    for token, own_line, target in _comments(text):
        line = lines[token.start[0] - 1]
        for match in _FLASHC.finditer(token.string):
            file_level = match["kind"] == "ignore-file"
            if file_level and not own_line:
                continue  # `ignore-file` at the end of a line of code reads as if it were about that line
            listed = None if match["codes"] is None else _listed(path, token, match, "codes")
            found.append(_suppression(path, token, line, match, None if file_level else target, listed))
        for match in _NOQA.finditer(token.string):
            listed = _listed(path, token, match, "codes")
            if any(item.ours for item in listed):
                found.append(_suppression(path, token, line, match, target, listed))
    return found


def apply_suppressions(
    diagnostics: Iterable[Diagnostic], texts: Mapping[str, str], selection: Selection
) -> list[Diagnostic]:
    """Remove suppressed diagnostics; add FC901 for suppressions (and codes in them) that suppress nothing.

    ``texts`` maps each project-relative path to its source. FC901 is not
    reported for codes ``selection`` turns off (they did not run), nor where
    FC901 itself is off. The FC901 diagnostics get ``selection``'s severity,
    so this may run before or after :func:`flashc.rules.selection.apply`.
    """
    by_path = {path: find_suppressions(path, text) for path, text in texts.items()}
    used: set[tuple[Suppression, str]] = set()
    kept = []
    for diagnostic in diagnostics:
        covering = [] if _unsuppressible(diagnostic.code) else [
            s for s in by_path.get(diagnostic.span.path, ()) if s.covers(diagnostic)
        ]
        used.update((s, diagnostic.code) for s in covering)
        if not covering:
            kept.append(diagnostic)
    unused = []
    for path, suppressions in by_path.items():
        if selection.enabled_for(UNUSED_SUPPRESSION, path):
            unused.extend(_unused(suppressions, used, selection))
    return kept + sorted(_diagnostics(unused, selection), key=Diagnostic.sort_key)


@dataclass(frozen=True, slots=True)
class _Unused:
    """One FC901 to report: a whole suppression (``item`` None) or one code in it."""

    suppression: Suppression
    item: Listed | None
    message: str


def _unused(suppressions: list[Suppression], used: set[tuple[Suppression, str]], selection: Selection) -> list[_Unused]:
    """The FC901s of one file's suppressions (``used``: the (suppression, code) pairs that suppressed something).

    First every comment or code that suppressed nothing; then those a comment
    naming FC901 covers are dropped (marking that FC901 used); last, the FC901
    codes that silenced nothing. Only an explicit FC901 silences FC901, so a
    bare comment can never be kept alive by the report about itself.
    """
    touched = {s for s, _ in used}
    found = []
    for suppression in suppressions:
        if not suppression.codes:
            if suppression not in touched:
                found.append(_Unused(suppression, None, f"Unused suppression: no finding {_where(suppression)}"))
            continue
        for item in suppression.codes:
            if item.code != UNUSED_SUPPRESSION:
                message = _item_problem(suppression, item, used, selection)
                if message is not None:
                    found.append(_Unused(suppression, item, message))
    reported = []
    for unused in found:
        silencers = [s for s in suppressions if _silences(s, unused)]
        used.update((s, UNUSED_SUPPRESSION) for s in silencers)
        if not silencers:
            reported.append(unused)
    for suppression in suppressions:
        for item in suppression.codes:
            if item.code == UNUSED_SUPPRESSION and (suppression, item.code) not in used:
                reported.append(_Unused(suppression, item, _unused_message(suppression, item.code)))
    return reported


def _item_problem(
    suppression: Suppression, item: Listed, used: set[tuple[Suppression, str]], selection: Selection
) -> str | None:
    """Why ``item`` deserves an FC901, or None when it is fine (used, or its rule is off here)."""
    rule = RULES.get(item.code)
    if rule is None:
        if _PREFIX.fullmatch(item.text):
            return f"`{item.text}` is a code prefix; suppressions take full rule codes"
        return f"Unknown rule code `{item.text}` in suppression{tables.suggest(item.code, sorted(RULES))}"
    if rule.always_on:
        return f"Unused suppression: `{rule.code}` ({rule.name}) cannot be suppressed"
    if not selection.enabled_for(rule.code, suppression.path) or (suppression, rule.code) in used:
        return None
    return _unused_message(suppression, rule.code)


def _silences(suppression: Suppression, unused: _Unused) -> bool:
    """A comment naming FC901 silences FC901s about itself and FC901s on the lines it covers."""
    if not any(item.code == UNUSED_SUPPRESSION for item in suppression.codes):
        return False
    if suppression is unused.suppression:
        return True
    line = unused.suppression.comment.start.line
    return suppression.file_level or suppression.target_line == line


def _unused_message(suppression: Suppression, code: str) -> str:
    return f"Unused suppression: no `{code}` finding {_where(suppression)}"


def _where(suppression: Suppression) -> str:
    if suppression.file_level:
        return "in this file"
    if suppression.target_line is None:
        return "on the line after it (there is none)"
    return f"on line {suppression.target_line}"


def _diagnostics(unused: list[_Unused], selection: Selection) -> Iterator[Diagnostic]:
    rule = RULES[UNUSED_SUPPRESSION]
    severity = selection.severity_of(rule.code, rule.severity)
    by_suppression: dict[Suppression, list[_Unused]] = defaultdict(list)
    for entry in unused:
        by_suppression[entry.suppression].append(entry)
    for suppression, entries in by_suppression.items():
        fix = _fix(suppression, [e.item for e in entries if e.item is not None])
        for entry in entries:
            span = entry.item.span if entry.item is not None else suppression.comment
            yield Diagnostic(rule.code, entry.message, span, severity, fix)


def _fix(suppression: Suppression, removed: list[Listed]) -> Fix:
    """One edit for every FC901 of a comment: drop all its unused codes, or the comment when none remains."""
    remaining = [item for item in suppression.listed or () if item not in removed]
    if not removed or not remaining:
        return Fix("Remove the unused suppression", (suppression.removal,), Applicability.SAFE)
    listed = suppression.listed or ()
    span = Span(suppression.path, listed[0].span.start, listed[-1].span.end)
    codes = ", ".join(f"`{item.text}`" for item in removed)
    edit = Edit(span, ", ".join(item.text for item in remaining))
    return Fix(f"Remove {codes} from the suppression", (edit,), Applicability.SAFE)


def _unsuppressible(code: str) -> bool:
    rule = RULES.get(code)
    return rule is not None and rule.always_on


# --- reading comments --------------------------------------------------------------------------


def _comments(text: str) -> Iterator[tuple[tokenize.TokenInfo, bool, int | None]]:
    """Each comment token, whether it is alone on its line, and the line it covers.

    An end-of-line comment covers its own line; a comment alone on its line
    covers the next line holding code (None at the end of the file). A file
    that does not tokenize to the end yields the comments before the error.
    """
    pending: list[tokenize.TokenInfo] = []
    last_code_line = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                if token.start[0] == last_code_line:
                    yield token, False, token.start[0]
                else:
                    pending.append(token)
            elif token.type not in _LAYOUT:
                for comment in pending:
                    yield comment, True, token.start[0]
                pending.clear()
                last_code_line = token.end[0]
    except (tokenize.TokenError, SyntaxError):
        pass
    for comment in pending:
        yield comment, True, None


def _listed(path: str, token: tokenize.TokenInfo, match: re.Match[str], group: str) -> tuple[Listed, ...]:
    line, column = token.start
    offset = column + match.start(group)
    return tuple(
        Listed(
            item.group(),
            Span(path, Position(line, offset + item.start()), Position(line, offset + item.end())),
            bool(_OURS.fullmatch(item.group())) or match.re is _FLASHC,
        )
        for item in _ITEM.finditer(match[group])
    )


def _suppression(
    path: str,
    token: tokenize.TokenInfo,
    line: str,
    match: re.Match[str],
    target: int | None,
    listed: tuple[Listed, ...] | None,
) -> Suppression:
    number, column = token.start
    start, end = column + match.start(), column + match.end()
    comment = _span(path, number, start, end)
    file_level = match.re is _FLASHC and match["kind"] == "ignore-file"
    return Suppression(comment, file_level, target, listed, _removal(path, token, line, start, end))


def _removal(path: str, token: tokenize.TokenInfo, text: str, start: int, end: int) -> Edit:
    """The edit deleting the directive at columns [start, end) of the token's line ``text``.

    Text after it in the same comment (``# flashc: ignore[FC101]  # why``) is
    kept, still a comment; otherwise the white space before it goes too, and a
    line holding nothing else is deleted with its line break.
    """
    line_number = token.start[0]
    comment_end = token.start[1] + len(token.string)
    after = text[end:comment_end]
    if after.strip():
        rest = after.lstrip()
        replacement = "" if rest.startswith("#") else "# "
        return Edit(_span(path, line_number, start, end + len(after) - len(rest)), replacement)
    before = len(text[:start].rstrip())
    if before:
        return Edit(_span(path, line_number, before, end), "")
    if text.endswith(("\n", "\r")):
        return Edit(Span(path, Position(line_number, 0), Position(line_number + 1, 0)), "")
    return Edit(_span(path, line_number, 0, comment_end), "")


def _span(path: str, line: int, start: int, end: int) -> Span:
    return Span(path, Position(line, start), Position(line, end))
