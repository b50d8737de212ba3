"""Offers end to end in process: campaigns through the admin API, moments through ingest and the
worker, messages in moto's SES/SNS, and the ledger's reasons for every offer not sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from devstack.outbox import sent_in_process
from devstack.seed import CAMPAIGNS


def zone_where_local_hour_is(hours: range) -> str:
    """An Etc/GMT zone whose local hour now falls in ``hours`` (tests must not depend on when
    CI runs: quiet hours are 21:00-08:00 in the shopper's zone)."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        local_hour = (now + timedelta(hours=offset)).hour
        if local_hour in hours:
            # Etc/GMT signs are inverted: Etc/GMT-3 is UTC+3
            return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    raise AssertionError("no zone found")


DAY_ZONE = zone_where_local_hour_is(range(10, 18))
NIGHT_ZONE = zone_where_local_hour_is(range(22, 24))


def ts() -> str:
    return datetime.now(UTC).isoformat()


@pytest.fixture
def coffee(harness):
    response = harness.admin("POST", "/admin/campaigns", {**CAMPAIGNS[0], "id": "coffee"})
    assert response.status_code == 201, response.body
    return json.loads(response.body)


def shopper(
    harness, user: str, *, zone: str = DAY_ZONE, consents=None, device: bool = True, email: str | None = None
):
    traits = {"first_name": "Alice", "timezone": zone, "consents": consents or {"push": True}}
    if email:
        traits["email"] = email
    assert (
        harness.post(
            "/v1/identify", {"userId": user, "messageId": f"id-{user}", "timestamp": ts(), "traits": traits}
        ).status_code
        == 200
    )
    if device:
        response = harness.post(
            "/v1/devices", {"userId": user, "platform": "ios", "token": f"apns-{user}-0001"}
        )
        assert response.status_code == 200, response.body
    harness.pump.drain()


def enter(harness, user: str, message_id: str, store: str = "store-1"):
    response = harness.post(
        "/v1/track",
        {
            "userId": user,
            "event": "Geofence Entered",
            "messageId": message_id,
            "timestamp": ts(),
            "properties": {"store_id": store},
        },
    )
    assert response.status_code == 200
    harness.pump.drain()


def offers(harness, user: str) -> list[dict]:
    response = harness.admin("GET", f"/admin/users/{user}/offers")
    assert response.status_code == 200
    return json.loads(response.body)["offers"]


def pushes():
    return sent_in_process()["push"]


def test_geofence_entry_sends_one_personalised_push(harness, coffee):
    harness.admin(
        "PUT",
        "/admin/campaigns/coffee",
        {**CAMPAIGNS[0], "trigger": {"moment": "geofence_entered", "store_ids": ["store-1"]}},
    )
    shopper(harness, "alice")
    enter(harness, "alice", "g-1")
    sent = pushes()
    assert len(sent) == 1
    [offer] = offers(harness, "alice")
    assert offer["status"] == "sent" and offer["channel"] == "push"
    assert offer["offer_id"] in json.dumps(sent[0])
    assert "Alice" in json.dumps(sent[0])


@pytest.fixture
def coffee_here(harness, coffee):
    body = {**CAMPAIGNS[0], "trigger": {"moment": "geofence_entered", "store_ids": ["store-1"]}}
    assert harness.admin("PUT", "/admin/campaigns/coffee", body).status_code == 200
    return body


def test_the_same_entry_delivered_three_times_sends_one_push(harness, coffee_here):
    shopper(harness, "bob")
    event = {
        "userId": "bob",
        "event": "Geofence Entered",
        "messageId": "dup-g",
        "timestamp": ts(),
        "properties": {"store_id": "store-1"},
    }
    for _ in range(3):
        harness.post("/v1/track", event)
    harness.pump.drain()
    assert len(pushes()) == 1
    assert len(offers(harness, "bob")) == 1


def test_a_second_entry_inside_the_minimum_gap_is_recorded_as_min_gap(harness, coffee_here):
    shopper(harness, "carol")
    enter(harness, "carol", "g-1")
    enter(harness, "carol", "g-2")
    records = sorted(offers(harness, "carol"), key=lambda r: r["created_at"])
    assert [r["status"] for r in records] == ["sent", "suppressed"]
    assert records[1]["reason"] == "min_gap"
    assert len(pushes()) == 1


def test_quiet_hours_in_the_shoppers_zone(harness, coffee_here):
    shopper(harness, "dave", zone=NIGHT_ZONE)
    enter(harness, "dave", "g-1")
    [record] = offers(harness, "dave")
    assert (record["status"], record["reason"]) == ("suppressed", "quiet_hours")
    assert pushes() == []


def test_no_consent_and_no_device_are_recorded(harness, coffee_here):
    shopper(harness, "erin", consents={"email": False}, device=False)
    shopper(harness, "finn", consents={"push": True}, device=False)
    enter(harness, "erin", "g-1")
    enter(harness, "finn", "g-1")
    assert offers(harness, "erin")[0]["reason"] == "no_consent"
    assert offers(harness, "finn")[0]["reason"] == "no_channel"


def test_one_click_unsubscribe_stops_further_offers(harness, coffee_here):
    shopper(harness, "gina", consents={"email": True}, device=False, email="gina@example.com")
    enter(harness, "gina", "g-1")
    [email] = sent_in_process()["email"]
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in email["raw"]
    [record] = offers(harness, "gina")
    token = parse_qs(urlsplit(record["unsubscribe_url"]).query)["token"][0]

    page = harness.client.http.get(f"/v1/unsubscribe?token={token}")
    assert page.status_code == 200 and b"<form" in page.body  # GET only asks
    assert (
        harness.client.http.post(
            f"/v1/unsubscribe?token={token}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=b"List-Unsubscribe=One-Click",
        ).status_code
        == 200
    )
    assert (
        harness.client.http.post(
            f"/v1/unsubscribe?token={token[:-2]}xx", headers={"Content-Type": "text/plain"}, body=b""
        ).status_code
        == 404
    )
    harness.admin("POST", "/admin/campaigns/coffee/pause")
    harness.admin("POST", "/admin/campaigns/coffee/resume")
    enter(harness, "gina", "g-2", store="store-1")
    reasons = [r.get("reason") for r in sorted(offers(harness, "gina"), key=lambda r: r["created_at"])]
    assert reasons[-1] == "unsubscribed"


def test_redeeming_an_offer_once(harness, coffee_here):
    shopper(harness, "hana")
    enter(harness, "hana", "g-1")
    [record] = offers(harness, "hana")
    path = f"/v1/offers/{record['offer_id']}/redeem"
    assert harness.post(path, {"code": "WRONGCODE123"}).status_code == 404
    first = harness.post(path, {"code": record["code"]})
    assert first.status_code == 200, first.body
    again = harness.post(path, {"code": record["code"]})
    assert again.status_code == 409
    assert json.loads(again.body)["reason"] == "already_redeemed"
    assert harness.post(path, {"code": record["code"]}, key=None).status_code == 401


def test_order_with_the_coupon_converts_the_offer(harness, coffee_here):
    shopper(harness, "ivan")
    enter(harness, "ivan", "g-1")
    [record] = offers(harness, "ivan")
    harness.post(
        "/v1/track",
        {
            "userId": "ivan",
            "event": "Order Completed",
            "messageId": "o-1",
            "timestamp": ts(),
            "properties": {"order_id": "o-1", "total": 4.5, "coupon": record["code"]},
        },
    )
    harness.pump.drain()
    assert offers(harness, "ivan")[0]["redeemed_at"]


def test_ses_bounce_suppresses_the_address(harness, coffee_here):
    shopper(harness, "jo", consents={"email": True}, device=False, email="jo@example.com")
    notification = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "jo@example.com"}]},
    }
    event = harness.client.events.generate_sns_event(message=json.dumps(notification))
    harness.client.lambda_.invoke("ses_feedback", event)
    enter(harness, "jo", "g-1")
    assert offers(harness, "jo")[0]["reason"] == "suppressed"
    assert sent_in_process()["email"] == []


