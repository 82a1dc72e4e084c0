"""Describe a few uploads through the endpoint and print the results."""

import asyncio

from uploads import describe_upload

UPLOADS = [
    ("Quarterly Report: Q3 (final!)", 1_572_864),
    ("Crème brûlée — recipe & photos", 48_213_504),
    ("A very long title that will not fit in a short URL slug at all", 2_500_000_000),
]


async def main() -> None:
    results = await asyncio.gather(*(describe_upload(title, size) for title, size in UPLOADS))
    for result in results:
        print(f"{result['slug']:<42} {result['size']:>10}  ({result['size_words']} bytes)")


if __name__ == "__main__":
    asyncio.run(main())
