"""Findings about the input itself rather than its endpoints (FC9xx).

FC900 and FC902 come from the front end (a file that does not parse or cannot
be read); FC901 comes from :mod:`flashc.rules.suppressions`. :func:`check`
therefore adds nothing; this module holds their documentation.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis import codes
from ..diagnostics import Applicability, Diagnostic, Severity
from .base import Rule
from .context import RuleContext

RULES: tuple[Rule, ...] = (
    Rule(
        code=codes.SYNTAX_ERROR,
        name="syntax-error",
        summary="A file that is not valid Python.",
        severity=Severity.ERROR,
        fix=None,
        why=(
            "flashc cannot see the endpoints of a file it cannot parse, so the file is reported instead of "
            "silently looking clean. The other files are still checked."
        ),
        example=(
            "from runpod_flash import Endpoint\n\n\n"
            '@Endpoint(name="worker")\n'
            "async def work(n: int:\n"
            "    return n\n"
        ),
        instead=(
            "from runpod_flash import Endpoint\n\n\n"
            '@Endpoint(name="worker")\n'
            "async def work(n: int):\n"
            "    return n\n"
        ),
        notes=(
            "Reported at the position Python's parser gives. Always on: it cannot be deselected, ignored "
            "per file or suppressed with a comment. A file with a syntax error gets no other findings. "
            "Only files that can declare or call endpoints are parsed (they mention `runpod_flash`, "
            "`tetra_rp` or `flashc`, or import a project module that does); a syntax error anywhere "
            "else is left to your other tools."
        ),
        always_on=True,
    ),
    Rule(
        code=codes.UNUSED_SUPPRESSION,
        name="unused-suppression",
        summary="A suppression comment, or a code in one, that suppresses nothing.",
        severity=Severity.WARNING,
        fix=Applicability.SAFE,
        why=(
            "A stale suppression hides the next real finding on its line. Unknown codes are reported too: "
            "a misspelt code suppresses nothing."
        ),
        example=(
            "from runpod_flash import Endpoint\n\n\n"
            '@Endpoint(name="worker", idle_timeout=5)  # flashc: ignore[FC320]\n'
            "async def work(n: int) -> int:\n"
            "    return n\n"
        ),
        instead=(
            "from runpod_flash import Endpoint\n\n\n"
            '@Endpoint(name="worker", idle_timeout=5)\n'
            "async def work(n: int) -> int:\n"
            "    return n\n"
        ),
        notes=(
            "Suppression comments: `# flashc: ignore[FC101, FC103]` at the end of a line covers the findings "
            "that start on that line; alone on its own line it covers the next line that is not blank or a "
            "comment; `# flashc: ignore` without codes covers every code; `# flashc: ignore-file[FC101]` (or "
            "`# flashc: ignore-file`) on its own line anywhere covers the whole file (at the end of a line of "
            "code it is not honoured); `# noqa: FC101` works like the end-of-line form. Codes must be full "
            "codes, not prefixes, and a bracket that does not close makes no suppression. In a `noqa` comment only FC codes count and other tools' codes are left "
            "alone; a bare `# noqa` is not honoured, because it is usually meant for another linter. FC900 "
            "and FC902 cannot be suppressed. Codes of rules the selection turns off are not reported (they "
            "did not run). FC901 itself is silenced only by naming it, e.g. `# flashc: ignore[FC320, FC901]` "
            "or `# flashc: ignore-file[FC901]`. The fix removes the unused codes of a comment, or the whole "
            "comment (its line, when alone on it) when none remains; every FC901 of one comment carries the "
            "same edit, so applying them together cannot conflict."
        ),
    ),
    Rule(
        code=codes.FILE_UNREADABLE,
        name="file-unreadable",
        summary="A `.py` file that cannot be read as text: binary, undecodable, or unreadable.",
        severity=Severity.ERROR,
        fix=None,
        why=(
            "flashc reads files as UTF-8 (or the encoding a PEP 263 coding comment declares). A file it "
            "cannot decode could still hold endpoints, so it is reported rather than skipped."
        ),
        example='# -*- coding: ascii -*-\nGREETING = "héllo"  # saved as UTF-8: not ASCII\n',
        instead='GREETING = "héllo"  # UTF-8 is the default\n',
        notes=(
            "Reported at the start of the file. Always on: it cannot be deselected, ignored per file or "
            "suppressed. Files that should not be read at all belong in `[tool.flashc] exclude` or "
            "`.gitignore`."
        ),
        always_on=True,
    ),
)


def check(context: RuleContext) -> Iterator[Diagnostic]:
    """Nothing to add: these findings come from reading files and from suppression comments."""
    return iter(())