def test_campaign_admin_validates_and_manages_status(harness, coffee):
    bad = harness.admin(
        "POST",
        "/admin/campaigns",
        {"name": "x", "trigger": {"moment": "nope"}, "offer": {"title": "{bogus}", "body": "b"}},
    )
    assert bad.status_code == 400
    fields = {e["field"] for e in json.loads(bad.body)["errors"]}
    assert {"trigger.moment", "offer.title"} <= fields
    assert harness.admin("POST", "/admin/campaigns", {**CAMPAIGNS[0], "id": "coffee"}).status_code == 400
    listed = json.loads(harness.admin("GET", "/admin/campaigns").body)["campaigns"]
    assert [c["id"] for c in listed] == ["coffee"]
    assert json.loads(harness.admin("POST", "/admin/campaigns/coffee/pause").body)["status"] == "paused"
    assert json.loads(harness.admin("GET", "/admin/campaigns?status=active").body)["campaigns"] == []
    assert harness.admin("POST", "/admin/campaigns/coffee/explode").status_code == 404
    assert harness.admin("GET", "/admin/campaigns/nope").status_code == 404
    archived = harness.admin("POST", "/admin/campaigns/coffee/archive")
    assert json.loads(archived.body)["status"] == "archived"
    assert harness.admin("POST", "/admin/campaigns/coffee/resume").status_code == 400


def test_device_registration_names_bad_fields(harness):
    response = harness.post("/v1/devices", {"userId": "u", "platform": "windows", "token": "x"})
    assert response.status_code == 400
    assert {e["field"] for e in json.loads(response.body)["errors"]} == {"platform", "token"}
