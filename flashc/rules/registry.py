"""Every rule flashc knows, by code, in catalogue order."""

from __future__ import annotations

from . import calls, configuration, dependencies, meta, names, scoping
from .base import Rule

FAMILIES = (scoping, calls, configuration, names, dependencies, meta)

RULES: dict[str, Rule] = dict(sorted((rule.code, rule) for family in FAMILIES for rule in family.RULES))
"""Code -> rule, in code order."""


def rule(code: str) -> Rule | None:
    """The rule with ``code`` (case-insensitive), or None."""
    return RULES.get(code.upper())


def by_name(name: str) -> Rule | None:
    return next((r for r in RULES.values() if r.name == name), None)
