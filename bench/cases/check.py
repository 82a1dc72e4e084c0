"""Cases 1 and 2: ``flashc check`` cold (no cache) and warm (cache, nothing changed), on the
endpoint-dense synthetic project and on a copy of the running Python's standard library, with
ruff's default rules on the same standard library as the speed reference."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

from .. import corpus
from ..measure import BenchError, Sample, repeat
from ..report import Row, failed, missing
from . import FLASHC, Context, ratio, row_from, tool

FULL = {"modules": 1000, "lines": 100_000, "endpoint_share": 0.5, "seed": 7}
QUICK = {"modules": 100, "lines": 10_000, "endpoint_share": 0.5, "seed": 7}


def dense_corpus(context: Context) -> tuple[Path, corpus.CorpusInfo]:
    shape = QUICK if context.quick else FULL
    root = context.work / f"corpus-{shape['modules']}"
    info = corpus.generate(root, **shape)
    return root, info


def stdlib_copy(context: Context) -> tuple[Path, int]:
    """The ``.py`` files of this Python's standard library (no site-packages), copied so that
    caches are written beside the copy and both tools see exactly the same tree."""
    source = Path(sysconfig.get_paths()["stdlib"])
    target = context.work / "stdlib"
    if not (target / "pyproject.toml").exists():
        if target.exists():
            shutil.rmtree(target)
        for path in source.rglob("*.py"):
            relative = path.relative_to(source)
            if relative.parts[0] in ("site-packages", "dist-packages") or "__pycache__" in relative.parts:
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
        (target / "pyproject.toml").write_text('[project]\nname = "stdlib-copy"\nversion = "0"\n', encoding="utf-8")
    files = sum(1 for _ in target.rglob("*.py"))
    return target, files


def _check_rows(context: Context, case: str, root: Path, label: str, findings_ok: bool) -> tuple[Row, Row]:
    cache = context.work / f"cache-{root.name}"
    command = [*FLASHC, "check", str(root), "--cache-dir", str(cache), "--quiet"]
    accepted = (0, 1) if findings_ok else (0,)

    def clear() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    def ok(sample: Sample) -> bool:
        return sample.returncode in accepted

    context.progress(f"{case}: flashc check {label} cold x{context.runs}")
    cold = repeat(command, context.runs, before=clear, ok=ok)
    context.progress(f"{case}: flashc check {label} warm x{context.runs}")
    warm = repeat(command, context.runs, ok=ok)
    return row_from(case, f"flashc check, cold ({label})", cold), row_from(case, f"flashc check, warm ({label})", warm)


def run_dense(context: Context) -> tuple[str, list[Row]]:
    root, info = dense_corpus(context)
    about = (
        f"`python -m bench.corpus` with {info.modules} modules, {info.lines:,} lines, {len(info.endpoints)} endpoints "
        f"({', '.join(f'{n} {k}' for k, n in sorted(info.kinds.items()))}); the project checks clean. "
        "Cold: the cache directory is removed before each run; warm: it holds the previous run's results."
    )
    cold, warm = _check_rows(context, "check", root, "synthetic", findings_ok=False)
    cold.target, cold.met = "< 10 s", cold.median is not None and cold.median < 10
    warm.target, warm.met = "< 0.5 s", warm.median is not None and warm.median < 0.5
    return about, [cold, warm]


def run_stdlib(context: Context) -> tuple[str, list[Row]]:
    root, files = stdlib_copy(context)
    about = (
        f"A copy of `{sysconfig.get_paths()['stdlib']}` without site-packages: {files:,} files. "
        "ruff: `ruff check --isolated --no-cache --exit-zero` (its default rules, every thread it wants)."
    )
    rows: list[Row] = []
    try:
        cold, warm = _check_rows(context, "stdlib", root, "stdlib", findings_ok=True)
    except BenchError as error:
        return about, [failed("stdlib", "flashc check (stdlib)", str(error))]
    rows += [cold, warm]
    ruff = tool("ruff")
    if ruff is None:
        rows.append(missing("stdlib", "ruff check (peer)", "ruff is not installed (scripts/bench installs it with the `bench` extra)"))
        cold.target, cold.met = "≤ 2x ruff", None
        return about, rows
    context.progress(f"stdlib: ruff x{context.runs}")
    try:
        samples = repeat([ruff, "check", "--isolated", "--no-cache", "--exit-zero", "--quiet", str(root)], context.runs)
    except BenchError as error:
        rows.append(failed("stdlib", "ruff check (peer)", str(error)))
        return about, rows
    peer = row_from("stdlib", "ruff check, default rules (peer)", samples)
    rows.append(peer)
    cold.target = "≤ 2x ruff"
    cold.peer = ratio(cold, peer, "ruff")
    warm.peer = ratio(warm, peer, "ruff")
    if cold.median is not None and peer.median is not None:
        cold.met = cold.median <= 2 * peer.median
    return about, rows
