"""QR scan analytics from the day counters the worker writes (see domain/counters.py): totals,
by hour of day and day of week in the store's time zone, by day, and scan -> redemption
conversion. Pure: callers read the counter items and pass them in.

Ranges are whole UTC days (the counters' buckets); each hourly count is placed in the store's
local hour and weekday, so "busiest hour" and "busiest day" are the shoppers' own.
``unique_visitors`` counts a visitor once per code (per store, for a store) in any 24 hours,
so over one day it is that day's unique visitors and over a week the sum of daily uniques.
``conversion_rate`` is redemptions of offers that the scans triggered, over shopper scans, both
counted in the range.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 92

DayCounts = Mapping[str, int]


def utc_days(last: date, days: int) -> list[str]:
    """The ``days`` UTC day buckets (YYYYMMDD) ending with ``last``, oldest first."""
    return [(last - timedelta(days=n)).strftime("%Y%m%d") for n in range(days - 1, -1, -1)]


def merged(*items: Mapping[str, DayCounts]) -> dict[str, dict[str, int]]:
    """Day items of several ids (a code's lineage) added up, day by day."""
    out: dict[str, dict[str, int]] = {}
    for item in items:
        for day, counts in item.items():
            bucket = out.setdefault(day, {})
            for name, n in counts.items():
                bucket[name] = bucket.get(name, 0) + int(n)
    return out


def rate(redemptions: int, scans: int) -> float | None:
    return round(redemptions / scans, 4) if scans else None


def summarize(items: Mapping[str, DayCounts], days: Iterable[str], zone: ZoneInfo) -> dict[str, object]:
    """Totals and breakdowns of the ``s{HH}``/``u{HH}``/``r{HH}`` counters over ``days``."""
    hours = [[0, 0, 0] for _ in range(24)]  # scans, unique, redemptions by local hour
    weekdays = [[0, 0, 0] for _ in range(7)]
    by_day = []
    for day in days:
        counts = items.get(day) or {}
        start = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
        day_total = [0, 0, 0]
        for hh in range(24):
            values = [int(counts.get(f"{kind}{hh:02d}", 0)) for kind in ("s", "u", "r")]
            if not any(values):
                continue
            local = (start + timedelta(hours=hh)).astimezone(zone)
            for i, value in enumerate(values):
                hours[local.hour][i] += value
                weekdays[local.weekday()][i] += value
                day_total[i] += value
        by_day.append(_row({"date": f"{day[:4]}-{day[4:6]}-{day[6:]}"}, day_total))
    total = [sum(h[i] for h in hours) for i in range(3)]
    return {
        **_row({}, total),
        "by_hour_of_day": [_row({"hour": h}, hours[h]) for h in range(24)],
        "by_day_of_week": [_row({"day": WEEKDAYS[d]}, weekdays[d]) for d in range(7)],
        "by_day": by_day,
    }


def per_code(items: Mapping[str, DayCounts], days: Iterable[str]) -> dict[str, dict[str, int]]:
    """From a store's day items: scans, unique visitors and redemptions per qr_id."""
    out: dict[str, dict[str, int]] = {}
    fields = {"c:": "scans", "cu:": "unique_visitors", "cr:": "redemptions"}
    for day in days:
        for name, n in (items.get(day) or {}).items():
            prefix, _, qr_id = name.partition(":")
            if qr_id and f"{prefix}:" in fields:
                row = out.setdefault(qr_id, {"scans": 0, "unique_visitors": 0, "redemptions": 0})
                row[fields[f"{prefix}:"]] += int(n)
    return out


def _row(base: dict[str, object], values: list[int]) -> dict[str, object]:
    scans, unique, redemptions = values
    return {
        **base,
        "scans": scans,
        "unique_visitors": unique,
        "redemptions": redemptions,
        "conversion_rate": rate(redemptions, scans),
    }
