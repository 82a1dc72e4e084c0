"""Summary statistics of repeated measurements: median, spread and percentiles.

Kept free of numpy so the harness runs in flashc's own environment; percentiles use linear
interpolation between the closest ranks (numpy's default), so p50 is the median.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, interpolated linearly between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, not {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


@dataclass(frozen=True)
class Summary:
    """What a table row shows of a series of runs."""

    n: int
    median: float
    minimum: float
    maximum: float
    p25: float
    p75: float
    p99: float

    @property
    def iqr(self) -> float:
        return self.p75 - self.p25


def summarize(values: Sequence[float]) -> Summary:
    return Summary(
        n=len(values),
        median=median(values),
        minimum=min(values),
        maximum=max(values),
        p25=percentile(values, 25),
        p75=percentile(values, 75),
        p99=percentile(values, 99),
    )
