"""Every rule fixture checks to exactly the findings its comments announce.

A fixture is a small project under ``tests/fixtures/rules/<name>/``. A finding is
announced on its own line with ``# expect: FC101:12`` (code, then the 1-based
column as printed), several separated by commas. Lines without the comment must
stay clean, so each fixture holds true positives and their look-alikes. The
rendered text of each fixture is snapshotted separately.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flashc import api
from flashc.cli import app
from support import FIXTURES

RULE_FIXTURES = FIXTURES / "rules"
_EXPECT = re.compile(r"#\s*expect:\s*(.+?)\s*$")
_FINDING = re.compile(r"(FC\d{3}):(\d+)")


def fixture_projects() -> list[Path]:
    return sorted(p for p in RULE_FIXTURES.iterdir() if (p / "pyproject.toml").is_file())


def expected_findings(root: Path) -> set[tuple[str, int, int, str]]:
    expected = set()
    for file in sorted(root.rglob("*.py")):
        relative = file.relative_to(root).as_posix()
        for number, line in enumerate(file.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            match = _EXPECT.search(line)
            if match:
                for code, column in _FINDING.findall(match.group(1)):
                    expected.add((relative, number, int(column), code))
    return expected


@pytest.mark.parametrize("root", fixture_projects(), ids=lambda p: p.name)
def test_fixture_findings_are_exactly_the_announced_ones(root: Path) -> None:
    result = api.check([root], use_cache=False)
    found = {(d.span.path, d.span.start.line, d.span.start.column + 1, d.code) for d in result.diagnostics}
    assert found == expected_findings(root)


@pytest.mark.parametrize("root", fixture_projects(), ids=lambda p: p.name)
def test_fixture_text_output(root: Path, text_snapshot, monkeypatch) -> None:
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["check", "--no-cache"])
    assert result.exit_code in (0, 1), result.output
    assert result.output == text_snapshot
