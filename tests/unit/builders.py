"""Builders and fakes shared by the unit tier (pure: no boto3, no moto, no network).

Everything here builds real objects (settings, events, envelopes, use cases over the in-memory
adapters); the few fakes record what they were asked to do and can be told to fail.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.in_memory import InMemoryDistinct, InMemoryMomentStore, InMemoryQrCodes
from chalicelib.contracts import queue_envelope
from chalicelib.contracts.queue_envelope import Envelope
from chalicelib.contracts.segment import parse_event
from chalicelib.domain.clock import FixedClock
from chalicelib.domain.errors import Conflict
from chalicelib.domain.events import Event
from chalicelib.domain.ports import WritePlan
from chalicelib.domain.profile import Profile, Subject
from chalicelib.domain.records import QrCode
from chalicelib.settings import Settings
from chalicelib.use_cases.process_events import Processed, ProcessEvent, QueueRecord
from chalicelib.use_cases.scan_qr import QrCodes

# A fixed "server now", millisecond precision (the precision events keep on the queue).
NOW = datetime(2026, 11, 23, 15, 4, 5, 123000, tzinfo=UTC)
HALF_LIFE = timedelta(days=7)
APP_ID = "app-1"

BASE_ENV: dict[str, str] = {
    "MM_STAGE": "local",
    "MM_TABLE_NAME": "t",
    "MM_EVENTS_QUEUE_NAME": "q",
    "MM_QR_SIGNING_KEYS": "A:0123456789abcdef0123",
    "MM_TOKEN_SIGNING_KEY": "unit-test-token-key-0123456789",
    "MM_ADMIN_TOKEN": "tok",
}


def env(**changes: str | None) -> dict[str, str]:
    """BASE_ENV with some variables changed (a value of None removes the variable)."""
    out = dict(BASE_ENV)
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def settings(**changes: str | None) -> Settings:
    return Settings.from_env(env(**changes))


def deployed_settings(stage: str = "prod") -> Settings:
    return settings(MM_STAGE=stage, MM_ADMIN_TOKEN=None)


def basic_auth(username: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# --- Segment payloads (what an SDK posts) -------------------------------------------------


def track_payload(event: str = "Product Viewed", **fields: Any) -> dict[str, Any]:
    """A valid ``track`` body; ``fields`` override or add top-level keys."""
    body: dict[str, Any] = {
        "type": "track",
        "event": event,
        "userId": "u1",
        "messageId": "m-1",
        "timestamp": NOW.isoformat(),
        "properties": {"product_id": "p1"} if event == "Product Viewed" else {},
    }
    body.update(fields)
    return body


def identify_payload(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "identify",
        "userId": "u1",
        "messageId": "m-id-1",
        "timestamp": NOW.isoformat(),
        "traits": {"email": "ada@example.com"},
    }
    body.update(fields)
    return body


# --- Domain events ------------------------------------------------------------------------


def event(
    name: str | None = "Product Viewed",
    *,
    type: str = "track",
    message_id: str = "m-1",
    at: datetime = NOW,
    user_id: str | None = "u1",
    anonymous_id: str | None = None,
    properties: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
) -> Event:
    return Event(
        type=type,
        message_id=message_id,
        timestamp=at,
        user_id=user_id,
        anonymous_id=anonymous_id,
        event=name if type == "track" else None,
        properties=properties or {},
        traits=traits or {},
        context=context or {},
    )


def identify(
    *,
    at: datetime = NOW,
    message_id: str = "m-id-1",
    traits: dict[str, Any] | None = None,
    user_id: str | None = "u1",
    anonymous_id: str | None = None,
) -> Event:
    return event(
        None,
        type="identify",
        at=at,
        message_id=message_id,
        traits=traits,
        user_id=user_id,
        anonymous_id=anonymous_id,
    )


def envelope(evt: Event, app_id: str = APP_ID, received_at: datetime = NOW) -> Envelope:
    return Envelope(app_id, received_at, evt)


def profile(subject: Subject | None = None, **fields: Any) -> Profile:
    return Profile(subject or Subject.user("u1"), **fields)


# --- Fakes ----------------------------------------------------------------------------------


class ConflictingStore(InMemoryMomentStore):
    """The in-memory store, except that the first ``conflicts`` commits lose a race."""

    def __init__(self, conflicts: int) -> None:
        super().__init__()
        self.conflicts_left = conflicts
        self.attempts = 0

    def commit(self, plan: WritePlan) -> None:
        self.attempts += 1
        if self.conflicts_left > 0:
            self.conflicts_left -= 1
            raise Conflict("someone else wrote the profile first")
        super().commit(plan)


@dataclass
class RecordingAcknowledger:
    """Records every delete call (one list of receipt handles per call)."""

    deletes: list[list[str]] = field(default_factory=list)

    def delete(self, receipt_handles: Sequence[str]) -> None:
        self.deletes.append(list(receipt_handles))


class FakeMonotonic:
    """A monotonic clock (``time.monotonic`` stand-in) that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- The worker over in-memory adapters -----------------------------------------------------

