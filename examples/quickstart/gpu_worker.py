"""A GPU endpoint in the newer spelling: everything the worker needs is inside the body."""

from flashc import Endpoint, GpuGroup


@Endpoint(name="quickstart-gpu", gpu=GpuGroup.ADA_24, workers=(0, 3), dependencies=["numpy"])
async def summarize(numbers: list[float]) -> dict:
    """Return simple statistics of ``numbers``, computed on the worker."""
    import numpy as np

    values = np.asarray(numbers, dtype=float)
    return {"count": int(values.size), "mean": float(values.mean()), "max": float(values.max())}
