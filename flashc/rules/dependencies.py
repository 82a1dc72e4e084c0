"""(in progress)"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from .base import Rule
from .context import RuleContext

RULES: tuple[Rule, ...] = ()


def check(context: RuleContext) -> Iterator[Diagnostic]:
    return iter(())
