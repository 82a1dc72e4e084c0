"""Run the benchmark cases and write BENCHMARKS.md.

    python -m bench.run                   # every case (about 10-15 min on 2 cores)
    python -m bench.run --quick           # small inputs, few runs: checks the harness works
    python -m bench.run --cases lsp,build # only these; the other cases keep their last results

Results are kept per case in ``bench/results.json`` (each with the date and load of its run),
and BENCHMARKS.md is written from all of them.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import report
from .cases import Context, build, check, lsp, runtime
from .measure import Spawner

REPO = Path(__file__).resolve().parents[1]
CASES: dict[str, Callable[[Context], tuple[str, list[report.Row]]]] = {
    "check": check.run_dense,
    "stdlib": check.run_stdlib,
    "lsp": lsp.run,
    "build": build.run,
    "runtime": runtime.run,
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from: {', '.join(CASES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="small inputs and 2 runs each: a smoke test, not a measurement")
    parser.add_argument("--runs", type=int, default=None, help="runs of each measured command (default 5; 2 with --quick)")
    parser.add_argument("--work", type=Path, default=REPO / ".bench", help="scratch directory (default: .bench/)")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    chosen = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CASES]
    if unknown or not chosen:
        parser.error(f"unknown case {', '.join(unknown) or '(none given)'}; choose from: {', '.join(CASES)}")
    args.cases = chosen
    if args.runs is None:
        args.runs = 2 if args.quick else 5
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, not {args.runs}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    context = Context(work=args.work.resolve(), runs=args.runs, quick=args.quick, progress=progress)
    all_rows: list[report.Row] = []
    Spawner.start()  # before this process grows: see Spawner
    try:
        for case in args.cases:
            all_rows += _run_case(case, context, args)
    finally:
        Spawner.stop()
    command = "python -m bench.run" + (" --quick" if args.quick else "")
    args.output.write_text(report.render(report.load(args.results), "scripts/bench" if not args.quick else command), encoding="utf-8")
    met, missed = report.verdicts(all_rows)
    progress(f"wrote {args.output} ({met} targets met, {missed} missed in this run)")
    return 0


def _run_case(case: str, context: Context, args: argparse.Namespace) -> list[report.Row]:
    context.progress(f"== {case}")
    about, rows = CASES[case](context)
    if args.quick:
        about = "**Quick run (smaller inputs, fewer runs): not a measurement.** " + about
    report.store(args.results, case, about, rows)
    for row in rows:
        print(report.render_row(row))
    return rows


if __name__ == "__main__":
    sys.exit(main())
