"""Create the class endpoint's client and call both of its methods."""

import asyncio

from vocabulary import Vocabulary


async def main() -> None:
    vocabulary = Vocabulary()
    print("complete('asy'):", await vocabulary.complete("asy"))
    print("complete('str', limit=3):", await vocabulary.complete("str", limit=3))
    print("correct('pritn'):", await vocabulary.correct("pritn"))
    print("correct('lambda'):", await vocabulary.correct("lambda"))


if __name__ == "__main__":
    asyncio.run(main())
