"""A small read-only catalogue. Route bodies import it, so it ships with the API."""

ITEMS = (
    {"id": 1, "name": "notebook", "price_cents": 450, "stock": 12},
    {"id": 2, "name": "fountain pen", "price_cents": 2400, "stock": 3},
    {"id": 3, "name": "ink bottle", "price_cents": 900, "stock": 0},
    {"id": 4, "name": "desk lamp", "price_cents": 3900, "stock": 5},
    {"id": 5, "name": "eraser", "price_cents": 120, "stock": 40},
)

GIFT_WRAP_CENTS = 300


def find(item_id: int) -> dict | None:
    """The item with ``item_id``, or None."""
    return next((item for item in ITEMS if item["id"] == item_id), None)
