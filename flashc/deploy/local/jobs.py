"""Jobs of queue endpoints: their states, RunPod's JSON shapes, and how long finished ones are kept."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["FINAL", "Job", "JobStatus", "JobStore", "error_string"]


class JobStatus(str, Enum):
    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


FINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT})


def error_string(error_type: str, message: str, traceback: str = "", **extra: str) -> str:
    """A FAILED job's ``error``: a JSON string, as the runpod worker SDK's local server returns it."""
    return json.dumps({"error_type": error_type, "error_message": message, "error_traceback": traceback, **extra})


@dataclass(eq=False)
class Job:
    endpoint: str
    input: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: JobStatus = JobStatus.IN_QUEUE
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    worker_id: str | None = None
    output: Any = None
    error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    _waiters: list[asyncio.Future[None]] = field(default_factory=list, repr=False)

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def start(self, worker_id: str) -> None:
        self.status = JobStatus.IN_PROGRESS
        self.worker_id = worker_id
        self.started = time.monotonic()

    def finish(self, status: JobStatus, *, output: Any = None, error: str | None = None) -> bool:
        """Move to a final state; False (and nothing changes) when the job already is in one."""
        if self.final:
            return False
        self.status = status
        self.output = output
        self.error = error
        self.finished = time.monotonic()
        self.done.set()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        return True

    async def wait(self, timeout: float) -> None:
        """Until the job is in a final state, or ``timeout`` seconds passed (no error then).

        A bare future and a timer, not ``wait_for(done.wait())``: that wraps the wait in a
        task of its own, and its extra trips through the event loop were a measurable part
        of a ``runsync`` round trip.
        """
        if self.final:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(timeout, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def view(self) -> dict[str, Any]:
        """The job as RunPod's ``status``/``runsync`` return it."""
        body: dict[str, Any] = {"id": self.id, "status": self.status.value}
        if self.started is not None:
            body["delayTime"] = _ms(self.started - self.submitted)
        elif self.finished is not None:  # cancelled or failed while waiting
            body["delayTime"] = _ms(self.finished - self.submitted)
        if self.started is not None and self.finished is not None:
            body["executionTime"] = _ms(self.finished - self.started)
        if self.worker_id is not None:
            body["workerId"] = self.worker_id
        if self.status is JobStatus.COMPLETED:
            body["output"] = self.output
        if self.error is not None:
            body["error"] = self.error
        return body


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class JobStore:
    """Every job by id; finished ones are forgotten after ``keep_seconds`` or beyond ``keep_jobs``."""

    def __init__(self, keep_seconds: float = 600.0, keep_jobs: int = 1000) -> None:
        self.keep_seconds = keep_seconds
        self.keep_jobs = keep_jobs
        self._jobs: dict[str, Job] = {}
        self._finished: OrderedDict[str, float] = OrderedDict()

    def add(self, job: Job) -> None:
        self._jobs[job.id] = job
        self.prune()

    def get(self, job_id: str) -> Job | None:
        self.prune()
        return self._jobs.get(job_id)

    def finished(self, job: Job) -> None:
        """Called once a job reached a final state: from now on it may be forgotten."""
        self._finished[job.id] = job.finished if job.finished is not None else time.monotonic()
        self._finished.move_to_end(job.id)
        self.prune()

    def prune(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        while self._finished:
            job_id, at = next(iter(self._finished.items()))
            if len(self._finished) <= self.keep_jobs and now - at < self.keep_seconds:
                break
            del self._finished[job_id]
            self._jobs.pop(job_id, None)

    def counts(self, endpoint: str) -> dict[str, int]:
        counts = Counter(job.status.value for job in self._jobs.values() if job.endpoint == endpoint)
        return {status.value: counts.get(status.value, 0) for status in JobStatus}

    def __len__(self) -> int:
        return len(self._jobs)
