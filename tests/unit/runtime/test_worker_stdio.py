"""The stdio worker's own parts: reading job lines on the event loop (or a thread, for a file),
and answering a job whose output cannot be sent."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from flashc_runtime.worker import stdio


def test_lines_are_cut_at_newlines_across_reads() -> None:
    seen: list[bytes | None] = []
    lines = stdio._Lines(seen.append)
    lines.data_received(b'{"id": 1}\n{"id"')
    lines.data_received(b": 2")
    lines.data_received(b'}\n\n{"id": 3}\n{"id": 4')
    assert seen == [b'{"id": 1}\n', b'{"id": 2}\n', b"\n", b'{"id": 3}\n']
    lines.eof_received()
    lines.connection_lost(None)
    assert seen[4:] == [b'{"id": 4', None]  # a last line without newline still counts, then the end


def test_a_long_line_in_many_reads_arrives_whole() -> None:
    seen: list[bytes | None] = []
    lines = stdio._Lines(seen.append)
    payload = json.dumps({"id": "big", "input": {"text": "x" * 300_000}}).encode() + b"\n"
    for start in range(0, len(payload), stdio.READ_SIZE):
        lines.data_received(payload[start : start + stdio.READ_SIZE])
    lines.connection_lost(None)
    assert seen == [payload, None]


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def write(self, data: bytes) -> None:
        self.sent.append(json.loads(data))


def test_an_output_that_cannot_be_sent_fails_the_job() -> None:
    async def lone_surrogate(job: dict[str, Any]) -> str:
        return "\ud800"  # JSON can escape it, UTF-8 cannot carry it

    async def a_set(job: dict[str, Any]) -> set[int]:
        return {1}

    async def fine(job: dict[str, Any]) -> dict[str, Any]:
        return {"echo": job["input"]}

    recorder = _Recorder()

    async def scenario() -> None:
        slots = asyncio.Semaphore(1)
        for job_id, handler in (("s", lone_surrogate), ("t", a_set), ("f", fine)):
            await stdio._run_job(handler, job_id, {"n": 1}, slots, recorder)  # type: ignore[arg-type]

    asyncio.run(scenario())
    surrogate, a_set_answer, ok = recorder.sent
    assert (surrogate["id"], surrogate["status"]) == ("s", "FAILED")
    assert surrogate["error"]["message"].startswith("the job's output is not JSON-serialisable")
    assert surrogate["error"]["type"] == "builtins.UnicodeEncodeError"
    assert (a_set_answer["status"], a_set_answer["error"]["type"]) == ("FAILED", "builtins.TypeError")
    assert ok == {"id": "f", "status": "COMPLETED", "output": {"echo": {"n": 1}}}


HANDLER = '''\
from flashc_runtime.worker.queue import QueueEndpoint


def echo(n: int) -> int:
    return n


endpoint = QueueEndpoint("echo", functions={"echo": echo})
handler = endpoint.handler
'''


def test_jobs_from_a_file_instead_of_a_pipe(tmp_path: Path) -> None:
    """Input that the event loop cannot watch (a regular file) is read by a thread instead."""
    (tmp_path / "_flashc_handler.py").write_text(HANDLER, encoding="utf-8")
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"id": f"j{n}", "input": {"n": n}}) + "\n" for n in range(3)), encoding="utf-8")
    runtime = Path(stdio.__file__).resolve().parents[2]
    with jobs.open("rb") as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "flashc_runtime.worker.stdio"],
            cwd=tmp_path, stdin=stdin, capture_output=True, timeout=30, check=False, env={"PYTHONPATH": str(runtime), "PATH": "/usr/bin:/bin"},
        )
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    assert messages[0]["ready"] is True
    assert sorted((m["id"], m["status"], m["output"]) for m in messages[1:]) == [("j0", "COMPLETED", 0), ("j1", "COMPLETED", 1), ("j2", "COMPLETED", 2)]
    assert result.stderr.decode().count("echo done in") == 3  # the glue's lines still reach stderr


