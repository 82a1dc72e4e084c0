"""Fixtures for the renderer tests: a stand-in rule catalogue and the sample diagnostics."""

from __future__ import annotations

import pytest
from render_samples import TEST_RULES, sample_diagnostics

from flashc.diagnostics import Diagnostic
from flashc.rules import registry
from flashc.rules.base import Rule


@pytest.fixture(autouse=True)
def test_catalogue(monkeypatch: pytest.MonkeyPatch) -> tuple[Rule, ...]:
    """The renderers see exactly :data:`TEST_RULES`; ``FC999`` stays unknown.

    The real catalogue is still growing; swapping it keeps the snapshots stable.
    """
    monkeypatch.setattr(registry, "RULES", {r.code: r for r in TEST_RULES})
    return TEST_RULES


@pytest.fixture
def diagnostics() -> list[Diagnostic]:
    return sample_diagnostics()
