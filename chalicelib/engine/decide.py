"""The decision for one moment: eligible campaigns -> ranked -> pure guardrails -> candidates.

``decide`` never does I/O. It returns the ranked candidates that passed every pure guardrail
(consent, unsubscribe, suppression, reachability, quiet hours, freshness, holdout) with the
channel each would use; the stateful guardrails (frequency caps, minimum gap, one offer per
visit, budget) are then reserved atomically by the caller, in this order. When nothing can be
sent, the decision carries the top campaign and the reason, so the "no" is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import affinity
from chalicelib.domain.campaigns import Campaign, Product
from chalicelib.domain.profile import Profile
from chalicelib.domain.templates import render, truncate
from chalicelib.engine import rules
from chalicelib.engine.rules import MomentFacts


@dataclass(frozen=True)
class Reach:
    """How this shopper can be reached right now."""

    push_endpoints: tuple[tuple[str, str], ...] = ()  # (endpoint ARN, platform), enabled only
    email: str | None = None
    email_suppressed: bool = False  # hard bounce or complaint on the address
    phone: str | None = None


@dataclass(frozen=True)
class StoreInfo:
    store_id: str
    name: str | None = None
    timezone: str | None = None
    opening_hours: str | None = None  # "Mo-Fr 08:00-18:00; Sa 10:00-14:00" (chalicelib/geo)


@dataclass(frozen=True)
class Policy:
    quiet_hours: tuple[str, str] = ("21:00", "08:00")
    default_timezone: str = "UTC"
    global_daily_cap: int = 3
    half_life: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class Candidate:
    campaign: Campaign
    channel: str
    score: float
    holdout: bool = False  # this shopper is in the campaign's control group: record, never send


@dataclass(frozen=True)
class Decision:
    candidates: list[Candidate]  # passed every pure guardrail; reserve in this order
    local_now: datetime
    timezone: str
    holdout: Campaign | None = None  # the top campaign holds this shopper out: record, never send
    suppressed: tuple[Campaign, str] | None = None  # nothing can be sent: top campaign + reason
    considered: list[dict[str, Any]] = field(default_factory=list)

    @property
    def nothing_eligible(self) -> bool:
        return not self.candidates and self.holdout is None and self.suppressed is None


_CHANNEL_REASON_ORDER = ("suppressed", "no_channel", "no_consent")


def choose_channel(
    channels: tuple[str, ...], profile: Profile, reach: Reach
) -> tuple[str | None, str | None]:
    """The first channel in the campaign's order the shopper consented to and can be reached
    on; otherwise None and the most telling reason."""
    reasons: list[str] = []
    for channel in channels:
        if not profile.has_consent(channel):
            reasons.append("no_consent")
        elif channel == "push":
            if reach.push_endpoints:
                return channel, None
            reasons.append("no_channel")
        elif channel == "email":
            if not reach.email:
                reasons.append("no_channel")
            elif reach.email_suppressed:
                reasons.append("suppressed")
            else:
                return channel, None
        elif channel == "sms":
            if reach.phone:
                return channel, None
            reasons.append("no_channel")
    for reason in _CHANNEL_REASON_ORDER:
        if reason in reasons:
            return None, reason
    return None, "no_channel"


def _affinity(
    profile: Profile,
    now: datetime,
    half_life: timedelta,
    products: tuple[str, ...],
    categories: tuple[str, ...],
) -> float:
    total = 0.0
    for product_id in products:
        if product_id in profile.products:
            total += affinity.value_at(profile.products[product_id], now, half_life)
    for category in categories:
        if category in profile.categories:
            total += affinity.value_at(profile.categories[category], now, half_life)
    return total


def score(
    campaign: Campaign, moment: MomentFacts, profile: Profile, now: datetime, half_life: timedelta
) -> float:
    """priority x personalisation: affinity for the campaign's products and categories
    (saturating), and how fresh the moment still is."""
    products = tuple(p.product_id for p in campaign.offer.products) + campaign.trigger.product_ids
    categories = (
        tuple(p.category for p in campaign.offer.products if p.category) + campaign.trigger.categories
    )
    interest = _affinity(profile, now, half_life, products, categories)
    personal = interest / (interest + 5.0)  # 0..1, diminishing returns
    age = (now - moment.at) / timedelta(minutes=campaign.freshness_minutes)
    recency = max(0.0, 1.0 - age)
    return campaign.priority * (1.0 + personal + 0.5 * recency)


def decide(
    campaigns: list[Campaign],
    moment: MomentFacts,
    profile: Profile,
    reach: Reach,
    store: StoreInfo | None,
    policy: Policy,
    now: datetime,
    subject_key: str,
) -> Decision:
    tz = rules.zone(
        moment.timezone,
        profile.traits.get("timezone"),
        store.timezone if store else None,
        policy.default_timezone,
    )
    local_now = now.astimezone(tz)
    eligible = [c for c in campaigns if rules.eligible(c, moment, profile, now, local_now, policy.half_life)]
    if not eligible:
        return Decision([], local_now, str(tz))
    ranked = sorted(eligible, key=lambda c: (-score(c, moment, profile, now, policy.half_life), c.id))
    if store is not None and store_closed(store, now):
        closed: list[dict[str, Any]] = [{"campaign": c.id, "reason": "store_closed"} for c in ranked]
        return Decision([], local_now, str(tz), suppressed=(ranked[0], "store_closed"), considered=closed)
    considered: list[dict[str, Any]] = []
    passing: list[Candidate] = []
    first_no: tuple[Campaign, str] | None = None
    quiet = rules.in_window(local_now, *policy.quiet_hours)
    for campaign in ranked:
        channel: str | None = None
        if rules.is_stale(campaign, moment, now):
            reason: str | None = "stale"
        elif profile.unsubscribed_at:
            reason = "unsubscribed"
        else:
            channel, reason = choose_channel(campaign.channels, profile, reach)
            if reason is None and quiet:
                reason = "quiet_hours"
        held_out = reason is None and rules.in_holdout(campaign.id, subject_key, campaign.holdout_percent)
        if held_out and not passing:
            considered.append({"campaign": campaign.id, "reason": "holdout"})
            return Decision([], local_now, str(tz), holdout=campaign, considered=considered)
        considered.append(
            {"campaign": campaign.id, "reason": "holdout" if held_out else reason, "channel": channel}
        )
        if reason is None and channel is not None:
            # A lower campaign's control group is kept as a candidate too: if the ones above it
            # cannot go, the shopper is recorded as held out of it, never sent it.
            passing.append(
                Candidate(
                    campaign, channel, score(campaign, moment, profile, now, policy.half_life), held_out
                )
            )
        elif first_no is None:
            first_no = (campaign, reason or "no_channel")
    if passing:
        return Decision(passing, local_now, str(tz), considered=considered)
    return Decision([], local_now, str(tz), suppressed=first_no, considered=considered)


def store_closed(store: StoreInfo, now: datetime) -> bool:
    """The store has opening hours and is closed now, in its own time zone (unparseable hours
    count as unknown, never as closed)."""
    if not store.opening_hours:
        return False
    from chalicelib.geo import opening_hours

    try:
        schedule = opening_hours.parse(store.opening_hours)
    except opening_hours.OpeningHoursError:
        return False
    return not opening_hours.is_open(schedule, now.astimezone(rules.zone(store.timezone, "UTC")))


def best_product(
    campaign: Campaign, moment: MomentFacts, profile: Profile, now: datetime, half_life: timedelta
) -> Product | None:
    """The product of the campaign this shopper most likely wants: the one in the moment, else
    the strongest product/category affinity, else the first listed."""
    products = campaign.offer.products
    if not products:
        return None
    for product in products:
        if product.product_id == moment.product_id:
            return product

    def interest(product: Product) -> float:
        return _affinity(
            profile, now, half_life, (product.product_id,), (product.category,) if product.category else ()
        )

    return max(products, key=lambda p: (interest(p), -products.index(p)))


@dataclass(frozen=True)
class Rendered:
    channel: str
    subject: str = ""  # email
    html: str = ""  # email
    text: str = ""  # email text part, push body, SMS text
    title: str = ""  # push


def render_offer(campaign: Campaign, channel: str, values: dict[str, str | None]) -> Rendered:
    """Personalised content for one channel; missing per-channel templates derive from the
    offer's title and body. SMS is cut to 160 characters on a word boundary."""
    offer, content = campaign.offer, campaign.offer.content
    title = render(offer.title, values)
    body = render(offer.body, values)
    values = {**values, "title": title}
    code = values.get("code")
    # Derived SMS and email content must still be redeemable at a till: show the code.
    with_code = f"{body} Code: {code}." if code and code not in body else body
    if channel == "push":
        return Rendered(
            channel,
            title=truncate(render(content.push_title, values) or title, 100),
            text=truncate(render(content.push_body, values) or body, 250),
        )
    if channel == "sms":
        link = values.get("deep_link") or ""
        text = render(content.sms_text, values) or f"{with_code} {link}".strip()
        return Rendered(channel, text=truncate(text, 160))
    subject = render(content.email_subject, values) or title
    text = render(content.email_text, values) or "\n\n".join(
        part
        for part in (
            with_code,
            values.get("deep_link") or "",
            f"Unsubscribe: {values.get('unsubscribe_url') or ''}",
        )
        if part
    )
    html_body = render(content.email_html, values, as_html=True) or _default_html(with_code, values)
    return Rendered(channel, subject=truncate(subject, 200), html=html_body, text=text)


def _default_html(body: str, values: dict[str, str | None]) -> str:
    from html import escape

    link = values.get("deep_link")
    button = (
        (
            f'<p><a href="{escape(link)}" style="background:#111;color:#fff;padding:10px 16px;'
            f'border-radius:6px;text-decoration:none">Get the offer</a></p>'
        )
        if link
        else ""
    )
    unsubscribe = values.get("unsubscribe_url") or ""
    return (
        '<!doctype html><html><body style="font-family:system-ui,sans-serif;max-width:32rem">'
        f"<p>{escape(body)}</p>{button}"
        f'<p style="color:#666;font-size:12px"><a href="{escape(unsubscribe)}">Unsubscribe</a> '
        "from these offers.</p></body></html>"
    )
