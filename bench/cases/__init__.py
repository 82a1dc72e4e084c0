"""The benchmark cases; each module has ``run(context) -> (about, rows)``."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..measure import Sample
from ..report import Row

FLASHC = [sys.executable, "-m", "flashc"]


@dataclass(frozen=True)
class Context:
    work: Path
    """Scratch directory for corpora, copies and caches (kept between runs: corpora are reused)."""
    runs: int
    """Repetitions of each measured command."""
    quick: bool
    """Smaller inputs and fewer runs: a smoke test of the harness, not a measurement."""
    progress: object = print


def tool(name: str) -> str | None:
    """A console script of this environment, else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def row_from(case: str, name: str, samples: list[Sample], **extra: object) -> Row:
    """A row whose values are the wall seconds of ``samples``."""
    walls = [s.wall for s in samples]
    cpus = sorted(s.cpu for s in samples)
    return Row(
        case,
        name,
        values=walls,
        cpu=cpus[len(cpus) // 2],
        wall=sorted(walls)[len(walls) // 2],
        rss_mb=max(s.peak_rss_mb for s in samples),
        **extra,  # type: ignore[arg-type]
    )


def ratio(mine: Row, peer: Row, label: str) -> str:
    if mine.median is None or peer.median is None or peer.median == 0:
        return ""
    return f"{mine.median / peer.median:.2f}x {label}"
