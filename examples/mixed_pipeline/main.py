"""Run the pipeline: search (CPU) -> embed (GPU) and describe (shared endpoint), then a histogram."""

import asyncio

from scoring import histogram
from search import search

DOCUMENTS = [
    "GPU workers run the embedding model",
    "CPU workers rank the results",
    "the queue holds jobs until a worker is free",
    "a load balancer answers HTTP requests directly",
]


async def main() -> None:
    result = await search("which workers rank results", DOCUMENTS, top=2)
    for match in result["matches"]:
        print(f"{match['score']:+.3f}  {match['document']}")
    print("summary:", result["summary"])
    print("histogram:", await histogram(result["scores"], bins=4))


if __name__ == "__main__":
    asyncio.run(main())
