"""Reports over the hourly counters: funnel, campaigns, engagement over time, peak hours in a
store's local time, holdout lift with a confidence interval, and suppression reasons. Pure:
callers read the counter items (``domain/counters.py`` for moments, ``domain/offer_stats.py``
for offers) and pass them in.

Ranges are whole UTC days, ``from`` and ``to`` inclusive (the counters' hour buckets are UTC);
peak hours place each UTC hour in the store's local day of week and hour (zoneinfo, so a DST
change moves the hours it should: in the autumn two UTC hours land in the same local hour, in
the spring one local hour never occurs); a UTC hour goes to the local hour containing its
midpoint, so in zones with a 30- or 45-minute offset a cell can be 30 minutes off
(``PEAK_BUCKETING``, said in the report and per store as ``hour_aligned``). Rates are rounded to 4 decimals and ``None`` when the
denominator is 0.

Lift: treatment vs holdout conversion per campaign, over a COHORT: the shoppers first reached
by the campaign in the range and filters (``users:{group}``: their first decision for the
campaign fell in the range, store and moment type asked for), and how many of those shoppers
have converted so far, at any time up to now, also after ``to`` (``converters:{group}``,
counted in the bucket of the shopper's first decision, see domain/offer_stats.py). A later
week of a long-running campaign is thus its new shoppers of that week, not everyone who
converted that week. ``converters <= users`` always holds for cohort counters; counters written
before cohorts (converters in the hour of the conversion) can break it, and then the status
is ``inconsistent`` with no interval. The 95 % interval for the difference of the two
conversion rates is Newcombe's hybrid score interval (method 10 of Newcombe 1998: a Wilson
score interval per group, combined). It is only given when each group has at least
``MIN_USERS_PER_GROUP`` (30) shoppers and the two groups together at least ``MIN_CONVERTERS``
(5) converters; below that the status is ``not_enough_data`` and ``ci95`` is ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from chalicelib.domain.campaigns import Campaign
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.events import MOMENTS
from chalicelib.domain.offer_stats import NO_STORE, split_name

MAX_DAYS = 92
DEFAULT_DAYS = 7
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MOMENT_TYPES = tuple(sorted({kind.moment_type for kind in MOMENTS.values()}))
FUNNEL = (  # step -> the offer metric it counts (moments come from the moment counters)
    ("moments", None),
    ("eligible", "decided"),
    ("sent", "sent"),
    ("opened", "engaged"),  # opened OR clicked: email has no open tracking, a click implies an open
    ("clicked", "clicked"),
    ("redeemed", "redeemed"),
)
FUNNEL_STEPS = {  # what each step counts (the funnel report's ``definitions``)
    "moments": (
        "moments of a type a campaign can trigger on (or of the moment type asked for); with a "
        "campaign, of its trigger's type in its stores (if it names stores)"
    ),
    "eligible": (
        "moments that got an offer decision (at least one campaign matched; one decision per "
        "moment, for the campaign ranked first: sent, held out or suppressed); with a campaign, "
        "the moments decided for it"
    ),
    "sent": "offers the provider accepted (SES / SNS)",
    "opened": (
        "sent offers opened or clicked (first of either; email has no open tracking and a click "
        "implies the offer was seen), so never fewer than clicked"
    ),
    "clicked": "sent offers clicked (SDK Offer Clicked or the /c/ tracked link)",
    "redeemed": (
        "sent offers whose code was redeemed; a code read out at the till needs no click, so "
        "this step can exceed clicked"
    ),
}
FUNNEL_NOTE = (
    "each step is counted in the hour it happened, so at the edges of a range an offer can be "
    "counted in a step without its earlier steps"
)
BY = ("campaign", "store", "moment")
INTERVALS = ("day", "hour")
PEAK_METRICS = ("moments", "sent", "engaged", "redeemed")
CAMPAIGN_METRICS = (
    "decided",
    "holdout",
    "suppressed",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "engaged",
    "redeemed",
    "converted_treatment",
    "converted_holdout",
)
Z95 = 1.959963984540054  # the 0.975 quantile of the standard normal distribution
MIN_USERS_PER_GROUP = 30
MIN_CONVERTERS = 5
LIFT_METHOD = "newcombe_hybrid_score"
LIFT_COHORT = (
    "cohort of shoppers first reached in the range: users = shoppers whose first decision for "
    "the campaign fell in the range and filters; converters = how many of them have converted "
    "so far (at any time, also after the range)"
)
_STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_CAMPAIGN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def rate(numerator: int | float, denominator: int | float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


# --- which campaigns a range can hold counters of ---------------------------------------------

# After a campaign stops deciding (archived, or its trigger's ``ends_at``), its sent offers can
# still be opened, clicked, delivered and converted while their ledger records live: 30 days
# (use_cases/offers.LEDGER_TTL), plus the few days DynamoDB's TTL may take to delete them.
COUNTED_AFTER_END = timedelta(days=35)


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def counting_window(campaign: Campaign) -> tuple[datetime | None, datetime | None]:
    """From when to when ``campaign``'s offer counters can have been written (None: open):
    from its creation to when it last decided plus ``COUNTED_AFTER_END``. Its schedule
    (``starts_at``, ``ends_at``) can be edited after it ran, so neither narrows the window on its
    own: archived, it last decided at its last change (archiving); with an ``ends_at``, at the
    later of that and its last change. A paused campaign may resume, so it stays open."""
    first = _instant(campaign.created_at)
    changed = _instant(campaign.updated_at or campaign.created_at)
    if campaign.status == "archived":
        last = changed
    elif (ends := _instant(campaign.trigger.ends_at)) is not None:
        last = max(ends, changed) if changed else ends
    else:
        last = None
    return first, last + COUNTED_AFTER_END if last else None


def may_have_counts(campaign: Campaign, filters: Filters) -> bool:
    """Whether ``campaign`` can have counters in the range (so whether to read them)."""
    first, last = counting_window(campaign)
    range_start = datetime.combine(filters.start, datetime.min.time(), UTC)
    range_end = datetime.combine(filters.end + timedelta(days=1), datetime.min.time(), UTC)
    return (first is None or first < range_end) and (last is None or last >= range_start)


# --- pages of long lists ---------------------------------------------------------------------

PAGE_LIMIT = 1000  # campaigns per page of the campaigns, lift and suppression reports
PAGE_POINTS = 40_000  # engagement: series per page so that a page holds at most this many points


def parse_page(params: Mapping[str, Any], default_limit: int) -> tuple[int, int]:
    """``offset`` (default 0) and ``limit`` (default and most ``default_limit``)."""
    errors = []
    values = []
    for name, default, most in (("offset", 0, None), ("limit", default_limit, default_limit)):
        raw = _text(params, name)
        if raw is None:
            values.append(default)
            continue
        if not raw.isdigit() or (name == "limit" and int(raw) < 1) or (most and int(raw) > most):
            bound = f"1 to {most}" if most else "0 or more"
            errors.append(FieldError(name, f"must be a whole number, {bound}"))
            values.append(default)
            continue
        values.append(int(raw))
    if errors:
        raise InvalidInput(errors)
    return values[0], values[1]


def page(rows: Sequence[Any], offset: int, limit: int) -> tuple[list[Any], dict[str, Any]]:
    """``rows[offset:offset + limit]`` and what a client needs to fetch the next page."""
    shown = list(rows[offset : offset + limit])
    after = offset + len(shown)
    return shown, {
        "offset": offset,
        "limit": limit,
        "total": len(rows),
        "next_offset": after if after < len(rows) else None,
    }


# --- the request: range and filters ----------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What a report covers: UTC days ``start``..``end`` (inclusive), optionally one store,
    one campaign and one moment type."""

    start: date
    end: date
    store: str | None = None
    campaign: str | None = None
    moment: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "store": self.store,
            "campaign": self.campaign,
            "moment": self.moment,
        }

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def hours(self) -> list[str]:
        """Every UTC hour bucket (``YYYYMMDDHH``) of the range, oldest first."""
        return [f"{day.strftime('%Y%m%d')}{hh:02d}" for day in self.days() for hh in range(24)]

    @property
    def first_hour(self) -> str:
        return f"{self.start.strftime('%Y%m%d')}00"

    @property
    def last_hour(self) -> str:
        return f"{self.end.strftime('%Y%m%d')}23"


