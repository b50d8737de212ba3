"""DynamoDB, SQS, SES and SNS calls per processed moment, with and without an offer.

Runs the real worker code path in process against moto (``mock_aws``): the table, queues and
topic from infra/template.yaml (``devstack.stack.deploy``), the ``local`` stage's environment,
the SES sender verified and the SNS platform applications created as the integration tests do,
the demo data seeded (``devstack.seed.seed``). Shoppers are created with identify events and a
push device with ``audience.register_device``; then envelopes are processed one at a time with
``container.process_event(envelope)``, exactly what the SQS-triggered Lambda calls per record.

Every API call is counted with a botocore ``before-call`` handler on each client the container
built (``dynamodb``, ``sqs``, ``sns``, ``sesv2``), with the items and kinds of each transaction
and the sizes of the items written and read, and attributed to the event being processed.
Each event's outcome is checked (offer sent on the right channel, suppressed for the right
reason, duplicate...): a wrong outcome stops the run, so an error path is never counted by
mistake.

Never touches a real AWS account: fake credentials, ``AWS_PROFILE`` and endpoint overrides
removed, everything inside ``mock_aws``; the environment is restored afterwards. Imports boto3
and moto, so it runs after ``ingest_overhead`` (which checks that boto3 is not imported).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.results import Options, Progress, Section, Table, Target, median

NAME = "worker_io"
ROOT = Path(__file__).resolve().parent.parent
APP_ID = "demo"  # the app devstack.seed creates
# Never a real account's credentials.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
SERVICES = ("dynamodb", "sqs", "sns", "sesv2")  # the container's clients
DYNAMODB_READS = ("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems")
DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")


class WrongOutcome(RuntimeError):
    """The worker did something other than what the category is about."""


# --- counting calls ------------------------------------------------------------------------


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes DynamoDB bills for one AttributeValue (its documented sizing rules, approximately)."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return (len(data.lstrip("-").replace(".", "").lstrip("0")) + 1) // 2 + 1
    if kind == "B":
        return len(data) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in data.items())
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: v}) for v in data)
    return 0


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def _key_of(request: dict[str, Any]) -> tuple[str, str]:
    key = request.get("Key") or request.get("Item") or {}
    return key.get("PK", {}).get("S", ""), key.get("SK", {}).get("S", "")


def describe_key(pk: str, sk: str) -> str:
    """What a table item is, by the key layout the adapters use."""
    for prefix, name in (
        ("MSG#", "marker"),
        ("OFFER#", "offer"),
        ("DEVICE#", "device"),
        ("CAP#day#", "daily cap"),
        ("CAP#c#", "campaign cap"),
        ("CAP#last", "last offer (min gap)"),
        ("CAP#visit#", "visit"),
        ("CAMPAIGN#", "campaign"),
        ("SEEN#", "campaign seen"),
    ):
        if sk.startswith(prefix):
            return name
    if sk in ("PROFILE", "ALIAS"):
        return sk.lower()
    if sk == "BUDGET":
        return "budget"
    for prefix, name in (
        ("STAT#", "counters"),
        ("STORE#", "store"),
        ("EMAIL#", "email suppression"),
        ("REDEEM#", "redemption code"),
        ("QR#", "QR code"),
        ("WRITEKEY#", "write key"),
    ):
        if pk.startswith(prefix):
            return name
    return f"{pk.split('#')[0]}/{sk.split('#')[0]}"


@dataclass
class Call:
    service: str
    operation: str
    label: str = ""
    consistent: bool = False
    transaction: Counter[str] = field(default_factory=Counter)  # Put / Update / ConditionCheck
    write_units_sized: int = 0  # by the sizes of the items written, where known
    written: list[tuple[str, int]] = field(default_factory=list)  # (item, bytes) of each Put
    read_bytes: int = 0
    error: str | None = None
    moto_seconds: float = 0.0  # spent inside moto's stubber (AWS's side of the call)


class CallLog:
    """Records every call made by the clients it is attached to, in order."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._sending = 0.0
        self._sizes: dict[tuple[str, str], int] = {}  # last size written per item (for updates)

    def attach(self, service: str, client: Any) -> None:
        events = client.meta.events
        events.register("before-call.*.*", self._before(service))
        events.register("after-call.*.*", self._after)
        # moto answers in a before-send handler (in the middle of the chain); every before-send
        # handler runs, so the time between the first and the last is moto's: the part of a
        # call that AWS, not the Lambda, would spend (replaced by network latency in the cost).
        events.register_first("before-send", self._send_started)
        events.register_last("before-send", self._send_answered)

    def _send_started(self, **_: Any) -> None:
        self._sending = time.perf_counter()

    def _send_answered(self, **_: Any) -> None:
        if self.calls:
            self.calls[-1].moto_seconds += time.perf_counter() - self._sending

    def _before(self, service: str) -> Callable[..., None]:
        def handler(model: Any, params: dict[str, Any], **_: Any) -> None:
            call = Call(service, model.name)
            if service == "dynamodb":
                body = params.get("body") or b"{}"
                self._dynamodb(call, json.loads(body.decode() if isinstance(body, bytes) else body))
            self.calls.append(call)

        return handler

    def _after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if not self.calls or self.calls[-1].operation != model.name:
            return
        call = self.calls[-1]
        call.error = (parsed.get("Error") or {}).get("Code")
        if "Item" in parsed:
            call.read_bytes = item_size(parsed["Item"])
        elif "Items" in parsed:
            call.read_bytes = sum(item_size(i) for i in parsed["Items"])

    def _write_units(self, call: Call, kind: str, request: dict[str, Any]) -> int:
        """Write units for one item at 1 KB granularity: a Put by its own size, an Update by the
        size last written to that item (at least 1 KB)."""
        key = _key_of(request)
        if kind == "Put":
            self._sizes[key] = item_size(request["Item"])
            call.written.append((describe_key(*key), self._sizes[key]))
        return max(1, math.ceil(self._sizes.get(key, 1) / 1024))

    def _dynamodb(self, call: Call, request: dict[str, Any]) -> None:
        call.consistent = bool(request.get("ConsistentRead"))
        if call.operation == "TransactWriteItems":
            parts: Counter[str] = Counter()
            for entry in request.get("TransactItems", []):
                (kind, body), *_ = entry.items()
                call.transaction[kind] += 1
                call.write_units_sized += 2 * self._write_units(call, kind, body)
                parts[f"{kind} {describe_key(*_key_of(body))}"] += 1
            call.label = ", ".join(f"{p} ×{n}" if n > 1 else p for p, n in parts.items())
        elif call.operation == "Query":
            prefix = request.get("ExpressionAttributeValues", {}).get(":prefix", {}).get("S", "")
            call.label = describe_key("", prefix) + "s"
        elif call.operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            call.label = describe_key(*_key_of(request))
            if call.operation in ("PutItem", "UpdateItem"):
                call.write_units_sized = self._write_units(call, call.operation[:-4], request)


