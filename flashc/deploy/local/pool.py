"""Worker processes of one endpoint: how many to run, which one gets a job, what happens when one dies.

A :class:`Pool` owns an endpoint's workers and (for queue endpoints) its queue of waiting
jobs. Its scaling is a pure function, :func:`decide`, of the workers' states and loads:

- ``workers_min`` workers are kept running (warm), even without work;
- more are started, up to ``workers_max``, while the work in hand (running plus waiting
  jobs, or requests in flight) exceeds what the running and starting workers take at
  ``max_concurrency`` each;
- a worker idle for ``idle_timeout`` seconds is stopped, never below ``workers_min``.

Workers come from a factory, so the pool's decisions can be tested without processes.
The real ones are :class:`QueueWorker` (``python -m flashc_runtime.worker.stdio``, JSON
lines over its stdin/stdout) and :class:`HttpWorker` (uvicorn serving the handler's ASGI
app on a loopback port).

A job is given to one worker once: when its worker dies, the job fails and is not retried.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx

from .jobs import Job, JobStatus, JobStore, error_string
from .spec import EndpointSpec

__all__ = [
    "Decision",
    "HttpWorker",
    "Pool",
    "ProcessWorkers",
    "QueueWorker",
    "Unavailable",
    "Worker",
    "WorkerStartError",
    "WorkerState",
    "WorkerView",
    "decide",
    "describe_exit",
]

PROTOCOL_LIMIT = 256 * 1024 * 1024
"""The longest protocol line (one job's answer) a queue worker may send."""
STOP_GRACE = 5.0
"""Seconds a worker has to exit after it was asked to, before it is killed."""
RESTART_BACKOFF = (1.0, 30.0)
"""After a worker failed to start, warm workers are retried after 1 s, doubling up to 30 s."""


class WorkerState(str, Enum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    """Finishes what it runs, takes nothing new, then stops (its endpoint's code changed)."""
    STOPPING = "stopping"
    EXITED = "exited"


class WorkerStartError(RuntimeError):
    """A worker could not start: its process exited, reported an import error, or timed out."""

    def __init__(self, message: str, error_type: str = "WorkerStartError", traceback: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type
        self.traceback = traceback


class Unavailable(RuntimeError):
    """No worker of a load-balanced endpoint could take a request."""


def describe_exit(returncode: int | None) -> str:
    """``exit code 1`` or ``signal 9 (SIGKILL)``."""
    if returncode is None:
        return "an unknown status"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
        return f"signal {-returncode} ({name})"
    return f"exit code {returncode}"


# --- scaling decisions (pure) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerView:
    id: str
    state: WorkerState
    load: int
    idle_for: float


@dataclass(frozen=True, slots=True)
class Decision:
    start: int = 0
    stop: tuple[str, ...] = ()


def decide(
    workers: Sequence[WorkerView],
    *,
    workers_min: int,
    workers_max: int,
    max_concurrency: int,
    idle_timeout: float,
    waiting: int,
    backoff: bool = False,
) -> Decision:
    """How many workers to start and which idle ones to stop.

    ``waiting`` is the work no worker has taken yet (queued jobs, or requests waiting for a
    ready worker). Draining and stopping workers count for nothing. While ``backoff`` is set
    (a worker just failed to start) only work in hand starts workers, not ``workers_min``.
    """
    active = [w for w in workers if w.state in (WorkerState.STARTING, WorkerState.READY)]
    demand = waiting + sum(w.load for w in active)
    wanted = math.ceil(demand / max(1, max_concurrency))
    target = max(workers_min, min(workers_max, wanted))
    start = max(0, target - len(active))
    if backoff:
        start = min(start, max(0, min(workers_max, wanted) - len(active)))
    stop: list[str] = []
    surplus = len(active) - target
    if surplus > 0 and waiting == 0:
        idle = sorted(
            (w for w in active if w.state is WorkerState.READY and w.load == 0 and w.idle_for >= idle_timeout),
            key=lambda w: -w.idle_for,
        )
        stop = [w.id for w in idle[:surplus]]
    return Decision(start, tuple(stop))


# --- workers -------------------------------------------------------------------------------------


class Worker:
    """One worker of a pool. Subclasses run a process; tests use fakes with the same surface.

    A worker tells its pool about itself through ``pool.on_result(worker, message)`` (a
    queue job's answer) and ``pool.on_exit(worker, returncode)`` (always, exactly once, after
    its last answer).
    """

    def __init__(self, worker_id: str, spec: EndpointSpec, pool: Pool) -> None:
        self.id = worker_id
        self.spec = spec
        self.pool = pool
        self.state = WorkerState.STARTING
        self.pid: int | None = None
        self.capacity = spec.max_concurrency
        self.jobs: dict[str, Job] = {}
        """Queue jobs it runs (a cancelled job stays until the worker answers it)."""
        self.inflight = 0
        """Requests it serves (load-balanced)."""
        self.last_active = time.monotonic()
        self.stop_requested = False
        """The pool asked it to stop (idle, drained, timed out, shut down): not a start failure."""
        self.stop_reason: str | None = None
        """Why the supervisor stopped it: what its running jobs fail with."""
        self.returncode: int | None = None
        self.base_url: str | None = None

    @property
    def digest(self) -> str:
        return self.spec.digest

    @property
    def load(self) -> int:
        return len(self.jobs) + self.inflight

    async def start(self) -> None:
        """Start the worker and return once it is ready; raise WorkerStartError if it cannot."""
        raise NotImplementedError

    def send(self, job: Job) -> None:
        """Give it a queue job (already counted in ``jobs``)."""
        raise NotImplementedError

    def cancel(self, job_id: str) -> None:
        raise NotImplementedError

    async def stop(self, *, graceful: bool = True, grace: float = STOP_GRACE) -> None:
        """Ask it to exit (finishing its jobs when ``graceful``), kill it after ``grace`` seconds."""
        raise NotImplementedError

    def kill(self) -> None:
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"id": self.id, "pid": self.pid, "state": self.state.value, "load": self.load, "digest": self.digest}
        if self.base_url is not None:
            summary["url"] = self.base_url
        return summary


WorkerFactory = Callable[[str, EndpointSpec, "Pool"], Worker]


class Pool:
    """The workers (and, for a queue endpoint, the waiting jobs) of one endpoint."""

    def __init__(
        self,
        spec: EndpointSpec,
        factory: WorkerFactory,
        *,
        store: JobStore | None = None,
        log: Callable[[str, str], None] | None = None,
        next_id: Callable[[], str] | None = None,
    ) -> None:
        self.spec = spec
        self.factory = factory
        self.store = store if store is not None else JobStore()
        self.workers: dict[str, Worker] = {}
        self.queue: collections.deque[Job] = collections.deque()
        self.completed = 0
        self.failed = 0
        self.closed = False
        self._log = log or (lambda worker_id, text: None)
        self._ids = next_id or _counter()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._waiters: list[asyncio.Future[str | None]] = []
        self._waiting_requests = 0
        self._wake_scheduled = False
        self._backoff_until = 0.0
        self._backoff = RESTART_BACKOFF[0]
        self._tasks: set[asyncio.Task[Any]] = set()
        self.reconcile()  # workers_min start as soon as the loop runs

    @property
    def name(self) -> str:
        return self.spec.name

    # -- queue jobs ---------------------------------------------------------------------------

    def submit(self, job_input: dict[str, Any]) -> Job:
        if self.closed:
            raise Unavailable(f"endpoint {self.name!r} is stopping")
        job = Job(self.name, job_input)
        self.store.add(job)
        self.queue.append(job)
        if self.queue[0] is job:  # nothing waits before it: a free worker takes it now, not a loop pass later
            self._dispatch()
        if self.queue:  # taken at once, it needs no scaling pass (idle timeouts are the supervisor's tick's)
            self.reconcile()
        return job

    def cancel(self, job: Job) -> Job:
        if job.final:
            return job
        if job.status is JobStatus.IN_QUEUE:
            with contextlib.suppress(ValueError):
                self.queue.remove(job)
            self._finish(job, JobStatus.CANCELLED)
        else:
            self._finish(job, JobStatus.CANCELLED)
            worker = self.workers.get(job.worker_id or "")
            if worker is not None and job.id in worker.jobs:
                worker.cancel(job.id)  # its slot is free once the worker answers
        return job

    def purge(self) -> int:
        """Cancel every job still waiting; how many there were."""
        removed = list(self.queue)
        self.queue.clear()
        for job in removed:
            self._finish(job, JobStatus.CANCELLED)
        return len(removed)

    def on_result(self, worker: Worker, message: Mapping[str, Any]) -> None:
        """A queue worker answered a job (COMPLETED, FAILED or CANCELLED)."""
        job = worker.jobs.pop(str(message.get("id")), None)
        if job is None:
            self._log(worker.id, f"flashc: ignored an answer for unknown job {message.get('id')!r}")
            return
        self._drop_timer(job)
        worker.last_active = time.monotonic()
        status = message.get("status")
        if status == JobStatus.COMPLETED.value:
            self._finish(job, JobStatus.COMPLETED, output=message.get("output"))
        elif status == JobStatus.CANCELLED.value:
            self._finish(job, JobStatus.CANCELLED)
        else:
            error = message.get("error")
            error = error if isinstance(error, dict) else {"message": str(error)}
            self._finish(
                job,
                JobStatus.FAILED,
                error=error_string(
                    str(error.get("type") or "Exception"),
                    str(error.get("message") or ""),
                    str(error.get("traceback") or ""),
                    worker_id=worker.id,
                ),
            )
        if self.queue or worker.state is not WorkerState.READY:  # work to hand out, or a draining worker to stop
            self.reconcile()

    # -- load-balanced requests ----------------------------------------------------------------

    async def acquire(self, timeout: float) -> Worker:
        """A ready worker for one request (the least loaded), waiting up to ``timeout`` for one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._waiting_requests += 1
        try:
            while True:
                if self.closed:
                    raise Unavailable(f"endpoint {self.name!r} is stopping")
                worker = self._least_loaded()
                if worker is not None:
                    worker.inflight += 1
                    worker.last_active = time.monotonic()
                    return worker
                self.reconcile()
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise Unavailable(f"no worker of endpoint {self.name!r} became ready within {timeout:g} s")
                waiter: asyncio.Future[str | None] = loop.create_future()
                self._waiters.append(waiter)
                try:
                    failure = await asyncio.wait_for(waiter, remaining)
                except asyncio.TimeoutError:
                    raise Unavailable(f"no worker of endpoint {self.name!r} became ready within {timeout:g} s") from None
                finally:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
                if failure is not None:
                    raise Unavailable(failure)
        finally:
            self._waiting_requests -= 1
            self.reconcile()

    def release(self, worker: Worker) -> None:
        worker.inflight = max(0, worker.inflight - 1)
        worker.last_active = time.monotonic()
        self.reconcile()

    def _notify(self, failure: str | None = None) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(failure)

    # -- workers --------------------------------------------------------------------------------

    def on_exit(self, worker: Worker, returncode: int | None) -> None:
        """A worker's process ended: its jobs fail, and it is replaced when needed."""
        was = worker.state
        worker.state = WorkerState.EXITED
        worker.returncode = returncode
        self.workers.pop(worker.id, None)
        how = describe_exit(returncode)
        if was is not WorkerState.STARTING:
            self._log(worker.id, f"flashc: worker exited with {how}")
        reason = worker.stop_reason or f"worker exited with {how} while running the job"
        for job in list(worker.jobs.values()):
            self._drop_timer(job)
            self._finish(
                job,
                JobStatus.FAILED,
                error=error_string("WorkerExitedError", f"{reason} (worker {worker.id}, pid {worker.pid})", worker_id=worker.id),
            )
        worker.jobs.clear()
        self.reconcile()

    def replace(self, spec: EndpointSpec) -> None:
        """New code or settings for the processes: running workers drain, new ones start."""
        self.spec = spec
        for worker in self.workers.values():
            if worker.state in (WorkerState.STARTING, WorkerState.READY):
                worker.state = WorkerState.DRAINING
                self._log(worker.id, f"flashc: draining (endpoint now at digest {spec.digest or '-'})")
        self._backoff_until = 0.0
        self.reconcile()

    def update(self, spec: EndpointSpec) -> None:
        """New scaling settings only: the workers stay."""
        self.spec = spec
        self.reconcile()

    async def close(self, reason: str, *, graceful: bool = False) -> None:
        """Stop every worker; waiting and running jobs fail with ``reason``."""
        self.closed = True
        self._notify(reason)
        for job in list(self.queue):
            self._finish(job, JobStatus.FAILED, error=error_string("EndpointStoppedError", reason))
        self.queue.clear()
        workers = list(self.workers.values())
        for worker in workers:
            worker.stop_reason = reason
        await asyncio.gather(*(self._stop(worker, graceful=graceful) for worker in workers), return_exceptions=True)
        pending = [task for task in self._tasks if not task.done()]
        if pending:  # stops begun before (idle workers); starts see stop_requested and give up
            await asyncio.wait(pending, timeout=STOP_GRACE + 2)
        for task in list(self._tasks):
            task.cancel()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def reconcile(self) -> None:
        """Schedule one pass of dispatching and scaling (several calls in a row make one pass)."""
        if self._wake_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._wake_scheduled = True
        loop.call_soon(self._reconcile_now)

    def _reconcile_now(self) -> None:
        self._wake_scheduled = False
        if self.closed:
            return
        self._dispatch()
        now = time.monotonic()
        views = [WorkerView(w.id, w.state, w.load, now - w.last_active) for w in self.workers.values()]
        decision = decide(
            views,
            workers_min=self.spec.workers_min,
            workers_max=self.spec.workers_max,
            max_concurrency=self.spec.max_concurrency,
            idle_timeout=self.spec.idle_timeout,
            waiting=len(self.queue) + self._waiting_requests,
            backoff=now < self._backoff_until,
        )
        for _ in range(decision.start):
            self._spawn()
        for worker_id in decision.stop:
            worker = self.workers.get(worker_id)
            if worker is not None:
                self._log(worker.id, f"flashc: stopping after {self.spec.idle_timeout:g} s idle")
                self._background(self._stop(worker, graceful=True))
        for worker in list(self.workers.values()):
            if worker.state is WorkerState.DRAINING and worker.load == 0:
                self._background(self._stop(worker, graceful=True))

    def _dispatch(self) -> None:
        while self.queue:
            worker = self._least_loaded()
            if worker is None or worker.load >= worker.capacity:
                return
            job = self.queue.popleft()
            job.start(worker.id)
            worker.jobs[job.id] = job
            worker.last_active = time.monotonic()
            if self.spec.execution_timeout_ms > 0:
                loop = asyncio.get_running_loop()
                self._timers[job.id] = loop.call_later(self.spec.execution_timeout_ms / 1000, self._timed_out, worker, job)
            worker.send(job)

    def _least_loaded(self) -> Worker | None:
        """The ready worker with the fewest jobs; on a tie the one used last (so others can idle out)."""
        ready = [w for w in self.workers.values() if w.state is WorkerState.READY]
        if not ready:
            return None
        return min(ready, key=lambda w: (w.load / max(1, w.capacity), -w.last_active))

    def _spawn(self) -> None:
        worker = self.factory(self._ids(), self.spec, self)
        self.workers[worker.id] = worker
        self._background(self._start(worker))

    async def _start(self, worker: Worker) -> None:
        started = time.monotonic()
        try:
            await worker.start()
        except WorkerStartError as error:
            self._start_failed(worker, error)
            return
        except Exception as error:  # noqa: BLE001 -- a bug here must not leave the worker half-started
            self._start_failed(worker, WorkerStartError(f"worker {worker.id} could not start: {error!r}"))
            return
        if worker.stop_requested:
            return
        if worker.state is WorkerState.DRAINING:  # its endpoint changed while it started
            if worker.load == 0:
                self._background(self._stop(worker, graceful=True))
            return
        worker.state = WorkerState.READY
        worker.last_active = time.monotonic()
        self._backoff = RESTART_BACKOFF[0]
        self._log(worker.id, f"flashc: ready in {time.monotonic() - started:.2f} s (pid {worker.pid})")
        self._notify()
        self.reconcile()

    def _start_failed(self, worker: Worker, error: WorkerStartError) -> None:
        self._log(worker.id, f"flashc: could not start: {error}")
        self.workers.pop(worker.id, None)
        worker.state = WorkerState.EXITED
        with contextlib.suppress(Exception):
            worker.kill()
        if worker.stop_requested:
            return
        self._backoff_until = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, RESTART_BACKOFF[1])
        others = [w for w in self.workers.values() if w.state in (WorkerState.STARTING, WorkerState.READY)]
        if others:
            return
        message = f"no worker of endpoint {self.name!r} could start: {error}"
        self._notify(message)
        for job in list(self.queue):
            self._finish(job, JobStatus.FAILED, error=error_string(error.error_type, message, error.traceback))
        self.queue.clear()

    async def _stop(self, worker: Worker, *, graceful: bool) -> None:
        if worker.stop_requested or worker.state is WorkerState.EXITED:
            return
        worker.stop_requested = True
        worker.state = WorkerState.STOPPING
        await worker.stop(graceful=graceful)

    def _timed_out(self, worker: Worker, job: Job) -> None:
        self._timers.pop(job.id, None)
        if job.id not in worker.jobs:
            return
        limit = self.spec.execution_timeout_ms
        if self._finish(
            job,
            JobStatus.TIMED_OUT,
            error=error_string("ExecutionTimeoutError", f"the job ran longer than the execution timeout of {limit} ms", worker_id=worker.id),
        ):
            self._log(worker.id, f"flashc: job {job.id} timed out after {limit} ms; stopping the worker")
        worker.jobs.pop(job.id, None)
        worker.stop_reason = f"worker was stopped because job {job.id} ran longer than the execution timeout of {limit} ms"
        worker.stop_requested = True
        worker.state = WorkerState.STOPPING
        worker.kill()
        self.reconcile()

    def _finish(self, job: Job, status: JobStatus, **result: Any) -> bool:
        """Finish a job (once). Its deadline stays while it still holds a worker's slot."""
        if not job.finish(status, **result):
            return False
        if status is JobStatus.COMPLETED:
            self.completed += 1
        elif status in (JobStatus.FAILED, JobStatus.TIMED_OUT):
            self.failed += 1
        self.store.finished(job)
        return True

    def _drop_timer(self, job: Job) -> None:
        timer = self._timers.pop(job.id, None)
        if timer is not None:
            timer.cancel()

    def _background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- reports ----------------------------------------------------------------------------------

    def worker_counts(self) -> dict[str, int]:
        counts = {"starting": 0, "idle": 0, "running": 0, "draining": 0, "stopping": 0}
        for worker in self.workers.values():
            if worker.state is WorkerState.READY:
                counts["running" if worker.load else "idle"] += 1
            elif worker.state.value in counts:
                counts[worker.state.value] += 1
        return counts

    def health(self) -> dict[str, Any]:
        """RunPod's ``/health`` shape."""
        counts = self.worker_counts()
        in_progress = sum(1 for w in self.workers.values() for job in w.jobs.values() if not job.final)
        return {
            "jobs": {"completed": self.completed, "failed": self.failed, "inProgress": in_progress, "inQueue": len(self.queue), "retried": 0},
            "workers": {
                "idle": counts["idle"],
                "running": counts["running"] + sum(1 for w in self.workers.values() if w.state is WorkerState.DRAINING and w.load),
                "initializing": counts["starting"],
            },
        }

    def status(self) -> dict[str, Any]:
        return {
            "kind": self.spec.kind,
            "digest": self.spec.digest,
            "workers": self.worker_counts(),
            "worker_list": [w.summary() for w in sorted(self.workers.values(), key=lambda w: _order(w.id))],
            "jobs": self.store.counts(self.name),
            "totals": {"completed": self.completed, "failed": self.failed},
            "waiting": len(self.queue) + self._waiting_requests,
        }


def _counter() -> Callable[[], str]:
    numbers = iter(range(1, sys.maxsize))
    return lambda: f"w{next(numbers)}"


def _order(worker_id: str) -> tuple[int, str]:
    digits = "".join(c for c in worker_id if c.isdigit())
    return (int(digits) if digits else 0, worker_id)


# --- processes ----------------------------------------------------------------------------------


class ProcessWorkers:
    """The real worker factory: queue workers over stdio, load-balanced ones under uvicorn.

    ``env`` is the base environment of every worker (an endpoint's own ``env`` goes on top,
    then ``PYTHONUNBUFFERED=1``); ``log`` receives every output line as ``(endpoint,
    worker id, line)``; ``http`` is the client used to see whether an HTTP worker is ready.
    """

    def __init__(self, env: Mapping[str, str], log: Callable[[str, str, str], None], http: Any) -> None:
        self.env = dict(env)
        self.log = log
        self.http = http

    def environment(self, worker_id: str, spec: EndpointSpec) -> dict[str, str]:
        return {**self.env, **spec.env, "PYTHONUNBUFFERED": "1", "FLASHC_WORKER_ID": worker_id}

    def __call__(self, worker_id: str, spec: EndpointSpec, pool: Pool) -> Worker:
        if spec.kind == "load-balanced":
            return HttpWorker(worker_id, spec, pool, self)
        return QueueWorker(worker_id, spec, pool, self)


class _ProcessWorker(Worker):
    def __init__(self, worker_id: str, spec: EndpointSpec, pool: Pool, factory: ProcessWorkers) -> None:
        super().__init__(worker_id, spec, pool)
        self.factory = factory
        self.process: asyncio.subprocess.Process | None = None
        self._exited = asyncio.Event()
        self._tail: collections.deque[str] = collections.deque(maxlen=20)
        self._readers: list[asyncio.Task[None]] = []
        self._waiter: asyncio.Task[None] | None = None
        self._spawned = asyncio.Event()

    def _log(self, line: str) -> None:
        self._tail.append(line)
        self.factory.log(self.spec.name, self.id, line)

    async def _spawn(self, command: list[str], *, protocol: bool) -> asyncio.subprocess.Process:
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                cwd=self.spec.package_dir,
                env=self.factory.environment(self.id, self.spec),
                stdin=asyncio.subprocess.PIPE if protocol else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE if protocol else asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopping it stops its children too
                preexec_fn=_die_with_parent(),
                limit=PROTOCOL_LIMIT,
            )
        except OSError as error:
            self._exited.set()
            raise WorkerStartError(f"cannot run {command[0]!r} in {self.spec.package_dir}: {error.strerror or error}") from None
        finally:
            self._spawned.set()
        self.process = process
        self.pid = process.pid
        self.factory.log(self.spec.name, self.id, f"flashc: started pid {process.pid}: {' '.join(command)}")
        return process

    def _watch(self, process: asyncio.subprocess.Process, protocol: asyncio.StreamReader | None) -> None:
        logs = process.stderr if protocol is not None else process.stdout
        assert logs is not None
        self._readers.append(asyncio.ensure_future(self._read_logs(logs)))
        answers = asyncio.ensure_future(self._read_protocol(protocol)) if protocol is not None else None
        if answers is not None:
            self._readers.append(answers)
        self._waiter = asyncio.ensure_future(self._wait(process, answers))

    async def _read_logs(self, stream: asyncio.StreamReader) -> None:
        async for line in _lines(stream):
            self._log(line.decode("utf-8", errors="replace").rstrip("\r\n"))

    async def _read_protocol(self, stream: asyncio.StreamReader) -> None:
        raise NotImplementedError

    async def _wait(self, process: asyncio.subprocess.Process, answers: asyncio.Task[None] | None) -> None:
        returncode = await process.wait()
        if answers is not None:  # every answer sent before it exited is read first
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(answers, 2.0)
        _signal_group(process.pid, signal.SIGKILL)  # what it started dies with it
        self._exited.set()
        await asyncio.sleep(0.05)  # let the last log lines arrive
        for reader in self._readers:
            reader.cancel()
        self.pool.on_exit(self, returncode)

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            _signal_group(self.process.pid, signal.SIGKILL)

    async def stop(self, *, graceful: bool = True, grace: float = STOP_GRACE) -> None:
        if self.process is None:  # still being created: stop it once it exists
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._spawned.wait(), grace)
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            self._ask_to_exit(process, graceful)
            if not await self._exited_within(grace):
                if graceful:
                    _signal_group(process.pid, signal.SIGTERM)
                    if await self._exited_within(1.0):
                        return
                self._log(f"flashc: did not exit within {grace:g} s; killing it")
                _signal_group(process.pid, signal.SIGKILL)
        await self._exited_within(grace)

    def _ask_to_exit(self, process: asyncio.subprocess.Process, graceful: bool) -> None:
        _signal_group(process.pid, signal.SIGTERM)

    async def _exited_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._exited.wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    def _startup_failure(self, what: str) -> WorkerStartError:
        tail = "\n".join(self._tail)
        return WorkerStartError(f"worker {self.id} {what}" + (f"; its last output:\n{tail}" if tail else ""))


