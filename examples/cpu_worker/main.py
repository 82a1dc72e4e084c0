"""Call the CPU endpoints of this example and print what they return."""

import asyncio

from text_worker import redact, text_stats

SAMPLE = (
    "A worker starts on demand. The worker runs one job, then the worker waits for the next job! "
    "Write to ops@example.com or call +1 555 010 9999 if a worker stays up too long."
)


async def main() -> None:
    stats, cleaned = await asyncio.gather(text_stats(SAMPLE, top=3), redact(SAMPLE))
    print("text_stats:", stats)
    print("redact:", cleaned)


if __name__ == "__main__":
    asyncio.run(main())
