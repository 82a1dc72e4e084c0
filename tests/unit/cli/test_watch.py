"""``flashc check --watch``: the polling loop, the difference between two checks, the command."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flashc import api, cli, watch
from flashc.cli import app

CAPTURED = """\
import numpy as np
from flashc import Endpoint


@Endpoint(name="summarize", dependencies=["numpy"])
async def summarize(numbers: list[float]) -> dict:
    return {"mean": float(np.mean(numbers))}
"""

IMPORTED_INSIDE = """\
from flashc import Endpoint


@Endpoint(name="summarize", dependencies=["numpy"])
async def summarize(numbers: list[float]) -> dict:
    import numpy as np

    return {"mean": float(np.mean(numbers))}
"""

UNUSED_SUPPRESSION = """\
from flashc import Endpoint


@Endpoint(name="helper")
async def helper(x: int) -> int:
    y = x + 1  # flashc: ignore[FC101]
    return y
"""


def _write(path: Path, text: str) -> None:
    """Write and move the mtime on, so the change is seen however coarse the file system's clock."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


# --- the loop --------------------------------------------------------------------------------


def test_loop_checks_once_then_again_only_after_a_change() -> None:
    snapshots = iter([{"a.py": (1, 1)}, {"a.py": (1, 1)}, {"a.py": (2, 1), "b.py": (1, 1)}, {"a.py": (2, 1), "b.py": (1, 1)}])
    rounds: list[watch.Round] = []
    slept: list[float] = []
    polls = iter([False, False, False, True])

    count = watch.loop(rounds.append, lambda: next(snapshots), interval=0.25, sleep=slept.append, stop=lambda: next(polls))

    assert count == 2
    assert rounds == [watch.Round(1, ()), watch.Round(2, ("a.py", "b.py"))]
    assert slept == [0.25, 0.25, 0.25]


def test_changed_files_are_added_removed_and_modified() -> None:
    before = {"a.py": (1, 10), "b.py": (1, 10), "c.py": (1, 10)}
    after = {"a.py": (1, 10), "b.py": (2, 10), "d.py": (1, 1)}
    assert watch.changed_files(before, after) == ["b.py", "c.py", "d.py"]


def test_snapshot_covers_sources_and_configuration_but_not_excluded_files(make_project) -> None:
    root = make_project(
        {"worker.py": CAPTURED, "scripts/tool.py": "x = 1\n", "ignored.py": "x = 1\n", ".gitignore": "ignored.py\n", "notes.txt": "hi\n"},
        pyproject='[project]\nname = "t"\nversion = "0"\n[tool.flashc]\nexclude = ["scripts/"]\n',
    )
    names = sorted(Path(p).relative_to(root).as_posix() for p in watch.snapshot([root]))
    assert names == [".gitignore", "pyproject.toml", "worker.py"]


def test_snapshot_survives_a_broken_configuration_and_a_deleted_target(make_project) -> None:
    root = make_project({"worker.py": CAPTURED}, pyproject="[tool.flashc\n")
    assert sorted(Path(p).name for p in watch.snapshot([root / "worker.py"])) == ["pyproject.toml"]
    (root / "worker.py").unlink()
    assert sorted(Path(p).name for p in watch.snapshot([root / "worker.py"])) == ["pyproject.toml"]


# --- what changed between two checks --------------------------------------------------------


def test_compare_ignores_findings_that_only_moved(make_project) -> None:
    root = make_project({"worker.py": CAPTURED})
    before = api.check([root], use_cache=False)
    (root / "worker.py").write_text("# a comment pushes everything down\n\n" + CAPTURED, encoding="utf-8")
    after = api.check([root], use_cache=False)
    assert [d.span.start.line for d in after.diagnostics] != [d.span.start.line for d in before.diagnostics]
    assert watch.compare(before.diagnostics, after.diagnostics, before.texts, after.texts) == ([], [])


def test_compare_names_new_and_gone_findings(make_project) -> None:
    root = make_project({"worker.py": CAPTURED, "helper.py": "x = 1\n"})
    before = api.check([root], use_cache=False)
    (root / "worker.py").write_text(IMPORTED_INSIDE, encoding="utf-8")
    (root / "helper.py").write_text(UNUSED_SUPPRESSION, encoding="utf-8")
    after = api.check([root], use_cache=False)
    new, gone = watch.compare(before.diagnostics, after.diagnostics, before.texts, after.texts)
    assert [(d.span.path, d.code) for d in new] == [("helper.py", "FC901")]
    assert sorted(d.code for d in gone) == ["FC101", "FC402"]


# --- the command, driven round by round ------------------------------------------------------


