"""From a processed moment to an offer that is sent exactly once, or recorded with its reason.

Runs in the worker after the moment's own commit (and again when the moment is redelivered,
because the first attempt may have stopped between the two). Per (shopper, moment) there is
one ledger record, found again by its derived id, so a redelivery resumes instead of
deciding twice:

  no record   -> decide (engine, pure) -> record a "no" with its reason, or reserve the caps
                 and claim atomically -> send -> mark sent
  "retry"     -> reclaim -> send again (the earlier send failed before reaching the user)
  "claimed"   -> a worker died mid-send, or one is sending now: after the lease, mark
                 "delivery_unknown" and never resend (no duplicate can reach the user)
  anything else is final: nothing to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain import tokens
from chalicelib.domain.campaigns import TRIGGER_MOMENTS, Campaign
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.delivery import (
    DeliveryRejected,
    EmailMessage,
    EmailSender,
    EndpointDisabled,
    PushMessage,
    PushSender,
    SmsMessage,
    SmsSender,
)
from chalicelib.domain.errors import Conflict, RetryableError
from chalicelib.domain.events import Event
from chalicelib.domain.offer_stats import decision_stat, stat_for
from chalicelib.domain.offers import (
    FINAL_STATUSES,
    AddressBook,
    CapReached,
    DeviceRegistry,
    OfferLedger,
    Reservation,
    offer_id_for,
    redemption_code,
)
from chalicelib.domain.ports import CampaignRepository, StoreDirectory
from chalicelib.domain.profile import Profile, Subject
from chalicelib.engine import rules
from chalicelib.engine.decide import Decision, Policy, Reach, StoreInfo, best_product, decide, render_offer
from chalicelib.engine.index import CampaignIndex
from chalicelib.engine.rules import MomentFacts
from chalicelib.settings import Settings
from chalicelib.ttl_cache import TtlCache
from chalicelib.use_cases.engagement import click_url

CLAIM_LEASE = timedelta(minutes=2)  # > the worker's 30 s timeout: a claim older than this is orphaned
LEDGER_TTL = timedelta(days=30)
VISIT_GAP = timedelta(hours=2)  # store entries closer than this are one visit
UNSUBSCRIBE_PURPOSE = "unsubscribe"


@dataclass(frozen=True)
class OfferOutcome:
    offer_id: str
    status: str
    campaign_id: str | None = None
    reason: str | None = None
    channel: str | None = None


class CampaignCatalog:
    """Active campaigns, indexed by trigger, cached in the warm worker for a short TTL."""

    def __init__(self, repository: CampaignRepository, ttl_seconds: float) -> None:
        self._repository = repository
        self._cache: TtlCache[tuple[CampaignIndex, dict[str, Campaign]]] = TtlCache(
            ttl_seconds, ttl_seconds, 2
        )

    def _load(self) -> tuple[CampaignIndex, dict[str, Campaign]]:
        campaigns = self._repository.list()
        return CampaignIndex(campaigns), {c.id: c for c in campaigns}

    def index(self) -> CampaignIndex:
        loaded = self._cache.get("all", self._load)
        assert loaded is not None
        return loaded[0]

    def get(self, campaign_id: str) -> Campaign | None:
        loaded = self._cache.get("all", self._load)
        assert loaded is not None
        return loaded[1].get(campaign_id) or self._repository.get(campaign_id)

    def clear(self) -> None:
        self._cache.clear()


def unsubscribe_url(settings: Settings, subject: Subject) -> str:
    key = settings.token_signing_key
    token = tokens.sign(UNSUBSCRIBE_PURPOSE, {"k": subject.kind, "i": subject.id}, key)
    base = settings.public_base_url or ""
    return f"{base}/v1/unsubscribe?token={token}"


def visit_key(profile: Profile, store_id: str | None, at: datetime) -> str | None:
    """Entries to one store less than VISIT_GAP apart are one visit, named by its first entry."""
    if not store_id:
        return None
    times = sorted(
        (
            datetime.fromisoformat(v["at"])
            for v in profile.recent_stores
            if v["store_id"] == store_id and datetime.fromisoformat(v["at"]) <= at
        ),
        reverse=True,
    )
    start = at
    for seen in times:
        if start - seen > VISIT_GAP:
            break
        start = min(start, seen)
    return f"{store_id}#{iso(start)}"


class SmsBudget(Protocol):
    def take(self, day: str, ttl_epoch: int) -> bool:
        """One SMS of the UTC ``day``'s budget; False when it is spent."""
        ...


