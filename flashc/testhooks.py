"""Test-only pause points: let a test stop ``flashc build``/``deploy``/``undeploy`` at a named
step and kill it there (see ``tests/robustness/test_faults.py``). Not a user feature.

``FLASHC_TEST_PAUSE_AT=<point>`` makes the command, on reaching ``<point>``, create the file
named by ``FLASHC_TEST_PAUSE_MARKER`` (if set) with its pid, then wait until that file is
removed (or :data:`MAX_PAUSE` seconds pass) before going on; each point pauses once per
process. Unset (always, outside the tests), :func:`pause_point` is one dictionary lookup.

The points, in the order a command reaches them:

* build: ``before-swap`` (the new output is complete beside ``.flash/``), ``mid-swap``
  (``.flash/`` renamed away, the new output not yet in place);
* deploy: ``after-env`` (endpoint packages and environments ready, nothing else changed),
  ``before-supervisor`` (spec written, supervisor neither started nor reloaded),
  ``after-supervisor`` (supervisor process started, not yet confirmed listening),
  ``before-state`` (supervisor running, state not yet saved);
* undeploy: ``after-stop`` (supervisor stopped, state and workspace not yet removed).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT = "FLASHC_TEST_PAUSE_AT"
PAUSE_MARKER = "FLASHC_TEST_PAUSE_MARKER"
MAX_PAUSE = 120.0

_paused: set[str] = set()


def pause_point(name: str) -> None:
    """Wait here if ``$FLASHC_TEST_PAUSE_AT`` names this point (tests only)."""
    if os.environ.get(PAUSE_AT) != name or name in _paused:
        return
    _paused.add(name)
    marker = os.environ.get(PAUSE_MARKER)
    deadline = time.monotonic() + MAX_PAUSE
    if not marker:
        time.sleep(MAX_PAUSE)
        return
    path = Path(marker)
    path.write_text(f"{os.getpid()} {name}\n", encoding="utf-8")
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