def _text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def parse_query(
    params: Mapping[str, Any], today: date, options: Mapping[str, Sequence[str]] | None = None
) -> tuple[Filters, dict[str, str]]:
    """The filters (``from``, ``to``, ``store``, ``campaign``, ``moment``) and the report's
    ``options`` (name -> allowed values, the first is the default) from query parameters;
    InvalidInput naming every bad one. Empty values count as absent (a browser form sends
    ``store=``)."""
    errors: list[FieldError] = []

    def day(name: str) -> date | None:
        raw = _text(params, name)
        if raw is None or not _DATE.match(raw):
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:  # 2026-02-30
            return None

    end = day("to")
    if _text(params, "to") is not None and end is None:
        errors.append(FieldError("to", "must be a date like 2026-11-30 (UTC)"))
    start = day("from")
    if _text(params, "from") is not None and start is None:
        errors.append(FieldError("from", "must be a date like 2026-11-24 (UTC)"))
    end = end or today
    if start is None:  # (clamped at 0001-01-01)
        start = date.fromordinal(max(1, end.toordinal() - (DEFAULT_DAYS - 1)))
    if not any(e.field in ("from", "to") for e in errors):
        if start > end:
            errors.append(FieldError("from", "must not be after to"))
        elif (end - start).days + 1 > MAX_DAYS:
            errors.append(FieldError("from", f"the range may cover at most {MAX_DAYS} days"))
    store = _text(params, "store")
    if store is not None and not _STORE_ID.match(store):
        errors.append(FieldError("store", "must be a store id: 1-64 letters, digits, _ . -"))
    campaign = _text(params, "campaign")
    if campaign is not None and not _CAMPAIGN_ID.match(campaign):
        errors.append(FieldError("campaign", "must be a campaign id: lowercase letters, digits and -"))
    moment = _text(params, "moment")
    if moment is not None and moment not in MOMENT_TYPES:
        errors.append(FieldError("moment", f"must be one of {', '.join(MOMENT_TYPES)}"))
    chosen: dict[str, str] = {}
    for name, allowed in (options or {}).items():
        value = _text(params, name)
        if value is None:
            chosen[name] = allowed[0]
        elif value in allowed:
            chosen[name] = value
        else:
            errors.append(FieldError(name, f"must be one of {', '.join(allowed)}"))
    if errors:
        raise InvalidInput(errors)
    return Filters(start, end, store, campaign, moment), chosen


