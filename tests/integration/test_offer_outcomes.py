"""Offer outcome counters on moto, through the real routes and worker: a sent offer opened (SDK),
clicked (the /c/ redirect), delivered (SES notification) and redeemed, with every message
delivered again, counts each outcome once; link scanners are redirected but not counted."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from chalicelib.domain.offer_stats import split_name
from devstack.seed import CAMPAIGNS
from tests.integration.test_offers import enter, offers, pushes, shopper, ts

PHONE_BROWSER = {
    "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Accept-Language": "en-GB,en;q=0.9",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}


@pytest.fixture
def coffee_here(harness):
    body = {
        **CAMPAIGNS[0],
        "id": "coffee",
        "trigger": {"moment": "geofence_entered", "store_ids": ["store-1"]},
    }
    response = harness.admin("POST", "/admin/campaigns", body)
    assert response.status_code == 201, response.body
    return body


def outcome_totals(harness, campaign_id: str = "coffee") -> Counter[str]:
    totals: Counter[str] = Counter()
    for row in harness.scan(f"STAT#offers#{campaign_id}"):
        for name, value in row.items():
            if name not in ("PK", "SK"):
                totals[split_name(name)[0]] += int(value)
    return totals


def track(harness, user: str, event: str, message_id: str, **properties) -> None:
    body = {
        "userId": user,
        "event": event,
        "messageId": message_id,
        "timestamp": ts(),
        "properties": properties,
    }
    response = harness.post("/v1/track", body)
    assert response.status_code == 200, response.body


def test_each_outcome_of_a_sent_offer_counts_once_however_often_it_is_reported(harness, coffee_here):
    shopper(harness, "olga")
    enter(harness, "olga", "g-olga")
    [record] = offers(harness, "olga")
    assert record["status"] == "sent"
    offer_id = record["offer_id"]
    [push] = pushes()
    click_url = re.search(r"http://127\.0\.0\.1:8000/c/[A-Za-z0-9_\-.]+", json.dumps(push))
    assert click_url is not None, push
    path = click_url.group(0).removeprefix("http://127.0.0.1:8000")

    # opened twice by the SDK, the entry redelivered
    track(harness, "olga", "Offer Opened", "open-1", offer_id=offer_id)
    track(harness, "olga", "Offer Opened", "open-2", offer_id=offer_id)
    enter(harness, "olga", "g-olga")
    # a mail scanner follows the link (redirected, not counted), then Olga clicks it twice
    scanner = harness.client.http.get(path, headers={"User-Agent": "python-requests/2.32"})
    assert scanner.status_code == 302 and scanner.headers["Location"] == record["deep_link"]
    harness.pump.drain()
    assert outcome_totals(harness)["clicked"] == 0
    for _ in range(2):
        clicked = harness.client.http.get(path, headers=PHONE_BROWSER)
        assert clicked.status_code == 302 and clicked.headers["Location"] == record["deep_link"]
    harness.pump.drain()
    # redeemed at the till, and the same code again
    for _ in range(2):
        harness.post(f"/v1/offers/{offer_id}/redeem", {"code": record["code"]})
    totals = outcome_totals(harness)
    assert {k: totals[k] for k in ("decided", "sent", "opened", "clicked", "engaged", "redeemed")} == {
        "decided": 1,
        "sent": 1,
        "opened": 1,
        "clicked": 1,
        "engaged": 1,
        "redeemed": 1,
    }
    assert totals["converted:treatment"] == 1 and totals["converters:treatment"] == 1
    assert totals["users:treatment"] == 1 and totals["holdout"] == 0
    [after] = offers(harness, "olga")
    assert after["engaged_at"] == after["opened_at"] <= after["clicked_at"] <= after["redeemed_at"]


def test_a_forged_or_tampered_click_link_is_a_404_page_and_counts_nothing(harness, coffee_here):
    shopper(harness, "pia")
    enter(harness, "pia", "g-pia")
    [push] = pushes()
    path = re.search(r"/c/[A-Za-z0-9_\-.]+", json.dumps(push)).group(0)
    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    for bad in (tampered, "/c/not-a-token", "/c/" + "x" * 2000):
        page = harness.client.http.get(bad, headers=PHONE_BROWSER)
        assert page.status_code == 404 and "Location" not in page.headers
        assert page.headers["Content-Type"].startswith("text/html")
    harness.pump.drain()
    assert outcome_totals(harness)["clicked"] == 0


def test_an_ses_delivery_notification_counts_delivered_once(harness, coffee_here):
    body = {**coffee_here, "channels": ["email"]}
    assert harness.admin("PUT", "/admin/campaigns/coffee", body).status_code == 200
    shopper(harness, "quinn", consents={"email": True}, device=False, email="quinn@example.com")
    enter(harness, "quinn", "g-quinn")
    [record] = offers(harness, "quinn")
    assert record["status"] == "sent" and record["channel"] == "email"
    notification = {
        "eventType": "Delivery",
        "mail": {"timestamp": ts(), "tags": {"campaign": ["coffee"], "code": [record["code"]]}},
        "delivery": {"timestamp": ts(), "recipients": ["quinn@example.com"]},
    }
    for _ in range(2):
        event = harness.client.events.generate_sns_event(message=json.dumps(notification))
        harness.client.lambda_.invoke("ses_feedback", event)
    totals = outcome_totals(harness)
    assert (totals["sent"], totals["delivered"], totals["engaged"]) == (1, 1, 0)
    [after] = offers(harness, "quinn")
    assert after["delivered_at"]


def test_the_first_conversion_joins_the_cohort_of_the_first_decision_in_dynamodb(harness):
    """The ledger's transactions on moto: users and converters in the first decision's bucket,
    the conversion's own counters in its hour, exactly once; a SEEN item from before cohorts
    falls back to the conversion's bucket; a conversion in the very bucket of the first
    decision is one ADD on one item (a transaction may touch an item once)."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.adapters.dynamodb_offers import DynamoDBOfferLedger
    from chalicelib.adapters.dynamodb_table import serialize
    from chalicelib.domain.clock import hour_bucket, iso
    from chalicelib.domain.errors import Conflict
    from chalicelib.domain.offer_stats import conversion_stat, decision_stat, stat_pk, stat_shard
    from chalicelib.domain.profile import Subject

    table = harness.outputs["TableName"]
    ledger = DynamoDBOfferLedger(harness.dynamodb, table)
    t0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    valid = iso(t0 + timedelta(days=30))

    def decide(user: str, offer: str, store: str, at: datetime) -> dict:
        record = {
            "offer_id": offer,
            "campaign_id": "cohort",
            "status": "holdout",
            "store_id": store,
            "moment": "qr_scanned",
            "valid_until": valid,
            "created_at": iso(at),
        }
        ledger.record(Subject.user(user), offer, record, 2_000_000_000, decision_stat(record, at))
        return record

    def convert(user: str, record: dict, at: datetime) -> None:
        stat = conversion_stat(record, at, redeemed=False)
        ledger.mark_converted(
            Subject.user(user), record["offer_id"], "converted_at", iso(at), ("holdout",), "o", stat
        )

    def item(store: str, at: datetime) -> dict:
        return harness.item(stat_pk("cohort", stat_shard(store)), f"{hour_bucket(at)}#{store}") or {}

    first = decide("ann", "of_a", "s1", t0)
    second = decide("ann", "of_b", "s2", t0 + timedelta(days=7))
    later = t0 + timedelta(days=7, hours=2)
    convert("ann", second, later)
    with pytest.raises(Conflict):
        convert("ann", second, later)  # the same conversion again changes nothing
    convert("ann", first, later)  # a second conversion: not the shopper's first

    assert item("s1", t0) == {
        "PK": stat_pk("cohort", stat_shard("s1")),
        "SK": f"{hour_bucket(t0)}#s1",
        "decided|qr_scanned": 1,
        "holdout|qr_scanned": 1,
        "users:holdout|qr_scanned": 1,
        "converters:holdout|qr_scanned": 1,
    }
    assert item("s2", later)["converted:holdout|qr_scanned"] == 1
    assert not any(k.startswith("converters:") for k in item("s2", later))
    assert item("s1", later)["converted:holdout|qr_scanned"] == 1
    seen = harness.item("USER#ann", "SEEN#cohort")
    assert seen is not None and (seen["first_hour"], seen["first_store"]) == (hour_bucket(t0), "s1")

    # converting in the first decision's own hour and store: one item, one ADD
    bob = decide("bob", "of_c", "s3", t0)
    convert("bob", bob, t0 + timedelta(minutes=10))
    assert item("s3", t0)["converters:holdout|qr_scanned"] == 1
    assert item("s3", t0)["converted:holdout|qr_scanned"] == 1

    # a shopper whose SEEN item predates cohorts (group only): the conversion's own bucket
    old = decide("cy", "of_d", "s4", t0)
    harness.dynamodb.put_item(
        TableName=table, Item=serialize({"PK": "USER#cy", "SK": "SEEN#cohort", "group": "holdout"})
    )
    convert("cy", old, later)
    assert item("s4", later)["converters:holdout|qr_scanned"] == 1
    assert "converters:holdout|qr_scanned" not in item("s4", t0)


