"""Issue #6's acceptance on moto: two scripted days of shoppers through the real routes (batch
ingest, worker, /c/ click links, the redemption API), every SDK message delivered again (within
the worker's dedupe window), every link followed and every code redeemed twice, then every
report compared with answers computed independently from the script's own raw events.

The scenario: two stores in different time zones (Tokyo, whole hours; Kolkata, UTC+05:30), two
campaigns on two moment types (QR scans at the Tokyo store by email with a 50 % holdout large
enough for a lift interval; geofence entries at the Kolkata store by push), product views (a
moment type no campaign triggers on), orders with and without the offer's code, opens from the
SDK, clicks through the tracked link and from the SDK, events spread over hours of two UTC days
by a fixed clock, and a later-day cohort.

The expected numbers never come from the counters or the ledger: ``Expected`` replays the script's
raw events with the few rules the scenario exercises (one decision per moment: held out by the
campaign's deterministic split, else sent, else one offer per store visit; first open/click/
redemption of a sent offer; last-touch orders; cohorts by first decision) and the documented
bucketing (UTC hour; peak hours at the local hour of the bucket's midpoint).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.clock import FixedClock, iso
from chalicelib.domain.offers import offer_id_for, redemption_code
from chalicelib.domain.profile import Subject
from chalicelib.engine import rules
from tests.integration.test_offer_outcomes import PHONE_BROWSER

TOKYO = {
    "store_id": "store-1",  # the harness's QR code is at store-1
    "name": "Kiosk Shibuya",
    "lat": 35.658,
    "lon": 139.7016,
    "radius_m": 60,
    "timezone": "Asia/Tokyo",
    "opening_hours": "24/7",
}
KOLKATA = {
    "store_id": "store-2",
    "name": "Park Street",
    "lat": 22.5535,
    "lon": 88.3520,
    "radius_m": 60,
    "timezone": "Asia/Kolkata",  # UTC+05:30: peak hours are bucketed to within 30 minutes
    "opening_hours": "24/7",
}
OFFER = {"discount": "10%", "deep_link": "https://shop.example.com/deal", "valid_minutes": 600}
SCAN_DEAL = {
    "id": "scan-deal",
    "name": "Scan deal",
    "trigger": {"moment": "qr_scanned", "store_ids": ["store-1"]},
    "offer": {"title": "Hi {first_name|there}", "body": "10% off what you just scanned", **OFFER},
    "channels": ["email"],
    "caps": {"per_user_per_day": 1},
    "holdout_percent": 50,
}
WALK_IN = {
    "id": "walk-in",
    "name": "Walk in",
    "trigger": {"moment": "geofence_entered", "store_ids": ["store-2"]},
    "offer": {"title": "Welcome in", "body": "Chai on us", **OFFER},
    "channels": ["push"],
}
STORE_OF = {"scan-deal": "store-1", "walk-in": "store-2"}
ZONES = {"store-1": ZoneInfo("Asia/Tokyo"), "store-2": ZoneInfo("Asia/Kolkata")}
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
D1 = datetime(2026, 11, 3, tzinfo=UTC)  # a Tuesday
D2 = D1 + timedelta(days=1)
RANGE = "from=2026-11-03&to=2026-11-04"
VISIT_GAP = timedelta(hours=2)  # store entries closer than this are one visit (use_cases/offers)
# An entry the geofence detector confirms is its own moment, with its own message id (that of the
# SDK's event + "#{moment}#{store}": process_events.derived_event); the offer is named after it.
DETECTED = "#geofence_entered#store-2"


def held_out(campaign: str, user: str) -> bool:
    percent = SCAN_DEAL["holdout_percent"] if campaign == "scan-deal" else 0
    return rules.in_holdout(campaign, f"user:{user}", percent)


def split(prefix: str, each: int) -> tuple[list[str], list[str]]:
    """``each`` shoppers in the treatment and ``each`` in the holdout of scan-deal."""
    treated: list[str] = []
    control: list[str] = []
    n = 0
    while len(treated) < each or len(control) < each:
        user = f"{prefix}{n:03d}"
        group = control if held_out("scan-deal", user) else treated
        if len(group) < each:
            group.append(user)
        n += 1
    return treated, control


TREATED, CONTROL = split("t", 30)  # 30 per group: the documented minimum for an interval
LATE_T, LATE_H = split("late", 1)  # first reached on the second day
KOLKATA_USERS = [f"k{n}" for n in range(6)]


def hour(at: datetime) -> str:
    return at.strftime("%Y%m%d%H")


# --- the script -----------------------------------------------------------------------------------


class Script:
    """Posts raw events at the fixed clock's time and keeps every one of them; the clock is the
    application's own (the worker decides, ingest stamps and /c/ counts at its time)."""

    def __init__(self, harness, clock: FixedClock) -> None:
        self.h = harness
        self.clock = clock
        self.sdk: list[dict[str, Any]] = []  # every SDK message, in the order posted
        self.api: list[tuple[str, str, str, datetime]] = []  # (kind, user, offer id, at)

    def at(self, when: datetime) -> None:
        self.clock.at = when

    def event(self, user: str, name: str, message_id: str, **properties: Any) -> dict[str, Any]:
        return {
            "type": "track",
            "userId": user,
            "event": name,
            "messageId": message_id,
            "timestamp": iso(self.clock.now()),
            "properties": properties,
        }

    def entry(self, user: str) -> dict[str, Any]:
        """The SDK's geofence entry at the Kolkata store, with the fix that confirms it."""
        entry = self.event(user, "Geofence Entered", f"enter-{user}", store_id="store-2")
        location = {"latitude": KOLKATA["lat"], "longitude": KOLKATA["lon"], "accuracy": 10}
        return {**entry, "context": {"location": location}}

    def identify(self, user: str, traits: dict[str, Any]) -> dict[str, Any]:
        timestamp = iso(self.clock.now())
        return {
            "type": "identify",
            "userId": user,
            "messageId": f"id-{user}",
            "timestamp": timestamp,
            "traits": traits,
        }

    def send(self, events: list[dict[str, Any]]) -> None:
        """One phase's events, then (at-least-once) every one of them again two minutes later,
        as an SDK retries within the worker's dedupe window (60 minutes)."""
        self.sdk.extend(events)
        for attempt in range(2):
            for start in range(0, len(events), 100):  # a /v1/batch takes at most 100 events
                response = self.h.post("/v1/batch", {"batch": events[start : start + 100]})
                assert response.status_code == 200, response.body
                assert not json.loads(response.body).get("rejected"), response.body
            self.h.pump.drain()
            if attempt == 0:
                self.clock.advance(minutes=2)

    def click(self, user: str, offer_id: str, times: int = 2) -> None:
        """The shopper follows the email's tracked link (``times`` times: counted once)."""
        from chalicelib import wiring
        from chalicelib.use_cases.engagement import click_url

        url = click_url(wiring.container().settings, Subject.user(user), offer_id)
        assert url is not None
        for _ in range(times):
            answer = self.h.client.http.get(url.removeprefix("http://127.0.0.1:8000"), headers=PHONE_BROWSER)
            assert answer.status_code == 302
        self.api.append(("click", user, offer_id, self.clock.now()))
        self.h.pump.drain()

    def redeem(self, user: str, offer_id: str) -> None:
        """At the till with the code, twice (the second is refused)."""
        for _ in range(2):
            self.h.post(f"/v1/offers/{offer_id}/redeem", {"code": code(offer_id)})
        self.api.append(("redeem", user, offer_id, self.clock.now()))


