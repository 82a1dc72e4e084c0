"""``flashc rule``: a rule's own documentation, as terminal text, Markdown or JSON.

The documentation lives on the :class:`~flashc.rules.base.Rule` itself (summary, why,
example, instead, notes), so ``flashc rule FC101``, the SARIF ``help`` of each rule and the
generated docs all say the same thing. Rule texts are written as Python string literals and
may carry the indentation of their source, so every field is dedented before use.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence

from ..diagnostics import Applicability
from ..rules.base import Rule

WRAP_WIDTH = 88
"""Prose paragraphs are re-wrapped to this width; code is never wrapped."""
CODE_INDENT = "    "

_FIX_DETAIL = {
    None: "none",
    Applicability.SAFE: "safe (applied by `flashc check --fix`)",
    Applicability.UNSAFE: "unsafe (applied by `flashc check --fix --unsafe-fixes`)",
    Applicability.DISPLAY_ONLY: "display-only (suggested, never applied automatically)",
}


def fix_label(rule: Rule) -> str:
    """``safe``, ``unsafe``, ``display-only`` or ``none``: the one-word fix column."""
    return rule.fix.value if rule.fix is not None else "none"


def _clean(text: str) -> str:
    """The text without its source indentation or surrounding blank lines."""
    return textwrap.dedent(text).strip("\n").rstrip()


def _is_prose(paragraph: str) -> bool:
    """Prose can be re-wrapped; lists and indented blocks keep the author's line breaks."""
    return not any(line[:1].isspace() or line.lstrip().startswith(("-", "*", "|")) for line in paragraph.splitlines())


def _wrap(text: str) -> str:
    paragraphs = _clean(text).split("\n\n")
    return "\n\n".join(textwrap.fill(" ".join(p.split()), WRAP_WIDTH) if _is_prose(p) else p for p in paragraphs)


def _code_block(code: str) -> str:
    return textwrap.indent(_clean(code), CODE_INDENT, lambda line: bool(line.strip()))


def _sections(rule: Rule) -> list[tuple[str, str, bool]]:
    """``(heading, text, is_code)`` for each documentation section the rule fills in."""
    candidates = [
        ("Why", rule.why, False),
        ("Example", rule.example, True),
        ("Instead", rule.instead, True),
        ("Notes", rule.notes, False),
    ]
    return [(heading, text, is_code) for heading, text, is_code in candidates if text.strip()]


def render_rule(rule: Rule) -> str:
    """The terminal documentation of one rule: title, defaults, summary, then its sections.

    Headings stand alone on their line, prose is wrapped, code is indented four spaces so it
    stands out without colour and copies cleanly.
    """
    lines = [
        f"{rule.code} {rule.name}",
        f"Default severity: {rule.severity.value}",
        f"Fix: {_FIX_DETAIL[rule.fix]}",
    ]
    if rule.always_on:
        lines.append("Always on: cannot be deselected")
    blocks = ["\n".join(lines)]
    if rule.summary.strip():
        blocks.append(_wrap(rule.summary))
    for heading, text, is_code in _sections(rule):
        blocks.append(f"{heading}\n{_code_block(text) if is_code else _wrap(text)}")
    return "\n\n".join(blocks) + "\n"


def rule_markdown(rule: Rule) -> str:
    """The same documentation as Markdown, for SARIF ``help.markdown`` and generated pages."""
    facts = f"Default severity: `{rule.severity.value}` · Fix: {fix_label(rule)}"
    if rule.always_on:
        facts += " · always on"
    blocks = [f"## {rule.code} `{rule.name}`", facts]
    if rule.summary.strip():
        blocks.append(_clean(rule.summary))
    for heading, text, is_code in _sections(rule):
        body = f"```python\n{_clean(text)}\n```" if is_code else _clean(text)
        blocks.append(f"### {heading}\n\n{body}")
    return "\n\n".join(blocks) + "\n"


def render_rule_list(rules: Sequence[Rule]) -> str:
    """``flashc rule --all``: an aligned table of code, name, default severity, fix and summary."""
    header = ("Code", "Name", "Severity", "Fix", "Summary")
    rows = [header] + [(r.code, r.name, r.severity.value, fix_label(r), " ".join(r.summary.split())) for r in rules]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]]).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def rule_json(rule: Rule) -> dict[str, object]:
    """One rule as JSON; empty documentation fields are null rather than ``""``."""
    return {
        "code": rule.code,
        "name": rule.name,
        "summary": _clean(rule.summary),
        "severity": rule.severity.value,
        "fix": rule.fix.value if rule.fix is not None else None,
        "always_on": rule.always_on,
        "why": _clean(rule.why) or None,
        "example": _clean(rule.example) or None,
        "instead": _clean(rule.instead) or None,
        "notes": _clean(rule.notes) or None,
    }


def render_rule_json(rule: Rule) -> str:
    """``flashc rule FC101 --format json``: one object."""
    return json.dumps(rule_json(rule), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_rules_json(rules: Sequence[Rule]) -> str:
    """``flashc rule --all --format json``: an array, in the order given (catalogue order)."""
    return json.dumps([rule_json(r) for r in rules], indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_rules_markdown(rules: Sequence[Rule]) -> str:
    """``flashc rule --all --format markdown``: the catalogue as one page (``docs/rules.md``)."""
    lines = [
        "# flashc rules",
        "",
        "Generated by `flashc rule --all --format markdown`; do not edit by hand.",
        "",
        "| code | name | default severity | fix | summary |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in rules:
        anchor = f"{rule.code.lower()}-{rule.name}"
        lines.append(f"| [{rule.code}](#{anchor}) | {rule.name} | {rule.severity.value} | {fix_label(rule)} | {' '.join(rule.summary.split())} |")
    return "\n".join(lines) + "\n\n" + "\n".join(rule_markdown(rule) for rule in rules)