def latency_class(call: Call) -> str:
    """How the cost model prices a call's network latency: by service, transactions apart."""
    if call.service == "dynamodb":
        return "DynamoDB transaction" if call.operation.startswith("Transact") else "DynamoDB"
    return {"sqs": "SQS", "sns": "SNS", "sesv2": "SES"}.get(call.service, call.service)


@dataclass(frozen=True)
class Tally:
    """The calls one event caused, and the time it took in process."""

    calls: tuple[Call, ...]
    seconds: float = 0.0  # wall time of container.process_event, moto included

    @property
    def moto_seconds(self) -> float:
        return sum(c.moto_seconds for c in self.calls)

    @property
    def own_ms(self) -> float:
        """Our code + botocore (serialising, signing, parsing), without moto's side of the calls."""
        return (self.seconds - self.moto_seconds) * 1000

    def latency_calls(self) -> Counter[str]:
        """Calls by the latency class the cost model gives them."""
        return Counter(latency_class(c) for c in self.calls)

    def count(self, service: str, operations: tuple[str, ...] | None = None) -> int:
        return sum(
            1
            for c in self.calls
            if c.service == service and (operations is None or c.operation in operations)
        )

    @property
    def reads(self) -> int:
        return self.count("dynamodb", DYNAMODB_READS)

    @property
    def strong_reads(self) -> int:
        return sum(1 for c in self.calls if c.operation in DYNAMODB_READS and c.consistent)

    @property
    def plain_writes(self) -> int:
        return self.count("dynamodb", DYNAMODB_WRITES)

    @property
    def transactions(self) -> int:
        return self.count("dynamodb", ("TransactWriteItems",))

    @property
    def transaction_items(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for c in self.calls:
            total.update(c.transaction)
        return total

    @property
    def write_units(self) -> int:
        """Write request units assuming every item is at most 1 KB."""
        return 2 * sum(self.transaction_items.values()) + self.plain_writes

    @property
    def write_units_sized(self) -> int:
        return sum(c.write_units_sized for c in self.calls)

    @property
    def read_units(self) -> float:
        """Read request units assuming every item (or Query page) is at most 4 KB."""
        return sum(1.0 if c.consistent else 0.5 for c in self.calls if c.operation in DYNAMODB_READS)

    @property
    def read_units_sized(self) -> float:
        return sum(
            (1.0 if c.consistent else 0.5) * max(1, math.ceil(c.read_bytes / 4096))
            for c in self.calls
            if c.operation in DYNAMODB_READS
        )

    def largest_written(self, top: int = 3) -> list[tuple[str, int]]:
        return sorted((w for c in self.calls for w in c.written), key=lambda w: -w[1])[:top]

    def sequence(self) -> str:
        parts = []
        for c in self.calls:
            name = c.operation if c.service == "dynamodb" else f"{c.service.upper()} {c.operation}"
            if c.operation == "TransactWriteItems":
                parts.append(f"TransactWriteItems ({c.label})" + (" → cancelled" if c.error else ""))
            else:
                parts.append(f"{name} {c.label}".strip() + (f" → {c.error}" if c.error else ""))
        return " · ".join(parts) or "none"


# --- the replay -------------------------------------------------------------------------------


def zone_where_local_hour_is(hours: range) -> str:
    """An Etc/GMT zone whose local hour now falls in ``hours`` (quiet hours are 21:00-08:00 in
    the shopper's zone, and the figures must not depend on when the benchmark runs)."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        if (now + timedelta(hours=offset)).hour in hours:
            return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    raise RuntimeError("no time zone found")


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    check: Callable[[Any], str | None]  # Processed -> what is wrong, or None


def _expect(
    outcome: str, status: str | None, channel: str | None = None, reason: str | None = None
) -> Callable[[Any], str | None]:
    def check(processed: Any) -> str | None:
        follow = processed.follow_up
        if isinstance(follow, (list, tuple)):  # one follow-up per moment the detectors accepted
            follow = next((f for f in follow if getattr(f, "status", None)), None)
        got = (
            processed.outcome.value,
            getattr(follow, "status", None),
            getattr(follow, "channel", None) if channel else None,
            getattr(follow, "reason", None) if reason else None,
        )
        want = (outcome, status, channel, reason)
        return None if got == want else f"expected (outcome, offer status, channel, reason) {want}, got {got}"

    return check


CATEGORIES = (
    Category("viewed", "Product Viewed (no campaign for it)", _expect("processed", None)),
    Category("geo_other", "Geofence Entered at a store no campaign names", _expect("processed", None)),
    Category(
        "video_partial",
        "Video Milestone Reached below the campaign's percent (not eligible)",
        _expect("processed", None),
    ),
    Category("geo_sent", "Geofence Entered → push offer sent", _expect("processed", "sent", "push")),
    Category(
        "video_email", "Video Milestone Reached → email offer sent", _expect("processed", "sent", "email")
    ),
    Category(
        "video_suppressed",
        "Video Milestone Reached again (100%) → suppressed by the campaign's caps",
        _expect("processed", "suppressed"),
    ),
    Category(
        "geo_sms",
        "Geofence Entered → SMS offer sent (SMS consent only)",
        _expect("processed", "sent", "sms"),
    ),
    Category("identify", "identify (returning user, traits changed)", _expect("processed", None)),
    Category("first_login", "identify (first login on a new install: alias)", _expect("processed", None)),
    Category("unknown", "track with an unknown event name", _expect("processed", None)),
    Category(
        "duplicate", "redelivery of the push-offer Geofence Entered", _expect("duplicate", "sent", "push")
    ),
)


class Replay:
    """Builds each event just before it is processed (timestamps are now): as the Segment JSON an
    SDK posts (``event``), or as the queue envelope the ingest Lambda makes of it (``envelope``).
    ``r`` picks the round's shoppers; ``seq`` tells apart repeated events of one shopper."""

    def __init__(self, zone: str) -> None:
        from devstack.seed import CAMPAIGNS, STORES

        coffee, styling = CAMPAIGNS[0], CAMPAIGNS[1]
        self.zone = zone
        self.store = coffee["trigger"]["store_ids"][0]
        # A store no campaign names: a geofence moment the engine has nothing for.
        self.quiet_store = next(s["store_id"] for s in STORES if s["store_id"] != self.store)
        self.video = styling["trigger"]["video_ids"][0]
        # Where each store is: geofence events carry the phone's position (SDKs send it with the
        # claim, and the worker verifies a claim for a fenced store against it).
        self.where = {
            s["store_id"]: {"latitude": s["lat"], "longitude": s["lon"], "accuracy_m": 8.0} for s in STORES
        }
        self.percent = styling["trigger"]["min_percent"]
        self._sent: dict[int, Any] = {}  # round -> the geofence envelope that got an offer

    def wrap(self, event: dict[str, Any]) -> Any:
        """The ``Envelope`` the ingest Lambda queues for this Segment event."""
        from chalicelib.contracts.queue_envelope import Envelope
        from chalicelib.contracts.segment import event_from_dict

        return Envelope(APP_ID, datetime.now(UTC), event_from_dict(event))

    def _event(self, data: dict[str, Any]) -> dict[str, Any]:
        context = {
            "library": {"name": "analytics-ios", "version": "4.1.0"},
            "app": {"name": "Shop", "version": "7.3.0"},
            "locale": "en-US",
            "timezone": self.zone,
            "device": {"type": "ios"},
        }
        return {"timestamp": datetime.now(UTC).isoformat(), "context": context, **data}

    @staticmethod
    def ids(who: str, r: int) -> dict[str, str]:
        # Segment's mobile SDKs send the install's anonymousId with every call, userId once known.
        return {"userId": f"{who}-{r}", "anonymousId": f"install-{who}-{r}"}

    @staticmethod
    def _message(message: str, who: str, r: int, seq: int) -> str:
        return f"{message}-{who}-{r}" + (f"-{seq}" if seq else "")

    def identify(
        self,
        who: str,
        r: int,
        consents: dict[str, bool],
        message: str,
        name: str = "Sam",
        seq: int = 0,
        phone: str | None = None,
    ) -> dict[str, Any]:
        traits: dict[str, Any] = {
            "email": f"{who}-{r}@example.com",
            "first_name": name,
            "timezone": self.zone,
            "consents": consents,
        }
        if phone:
            traits["phone"] = phone
        return self._event(
            {
                "type": "identify",
                "messageId": self._message(message, who, r, seq),
                **self.ids(who, r),
                "traits": traits,
            }
        )

    def track(
        self, who: str, r: int, message: str, name: str, properties: dict[str, Any], seq: int = 0
    ) -> dict[str, Any]:
        return self._event(
            {
                "type": "track",
                "messageId": self._message(message, who, r, seq),
                **self.ids(who, r),
                "event": name,
                "properties": properties,
            }
        )

    def event(self, key: str, r: int, seq: int = 0) -> dict[str, Any]:
        """Category ``key``'s event for round ``r``'s shoppers, as Segment JSON."""
        if key == "viewed":
            props = {"product_id": "linen-shirt-blue", "category": "shirts", "price": 59.0, "currency": "USD"}
            return self.track("browser", r, "view", "Product Viewed", props, seq)
        if key == "geo_other":
            props = {"store_id": self.quiet_store, "fence_id": "door", **self.where[self.quiet_store]}
            return self.track("browser", r, "pass", "Geofence Entered", props, seq)
        if key == "video_partial":
            props = {"video_id": self.video, "percent": 50, "position": 150, "total_length": 300}
            return self.track("browser", r, "half", "Video Milestone Reached", props, seq)
        if key == "geo_sent":
            props = {"store_id": self.store, "fence_id": "door", **self.where[self.store]}
            return self.track("walker", r, "enter", "Geofence Entered", props, seq)
        if key == "geo_sms":
            props = {"store_id": self.store, "fence_id": "door", **self.where[self.store]}
            return self.track("texter", r, "enter", "Geofence Entered", props, seq)
        if key == "video_email":
            props = {"video_id": self.video, "percent": self.percent, "position": 270, "total_length": 300}
            return self.track("viewer", r, "milestone", "Video Milestone Reached", props, seq)
        if key == "video_suppressed":  # the same shopper finishes the video: a second moment
            props = {"video_id": self.video, "percent": 100, "position": 300, "total_length": 300}
            return self.track("viewer", r, "finished", "Video Milestone Reached", props, seq)
        if key == "identify":
            consents = {"push": True, "email": True}
            return self.identify("browser", r, consents, "identify-again", name="Samantha", seq=seq)
        if key == "first_login":
            return self.identify("newbie", r, {"push": True, "email": False}, "first-identify", seq=seq)
        if key == "unknown":
            props = {"list_id": "summer", "items": 3}
            return self.track("browser", r, "wish", "Wishlist Shared", props, seq)
        raise KeyError(key)

    def envelope(self, key: str, r: int, seq: int = 0) -> Any:
        if key == "duplicate":
            return self._sent[r]  # the very same message, delivered again
        envelope = self.wrap(self.event(key, r, seq))
        if key == "geo_sent":
            self._sent[r] = envelope
        return envelope

    def setup(self, container: Any, r: int) -> None:
        """The round's shoppers: identified (consents, email, zone); the walker has a push device,
        the texter a phone number and SMS consent only."""
        for who, consents in (
            ("browser", {"push": True, "email": True}),
            ("walker", {"push": True, "email": True}),
            ("viewer", {"push": False, "email": True}),
        ):
            container.process_event(self.wrap(self.identify(who, r, consents, "setup-identify")))
        phone = f"+1415555{r % 10_000:04d}"
        texter = self.identify("texter", r, {"sms": True}, "setup-identify", phone=phone)
        container.process_event(self.wrap(texter))
        container.audience.register_device(
            {
                "userId": f"walker-{r}",
                "platform": "ios",
                "token": f"apns-token-walker-{r:04d}-0123456789abcdef",
            }
        )


def profile_at_its_bounds() -> int:
    """Bytes of the profile item of a long-standing, busy shopper, at every bound profile.py
    keeps, with 5 moment records and 60 applied message ids (an event a minute for the hour).
    Scores and times vary (seeded), so the compressed body is not flattered by repetition."""
    import random
    import uuid

    from chalicelib.adapters.dynamodb_moment_store import profile_to_item
    from chalicelib.adapters.dynamodb_table import serialize
    from chalicelib.domain import dedupe
    from chalicelib.domain import profile as profiles
    from chalicelib.domain.clock import iso
    from chalicelib.domain.events import MOMENTS, Intent

    rng = random.Random(9)
    base = datetime(2026, 6, 10, 16, 30, 12, 345000, tzinfo=UTC)

    def at() -> str:
        return iso(base - timedelta(seconds=rng.randrange(30 * 86400), milliseconds=rng.randrange(1000)))

    def message_id() -> str:
        return f"ios-{uuid.UUID(int=rng.getrandbits(128))}"

    consents = {ch: {"granted": True, "at": at(), "message_id": message_id()} for ch in profiles.CHANNELS}
    products = [f"sku-{rng.randrange(10**6):06d}-{c}" for c in ("blue", "sand", "black", "white", "red") * 10]
    records = [
        {
            "id": message_id(),
            "app": "shop-ios",
            "type": "track",
            "event": "Product Viewed",
            "moment": "product_viewed",
            "intent": "buy",
            "at": at(),
            "received_at": at(),
            "processed_at": at(),
            "store_id": None,
            "product_id": products[i],
            "rejected": None,
        }
        for i in range(dedupe.HISTORY_LIMIT)
    ]
    now = int(base.timestamp())
    applied = tuple((dedupe.digest(message_id()), now - 60 * i) for i in range(60))[::-1]
    profile = profiles.Profile(
        subject=profiles.Subject.user("u_8f14e45fceea167a5a36dedd4bea2543"),
        traits={
            "email": "sam.jones@example.com",
            "phone": "+14155550123",
            "first_name": "Sam",
            "timezone": "America/Los_Angeles",
        },
        traits_at={name: at() for name in profiles.TRAIT_FIELDS},
        consents=consents,
        categories={
            f"category-{i:02d}-apparel": {"score": round(rng.uniform(0.1, 9), 6), "at": at()}
            for i in range(profiles.AFFINITY_LIMIT)
        },
        products={
            p: {"score": round(rng.uniform(0.1, 9), 6), "at": at()}
            for p in products[: profiles.AFFINITY_LIMIT]
        },
        recent_products=[{"product_id": p, "at": at()} for p in products[: profiles.RECENT_LIMIT]],
        recent_stores=[
            {"store_id": f"store-{rng.randrange(10**4):04d}", "at": at(), "moment": "geofence_entered"}
            for _ in range(profiles.RECENT_LIMIT)
        ],
        last_moments={
            intent.value: {
                "type": "geofence_entered",
                "at": at(),
                "message_id": message_id(),
                "store_id": "store-0001",
            }
            for intent in Intent
        },
        moment_counts={kind.moment_type: rng.randrange(1, 500) for kind in MOMENTS.values()},
        anonymous_ids=[str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(3)],
        first_seen=at(),
        last_seen=iso(base),
        applied=applied,
        recent_moments=records,
    )
    return item_size(serialize(profile_to_item(profile, 1234)))


def instrumented(log: CallLog) -> Any:
    """A fresh container (as after a cold start) with every client it uses attached to ``log``."""
    from chalicelib import wiring

    wiring.reset()
    container = wiring.container()
    for service in SERVICES:
        log.attach(service, getattr(container, service))
    return container


def process(container: Any, log: CallLog, category: Category, envelope: Any) -> Tally:
    start = len(log.calls)
    began = time.perf_counter()
    processed = container.process_event(envelope)
    took = time.perf_counter() - began
    problem = category.check(processed)
    if problem:
        raise WrongOutcome(f"{category.label}: {problem}")
    return Tally(tuple(log.calls[start:]), took)


@contextmanager
def quiet_moto_cloudformation() -> Iterator[None]:
    """moto logs and warns about every resource type it cannot create (alarms, SES
    configuration sets): noise on the progress output, not a problem for this benchmark."""
    logger = logging.getLogger("moto")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
            yield
    finally:
        logger.setLevel(level)


@contextmanager
def sandbox() -> Iterator[dict[str, str]]:
    """moto's mock_aws with the stack deployed and the local stage's environment; yields the
    stack outputs. Everything (environment, the wiring's container) is restored afterwards."""
    import boto3
    from moto import mock_aws

    from devstack import stack
    from devstack.config import stage_environment
    from devstack.platform_apps import ensure_platform_apps

    saved = dict(os.environ)
    for name in list(os.environ):
        if name == "AWS_PROFILE" or name.startswith("AWS_ENDPOINT_URL"):
            del os.environ[name]
    os.environ.update(FAKE_AWS)
    try:
        with mock_aws():
            with quiet_moto_cloudformation():
                outputs = stack.deploy(boto3.client("cloudformation"), "local")
            os.environ.update(stage_environment("local"))
            # A warm worker in a deployed stage caches campaigns and stores for 60 s; the local
            # stage's 2 s would let the caches expire in the middle of the replay.
            os.environ["MM_CACHE_TTL_SECONDS"] = stage_environment("prod")["MM_CACHE_TTL_SECONDS"]
            os.environ["MM_EVENTS_QUEUE_URL"] = outputs["EventsQueueUrl"]
            os.environ["MM_PUBLIC_BASE_URL"] = "http://127.0.0.1:8000"
            boto3.client("ses").verify_email_identity(EmailAddress=os.environ["MM_EMAIL_SENDER"])
            apps = ensure_platform_apps(boto3.client("sns"))
            os.environ["MM_APNS_PLATFORM_APP_ARN"] = apps["ios"]
            os.environ["MM_FCM_PLATFORM_APP_ARN"] = apps["android"]
            yield outputs
    finally:
        from chalicelib import wiring

        wiring.reset()
        os.environ.clear()
        os.environ.update(saved)


# --- the benchmark ------------------------------------------------------------------------------


def _columns(t: Tally) -> list[str]:
    items = t.transaction_items
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(items.items())) or "—"
    return [
        f"{t.reads} ({t.strong_reads} strong)",
        str(t.plain_writes),
        str(t.transactions),
        f"{sum(items.values())} ({kinds})",
        str(t.write_units),
        f"{t.read_units:g}",
        str(t.count("sesv2")),
        str(t.count("sns")),
        str(t.count("sqs")),
    ]