def offer_of(user: str, message_id: str) -> str:
    return offer_id_for(Subject.user(user), message_id)


def code(offer_id: str) -> str:
    from chalicelib import wiring

    return redemption_code(offer_id, wiring.container().settings.token_signing_key)


def play(script: Script) -> None:
    s = script
    qr = s.h.qr["code"]
    tokyo_traits = {"timezone": "Asia/Tokyo", "consents": {"email": True}}
    # Day 1, 00:50 UTC: everyone identifies (Tokyo shoppers by email, Kolkata ones by push)
    s.at(D1 + timedelta(minutes=50))
    s.send(
        [s.identify(u, {**tokyo_traits, "email": f"{u}@example.com"}) for u in TREATED + CONTROL]
        + [s.identify(u, {"timezone": "Asia/Kolkata", "consents": {"push": True}}) for u in KOLKATA_USERS]
    )
    for user in KOLKATA_USERS:
        response = s.h.post("/v1/devices", {"userId": user, "platform": "ios", "token": f"apns-{user}-0001"})
        assert response.status_code == 200, response.body
    tokyo = TREATED + CONTROL
    first, second = tokyo[::2], tokyo[1::2]
    # 02:20 UTC (11:20 in Tokyo): half the shoppers scan the shelf code, five browse a product
    s.at(D1 + timedelta(hours=2, minutes=20))
    s.send(
        [s.event(u, "QR Code Scanned", f"scan-{u}", code=qr) for u in first]
        + [
            s.event(u, "Product Viewed", f"view-{u}", product_id="sku-9", store_id="store-1")
            for u in first[:5]
        ]
    )
    # 02:25: two treated and two held-out shoppers scan again in the same visit
    s.at(D1 + timedelta(hours=2, minutes=25))
    again = [u for u in first if u in TREATED][:2] + [u for u in first if u in CONTROL][:2]
    s.send([s.event(u, "QR Code Scanned", f"scan2-{u}", code=qr) for u in again])
    # 05:40 UTC (14:40 in Tokyo): the other half scan
    s.at(D1 + timedelta(hours=5, minutes=40))
    s.send([s.event(u, "QR Code Scanned", f"scan-{u}", code=qr) for u in second])
    # 06:05 and 09:50 UTC (11:35 and 15:20 in Kolkata): shoppers walk into the Kolkata store
    for when, walkers in ((6, KOLKATA_USERS[:3]), (9, KOLKATA_USERS[3:])):
        s.at(D1 + timedelta(hours=when, minutes=5 if when == 6 else 50))
        s.send([s.entry(u) for u in walkers])
    # 07:15 UTC: opens reported by the app's SDK, clicks on the emails' tracked links (twice
    # each), a push tapped in the app
    s.at(D1 + timedelta(hours=7, minutes=15))
    openers = TREATED[:8]
    s.send(
        [s.event(u, "Offer Opened", f"open-{u}", offer_id=offer_of(u, f"scan-{u}")) for u in openers]
        + [
            s.event(u, "Offer Opened", f"open-{u}", offer_id=offer_of(u, f"enter-{u}{DETECTED}"))
            for u in KOLKATA_USERS[:2]
        ]
        + [
            s.event(
                KOLKATA_USERS[2],
                "Offer Clicked",
                "tap-k2",
                offer_id=offer_of(KOLKATA_USERS[2], f"enter-k2{DETECTED}"),
            )
        ]
        # an open of an offer that was never sent (held out) counts nothing
        + [
            s.event(
                CONTROL[0],
                "Offer Opened",
                f"open-{CONTROL[0]}",
                offer_id=offer_of(CONTROL[0], f"scan-{CONTROL[0]}"),
            )
        ]
    )
    for user in TREATED[5:11]:  # three of them opened too
        s.click(user, offer_of(user, f"scan-{user}"))
    # 08:30 UTC (17:30 in Tokyo): orders, with the offer's code or without (last touch)
    s.at(D1 + timedelta(hours=8, minutes=30))
    orders = [
        s.event(u, "Order Completed", f"order-{u}", order_id=f"o-{u}", coupon=code(offer_of(u, f"scan-{u}")))
        for u in TREATED[:6]
    ]
    orders += [
        s.event(u, "Order Completed", f"order-{u}", order_id=f"o-{u}") for u in TREATED[6:10] + CONTROL[:5]
    ]
    s.send(orders)
    s.at(D1 + timedelta(hours=8, minutes=40))
    s.redeem(KOLKATA_USERS[0], offer_of(KOLKATA_USERS[0], f"enter-k0{DETECTED}"))
    s.at(D1 + timedelta(hours=10))
    s.click(TREATED[5], offer_of(TREATED[5], f"scan-{TREATED[5]}"), times=1)  # the link again

    # Day 2, 02:10 UTC (11:10 in Tokyo): some come back (a new day, a new visit), two new
    s.at(D2 + timedelta(hours=2, minutes=10))
    back = TREATED[10:15] + CONTROL[10:15]
    s.send(
        [s.identify(u, {**tokyo_traits, "email": f"{u}@example.com"}) for u in LATE_T + LATE_H]
        + [s.event(u, "QR Code Scanned", f"scan-d2-{u}", code=qr) for u in back + LATE_T + LATE_H]
    )
    # 03:30 UTC: orders on day 2: a returning treated shopper's first conversion, a held-out
    # one's, and both new shoppers'
    s.at(D2 + timedelta(hours=3, minutes=30))
    s.send(
        [
            s.event(u, "Order Completed", f"order-d2-{u}", order_id=f"o2-{u}")
            for u in [back[0], back[5], *LATE_T, *LATE_H]
        ]
    )


