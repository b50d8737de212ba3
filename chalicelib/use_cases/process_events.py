"""The worker: apply each queued event to the profile, marker and counters exactly once.

Per event: resolve whose profile it is (aliasing an anonymous id to a user on first sight,
folding the anonymous history in), compute the new profile purely, and commit everything as
one ``WritePlan``. A lost race (profile version moved) rebuilds the plan; a duplicate changes
nothing. Per batch: if any record fails, the ones that succeeded are deleted from the queue
and then ``BatchFailed`` is raised, so only the failed ones come back (correct whether or not
the SQS trigger has ReportBatchItemFailures; Chalice cannot set it, aws/chalice#2029).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from chalicelib.contracts import queue_envelope
from chalicelib.contracts.queue_envelope import Envelope
from chalicelib.domain import profile as profiles
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.counters import increments_for
from chalicelib.domain.errors import (
    Conflict,
    DuplicateMessage,
    NotFound,
    PoisonMessage,
    RetryableError,
)
from chalicelib.domain.events import Event
from chalicelib.domain.ports import MessageMarker, MomentStore, WritePlan
from chalicelib.domain.profile import Profile, Subject
from chalicelib.settings import Settings
from chalicelib.use_cases.scan_qr import QrCodes

MAX_ATTEMPTS = 5


class Outcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Processed:
    outcome: Outcome
    message_id: str
    moment_type: str | None = None
    rejected: str | None = None
    follow_up: Any = None  # what the after-commit step did (an OfferOutcome, a conversion)


@dataclass(frozen=True)
class MomentContext:
    store_id: str | None = None
    product_id: str | None = None
    rejected: str | None = None  # why a recognised event is not a valid moment


class AfterCommit(Protocol):
    """What runs once an event's own effects are committed (offers, conversions). It runs on
    redeliveries too, because an earlier attempt may have stopped after the commit; it must
    therefore be idempotent itself (the offer ledger is)."""

    def __call__(
        self,
        subject: Subject,
        profile: Profile,
        event: Event,
        store_id: str | None,
        product_id: str | None,
        first_delivery: bool = False,
    ) -> Any: ...


class ProcessEvent:
    def __init__(
        self,
        store: MomentStore,
        qr_codes: QrCodes,
        settings: Settings,
        clock: Clock,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self._store = store
        self._qr_codes = qr_codes
        self._settings = settings
        self._clock = clock
        self._after_commit = after_commit

    def __call__(self, envelope: Envelope) -> Processed:
        event = envelope.event
        context = self._moment_context(event, envelope.received_at)
        for _attempt in range(MAX_ATTEMPTS):
            plan = self._plan(envelope, context)
            try:
                self._store.commit(plan)
                outcome, profile, subject = Outcome.PROCESSED, plan.profile, plan.profile.subject
            except DuplicateMessage:
                outcome = Outcome.DUPLICATE
                subject = self._first_subject(plan)
                profile = self._store.get_profile(subject) or Profile(subject)
            except Conflict:
                continue
            follow_up = None
            if self._after_commit is not None and event.type == "track" and context.rejected is None:
                follow_up = self._after_commit(
                    subject,
                    profile,
                    event,
                    context.store_id,
                    context.product_id,
                    first_delivery=outcome is Outcome.PROCESSED,
                )
            moment = event.moment
            return Processed(
                outcome,
                event.message_id,
                moment.moment_type if moment else None,
                context.rejected,
                follow_up,
            )
        raise RetryableError(f"{event.message_id}: profile kept changing under us")

    def _first_subject(self, plan: WritePlan) -> Subject:
        """The profile the first delivery applied this message to (from its marker): an alias
        made since then must not make a redelivered anonymous moment a new moment for the user."""
        marker = self._store.get_marker(plan.marker.subject, plan.marker.message_id)
        kind, _, ident = str((marker or {}).get("profile", "")).partition(":")
        if kind in ("user", "anon") and ident:
            return Subject(kind, ident)
        return plan.profile.subject

    def _moment_context(self, event: Event, received_at: datetime | None = None) -> MomentContext:
        props = event.properties
        if event.event == "QR Code Scanned":
            try:  # judged as at ingest: a scan just before a revocation still counts
                record = self._qr_codes.resolve(str(props.get("code", "")), at=received_at)
            except NotFound:
                return MomentContext(rejected="invalid_qr_code")
            return MomentContext(record.store_id, record.product_id)
        store_id = props.get("store_id")
        product_id = props.get("product_id")
        return MomentContext(
            str(store_id) if store_id is not None else None,
            str(product_id) if product_id is not None else None,
        )

    def _plan(self, envelope: Envelope, context: MomentContext) -> WritePlan:
        event = envelope.event
        half_life = self._settings.affinity_half_life
        alias = merged = None
        absent_alias = absent_anonymous_profile = None
        if event.user_id is not None:
            target = Subject.user(event.user_id)
            profile = self._store.get_profile(target) or Profile(target)
            if event.anonymous_id is not None and self._store.get_alias(event.anonymous_id) is None:
                alias = (event.anonymous_id, event.user_id)
                anonymous = self._store.get_profile(Subject.anon(event.anonymous_id))
                if anonymous is None:
                    absent_anonymous_profile = event.anonymous_id
                elif anonymous.merged_into is None:
                    profile = profiles.merge_anonymous(profile, anonymous, half_life)
                    merged = profiles.as_merged(anonymous, event.user_id)
        else:
            assert event.anonymous_id is not None
            user_id = self._store.get_alias(event.anonymous_id)
            if user_id is None:
                target = Subject.anon(event.anonymous_id)
                absent_alias = event.anonymous_id
            else:
                target = Subject.user(user_id)
            profile = self._store.get_profile(target) or Profile(target)

        profile = profiles.touch(profile, event)
        moment = event.moment
        if event.type == "identify":
            profile = profiles.apply_identify(profile, event)
        elif moment is not None and context.rejected is None:
            enriched = event
            if context.product_id and "product_id" not in event.properties:
                enriched = _with_properties(event, product_id=context.product_id)
            profile = profiles.apply_moment(profile, enriched, moment, half_life, context.store_id)

        counters = increments_for(event, context.store_id, self._settings.stat_shards, context.rejected)
        now = self._clock.now()
        record: dict[str, Any] = {
            "app": envelope.app_id,
            "type": event.type,
            "event": event.event,
            "moment": moment.moment_type if moment else None,
            "intent": moment.intent.value if moment else None,
            "at": iso(event.timestamp),
            "received_at": iso(envelope.received_at),
            "processed_at": iso(now),
            "profile": f"{target.kind}:{target.id}",
            "store_id": context.store_id,
            "product_id": context.product_id,
            "rejected": context.rejected,
        }
        marker_subject = (
            Subject.user(event.user_id)
            if event.user_id is not None
            else Subject.anon(str(event.anonymous_id))
        )
        ttl = math.floor((now + self._settings.message_ttl).timestamp())
        return WritePlan(
            marker=MessageMarker(marker_subject, event.message_id, record, ttl),
            profile=profile,
            counters=counters,
            alias=alias,
            merged_anonymous=merged,
            absent_alias=absent_alias,
            absent_anonymous_profile=absent_anonymous_profile,
        )


def _with_properties(event: Event, **extra: Any) -> Event:
    return replace(event, properties={**event.properties, **extra})


@dataclass(frozen=True)
class QueueRecord:
    message_id: str  # the SQS message id (not the Segment messageId)
    receipt_handle: str
    body: str


@dataclass
class BatchReport:
    processed: list[Processed] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # SQS message id -> reason


class BatchFailed(Exception):
    """Some records failed; the successful ones were deleted so only these come back."""

    def __init__(self, report: BatchReport) -> None:
        reasons = ", ".join(f"{k}: {v}" for k, v in report.failures.items())
        super().__init__(f"{len(report.failures)} record(s) failed: {reasons}")
        self.report = report


class Acknowledger(Protocol):
    def delete(self, receipt_handles: Sequence[str]) -> None: ...


def process_batch(
    records: Sequence[QueueRecord],
    process: Callable[[Envelope], Processed],
    acknowledger: Acknowledger,
    on_error: Callable[[QueueRecord, Exception], None] = lambda record, exc: None,
) -> BatchReport:
    report = BatchReport()
    succeeded: list[QueueRecord] = []
    for record in records:
        try:
            report.processed.append(process(queue_envelope.decode(record.body)))
            succeeded.append(record)
        except PoisonMessage as exc:
            report.failures[record.message_id] = "poison"
            on_error(record, exc)
        except RetryableError as exc:
            report.failures[record.message_id] = "retryable"
            on_error(record, exc)
        except Exception as exc:  # noqa: BLE001 - a bug must not make its siblings run twice
            report.failures[record.message_id] = f"unexpected:{type(exc).__name__}"
            on_error(record, exc)
    if report.failures:
        if succeeded:
            acknowledger.delete([r.receipt_handle for r in succeeded])
        raise BatchFailed(report)
    return report
