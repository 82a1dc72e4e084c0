"""Call the two queue endpoints and the API route that combines them, and print the results."""

import asyncio

from api import analyze
from cpu_worker import word_count
from gpu_worker import summarize

TEXT = "the quick brown fox jumps over the lazy dog"
NUMBERS = [2.5, 4.0, 9.5, 1.0]


async def main() -> None:
    print("summarize:", await summarize(NUMBERS))
    print("word_count:", await word_count(TEXT))
    print("analyze:", await analyze(TEXT, NUMBERS))


if __name__ == "__main__":
    asyncio.run(main())
