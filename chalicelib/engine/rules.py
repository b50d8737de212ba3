"""Small pure rules: eligibility filters, local time, quiet hours, freshness and holdout.

Every rule that says "no" to sending says why with one of the documented reasons.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain import affinity
from chalicelib.domain.campaigns import DAYS, Campaign
from chalicelib.domain.profile import Profile

# The reasons an offer is not sent, in the order a marketer reads them.
REASONS = (
    "no_consent",
    "unsubscribed",
    "suppressed",
    "frequency_cap",
    "min_gap",
    "one_per_visit",
    "quiet_hours",
    "budget_exhausted",
    "holdout",
    "stale",
    "no_channel",
)


@dataclass(frozen=True)
class MomentFacts:
    """What the engine needs to know about the triggering moment."""

    message_id: str
    moment_type: str
    at: datetime
    store_id: str | None = None
    product_id: str | None = None
    category: str | None = None
    video_id: str | None = None
    percent: float | None = None
    timezone: str | None = None  # the device's zone from the event's context


def zone(*candidates: str | None) -> ZoneInfo:
    """The first valid IANA zone among the candidates (the last one must be valid)."""
    for name in candidates:
        if not name:
            continue
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError, OSError):
            continue
    return ZoneInfo("UTC")


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def in_window(local: datetime, start: str, end: str) -> bool:
    """Is the local wall-clock time inside [start, end)? Windows may wrap midnight."""
    t = local.hour * 60 + local.minute
    a, b = _minutes(start), _minutes(end)
    return a <= t < b if a <= b else (t >= a or t < b)


def eligible(
    campaign: Campaign,
    moment: MomentFacts,
    profile: Profile,
    now: datetime,
    local_now: datetime,
    half_life: timedelta,
) -> bool:
    """Does this campaign's trigger match this moment and this shopper? (Not a suppression:
    an ineligible campaign simply is not a candidate.)"""
    trigger = campaign.trigger
    if not campaign.active or trigger.moment != moment.moment_type:
        return False
    if trigger.starts_at and now < datetime.fromisoformat(trigger.starts_at):
        return False
    if trigger.ends_at and now >= datetime.fromisoformat(trigger.ends_at):
        return False
    if trigger.store_ids and moment.store_id not in trigger.store_ids:
        return False
    if trigger.product_ids and moment.product_id not in trigger.product_ids:
        return False
    if trigger.categories and moment.category not in trigger.categories:
        return False
    if trigger.video_ids and moment.video_id not in trigger.video_ids:
        return False
    if trigger.min_percent is not None and (moment.percent or 0) < trigger.min_percent:
        return False
    if trigger.min_affinity_category is not None:
        stored = profile.categories.get(trigger.min_affinity_category)
        score = affinity.value_at(stored, now, half_life) if stored else 0.0
        if score < (trigger.min_affinity_score or 0.0):
            return False
    if trigger.days_of_week and DAYS[local_now.weekday()] not in trigger.days_of_week:
        return False
    return not trigger.local_time_windows or any(
        in_window(local_now, start, end) for start, end in trigger.local_time_windows
    )


def is_stale(campaign: Campaign, moment: MomentFacts, now: datetime) -> bool:
    return now - moment.at > timedelta(minutes=campaign.freshness_minutes)


def in_holdout(campaign_id: str, subject_key: str, percent: float) -> bool:
    """Deterministic: the same shopper is always in (or out of) a campaign's control group."""
    if percent <= 0:
        return False
    digest = hashlib.blake2b(f"{campaign_id}|{subject_key}".encode(), digest_size=8).digest()
    bucket = int.from_bytes(digest, "big") / 2**64 * 100
    return bucket < percent


def local_calendar(local_now: datetime) -> tuple[str, str]:
    """The user's local calendar day and ISO week, the buckets caps are counted in."""
    year, week, _ = local_now.isocalendar()
    return local_now.strftime("%Y-%m-%d"), f"{year}-W{week:02d}"
