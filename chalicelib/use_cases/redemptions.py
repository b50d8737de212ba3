"""Conversions: an offer redeemed (one-click purchase, the till, or an order with its coupon)
and last-touch attribution of orders, for treatment and holdout alike so lift can be measured.

Redeeming twice, after expiry, or an offer that was never sent is refused with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.errors import Conflict, MicromomentsError, NotFound
from chalicelib.domain.events import Event
from chalicelib.domain.offer_stats import conversion_stat
from chalicelib.domain.offers import OfferLedger
from chalicelib.domain.profile import Profile, Subject


class RedemptionRefused(MicromomentsError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Conversion:
    offer_id: str
    kind: str  # "redeemed" | "converted"
    campaign_id: str | None


class Redemptions:
    def __init__(self, ledger: OfferLedger, clock: Clock) -> None:
        self._ledger = ledger
        self._clock = clock

    def redeem(self, offer_id: str, code: str) -> dict[str, Any]:
        """The one-click purchase / till: the code must belong to this offer."""
        found = self._ledger.find_by_code(code.strip().upper()) if isinstance(code, str) and code else None
        if found is None or found[1] != offer_id:
            raise NotFound("no offer with that id and code")
        subject, _ = found
        at = self._clock.now()
        now = iso(at)
        record = self._ledger.get(subject, offer_id) or {}
        try:
            self._ledger.mark_converted(
                subject,
                offer_id,
                "redeemed_at",
                now,
                ("sent",),
                by="api",
                stat=conversion_stat(record, at, redeemed=True),
            )
        except Conflict:
            raise RedemptionRefused(self._why_not(subject, offer_id, now)) from None
        return {"offer_id": offer_id, "redeemed_at": now, "campaign_id": record.get("campaign_id")}

    def _why_not(self, subject: Subject, offer_id: str, now: str) -> str:
        record = self._ledger.get(subject, offer_id) or {}
        if record.get("redeemed_at"):
            return "already_redeemed"
        if record.get("status") != "sent":
            return "not_sent"
        if record.get("valid_until", "") < now:
            return "expired"
        return "not_redeemable"

    def on_order(self, subject: Subject, event: Event) -> Conversion | None:
        """``Order Completed``: its coupon redeems that offer; without one, the most recent
        offer still valid (sent, or held out) gets the conversion (last touch)."""
        now = iso(event.timestamp)
        records = self._ledger.list_for(subject)
        for record in records:  # a redelivered order finds the conversion it made before
            if record.get("conversion_by") == event.message_id:
                kind = "redeemed" if record.get("redeemed_at") else "converted"
                return Conversion(record["offer_id"], kind, record.get("campaign_id"))
        coupon = event.properties.get("coupon")
        if isinstance(coupon, str) and coupon:
            found = self._ledger.find_by_code(coupon.strip().upper())
            if found is not None and found[0] == subject:
                record = self._ledger.get(subject, found[1]) or {}
                try:
                    self._ledger.mark_converted(
                        subject,
                        found[1],
                        "redeemed_at",
                        now,
                        ("sent",),
                        by=event.message_id,
                        stat=conversion_stat(record, event.timestamp, redeemed=True),
                    )
                except Conflict:
                    return None
                return Conversion(found[1], "redeemed", record.get("campaign_id"))
        touches = [
            r
            for r in records
            if r.get("status") in ("sent", "holdout")
            and r.get("valid_until", "") >= now
            and not r.get("converted_at")
            and not r.get("redeemed_at")
            and r.get("created_at", "") <= now
        ]
        if not touches:
            return None
        last = max(touches, key=lambda r: r.get("created_at", ""))
        try:
            self._ledger.mark_converted(
                subject,
                last["offer_id"],
                "converted_at",
                now,
                ("sent", "holdout"),
                by=event.message_id,
                stat=conversion_stat(last, event.timestamp, redeemed=False),
            )
        except Conflict:
            return None
        return Conversion(last["offer_id"], "converted", last.get("campaign_id"))


class AfterMoment:
    """The worker's after-commit step: offers for moments, conversions for orders, opens and
    clicks for sent offers."""

    def __init__(self, offers: Any, redemptions: Redemptions, engagement: Any = None) -> None:
        self._offers = offers
        self._redemptions = redemptions
        self._engagement = engagement  # use_cases/engagement.OfferEngagement

    def __call__(
        self,
        subject: Subject,
        profile: Profile,
        event: Event,
        store_id: str | None,
        product_id: str | None,
        first_delivery: bool = False,
    ) -> Any:
        if event.event == "Order Completed":
            return self._redemptions.on_order(subject, event)
        if event.event in ("Offer Opened", "Offer Clicked"):
            return self._engagement.on_event(subject, event) if self._engagement is not None else None
        return self._offers.run(subject, profile, event, store_id, product_id, first_delivery)
