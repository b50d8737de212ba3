"""Opening hours in the common OpenStreetMap subset: ``Mo-Fr 08:00-18:00; Sa 10:00-14:00``.

Rules are ``;``-separated: days (``Mo``..``Su``, ranges ``Mo-Fr``, lists ``Mo,We``), then one
or more ``HH:MM-HH:MM`` spans separated by ``,`` (a span may pass midnight: ``18:00-02:00``),
or ``off``. ``24/7`` means always open. A later rule for a day replaces an earlier one.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_SPAN = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")

Schedule = dict[int, list[tuple[int, int]]]  # weekday -> [(start minute, end minute)]


class OpeningHoursError(ValueError):
    pass


def _days(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            first, last = part.split("-", 1)
            if first not in DAYS or last not in DAYS:
                raise OpeningHoursError(f"unknown day range {part!r}")
            a, b = DAYS.index(first), DAYS.index(last)
            out.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            raise OpeningHoursError(f"unknown day {part!r}")
    return out


def parse(text: str) -> Schedule:
    text = text.strip()
    if text == "24/7":
        return {d: [(0, 1440)] for d in range(7)}
    schedule: Schedule = {}
    for rule in filter(None, (r.strip() for r in text.split(";"))):
        days_spec, _, times = rule.partition(" ")
        days = _days(days_spec)
        times = times.strip()
        spans: list[tuple[int, int]] = []
        if times != "off":
            for span in times.split(","):
                match = _SPAN.match(span.strip())
                if not match:
                    raise OpeningHoursError(f"bad time span {span.strip()!r} (expected HH:MM-HH:MM)")
                h1, m1, h2, m2 = (int(g) for g in match.groups())
                spans.append((h1 * 60 + m1, h2 * 60 + m2))
        for day in days:
            schedule[day] = spans
    if not schedule:
        raise OpeningHoursError("no rules")
    return schedule


def is_open(schedule: Schedule, local: datetime) -> bool:
    minute = local.hour * 60 + local.minute
    day = local.weekday()
    for start, end in schedule.get(day, []):
        if start <= end and start <= minute < end:
            return True
        if start > end and minute >= start:  # passes midnight: today's part
            return True
    yesterday = (local - timedelta(days=1)).weekday()
    return any(start > end and minute < end for start, end in schedule.get(yesterday, []))