def test_store_less_offers_spread_over_the_shards_and_read_back_as_one_item(harness):
    from datetime import UTC, datetime, timedelta

    from chalicelib.adapters.dynamodb_offers import DynamoDBOfferLedger
    from chalicelib.adapters.dynamodb_stats import DynamoDBStats
    from chalicelib.domain.clock import hour_bucket, iso
    from chalicelib.domain.offer_stats import conversion_stat, decision_stat
    from chalicelib.domain.profile import Subject

    ledger = DynamoDBOfferLedger(harness.dynamodb, harness.outputs["TableName"])
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    records = {}
    for n in range(12):  # video moments: no store
        record = {
            "offer_id": f"of_{n:024x}",
            "campaign_id": "video",
            "status": "holdout",
            "moment": "video_completed",
            "valid_until": iso(at + timedelta(days=1)),
        }
        ledger.record(
            Subject.user(f"v{n}"), record["offer_id"], record, 2_000_000_000, decision_stat(record, at)
        )
        records[f"v{n}"] = record
    later = at + timedelta(hours=5)
    for user in ("v0", "v1", "v2"):
        stat = conversion_stat(records[user], later, redeemed=False)
        ledger.mark_converted(
            Subject.user(user), records[user]["offer_id"], "converted_at", iso(later), ("holdout",), "o", stat
        )

    partitions = {row["PK"] for row in harness.scan("STAT#offers#video#")}
    assert len(partitions) > 1  # no single hot item per campaign and hour
    got = DynamoDBStats(harness.dynamodb, harness.outputs["TableName"]).offers(
        ["video"], hour_bucket(at), hour_bucket(later)
    )
    assert got["video"] == [
        (
            f"{hour_bucket(at)}#-",
            {
                "decided|video_completed": 12,
                "holdout|video_completed": 12,
                "users:holdout|video_completed": 12,
                "converters:holdout|video_completed": 3,
            },
        ),
        (f"{hour_bucket(later)}#-", {"converted:holdout|video_completed": 3}),
    ]
