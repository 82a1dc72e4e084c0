"""The result of a queue-based job, as RunPod's ``/run`` and ``/status`` report it."""

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