# --- offer counters ----------------------------------------------------------------------------


class OfferCount(NamedTuple):
    """One offer counter of one item: ``{metric}|{moment}`` in (campaign, hour, store)."""

    campaign_id: str
    hour: str  # YYYYMMDDHH, UTC
    store_id: str  # NO_STORE ("-") when the moment had no store
    metric: str
    moment: str  # "-" when the offer's moment had no type
    n: int


def offer_counts(campaign_id: str, sort_key: str, counts: Mapping[str, Any]) -> list[OfferCount]:
    """The counters of one ``STAT#offers#{campaign_id}`` / ``{hour}#{store}`` item."""
    hour, _, store = sort_key.partition("#")
    out = []
    for name, value in counts.items():
        if name in ("PK", "SK") or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        metric, moment = split_name(name)
        out.append(OfferCount(campaign_id, hour, store or NO_STORE, metric, moment, int(value)))
    return out


def select(counts: Iterable[OfferCount], filters: Filters) -> list[OfferCount]:
    """The counters inside the range and filters (a store filter drops offers without a store)."""
    first, last = filters.first_hour, filters.last_hour
    return [
        c
        for c in counts
        if first <= c.hour <= last
        and (filters.store is None or c.store_id == filters.store)
        and (filters.campaign is None or c.campaign_id == filters.campaign)
        and (filters.moment is None or c.moment == filters.moment)
    ]


def totals(counts: Iterable[OfferCount]) -> dict[str, int]:
    """Metric -> sum (``suppressed:quiet_hours`` etc. kept apart)."""
    out: dict[str, int] = {}
    for c in counts:
        out[c.metric] = out.get(c.metric, 0) + c.n
    return out


def reasons(metric_totals: Mapping[str, int]) -> dict[str, int]:
    """Suppression reason -> count, from ``suppressed:{reason}`` totals."""
    out: dict[str, int] = {}
    for metric, n in metric_totals.items():
        if metric.startswith("suppressed:") and n:
            reason = metric.partition(":")[2] or "unknown"
            out[reason] = out.get(reason, 0) + n
    return out


