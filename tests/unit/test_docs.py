"""The rule documentation in the repository matches the catalogue."""

from __future__ import annotations

from flashc.render.rules import fix_label, render_rules_markdown
from flashc.rules.registry import RULES
from support import REPO


def test_docs_rules_md_is_generated_from_the_catalogue() -> None:
    """Regenerate with ``flashc rule --all --format markdown > docs/rules.md``."""
    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == render_rules_markdown(list(RULES.values()))


def test_readme_lists_every_rule_with_its_severity_and_fix() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for rule in RULES.values():
        assert f"| {rule.code} | {rule.name} | {rule.severity.value} | {fix_label(rule)} |" in readme


def test_changelog_records_every_rule_code() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    missing = [code for code in RULES if f"`{code}`" not in changelog]
    assert missing == []


def test_every_rule_is_documented() -> None:
    for rule in RULES.values():
        assert rule.summary and rule.why and rule.example, rule.code
        assert rule.name.replace("-", "").isalpha() and rule.name == rule.name.lower(), rule.code