QR_ID = "SHELF234"


class Worker:
    """ProcessEvent wired to the in-memory store and QR repository, with a fixed clock."""

    def __init__(self, store: InMemoryMomentStore | None = None, at: datetime = NOW) -> None:
        self.settings = settings()
        self.clock = FixedClock(at)
        self.store = store if store is not None else InMemoryMomentStore()
        self.qr_repository = InMemoryQrCodes()
        self.qr_codes = QrCodes(self.qr_repository, self.settings)
        self.distinct = InMemoryDistinct()
        self.process = ProcessEvent(
            self.store, self.qr_codes, self.settings, self.clock, distinct=self.distinct
        )

    def add_qr_code(
        self,
        qr_id: str = QR_ID,
        store_id: str = "store-7",
        product_id: str | None = "p-qr",
        state: str = "active",
    ) -> str:
        """Stores a QR record and returns its genuine signed code."""
        self.qr_repository.put(
            QrCode(qr_id, store_id, "https://shop.example.com/p", NOW.isoformat(), product_id, "shelf", state)
        )
        return self.qr_codes.token_for(qr_id)

    def deliver(self, evt: Event) -> Processed:
        """One delivery of the event, through the queue's wire format as the worker gets it."""
        body = queue_envelope.encode(envelope(evt))
        return self.process(queue_envelope.decode(body))

    def deliver_payload(self, payload: dict[str, Any]) -> Processed:
        """What the SDK sent -> validated event -> one delivery."""
        return self.deliver(parse_event(payload, self.clock.now(), APP_ID))

    def user(self, user_id: str = "u1") -> Profile | None:
        return self.store.get_profile(Subject.user(user_id))

    def anon(self, anonymous_id: str) -> Profile | None:
        return self.store.get_profile(Subject.anon(anonymous_id))

    def totals(self) -> dict[str, int]:
        return self.store.totals()


def queue_record(n: int, body: str) -> QueueRecord:
    return QueueRecord(message_id=f"sqs-{n}", receipt_handle=f"rh-{n}", body=body)


# --- The offer engine over in-memory adapters ------------------------------------------------
# (Campaign bodies go through parse_campaign, so tests build campaigns the way the admin API does.)