def by_campaign(counts: Iterable[OfferCount]) -> dict[str, dict[str, int]]:
    out: dict[str, list[OfferCount]] = {}
    for c in counts:
        out.setdefault(c.campaign_id, []).append(c)
    return {campaign_id: totals(rows) for campaign_id, rows in out.items()}


# --- moment counters ---------------------------------------------------------------------------


def moment_count(counts: Mapping[str, Any], moment_types: Iterable[str] | None) -> int:
    """The ``moment:{type}`` counters of one counter item, only ``moment_types`` if given."""
    if moment_types is not None:
        return sum(int(counts.get(f"moment:{t}", 0) or 0) for t in moment_types)
    return sum(int(n) for name, n in counts.items() if name.startswith("moment:"))


def moments_by_hour(
    items: Mapping[str, Mapping[str, Any]], moment_types: Iterable[str] | None
) -> dict[str, int]:
    """Hour -> moments, from hour -> counter item (one scope, or shards already merged)."""
    wanted = list(moment_types) if moment_types is not None else None
    return {hour: moment_count(counts, wanted) for hour, counts in items.items()}


def merge_hours(*scopes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Several scopes' hour -> counter item maps (the ``all#s{n}`` shards) added up."""
    out: dict[str, dict[str, int]] = {}
    for items in scopes:
        for hour, counts in items.items():
            bucket = out.setdefault(hour, {})
            for name, n in counts.items():
                if isinstance(n, int | float) and not isinstance(n, bool):
                    bucket[name] = bucket.get(name, 0) + int(n)
    return out


# --- 1. funnel ---------------------------------------------------------------------------------


def funnel(moments: int, metric_totals: Mapping[str, int]) -> dict[str, Any]:
    """Steps moments -> eligible -> sent -> opened -> clicked -> redeemed, each with its rate
    from the previous step and from the first (the first step's ``rate_from_previous`` is
    ``None``). Per offer every step up to clicked is part of the one before (a moment gets at
    most one decision; "opened" is opened or clicked), see ``FUNNEL_STEPS``."""
    counts = [moments if metric is None else int(metric_totals.get(metric, 0)) for _, metric in FUNNEL]
    steps = []
    for i, ((step, _), count) in enumerate(zip(FUNNEL, counts, strict=True)):
        steps.append(
            {
                "step": step,
                "count": count,
                "rate_from_previous": rate(count, counts[i - 1]) if i else None,
                "rate_from_first": rate(count, counts[0]),
            }
        )
    return {
        "steps": steps,
        "holdout": int(metric_totals.get("holdout", 0)),
        "suppressed": sum(reasons(metric_totals).values()),
        "definitions": {**FUNNEL_STEPS, "note": FUNNEL_NOTE},
    }


# --- 2. campaigns ------------------------------------------------------------------------------


def campaign_metrics(metric_totals: Mapping[str, int]) -> dict[str, int]:
    def get(name: str) -> int:
        return int(metric_totals.get(name, 0))

    return {
        "decided": get("decided"),
        "holdout": get("holdout"),
        "suppressed": sum(reasons(metric_totals).values()),
        "sent": get("sent"),
        "delivered": get("delivered"),
        "opened": get("opened"),
        "clicked": get("clicked"),
        "engaged": get("engaged"),
        "redeemed": get("redeemed"),
        "converted_treatment": get("converted:treatment"),
        "converted_holdout": get("converted:holdout"),
    }


def campaign_row(
    campaign_id: str, name: str, status: str, metric_totals: Mapping[str, int]
) -> dict[str, Any]:
    metrics = campaign_metrics(metric_totals)
    return {
        "campaign_id": campaign_id,
        "name": name,
        "status": status,
        **metrics,
        "engagement_rate": rate(metrics["engaged"], metrics["sent"]),
        "conversion_rate": rate(metrics["converted_treatment"], metrics["sent"]),
        "lift": lift_of(metric_totals),
    }


def sort_campaign_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (-int(r["sent"]), r["campaign_id"]))


