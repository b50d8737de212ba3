"""Demo data for the local stack: the demo app key, two stores, two QR codes and three campaigns
(the third an A/B test with a 50 % holdout, for the demo's lift).

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
        "opening_hours": "24/7",  # a station kiosk: the demo works at any hour
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


CAMPAIGNS: list[dict[str, Any]] = [
    {
        "id": "coffee-nearby",
        "name": "Coffee 20% off when you're near",
        "trigger": {"moment": "geofence_entered", "store_ids": ["store-001"]},
        "freshness_minutes": 10,
        "offer": {
            "title": "20% off your coffee",
            "body": "Hi {first_name|there}, you're right by {store_name}: show code {code} for 20% off "
            "until {valid_until}.",
            "discount": "20%",
            "deep_link": "https://shop.example.com/offers/coffee?src=geofence",
            "valid_minutes": 30,
            "push": {
                "title": "{first_name|Hey}, coffee's on us (20% off)",
                "body": "You're by {store_name}. Show code {code} by {valid_until}.",
            },
            "sms": {
                "text": "{store_name}: 20% off coffee with code {code} until {valid_until}. Reply STOP to opt out."
            },
        },
        "channels": ["push", "sms", "email"],
        "caps": {"per_user_per_day": 2, "per_user_per_week": 5, "min_gap_minutes": 240, "budget": 10000},
        "priority": 60,
        "holdout_percent": 0,
    },
    {
        "id": "styling-one-click",
        "name": "Shop the look after the styling video",
        "trigger": {"moment": "video_milestone", "video_ids": ["styling-101"], "min_percent": 90},
        "freshness_minutes": 60,
        "offer": {
            "title": "Shop the look: {product_name}",
            "body": "{first_name|You}, loved the look? Get the {product_name} in one click, 15% off with {code}.",
            "discount": "15%",
            "deep_link": "https://shop.example.com/checkout/one-click?look=styling-101",
            "valid_minutes": 1440,
            "products": [
                {"product_id": "linen-shirt-blue", "name": "Blue linen shirt", "category": "shirts"},
                {"product_id": "chino-sand", "name": "Sand chinos", "category": "trousers"},
            ],
            "email": {"subject": "{first_name|Hi}, the look from the video is 15% off"},
        },
        "channels": ["push", "email"],
        "caps": {"per_user_per_day": 1, "min_gap_minutes": 60},
        "priority": 50,
        "holdout_percent": 0,
    },
    {
        # An A/B test: half the shoppers who look at the oat latte in the app are held out (never
        # sent anything) so its lift on orders can be measured. Only the demo views this product:
        # the load generator's shoppers view cold-brew-1l and linen-shirt-blue.
        "id": "oat-latte-ab",
        "name": "Oat latte 10% off after a look in the app (A/B, 50% holdout)",
        "trigger": {"moment": "product_viewed", "store_ids": ["store-001"], "product_ids": ["oat-latte"]},
        "freshness_minutes": 30,
        "offer": {
            "title": "10% off the {product_name}",
            "body": "{first_name|Hi}, the {product_name} at {store_name} is 10% off with code {code} "
            "until {valid_until}.",
            "discount": "10%",
            "deep_link": "https://shop.example.com/products/oat-latte?src=ab",
            "valid_minutes": 120,
            "products": [{"product_id": "oat-latte", "name": "Oat latte", "category": "coffee"}],
            "email": {"subject": "{first_name|Hi}, your oat latte is 10% off today"},
        },
        "channels": ["email"],
        "caps": {"per_user_per_day": 1},
        "priority": 40,
        "holdout_percent": 50,
    },
]


VIDEOS: list[dict[str, Any]] = [
    {
        "video_id": "styling-101",
        "title": "Three ways to wear a linen shirt",
        "length_seconds": 240,
        "kind": "shoppable",
        "product_ids": ["linen-shirt-blue", "chino-sand"],
    },
]


def seed(container: Any) -> dict[str, Any]:
    """Write the demo data; returns the QR codes with their signed tokens."""
    from chalicelib.domain.errors import InvalidInput

    admin = container.admin
    admin.create_app({"name": "demo"}, write_key=DEMO_WRITE_KEY)
    for store in STORES:  # with their geofences (circles; dwell after the default 3 minutes)
        try:
            container.store_admin.create(dict(store))
        except InvalidInput:  # already there
            container.store_admin.update(
                store["store_id"], {k: v for k, v in store.items() if k != "store_id"}
            )
    codes = [admin.create_qr_code(**qr) for qr in QR_CODES]
    for video in VIDEOS:  # milestones of a shoppable video are I-want-to-buy moments
        try:
            container.video_admin.create(dict(video))
        except InvalidInput:
            container.video_admin.update(
                video["video_id"], {k: v for k, v in video.items() if k != "video_id"}
            )
    for campaign in CAMPAIGNS:
        try:
            container.campaign_admin.create(campaign)
        except InvalidInput:  # already there (a second `make run` against the same moto)
            container.campaign_admin.replace(campaign["id"], campaign)
    return {"stores": STORES, "qr_codes": codes, "campaigns": [c["id"] for c in CAMPAIGNS]}
