"""Call each route of the API and print the responses."""

import asyncio

from api import get_item, health, list_items, quote


async def main() -> None:
    print("health:", await health())
    print("in stock:", await list_items(limit=3, in_stock_only=True))
    print("item 2:", await get_item(2))
    print("quote:", await quote(2, quantity=2, gift_wrap=True))
    print("too many:", await quote(4, quantity=50))


if __name__ == "__main__":
    asyncio.run(main())
