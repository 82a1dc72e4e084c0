"""Two functions on one queue endpoint: ``@remote`` with a shared resource configuration.

Both are deployed together as ``mixed-pipeline-scores``; a job names the function it runs.
"""

from flashc import CpuInstanceType, CpuLiveServerless, remote

scores_config = CpuLiveServerless(
    name="mixed-pipeline-scores",
    instanceIds=[CpuInstanceType.CPU3C_1_2],
    workersMax=2,
    idleTimeout=20,
)


@remote(resource_config=scores_config)
def describe(scores: list[float]) -> dict:
    """Summary statistics of a list of scores."""
    import statistics

    if not scores:
        return {"count": 0}
    return {
        "count": len(scores),
        "mean": round(statistics.fmean(scores), 4),
        "median": round(statistics.median(scores), 4),
        "spread": round(max(scores) - min(scores), 4),
    }


@remote(resource_config=scores_config)
def histogram(scores: list[float], bins: int = 4) -> list[int]:
    """How many scores fall in each of ``bins`` equal slices of [-1, 1]."""
    counts = [0] * bins
    for score in scores:
        index = min(int((score + 1.0) / 2.0 * bins), bins - 1)
        counts[max(index, 0)] += 1
    return counts
