"""Measure the cost of ``import flashc`` in fresh interpreters (wall time and modules loaded)."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

HEAVY = ("libcst", "jinja2", "typer", "pydantic", "httpx", "pathspec")


def one_run() -> tuple[float, set[str]]:
    code = "import time; t = time.perf_counter(); import flashc; print(time.perf_counter() - t)"
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    modules = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    return float(result.stdout), modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    timings = []
    modules: set[str] = set()
    for _ in range(runs):
        seconds, modules = one_run()
        timings.append(seconds * 1000)
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    print(f"import flashc: median {statistics.median(timings):.1f} ms, "
          f"min {min(timings):.1f} ms, max {max(timings):.1f} ms over {runs} runs (with -X importtime)")
    print(f"modules loaded: {len(modules)}; heavy: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
