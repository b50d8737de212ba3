"""Exponentially time-decayed affinity scores (a user's interest in a category or product).

A score is stored with the time it was last brought up to date. Its value at time t is
``score * 0.5 ** ((t - at) / half_life)``: every half-life without a new signal halves it.
Events can arrive out of order; an older signal is added already decayed to the stored time,
so the result does not depend on the order in which events are applied.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict

from chalicelib.domain.clock import iso


class Affinity(TypedDict):
    score: float
    at: str  # ISO-8601 UTC


def decay(score: float, elapsed: timedelta, half_life: timedelta) -> float:
    """``score`` after ``elapsed`` without a signal (elapsed may be negative: then it grows)."""
    return score * 0.5 ** (elapsed / half_life)


def add_signal(current: Affinity | None, weight: float, at: datetime, half_life: timedelta) -> Affinity:
    """The affinity after one more signal of ``weight`` observed at ``at``."""
    if current is None:
        return {"score": round(weight, 6), "at": iso(at)}
    stored_at = datetime.fromisoformat(current["at"])
    if at >= stored_at:
        score = decay(current["score"], at - stored_at, half_life) + weight
        return {"score": round(score, 6), "at": iso(at)}
    score = current["score"] + decay(weight, stored_at - at, half_life)
    return {"score": round(score, 6), "at": current["at"]}


def value_at(affinity: Affinity, now: datetime, half_life: timedelta) -> float:
    """The decayed score as seen at ``now``."""
    return decay(affinity["score"], now - datetime.fromisoformat(affinity["at"]), half_life)


def merge(a: Affinity | None, b: Affinity | None, half_life: timedelta) -> Affinity | None:
    """Combine two independent affinities for the same item (used when profiles are aliased)."""
    if a is None or b is None:
        return a or b
    a_at, b_at = datetime.fromisoformat(a["at"]), datetime.fromisoformat(b["at"])
    later, earlier = (a, b) if a_at >= b_at else (b, a)
    gap = abs(a_at - b_at)
    score = later["score"] + decay(earlier["score"], gap, half_life)
    return {"score": round(score, 6), "at": later["at"]}


def keep_top(
    affinities: dict[str, Affinity], limit: int, now: datetime, half_life: timedelta
) -> dict[str, Affinity]:
    """The ``limit`` strongest affinities at ``now`` (bounds the profile item's size)."""
    if len(affinities) <= limit:
        return affinities
    ranked = sorted(affinities.items(), key=lambda kv: value_at(kv[1], now, half_life), reverse=True)
    return dict(ranked[:limit])
