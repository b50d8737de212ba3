"""Rate limits on ingest (429 + Retry-After, nothing queued) and the daily SMS spend ceiling
(an SMS over it is recorded as suppressed ``sms_budget``, counted in DynamoDB)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3

from chalicelib import wiring
from chalicelib.adapters.dynamodb_offers import DynamoDBSmsBudget
from chalicelib.domain.clock import SystemClock
from chalicelib.rate_limit import IngestLimits
from devstack.outbox import sent_in_process
from devstack.seed import CAMPAIGNS
from tests.integration.test_offers import enter, offers, shopper


def track(device: str, message_id: str) -> dict:
    return {
        "anonymousId": device,
        "event": "Product Viewed",
        "messageId": message_id,
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": {"product_id": "p1"},
    }


def test_a_device_over_its_rate_gets_429_with_retry_after_and_nothing_is_queued(harness):
    wiring.override(ingest_limits=IngestLimits(0, 3, SystemClock()))
    for i in range(3):
        assert harness.post("/v1/track", track("noisy", f"n-{i}")).status_code == 200

    refused = harness.post("/v1/track", track("noisy", "n-3"))
    batch = harness.post("/v1/batch", {"batch": [{**track("noisy", "n-4"), "type": "track"}]})

    assert refused.status_code == 429 and batch.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    body = json.loads(refused.body)
    assert body["scope"] == "device" and body["retryable"] is True and "rate limit" in body["error"]
    assert harness.post("/v1/track", track("quiet", "q-1")).status_code == 200
    assert harness.queued() == 4


def test_an_app_over_its_rate_gets_429_for_the_whole_batch(harness):
    wiring.override(ingest_limits=IngestLimits(5, 0, SystemClock()))  # bursts of 10 events
    events = [{**track(f"d{i}", f"b-{i}"), "type": "track"} for i in range(10)]
    assert harness.post("/v1/batch", {"batch": events}).status_code == 200

    refused = harness.post("/v1/batch", {"batch": [{**track("d0", "b-10"), "type": "track"}] * 3})

    assert refused.status_code == 429
    assert json.loads(refused.body)["scope"] == "key"
    assert harness.queued() == 10


def test_sms_over_the_daily_budget_is_recorded_as_sms_budget_and_not_sent(harness):
    table = harness.outputs["TableName"]
    wiring.override(sms_budget=DynamoDBSmsBudget(boto3.client("dynamodb"), table, max_per_day=1))
    body = {**CAMPAIGNS[0], "id": "sms-only", "channels": ["sms"], "caps": {}}
    body["trigger"] = {"moment": "geofence_entered", "store_ids": ["store-1"]}
    assert harness.admin("POST", "/admin/campaigns", body).status_code == 201
    for user, phone in (("sam", "+15550100001"), ("sue", "+15550100002")):
        shopper(harness, user, consents={"sms": True}, device=False)
        identify = {"userId": user, "messageId": f"ph-{user}", "timestamp": datetime.now(UTC).isoformat()}
        harness.post("/v1/identify", {**identify, "traits": {"phone": phone}})
        harness.pump.drain()
        enter(harness, user, f"g-{user}")

    assert len(sent_in_process()["sms"]) == 1
    [sam], [sue] = offers(harness, "sam"), offers(harness, "sue")
    assert sam["status"] == "sent"
    assert (sue["status"], sue["reason"]) == ("suppressed", "sms_budget")
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert harness.item(f"SMSBUDGET#{day}", "COUNT")["sent"] == 1
