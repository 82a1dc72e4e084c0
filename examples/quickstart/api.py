"""A load-balanced HTTP API whose routes call the queue endpoints."""

from flashc import CpuInstanceType, Endpoint

api = Endpoint(name="quickstart-api", cpu=CpuInstanceType.CPU3C_1_2, workers=(1, 2))


@api.get("/health")
async def health() -> dict:
    return {"ok": True}


@api.post("/analyze")
async def analyze(text: str, numbers: list[float]) -> dict:
    """Fan out to both workers and combine their answers."""
    from cpu_worker import word_count
    from gpu_worker import summarize

    return {"text": await word_count(text), "numbers": await summarize(numbers)}
