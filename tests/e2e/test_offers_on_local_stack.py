"""Issue #3's acceptance on the real local stack: offers reach moto's SNS/SES once, and every
offer not sent is on the ledger with its reason. Also runs `make demo` against the stack."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from devstack import outbox
from devstack.demo import zone_at

pytestmark = pytest.mark.e2e
AUTH = ("demo-write-key", "")
ADMIN = {"Authorization": "Bearer demo-admin-token"}
DAY = zone_at(set(range(10, 19)))
NIGHT = zone_at({22, 23, 0, 1, 2, 3, 4, 5})


def post(stack, path, payload):
    response = requests.post(f"{stack.base_url}{path}", json=payload, auth=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def shopper(stack, zone=DAY, push=True, email=None):
    user = f"e2e-{uuid.uuid4().hex[:8]}"
    traits = {"first_name": "Ana", "timezone": zone, "consents": {"push": push, "email": bool(email)}}
    if email:
        traits["email"] = email
    post(
        stack, "/v1/identify", {"userId": user, "traits": traits, "timestamp": datetime.now(UTC).isoformat()}
    )
    if push:
        post(stack, "/v1/devices", {"userId": user, "platform": "ios", "token": f"tok-{user}"})
    return user


AT_COFFEE = {"store_id": "store-001", "latitude": 37.7936, "longitude": -122.3958, "accuracy_m": 10}
UP_THE_STREET = {**AT_COFFEE, "latitude": 37.7951}  # 170 m north: beyond the fence's exit margin


def geofence(user, message_id=None, minutes_ago=0.0, event="Geofence Entered", where=AT_COFFEE):
    """An SDK's geofence report, with the phone's fix (the server checks it against the fence)."""
    return {
        "userId": user,
        "event": event,
        "messageId": message_id or uuid.uuid4().hex,
        "timestamp": (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(),
        "properties": where,
    }


def leave_and_wait(stack, user):
    post(stack, "/v1/track", geofence(user, minutes_ago=6, event="Geofence Exited", where=UP_THE_STREET))
    time.sleep(1.0)  # the worker sees the exit before the next entry


def ledger(stack, user, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    records: list = []
    while time.monotonic() < deadline:
        records = requests.get(
            f"{stack.base_url}/admin/users/{user}/offers", headers=ADMIN, timeout=10
        ).json()["offers"]
        if len(records) >= count and all(r["status"] not in ("claimed", "retry") for r in records):
            return sorted(records, key=lambda r: r["created_at"])
        time.sleep(0.05)
    return sorted(records, key=lambda r: r["created_at"])


def pushes_to(stack, user):
    return [
        p
        for p in outbox.sent_messages(stack.moto_url)["push"]
        if user in json.dumps(p.get("payload")) or user in p.get("endpoint", "")
    ]


def test_entry_sends_one_push_even_when_delivered_three_times(local_stack):
    user = shopper(local_stack)
    before = outbox.sent_messages(local_stack.moto_url)
    event = geofence(user, f"g-{user}")
    started = time.monotonic()
    for _ in range(3):
        post(local_stack, "/v1/track", event)
    seen = []
    while time.monotonic() - started < 5 and not seen:
        seen = outbox.sent_since(local_stack.moto_url, before)["push"]
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    assert len(seen) == 1, local_stack.logs()
    print(f"POST to push visible in moto: {elapsed * 1000:.0f} ms")  # the target (<= 1 s) is benchmarked
    time.sleep(1.0)  # the two redeliveries have gone through the pump by now
    assert len(outbox.sent_since(local_stack.moto_url, before)["push"]) == 1
    [record] = ledger(local_stack, user, 1)
    assert record["status"] == "sent" and record["offer_id"] in json.dumps(seen[0]["payload"])


def test_second_entry_inside_the_gap_is_min_gap_and_sends_nothing(local_stack):
    user = shopper(local_stack)
    post(local_stack, "/v1/track", geofence(user, minutes_ago=9))
    ledger(local_stack, user, 1)
    leave_and_wait(local_stack, user)
    before = outbox.sent_messages(local_stack.moto_url)
    post(local_stack, "/v1/track", geofence(user))
    records = ledger(local_stack, user, 2)
    assert [(r["status"], r.get("reason")) for r in records][1] == ("suppressed", "min_gap")
    assert outbox.sent_since(local_stack.moto_url, before)["push"] == []


def test_at_night_in_the_shoppers_zone_it_is_quiet_hours(local_stack):
    user = shopper(local_stack, zone=NIGHT)
    post(local_stack, "/v1/track", geofence(user))
    [record] = ledger(local_stack, user, 1)
    assert (record["status"], record["reason"]) == ("suppressed", "quiet_hours")


def test_after_one_click_unsubscribe_it_is_unsubscribed(local_stack):
    user = shopper(local_stack)
    post(local_stack, "/v1/track", geofence(user, minutes_ago=9))
    [first] = ledger(local_stack, user, 1)
    response = requests.post(
        first["unsubscribe_url"],
        data="List-Unsubscribe=One-Click",
        timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    leave_and_wait(local_stack, user)
    post(local_stack, "/v1/track", geofence(user))
    records = ledger(local_stack, user, 2)
    assert records[1]["reason"] == "unsubscribed"


def test_make_demo_plays_a_shoppers_day(local_stack, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps(
            {
                "port": int(local_stack.base_url.rsplit(":", 1)[1]),
                "moto_port": int(local_stack.moto_url.rsplit(":", 1)[1]),
                "qr_codes": local_stack.state["qr_codes"],
            }
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "devstack.demo", "--state-file", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SENT by push" in out and "SENT by email" in out
    assert "(min_gap)" in out and "(quiet_hours)" in out and "(unsubscribed)" in out
    assert "already_redeemed" in out
    # the email's call to action goes through the click-tracking redirect to the offer's link
    assert "Bob taps the offer in his email: 302 to https://" in out, out
    assert "Alice opens her first offer" in out
    assert "What SES and SNS received" in out and "push  " in out
