"""Demo data for the local stack: the demo app key, two stores and two QR codes.

Idempotent (fixed ids), written through the same use cases and adapters the app uses.
"""

from __future__ import annotations

from typing import Any

from chalicelib.settings import DEMO_WRITE_KEY

STORES: list[dict[str, Any]] = [
    {
        "store_id": "store-001",
        "name": "Bean There Coffee, Market St",
        "lat": 37.7936,
        "lon": -122.3958,
        "radius_m": 80,
        "timezone": "America/Los_Angeles",
        "opening_hours": "Mo-Su 07:00-19:00",
    },
    {
        "store_id": "store-002",
        "name": "Northwind Fashion, Union Sq",
        "lat": 37.7880,
        "lon": -122.4075,
        "radius_m": 120,
        "timezone": "America/Los_Angeles",
        "opening_hours": "Mo-Sa 10:00-20:00; Su 11:00-18:00",
    },
]

QR_CODES: list[dict[str, Any]] = [
    {
        "qr_id": "DEMOQRAA",
        "store_id": "store-001",
        "product_id": "cold-brew-1l",
        "placement": "counter, next to the till",
        "destination": "https://shop.example.com/products/cold-brew-1l?src=qr",
    },
    {
        "qr_id": "DEMOQRBB",
        "store_id": "store-002",
        "product_id": "linen-shirt-blue",
        "placement": "aisle 4, top shelf",
        "destination": "https://shop.example.com/products/linen-shirt-blue?src=qr",
    },
]


def seed(container: Any) -> dict[str, Any]:
    """Write the demo data; returns the QR codes with their signed tokens."""
    admin = container.admin
    admin.create_app({"name": "demo"}, write_key=DEMO_WRITE_KEY)
    for store in STORES:
        data = {k: v for k, v in store.items() if k != "store_id"}
        container.stores.put(store["store_id"], data)
    codes = [admin.create_qr_code(**qr) for qr in QR_CODES]
    return {"stores": STORES, "qr_codes": codes}
