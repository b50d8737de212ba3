"""Time: the ``Clock`` port and one fixed-width ISO format, so stored times compare as strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware current time."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for tests and replays: it only moves when told to."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at = self.at + timedelta(**delta)


def iso(moment: datetime) -> str:
    """UTC, millisecond precision, fixed width: ``2026-11-23T15:04:05.123+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def hour_bucket(moment: datetime) -> str:
    """The UTC hour a moment falls in, as ``YYYYMMDDHH`` (the analytics counter bucket)."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H")
