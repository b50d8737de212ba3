"""What shoppers did with an offer after it was sent: opened it, clicked it, got it delivered.

Three ways in, one exactly-once mark on the ledger record (``mark_first``: the field is set
only if it is not set yet, with the outcome counters in the same transaction):

- SDKs send ``Offer Opened`` / ``Offer Clicked`` with ``properties.offer_id`` (Segment spec
  style); the worker hands them here after the event's own commit.
- Links in emails go through ``/c/{token}``: a signed token naming the shopper and the offer
  (HMAC, compared in constant time; only our own offers' stored deep links are redirected
  to, so it is no open redirect). A shopper's click is queued as an ``Offer Clicked`` event
  with a message id derived from the offer, so however often the link is followed it counts
  once; link scanners and previews (judged as for QR scans) are redirected but not counted.
  Push messages carry the same URL as ``click_url`` in their data.
- SES delivery notifications (email only) stamp ``delivered_at``.

Opens and clicks of offers that were not sent (held out, suppressed) are not counted: there
was nothing to open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain import tokens
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.errors import Conflict, NotFound, RetryableError
from chalicelib.domain.events import Event
from chalicelib.domain.offer_stats import stat_for
from chalicelib.domain.offers import OfferLedger
from chalicelib.domain.profile import Subject
from chalicelib.settings import Settings

CLICK_PURPOSE = "click"
CLICK_APP_ID = "links"
ENGAGEMENT_EVENTS = {"Offer Opened": "opened", "Offer Clicked": "clicked"}
ENGAGEABLE_STATUSES = ("sent", "delivery_unknown")
OFFER_ID = re.compile(r"of_[0-9a-f]{24}")
MARK_ATTEMPTS = 3


def click_url(settings: Settings, subject: Subject, offer_id: str) -> str | None:
    """The tracked link for an offer's call to action; None without a public base URL."""
    if not settings.public_base_url:
        return None
    token = tokens.sign(
        CLICK_PURPOSE, {"k": subject.kind, "i": subject.id, "o": offer_id}, settings.token_signing_key
    )
    return f"{settings.public_base_url}/c/{token}"


@dataclass(frozen=True)
class Engagement:
    offer_id: str
    kind: str  # opened | clicked | delivered
    outcome: str  # counted | already | not_sent | unknown_offer


class OfferEngagement:
    def __init__(self, ledger: OfferLedger, clock: Clock) -> None:
        self._ledger = ledger
        self._clock = clock

    def mark(self, subjects: list[Subject], offer_id: Any, kind: str, at: datetime) -> Engagement:
        """Count the first ``kind`` of the offer, found under the first of ``subjects`` that
        holds it (the shopper's profile, then the anonymous id it was made for)."""
        if not isinstance(offer_id, str) or not OFFER_ID.fullmatch(offer_id):
            return Engagement(str(offer_id)[:40], kind, "unknown_offer")
        field = f"{kind}_at"
        for subject in subjects:
            for _attempt in range(MARK_ATTEMPTS):
                record = self._ledger.get(subject, offer_id)
                if record is None:
                    break
                if record.get("status") not in ENGAGEABLE_STATUSES:
                    return Engagement(offer_id, kind, "not_sent")
                if record.get(field):
                    return Engagement(offer_id, kind, "already")
                metrics = [kind]
                if kind != "delivered" and not record.get("engaged_at"):
                    metrics.append("engaged")
                try:
                    self._ledger.mark_first(subject, offer_id, field, iso(at), stat_for(record, at, *metrics))
                except Conflict:
                    continue  # an open and a click raced: read again
                return Engagement(offer_id, kind, "counted")
            else:
                raise RetryableError(f"offer {offer_id}: {field} kept changing")
        return Engagement(offer_id, kind, "unknown_offer")

    def on_event(self, subject: Subject, event: Event) -> Engagement | None:
        """An SDK's (or the click redirect's) ``Offer Opened`` / ``Offer Clicked``."""
        kind = ENGAGEMENT_EVENTS.get(event.event or "")
        if kind is None:
            return None
        subjects = [subject]
        if event.anonymous_id and Subject.anon(event.anonymous_id) != subject:
            subjects.append(Subject.anon(event.anonymous_id))
        return self.mark(subjects, event.properties.get("offer_id"), kind, event.timestamp)

    def delivered(self, subject: Subject, offer_id: str, at: datetime) -> Engagement:
        return self.mark([subject], offer_id, "delivered", at)


@dataclass(frozen=True)
class ClickResult:
    destination: str
    outcome: str  # counted | bot:{reason} | not_queued


class OfferClicks:
    """``/c/{token}``: redirect to the offer's deep link, queueing the click if a person made it."""

    def __init__(self, ledger: OfferLedger, ingest: Any, settings: Settings, clock: Clock) -> None:
        self._ledger = ledger
        self._ingest = ingest
        self._settings = settings
        self._clock = clock

    def click(self, token: str, request: Any = None) -> ClickResult:
        """``request``: a ``qr_scans.ScanRequest`` (what the headers say about the client)."""
        from chalicelib.domain.qr_scans import bot_reason

        try:
            data = tokens.verify(CLICK_PURPOSE, token, self._settings.token_signing_key)
            subject, offer_id = Subject(str(data["k"]), str(data["i"])), str(data["o"])
        except (tokens.InvalidSignedToken, KeyError, TypeError):
            raise NotFound("this link is not valid") from None
        if subject.kind not in ("user", "anon"):
            raise NotFound("this link is not valid")
        record = self._ledger.get(subject, offer_id) or {}
        destination = record.get("deep_link")
        if not destination:
            raise NotFound("this offer is no longer available")
        if request is not None and (reason := bot_reason(request, False)) is not None:
            return ClickResult(destination, f"bot:{reason}")
        event = Event(
            type="track",
            message_id=f"click-{offer_id}",  # every click of this offer's link is one message
            timestamp=self._clock.now(),
            user_id=subject.id if subject.kind == "user" else None,
            anonymous_id=subject.id if subject.kind == "anon" else None,
            event="Offer Clicked",
            properties={"offer_id": offer_id, "via": "link", "campaign_id": record.get("campaign_id")},
            context={"channel": "link"},
        )
        try:
            self._ingest.enqueue(CLICK_APP_ID, [event])
        except RetryableError:
            return ClickResult(destination, "not_queued")  # the shopper still gets the offer
        return ClickResult(destination, "counted")
