"""Running the rules over an analysed project: the one rule engine behind check and build."""

from __future__ import annotations

from ..analysis import Analysis
from ..diagnostics import Diagnostic
from .context import RuleContext
from .registry import FAMILIES


def run_rules(analysis: Analysis) -> list[Diagnostic]:
    """Every finding of every rule, unfiltered: the front end's and each family's.

    Selection, severity overrides and suppressions are applied afterwards (they
    are cheap, and this raw list is what the cache keeps).
    """
    model = analysis.model
    found = list(model.diagnostics)
    found.extend(d for endpoint in model.endpoints for d in endpoint.problems)
    context = RuleContext(analysis)
    for family in FAMILIES:
        found.extend(family.check(context))
    return sorted(set(found), key=Diagnostic.sort_key)
