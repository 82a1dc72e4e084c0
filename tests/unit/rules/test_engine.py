"""The engine: the same findings whether the rules run in one process or several."""

from __future__ import annotations

import sys

import pytest

from flashc import api
from flashc.rules import engine

MODULE = """\
import json
from runpod_flash import LiveServerless, remote
from shared import helper

cfg = LiveServerless(name="w{index}")
LIMIT = {index}

{functions}
"""

FUNCTION = """\
@remote(resource_config=cfg, dependencies=["numpy", "unused{index}"])
async def ep_{index}_{number}(data):
    import numpy
    return json.dumps(helper(data)) + str(LIMIT) + undefined_{number}
"""


@pytest.fixture
def big_project(make_project):
    files = {"shared.py": "def helper(x):\n    return x\n"}
    for index in range(12):
        functions = "\n\n".join(FUNCTION.format(index=index, number=n) for n in range(6))
        files[f"mod{index}.py"] = MODULE.format(index=index, functions=functions)
    return make_project(files)


@pytest.mark.skipif(sys.platform != "linux", reason="rules run in forked processes on Linux only")
def test_parallel_rules_find_exactly_what_one_process_finds(big_project, monkeypatch) -> None:
    forks: list[int] = []
    real_fork = engine.os.fork

    def counting_fork() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(engine.os, "fork", counting_fork)
    serial = api.check([big_project], api.CheckOptions(jobs=1, use_cache=False))
    parallel = api.check([big_project], api.CheckOptions(jobs=2, use_cache=False))
    assert forks == [1]
    assert parallel.diagnostics == serial.diagnostics
    assert {d.code for d in serial.diagnostics} == {"FC101", "FC103", "FC107", "FC402"}
    assert len(serial.diagnostics) == 12 * 6 * 4 + 12


def test_a_failing_child_is_redone_in_the_parent(big_project, monkeypatch) -> None:
    serial = api.check([big_project], api.CheckOptions(jobs=1, use_cache=False))
    original = engine._shard

    def failing_in_children(analysis, shard):
        if engine.os.getpid() != parent:
            raise RuntimeError("child failure")
        return original(analysis, shard)

    parent = engine.os.getpid()
    monkeypatch.setattr(engine, "_shard", failing_in_children)
    parallel = api.check([big_project], api.CheckOptions(jobs=2, use_cache=False))
    assert parallel.diagnostics == serial.diagnostics
