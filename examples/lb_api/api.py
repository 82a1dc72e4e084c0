"""A load-balanced HTTP API: several routes on one endpoint, served by the same workers.

GET parameters arrive as query parameters and are converted by their annotations
(``int``, ``bool``); ``{item_id}`` in a path binds to the parameter of that name;
POST parameters arrive as one JSON object.
"""

from flashc import CpuInstanceType, Endpoint

api = Endpoint(name="lb-api-shop", cpu=CpuInstanceType.CPU3C_1_2, workers=(1, 3))


@api.get("/health")
async def health() -> dict:
    return {"ok": True}


@api.get("/items")
async def list_items(limit: int = 10, in_stock_only: bool = False) -> dict:
    """``GET /items?limit=2&in_stock_only=true``"""
    from catalog import ITEMS

    items = [item for item in ITEMS if item["stock"] > 0 or not in_stock_only]
    return {"items": items[:limit], "total": len(items)}


@api.get("/items/{item_id}")
async def get_item(item_id: int) -> dict:
    """``GET /items/2``: one item, or ``found: false``."""
    from catalog import find

    item = find(item_id)
    return {"found": item is not None, "item": item}


@api.post("/items/{item_id}/quote")
async def quote(item_id: int, quantity: int = 1, gift_wrap: bool = False) -> dict:
    """``POST /items/2/quote`` with ``{"quantity": 3, "gift_wrap": true}``."""
    from catalog import GIFT_WRAP_CENTS, find

    item = find(item_id)
    if item is None:
        return {"ok": False, "reason": f"no item {item_id}"}
    if quantity > item["stock"]:
        return {"ok": False, "reason": f"only {item['stock']} in stock"}
    total = item["price_cents"] * quantity + (GIFT_WRAP_CENTS if gift_wrap else 0)
    return {"ok": True, "item": item["name"], "quantity": quantity, "total_cents": total}
