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


class AppKeyRepository(Protocol):
    def find(self, key_hash: str) -> AppKey | None: ...

    def put(self, app_key: AppKey) -> None: ...


class QrCodeRepository(Protocol):
    def get(self, qr_id: str) -> QrCode | None: ...

    def put(self, qr_code: QrCode) -> None: ...


@dataclass(frozen=True)
class MessageMarker:
    """The idempotency marker plus the compact moment record, kept for ``ttl_epoch``.

    Keyed by the identity *in the envelope* (``subject``), which never changes between
    deliveries of one message, not by the resolved profile, which aliasing may change."""

    subject: Subject
    message_id: str
    record: dict[str, Any]
    ttl_epoch: int


@dataclass(frozen=True)
class WritePlan:
    """Everything one event changes, committed atomically or not at all.

    ``profile.version`` is the version read; the store writes ``version + 1`` only if the
    stored version still equals it (0 means the profile must not exist yet)."""

    marker: MessageMarker
    profile: Profile
    counters: list[CounterIncrement] = field(default_factory=list)
    alias: tuple[str, str] | None = None  # (anonymous_id, user_id)
    merged_anonymous: Profile | None = None  # tombstone of the anonymous profile, same rule
    # Race guards, checked in the same atomic write: this anonymous id must still have no
    # alias (an anonymous event applied to the anonymous profile) / no profile (an alias made
    # while the anonymous profile did not exist), or the plan is rebuilt.
    absent_alias: str | None = None
    absent_anonymous_profile: str | None = None


class MomentStore(Protocol):
    def get_profile(self, subject: Subject) -> Profile | None: ...

    def get_alias(self, anonymous_id: str) -> str | None: ...

    def get_marker(self, subject: Subject, message_id: str) -> dict[str, Any] | None:
        """The compact moment record an earlier delivery of this message committed."""
        ...

    def commit(self, plan: WritePlan) -> None:
        """Raises DuplicateMessage if the marker exists, Conflict if a profile version moved,
        RetryableError when throttled."""
        ...

    def save_profile(self, profile: Profile) -> None:
        """Write ``profile`` as version + 1 if the stored version is still ``profile.version``;
        Conflict otherwise."""
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
