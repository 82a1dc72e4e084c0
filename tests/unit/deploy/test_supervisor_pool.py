"""The pool's decisions without processes: the pure scaling function, and a Pool driven with fake workers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from flashc.deploy.local.jobs import Job, JobStatus, JobStore
from flashc.deploy.local.pool import (
    Decision,
    Pool,
    Unavailable,
    Worker,
    WorkerStartError,
    WorkerState,
    WorkerView,
    decide,
    describe_exit,
)
from flashc.deploy.local.spec import EndpointSpec

READY, STARTING, DRAINING = WorkerState.READY, WorkerState.STARTING, WorkerState.DRAINING


def view(worker_id: str, state: WorkerState = READY, load: int = 0, idle_for: float = 0.0) -> WorkerView:
    return WorkerView(worker_id, state, load, idle_for)


def scale(workers: list[WorkerView], waiting: int = 0, **settings: Any) -> Decision:
    options = {"workers_min": 0, "workers_max": 3, "max_concurrency": 1, "idle_timeout": 5.0, **settings}
    return decide(workers, waiting=waiting, **options)


# --- decide ----------------------------------------------------------------------------------------


def test_warm_workers_are_kept_at_workers_min() -> None:
    assert scale([], workers_min=2) == Decision(start=2)
    assert scale([view("w1")], workers_min=2) == Decision(start=1)
    assert scale([view("w1", STARTING)], workers_min=1) == Decision()


def test_a_cold_start_for_the_first_job() -> None:
    assert scale([], waiting=1) == Decision(start=1)
    assert scale([], waiting=0) == Decision()


def test_waiting_work_starts_workers_up_to_workers_max() -> None:
    assert scale([view("w1", load=1)], waiting=5) == Decision(start=2)
    assert scale([view("w1", load=1)], waiting=1) == Decision(start=1)
    assert scale([view("w1", load=1), view("w2", STARTING)], waiting=1) == Decision()  # a starting worker will take it
    assert scale([view(f"w{i}", load=1) for i in range(3)], waiting=9) == Decision()


def test_a_worker_takes_max_concurrency_jobs_before_another_starts() -> None:
    assert scale([view("w1", load=1)], waiting=3, max_concurrency=4) == Decision()
    assert scale([view("w1", load=4)], waiting=1, max_concurrency=4) == Decision(start=1)
    assert scale([view("w1", load=2)], waiting=0, max_concurrency=1) == Decision(start=1)  # an overloaded HTTP worker


def test_idle_workers_stop_after_the_idle_timeout_but_not_below_workers_min() -> None:
    workers = [view("w1", idle_for=1.0), view("w2", idle_for=9.0), view("w3", idle_for=7.0)]
    assert scale(workers, workers_min=1, idle_timeout=5) == Decision(stop=("w2", "w3"))
    assert scale(workers, workers_min=0, idle_timeout=5) == Decision(stop=("w2", "w3"))  # w1 not idle long enough
    assert scale(workers, workers_min=3, idle_timeout=5) == Decision()
    assert scale([view("w1", load=1, idle_for=99)], idle_timeout=5) == Decision()  # busy is not idle
    assert scale([view("w1", idle_for=99)], waiting=1, idle_timeout=5) == Decision()


def test_draining_workers_count_for_nothing() -> None:
    assert scale([view("w1", DRAINING, load=1)], workers_min=1) == Decision(start=1)
    assert scale([view("w1", DRAINING, load=1)], waiting=2) == Decision(start=2)


def test_after_a_failed_start_only_work_in_hand_starts_workers() -> None:
    assert scale([], workers_min=2, backoff=True) == Decision()
    assert scale([], workers_min=2, waiting=1, backoff=True) == Decision(start=1)


def test_exit_descriptions() -> None:
    assert describe_exit(1) == "exit code 1"
    assert describe_exit(-9) == "signal 9 (SIGKILL)"
    assert describe_exit(None) == "an unknown status"


# --- Pool with fake workers ------------------------------------------------------------------------


class FakeWorkers:
    """A worker factory: workers start at once (or when ``hold`` is released, or fail)."""

    def __init__(self) -> None:
        self.made: list[FakeWorker] = []
        self.fail: WorkerStartError | None = None
        self.hold: asyncio.Event | None = None

    def __call__(self, worker_id: str, spec: EndpointSpec, pool: Pool) -> Worker:
        worker = FakeWorker(worker_id, spec, pool, self)
        self.made.append(worker)
        return worker


class FakeWorker(Worker):
    def __init__(self, worker_id: str, spec: EndpointSpec, pool: Pool, factory: FakeWorkers) -> None:
        super().__init__(worker_id, spec, pool)
        self.factory = factory
        self.sent: list[Job] = []
        self.cancelled: list[str] = []
        self.exited = False
        self.stopped_gracefully: bool | None = None

    async def start(self) -> None:
        self.pid = 1000 + len(self.factory.made)
        if self.factory.hold is not None:
            await self.factory.hold.wait()
        if self.factory.fail is not None:
            raise self.factory.fail

    def send(self, job: Job) -> None:
        self.sent.append(job)

    def cancel(self, job_id: str) -> None:
        self.cancelled.append(job_id)

    def answer(self, job: Job, status: str = "COMPLETED", **fields: Any) -> None:
        self.pool.on_result(self, {"id": job.id, "status": status, **fields})

    def exit(self, returncode: int) -> None:
        if not self.exited:
            self.exited = True
            self.pool.on_exit(self, returncode)

    async def stop(self, *, graceful: bool = True, grace: float = 5.0) -> None:
        self.stopped_gracefully = graceful
        self.exit(0 if graceful else -15)

    def kill(self) -> None:
        asyncio.get_running_loop().call_soon(self.exit, -9)


def endpoint(**settings: Any) -> EndpointSpec:
    options: dict[str, Any] = {"workers_min": 0, "workers_max": 3, "idle_timeout": 60.0, "max_concurrency": 1, "execution_timeout_ms": 0, "digest": "one"}
    options.update(settings)
    return EndpointSpec(name="ep", kind=options.pop("kind", "queue"), package_dir=Path("."), python="python", **options)


async def settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 10))


def live(factory: FakeWorkers) -> list[FakeWorker]:
    return [w for w in factory.made if not w.exited]


def test_the_first_job_cold_starts_a_worker_which_runs_it() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(), factory)
        await settle()
        assert factory.made == []
        job = pool.submit({"x": 1})
        await settle()
        (worker,) = factory.made
        assert worker.state is READY and worker.sent == [job] and job.status is JobStatus.IN_PROGRESS
        worker.answer(job, output={"y": 2})
        assert job.status is JobStatus.COMPLETED and job.view()["output"] == {"y": 2}
        assert pool.health()["jobs"]["completed"] == 1 and pool.health()["workers"] == {"idle": 1, "running": 0, "initializing": 0}

    run(scenario)


def test_a_burst_starts_up_to_workers_max_and_each_worker_takes_one_job_at_a_time() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(workers_max=3), factory)
        jobs = [pool.submit({"n": n}) for n in range(5)]
        await settle()
        assert len(factory.made) == 3
        assert [len(w.sent) for w in factory.made] == [1, 1, 1]
        assert [j.status for j in jobs].count(JobStatus.IN_QUEUE) == 2
        assert pool.health()["jobs"]["inQueue"] == 2 and pool.health()["workers"]["running"] == 3
        first = factory.made[0]
        first.answer(first.sent[0], output=0)
        await settle()
        assert len(first.sent) == 2 and len(factory.made) == 3  # the freed slot takes the next job

    run(scenario)


def test_max_concurrency_fills_a_worker_before_starting_another() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(max_concurrency=2, workers_min=1), factory)
        await settle()
        jobs = [pool.submit({}) for _ in range(3)]
        await settle()
        assert len(factory.made) == 2
        assert [len(w.sent) for w in factory.made] == [2, 1]
        assert all(j.status is JobStatus.IN_PROGRESS for j in jobs)

    run(scenario)


def test_idle_workers_stop_down_to_workers_min() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(workers_min=1, idle_timeout=0.05), factory)
        jobs = [pool.submit({}) for _ in range(3)]
        await settle()
        for worker in factory.made:
            worker.answer(worker.sent[0], output=None)
        assert all(j.status is JobStatus.COMPLETED for j in jobs)
        await asyncio.sleep(0.1)
        pool.reconcile()
        await settle()
        assert len(live(factory)) == 1
        assert [w.stopped_gracefully for w in factory.made if w.exited] == [True, True]

    run(scenario)


def test_a_worker_that_dies_fails_its_jobs_and_is_replaced() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(workers_min=1, max_concurrency=2), factory)
        await settle()
        jobs = [pool.submit({}), pool.submit({})]
        await settle()
        (worker,) = factory.made
        worker.exit(-9)
        for job in jobs:
            assert job.status is JobStatus.FAILED
            error = json.loads(job.error or "")
            assert error["error_type"] == "WorkerExitedError"
            assert "worker exited with signal 9 (SIGKILL) while running the job" in error["error_message"]
        await settle()
        assert len(live(factory)) == 1 and live(factory)[0] is not worker
        assert pool.health()["jobs"]["failed"] == 2

    run(scenario)


def test_a_failed_start_fails_the_waiting_jobs_and_backs_off() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        factory.fail = WorkerStartError("importing the handler failed: ImportError: no numpy", "builtins.ImportError", "Traceback ...")
        pool = Pool(endpoint(workers_min=1), factory)
        await settle()
        assert len(factory.made) == 1
        job = pool.submit({})
        await settle()
        assert job.status is JobStatus.FAILED
        error = json.loads(job.error or "")
        assert error["error_type"] == "builtins.ImportError" and "no numpy" in error["error_message"]
        made = len(factory.made)
        pool.reconcile()
        await settle()
        assert len(factory.made) == made  # no warm restart during the back-off
        factory.fail = None
        second = pool.submit({})  # work in hand still starts a worker
        await settle()
        assert second.status is JobStatus.IN_PROGRESS

    run(scenario)


def test_an_execution_timeout_times_the_job_out_and_stops_its_worker() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(execution_timeout_ms=50, max_concurrency=2, workers_min=1), factory)
        await settle()
        slow, other = pool.submit({}), pool.submit({})
        await settle()
        (worker,) = factory.made
        await asyncio.sleep(0.1)
        await settle()
        assert slow.status is JobStatus.TIMED_OUT and other.status is JobStatus.TIMED_OUT
        assert worker.exited
        assert "50 ms" in json.loads(slow.error or "")["error_message"]
        assert len(live(factory)) == 1

    run(scenario)


def test_a_job_running_beside_a_timed_out_one_fails_with_the_reason() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(execution_timeout_ms=80, max_concurrency=2, workers_min=1), factory)
        await settle()
        slow = pool.submit({})
        await settle()
        await asyncio.sleep(0.05)
        beside = pool.submit({})
        await settle()
        await asyncio.sleep(0.05)
        await settle()
        assert slow.status is JobStatus.TIMED_OUT
        assert beside.status is JobStatus.FAILED
        assert "execution timeout" in json.loads(beside.error or "")["error_message"]

    run(scenario)


def test_cancel_a_waiting_and_a_running_job() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(workers_max=1), factory)
        running, waiting = pool.submit({}), pool.submit({})
        await settle()
        (worker,) = factory.made
        pool.cancel(waiting)
        assert waiting.status is JobStatus.CANCELLED and not pool.queue
        pool.cancel(running)
        assert running.status is JobStatus.CANCELLED and worker.cancelled == [running.id]
        assert worker.load == 1  # until the worker answers
        worker.answer(running, "CANCELLED")
        assert worker.load == 0 and running.status is JobStatus.CANCELLED
        pool.cancel(running)  # finished jobs stay as they are
        assert running.status is JobStatus.CANCELLED

    run(scenario)


def test_a_late_answer_does_not_change_a_finished_job() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(), factory)
        job = pool.submit({})
        await settle()
        pool.cancel(job)
        factory.made[0].answer(job, output=1)
        assert job.status is JobStatus.CANCELLED and "output" not in job.view()

    run(scenario)


def test_replace_drains_the_old_workers_and_starts_new_ones() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(workers_min=2, digest="one"), factory)
        await settle()
        old = list(factory.made)
        busy = pool.submit({})
        await settle()
        pool.replace(endpoint(workers_min=2, digest="two"))
        await settle()
        new = [w for w in factory.made if w not in old]
        assert len(new) == 2 and all(w.digest == "two" and w.state is READY for w in new)
        assert sum(w.exited for w in old) == 1  # the idle one stopped at once
        holder = next(w for w in old if busy in w.sent)
        assert holder.state is DRAINING
        queued = pool.submit({})
        await settle()
        assert any(queued in w.sent for w in new)  # new work goes to the new workers
        holder.answer(busy, output=1)
        await settle()
        assert busy.status is JobStatus.COMPLETED and holder.exited

    run(scenario)


def test_update_keeps_the_workers() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(workers_min=1), factory)
        await settle()
        pool.update(endpoint(workers_min=1, workers_max=5, idle_timeout=1.0))
        await settle()
        assert len(factory.made) == 1 and not factory.made[0].exited

    run(scenario)


def test_close_fails_waiting_and_running_jobs() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(workers_max=1), factory)
        running, waiting = pool.submit({}), pool.submit({})
        await settle()
        await pool.close("the local supervisor shut down")
        for job in (running, waiting):
            assert job.status is JobStatus.FAILED and "shut down" in json.loads(job.error or "")["error_message"]
        assert all(w.exited for w in factory.made)
        with pytest.raises(Unavailable):
            pool.submit({})

    run(scenario)


def test_load_balanced_requests_wait_for_a_ready_worker() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        factory.hold = asyncio.Event()
        pool = Pool(endpoint(kind="load-balanced", workers_max=2), factory)
        request = asyncio.ensure_future(pool.acquire(5))
        await settle()
        assert not request.done() and len(factory.made) == 1
        factory.hold.set()
        worker = await request
        assert worker.inflight == 1
        second = await pool.acquire(5)  # the only ready worker is at max_concurrency: another starts
        await settle()
        assert second is worker and len(factory.made) == 2
        pool.release(worker)
        pool.release(worker)
        assert worker.inflight == 0

    run(scenario)


def test_load_balanced_requests_fail_fast_when_no_worker_can_start() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        factory.fail = WorkerStartError("worker w1 exited with exit code 1 before it was ready")
        pool = Pool(endpoint(kind="load-balanced"), factory)
        with pytest.raises(Unavailable, match="could start: worker w1 exited"):
            await pool.acquire(5)
        factory.fail = None
        factory.hold = asyncio.Event()
        with pytest.raises(Unavailable, match="within 0.05 s"):
            await pool.acquire(0.05)

    run(scenario)


def test_finished_jobs_are_forgotten_after_a_while() -> None:
    store = JobStore(keep_seconds=10, keep_jobs=2)
    jobs = [Job("ep", {}) for _ in range(4)]
    for job in jobs:
        store.add(job)
    for job in jobs[:3]:
        job.finish(JobStatus.COMPLETED, output=1)
        store.finished(job)
    assert store.get(jobs[0].id) is None and store.get(jobs[2].id) is jobs[2]
    assert store.get(jobs[3].id) is jobs[3]  # unfinished jobs are never dropped
    store.prune(now=(jobs[2].finished or 0) + 11)
    assert store.get(jobs[1].id) is None and store.get(jobs[2].id) is None and len(store) == 1


def test_a_job_for_a_free_worker_is_sent_at_once_and_one_in_line_waits_its_turn() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(workers_min=1, workers_max=1), factory)
        await settle()
        (worker,) = factory.made
        first = pool.submit({"n": 1})
        assert worker.sent == [first] and first.status is JobStatus.IN_PROGRESS  # no pass of the loop needed
        second = pool.submit({"n": 2})
        assert worker.sent == [first] and second.status is JobStatus.IN_QUEUE and list(pool.queue) == [second]
        worker.answer(first, output=1)
        await settle()
        assert worker.sent == [first, second] and second.status is JobStatus.IN_PROGRESS

    run(scenario)


def test_a_draining_worker_stops_once_it_answered_its_last_job() -> None:
    async def scenario() -> None:
        factory = FakeWorkers()
        pool = Pool(endpoint(workers_min=1, workers_max=1), factory)
        await settle()
        (old,) = factory.made
        job = pool.submit({})
        pool.replace(endpoint(workers_min=1, workers_max=1, digest="two"))
        await settle()
        assert not old.exited
        old.answer(job, output=None)
        await settle()
        assert old.exited and old.stopped_gracefully and job.status is JobStatus.COMPLETED
        assert [w.digest for w in live(factory)] == ["two"]

    run(scenario)


def test_waiting_for_a_job_ends_when_it_finishes_or_when_the_wait_is_over() -> None:
    async def scenario() -> None:
        slow, quick = Job("ep", {}), Job("ep", {})
        await slow.wait(0.01)  # nobody finishes it: the wait just ends
        assert slow.status is JobStatus.IN_QUEUE and slow._waiters == []
        loop = asyncio.get_running_loop()
        loop.call_soon(lambda: quick.finish(JobStatus.COMPLETED, output=7))
        await asyncio.wait_for(quick.wait(30), 5)
        assert quick.view()["output"] == 7 and quick._waiters == []
        await quick.wait(30)  # already final: returns at once

    run(scenario)