def test_watch_prints_everything_first_then_only_what_changed(make_project, capsys, monkeypatch) -> None:
    root = make_project({"worker.py": CAPTURED, "helper.py": "x = 1\n"})
    monkeypatch.chdir(root)
    edits = [
        lambda: _write(root / "worker.py", IMPORTED_INSIDE),  # FC101 and FC402 go away
        lambda: None,  # nothing changes: no new round
        lambda: _write(root / "helper.py", UNUSED_SUPPRESSION),  # FC901 appears
    ]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        edits[len(slept) - 1]()

    cli._watch([root], api.CheckOptions(use_cache=False), cli.CheckFormat.text, unsafe_fixes=False, quiet=False, sleep=sleep, stop=lambda: len(slept) == len(edits))

    out, err = capsys.readouterr()
    first, second, third = out.split("Found ", 1)[0], *out.split("Found ", 1)[1].split("All checks passed.\n", 1)
    assert "worker.py:7:27: FC101 [error]" in first and "  |\n" in first  # the whole text format at first
    assert "fixed: worker.py:7:27: FC101 `np` is imported at module level" in second
    assert "fixed: worker.py:5:43: FC402 " in second
    assert "FC101 [error]" not in second
    assert third.startswith("helper.py:6:33: FC901 [*] [warning]")
    assert "fixed:" not in third
    assert out.endswith("Found 1 warning.\n[*] 1 fixable with `flashc check --fix`.\n")
    assert out.count("Found ") == 2  # round 1 and round 3; round 2 was clean
    assert err.splitlines() == [
        "[watch] watching for changes (Ctrl-C to stop)",
        "[watch] worker.py changed: checking again",
        "[watch] helper.py changed: checking again",
    ]


def test_watch_concise_and_quiet(make_project, capsys, monkeypatch) -> None:
    root = make_project({"worker.py": CAPTURED})
    monkeypatch.chdir(root)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        _write(root / "worker.py", IMPORTED_INSIDE)

    cli._watch([root], api.CheckOptions(use_cache=False), cli.CheckFormat.concise, unsafe_fixes=False, quiet=True, sleep=sleep, stop=lambda: len(slept) == 1)
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "worker.py:5:43: FC402 [warning] `numpy` is declared but the code of `summarize` never imports it",
        "worker.py:7:27: FC101 [error] `np` is imported at module level; only the body of `summarize` runs on the worker",
        "fixed: worker.py:5:43: FC402 `numpy` is declared but the code of `summarize` never imports it",
        "fixed: worker.py:7:27: FC101 `np` is imported at module level; only the body of `summarize` runs on the worker",
    ]


def test_watch_keeps_going_through_a_broken_configuration(make_project, capsys, monkeypatch) -> None:
    root = make_project({"worker.py": CAPTURED})
    monkeypatch.chdir(root)
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    edits = [
        lambda: _write(root / "pyproject.toml", pyproject + "[tool.flashc]\nselect = ['NOPE']\n"),
        lambda: _write(root / "pyproject.toml", pyproject + "[tool.flashc]\nignore = ['FC101']\n"),
    ]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        edits[len(slept) - 1]()

    cli._watch([root], api.CheckOptions(use_cache=False), cli.CheckFormat.concise, unsafe_fixes=False, quiet=False, sleep=sleep, stop=lambda: len(slept) == len(edits))
    out, err = capsys.readouterr()
    assert "flashc: error:" in err and "NOPE" in err
    assert out.splitlines()[-2:] == ["fixed: worker.py:7:27: FC101 `np` is imported at module level; only the body of `summarize` runs on the worker", "Found 1 warning."]


@pytest.mark.parametrize("extra", [["--fix"], ["--diff"], ["--statistics"], ["--format", "json"]])
def test_watch_refuses_options_it_cannot_honour(make_project, extra) -> None:
    root = make_project({"worker.py": CAPTURED})
    result = CliRunner().invoke(app, ["check", "--watch", str(root), *extra])
    assert result.exit_code == 2
    assert "--watch" in result.output


def test_watch_refuses_a_missing_path(tmp_path) -> None:
    result = CliRunner().invoke(app, ["check", "--watch", str(tmp_path / "missing.py")])
    assert result.exit_code == 2
    assert "no such file or directory" in result.output


# --- the real command in a process -----------------------------------------------------------


def test_watch_process_reports_an_edit_and_stops_on_ctrl_c(make_project) -> None:
    root = make_project({"worker.py": CAPTURED})
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "flashc", "check", "--watch", "--no-cache"],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Ctrl-C must reach it even when the test runner itself was started with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    seen: list[str] = []

    def wait_for(text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=0.2))
            except queue.Empty:
                if process.poll() is not None:
                    break
                continue
            if text in seen[-1]:
                return
        pytest.fail(f"{text!r} not seen; output so far:\n{''.join(seen)}")

    try:
        wait_for("watching for changes")
        assert any("worker.py:7:27: FC101" in line for line in seen)
        _write(root / "worker.py", IMPORTED_INSIDE)
        wait_for("fixed: worker.py:7:27: FC101")
        wait_for("All checks passed.")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
