"""The check cache: reused while nothing it depends on changed, and never a way to be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashc import api, cache
from flashc.rules import engine

WORKER = """\
import numpy as np
from runpod_flash import LiveServerless, remote

gpu = LiveServerless(name="w")


@remote(resource_config=gpu)
async def f(x):
    return np.sum(x)
"""


@pytest.fixture
def project(make_project, tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("FLASHC_CACHE_DIR", str(tmp_path / "cache"))
    return make_project({"worker.py": WORKER, "notes.py": "NOTE = 1\n"})


@pytest.fixture
def rule_runs(monkeypatch) -> list[int]:
    """Counts how often the rules actually run (a cache miss)."""
    runs: list[int] = []
    original = engine.run_rules

    def counting(analysis, jobs=1):
        runs.append(1)
        return original(analysis, jobs)

    monkeypatch.setattr("flashc.api.run_rules", counting)
    return runs


def codes(result: api.CheckResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def test_a_warm_run_reuses_the_findings(project: Path, rule_runs: list[int]) -> None:
    cold = api.check([project])
    warm = api.check([project])
    assert len(rule_runs) == 1
    assert warm.diagnostics == cold.diagnostics
    assert codes(warm) == ["FC101"]
    assert warm.diagnostics[0].fix is not None and warm.diagnostics[0].fix.pending


def test_editing_a_file_that_can_declare_endpoints_invalidates(project: Path, rule_runs: list[int]) -> None:
    api.check([project])
    (project / "worker.py").write_text(WORKER.replace("np.sum(x)", "x"), encoding="utf-8")
    assert codes(api.check([project])) == []
    assert len(rule_runs) == 2


def test_editing_an_unrelated_file_does_not(project: Path, rule_runs: list[int]) -> None:
    api.check([project])
    (project / "notes.py").write_text("NOTE = 2\n", encoding="utf-8")
    api.check([project])
    assert len(rule_runs) == 1


def test_changing_the_config_invalidates(project: Path, rule_runs: list[int]) -> None:
    api.check([project])
    with (project / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[tool.flashc]\npython-version = "3.11"\n')
    api.check([project])
    assert len(rule_runs) == 2


def test_selection_and_suppressions_apply_to_cached_findings(project: Path, rule_runs: list[int]) -> None:
    api.check([project])
    assert codes(api.check([project], api.CheckOptions(ignore=["FC101"]))) == []
    assert len(rule_runs) == 1


def test_no_cache_neither_reads_nor_writes(project: Path, tmp_path: Path, rule_runs: list[int]) -> None:
    api.check([project], use_cache=False)
    api.check([project], use_cache=False)
    assert len(rule_runs) == 2
    assert not (tmp_path / "cache").exists()


def test_a_corrupt_entry_is_a_miss(project: Path, tmp_path: Path, rule_runs: list[int]) -> None:
    api.check([project])
    (entry,) = (tmp_path / "cache").rglob("check-*.json")
    entry.write_text("{not json", encoding="utf-8")
    assert codes(api.check([project])) == ["FC101"]
    assert len(rule_runs) == 2


def test_the_cache_directory_is_marked_and_ignored_by_git(project: Path, tmp_path: Path) -> None:
    api.check([project], api.CheckOptions(cache_dir=tmp_path / "elsewhere"))
    directory = tmp_path / "elsewhere"
    assert (directory / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"
    assert (directory / "CACHEDIR.TAG").read_text(encoding="utf-8").startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_an_unwritable_cache_is_not_an_error(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert codes(api.check([project], api.CheckOptions(cache_dir=blocker / "cache"))) == ["FC101"]


def test_the_default_directory_is_inside_the_project(project: Path, monkeypatch) -> None:
    monkeypatch.delenv("FLASHC_CACHE_DIR")
    assert cache.cache_directory(project, None) == project / ".flashc_cache"