class OfferPipeline:
    def __init__(
        self,
        catalog: CampaignCatalog,
        ledger: OfferLedger,
        devices: DeviceRegistry,
        addresses: AddressBook,
        stores: StoreDirectory,
        email: EmailSender | None,
        push: PushSender | None,
        sms: SmsSender | None,
        settings: Settings,
        clock: Clock,
        sms_budget: SmsBudget | None = None,
    ) -> None:
        self._sms_budget = sms_budget  # the daily SMS spend ceiling (MM_SMS_DAILY_BUDGET_USD)
        self._catalog = catalog
        self._ledger = ledger
        self._devices = devices
        self._addresses = addresses
        self._stores = stores
        self._email = email
        self._push = push
        self._sms = sms
        self._settings = settings
        self._clock = clock
        self._store_cache: TtlCache[dict[str, Any]] = TtlCache(settings.cache_ttl_seconds)
        self._policy = Policy(
            settings.quiet_hours,
            settings.default_timezone,
            settings.global_daily_cap,
            settings.affinity_half_life,
        )

    # -- entry point -------------------------------------------------------------------
    def run(
        self,
        subject: Subject,
        profile: Profile,
        event: Event,
        store_id: str | None,
        product_id: str | None,
        first_delivery: bool = False,
    ) -> OfferOutcome | None:
        """``first_delivery``: the moment's own commit just succeeded, so no earlier attempt can
        have reached the ledger and the read that finds a record to resume is skipped."""
        moment = event.moment
        if moment is None or moment.moment_type not in TRIGGER_MOMENTS:
            return None
        offer_id = offer_id_for(subject, event.message_id)
        if not first_delivery:
            existing = self._ledger.get(subject, offer_id)
            if existing is not None:
                return self._resume(subject, offer_id, existing, profile)
        props = event.properties
        facts = MomentFacts(
            message_id=event.message_id,
            moment_type=moment.moment_type,
            at=event.timestamp,
            store_id=store_id,
            product_id=product_id,
            category=_text(props.get("category")),
            video_id=_text(props.get("video_id")),
            percent=100.0 if moment.moment_type == "video_completed" else _number(props.get("percent")),
            timezone=_text(event.context.get("timezone")),
        )
        candidates = self._catalog.index().candidates(
            facts.moment_type, facts.store_id, facts.product_id, facts.category, facts.video_id
        )
        if not candidates:
            return None
        now = self._clock.now()
        store = self._store(store_id)
        reach = self._reach(subject, profile, candidates)
        decision = decide(
            candidates, facts, profile, reach, store, self._policy, now, f"{subject.kind}:{subject.id}"
        )
        if decision.nothing_eligible:
            return None
        base = {
            "offer_id": offer_id,
            "trigger_message_id": event.message_id,
            "moment": moment.moment_type,
            "store_id": store_id,
            "created_at": iso(now),
            "timezone": decision.timezone,
            "considered": decision.considered[:10],  # the top ten are enough to explain a decision
        }
        if decision.holdout is not None:
            campaign = decision.holdout
            valid_until = iso(now + timedelta(minutes=campaign.offer.valid_minutes))
            return self._final(
                subject,
                offer_id,
                {
                    **base,
                    "campaign_id": campaign.id,
                    "status": "holdout",
                    "reason": "holdout",
                    "valid_until": valid_until,
                },
            )
        if decision.suppressed is not None:
            campaign, reason = decision.suppressed
            return self._final(
                subject,
                offer_id,
                {**base, "campaign_id": campaign.id, "status": "suppressed", "reason": reason},
            )
        return self._reserve_and_send(subject, offer_id, base, decision, facts, profile, reach, store, now)

    # -- deciding ----------------------------------------------------------------------
    def _store(self, store_id: str | None) -> StoreInfo | None:
        if not store_id:
            return None
        data = self._store_cache.get(store_id, lambda: self._stores.get(store_id))
        if data is None:
            return StoreInfo(store_id)
        return StoreInfo(store_id, data.get("name"), data.get("timezone"), data.get("opening_hours"))

    def _reach(self, subject: Subject, profile: Profile, campaigns: list[Campaign]) -> Reach:
        channels = {ch for c in campaigns for ch in c.channels}
        endpoints: tuple[tuple[str, str], ...] = ()
        if "push" in channels and profile.has_consent("push") and self._push is not None:
            devices = sorted(self._devices.enabled(subject), key=lambda d: d.updated_at, reverse=True)
            endpoints = tuple((d.endpoint_arn, d.platform) for d in devices)
        email = profile.traits.get("email") if self._email is not None else None
        suppressed = False
        if email and "email" in channels and profile.has_consent("email"):
            suppressed = self._addresses.suppression(email) is not None
        phone = profile.traits.get("phone") if self._sms is not None else None
        return Reach(endpoints, email, suppressed, phone)

    def _final(self, subject: Subject, offer_id: str, record: dict[str, Any]) -> OfferOutcome:
        try:
            self._ledger.record(
                subject, offer_id, record, self._ttl(), decision_stat(record, self._clock.now())
            )
        except Conflict:
            return self._resume(subject, offer_id, self._ledger.get(subject, offer_id) or record)
        return _outcome(record)

    def _ttl(self) -> int:
        return math.floor((self._clock.now() + LEDGER_TTL).timestamp())

    def _reserve_and_send(
        self,
        subject: Subject,
        offer_id: str,
        base: dict[str, Any],
        decision: Decision,
        facts: MomentFacts,
        profile: Profile,
        reach: Reach,
        store: StoreInfo | None,
        now: datetime,
    ) -> OfferOutcome:
        local_day, local_week = rules.local_calendar(decision.local_now)
        code = redemption_code(offer_id, self._settings.token_signing_key)
        refusals: list[dict[str, Any]] = []
        for candidate in decision.candidates:
            campaign = candidate.campaign
            valid_until = now + timedelta(minutes=campaign.offer.valid_minutes)
            if candidate.holdout:
                return self._final(
                    subject,
                    offer_id,
                    {
                        **base,
                        "campaign_id": campaign.id,
                        "status": "holdout",
                        "reason": "holdout",
                        "valid_until": iso(valid_until),
                        "considered": [*base["considered"], *refusals],
                    },
                )
            product = best_product(campaign, facts, profile, now, self._settings.affinity_half_life)
            values = {
                "first_name": profile.traits.get("first_name"),
                "store_name": store.name if store else None,
                "product_name": product.name if product else None,
                "discount": campaign.offer.discount,
                "deep_link": campaign.offer.deep_link,
                "code": code,
                "valid_until": valid_until.astimezone(decision.local_now.tzinfo).strftime("%H:%M"),
                "unsubscribe_url": unsubscribe_url(self._settings, subject),
            }
            if candidate.channel == "email" and campaign.offer.deep_link:
                values["deep_link"] = click_url(self._settings, subject, offer_id) or values["deep_link"]
            rendered = render_offer(campaign, candidate.channel, values)
            target = (
                reach.email
                if candidate.channel == "email"
                else (reach.phone if candidate.channel == "sms" else reach.push_endpoints[0][0])
            )
            record = {
                **base,
                "campaign_id": campaign.id,
                "status": "claimed",
                "channel": candidate.channel,
                "target": target,
                "platform": reach.push_endpoints[0][1] if candidate.channel == "push" else None,
                "code": code,
                "valid_until": iso(valid_until),
                "claimed_at": iso(now),
                "attempts": 1,
                "content": {k: v for k, v in vars(rendered).items() if v and k != "channel"},
                "product_id": product.product_id if product else None,
                "deep_link": campaign.offer.deep_link,
                "unsubscribe_url": values["unsubscribe_url"],
            }
            gap = campaign.caps.min_gap_minutes
            reservation = Reservation(
                subject=subject,
                offer_id=offer_id,
                campaign_id=campaign.id,
                record=record,
                now_iso=iso(now),
                local_day=local_day,
                local_week=local_week,
                global_daily_cap=self._settings.global_daily_cap,
                campaign_daily_cap=campaign.caps.per_user_per_day,
                campaign_weekly_cap=campaign.caps.per_user_per_week,
                min_gap_since_iso=iso(now - timedelta(minutes=gap)) if gap else None,
                visit_key=visit_key(profile, facts.store_id, facts.at)
                if facts.moment_type in ("geofence_entered", "geofence_dwelled", "qr_scanned")
                else None,
                budget=campaign.caps.budget,
                ttl_epoch=self._ttl(),
                stat=decision_stat(record, now),
            )
            try:
                self._ledger.reserve(reservation)
            except CapReached as refused:
                refusals.append({"campaign": campaign.id, "reason": refused.reason})
                if refused.scope == "user":
                    break
                continue
            except Conflict:
                return self._resume(subject, offer_id, self._ledger.get(subject, offer_id) or record)
            return self._send(subject, offer_id, record)
        first = (
            refusals[0]
            if refusals
            else {"campaign": decision.candidates[0].campaign.id, "reason": "no_channel"}
        )
        return self._final(
            subject,
            offer_id,
            {
                **base,
                "campaign_id": first["campaign"],
                "status": "suppressed",
                "reason": first["reason"],
                "considered": [*base["considered"], *refusals],
            },
        )

    # -- sending -----------------------------------------------------------------------
    def _send(self, subject: Subject, offer_id: str, record: dict[str, Any]) -> OfferOutcome:
        channel, content, target = record["channel"], record.get("content", {}), record["target"]
        now = iso(self._clock.now())
        try:
            if channel == "sms":
                assert self._sms is not None
                if self._sms.opted_out(target):
                    self._ledger.transition(
                        subject,
                        offer_id,
                        "claimed",
                        "suppressed",
                        {"reason": "unsubscribed", "detail": "sms opt-out list"},
                        self._stat(record, "suppressed:unsubscribed"),
                    )
                    return _outcome({**record, "status": "suppressed", "reason": "unsubscribed"})
                if self._sms_budget is not None and not self._sms_budget.take(
                    self._clock.now().astimezone(UTC).strftime("%Y-%m-%d"), self._ttl()
                ):
                    self._ledger.transition(
                        subject,
                        offer_id,
                        "claimed",
                        "suppressed",
                        {"reason": "sms_budget", "at": now},
                        self._stat(record, "suppressed:sms_budget"),
                    )
                    return _outcome({**record, "status": "suppressed", "reason": "sms_budget"})
                provider_id = self._sms.send(SmsMessage(target, content.get("text", ""), offer_id))
            elif channel == "push":
                assert self._push is not None
                # The tap opens the tracked link (/c/, which counts it and redirects to the
                # campaign's own link); ``app_link`` is that link for an app that routes the
                # tap itself (and then reports ``Offer Clicked``: the first click counts once).
                tracked = self._click_url(subject, offer_id, record)
                provider_id = self._push.send(
                    PushMessage(
                        endpoint_arn=target,
                        platform=record.get("platform") or "ios",
                        title=content.get("title", ""),
                        body=content.get("text", ""),
                        offer_id=offer_id,
                        deep_link=tracked or record.get("deep_link"),
                        data={
                            "code": record.get("code"),
                            "campaign_id": record.get("campaign_id"),
                            **({"app_link": record["deep_link"]} if tracked else {}),
                        },
                    )
                )
            else:
                assert self._email is not None
                provider_id = self._email.send(
                    EmailMessage(
                        to=target,
                        subject=content.get("subject", ""),
                        html=content.get("html", ""),
                        text=content.get("text", ""),
                        unsubscribe_url=record.get("unsubscribe_url", ""),
                        offer_id=offer_id,
                        # the code finds the offer again when SES reports the delivery
                        tags={"campaign": str(record.get("campaign_id")), "code": str(record.get("code"))},
                    )
                )
        except RetryableError:
            self._ledger.transition(subject, offer_id, "claimed", "retry", {"retry_at": now})
            raise
        except EndpointDisabled as exc:
            self._disable_endpoint(subject, target)
            self._ledger.transition(
                subject,
                offer_id,
                "claimed",
                "failed",
                {"reason": exc.reason, "failed_at": now},
                self._stat(record, "failed"),
            )
            return _outcome({**record, "status": "failed", "reason": exc.reason})
        except DeliveryRejected as exc:
            self._ledger.transition(
                subject,
                offer_id,
                "claimed",
                "failed",
                {"reason": exc.reason, "detail": exc.detail[:300], "failed_at": now},
                self._stat(record, "failed"),
            )
            return _outcome({**record, "status": "failed", "reason": exc.reason})
        self._ledger.transition(
            subject,
            offer_id,
            "claimed",
            "sent",
            {"sent_at": now, "provider_id": provider_id},
            self._stat(record, "sent"),
        )
        return _outcome({**record, "status": "sent"})

    def _click_url(self, subject: Subject, offer_id: str, record: dict[str, Any]) -> str | None:
        return click_url(self._settings, subject, offer_id) if record.get("deep_link") else None

    def _stat(self, record: dict[str, Any], metric: str) -> Any:
        return stat_for(record, self._clock.now(), metric)

    def _disable_endpoint(self, subject: Subject, endpoint_arn: str) -> None:
        for device in self._devices.enabled(subject):
            if device.endpoint_arn == endpoint_arn:
                self._devices.disable(subject, device.token_hash)

    def _still_allowed(self, record: dict[str, Any], profile: Profile | None, now: datetime) -> str | None:
        """The guardrails that can change between a failed send and its retry, checked again
        ("guardrails run before every send"); the reason to stop, or None."""
        if profile is None:
            return None
        if profile.unsubscribed_at:
            return "unsubscribed"
        if record.get("channel") and not profile.has_consent(record["channel"]):
            return "no_consent"
        if record.get("channel") == "email" and self._addresses.suppression(record.get("target", "")):
            return "suppressed"
        local_now = now.astimezone(rules.zone(record.get("timezone"), self._settings.default_timezone))
        if rules.in_window(local_now, *self._policy.quiet_hours):
            return "quiet_hours"
        return None

    def _resume(
        self, subject: Subject, offer_id: str, record: dict[str, Any], profile: Profile | None = None
    ) -> OfferOutcome:
        status = record.get("status")
        if status in FINAL_STATUSES:
            return _outcome(record)
        now = self._clock.now()
        if status == "retry" and (reason := self._still_allowed(record, profile, now)):
            try:
                self._ledger.transition(
                    subject,
                    offer_id,
                    "retry",
                    "suppressed",
                    {"reason": reason, "detail": "re-checked before retrying the send"},
                    self._stat(record, f"suppressed:{reason}"),
                )
            except Conflict:
                return _outcome(self._ledger.get(subject, offer_id) or record)
            return _outcome({**record, "status": "suppressed", "reason": reason})
        if status == "retry":
            attempts = int(record.get("attempts", 1)) + 1
            try:
                self._ledger.transition(
                    subject, offer_id, "retry", "claimed", {"claimed_at": iso(now), "attempts": attempts}
                )
            except Conflict:
                return _outcome(self._ledger.get(subject, offer_id) or record)
            return self._send(subject, offer_id, {**record, "status": "claimed", "attempts": attempts})
        if status == "claimed":
            claimed_at = datetime.fromisoformat(record["claimed_at"])
            if now - claimed_at < CLAIM_LEASE:
                raise RetryableError(f"offer {offer_id} is being sent by another worker")
            try:
                self._ledger.transition(
                    subject,
                    offer_id,
                    "claimed",
                    "delivery_unknown",
                    {"reason": "worker_stopped_mid_send", "resolved_at": iso(now)},
                    self._stat(record, "delivery_unknown"),
                )
            except Conflict:
                return _outcome(self._ledger.get(subject, offer_id) or record)
            return _outcome({**record, "status": "delivery_unknown"})
        return _outcome(record)


def _outcome(record: dict[str, Any]) -> OfferOutcome:
    return OfferOutcome(
        record.get("offer_id", ""),
        str(record.get("status")),
        record.get("campaign_id"),
        record.get("reason"),
        record.get("channel"),
    )


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
