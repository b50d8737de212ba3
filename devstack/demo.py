"""``make demo``: a scripted shopper's day against the running local stack.

Plays identifies, device registrations, QR scans, geofence entries, a styling video and a
redemption through the public API, waits for the worker, and prints per moment what was
decided and why (from the offer ledger) and what SES/SNS received (from moto). Shoppers are
placed in a time zone where it is daytime now, except one who is deliberately at night.

Then an A/B test, so the dashboard has a lift to show: 64 shoppers look at the oat latte in the
app (campaign ``oat-latte-ab``, 50 % holdout); the treatment half is emailed an offer, the
holdout half is not, and some of each complete an order (every third of the treatment, every
eighth of the holdout, by their place in the group), which last-touch attribution credits to
the offer or the holdout record. About 140 events in three ``/v1/batch`` calls.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.engine.rules import in_holdout
from devstack import outbox
from devstack.config import DEFAULT_STATE_FILE
from devstack.seed import CAMPAIGNS

CITIES = (
    "America/Los_Angeles",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)
WRITE_KEY = "demo-write-key"
# At Bean There Coffee (store-001): the server checks an SDK's geofence report against the fence
AT_COFFEE = {"store_id": "store-001", "latitude": 37.7936, "longitude": -122.3958, "accuracy_m": 10}
# 170 m up the street: beyond the fence's exit margin
UP_THE_STREET = {"store_id": "store-001", "latitude": 37.7951, "longitude": -122.3958, "accuracy_m": 10}
ADMIN = {"Authorization": "Bearer demo-admin-token"}
AB_CAMPAIGN = next(c for c in CAMPAIGNS if c["holdout_percent"] > 0)
AB_PER_GROUP = 32  # the lift needs 30 shoppers per group (chalicelib/domain/reports.py)
AB_VIEW = {"product_id": "oat-latte", "category": "coffee", "store_id": "store-001"}


def zone_at(hours: set[int]) -> str:
    """A city (else an Etc/GMT zone) whose local hour now is one of ``hours``."""
    now = datetime.now(UTC)
    for city in CITIES:
        if now.astimezone(ZoneInfo(city)).hour in hours:
            return city
    for offset in range(-12, 15):
        name = "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
        if now.astimezone(ZoneInfo(name)).hour in hours:
            return name
    return "UTC"


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {"Authorization": self.auth})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return {"status": exc.code, **json.loads(exc.read() or b"{}")}

    def track(self, user: str, event: str, minutes_ago: float = 0, **properties: Any) -> str:
        message_id = f"demo-{uuid.uuid4().hex[:12]}"
        at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        self.call(
            "POST",
            "/v1/track",
            {
                "userId": user,
                "event": event,
                "messageId": message_id,
                "timestamp": at.isoformat(),
                "properties": properties,
            },
        )
        return message_id

    def offers(self, user: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/admin/users/{user}/offers", headers=ADMIN).get("offers", [])

    def batch(self, events: list[dict[str, Any]]) -> None:
        """Events in one ``/v1/batch`` call, as an analytics SDK sends them."""
        at = datetime.now(UTC).isoformat()
        body = [{"messageId": f"demo-{uuid.uuid4().hex[:12]}", "timestamp": at, **e} for e in events]
        answer = self.call("POST", "/v1/batch", {"batch": body})
        if answer.get("accepted") is None or answer.get("rejected"):
            raise RuntimeError(f"/v1/batch refused the demo's events: {answer}")


def wait_for_offer(client: Client, user: str, known: int, timeout: float = 5.0) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = client.offers(user)
        if len(records) > known and records[0]["status"] not in ("claimed", "retry"):
            return records[0]
        time.sleep(0.1)
    return None


def describe(record: dict[str, Any] | None) -> str:
    if record is None:
        return "no campaign matched this moment (nothing to decide)"
    if record["status"] == "sent":
        return f"SENT by {record['channel']}: campaign {record['campaign_id']}, code {record['code']}"
    return f"not sent ({record.get('reason')}): campaign {record['campaign_id']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--state-file",
        default=str(DEFAULT_STATE_FILE),
        help="the running local stack's state file (default .devstack/state.json)",
    )
    args = parser.parse_args(argv)
    state_path = Path(args.state_file)
    if not state_path.exists():
        print(
            "The local stack is not running: start it with `make run` in another terminal.", file=sys.stderr
        )
        return 1
    state = json.loads(state_path.read_text())
    client = Client(f"http://127.0.0.1:{state['port']}")
    moto_url = f"http://127.0.0.1:{state['moto_port']}"
    run = uuid.uuid4().hex[:6]
    day, night = zone_at(set(range(10, 19))), zone_at({22, 23, 0, 1, 2, 3, 4, 5})
    alice, bob, carol, dan = (f"{name}-{run}" for name in ("alice", "bob", "carol", "dan"))
    print(
        f"A shopper's day (run {run}). Alice, Bob and Dan are in {day} (daytime); Carol is in {night} (night).\n"
    )

    def person(
        user: str, zone: str, consents: dict[str, bool], email: str | None = None, push: bool = True
    ) -> None:
        traits: dict[str, Any] = {
            "first_name": user.split("-")[0].title(),
            "timezone": zone,
            "consents": consents,
        }
        if email:
            traits["email"] = email
        client.call(
            "POST",
            "/v1/identify",
            {"userId": user, "traits": traits, "timestamp": datetime.now(UTC).isoformat()},
        )
        if push:
            client.call(
                "POST", "/v1/devices", {"userId": user, "platform": "ios", "token": f"demo-token-{user}"}
            )

    person(alice, day, {"push": True, "email": True}, f"{alice}@example.com")
    person(bob, day, {"email": True}, f"{bob}@example.com", push=False)
    person(carol, night, {"push": True})
    person(dan, day, {"push": True, "email": True}, f"{dan}@example.com")
    time.sleep(0.5)
    before = outbox.sent_messages(moto_url)
    qr = state["qr_codes"][1]["code"] if state.get("qr_codes") else "AAAAAAAAAAAAAAAAAAAAAA"
    # (who, what they do, event, minutes ago, properties); geofence reports carry the phone's fix,
    # which the server checks against the store's fence
    steps: list[tuple[str, str, str, float, dict[str, Any]]] = [
        (alice, "scans the shirt's QR code in the app", "QR Code Scanned", 0, {"code": qr}),
        (alice, "walks into Bean There Coffee's geofence", "Geofence Entered", 9, AT_COFFEE),
        (alice, "walks on up the street", "Geofence Exited", 6, UP_THE_STREET),
        (alice, "comes back a few minutes later", "Geofence Entered", 0, AT_COFFEE),
        (
            bob,
            "watches 90% of the styling video",
            "Video Milestone Reached",
            0,
            {"video_id": "styling-101", "percent": 90},
        ),
        (carol, "passes the coffee shop late at night", "Geofence Entered", 0, AT_COFFEE),
    ]
    for user, what, event, minutes_ago, props in steps:
        known = len(client.offers(user))
        started = time.monotonic()
        client.track(user, event, minutes_ago, **props)
        if event == "Geofence Exited":
            time.sleep(1.0)  # let the worker see her leave before she comes back
            print(f"- {user.split('-')[0].title()} {what}: a geofence exit (no offer for leaving)")
            continue
        record = wait_for_offer(client, user, known, timeout=3.0)
        took = f"{(time.monotonic() - started) * 1000:.0f} ms" if record else "-"
        print(f"- {user.split('-')[0].title()} {what}: {describe(record)} [{took}]")
    # Dan unsubscribes with the one-click link from an email, then walks past the shop
    dan_token = _token_for(client, dan)
    if dan_token:
        request = urllib.request.Request(
            f"{client.base}/v1/unsubscribe?token={dan_token}",
            data=b"List-Unsubscribe=One-Click",
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - loopback
        client.track(dan, "Geofence Exited", 6, **UP_THE_STREET)
        time.sleep(1.0)
        known = len(client.offers(dan))
        client.track(dan, "Geofence Entered", **AT_COFFEE)
        print(
            f"- Dan clicks one-click unsubscribe, then enters the geofence: "
            f"{describe(wait_for_offer(client, dan, known, 3.0))}"
        )
    alice_offer = next((o for o in client.offers(alice) if o["status"] == "sent"), None)
    if alice_offer:  # her app reports the open (Segment-style track with the offer id)
        client.track(alice, "Offer Opened", offer_id=alice_offer["offer_id"])
        print("- Alice opens her first offer in the app (Offer Opened)")
    bob_offer = next((o for o in client.offers(bob) if o["status"] == "sent"), None)
    click = _click_link(outbox.sent_since(moto_url, before), f"{bob}@example.com")
    if click:
        status, location = _follow_once(click)
        print(f"- Bob taps the offer in his email: {status} to {location} (click counted once)")
    if bob_offer:
        result = client.call(
            "POST", f"/v1/offers/{bob_offer['offer_id']}/redeem", {"code": bob_offer["code"]}
        )
        again = client.call("POST", f"/v1/offers/{bob_offer['offer_id']}/redeem", {"code": bob_offer["code"]})
        print(
            f"- Bob buys the look in one click: redeemed={result.get('redeemed')}; "
            f"a second redemption is refused ({again.get('reason')})"
        )
    time.sleep(0.3)
    sent = outbox.sent_since(moto_url, before)
    print("\nWhat SES and SNS received during the day:")
    for message in sent["push"]:
        print(f"  push  {message.get('title')!r}: {message.get('body')!r}")
    for message in sent["email"]:
        print(f"  email to {message.get('recipient')}: {message.get('subject')!r}")
    for message in sent["sms"]:
        print(f"  sms   to {message.get('recipient')}: {message.get('body')!r}")
    if not any(sent.values()):
        print("  (nothing)")
    print()
    ab_test(client, run, day)
    return 0


def ab_shoppers(run: str, per_group: int = AB_PER_GROUP) -> dict[str, list[str]]:
    """Shopper ids for the A/B test, ``per_group`` of each group: the campaign's holdout is a
    hash of campaign and shopper (chalicelib/engine/rules.py), so the demo picks, among ids it
    makes up, enough of each for the lift (the engine still decides; the demo checks the
    ledger). A real test would just wait for enough shoppers."""
    groups: dict[str, list[str]] = {"treatment": [], "holdout": []}
    n = 0
    while min(len(g) for g in groups.values()) < per_group:
        user = f"ab-{run}-{n:03d}"
        held_out = in_holdout(AB_CAMPAIGN["id"], f"user:{user}", AB_CAMPAIGN["holdout_percent"])
        group = groups["holdout" if held_out else "treatment"]
        if len(group) < per_group:
            group.append(user)
        n += 1
    return groups


def converts(group: str, place: int) -> bool:
    """Who completes an order: every third of the treatment group, every eighth of the holdout."""
    return place % (3 if group == "treatment" else 8) == 0


def ab_test(client: Client, run: str, zone: str) -> None:
    """The A/B part of the day (module docstring), in a few printed lines."""
    started = time.monotonic()
    picked = ab_shoppers(run)
    users = sorted(u for members in picked.values() for u in members)
    campaign = AB_CAMPAIGN["id"]
    # Each shopper's identify (email consent) and then the product view: the worker applies a
    # queue batch in order, so the consent is there when the view is decided
    pairs = [
        [
            {
                "type": "identify",
                "userId": user,
                "traits": {
                    "first_name": f"Shopper {user.rsplit('-', 1)[1]}",
                    "email": f"{user}@example.com",
                    "timezone": zone,
                    "consents": {"email": True},
                },
            },
            {"type": "track", "userId": user, "event": "Product Viewed", "properties": AB_VIEW},
        ]
        for user in users
    ]
    half = len(pairs) // 2  # a /v1/batch takes at most 100 events
    for chunk in (pairs[:half], pairs[half:]):
        client.batch([event for pair in chunk for event in pair])
    decided: dict[str, dict[str, Any]] = {}

    def final(user: str) -> bool:
        record = next((o for o in client.offers(user) if o["campaign_id"] == campaign), None)
        if record is None or record["status"] in ("claimed", "retry"):
            return False
        decided[user] = record
        return True

    _wait_each(users, final, "a decision")
    groups: dict[str, list[str]] = {"treatment": [], "holdout": []}
    for user in users:  # the ledger says who was held out
        groups["holdout" if decided.get(user, {}).get("status") == "holdout" else "treatment"].append(user)
    buyers = {
        group: [u for place, u in enumerate(members) if converts(group, place)]
        for group, members in groups.items()
    }
    # Orders at the store, no coupon: attributed to the shopper's latest valid offer, sent or held out
    client.batch(
        [
            {
                "type": "track",
                "userId": user,
                "event": "Order Completed",
                "properties": {
                    "order_id": f"order-{user}",
                    "store_id": "store-001",
                    "total": 4.8,
                    "products": [{"product_id": "oat-latte", "category": "coffee"}],
                },
            }
            for user in sorted(buyers["treatment"] + buyers["holdout"])
        ]
    )

    def attributed(user: str) -> bool:
        return any(o.get("converted_at") for o in client.offers(user))

    _wait_each(sorted(buyers["treatment"] + buyers["holdout"]), attributed, "an attributed order")
    statuses = [decided[u]["status"] for u in groups["treatment"] if u in decided]
    not_sent = sorted({s for s in statuses if s != "sent"})
    events = 2 * len(users) + len(buyers["treatment"]) + len(buyers["holdout"])
    print(
        f"A/B test {campaign} ({AB_CAMPAIGN['holdout_percent']}% holdout): {len(users)} shoppers look at the "
        f"oat latte in the app: {statuses.count('sent')} sent an offer by email, "
        f"{len(groups['holdout'])} held out (never sent)"
        + (f", {len(statuses) - statuses.count('sent')} not sent ({', '.join(not_sent)})" if not_sent else "")
    )
    print(
        f"- orders, credited to the latest offer (last touch): treatment "
        f"{len(buyers['treatment'])}/{len(groups['treatment'])} converted, holdout "
        f"{len(buyers['holdout'])}/{len(groups['holdout'])} [{events} events in 3 batches, "
        f"{time.monotonic() - started:.1f} s]"
    )


def _wait_each(users: list[str], ready: Any, what: str, timeout: float = 60.0) -> None:
    """Until ``ready(user)`` for every user, in order (the worker takes them about in order, so
    each pass goes on from the first one not ready yet); says on stderr if some never were."""
    deadline = time.monotonic() + timeout
    pending = list(users)
    while pending and time.monotonic() < deadline:
        while pending and ready(pending[0]):
            pending.pop(0)
        if pending:
            time.sleep(0.3)
    if pending:
        print(f"  ({len(pending)} A/B shoppers still without {what} after {timeout:.0f} s)", file=sys.stderr)


PHONE_BROWSER = {
    "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Accept-Language": "en-US,en;q=0.9",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}


def _click_link(sent: dict[str, Any], recipient: str) -> str | None:
    """The tracked /c/ link in the email sent to ``recipient``."""
    import re

    for message in sent.get("email", []):
        if message.get("recipient") == recipient:
            found = re.search(r'https?://[^"\s<>]+/c/[A-Za-z0-9_.\-]+', message.get("html") or "")
            if found:
                return found.group(0)
    return None


def _follow_once(url: str) -> tuple[int, str]:
    """Open ``url`` as a phone's browser would, without following the redirect."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=PHONE_BROWSER), timeout=10) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def _token_for(client: Client, user: str) -> str | None:
    """Dan has no offer email yet: give him one by letting him enter once, then take the
    unsubscribe link from the ledger (it is the link his email carries)."""
    known = len(client.offers(user))
    client.track(user, "Geofence Entered", 9, **AT_COFFEE)
    record = wait_for_offer(client, user, known, 3.0)
    print(f"- Dan enters the geofence: {describe(record)}")
    if not record or "unsubscribe_url" not in record:
        return None
    return str(record["unsubscribe_url"]).split("token=", 1)[1]


if __name__ == "__main__":
    sys.exit(main())