# --- 5. lift -----------------------------------------------------------------------------------


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a proportion (no continuity correction)."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_hybrid(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 - p2 (1998, method 10)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def lift(t_users: int, t_converters: int, h_users: int, h_converters: int) -> dict[str, Any]:
    """Treatment vs holdout conversion of one cohort: ``users`` shoppers first reached in the
    range (per group) and how many of them have converted so far (``converters``, counted in
    the bucket of each shopper's first decision, see domain/offer_stats.py), so
    ``converters <= users`` by construction. Counters written before cohorts existed can break
    that; then the status is ``inconsistent`` and there is no interval (nothing is clamped)."""
    t_conv, h_conv = t_converters, h_converters
    consistent = t_conv <= t_users and h_conv <= h_users
    t_rate, h_rate = rate(t_conv, t_users), rate(h_conv, h_users)
    difference = None
    relative = None
    if t_users and h_users and consistent:
        exact = t_conv / t_users - h_conv / h_users
        difference = round(exact, 4)
        relative = round(exact / (h_conv / h_users), 4) if h_conv else None
    enough = (
        t_users >= MIN_USERS_PER_GROUP
        and h_users >= MIN_USERS_PER_GROUP
        and t_conv + h_conv >= MIN_CONVERTERS
    )
    ci95 = None
    if enough and consistent:
        low, high = newcombe_hybrid(t_conv, t_users, h_conv, h_users)
        ci95 = [round(low, 4), round(high, 4)]
    status = "inconsistent" if not consistent else "ok" if enough else "not_enough_data"
    return {
        "status": status,
        "treatment": {"users": t_users, "converters": t_conv, "rate": t_rate},
        "holdout": {"users": h_users, "converters": h_conv, "rate": h_rate},
        "difference": difference,
        "relative_lift": relative,
        "ci95": ci95,
        "method": LIFT_METHOD,
        "minimum": {"users_per_group": MIN_USERS_PER_GROUP, "converters": MIN_CONVERTERS},
    }


def lift_of(metric_totals: Mapping[str, int]) -> dict[str, Any]:
    def get(name: str) -> int:
        return int(metric_totals.get(name, 0))

    return lift(
        get("users:treatment"), get("converters:treatment"), get("users:holdout"), get("converters:holdout")
    )


# --- 3. engagement over time -------------------------------------------------------------------


def bucket_label(hour: str, interval: str) -> str:
    """``2026112314`` -> ``2026-11-23`` (day) or ``2026-11-23T14:00Z`` (hour)."""
    day = f"{hour[:4]}-{hour[4:6]}-{hour[6:8]}"
    return day if interval == "day" else f"{day}T{hour[8:10]}:00Z"


def bucket_labels(filters: Filters, interval: str) -> list[str]:
    if interval == "day":
        return [d.isoformat() for d in filters.days()]
    return [bucket_label(hour, "hour") for hour in filters.hours()]


def _key(count: OfferCount, by: str) -> str:
    if by == "campaign":
        return count.campaign_id
    if by == "store":
        return count.store_id
    return count.moment


