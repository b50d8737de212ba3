"""A shopper's profile and how each event changes it.

Owns: identity (``Subject``), traits and per-channel consents, decayed category/product
affinities, the last products and stores, the last moment per intent, moment counts, and the
merge of an anonymous profile into a user's when an ``anonymousId`` is seen with a ``userId``.

Every function here is pure: it returns a new ``Profile`` and never does I/O.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import affinity
from chalicelib.domain.affinity import Affinity
from chalicelib.domain.clock import iso
from chalicelib.domain.events import Event, MomentKind

CHANNELS = ("email", "push", "sms")
TRAIT_FIELDS = ("email", "phone", "first_name", "timezone")
RECENT_LIMIT = 10
AFFINITY_LIMIT = 50

# How strongly each moment signals interest in the products/categories it names.
SIGNAL_WEIGHTS: dict[str, float] = {
    "product_viewed": 1.0,
    "qr_scanned": 2.0,
    "video_completed": 1.5,
    "video_milestone": 1.0,
    "order_completed": 3.0,
}


@dataclass(frozen=True)
class Subject:
    """Whose profile an event belongs to: a known user, or an anonymous device/visitor."""

    kind: str  # "user" | "anon"
    id: str

    @classmethod
    def user(cls, user_id: str) -> Subject:
        return cls("user", user_id)

    @classmethod
    def anon(cls, anonymous_id: str) -> Subject:
        return cls("anon", anonymous_id)


@dataclass(frozen=True)
class Profile:
    subject: Subject
    version: int = 0
    traits: dict[str, Any] = field(default_factory=dict)
    traits_at: dict[str, str] = field(default_factory=dict)  # per trait: when it was last set
    consents: dict[str, dict[str, Any]] = field(default_factory=dict)
    categories: dict[str, Affinity] = field(default_factory=dict)
    products: dict[str, Affinity] = field(default_factory=dict)
    recent_products: list[dict[str, Any]] = field(default_factory=list)
    recent_stores: list[dict[str, Any]] = field(default_factory=list)
    last_moments: dict[str, dict[str, Any]] = field(default_factory=dict)
    moment_counts: dict[str, int] = field(default_factory=dict)
    anonymous_ids: list[str] = field(default_factory=list)
    merged_into: str | None = None
    unsubscribed_at: str | None = None  # one-click unsubscribe: no more offers on any channel
    first_seen: str | None = None
    last_seen: str | None = None
    # Per-device state of the moment detectors (chalicelib/geo): fences the device is inside
    # and its last accepted position; watched intervals and fired milestones per video.
    fence_state: dict[str, Any] = field(default_factory=dict)
    video_state: dict[str, Any] = field(default_factory=dict)
    # Exactly once (chalicelib/domain/dedupe.py): the queue messages applied to this profile
    # within the dedupe window, and the records of its recent moments (newest last).
    applied: tuple[tuple[bytes, int], ...] = ()
    recent_moments: list[dict[str, Any]] = field(default_factory=list)

    def has_consent(self, channel: str) -> bool:
        return bool(self.consents.get(channel, {}).get("granted"))


def _push_recent(
    items: list[dict[str, Any]], item: dict[str, Any], unique_by: str | None = None
) -> list[dict[str, Any]]:
    """Insert ``item`` keeping the list newest-first and at most RECENT_LIMIT long. With
    ``unique_by``, one entry per value of that key, the newest (a late older one is ignored)."""
    if unique_by is not None:
        existing = [i for i in items if i[unique_by] == item[unique_by]]
        if existing and existing[0]["at"] >= item["at"]:
            return items
        items = [i for i in items if i[unique_by] != item[unique_by]]
    merged = [*items, item]
    merged.sort(key=lambda i: i["at"], reverse=True)
    return merged[:RECENT_LIMIT]


def _products_of(event: Event) -> list[tuple[str | None, str | None]]:
    """(product_id, category) pairs an event names."""
    props = event.properties
    if event.event == "Order Completed":
        return [
            (_text(p.get("product_id")), _text(p.get("category")))
            for p in props.get("products") or []
            if isinstance(p, dict)
        ]
    return [(_text(props.get("product_id")), _text(props.get("category")))]


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def apply_identify(profile: Profile, event: Event) -> Profile:
    """Traits and consents from an ``identify``. Each trait and each channel's consent keeps
    the time it was set, and only a newer identify changes it, so the result does not depend
    on the order in which SQS delivers identifies."""
    at = iso(event.timestamp)
    traits, traits_at = dict(profile.traits), dict(profile.traits_at)
    for name in TRAIT_FIELDS:
        if name not in event.traits or at < traits_at.get(name, ""):
            continue
        value = event.traits[name]
        if value is None:
            traits.pop(name, None)
        else:
            traits[name] = value
        traits_at[name] = at
    consents = {ch: dict(v) for ch, v in profile.consents.items()}
    for channel, granted in (event.traits.get("consents") or {}).items():
        previous = consents.get(channel)
        if previous is None or at >= previous["at"]:
            consents[channel] = {"granted": bool(granted), "at": at, "message_id": event.message_id}
    return replace(profile, traits=traits, traits_at=traits_at, consents=consents)


def apply_moment(
    profile: Profile,
    event: Event,
    moment: MomentKind,
    half_life: timedelta,
    store_id: str | None,
) -> Profile:
    """Affinities, recent products/stores, last moment per intent and counts after a moment."""
    at = event.timestamp
    at_iso = iso(at)
    categories, products = dict(profile.categories), dict(profile.products)
    recent_products = list(profile.recent_products)
    weight = SIGNAL_WEIGHTS.get(moment.moment_type, 0.0)
    for product_id, category in _products_of(event):
        if weight and product_id:
            products[product_id] = affinity.add_signal(products.get(product_id), weight, at, half_life)
            recent_products = _push_recent(
                recent_products, {"product_id": product_id, "at": at_iso}, unique_by="product_id"
            )
        if weight and category:
            categories[category] = affinity.add_signal(categories.get(category), weight, at, half_life)
    recent_stores = list(profile.recent_stores)
    if store_id and moment.moment_type in ("geofence_entered", "geofence_dwelled", "qr_scanned"):
        recent_stores = _push_recent(
            recent_stores, {"store_id": store_id, "at": at_iso, "moment": moment.moment_type}
        )
    last_moments = dict(profile.last_moments)
    previous = last_moments.get(moment.intent.value)
    if previous is None or at_iso >= previous["at"]:
        last_moments[moment.intent.value] = {
            "type": moment.moment_type,
            "at": at_iso,
            "message_id": event.message_id,
            **({"store_id": store_id} if store_id else {}),
        }
    counts = dict(profile.moment_counts)
    counts[moment.moment_type] = counts.get(moment.moment_type, 0) + 1
    return replace(
        profile,
        categories=affinity.keep_top(categories, AFFINITY_LIMIT, at, half_life),
        products=affinity.keep_top(products, AFFINITY_LIMIT, at, half_life),
        recent_products=recent_products,
        recent_stores=recent_stores,
        last_moments=last_moments,
        moment_counts=counts,
    )


def touch(profile: Profile, event: Event) -> Profile:
    """First/last seen, and the anonymous ids that belong to this profile (for erasure)."""
    at = iso(event.timestamp)
    anonymous_ids = list(profile.anonymous_ids)
    if event.anonymous_id and event.anonymous_id not in anonymous_ids:
        anonymous_ids = [*anonymous_ids, event.anonymous_id][-50:]
    return replace(
        profile,
        first_seen=min(filter(None, [profile.first_seen, at])),
        last_seen=max(filter(None, [profile.last_seen, at])),
        anonymous_ids=anonymous_ids,
    )


def merge_anonymous(user: Profile, anon: Profile, half_life: timedelta) -> Profile:
    """Fold an anonymous profile's history into a user's (the user's traits win)."""

    def merge_affinities(a: dict[str, Affinity], b: dict[str, Affinity]) -> dict[str, Affinity]:
        out = dict(a)
        for key, value in b.items():
            out[key] = affinity.merge(out.get(key), value, half_life) or value
        return out

    recent_products = list(user.recent_products)
    for item in anon.recent_products:
        recent_products = _push_recent(recent_products, item, unique_by="product_id")
    recent_stores = list(user.recent_stores)
    for item in anon.recent_stores:
        recent_stores = _push_recent(recent_stores, item)
    last_moments = dict(user.last_moments)
    for intent, moment in anon.last_moments.items():
        if intent not in last_moments or moment["at"] > last_moments[intent]["at"]:
            last_moments[intent] = moment
    counts = dict(user.moment_counts)
    for moment_type, n in anon.moment_counts.items():
        counts[moment_type] = counts.get(moment_type, 0) + n
    consents = copy.deepcopy(user.consents)
    for channel, consent in anon.consents.items():  # the newer statement wins, per channel
        if channel not in consents or consent["at"] > consents[channel]["at"]:
            consents[channel] = copy.deepcopy(consent)
    traits, traits_at = dict(user.traits), dict(user.traits_at)
    for name, value in anon.traits.items():
        if name not in traits or anon.traits_at.get(name, "") > traits_at.get(name, ""):
            traits[name] = value
            traits_at[name] = anon.traits_at.get(name, "")
    seen = [s for s in (user.first_seen, anon.first_seen) if s]
    last = [s for s in (user.last_seen, anon.last_seen) if s]
    anonymous_ids = list(dict.fromkeys([*user.anonymous_ids, anon.subject.id]))[-50:]
    return replace(
        user,
        traits=traits,
        traits_at=traits_at,
        consents=consents,
        categories=merge_affinities(user.categories, anon.categories),
        products=merge_affinities(user.products, anon.products),
        recent_products=recent_products,
        recent_stores=recent_stores,
        last_moments=last_moments,
        moment_counts=counts,
        anonymous_ids=anonymous_ids,
        first_seen=min(seen) if seen else None,
        last_seen=max(last) if last else None,
    )


def as_merged(anon: Profile, user_id: str) -> Profile:
    """The anonymous profile after its history moved to ``user_id`` (kept as a tombstone). It
    keeps the messages it applied and their records: a redelivered anonymous message is still
    recognised (and its offer step keyed to this subject), and the export still shows them."""
    return Profile(
        subject=anon.subject,
        version=anon.version,
        merged_into=user_id,
        applied=anon.applied,
        recent_moments=list(anon.recent_moments),
    )


def decayed_view(profile: Profile, now: datetime, half_life: timedelta) -> dict[str, Any]:
    """Affinity scores as seen now, strongest first (for the admin view and the offer engine)."""

    def ranked(items: dict[str, Affinity]) -> list[dict[str, Any]]:
        scored = [(k, affinity.value_at(v, now, half_life)) for k, v in items.items()]
        scored.sort(key=lambda kv: kv[1], reverse=True)
        return [{"id": k, "score": round(s, 4)} for k, s in scored]

    return {"categories": ranked(profile.categories), "products": ranked(profile.products)}