def campaign_body(**changes: Any) -> dict[str, Any]:
    """A valid admin API campaign body; a dict value merges into the nested object
    (``trigger={"store_ids": ["s1"]}``), anything else replaces the key."""
    body: dict[str, Any] = {
        "id": "coffee",
        "name": "Coffee nearby",
        "trigger": {"moment": "geofence_entered"},
        "offer": {
            "title": "Hi {first_name|there}",
            "body": "{first_name|Friend}, coffee 20% off at {store_name|our store}",
            "discount": "20%",
            "deep_link": "https://shop.example.com/offers/coffee",
        },
        "channels": ["push", "email", "sms"],
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return body


def campaign(**changes: Any) -> Any:
    from chalicelib.domain.campaigns import parse_campaign
    from chalicelib.domain.clock import iso

    return parse_campaign(campaign_body(**changes), iso(NOW))


class FakeStores:
    """The store directory (``StoreDirectory`` port): store id -> {name, timezone}."""

    def __init__(self, stores: dict[str, dict[str, Any]] | None = None) -> None:
        self.items = dict(stores or {})

    def get(self, store_id: str) -> dict[str, Any] | None:
        return self.items.get(store_id)


class ClockedSender:
    """A RecordingSender that also notes the clock's time of every successful send."""

    def __init__(self, clock: FixedClock) -> None:
        from chalicelib.adapters.in_memory import RecordingSender

        self._inner = RecordingSender()
        self._clock = clock
        self.sent_at: list[datetime] = []

    @property
    def sent(self) -> list[Any]:
        return self._inner.sent

    @property
    def fail_with(self) -> list[Exception]:
        return self._inner.fail_with

    @property
    def opted_out_numbers(self) -> set[str]:
        return self._inner.opted_out_numbers

    def send(self, message: Any) -> str:
        provider_id = self._inner.send(message)
        self.sent_at.append(self._clock.now())
        return provider_id

    def opted_out(self, phone: str) -> bool:
        return self._inner.opted_out(phone)

    def register(self, platform: str, token: str, user_data: str) -> str:
        return self._inner.register(platform, token, user_data)


class OfferWorld:
    """The worker (ProcessEvent + AfterMoment) and the offer pipeline over in-memory twins,
    with recording senders for push, SMS and email and one fixed clock."""

    def __init__(
        self,
        campaigns: Sequence[Any] = (),
        at: datetime = NOW,
        stores: dict[str, dict[str, Any]] | None = None,
        **setting_changes: str | None,
    ) -> None:
        from chalicelib.adapters.in_memory import (
            InMemoryAddressBook,
            InMemoryCampaigns,
            InMemoryDevices,
            InMemoryOfferLedger,
        )
        from chalicelib.use_cases.offers import CampaignCatalog, OfferPipeline
        from chalicelib.use_cases.redemptions import AfterMoment, Redemptions

        self.settings = settings(**{"MM_PUBLIC_BASE_URL": "https://mm.example.com", **setting_changes})
        self.clock = FixedClock(at)
        self.store = InMemoryMomentStore()
        self.campaigns = InMemoryCampaigns(campaigns)
        self.ledger = InMemoryOfferLedger()
        self.devices = InMemoryDevices()
        self.addresses = InMemoryAddressBook()
        self.stores = FakeStores(
            stores
            if stores is not None
            else {
                "s1": {"name": "Soho", "timezone": "Europe/London"},
                "s2": {"name": "Brooklyn", "timezone": "America/New_York"},
            }
        )
        self.push, self.sms, self.email = (
            ClockedSender(self.clock),
            ClockedSender(self.clock),
            ClockedSender(self.clock),
        )
        self.qr_repository = InMemoryQrCodes()
        self.qr_codes = QrCodes(self.qr_repository, self.settings)
        self.catalog = CampaignCatalog(self.campaigns, 0)  # no cache: tests change campaigns
        self.pipeline = OfferPipeline(
            self.catalog,
            self.ledger,
            self.devices,
            self.addresses,
            self.stores,
            self.email,
            self.push,
            self.sms,
            self.settings,
            self.clock,
        )
        self.redemptions = Redemptions(self.ledger, self.clock)
        from chalicelib.use_cases.engagement import OfferEngagement

        self.engagement = OfferEngagement(self.ledger, self.clock)
        self.process = ProcessEvent(
            self.store,
            self.qr_codes,
            self.settings,
            self.clock,
            AfterMoment(self.pipeline, self.redemptions, self.engagement),
        )

    # -- shoppers ---------------------------------------------------------------------
    def shopper(
        self,
        user_id: str = "u1",
        *,
        consents: Sequence[str] = ("push", "sms", "email"),
        first_name: str | None = "Ada",
        timezone: str | None = None,
        device: bool = True,
        email: str | None = None,
        phone: str | None = None,
        **fields: Any,
    ) -> Profile:
        """Stores a shopper's profile (traits, granted consents) and, with ``device``, an
        enabled push device; returns the profile."""
        import zlib

        from chalicelib.domain.clock import iso
        from chalicelib.domain.offers import Device

        subject = Subject.user(user_id)
        traits = {
            "email": email or f"{user_id}@example.com",
            "phone": phone or f"+1555{zlib.crc32(user_id.encode()) % 10_000_000:07d}",
            **({"first_name": first_name} if first_name else {}),
            **({"timezone": timezone} if timezone else {}),
        }
        consent_at = iso(NOW - timedelta(days=30))
        profile = Profile(
            subject,
            traits=traits,
            consents={ch: {"granted": True, "at": consent_at} for ch in consents},
            **fields,
        )
        self.store.profiles[subject] = profile
        if device:
            self.devices.put(
                subject,
                Device(
                    f"arn:aws:sns:us-east-1:123456789012:endpoint/ios/{user_id}",
                    "ios",
                    f"tok-{user_id}",
                    True,
                    consent_at,
                ),
            )
        return profile

    def profile_of(self, user_id: str = "u1") -> Profile:
        found = self.store.get_profile(Subject.user(user_id))
        assert found is not None
        return found

    def add_qr_code(self, qr_id: str = QR_ID, store_id: str = "s1", product_id: str | None = "p-qr") -> str:
        self.qr_repository.put(
            QrCode(
                qr_id, store_id, "https://shop.example.com/p", NOW.isoformat(), product_id, "shelf", "active"
            )
        )
        return self.qr_codes.token_for(qr_id)

    # -- moments ------------------------------------------------------------------------
    def geofence(
        self,
        message_id: str = "m-geo-1",
        *,
        user_id: str = "u1",
        store_id: str = "s1",
        at: datetime | None = None,
        context: dict[str, Any] | None = None,
    ) -> Event:
        return event(
            "Geofence Entered",
            message_id=message_id,
            user_id=user_id,
            at=at or self.clock.now(),
            properties={"store_id": store_id},
            context=context,
        )

    def order(
        self,
        message_id: str = "m-order-1",
        *,
        user_id: str = "u1",
        coupon: str | None = None,
        at: datetime | None = None,
    ) -> Event:
        properties: dict[str, Any] = {"order_id": f"o-{message_id}", "total": 12.5}
        if coupon is not None:
            properties["coupon"] = coupon
        return event(
            "Order Completed",
            message_id=message_id,
            user_id=user_id,
            at=at or self.clock.now(),
            properties=properties,
        )

    def deliver(self, evt: Event) -> Any:
        """One delivery through the queue's wire format; returns the after-commit outcome."""
        body = queue_envelope.encode(envelope(evt, received_at=self.clock.now()))
        return self.process(queue_envelope.decode(body)).follow_up

    def run(self, evt: Event, profile: Profile | None = None) -> Any:
        """The pipeline alone, for the shopper's stored profile (or the one given)."""
        assert evt.user_id is not None
        subject = Subject.user(evt.user_id)
        props = evt.properties
        return self.pipeline.run(
            subject,
            profile or self.profile_of(evt.user_id),
            evt,
            props.get("store_id"),
            props.get("product_id"),
        )

    # -- what happened ------------------------------------------------------------------
    def all_sent(self) -> list[Any]:
        return [*self.push.sent, *self.sms.sent, *self.email.sent]

    def record(self, offer_id: str, user_id: str = "u1") -> dict[str, Any]:
        found = self.ledger.get(Subject.user(user_id), offer_id)
        assert found is not None, f"no ledger record {offer_id}"
        return found

    def records(self, user_id: str = "u1") -> list[dict[str, Any]]:
        return self.ledger.list_for(Subject.user(user_id))


# --- a store with a geofence (unit and integration tests of moment detection) -------------------

COFFEE_STORE = {
    "store_id": "store-001",
    "name": "Bean There",
    "lat": 37.7936,
    "lon": -122.3958,
    "radius_m": 80,
    "timezone": "America/Los_Angeles",
    "opening_hours": "Mo-Su 07:00-19:00",
}


def north_of_coffee_store(meters: float) -> tuple[float, float]:
    """A fix ``meters`` due north of the coffee store's centre."""
    import math

    from chalicelib.geo.geometry import EARTH_RADIUS_M

    return COFFEE_STORE["lat"] + math.degrees(meters / EARTH_RADIUS_M), COFFEE_STORE["lon"]  # type: ignore[operator]
