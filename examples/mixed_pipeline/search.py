"""A CPU endpoint that calls the GPU endpoint and the shared scoring endpoint.

The other endpoints are imported inside the body: in the built handler they are
replaced by stubs that send a job to the deployed endpoint.
"""

from flashc import CpuInstanceType, Endpoint


@Endpoint(name="mixed-pipeline-search", cpu=CpuInstanceType.CPU3G_1_4)
async def search(query: str, documents: list[str], top: int = 3) -> dict:
    """Rank ``documents`` by cosine similarity to ``query``."""
    from embedder import embed
    from scoring import describe

    vectors = await embed([query, *documents])
    target, candidates = vectors[0], vectors[1:]
    scores = [sum(a * b for a, b in zip(target, vector)) for vector in candidates]
    ranked = sorted(zip(scores, documents), reverse=True)[:top]
    return {
        "matches": [{"score": round(score, 4), "document": document} for score, document in ranked],
        "scores": scores,
        "summary": await describe(scores),
    }
