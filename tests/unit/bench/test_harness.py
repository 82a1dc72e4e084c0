"""The benchmark harness (bench/): its corpus, statistics, measurement and report. No benchmark
runs here; the one end-to-end run uses the smallest inputs and one run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import corpus, report
from bench.measure import BenchError, repeat, run_once
from bench.stats import median, percentile, summarize
from flashc import api
from flashc.lsp import server

REPO = Path(__file__).resolve().parents[3]


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_corpus_is_deterministic_from_its_seed(tmp_path: Path) -> None:
    shape = {"modules": 30, "lines": 2400, "endpoint_share": 0.6}
    corpus.generate(tmp_path / "a", seed=3, **shape)
    corpus.generate(tmp_path / "b", seed=3, **shape)
    corpus.generate(tmp_path / "c", seed=4, **shape)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _files(tmp_path / "a") != _files(tmp_path / "c")


def test_corpus_checks_clean_with_the_endpoints_it_declares(tmp_path: Path) -> None:
    info = corpus.generate(tmp_path / "p", modules=40, lines=3000, endpoint_share=0.5, seed=11)
    assert len(info.endpoints) == 20
    assert set(info.kinds) == {"queue", "remote", "lb", "class"}  # every shape, at this seed
    assert info.modules == 40 + corpus.CONFIG_MODULES
    assert info.lines >= 3000
    result = api.check([tmp_path / "p"], api.CheckOptions(use_cache=False))
    assert [d.code for d in result.diagnostics] == []
    model = api.inspect_project(tmp_path / "p")
    assert sorted(e.name for e in model.endpoints) == sorted(info.endpoints)


def test_corpus_refuses_bad_shapes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="endpoint_share must be within 0..1, not 1.5"):
        corpus.generate(tmp_path, modules=3, endpoint_share=1.5)
    with pytest.raises(ValueError, match="modules must be at least 1, not 0"):
        corpus.generate(tmp_path, modules=0)


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert median(values) == 2.5
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 25) == 1.75
    assert percentile(list(range(101)), 99) == 99.0
    assert median([5.0]) == 5.0
    summary = summarize([10.0, 20.0, 30.0])
    assert (summary.n, summary.median, summary.minimum, summary.maximum, summary.iqr) == (3, 20.0, 10.0, 30.0, 10.0)
    with pytest.raises(ValueError, match="percentile of no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="within 0..100, not 101"):
        percentile([1.0], 101)


def test_a_run_is_measured_on_its_own_child() -> None:
    code = "import sys; block = bytearray(64 * 2**20); block[::4096] = b'x' * len(block[::4096]); print('ok'); sys.exit(3)"
    sample = run_once([sys.executable, "-c", code])
    assert sample.returncode == 3
    assert sample.stdout == "ok\n"
    assert sample.peak_rss_mb >= 64
    assert sample.cpu > 0
    with pytest.raises(BenchError, match=r"exited with 3: ok"):
        repeat([sys.executable, "-c", code], 2)


def test_rows_that_did_not_run_say_why() -> None:
    row = report.missing("stdlib", "ruff check (peer)", "ruff is not installed")
    assert report.render_row(row) == "| ruff check (peer) | MISSING | – | – | – | – |  |  |  | ruff is not installed |"
    measured = report.Row("lsp", "edit", unit="ms", values=[10.0, 30.0, 20.0], target="p50 < 50 ms", met=True)
    assert report.render_row(measured) == "| edit | 20.0 ms | 10.0 ms – 30.0 ms (n=3) | – | – | – | p50 < 50 ms | met |  |  |"


def test_quick_run_of_one_case_writes_the_table(tmp_path: Path) -> None:
    results, output = tmp_path / "results.json", tmp_path / "BENCHMARKS.md"
    command = [sys.executable, "-m", "bench.run", "--quick", "--cases", "check", "--runs", "1",
               "--work", str(tmp_path / "work"), "--results", str(results), "--output", str(output)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = output.read_text()
    assert text.startswith("# Benchmarks\n")
    assert "## 1. `flashc check`, endpoint-dense synthetic project" in text
    assert report.HEADER in text
    rows = [line for line in text.splitlines() if line.startswith("| flashc check")]
    assert [line.split(" | ")[0] for line in rows] == ["| flashc check, cold (synthetic)", "| flashc check, warm (synthetic)"]
    assert all(line.count("|") == report.HEADER.splitlines()[0].count("|") for line in rows)
    assert [row["name"] for row in json.loads(results.read_text())["check"]["rows"]] == [
        "flashc check, cold (synthetic)", "flashc check, warm (synthetic)"]


def test_unknown_cases_are_named(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench.run", "--cases", "check,nope"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown case nope; choose from: check, stdlib, lsp, build, runtime" in done.stderr


@pytest.mark.parametrize(("value", "seconds"), [(None, server.DEBOUNCE_SECONDS), ("0", 0.0), ("0.05", 0.05), ("soon", server.DEBOUNCE_SECONDS), ("-1", server.DEBOUNCE_SECONDS)])
def test_lsp_debounce_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str | None, seconds: float) -> None:
    if value is None:
        monkeypatch.delenv("FLASHC_LSP_DEBOUNCE", raising=False)
    else:
        monkeypatch.setenv("FLASHC_LSP_DEBOUNCE", value)
    assert server._debounce() == seconds


def test_the_spawner_runs_commands_from_a_small_process() -> None:
    from bench.measure import Spawner

    code = "import sys; block = bytearray(64 * 2**20); block[::4096] = b'x' * len(block[::4096]); print('ok'); sys.exit(3)"
    Spawner.start()
    try:
        sample = run_once([sys.executable, "-c", code])
        small = run_once([sys.executable, "-c", "pass"])
    finally:
        Spawner.stop()
    assert Spawner.current is None
    assert (sample.returncode, sample.stdout) == (3, "ok\n")
    assert sample.peak_rss_mb >= 64
    assert small.peak_rss_mb < 64  # not the size of the process that asked for it