# --- the answers, from the script's raw events --------------------------------------------------


@dataclass
class Offer:
    offer_id: str
    user: str
    campaign: str
    store: str
    moment: str
    at: datetime
    status: str  # sent | holdout | suppressed
    reason: str = ""
    engaged: datetime | None = None
    opened: datetime | None = None
    clicked: datetime | None = None
    converted: datetime | None = None
    redeemed: bool = False


@dataclass
class Expected:
    """Replays the raw events in order (the clock's order: the script posts in time order)."""

    moments: list[tuple[str, str, datetime]] = field(default_factory=list)  # (store, type, at)
    offers: dict[str, Offer] = field(default_factory=dict)
    shopper_days: set[tuple[str, str]] = field(default_factory=set)
    # (campaign, hour, store, moment type, metric) -> n, as the counters should hold them
    counts: Counter[tuple[str, str, str, str, str]] = field(default_factory=Counter)
    first: dict[tuple[str, str], Offer] = field(default_factory=dict)  # (user, campaign) -> first decision
    converted_users: set[tuple[str, str]] = field(default_factory=set)

    def add(self, offer: Offer, metric: str, at: datetime) -> None:
        self.counts[(offer.campaign, hour(at), offer.store, offer.moment, metric)] += 1

    def decide(
        self, user: str, campaign: str, store: str, moment: str, message_id: str, at: datetime
    ) -> None:
        offer = Offer(offer_of(user, message_id), user, campaign, store, moment, at, "sent")
        same_visit = [
            o
            for o in self.offers.values()
            if o.user == user and o.store == store and o.status == "sent" and at - o.at < VISIT_GAP
        ]
        if held_out(campaign, user):
            offer.status = "holdout"
        elif same_visit:
            offer.status, offer.reason = "suppressed", "one_per_visit"
        self.offers[offer.offer_id] = offer
        group = "holdout" if offer.status == "holdout" else "treatment"
        self.add(offer, "decided", at)
        self.add(offer, offer.status if offer.status != "suppressed" else f"suppressed:{offer.reason}", at)
        if (user, campaign) not in self.first:
            self.first[(user, campaign)] = offer
            self.add(offer, f"users:{group}", at)

    def engage(self, offer_id: str, kind: str, at: datetime) -> None:
        offer = self.offers.get(offer_id)
        if offer is None or offer.status != "sent" or getattr(offer, kind) is not None:
            return
        setattr(offer, kind, at)
        self.add(offer, kind, at)
        if offer.engaged is None:
            offer.engaged = at
            self.add(offer, "engaged", at)

    def convert(self, offer: Offer, at: datetime, redeemed: bool) -> None:
        group = "holdout" if offer.status == "holdout" else "treatment"
        offer.converted, offer.redeemed = at, redeemed
        if redeemed:
            self.add(offer, "redeemed", at)
        self.add(offer, f"converted:{group}", at)
        if (offer.user, offer.campaign) not in self.converted_users:  # a cohort: first decision's bucket
            self.converted_users.add((offer.user, offer.campaign))
            self.add(
                self.first[(offer.user, offer.campaign)],
                f"converters:{group}",
                at=self.first[(offer.user, offer.campaign)].at,
            )

    def order(self, user: str, coupon: str | None, at: datetime) -> None:
        if coupon is not None:
            offer = next(o for o in self.offers.values() if code(o.offer_id) == coupon)
            if offer.status == "sent" and offer.converted is None:
                self.convert(offer, at, redeemed=True)
            return
        touches = [
            o
            for o in self.offers.values()
            if o.user == user
            and o.status in ("sent", "holdout")
            and o.converted is None
            and o.at <= at <= o.at + timedelta(minutes=OFFER["valid_minutes"])
        ]
        if touches:
            self.convert(max(touches, key=lambda o: o.at), at, redeemed=False)

    @classmethod
    def of(cls, script: Script) -> Expected:
        e = cls()
        seen: set[str] = set()
        clicks = sorted(script.api, key=lambda a: a[3])
        sdk = [m for m in script.sdk if m["messageId"] not in seen and not seen.add(m["messageId"])]
        # /c/ clicks and redemptions happened at their own times, between the SDK batches
        timeline = [(datetime.fromisoformat(m["timestamp"]), 0, m) for m in sdk]
        timeline += [(a[3], 1, a) for a in clicks]
        for at, _, item in sorted(timeline, key=lambda t: (t[0], t[1])):
            if isinstance(item, tuple):
                kind, user, offer_id, _at = item
                if kind == "click":
                    e.shopper_days.add((user, at.date().isoformat()))  # the click is queued as an event
                    e.engage(offer_id, "clicked", at)
                else:
                    offer = e.offers[offer_id]
                    if offer.status == "sent" and offer.converted is None:
                        e.convert(offer, at, redeemed=True)
                continue
            user, props = item["userId"], item.get("properties", {})
            e.shopper_days.add((user, at.date().isoformat()))
            name = item.get("event")
            if name == "QR Code Scanned":
                e.moments.append(("store-1", "qr_scanned", at))
                e.decide(user, "scan-deal", "store-1", "qr_scanned", item["messageId"], at)
            elif name == "Geofence Entered":
                e.moments.append((props["store_id"], "geofence_entered", at))
                e.decide(
                    user, "walk-in", props["store_id"], "geofence_entered", item["messageId"] + DETECTED, at
                )
            elif name == "Product Viewed":
                e.moments.append((props["store_id"], "product_viewed", at))  # no campaign triggers on it
            elif name in ("Offer Opened", "Offer Clicked"):
                e.engage(props["offer_id"], "opened" if name == "Offer Opened" else "clicked", at)
            elif name == "Order Completed":
                e.order(user, props.get("coupon"), at)
        return e

    # sums over the expected counters, with a report's filters
    def total(
        self,
        metric: str,
        campaign: str | None = None,
        store: str | None = None,
        moment: str | None = None,
        hours: tuple[str, str] = ("", "~"),
    ) -> int:
        return sum(
            n
            for (c, h, s, m, name), n in self.counts.items()
            if name == metric
            and campaign in (None, c)
            and store in (None, s)
            and moment in (None, m)
            and hours[0] <= h <= hours[1]
        )

    def n_moments(self, store: str | None = None, types: tuple[str, ...] | None = None) -> int:
        return sum(1 for s, t, _ in self.moments if store in (None, s) and (types is None or t in types))


