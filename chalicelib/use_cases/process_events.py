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
from chalicelib.domain.counters import CounterIncrement, combined, increments_for, shard_of
from chalicelib.domain.errors import (
    Conflict,
    DuplicateMessage,
    NotFound,
    PoisonMessage,
    RetryableError,
)
from chalicelib.domain.events import (
    DETECTED_EVENT_NAMES,
    Event,
    Intent,
    MomentKind,
    classify,
)
from chalicelib.domain.ports import MessageMarker, MomentStore, WritePlan
from chalicelib.domain.profile import Profile, Subject
from chalicelib.settings import Settings
from chalicelib.use_cases.detect_moments import MomentDetector
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
    detected: tuple[dict[str, Any], ...] = ()  # moments the geofence/video detectors decided on


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
        fences: Any = None,  # FenceLookup (chalicelib.use_cases.detect_moments); None: no detectors
        videos: Any = None,  # VideoFacts: a milestone's intent and products (None: not known)
    ) -> None:
        self._store = store
        self._qr_codes = qr_codes
        self._settings = settings
        self._clock = clock
        self._after_commit = after_commit
        self._detector = (
            MomentDetector(fences, settings.max_travel_kmh, videos) if fences is not None else None
        )

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
                marker = self._store.get_marker(plan.marker.subject, plan.marker.message_id) or {}
                subject = self._first_subject(plan, marker)
                profile = self._store.get_profile(subject) or Profile(subject)
                plan = replace(plan, marker=replace(plan.marker, record={**plan.marker.record, **marker}))
            except Conflict:
                continue
            detected = tuple(plan.marker.record.get("detected") or ())
            if "detected" in plan.marker.record:  # the detectors decided: their moments, not the event's
                return self._detected_follow_up(
                    subject, profile, event, outcome, plan.marker.record, detected
                )
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

    def _detected_follow_up(
        self,
        subject: Subject,
        profile: Profile,
        event: Event,
        outcome: Outcome,
        record: dict[str, Any],
        detected: tuple[dict[str, Any], ...],
    ) -> Processed:
        """After-commit for each accepted detected moment, as its own derived event (its own
        message id, so the offer ledger keeps each moment's offer exactly once)."""
        follow_ups = []
        if self._after_commit is not None:
            for found in detected:
                if found.get("rejected") is None:
                    derived = derived_event(event, found)
                    follow_ups.append(
                        self._after_commit(
                            subject,
                            profile,
                            derived,
                            found.get("store_id"),
                            found.get("product_id"),  # a video milestone's featured product
                            first_delivery=outcome is Outcome.PROCESSED,
                        )
                    )
        moment = event.moment
        return Processed(
            outcome,
            event.message_id,
            moment.moment_type if moment else None,
            record.get("rejected"),
            follow_ups or None,
            detected,
        )

    def _first_subject(self, plan: WritePlan, marker: dict[str, Any] | None = None) -> Subject:
        """The profile the first delivery applied this message to (from its marker): an alias
        made since then must not make a redelivered anonymous moment a new moment for the user."""
        if marker is None:
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
        detection = (
            self._detector.detect(profile, event)
            if self._detector is not None and event.type == "track" and context.rejected is None
            else None
        )
        if detection is not None:
            profile = detection.profile
            for found in detection.accepted:
                kind = detected_kind(found)
                assert kind is not None
                profile = profiles.apply_moment(
                    profile, derived_event(event, found), kind, half_life, found.get("store_id")
                )
        if event.type == "identify":
            profile = profiles.apply_identify(profile, event)
        elif moment is not None and context.rejected is None and (detection is None or detection.own_moment):
            enriched = event
            if context.product_id and "product_id" not in event.properties:
                enriched = _with_properties(event, product_id=context.product_id)
            profile = profiles.apply_moment(profile, enriched, moment, half_life, context.store_id)

        if detection is not None and not detection.own_moment:
            counters = detection_increments(event, detection.found, self._settings.stat_shards)
        else:
            counters = increments_for(event, context.store_id, self._settings.stat_shards, context.rejected)
            if detection is not None:
                counters += detection_increments(event, detection.found, self._settings.stat_shards, False)
        counters = combined(counters)
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
        if detection is not None:
            record["detected"] = detection.found
            if not detection.own_moment:
                record["rejected"] = detection.rejected
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


def detected_kind(found: dict[str, Any]) -> MomentKind | None:
    """The kind of a detected moment; a video milestone carries its video's intent (a
    shoppable video's milestone is an I-want-to-buy moment, a how-to's an I-want-to-do one)."""
    kind = classify(DETECTED_EVENT_NAMES.get(found["moment"], ""))
    if kind is not None and found.get("intent") in {i.value for i in Intent}:
        kind = replace(kind, intent=Intent(found["intent"]))
    return kind


def derived_event(event: Event, found: dict[str, Any]) -> Event:
    """A detected moment as the track event it stands for (its own message id)."""
    name = DETECTED_EVENT_NAMES[found["moment"]]
    props: dict[str, Any] = {
        k: v for k, v in found.items() if k not in ("moment", "at", "rejected") and v is not None
    }
    suffix = found.get("store_id") or found.get("video_id") or ""
    if "percent" in found:
        suffix = f"{suffix}#{found['percent']}"
    return replace(
        event,
        event=name,
        message_id=f"{event.message_id}#{found['moment']}#{suffix}",
        properties={**event.properties, **props},
    )


def detection_increments(
    event: Event, found: list[dict[str, Any]], shards: int, count_event: bool = True
) -> list[CounterIncrement]:
    """Counters for an event the detectors decided on: the event itself (``count_event``),
    each detected moment (all and per store) and each rejection with its reason."""
    from chalicelib.domain.clock import hour_bucket

    hour = hour_bucket(event.timestamp)
    counts: dict[str, int] = {"events": 1, f"event:{event.event}": 1} if count_event else {}
    per_store: dict[str, dict[str, int]] = {}
    for item in found:
        kind = detected_kind(item)
        if item.get("rejected") is not None or kind is None:
            name = f"rejected:{item.get('rejected') or 'unknown'}"
            counts[name] = counts.get(name, 0) + 1
            continue
        for name in (f"moment:{kind.moment_type}", f"intent:{kind.intent.value}"):
            counts[name] = counts.get(name, 0) + 1
            if item.get("store_id"):
                store = per_store.setdefault(str(item["store_id"]), {})
                store[name] = store.get(name, 0) + 1
    out = [CounterIncrement(f"all#s{shard_of(event.message_id, shards)}", hour, counts)] if counts else []
    out += [CounterIncrement(f"store#{sid}", hour, c) for sid, c in sorted(per_store.items())]
    return out
