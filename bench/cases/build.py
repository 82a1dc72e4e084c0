"""Case 4: ``flashc build --no-deps`` of each example, cold (no ``.flash/``, no check cache)
and warm (the previous build and cache in place), beside runpod-flash's ``flash build
--no-deps`` on the same example.

runpod-flash imports the user's modules to find endpoints, so its copy of each example reads
``from runpod_flash import ...`` where ours reads ``from flashc import ...`` (the same names);
everything else is the same files. Where ``flash build`` fails, the row says why.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from ..measure import BenchError, repeat, run_once
from ..report import Row, failed, missing
from . import FLASHC, Context, ratio, row_from, tool

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IGNORED = shutil.ignore_patterns(".flash", ".flashc_cache", "__pycache__", ".build")


def examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if (p / "pyproject.toml").is_file())


def _fresh_copy(source: Path, target: Path, *, for_runpod_flash: bool = False) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=IGNORED)
    if for_runpod_flash:
        for path in target.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            path.write_text(re.sub(r"^from flashc import", "from runpod_flash import", text, flags=re.M), encoding="utf-8")


def run(context: Context) -> tuple[str, list[Row]]:
    about = (
        "Cold: no `.flash/` and no check cache before each run; warm: the previous build and cache in place. "
        "Peer: runpod-flash's `flash build --no-deps` (cold: its `.flash/` removed) on a copy whose imports name "
        "`runpod_flash`. Targets: under 1 s warm, and at least 5x faster than `flash build`."
    )
    rows: list[Row] = []
    flash = tool("flash")
    chosen = examples()[:2] if context.quick else examples()
    for example in chosen:
        name = example.name
        ours = context.work / "build" / name
        _fresh_copy(example, ours)
        cache = context.work / "build-cache" / name
        command = [*FLASHC, "build", str(ours), "--no-deps", "--quiet"]

        def clean(ours: Path = ours, cache: Path = cache) -> None:
            shutil.rmtree(ours / ".flash", ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)

        env = {**_environ(), "FLASHC_CACHE_DIR": str(cache)}
        context.progress(f"build: {name} cold/warm x{context.runs}")
        try:
            cold = row_from("build", f"{name}: flashc build, cold", repeat(command, context.runs, before=clean, env=env))
            warm = row_from("build", f"{name}: flashc build, warm", repeat(command, context.runs, env=env))
        except BenchError as error:
            rows.append(failed("build", f"{name}: flashc build", str(error)))
            continue
        warm.target, warm.met = "< 1 s", warm.median is not None and warm.median < 1
        rows += [cold, warm]
        if flash is None:
            rows.append(missing("build", f"{name}: flash build (peer)", "runpod-flash is not installed (the `bench` extra installs it)"))
            continue
        theirs = context.work / "flash-build" / name
        _fresh_copy(example, theirs, for_runpod_flash=True)

        def clean_theirs(theirs: Path = theirs) -> None:
            shutil.rmtree(theirs / ".flash", ignore_errors=True)

        context.progress(f"build: {name} flash build x{context.runs}")
        warm.target = "< 1 s; ≥ 5x faster than flash build"
        probe = run_once([flash, "build", "--no-deps"], cwd=theirs, env=_environ())
        label, note = f"{name}: flash build (peer)", ""
        if probe.returncode != 0 and (theirs / "main.py").exists():
            # flash imports every module, so the client script (which imports the endpoints)
            # declares them a second time; try once more without it, and say so.
            rows.append(failed("build", label, _reason(probe.stdout + probe.stderr)))
            (theirs / "main.py").unlink()
            clean_theirs()
            probe = run_once([flash, "build", "--no-deps"], cwd=theirs, env=_environ())
            label, note = f"{name}: flash build without main.py (peer)", "the client script main.py removed from its copy"
        if probe.returncode != 0:
            rows.append(failed("build", label, _reason(probe.stdout + probe.stderr)))
            warm.met = False if warm.met is False else None
            continue
        try:
            peer = row_from("build", label, repeat([flash, "build", "--no-deps"], context.runs, cwd=theirs, before=clean_theirs, env=_environ()), note=note)
        except BenchError as error:
            rows.append(failed("build", f"{name}: flash build (peer)", _reason(str(error))))
            continue
        rows.append(peer)
        for mine in (cold, warm):
            mine.peer = ratio(mine, peer, "flash build")
        if warm.median is not None and peer.median is not None:
            fast_enough = peer.median / warm.median >= 5
            warm.met = bool(warm.met and fast_enough)
    return about, rows


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "FLASHC_ENDPOINT_URL_"))}


def _reason(output: str) -> str:
    """The line of ``flash build``'s output that says why it failed, without its box drawing."""
    text = " ".join(line.strip() for line in output.splitlines() if line.strip() and "Deprecation notice" not in line)
    for marker in ("✗", "Error", "error", "Failed"):
        at = text.find(marker)
        if at >= 0:
            return text[at:at + 200].replace("|", "/")
    return text[-200:].replace("|", "/")
