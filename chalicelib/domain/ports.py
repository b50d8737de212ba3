"""Ports: what the use cases need from the outside world, as ``typing.Protocol``s.

Adapters in ``chalicelib/adapters`` implement them against AWS; ``adapters/in_memory.py``
implements them in memory for tests and benchmarks. Every method raises a domain error
(``chalicelib.domain.errors``) on failure and never returns None to mean "it failed".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.domain.campaigns import Campaign
from chalicelib.domain.counters import CounterIncrement
from chalicelib.domain.distinct import Observation
from chalicelib.domain.profile import Profile, Subject
from chalicelib.domain.records import AppKey, QrCode


@dataclass(frozen=True)
class QueueMessage:
    id: str  # unique within one send call
    body: str


class EventQueue(Protocol):
    def send(self, messages: Sequence[QueueMessage]) -> None:
        """Enqueue all messages or raise RetryableError (some may have been enqueued)."""
        ...


class DistinctSketches(Protocol):
    """Daily distinct-shopper sketches (domain/distinct.py)."""

    def raise_to(self, day: str, observation: Observation) -> bool: ...

    def sketches(self, days: Sequence[str]) -> dict[str, dict[int, int]]: ...


class AppKeyRepository(Protocol):
    def find(self, key_hash: str) -> AppKey | None: ...

    def put(self, app_key: AppKey) -> None: ...


class QrCodeRepository(Protocol):
    def get(self, qr_id: str) -> QrCode | None: ...

    def put(self, qr_code: QrCode) -> None: ...


@dataclass(frozen=True)
class WritePlan:
    """Everything one group of events changes, committed atomically or not at all.

    A group is the events of one worker batch that touch the same profiles (usually one
    shopper's): their effects are applied in order in memory and committed together. Each
    profile carries the ids of the messages it has applied (``Profile.applied``), so the
    commit that applies an event is also the one that records it as applied.

    ``profile.version`` is the version read; the store writes ``version + 1`` only if the
    stored version still equals it (0 means the profile must not exist yet)."""

    profiles: tuple[Profile, ...]
    counters: list[CounterIncrement] = field(default_factory=list)  # one per item (``combined``)
    aliases: tuple[tuple[str, str], ...] = ()  # (anonymous_id, user_id): each must not exist yet
    # Race guards, checked in the same atomic write: these anonymous ids must still have no
    # alias (anonymous events applied to the anonymous profile) / no profile (an alias made
    # while the anonymous profile did not exist), or the plan is rebuilt.
    absent_aliases: tuple[str, ...] = ()
    absent_anonymous_profiles: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()  # the messages this plan applies (for errors and logs)

    @property
    def profile(self) -> Profile:
        """The group's first profile (the one its first event applied to)."""
        return self.profiles[0]


class MomentStore(Protocol):
    def get_profile(self, subject: Subject, consistent: bool = True) -> Profile | None:
        """``consistent=False`` may return an older version: fine for planning, because the
        commit checks the version (a stale read ends in Conflict, then a consistent re-read)."""
        ...

    def get_alias(self, anonymous_id: str, consistent: bool = True) -> str | None: ...

    def get_many(
        self, subjects: Sequence[Subject], anonymous_ids: Sequence[str], consistent: bool = True
    ) -> tuple[dict[Subject, Profile | None], dict[str, str | None]]:
        """Profiles and aliases in as few round trips as the store allows; a key it could not
        read is left out (the caller reads it alone)."""
        ...

    def commit(self, plan: WritePlan) -> None:
        """Raises Conflict if a profile version moved or an alias/guard condition failed,
        RetryableError when throttled."""
        ...

    def save_profile(self, profile: Profile) -> None:
        """Write ``profile`` as version + 1 if the stored version is still ``profile.version``;
        Conflict otherwise."""
        ...

    def park(self, subject: Subject, message_id: str, record: dict[str, Any], ttl_epoch: int) -> None:
        """Remember, beyond the dedupe window, that ``message_id`` (keyed by the identity in its
        envelope) was committed: written when its after-commit step fails, so a late redelivery
        (a DLQ redrive) is still recognised."""
        ...

    def parked(self, subject: Subject, message_id: str) -> dict[str, Any] | None:
        """The record ``park`` kept for the message, or None."""
        ...

    def erase(self, subject: Subject) -> int:
        """Delete every item stored under ``subject``; returns how many were deleted."""
        ...


class CampaignRepository(Protocol):
    def get(self, campaign_id: str) -> Campaign | None: ...

    def put(self, campaign: Campaign, expected_updated_at: str | None) -> None:
        """Create (expected None: must not exist) or replace if unchanged since read; Conflict otherwise."""
        ...

    def list(self) -> list[Campaign]: ...


class StoreDirectory(Protocol):
    def get(self, store_id: str) -> dict[str, Any] | None: ...