HEADERS = [
    "Event",
    "DynamoDB reads (GetItem/Query)",
    "Plain writes (Put/UpdateItem)",
    "Transactions",
    "Transaction items",
    "WRU (items ≤ 1 KB)",
    "RRU (≤ 4 KB)",
    "SES",
    "SNS",
    "SQS",
]


def _same(tallies: list[Tally]) -> bool:
    first = tallies[0]
    return all(
        (t.sequence(), t.write_units_sized, t.read_units_sized)
        == (first.sequence(), first.write_units_sized, first.read_units_sized)
        for t in tallies[1:]
    )


# One SDK batch of 20 events as a shopping app sends them: the realistic mix the cost benchmark
# prices (issue #9 item 5). 70% moments no campaign acts on (product views, a geofence no campaign
# names, a video not watched far enough), 20% moments with an offer considered (push, email and
# SMS sent, one suppressed by the minimum gap), 10% identify calls (one a first login).
MIX_BATCH: tuple[str, ...] = (
    "viewed",
    "viewed",
    "geo_other",
    "viewed",
    "video_partial",
    "geo_sent",
    "viewed",
    "identify",
    "viewed",
    "geo_other",
    "video_email",
    "viewed",
    "video_partial",
    "video_suppressed",
    "viewed",
    "geo_sms",
    "geo_other",
    "viewed",
    "video_partial",
    "first_login",
)
MIX: dict[str, float] = {key: n / len(MIX_BATCH) for key, n in Counter(MIX_BATCH).items()}
NO_OFFER = ("viewed", "geo_other", "video_partial", "identify", "first_login", "unknown")
WITH_OFFER = ("geo_sent", "video_email", "video_suppressed", "geo_sms")