class QueueWorker(_ProcessWorker):
    """``python -m flashc_runtime.worker.stdio`` in the handler package: jobs in, answers out, as JSON lines."""

    def __init__(self, worker_id: str, spec: EndpointSpec, pool: Pool, factory: ProcessWorkers) -> None:
        super().__init__(worker_id, spec, pool, factory)
        self._ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def start(self) -> None:
        process = await self._spawn([self.spec.python, "-m", "flashc_runtime.worker.stdio"], protocol=True)
        assert process.stdout is not None
        self._watch(process, process.stdout)
        exited = asyncio.ensure_future(self._exited.wait())
        try:
            await asyncio.wait({self._ready, exited}, timeout=self.spec.startup_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
        if self._ready.done():
            hello = self._ready.result()
            if hello.get("ready") is True:
                reported = hello.get("max_concurrency")
                if isinstance(reported, int) and reported >= 1:
                    self.capacity = min(self.spec.max_concurrency, reported)
                return
            error = hello.get("error") if isinstance(hello.get("error"), dict) else {}
            raise WorkerStartError(
                f"importing the handler failed: {error.get('type', 'Exception')}: {error.get('message', '')}",
                str(error.get("type") or "WorkerStartError"),
                str(error.get("traceback") or ""),
            )
        if self._exited.is_set():
            raise self._startup_failure(f"exited with {describe_exit(process.returncode)} before it was ready")
        raise self._startup_failure(f"was not ready within {self.spec.startup_timeout:g} s")

    async def _read_protocol(self, stream: asyncio.StreamReader) -> None:
        async for line in _lines(stream):
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if not isinstance(message, dict):
                self._log(f"flashc: protocol error, not a JSON object: {line[:200]!r}; stopping the worker")
                self.stop_reason = "worker sent an answer that is not a JSON object (or longer than 256 MiB)"
                self.kill()
                return
            if "ready" in message:
                if not self._ready.done():
                    self._ready.set_result(message)
            elif "id" in message:
                self.pool.on_result(self, message)

    def send(self, job: Job) -> None:
        self._write({"id": job.id, "input": job.input})

    def cancel(self, job_id: str) -> None:
        self._write({"cancel": job_id})

    def _write(self, message: dict[str, Any]) -> None:
        process = self.process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return  # it is exiting; its jobs fail when it is gone
        try:
            process.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
        except (ConnectionError, RuntimeError):
            pass

    def _ask_to_exit(self, process: asyncio.subprocess.Process, graceful: bool) -> None:
        if graceful and process.stdin is not None:
            process.stdin.close()  # end of input: it finishes its jobs and exits
        else:
            _signal_group(process.pid, signal.SIGTERM)


class HttpWorker(_ProcessWorker):
    """``python -m uvicorn _flashc_handler:app`` on a free loopback port of the handler package."""

    async def start(self) -> None:
        port = _free_port()
        command = [self.spec.python, "-m", "uvicorn", "_flashc_handler:app", "--host", "127.0.0.1", "--port", str(port)]
        process = await self._spawn(command, protocol=False)
        self._watch(process, None)
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + self.spec.startup_timeout
        delay = 0.05
        while time.monotonic() < deadline:
            if self._exited.is_set() or process.returncode is not None:
                await self._exited_within(1.0)
                raise self._startup_failure(f"exited with {describe_exit(process.returncode)} before it was ready")
            try:
                response = await self.factory.http.get(self.base_url + "/ping", timeout=2.0)
                if response.status_code == 200:
                    return
            except httpx.HTTPError:  # not listening yet
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        raise self._startup_failure(f"did not answer GET /ping within {self.spec.startup_timeout:g} s")

    async def _read_protocol(self, stream: asyncio.StreamReader) -> None:  # pragma: no cover -- no protocol
        return

    def send(self, job: Job) -> None:  # pragma: no cover -- load-balanced workers take requests
        raise TypeError("load-balanced workers take HTTP requests, not jobs")

    def cancel(self, job_id: str) -> None:  # pragma: no cover
        return


async def _lines(stream: asyncio.StreamReader) -> Any:
    """Every line of ``stream`` (an overlong one in pieces), until end of input."""
    while True:
        try:
            line = await stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as partial:
            if partial.partial:
                yield partial.partial
            return
        except asyncio.LimitOverrunError as overrun:
            yield await stream.read(overrun.consumed)
            continue
        yield line


def _signal_group(pid: int, sig: int) -> None:
    """Signal the process group ``pid`` leads (each worker runs in its own session).

    Never the bare pid: after the worker is reaped its pid may belong to another process,
    while a group id stays taken as long as any member of the group lives.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_PRCTL: Any = None


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, a worker gets SIGKILL if the supervisor dies without stopping it."""
    global _PRCTL
    if not sys.platform.startswith("linux"):
        return None
    if _PRCTL is None:
        try:
            import ctypes

            _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _PRCTL = False
    if not _PRCTL:
        return None
    prctl = _PRCTL
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the supervisor died before the signal was set: no orphan
            os._exit(1)

    return set_death_signal
