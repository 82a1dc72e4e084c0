"""``flashc rule``: a rule's documentation as terminal text, a table, Markdown and JSON."""

from __future__ import annotations

import json

from render_samples import CAPTURED, SHADOWED, SPREAD, TEST_RULES

from flashc.render.rules import render_rule, render_rule_json, render_rule_list, render_rules_json, rule_markdown
from flashc.rules.registry import RULES as CATALOGUE  # bound before the fixture swaps it out


def test_rule_with_every_section(text_snapshot) -> None:
    assert render_rule(CAPTURED) == text_snapshot


def test_rule_with_empty_sections_left_out(text_snapshot) -> None:
    output = render_rule(SPREAD)
    assert "\nWhy\n" not in output and "\nInstead\n" not in output and "\nNotes\n" not in output
    assert output == text_snapshot


def test_rule_fix_lines() -> None:
    assert "\nFix: safe (applied by `flashc check --fix`)\n" in render_rule(CAPTURED)
    assert "\nFix: unsafe (applied by `flashc check --fix --unsafe-fixes`)\n" in render_rule(SHADOWED)
    assert "\nFix: none\n" in render_rule(SPREAD)


def test_rule_list(text_snapshot) -> None:
    assert render_rule_list(TEST_RULES) == text_snapshot


def test_rule_markdown(text_snapshot) -> None:
    assert rule_markdown(CAPTURED) == text_snapshot


def test_rule_json() -> None:
    found = json.loads(render_rule_json(SPREAD))
    assert found == {
        "code": "FC410",
        "name": "body-spread",
        "summary": "A statement spans several lines.",
        "severity": "info",
        "fix": None,
        "always_on": True,
        "why": None,
        "example": "x = (\n    1\n)",
        "instead": None,
        "notes": None,
    }
    listed = json.loads(render_rules_json(TEST_RULES))
    assert [r["code"] for r in listed] == ["FC101", "FC205", "FC410"]
    assert listed[0]["example"].startswith("import torch\n\n@remote(gpu_config)\ndef infer(x):\n    return")
    assert listed[1]["fix"] == "unsafe"


def test_every_catalogued_rule_renders() -> None:
    """The real catalogue (possibly still empty or partial) renders in every form."""
    rules = list(CATALOGUE.values())
    for rule in rules:
        assert render_rule(rule).startswith(f"{rule.code} {rule.name}\n")
        assert rule_markdown(rule)
        json.loads(render_rule_json(rule))
    assert render_rule_list(rules).startswith("Code")
    assert len(json.loads(render_rules_json(rules))) == len(rules)