@dataclass(frozen=True)
class WorkerMeasurement:
    """Per category: the cold event, the warm events (one per round), and how they were made."""

    cold: dict[str, Tally]
    warm: dict[str, list[Tally]]
    rounds: int
    zone: str
    seconds: float

    def typical(self, key: str) -> Tally:
        """The calls of a warm event of this category (the same in every round: checked)."""
        return self.warm[key][0]

    def own_ms(self, key: str) -> float:
        """Median over the warm rounds of our code's time for one event, moto excluded."""
        return median([t.own_ms for t in self.warm[key]])

    def mix_average(self, value: Callable[[str], float]) -> float:
        """``value(category)`` averaged over the realistic mix, per event."""
        return sum(share * value(key) for key, share in MIX.items())


_MEASURED: dict[bool, WorkerMeasurement] = {}


def measure(options: Options, progress: Progress) -> WorkerMeasurement:
    """The replay (see the module docstring). Done once per process and options: the cost
    benchmark prices these counts, and reuses them when both run."""
    if options.quick in _MEASURED:
        progress("reusing this run's worker replay")
        return _MEASURED[options.quick]
    started = time.perf_counter()
    rounds = 3 if options.quick else 10  # warm rounds counted, after one cold and one warm-up round
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    zone = zone_where_local_hour_is(range(10, 18))
    replay = Replay(zone)
    cold: dict[str, Tally] = {}
    warm: dict[str, list[Tally]] = {c.key: [] for c in CATEGORIES}

    progress("deploying infra/template.yaml into moto and seeding the demo data")
    with sandbox():
        from chalicelib import wiring
        from devstack.seed import seed

        wiring.reset()
        setup = wiring.container()
        seed(setup)
        progress(f"creating shoppers for {rounds + 2} rounds (identify with consents, a push device)")
        for r in range(rounds + 2):
            replay.setup(setup, r)

        progress("cold: each category's first event in a fresh container (new clients, empty caches)")
        for category in CATEGORIES:
            log = CallLog()
            container = instrumented(log)
            cold[category.key] = process(container, log, category, replay.envelope(category.key, 0))

        progress(
            f"warm: one warm-up round, then {rounds} rounds of the {len(CATEGORIES)} categories, interleaved"
        )
        log = CallLog()
        container = instrumented(log)
        for r in range(1, rounds + 2):
            for category in CATEGORIES:
                tally = process(container, log, category, replay.envelope(category.key, r))
                if r > 1:
                    warm[category.key].append(tally)
            if r > 1:
                progress(f"warm round {r - 1}/{rounds} done")

    by_key = {c.key: c for c in CATEGORIES}
    varying = [by_key[k].label for k, tallies in warm.items() if not _same(tallies)]
    if varying:
        raise WrongOutcome(f"warm rounds made different calls for: {', '.join(varying)}")
    result = WorkerMeasurement(cold, warm, rounds, zone, time.perf_counter() - started)
    _MEASURED[options.quick] = result
    return result


