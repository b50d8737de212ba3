"""The offer ledger and the stateful guardrails, as ports and plain records.

One ledger record per (shopper, triggering moment): whatever happened to the offer the
moment could have produced (sent, held out, or not sent and why). Its id is derived from the
shopper and the moment's messageId, so a redelivered moment finds the record it made before.

Statuses: ``claimed`` (caps reserved, sending), ``sent``, ``retry`` (a send failed in a way
worth retrying), ``failed`` (the provider refused for good), ``delivery_unknown`` (a worker
died between claiming and recording the send: never resent, so never sent twice),
``suppressed`` (a guardrail said no; ``reason`` says which), ``holdout`` (control group).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.domain.errors import MicromomentsError
from chalicelib.domain.offer_stats import OfferStat
from chalicelib.domain.profile import Subject

FINAL_STATUSES = frozenset({"sent", "failed", "delivery_unknown", "suppressed", "holdout"})


class CapReached(MicromomentsError):
    """A stateful guardrail refused the reservation. ``scope`` is ``user`` (no other campaign
    can go either) or ``campaign`` (the next candidate may)."""

    def __init__(self, reason: str, scope: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.scope = scope


def offer_id_for(subject: Subject, trigger_message_id: str) -> str:
    digest = hashlib.blake2b(f"{subject.kind}:{subject.id}|{trigger_message_id}".encode(), digest_size=12)
    return "of_" + digest.hexdigest()


def redemption_code(offer_id: str, key: bytes) -> str:
    """12 characters of base32 from an HMAC of the offer id: unguessable without the key
    (60 bits), stable across retries, and easy to read out at a till."""
    mac = hmac.new(key, f"mmredeem1|{offer_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode()[:12]


@dataclass(frozen=True)
class Reservation:
    """Everything the stateful guardrails need, reserved in one atomic write with the claim."""

    subject: Subject
    offer_id: str
    campaign_id: str
    record: dict[str, Any]  # the ledger record, status "claimed"
    now_iso: str
    local_day: str
    local_week: str
    global_daily_cap: int
    campaign_daily_cap: int | None = None
    campaign_weekly_cap: int | None = None
    min_gap_since_iso: str | None = None  # the last offer must be at or before this time
    visit_key: str | None = None
    budget: int | None = None
    ttl_epoch: int = 0
    stat: OfferStat | None = None  # the outcome counters the claim adds (domain/offer_stats.py)


@dataclass(frozen=True)
class Device:
    endpoint_arn: str
    platform: str
    token_hash: str
    enabled: bool = True
    updated_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class OfferLedger(Protocol):
    """Every write that changes what happened to an offer takes the ``OfferStat`` it causes
    and adds it in the same atomic, conditional write, so outcome counters are exact."""

    def get(self, subject: Subject, offer_id: str) -> dict[str, Any] | None: ...

    def record(
        self,
        subject: Subject,
        offer_id: str,
        record: dict[str, Any],
        ttl_epoch: int,
        stat: OfferStat | None = None,
    ) -> None:
        """Write a final record (suppressed/holdout) if none exists; Conflict if one does."""
        ...

    def reserve(self, reservation: Reservation) -> None:
        """Claim the offer and take every cap slot atomically; CapReached or Conflict."""
        ...

    def transition(
        self,
        subject: Subject,
        offer_id: str,
        from_status: str,
        to_status: str,
        fields: dict[str, Any],
        stat: OfferStat | None = None,
    ) -> None:
        """Move a record between statuses if it is still in ``from_status``; Conflict if not."""
        ...

    def mark_first(
        self, subject: Subject, offer_id: str, field: str, at: str, stat: OfferStat | None = None
    ) -> None:
        """Set ``field`` (opened_at, clicked_at, delivered_at) to ``at`` if it is not set yet,
        and ``engaged_at`` with it if the stat counts ``engaged``; Conflict if already set (or
        if ``engaged_at`` changed since the record was read) or there is no such offer."""
        ...

    def mark_converted(
        self,
        subject: Subject,
        offer_id: str,
        field: str,
        at: str,
        statuses: tuple[str, ...],
        by: str = "",
        stat: OfferStat | None = None,
    ) -> None:
        """Set ``field`` (redeemed_at / converted_at) to ``at`` and ``conversion_by`` to ``by``
        (the order's messageId, or "api") if the record is in one of ``statuses``, has no such
        field yet and is still valid at ``at``; Conflict otherwise."""
        ...

    def find_by_code(self, code: str) -> tuple[Subject, str] | None: ...

    def list_for(self, subject: Subject) -> list[dict[str, Any]]: ...


class DeviceRegistry(Protocol):
    def put(self, subject: Subject, device: Device) -> None: ...

    def enabled(self, subject: Subject) -> list[Device]: ...

    def disable(self, subject: Subject, token_hash: str) -> None: ...


class AddressBook(Protocol):
    """Email addresses that bounced or complained, kept only as hashes (survives erasure)."""

    def suppression(self, email: str) -> str | None: ...

    def suppress(self, email: str, reason: str, at: str) -> None: ...


def address_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()
