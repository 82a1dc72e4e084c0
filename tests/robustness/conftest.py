"""The robustness tests report how many inputs each strategy tried (see docs/robustness.md)."""

from __future__ import annotations

import fuzz_strategies


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    tried = fuzz_strategies.TRIED
    if tried:
        terminalreporter.write_sep("-", "flashc robustness: inputs tried per strategy")
        for strategy, count in sorted(tried.items()):
            terminalreporter.write_line(f"{strategy}: {count}")
