"""Run a command in a child process and measure it: wall seconds, CPU seconds, peak memory.

``os.wait4`` gives the resource usage of exactly that child (and the descendants it waited
for), so each run is measured on its own, cold where the case wants it cold. Output goes to
temporary files rather than pipes, so nothing but the child's own work is on the clock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO


class BenchError(Exception):
    """A benchmark could not run as designed (a command failed, a server did not answer)."""


@dataclass(frozen=True)
class Sample:
    wall: float
    """Seconds from start to exit."""
    cpu: float
    """User + system CPU seconds of the child and its waited-for descendants."""
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_once(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 900.0,
) -> Sample:
    """One run of ``command``, through the spawner when one is running (see :class:`Spawner`)."""
    if Spawner.current is not None:
        return Spawner.current.run(command, cwd=cwd, env=env, timeout=timeout)
    return _run_here(command, cwd=cwd, env=env, timeout=timeout)


class Spawner:
    """A small process that starts the measured commands.

    Linux counts the memory of the process a child was forked from in the child's peak RSS
    (``ru_maxrss`` survives ``exec``), so commands forked from the harness, which grows while it
    runs, would all report the harness's size. This process stays small: it is started first,
    and forks every measured command.
    """

    current: Spawner | None = None

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.measure", "--serve"],
            cwd=Path(__file__).resolve().parents[1], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def run(self, command: Sequence[str], *, cwd: Path | None, env: Mapping[str, str] | None, timeout: float) -> Sample:
        assert self.process.stdin is not None and self.process.stdout is not None
        request = {"command": list(command), "cwd": str(cwd) if cwd else None, "env": dict(env) if env is not None else None, "timeout": timeout}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise BenchError("the benchmark's spawner process died")
        return Sample(**json.loads(answer))

    @classmethod
    def start(cls) -> None:
        if cls.current is None:
            cls.current = cls()

    @classmethod
    def stop(cls) -> None:
        if cls.current is not None:
            assert cls.current.process.stdin is not None
            cls.current.process.stdin.close()
            cls.current.process.wait(30)
            cls.current = None


def _serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        cwd = Path(request["cwd"]) if request["cwd"] else None
        sample = _run_here(request["command"], cwd=cwd, env=request["env"], timeout=request["timeout"])
        sys.stdout.write(json.dumps(asdict(sample)) + "\n")
        sys.stdout.flush()


def _run_here(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 900.0,
) -> Sample:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), cwd=cwd, env=dict(env) if env is not None else None, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout, _kill, (process.pid,))
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        return Sample(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
            returncode=process.returncode,
            stdout=_tail(out),
            stderr=_tail(err),
        )


OUTPUT_KEPT = 64 * 1024
"""Bytes of a command's output kept (its end): enough for an error message. Reading all of it
(ruff prints megabytes on the standard library) would grow this process, and a process forked
from a large one reports that size as its own peak (Linux keeps the high-water mark over exec)."""


def _tail(stream: IO[bytes]) -> str:
    size = stream.seek(0, os.SEEK_END)
    stream.seek(max(0, size - OUTPUT_KEPT))
    return stream.read().decode(errors="replace")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def repeat(
    command: Sequence[str],
    runs: int,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    before: Callable[[], None] | None = None,
    ok: Callable[[Sample], bool] = lambda sample: sample.returncode == 0,
    timeout: float = 900.0,
) -> list[Sample]:
    """``runs`` runs of ``command``, ``before()`` ahead of each (off the clock); a run that is
    not ``ok`` stops the series with its output, since a failed run measures nothing."""
    samples = []
    for _ in range(runs):
        if before is not None:
            before()
        sample = run_once(command, cwd=cwd, env=env, timeout=timeout)
        if not ok(sample):
            raise BenchError(
                f"`{' '.join(command)}` exited with {sample.returncode}: {(sample.stderr or sample.stdout).strip()[-800:]}"
            )
        samples.append(sample)
    return samples


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    _serve()
