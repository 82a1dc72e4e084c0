"""Results of a run: rows of measurements, their JSON form and the BENCHMARKS.md tables."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .stats import summarize

CASE_TITLES = {
    "check": "1. `flashc check`, endpoint-dense synthetic project",
    "stdlib": "2. `flashc check` on a tree without endpoints (the standard library)",
    "lsp": "3. Editor path: one-file re-check through `flashc lsp`",
    "build": "4. `flashc build --no-deps` of each example",
    "runtime": "5. Local target: round trips and throughput",
}


@dataclass
class Row:
    """One measured line of a table: a series of values (``unit``) and what they cost."""

    case: str
    name: str
    unit: str = "s"
    values: list[float] = field(default_factory=list)
    cpu: float | None = None
    """Median CPU seconds of one run (child processes included)."""
    wall: float | None = None
    """Median wall seconds of one run."""
    rss_mb: float | None = None
    """Largest peak RSS over the runs, MiB."""
    target: str = ""
    met: bool | None = None
    peer: str = ""
    """The ratio to the peer of the same run, e.g. ``1.4x ruff``."""
    status: str = "ok"
    """ok, missing (a peer that is not installed) or failed (with the reason in ``note``)."""
    note: str = ""

    @property
    def median(self) -> float | None:
        return summarize(self.values).median if self.values else None


def missing(case: str, name: str, why: str) -> Row:
    return Row(case, name, status="missing", note=why)


def failed(case: str, name: str, why: str) -> Row:
    return Row(case, name, status="failed", note=why)


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "/s":
        return f"{value:.0f} /s"
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def render_row(row: Row) -> str:
    if row.status != "ok" or not row.values:
        verdict = "missed" if row.target and row.status == "failed" else ""
        return f"| {row.name} | {row.status.upper()} | – | – | – | – | {row.target} | {verdict} | {row.peer} | {row.note} |"
    stats = summarize(row.values)
    spread = f"{_number(stats.minimum, row.unit)} – {_number(stats.maximum, row.unit)}"
    if row.unit == "ms" and stats.n >= 20:
        spread += f" (p99 {_number(stats.p99, row.unit)})"
    verdict = {True: "met", False: "**missed**", None: ""}[row.met]
    rss = f"{row.rss_mb:.0f} MiB" if row.rss_mb is not None else "–"
    cpu = f"{row.cpu:.3f}" if row.cpu is not None else "–"
    wall = f"{row.wall:.3f}" if row.wall is not None else "–"
    return (
        f"| {row.name} | {_number(stats.median, row.unit)} | {spread} (n={stats.n}) | {cpu} | {wall} | {rss} "
        f"| {row.target} | {verdict} | {row.peer} | {row.note} |"
    )


HEADER = (
    "| what | median | spread (min – max) | CPU s | wall s | peak RSS | target | met? | peer ratio | notes |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def environment() -> dict[str, str]:
    import os

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "load": load,
    }


def render(results: dict, command: str) -> str:
    """BENCHMARKS.md from the stored results (one entry per case, each from its own run)."""
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` (see [bench/README.md](bench/README.md)). Numbers are from one shared,",
        "noisy 2-core machine: compare the ratios within one run rather than absolute numbers across runs.",
        "CPU s and wall s are medians per run; CPU includes every child process (ruff uses several threads).",
        "",
    ]
    for case, title in CASE_TITLES.items():
        entry = results.get(case)
        if entry is None:
            continue
        env = entry.get("environment", {})
        lines += [f"## {title}", "", f"_Run {env.get('date', '?')}, Python {env.get('python', '?')}, {env.get('machine', '?')}, load average {env.get('load', '?')}._", ""]
        if entry.get("about"):
            lines += [entry["about"], ""]
        lines.append(HEADER)
        lines += [render_row(Row(**row)) for row in entry["rows"]]
        lines.append("")
    return "\n".join(lines)


def store(path: Path, case: str, about: str, rows: Sequence[Row]) -> None:
    results = load(path)
    results[case] = {"environment": environment(), "about": about, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def verdicts(rows: Iterable[Row]) -> tuple[int, int]:
    """(targets met, targets missed)."""
    met = sum(1 for r in rows if r.met is True)
    missed = sum(1 for r in rows if r.met is False or (r.target and r.status == "failed"))
    return met, missed