def run(options: Options, progress: Progress) -> Section:
    started = time.perf_counter()
    measured = measure(options, progress)
    section = _section(measured)
    section.seconds = time.perf_counter() - started
    return section


def _section(measured: WorkerMeasurement) -> Section:
    cold, warm, rounds, zone = measured.cold, measured.warm, measured.rounds, measured.zone
    section = Section(
        name=NAME,
        title="Worker I/O per processed moment (DynamoDB, SQS, SES, SNS)",
        method=f"""
What one queued event costs the worker in AWS calls, by kind of event. The real code path runs
in process against moto (`mock_aws`): the table, queues and topic from `infra/template.yaml`
(`devstack.stack.deploy`), the `local` stage's environment, the SES sender verified and the SNS
platform applications created as `tests/integration/conftest.py` does, and the demo data from
`devstack.seed.seed` (campaigns `coffee-nearby`: geofence entry at `store-001`, push / SMS /
email, 240-minute minimum gap; `styling-one-click`: video `styling-101` at ≥ 90%, push / email).

- **Shoppers**: per round, four users identified with an email address, a first name, a time
  zone and consents (`browser` and `walker`: push + email; `viewer`: email only; `texter`: SMS
  only, with a phone number), and a push device for `walker` (`audience.register_device`, SNS
  `CreatePlatformEndpoint`). Their zone is one where it is now 10:00-18:00 (`{zone}` for this
  run), so quiet hours never apply.
- **Events**: `Envelope`s built with `event_from_dict`, with the `userId` and the install's
  `anonymousId` (as Segment's mobile SDKs send them), a current timestamp and an iOS context,
  processed one at a time with `container.process_event(envelope)` (a worker batch of one: the
  event alone is its group, so these are the unbatched figures; the cost benchmark runs the
  real SQS handler, where a batch's events of one shopper share one commit). Every event's outcome is checked (offer sent on the expected channel,
  suppressed, duplicate, nothing); a different one stops the run. Geofence events carry the
  store's position (`latitude`, `longitude`, `accuracy_m`), as SDKs send it with the claim.
- **Counting**: a botocore `before-call.*.*` handler on each client the container built
  (`dynamodb`, `sqs`, `sns`, `sesv2`) records each operation and, for `TransactWriteItems`, its
  items and their kinds; an `after-call` handler records errors and the size of items read.
  Setup calls are not counted.
- **Cold**: each category's first event (round 0) is processed by a fresh container
  (`wiring.reset()` then `wiring.container()`: new clients, empty campaign and store caches),
  as after a Lambda cold start.
- **Warm** (the normal case in a warm Lambda): one fresh container processes a warm-up round
  of every category, then {rounds} rounds of all categories interleaved, without clearing
  anything between events or categories. The caches use the deployed stages' TTL
  (`MM_CACHE_TTL_SECONDS` = 60 s; the local stage's 2 s would expire them mid-run); the whole
  replay takes far less than 60 s, so no warm event pays a refill. Each figure is per event;
  every warm round gave exactly the same calls (checked).
- **Time**: each event's `process_event` call is timed with `time.perf_counter`; the time
  spent inside moto (between the first and the last botocore `before-send` handler: moto
  answers in one of them) is subtracted, leaving our code plus botocore's own work
  (serialising, signing, parsing): the CPU part of what Lambda bills, without any network.
  The figure is the median over the {rounds} warm rounds.
- **Realistic mix** (what the cost benchmark prices): one SDK batch of {len(MIX_BATCH)} events,
  {", ".join(f"{n}× `{k}`" for k, n in Counter(MIX_BATCH).most_common())}: 70% moments no
  campaign acts on, 20% with an offer considered, 10% identify. Redeliveries are left out
  (rare: SQS is at-least-once).
- **Units**: WRU assumes every item ≤ 1 KB: 2 per transaction item (a transactional write
  costs 2 write units per KB) + 1 per plain write; cancelled transactions are counted like
  committed ones. RRU assumes items and Query pages ≤ 4 KB: 1 per strongly consistent
  `GetItem`/`Query` page, 0.5 per eventually consistent one (a miss costs the same as a hit).
""",
    )
    by_key = {c.key: c for c in CATEGORIES}
    first_warm = {key: tallies[0] for key, tallies in warm.items()}

    geo, video, dup = first_warm["geo_sent"], first_warm["video_email"], first_warm["duplicate"]
    sms = first_warm["geo_sms"]
    one_commit = all(first_warm[k].transactions == 1 for k in NO_OFFER)
    offer_commit = all(first_warm[k].transactions == 3 for k in WITH_OFFER)
    catalog_reads = sum(
        1 for t in first_warm.values() for c in t.calls if c.operation == "Query" and c.label == "campaigns"
    ) + sum(1 for t in first_warm.values() for c in t.calls if c.label == "store")
    section.targets += [
        Target(
            "one TransactWriteItems per event without an offer (profile with its applied ids + alias + counters)",
            ", ".join(f"{first_warm[k].transactions}" for k in NO_OFFER) + f" ({', '.join(NO_OFFER)})",
            one_commit,
        ),
        Target(
            "two more TransactWriteItems per offer decided (ledger claim + caps; then the outcome "
            "with its counters: sent, or the suppressed record)",
            ", ".join(f"{first_warm[k].transactions}" for k in WITH_OFFER)
            + " (push sent, email sent, suppressed, SMS sent)",
            offer_commit,
        ),
        Target(
            "exactly one send per offer sent: 1 SNS Publish (push, SMS), 1 SES SendEmail (email)",
            f"push: {geo.count('sns', ('Publish',))} Publish + {geo.count('sesv2')} SES; "
            f"email: {video.count('sesv2', ('SendEmail',))} SendEmail + {video.count('sns')} SNS; "
            f"SMS: {sms.count('sns', ('Publish',))} Publish + {sms.count('sesv2')} SES",
            (
                geo.count("sns", ("Publish",)),
                geo.count("sesv2"),
                video.count("sesv2", ("SendEmail",)),
                video.count("sns"),
                sms.count("sns", ("Publish",)),
                sms.count("sesv2"),
            )
            == (1, 0, 1, 0, 1, 0),
        ),
        Target(
            "a redelivered moment sends nothing and writes nothing (its id is found in the profile)",
            f"{dup.count('sns') + dup.count('sesv2')} sends, {dup.plain_writes} plain writes, "
            f"{dup.transactions} transactions",
            dup.count("sns") + dup.count("sesv2") == 0 and dup.plain_writes == 0 and dup.transactions == 0,
        ),
        Target(
            "warm: no campaign Query or store read per event (cached)",
            f"{catalog_reads} in one warm round",
            catalog_reads == 0,
        ),
    ]

    section.tables.append(
        Table(
            HEADERS,
            [[by_key[k].label, *_columns(t)] for k, t in first_warm.items()],
            caption=f"Warm cache, per event (identical in each of the {rounds} rounds):",
        )
    )
    section.tables.append(
        Table(
            HEADERS,
            [[by_key[k].label, *_columns(t)] for k, t in cold.items()],
            caption="Cold cache: the first event of each category in a fresh container:",
        )
    )
    section.tables.append(
        Table(
            ["Event", "Calls in order (warm)"],
            [[by_key[k].label, t.sequence()] for k, t in first_warm.items()],
            caption="What the calls are (warm; an item is named by its key: `profile` (it holds the "
            "applied message ids and the recent moment records), `alias`, `offer` (the ledger), "
            "`counters`, ...):",
        )
    )
    extra_cold = {
        k: " · ".join(
            f"{c.operation} {c.label}"
            for c in cold[k].calls
            if (c.operation, c.label) not in {(w.operation, w.label) for w in first_warm[k].calls}
        )
        for k in cold
    }
    section.tables.append(
        Table(
            [
                "Event",
                "WRU by item size (warm)",
                "RRU by item size (warm)",
                "Items written, bytes (largest first)",
                "Cold event's extra calls",
            ],
            [
                [
                    by_key[k].label,
                    str(t.write_units_sized),
                    f"{t.read_units_sized:g}",
                    ", ".join(f"{name} {size:,}" for name, size in t.largest_written()) or "—",
                    extra_cold[k] or "none",
                ]
                for k, t in first_warm.items()
            ],
            caption="Units by the actual item sizes (1 KB write / 4 KB read granularity; an "
            "`UpdateItem` is charged by the size last written to that item, at least 1 KB), and "
            "what a cold container adds:",
        )
    )
    section.tables.append(_mix_table(measured))
    _notes(section, first_warm, cold)
    return section


