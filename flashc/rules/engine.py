"""Running the rules over an analysed project: the one rule engine behind check and build."""

from __future__ import annotations

import os
import pickle
import sys

from ..analysis import Analysis
from ..diagnostics import Diagnostic
from .context import RuleContext
from .registry import FAMILIES

PARALLEL_THRESHOLD = 64
"""Endpoint functions from which a second process pays for itself (a fork costs a few ms)."""


def run_rules(analysis: Analysis, jobs: int = 1) -> list[Diagnostic]:
    """Every finding of every rule, unfiltered: the front end's and each family's.

    Selection, severity overrides and suppressions are applied afterwards (they
    are cheap, and this raw list is what the cache keeps). With ``jobs > 1`` on
    Linux, a large project's rules run in forked processes, each reporting for a
    disjoint part of it: a fork shares the parsed project without copying or
    pickling it, which is what makes this worth doing at all (unpickling a syntax
    tree is slower than parsing it again).
    """
    model = analysis.model
    found = list(model.diagnostics)
    found.extend(d for endpoint in model.endpoints for d in endpoint.problems)
    functions = sum(len(e.functions) for e in model.endpoints)
    if jobs > 1 and sys.platform == "linux" and functions >= PARALLEL_THRESHOLD:
        found.extend(_in_processes(analysis, jobs))
    else:
        found.extend(_shard(analysis, (0, 1)))
    return sorted(set(found), key=Diagnostic.sort_key)


def _shard(analysis: Analysis, shard: tuple[int, int]) -> list[Diagnostic]:
    context = RuleContext(analysis, shard)
    return [diagnostic for family in FAMILIES for diagnostic in family.check(context)]


def _in_processes(analysis: Analysis, jobs: int) -> list[Diagnostic]:
    """Shard 0 here, the others in forked children; a child that fails is redone here."""
    children: list[tuple[int, int, int]] = []
    for index in range(1, jobs):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
            os.close(read_end)
            status = 0
            try:
                with os.fdopen(write_end, "wb") as pipe:
                    pickle.dump(_shard(analysis, (index, jobs)), pipe, protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:
                status = 1
            os._exit(status)
        os.close(write_end)
        children.append((index, pid, read_end))
    found = _shard(analysis, (0, jobs))
    for index, pid, read_end in children:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        try:
            shard = pickle.loads(data) if status == 0 else None
        except (pickle.UnpicklingError, EOFError):
            shard = None
        found.extend(shard if shard is not None else _shard(analysis, (index, jobs)))
    return found