@pytest.fixture
def played(harness):
    from chalicelib import wiring

    clock = FixedClock(D1)
    assert "ingest" not in vars(wiring.container()) and "offer_pipeline" not in vars(wiring.container())
    wiring.container().clock = clock  # type: ignore[misc]
    for store in (TOKYO, KOLKATA):
        assert harness.admin("POST", "/admin/stores", store).status_code == 201
    for campaign in (SCAN_DEAL, WALK_IN):
        response = harness.admin("POST", "/admin/campaigns", campaign)
        assert response.status_code == 201, response.body
    script = Script(harness, clock)
    play(script)
    return script, Expected.of(script)


def report(harness, name: str, query: str = "") -> dict[str, Any]:
    response = harness.admin("GET", f"/admin/reports/{name}?{RANGE}&{query}")
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def r(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def test_reports_are_exact_on_two_scripted_days_with_every_message_delivered_twice(harness, played):
    script, e = played
    h = harness
    # the scenario is what it says it is
    assert len(set(TREATED)) == len(set(CONTROL)) == 30
    statuses = Counter(o.status for o in e.offers.values())
    assert statuses["holdout"] >= 30 and statuses["suppressed"] == 2
    assert len({o.offer_id for o in e.offers.values() if o.converted and o.campaign == "scan-deal"}) >= 10

    # --- the funnel, whole and filtered -------------------------------------------------------
    triggers = ("qr_scanned", "geofence_entered", "product_viewed")

    def funnel_counts(query: str) -> list[int]:
        return [s["count"] for s in report(h, "funnel", query)["steps"]]

    def expected_steps(moments: int, **f: Any) -> list[int]:
        return [moments, *(e.total(m, **f) for m in ("decided", "sent", "engaged", "clicked", "redeemed"))]

    whole = report(h, "funnel")
    assert [s["count"] for s in whole["steps"]] == expected_steps(e.n_moments(types=triggers))
    assert [s["rate_from_previous"] for s in whole["steps"]][1] == r(
        e.total("decided"), e.n_moments(types=triggers)
    )
    assert (whole["holdout"], whole["suppressed"]) == (e.total("holdout"), 2)
    assert whole["shoppers"] == len(e.shopper_days)
    counts = [s["count"] for s in whole["steps"]]
    assert counts[:5] == sorted(counts[:5], reverse=True)  # monotone up to clicked
    for query, moments, f in (
        ("campaign=scan-deal", e.n_moments("store-1", ("qr_scanned",)), {"campaign": "scan-deal"}),
        ("campaign=walk-in", e.n_moments("store-2", ("geofence_entered",)), {"campaign": "walk-in"}),
        ("store=store-2", e.n_moments("store-2", triggers), {"store": "store-2"}),
        ("moment=product_viewed", e.n_moments(types=("product_viewed",)), {"moment": "product_viewed"}),
        ("campaign=walk-in&store=store-1", 0, {"campaign": "walk-in", "store": "store-1"}),
        (
            "store=store-1&moment=qr_scanned",
            e.n_moments("store-1", ("qr_scanned",)),
            {"store": "store-1", "moment": "qr_scanned"},
        ),
    ):
        assert funnel_counts(query) == expected_steps(moments, **f), query

    # --- campaigns, whole and filtered --------------------------------------------------------
    names = {
        "decided": "decided",
        "holdout": "holdout",
        "sent": "sent",
        "opened": "opened",
        "clicked": "clicked",
        "engaged": "engaged",
        "redeemed": "redeemed",
        "converted_treatment": "converted:treatment",
        "converted_holdout": "converted:holdout",
    }
    for query, f in (
        ("", {}),
        ("store=store-2", {"store": "store-2"}),
        ("moment=qr_scanned", {"moment": "qr_scanned"}),
    ):
        rows = {row["campaign_id"]: row for row in report(h, "campaigns", query)["campaigns"]}
        assert set(rows) == {"scan-deal", "walk-in"}, query
        for campaign, row in rows.items():
            want = {k: e.total(m, campaign=campaign, **f) for k, m in names.items()}
            assert {k: row[k] for k in names} == want, (query, campaign)
            assert row["suppressed"] == e.total("suppressed:one_per_visit", campaign=campaign, **f)
            assert row["engagement_rate"] == r(want["engaged"], want["sent"])
            assert row["conversion_rate"] == r(want["converted_treatment"], want["sent"])

    # --- engagement over time: every hour of both days, by campaign, store and moment type ------
    def points(query: str) -> dict[str, dict[str, tuple[int, int, int]]]:
        out = {}
        for series in report(h, "engagement", query)["series"]:
            out[series["key"]] = {
                p["t"]: (p["sent"], p["engaged"], p["converted"])
                for p in series["points"]
                if p["sent"] or p["engaged"] or p["converted"]
            }
        return out

    def expected_points(by: int, **f: Any) -> dict[str, dict[str, tuple[int, int, int]]]:
        out: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
        for key, n in e.counts.items():
            if any(f.get(k) not in (None, key[i]) for i, k in ((0, "campaign"), (2, "store"), (3, "moment"))):
                continue
            column = {"sent": 0, "engaged": 1, "converted:treatment": 2}.get(key[4])
            if column is not None:
                t = f"{key[1][:4]}-{key[1][4:6]}-{key[1][6:8]}T{key[1][8:]}:00Z"
                out[key[by]][t][column] += n
        return {k: {t: tuple(v) for t, v in pts.items()} for k, pts in out.items()}

    assert points("by=campaign&interval=hour") == expected_points(0)
    assert points("by=store&interval=hour&moment=geofence_entered") == expected_points(
        2, moment="geofence_entered"
    )
    assert points("by=moment&interval=hour&store=store-1") == expected_points(3, store="store-1")
    assert points("by=campaign&interval=hour&campaign=walk-in") == expected_points(0, campaign="walk-in")

    # --- peak hours in each store's time: moments, and offers engaged with ----------------------
    def cells(store: dict[str, Any]) -> dict[tuple[str, int], int]:
        return {
            (store["days"][d], hh): n
            for d, row in enumerate(store["matrix"])
            for hh, n in enumerate(row)
            if n
        }

    def local_cell(store: str, at: datetime) -> tuple[str, int]:
        # the documented bucketing: the UTC hour's midpoint, in the store's zone
        midpoint = at.replace(minute=30, second=0, microsecond=0).astimezone(ZONES[store])
        return DAYS[midpoint.weekday()], midpoint.hour

    peaks = {s["store_id"]: s for s in report(h, "peak-hours")["stores"]}
    for store in ("store-1", "store-2"):
        want = Counter(local_cell(store, at) for s, _, at in e.moments if s == store)
        assert cells(peaks[store]) == dict(want), store
        assert peaks[store]["total"] == sum(want.values())
    assert (peaks["store-1"]["hour_aligned"], peaks["store-2"]["hour_aligned"]) == (True, False)
    # a Kolkata entry at 06:05 UTC (11:35 local) is counted at 12:00, within 30 minutes
    assert ("Tue", 12) in cells(peaks["store-2"]) and ("Tue", 11) not in cells(peaks["store-2"])
    engaged = {s["store_id"]: s for s in report(h, "peak-hours", "metric=engaged")["stores"]}
    for store in ("store-1", "store-2"):
        want = Counter(
            local_cell(store, o.engaged) for o in e.offers.values() if o.engaged and o.store == store
        )
        assert cells(engaged[store]) == dict(want), store

    # --- lift: cohorts of shoppers first reached in the range -----------------------------------
    from statsmodels.stats.proportion import confint_proportions_2indep

    def cohort(group: str, day: datetime | None = None) -> tuple[int, int]:
        status = "holdout" if group == "holdout" else "treatment"
        firsts = [
            (user, o)
            for (user, c), o in e.first.items()
            if c == "scan-deal"
            and (o.status == "holdout") == (status == "holdout")
            and (day is None or o.at.date() == day.date())
        ]
        return len(firsts), sum(1 for user, _ in firsts if (user, "scan-deal") in e.converted_users)

    lifts = report(h, "lift")
    assert "first reached in the range" in lifts["cohort"]
    rows = {row["campaign_id"]: row for row in lifts["campaigns"]}
    (tu, tc), (hu, hc) = cohort("treatment"), cohort("holdout")
    lift = rows["scan-deal"]
    assert lift["status"] == "ok"
    assert lift["treatment"] == {"users": tu, "converters": tc, "rate": r(tc, tu)}
    assert lift["holdout"] == {"users": hu, "converters": hc, "rate": r(hc, hu)}
    assert min(tu, hu) >= 30 and tc + hc >= 5
    low, high = confint_proportions_2indep(tc, tu, hc, hu, method="newcomb", compare="diff")
    assert lift["ci95"] == pytest.approx([float(low), float(high)], abs=1e-3)
    assert rows["walk-in"]["status"] == "not_enough_data" and rows["walk-in"]["ci95"] is None
    assert rows["walk-in"]["treatment"]["users"] == len(KOLKATA_USERS)
    for day in (D1, D2):  # one day: only shoppers first reached that day, converted at any time
        query = f"from={day.date()}&to={day.date()}&campaign=scan-deal"
        response = h.admin("GET", f"/admin/reports/lift?{query}")
        [row] = json.loads(response.body)["campaigns"]
        (tu, tc), (hu, hc) = cohort("treatment", day), cohort("holdout", day)
        assert (row["treatment"]["users"], row["treatment"]["converters"]) == (tu, tc), day
        assert (row["holdout"]["users"], row["holdout"]["converters"]) == (hu, hc), day
    # a returning shopper who first converted on day 2 counts in day 1's cohort
    assert cohort("treatment", D1)[1] == len(set(TREATED[:10]) | {TREATED[10]})
    narrow = json.loads(h.admin("GET", f"/admin/reports/lift?{RANGE}&campaign=scan-deal&store=store-2").body)
    assert narrow["campaigns"][0]["treatment"]["users"] == 0

    # --- suppression, whole and filtered --------------------------------------------------------
    for query, f in (
        ("", {}),
        ("store=store-1", {"store": "store-1"}),
        ("moment=geofence_entered", {"moment": "geofence_entered"}),
    ):
        body = report(h, "suppression", query)
        suppressed = e.total("suppressed:one_per_visit", **f)
        assert (body["decided"], body["suppressed"]) == (e.total("decided", **f), suppressed), query
        assert body["reasons"] == (
            [{"reason": "one_per_visit", "count": suppressed, "share": 1.0}] if suppressed else []
        )
        by = {row["campaign_id"]: (row["decided"], row["suppressed"]) for row in body["by_campaign"]}
        assert by == {
            c: (e.total("decided", campaign=c, **f), e.total("suppressed:one_per_visit", campaign=c, **f))
            for c in STORE_OF
        }

    # --- every counter item, exactly (nothing counted twice by the redeliveries) ---------------
    got: Counter[tuple[str, str, str, str, str]] = Counter()
    for row in h.scan("STAT#offers#"):
        campaign = row["PK"].removeprefix("STAT#offers#").rpartition("#")[0]
        bucket, _, store = row["SK"].partition("#")
        for name, value in row.items():
            if name not in ("PK", "SK") and value:
                metric, _, moment = name.rpartition("|")
                got[(campaign, bucket, store, moment, metric)] += int(value)
    assert got == e.counts