def _mix_table(measured: WorkerMeasurement) -> Table:
    columns = ("wru", "rru", "ses", "sns", "ms")

    def per(key: str) -> dict[str, float]:
        t = measured.typical(key)
        return {
            "wru": float(t.write_units_sized),
            "rru": t.read_units_sized,
            "ses": float(t.count("sesv2")),
            "sns": float(t.count("sns")),
            "ms": measured.own_ms(key),
        }

    rows = []
    for c in CATEGORIES:
        values = per(c.key)
        calls = measured.typical(c.key).latency_calls()
        rows.append(
            [
                c.label,
                f"{MIX[c.key]:.0%}" if c.key in MIX else "—",
                *(f"{values[col]:,.2f}" for col in columns),
                ", ".join(f"{n} {kind}" for kind, n in sorted(calls.items())),
            ]
        )
    weighted = {col: measured.mix_average(lambda k, col=col: per(k)[col]) for col in columns}  # type: ignore[misc]
    calls_per_event = measured.mix_average(lambda k: len(measured.typical(k).calls))
    rows.append(
        [
            "**per event of the mix (weighted)**",
            "100%",
            *(f"{weighted[col]:,.2f}" for col in columns),
            f"{calls_per_event:.2f} calls",
        ]
    )
    return Table(
        [
            "Event",
            "Share of the mix",
            "WRU (by size)",
            "RRU (by size)",
            "SES calls",
            "SNS calls",
            "Our code ms (median, moto excluded)",
            "AWS calls by kind",
        ],
        rows,
        caption=f"Per event, warm, and the realistic mix the cost benchmark prices (one SDK batch of "
        f"{len(MIX_BATCH)}); time is our code + botocore on this machine, median of {measured.rounds} "
        "rounds, without moto's side of the calls or any network:",
    )


