"""Queue-based jobs: ``JobOutput`` as RunPod's ``/run`` and ``/status`` report one, and
``EndpointJob``, a job a client ``Endpoint`` started, to follow or cancel."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class JobOutput:
    """One finished (or failed) job; field names are RunPod's, as in runpod-flash.

    Frozen so a result can be shared without being edited; ``output`` itself is
    whatever the function returned and is not copied.
    """

    id: str
    workerId: str
    status: str
    delayTime: int
    executionTime: int
    output: Any = None
    error: str | None = ""
    started_at: str | None = None
    ended_at: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobOutput:
        """Build from an API response; keys this class does not know are ignored."""
        names = [f.name for f in fields(cls)]
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in data]
        if missing:
            raise ValueError(f"JobOutput is missing {', '.join(missing)} in {sorted(data)}")
        return cls(**{name: data[name] for name in names if name in data})

    @classmethod
    def from_response(cls, data: dict[str, Any]) -> JobOutput:
        """Build from any job RunPod reports, finished or not.

        A job that is queued (``/run``'s answer, an ``IN_QUEUE`` status) has no
        worker or timings yet: those fields are then ``""`` and ``0``. Only ``id``
        and ``status`` are required.
        """
        if not isinstance(data, dict):
            raise ValueError(f"a job is a JSON object, got {type(data).__name__}")
        missing = [name for name in ("id", "status") if name not in data]
        if missing:
            raise ValueError(f"JobOutput is missing {', '.join(missing)} in {sorted(data)}")
        filled = {"workerId": "", "delayTime": 0, "executionTime": 0, **data}
        for name in ("workerId", "delayTime", "executionTime"):
            if filled[name] is None:
                filled[name] = "" if name == "workerId" else 0
        return cls.from_dict(filled)

    @property
    def done(self) -> bool:
        """Whether the job has ended (COMPLETED, FAILED, CANCELLED or TIMED_OUT)."""
        return self.status in _FINAL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})


class EndpointJob:
    """A job started through an ``Endpoint`` (``run``, ``runsync``): its latest state, and
    coroutines to refresh it (``status``), wait for its end (``wait``) or ``cancel`` it."""

    def __init__(self, job: JobOutput, jobs: Any) -> None:
        self._job = job
        self._jobs = jobs  # a flashc_runtime.client.Jobs of the job's endpoint

    @property
    def id(self) -> str:
        return self._job.id

    @property
    def job(self) -> JobOutput:
        """The job as last reported."""
        return self._job

    @property
    def output(self) -> Any:
        return self._job.output

    @property
    def error(self) -> str | None:
        return self._job.error

    @property
    def done(self) -> bool:
        return self._job.done

    async def status(self) -> str:
        """Ask the endpoint for the job's status (and keep what it reports)."""
        self._job = await self._jobs.status(self.id)
        return self._job.status

    async def wait(self, timeout: float | None = None) -> EndpointJob:
        """Wait until the job has ended (at most ``timeout`` seconds, else ``RemoteTimeoutError``)."""
        if not self.done:
            self._job = await self._jobs.wait(self.id, timeout)
        return self

    async def cancel(self) -> EndpointJob:
        """Cancel the job."""
        self._job = await self._jobs.cancel(self.id)
        return self

    def __repr__(self) -> str:
        return f"<EndpointJob {self.id} {self._job.status}>"
