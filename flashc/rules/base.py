"""What a rule is: a fixed code, a name, a default severity and its own documentation.

Rules are data plus a check function in their family module (``scoping``,
``calls``, ``configuration``, ``dependencies``, ``meta``). Codes are never
reused; CHANGELOG.md records every added or changed rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Applicability, Severity


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    """``FC101``: a letter prefix and three digits; the first digit is the family."""
    name: str
    """``module-import-captured``: kebab-case, usable wherever the code is."""
    summary: str
    """One line: what the rule finds."""
    severity: Severity
    """The default; ``[tool.flashc.severity]`` overrides it."""
    fix: Applicability | None
    """The kind of fix its diagnostics may carry (None: the rule never offers one)."""
    why: str
    """Why it matters, in a short paragraph."""
    example: str
    """Code that triggers the rule."""
    instead: str = ""
    """The same code written correctly (empty when there is nothing to show)."""
    notes: str = ""
    """Edge cases: what the rule deliberately does not report, how fixes behave."""
    always_on: bool = False
    """Cannot be deselected (a file flashc cannot read cannot be checked)."""