def engagement(
    counts: Iterable[OfferCount],
    filters: Filters,
    by: str,
    interval: str,
    labels: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One series per campaign, store (``-``: no store) or moment type that has any offer
    counter in the range: sent, engaged, converted (treatment) per bucket, every bucket of
    the range present; series by total sent (most first), then key."""
    buckets = bucket_labels(filters, interval)
    series: dict[str, dict[str, list[int]]] = {}
    for c in counts:
        values = series.setdefault(_key(c, by), {b: [0, 0, 0] for b in buckets})
        column = {"sent": 0, "engaged": 1, "converted:treatment": 2}.get(c.metric)
        if column is None:
            continue
        bucket = values.get(bucket_label(c.hour, interval))
        if bucket is not None:
            bucket[column] += c.n
    out = []
    for key, values in series.items():
        points = [
            {
                "t": t,
                "sent": sent,
                "engaged": engaged,
                "converted": converted,
                "engagement_rate": rate(engaged, sent),
                "conversion_rate": rate(converted, sent),
            }
            for t, (sent, engaged, converted) in values.items()
        ]
        out.append({"key": key, "label": (labels or {}).get(key, key), "points": points})
    return sorted(out, key=lambda s: (-sum(p["sent"] for p in s["points"]), s["key"]))


# --- 4. peak hours -----------------------------------------------------------------------------


PEAK_BUCKETING = (
    "counters are kept per UTC hour; each UTC hour is placed in the local hour that contains its "
    "midpoint (HH:30 UTC), which is exact where the store's UTC offset is whole hours "
    "(hour_aligned); where it has 30 or 45 minutes (India +05:30, Nepal +05:45, Newfoundland "
    "-03:30 ...) a cell holds the UTC hour that mostly (at :30, half) overlaps it, so its counts "
    "can be up to 30 minutes off"
)


def local_matrix(by_hour: Mapping[str, int], zone: ZoneInfo) -> list[list[int]]:
    """7 x 24 counts: [local day of week, Monday first][local hour], from UTC hour buckets.
    A UTC hour goes to the local hour containing its midpoint (``PEAK_BUCKETING``): the same
    as its start in whole-hour zones, the hour it mostly overlaps at a 45-minute offset, and
    the later of the two halves at a 30-minute offset (consistently)."""
    matrix = [[0] * 24 for _ in range(7)]
    for hour, n in by_hour.items():
        if not n:
            continue
        midpoint = datetime.strptime(hour, "%Y%m%d%H").replace(tzinfo=UTC) + timedelta(minutes=30)
        local = midpoint.astimezone(zone)
        matrix[local.weekday()][local.hour] += int(n)
    return matrix


def hour_aligned(zone: ZoneInfo, filters: Filters) -> bool:
    """Whether ``zone``'s UTC offset is whole hours all through the range (then the matrix is
    exact; else each cell may be 30 minutes off, see ``PEAK_BUCKETING``)."""
    for day in [*filters.days(), filters.end + timedelta(days=1)]:
        offset = datetime.combine(day, datetime.min.time(), UTC).astimezone(zone).utcoffset()
        if offset is not None and offset.total_seconds() % 3600:
            return False
    return True


def peak(matrix: Sequence[Sequence[int]]) -> dict[str, Any] | None:
    """The busiest (day, hour) cell, the earliest in the week on a tie; None if all are 0."""
    best: tuple[int, int, int] | None = None
    for d, row in enumerate(matrix):
        for h, n in enumerate(row):
            if n > 0 and (best is None or n > best[2]):
                best = (d, h, n)
    if best is None:
        return None
    return {"day": WEEKDAYS[best[0]], "hour": best[1], "count": best[2]}


def peak_store(
    store_id: str, name: str | None, timezone: str, matrix: list[list[int]], aligned: bool = True
) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "name": name,
        "timezone": timezone,
        "hour_aligned": aligned,
        "days": list(WEEKDAYS),
        "matrix": matrix,
        "total": sum(sum(row) for row in matrix),
        "peak": peak(matrix),
    }


def offers_by_store_hour(counts: Iterable[OfferCount], metric: str) -> dict[str, dict[str, int]]:
    """Store -> UTC hour -> count of ``metric``."""
    out: dict[str, dict[str, int]] = {}
    for c in counts:
        if c.metric == metric:
            hours = out.setdefault(c.store_id, {})
            hours[c.hour] = hours.get(c.hour, 0) + c.n
    return out


# --- 6. suppression ----------------------------------------------------------------------------


def suppression(
    overall: Mapping[str, int], campaigns: Sequence[tuple[str, str, Mapping[str, int]]]
) -> dict[str, Any]:
    """Why offers were not sent: reasons over everything (share of all suppressed), and per
    campaign (``(campaign_id, name, metric totals)``), most suppressed first."""
    all_reasons = reasons(overall)
    suppressed = sum(all_reasons.values())
    rows = []
    for campaign_id, name, metric_totals in campaigns:
        mine = reasons(metric_totals)
        rows.append(
            {
                "campaign_id": campaign_id,
                "name": name,
                "decided": int(metric_totals.get("decided", 0)),
                "suppressed": sum(mine.values()),
                "reasons": dict(sorted(mine.items(), key=lambda kv: (-kv[1], kv[0]))),
            }
        )
    return {
        "decided": int(overall.get("decided", 0)),
        "suppressed": suppressed,
        "reasons": [
            {"reason": reason, "count": n, "share": rate(n, suppressed)}
            for reason, n in sorted(all_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "by_campaign": sorted(rows, key=lambda r: (-r["suppressed"], r["campaign_id"])),
    }
