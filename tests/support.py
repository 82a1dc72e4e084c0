"""Paths shared by the tests (importable because pytest puts ``tests/`` on ``sys.path``)."""

from pathlib import Path

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
PROJECTS = FIXTURES / "projects"
REPO = TESTS.parent
