"""``flashc check --format sarif``: a SARIF 2.1.0 log for code-scanning services.

One run, with the rule catalogue as ``tool.driver.rules`` and one result per diagnostic. The
log is reproducible: no timestamps, no invocation details, and artifact URIs are the
project-relative paths resolved against the ``%SRCROOT%`` base, which the consumer (for
example GitHub code scanning) maps to the checkout. The mapping is documented in
``docs/check-output.md``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

from ..diagnostics import Diagnostic, Fix, Severity, Span
from ..rules.base import Rule
from .rules import render_rule, rule_markdown

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def level(severity: Severity) -> str:
    """SARIF has no "info": its informational level is ``note``."""
    return _LEVEL[severity]


def _artifact(path: str) -> dict[str, str]:
    """A relative URI reference: POSIX paths only need their reserved characters escaped."""
    return {"uri": quote(path, safe="/"), "uriBaseId": SRCROOT}


def region(span: Span) -> dict[str, int]:
    """1-based lines and columns; ``endColumn`` is one past the last character, as SARIF defines."""
    return {
        "startLine": span.start.line,
        "startColumn": span.start.column + 1,
        "endLine": span.end.line,
        "endColumn": span.end.column + 1,
    }


def _physical(span: Span) -> dict[str, object]:
    return {"physicalLocation": {"artifactLocation": _artifact(span.path), "region": region(span)}}


def reporting_descriptor(rule: Rule) -> dict[str, object]:
    """A rule's metadata; ``help`` carries its full documentation in text and Markdown."""
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": " ".join(rule.summary.split())},
        "fullDescription": {"text": " ".join(rule.why.split()) or " ".join(rule.summary.split())},
        "help": {"text": render_rule(rule), "markdown": rule_markdown(rule)},
        "defaultConfiguration": {"level": level(rule.severity)},
    }


def _fix(fix: Fix) -> dict[str, object]:
    """Edits grouped by file (in order of first appearance), with flashc's applicability kept.

    SARIF has no notion of safe and unsafe fixes, so the applicability goes in the property bag.
    """
    changes: dict[str, list[dict[str, object]]] = {}
    for edit in fix.edits:
        changes.setdefault(edit.span.path, []).append(
            {"deletedRegion": region(edit.span), "insertedContent": {"text": edit.replacement}}
        )
    return {
        "description": {"text": fix.title},
        "artifactChanges": [
            {"artifactLocation": _artifact(path), "replacements": replacements}
            for path, replacements in changes.items()
        ],
        "properties": {"applicability": fix.applicability.value},
    }


def _message(diagnostic: Diagnostic) -> str:
    """The message, plus notes that have no location (those with one become related locations)."""
    lines = [diagnostic.message]
    lines.extend(f"note: {note.message}" for note in diagnostic.notes if note.span is None)
    return "\n".join(lines)


def result(diagnostic: Diagnostic, rule_index: dict[str, int]) -> dict[str, object]:
    """One SARIF result; ``ruleIndex`` is given only when the rule is in ``tool.driver.rules``."""
    found: dict[str, object] = {"ruleId": diagnostic.code}
    if diagnostic.code in rule_index:
        found["ruleIndex"] = rule_index[diagnostic.code]
    found["level"] = level(diagnostic.severity)
    found["message"] = {"text": _message(diagnostic)}
    found["locations"] = [_physical(diagnostic.span)]
    spanned = [(note.message, note.span) for note in diagnostic.notes if note.span is not None]
    related = [
        {"id": index, "message": {"text": message}, **_physical(span)} for index, (message, span) in enumerate(spanned)
    ]
    if related:
        found["relatedLocations"] = related
    if diagnostic.fix is not None and diagnostic.fix.edits:
        found["fixes"] = [_fix(diagnostic.fix)]
    return found


def sarif_log(diagnostics: Sequence[Diagnostic], rules: Sequence[Rule], *, version: str) -> dict[str, object]:
    """The SARIF log as a JSON-ready dict.

    ``rules`` should be every rule flashc knows (not just those that fired), so a consumer can
    show the documentation of any rule and tell "fixed" from "no longer checked".
    """
    rule_index = {rule.code: index for index, rule in enumerate(rules)}
    return {
        "$schema": SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "flashc",
                        "version": version,
                        "rules": [reporting_descriptor(rule) for rule in rules],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [result(d, rule_index) for d in diagnostics],
            }
        ],
    }


def render_sarif(diagnostics: Sequence[Diagnostic], rules: Sequence[Rule], *, version: str) -> str:
    """The SARIF log as indented JSON with a trailing newline, results in the order given."""
    return json.dumps(sarif_log(diagnostics, rules, version=version), indent=2, ensure_ascii=False) + "\n"
