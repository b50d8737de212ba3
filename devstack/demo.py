"""``make demo``: a scripted shopper's day against the running local stack.

Plays identifies, device registrations, QR scans, geofence entries, a styling video and a
redemption through the public API, waits for the worker, and prints per moment what was
decided and why (from the offer ledger) and what SES/SNS received (from moto). Shoppers are
placed in a time zone where it is daytime now, except one who is deliberately at night.
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

from devstack import outbox
from devstack.config import DEFAULT_STATE_FILE

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
    print("\nWhat SES and SNS received during the demo:")
    for message in sent["push"]:
        print(f"  push  {message.get('title')!r}: {message.get('body')!r}")
    for message in sent["email"]:
        print(f"  email to {message.get('recipient')}: {message.get('subject')!r}")
    for message in sent["sms"]:
        print(f"  sms   to {message.get('recipient')}: {message.get('body')!r}")
    if not any(sent.values()):
        print("  (nothing)")
    return 0


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