def _notes(section: Section, warm: dict[str, Tally], cold: dict[str, Tally]) -> None:
    viewed, geo = warm["viewed"], warm["geo_sent"]
    if any(c.label == "offer" and c.operation == "GetItem" for c in viewed.calls):
        section.notes.append(
            "A moment that no campaign can trigger (here a product view: no campaign has the "
            "`product_viewed` trigger) still reads the offer ledger (`GetItem offer`): "
            "`OfferPipeline.run` looks for an existing offer before asking the campaign index for "
            "candidates. Asking the (cached) index first would save one strongly consistent read "
            "on every moment no campaign can trigger; the redelivery path would then need care, "
            "since an offer left at `retry` or `claimed` must still be resumed after its campaign "
            "is paused or leaves the index."
        )
    if any(c.label == "alias" for c in viewed.calls):
        section.notes.append(
            "Every event that carries both a `userId` and an `anonymousId` (every event from "
            "Segment's mobile SDKs once the user is known) reads the alias item (`GetItem alias`) "
            "before the profile can be written. An alias is written once and only an erasure "
            "removes it, so a small cache of known aliases in the warm worker could save that read "
            "on most events (erasure would have to reach the cache, or the cache be short-lived)."
        )
    device_queries = sum(1 for c in geo.calls if c.label == "devices")
    suppression = sum(1 for c in geo.calls if c.label == "email suppression")
    if device_queries and suppression:
        section.notes.append(
            "Reaching the shopper reads both the push devices (`Query devices`) and the email "
            "suppression (`GetItem email suppression`) before deciding, for every channel that any "
            "candidate from the index allows (`OfferPipeline._reach` runs before eligibility is "
            "checked), so also when the top candidate goes out by push, or when no candidate turns "
            "out to be eligible."
        )
    labels = {c.key: c.label for c in CATEGORIES}
    heavier = {k: t for k, t in warm.items() if t.write_units_sized > t.write_units}
    if heavier:
        section.notes.append(
            "Items over 1 KB make writes dearer than the ≤ 1 KB column: "
            + "; ".join(
                f"{labels[k]}: {t.write_units_sized} WRU instead of {t.write_units} "
                f"({', '.join(f'{n} {b:,} B' for n, b in t.largest_written() if b > 1024)})"
                for k, t in heavier.items()
            )
            + ". The offer record carries the rendered message (the whole HTML email), the "
            "`considered` list and the unsubscribe link, and is written twice (the claim, then "
            "`sent`); an `UpdateItem` is billed by the larger of the item's sizes before and after."
        )
    profiles = [b for t in warm.values() for n, b in t.largest_written(10) if n == "profile"]
    bounded = profile_at_its_bounds()
    section.notes.append(
        f"The profile item is rewritten whole in every commit (its body zlib-compressed JSON, "
        f"its applied ids 12 bytes each). In this replay it is at most {max(profiles, default=0):,} B "
        f"(a few events per shopper); a regular shopper's profile at the bounds the code keeps (50 "
        f"category and 50 product affinities, 10 recent products and stores, every intent and "
        f"moment count, 3 installs, 5 moment records, 60 applied ids) is about {bounded:,} B, so that "
        f"one Put would cost {2 * math.ceil(bounded / 1024)} WRU instead of 2 per commit, and its "
        f"eventually consistent read {0.5 * math.ceil(bounded / 4096):g} RRU."
    )
    cold_extra = {k: len(cold[k].calls) - len(warm[k].calls) for k in cold}
    if any(cold_extra.values()):
        section.notes.append(
            "A cold container pays the caches' refills once: the campaign catalog (`Query "
            "campaigns`, one page for the two demo campaigns; the decision-engine benchmark sizes "
            "it at 10,000 campaigns) and each store's record, then nothing until the TTL expires."
        )
    section.notes.append(
        "No SQS call is made per event: the Lambda service deletes a batch's messages when the "
        "handler returns; the worker calls `DeleteMessageBatch` itself only when some records of "
        "a batch fail (aws/chalice#2029), which this replay does not exercise."
    )
