"""``flashc check --watch``: poll the project's files, re-check on change, report the difference.

A shell concern kept small and free of clocks and printing: :func:`loop` is told how to take a
snapshot, how to sleep and when to stop, and :func:`compare` says which findings are new and
which disappeared. The CLI wires them to :mod:`flashc.api` and the renderers.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import load_config
from .diagnostics import Diagnostic, split_lines
from .discovery import find_nested_projects, find_project_root, iter_source_files
from .errors import FlashcError

INTERVAL = 0.5
"""Seconds between two polls."""

Stamp = tuple[int, int]
"""``(mtime_ns, size)`` of a file: a change of either is a change of the file."""


def snapshot(paths: Sequence[Path]) -> dict[str, Stamp]:
    """The stamp of every file a check of ``paths`` reads: Python sources and ``pyproject.toml``.

    Covers the project containing ``paths[0]`` and the projects nested in directory paths (the
    ones ``flashc check`` visits). A configuration flashc cannot read (a half-written
    ``pyproject.toml``) still yields the configuration file, so fixing it is noticed.
    """
    targets = [p.resolve() for p in paths] or [Path.cwd().resolve()]
    existing = next(p for p in (targets[0], *targets[0].parents) if p.exists())  # a watched file may be deleted
    root = find_project_root(existing)
    roots = [root, *(nested for t in targets if t.is_dir() for nested in find_nested_projects(t))]
    stamps: dict[str, Stamp] = {}
    for project in dict.fromkeys(roots):
        files = [project / "pyproject.toml", project / ".gitignore"]
        try:
            files.extend(iter_source_files(project, load_config(project)))
        except FlashcError:
            pass
        for file in files:
            try:
                stat = os.stat(file)
            except OSError:
                continue
            stamps[str(file)] = (stat.st_mtime_ns, stat.st_size)
    return stamps


def changed_files(before: Mapping[str, Stamp], after: Mapping[str, Stamp]) -> list[str]:
    """Files added, removed or modified between two snapshots, sorted."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


@dataclass(frozen=True, slots=True)
class Round:
    number: int
    """1 for the first check, then one more per re-check."""
    changed: tuple[str, ...]
    """The files whose change caused this round (none for the first)."""


def loop(
    run: Callable[[Round], None],
    take_snapshot: Callable[[], Mapping[str, Stamp]],
    *,
    interval: float = INTERVAL,
    sleep: Callable[[float], None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Run once, then again after every change seen by polling, until ``stop()``; returns the rounds run.

    The snapshot is taken before each run, so an edit made while a check runs triggers the next.
    """
    state = take_snapshot()
    number = 1
    run(Round(number, ()))
    while not stop():
        sleep(interval)
        current = take_snapshot()
        changed = changed_files(state, current)
        if changed:
            state = current
            number += 1
            run(Round(number, tuple(changed)))
    return number


def compare(
    before: Sequence[Diagnostic], after: Sequence[Diagnostic], texts_before: Mapping[str, str], texts_after: Mapping[str, str]
) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """``(new, gone)``: the findings of ``after`` that ``before`` lacked, and the other way round.

    A finding is identified by its file, code, severity, message, column and the text of its
    line, not by its line number, so one that only moved (lines added above it) is neither.
    """
    old = Counter(_identity(d, texts_before) for d in before)
    current = Counter(_identity(d, texts_after) for d in after)
    new = _exceeding(after, texts_after, old)
    gone = _exceeding(before, texts_before, current)
    return new, gone


def _exceeding(diagnostics: Sequence[Diagnostic], texts: Mapping[str, str], other: Counter) -> list[Diagnostic]:
    """Diagnostics beyond the count of their identity in ``other`` (the later ones of a kind)."""
    allowance = Counter(other)
    found = []
    for diagnostic in diagnostics:
        key = _identity(diagnostic, texts)
        if allowance[key] > 0:
            allowance[key] -= 1
        else:
            found.append(diagnostic)
    return found


def _identity(diagnostic: Diagnostic, texts: Mapping[str, str]) -> tuple:
    span = diagnostic.span
    return (span.path, diagnostic.code, diagnostic.severity, diagnostic.message, span.start.column, _line(texts, span.path, span.start.line))


def _line(texts: Mapping[str, str], path: str, line: int) -> str:
    text = texts.get(path)
    if text is None:
        return ""
    lines = split_lines(text)
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""
