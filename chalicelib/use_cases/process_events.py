"""The worker: apply each queued event to the profile and counters exactly once.

Per worker batch (up to 10 SQS messages): the events are applied in order, in memory, to the
profiles they resolve to (aliasing an anonymous id to a user on first sight, folding the
anonymous history in), and grouped by the profiles they touch; each group is committed as one
``WritePlan`` (one TransactWriteItems): the profiles, each carrying the ids of the messages it
has applied (``chalicelib/domain/dedupe.py``), the alias items and guards, and the counter
increments added up over the group. A message whose id the profile already holds is a
duplicate: it changes nothing and counts nothing. A lost race (a profile version moved) plans
that group again from fresh reads; a group whose commit fails otherwise is committed again one
event at a time, so one bad event cannot fail the others. Then, per event in order, the
after-commit step (offers, conversions), which is idempotent itself.

Per batch: if any record fails, the ones that succeeded are deleted from the queue and then
``BatchFailed`` is raised, so only the failed ones come back (correct whether or not the SQS
trigger has ReportBatchItemFailures; Chalice cannot set it, aws/chalice#2029).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from chalicelib.contracts import queue_envelope
from chalicelib.contracts.queue_envelope import Envelope
from chalicelib.domain import dedupe
from chalicelib.domain import profile as profiles
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.counters import CounterIncrement, combined, increments_for, shard_of
from chalicelib.domain.errors import (
    Conflict,
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
from chalicelib.domain.ports import DistinctSketches, MomentStore, WritePlan
from chalicelib.domain.profile import Profile, Subject
from chalicelib.settings import Settings
from chalicelib.use_cases.detect_moments import MomentDetector
from chalicelib.use_cases.scan_qr import QrCodes

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
PARKED_FOR = timedelta(days=14)  # the longest an SQS dead-letter queue keeps a message


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


class _Working:
    """The batch's view of the profiles and aliases it touches: each read once, then changed in
    memory as the events are applied. ``Profile.version`` stays the version read."""

    def __init__(self, store: MomentStore, consistent: bool) -> None:
        self._store = store
        self._consistent = consistent
        self.profiles: dict[Subject, Profile | None] = {}
        self.aliases: dict[str, str | None] = {}

    def profile(self, subject: Subject) -> Profile | None:
        if subject not in self.profiles:
            self.profiles[subject] = self._store.get_profile(subject, consistent=self._consistent)
        return self.profiles[subject]

    def alias(self, anonymous_id: str) -> str | None:
        if anonymous_id not in self.aliases:
            self.aliases[anonymous_id] = self._store.get_alias(anonymous_id, consistent=self._consistent)
        return self.aliases[anonymous_id]

    def prefetch(self, events: Sequence[Event]) -> None:
        """Read what planning these events will surely read, in two round trips instead of one
        per profile: each user's profile and each anonymous id's alias, then the profile each
        anonymous event applies to (its user's, if aliased, else its own). Anything else (an
        anonymous profile being merged, a tombstone) is read when needed."""
        get_many = getattr(self._store, "get_many", None)
        if get_many is None:
            return
        users = [Subject.user(e.user_id) for e in events if e.user_id is not None]
        anonymous = [e.anonymous_id for e in events if e.anonymous_id is not None]
        self._fill(
            *get_many(
                self._missing(users),
                [a for a in dict.fromkeys(anonymous) if a not in self.aliases],
                consistent=self._consistent,
            )
        )
        targets = [
            Subject.user(user_id)
            if (user_id := self.aliases.get(e.anonymous_id))
            else Subject.anon(e.anonymous_id)
            for e in events
            if e.user_id is None and e.anonymous_id is not None and e.anonymous_id in self.aliases
        ]
        if missing := self._missing(targets):
            self._fill(*get_many(missing, [], consistent=self._consistent))

    def _missing(self, subjects: list[Subject]) -> list[Subject]:
        return [s for s in dict.fromkeys(subjects) if s not in self.profiles]

    def _fill(self, profiles: dict[Subject, Profile | None], aliases: dict[str, str | None]) -> None:
        for subject, profile in profiles.items():
            self.profiles.setdefault(subject, profile)
        for anonymous_id, user_id in aliases.items():
            self.aliases.setdefault(anonymous_id, user_id)


@dataclass
class _Applied:
    """One event planned against the batch's working state."""

    index: int
    outcome: Outcome
    subject: Subject  # the profile that applied (or had applied) the message
    profile: Profile  # that profile just after this event (what the after-commit step sees)
    record: dict[str, Any]  # the moment record ({} for a duplicate whose record is not kept)
    touched: tuple[Subject, ...]  # profiles (and their alias items) this event writes or guards
    changed: tuple[Subject, ...] = ()
    counters: list[CounterIncrement] = field(default_factory=list)
    alias: tuple[str, str] | None = None
    absent_alias: str | None = None
    absent_anonymous_profile: str | None = None
    first_today: bool = False  # the shopper's first event of its UTC day (distinct shoppers)


@dataclass
class _Group:
    events: list[_Applied]
    plan: WritePlan | None  # None: nothing to write (duplicates only)


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
        distinct: DistinctSketches | None = None,  # None: distinct shoppers not counted
    ) -> None:
        self._store = store
        self._qr_codes = qr_codes
        self._settings = settings
        self._clock = clock
        self._after_commit = after_commit
        self._distinct = distinct
        self._detector = (
            MomentDetector(fences, settings.max_travel_kmh, videos) if fences is not None else None
        )

    def __call__(self, envelope: Envelope) -> Processed:
        """One event alone (a batch of one)."""
        [result] = self.batch([envelope])
        if isinstance(result, Exception):
            raise result
        return result

    def batch(self, envelopes: Sequence[Envelope]) -> list[Processed | Exception]:
        """Every envelope's outcome, in order: its ``Processed``, or the exception that failed it
        (the others are unaffected)."""
        results: list[Processed | Exception | None] = [None] * len(envelopes)
        contexts: dict[int, MomentContext] = {}
        for i, envelope in enumerate(envelopes):
            try:
                contexts[i] = self._moment_context(envelope.event, envelope.received_at)
            except Exception as exc:  # noqa: BLE001 - one event's failure is its own
                results[i] = exc
        self._run(sorted(contexts), envelopes, contexts, results)
        return [r if r is not None else RetryableError("not processed") for r in results]

    def _run(
        self,
        indices: list[int],
        envelopes: Sequence[Envelope],
        contexts: dict[int, MomentContext],
        results: list[Processed | Exception | None],
    ) -> None:
        pending = indices
        for attempt in range(MAX_ATTEMPTS):
            # The first plan reads eventually consistent (half the read units): a stale read
            # cannot commit, because every commit checks the versions it read (Conflict), and
            # the retry reads consistently.
            working = _Working(self._store, consistent=attempt > 0)
            working.prefetch([envelopes[i].event for i in pending])
            groups = self._plan(pending, envelopes, contexts, working, results)
            retry: list[int] = []
            batch_committed = self._commit_together(groups)
            for group in groups:
                members = [a.index for a in group.events]
                if group.plan is not None and not batch_committed:
                    try:
                        self._store.commit(group.plan)
                    except Conflict:
                        retry += members
                        continue
                    except Exception as exc:  # noqa: BLE001 - isolate the event that fails
                        if len(members) > 1:
                            for i in members:  # one at a time, in order: each its own commit
                                self._run([i], envelopes, contexts, results)
                        else:
                            results[members[0]] = exc
                        continue
                for applied in group.events:
                    if applied.first_today and applied.outcome is Outcome.PROCESSED:
                        self._count_distinct(envelopes[applied.index].event)
                    try:
                        results[applied.index] = self._follow_up(
                            applied, envelopes[applied.index].event, contexts[applied.index]
                        )
                    except Exception as exc:  # noqa: BLE001 - one event's failure is its own
                        results[applied.index] = exc
                        self._park(applied, envelopes[applied.index].event)
            pending = sorted(retry)
            if not pending:
                return
        for i in pending:
            results[i] = RetryableError(f"{envelopes[i].event.message_id}: profile kept changing under us")

    def _commit_together(self, groups: list[_Group]) -> bool:
        """Commit every group's plan in one transaction, their counters added up (one item per
        counter scope and bucket for the whole batch, not per shopper: the write units that
        dominate a moment's cost). False if there is nothing to merge, or if the merged commit
        failed for any reason (a conflict included): then the groups commit one by one, which
        isolates the one that failed, exactly as if this had not been tried."""
        plans = [g.plan for g in groups if g.plan is not None]
        if len(plans) < 2:
            return False
        merged = merged_plan(plans, self._settings.stat_shards)
        if transaction_items(merged) > MAX_TRANSACTION_ITEMS:
            return False
        try:
            self._store.commit(merged)
        except Exception:  # noqa: BLE001 - committed group by group instead
            return False
        return True

    # -- planning ------------------------------------------------------------------------
    def _plan(
        self,
        indices: list[int],
        envelopes: Sequence[Envelope],
        contexts: dict[int, MomentContext],
        working: _Working,
        results: list[Processed | Exception | None],
    ) -> list[_Group]:
        now = self._clock.now()
        planned: list[_Applied] = []
        for i in indices:
            try:
                planned.append(self._apply(i, envelopes[i], contexts[i], working, now))
            except Exception as exc:  # noqa: BLE001 - the working state is unchanged
                results[i] = exc
        return self._groups(planned, working)

    def _groups(self, planned: list[_Applied], working: _Working) -> list[_Group]:
        """Events that touch a common profile (or its alias) form one group, in batch order."""
        parent: dict[Subject, Subject] = {}

        def root(s: Subject) -> Subject:
            while parent.setdefault(s, s) != s:
                s = parent[s]
            return s

        for applied in planned:
            first, *rest = applied.touched
            for other in rest:
                parent[root(other)] = root(first)
        by_root: dict[Subject, list[_Applied]] = {}
        for applied in planned:
            by_root.setdefault(root(applied.touched[0]), []).append(applied)
        return [self._group(events, working) for events in by_root.values()]

    def _group(self, events: list[_Applied], working: _Working) -> _Group:
        new = [a for a in events if a.outcome is Outcome.PROCESSED]
        if not new:
            return _Group(events, None)
        changed = list(dict.fromkeys(s for a in new for s in a.changed))
        written = tuple(p for p in (working.profiles.get(s) for s in changed) if p is not None)
        message_ids = tuple(envelope_id for envelope_id in (a.record["id"] for a in new))
        # The whole group counts in one shard of the ``all`` scope (readers add the shards up).
        shard = f"all#s{shard_of(message_ids[0], self._settings.stat_shards)}"
        counters = [
            CounterIncrement(shard, c.hour, c.counts) if c.scope.startswith("all#s") else c
            for a in new
            for c in a.counters
        ]
        plan = WritePlan(
            profiles=written,
            counters=combined(counters),
            aliases=tuple(a.alias for a in new if a.alias is not None),
            absent_aliases=tuple(dict.fromkeys(a.absent_alias for a in new if a.absent_alias)),
            absent_anonymous_profiles=tuple(
                dict.fromkeys(a.absent_anonymous_profile for a in new if a.absent_anonymous_profile)
            ),
            message_ids=message_ids,
        )
        return _Group(events, plan)

    def _duplicate(self, i: int, subject: Subject, profile: Profile, message_id: str) -> _Applied:
        record = dedupe.find_record(profile.recent_moments, message_id) or {}
        return _Applied(i, Outcome.DUPLICATE, subject, profile, dict(record), (subject,))

    def _park(self, applied: _Applied, event: Event) -> None:
        """The event is committed but its after-commit step failed, so SQS will deliver it again,
        possibly after the dedupe window (a DLQ redrive): remember it in a ``PARKED#`` item
        until the DLQ's retention ends. Best effort: within the window the profile still knows."""
        record = {**applied.record, "applied_to": f"{applied.subject.kind}:{applied.subject.id}"}
        ttl = math.floor((self._clock.now() + PARKED_FOR).timestamp())
        with contextlib.suppress(Exception):  # the failure being reported matters more
            self._store.park(envelope_subject(event), event.message_id, record, ttl)

    def _parked(self, i: int, envelope: Envelope, working: _Working, now: datetime) -> _Applied | None:
        """A message old enough that its id may have left the profile's window: was it parked?"""
        if now - envelope.received_at < self._settings.dedupe_window / 2:
            return None
        record = self._store.parked(envelope_subject(envelope.event), envelope.event.message_id)
        if record is None:
            return None
        kind, _, ident = str(record.get("applied_to", "")).partition(":")
        subject = (
            Subject(kind, ident) if kind in ("user", "anon") and ident else envelope_subject(envelope.event)
        )
        profile = working.profile(subject) or Profile(subject)
        kept = {k: v for k, v in record.items() if k not in ("PK", "SK", "ttl", "applied_to")}
        return _Applied(i, Outcome.DUPLICATE, subject, profile, kept, (subject,))

    def _apply(
        self, i: int, envelope: Envelope, context: MomentContext, working: _Working, now: datetime
    ) -> _Applied:
        """Plan one event against the working state; changes the state only if it returns."""
        event = envelope.event
        message_id = event.message_id
        if (parked := self._parked(i, envelope, working, now)) is not None:
            return parked
        half_life = self._settings.affinity_half_life
        alias = merged = None
        absent_alias = absent_anonymous_profile = None
        touched: list[Subject] = []
        if event.user_id is not None:
            target = Subject.user(event.user_id)
            profile = working.profile(target) or Profile(target)
            if dedupe.contains(profile.applied, message_id):
                return self._duplicate(i, target, profile, message_id)
            if event.anonymous_id is not None and working.alias(event.anonymous_id) is None:
                alias = (event.anonymous_id, event.user_id)
                touched.append(Subject.anon(event.anonymous_id))
                anonymous = working.profile(Subject.anon(event.anonymous_id))
                if anonymous is None:
                    absent_anonymous_profile = event.anonymous_id
                elif anonymous.merged_into is None:
                    profile = profiles.merge_anonymous(profile, anonymous, half_life)
                    merged = profiles.as_merged(anonymous, event.user_id)
        else:
            assert event.anonymous_id is not None
            anonymous_subject = Subject.anon(event.anonymous_id)
            user_id = working.alias(event.anonymous_id)
            if user_id is None:
                target = anonymous_subject
                absent_alias = event.anonymous_id
            else:
                target = Subject.user(user_id)
            profile = working.profile(target) or Profile(target)
            if dedupe.contains(profile.applied, message_id):
                return self._duplicate(i, target, profile, message_id)
            if user_id is not None:
                # Applied to the anonymous profile before the alias? Its tombstone remembers.
                tombstone = working.profile(anonymous_subject)
                if tombstone is not None and dedupe.contains(tombstone.applied, message_id):
                    return self._duplicate(i, anonymous_subject, tombstone, message_id)

        first_today = first_of_day(profile.last_seen, event.timestamp)
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
        if first_today:
            counters += shopper_increments(event, self._settings.stat_shards)
        record: dict[str, Any] = {
            "id": message_id,
            "app": envelope.app_id,
            "type": event.type,
            "event": event.event,
            "moment": moment.moment_type if moment else None,
            "intent": moment.intent.value if moment else None,
            "at": iso(event.timestamp),
            "received_at": iso(envelope.received_at),
            "processed_at": iso(now),
            "store_id": context.store_id,
            "product_id": context.product_id,
            "rejected": context.rejected,
        }
        envelope_subject = (
            Subject.user(event.user_id)
            if event.user_id is not None
            else Subject.anon(str(event.anonymous_id))
        )
        if envelope_subject != target:  # an anonymous event applied to the user it is aliased to
            record["by"] = f"{envelope_subject.kind}:{envelope_subject.id}"
        if detection is not None:
            record["detected"] = detection.found
            if not detection.own_moment:
                record["rejected"] = detection.rejected
        applied = dedupe.remember(
            profile.applied,
            [message_id],
            math.floor(now.timestamp()),
            math.floor(self._settings.dedupe_window.total_seconds()),
            self._settings.dedupe_max_ids,
        )
        profile = replace(
            profile,
            applied=applied,
            recent_moments=dedupe.keep_moments([*profile.recent_moments, record], applied),
        )
        # Commit the event to the working state.
        changed = [target]
        working.profiles[target] = profile
        if merged is not None:
            working.profiles[merged.subject] = merged
            changed.append(merged.subject)
        if alias is not None:
            working.aliases[alias[0]] = alias[1]
        if absent_alias is not None:
            touched.append(Subject.anon(absent_alias))
        return _Applied(
            i,
            Outcome.PROCESSED,
            target,
            profile,
            record,
            (target, *touched),
            tuple(changed),
            counters,
            alias,
            absent_alias,
            absent_anonymous_profile,
            first_today,
        )

    # -- after the commit ----------------------------------------------------------------
    def _count_distinct(self, event: Event) -> None:
        """Raise the day's distinct-shopper sketch for the shopper's first event of the day.
        Best effort: the event is committed, and a redelivery (a duplicate) would not come
        back here, so a failure only makes the estimate a little low (domain/distinct.py)."""
        if self._distinct is None:
            return
        from chalicelib.domain import distinct
        from chalicelib.domain.counters import day_bucket

        observation = distinct.observe(distinct.shopper_key(event.user_id, event.anonymous_id))
        try:
            self._distinct.raise_to(day_bucket(event.timestamp), observation)
        except Exception as exc:  # noqa: BLE001 - never fail a committed event for an estimate
            logger.warning(
                "distinct shopper not counted", extra={"message_id": event.message_id, "error": str(exc)}
            )

    def _follow_up(self, applied: _Applied, event: Event, context: MomentContext) -> Processed:
        outcome, subject, profile, record = applied.outcome, applied.subject, applied.profile, applied.record
        if "detected" in record:  # the detectors decided: their moments, not the event's
            detected = tuple(record.get("detected") or ())
            return self._detected_follow_up(subject, profile, event, outcome, record, detected)
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
    """Decode every record, process the envelopes (together, through ``process.batch`` when
    ``process`` is a ``ProcessEvent``: one commit per group of events), then report: if any
    record failed, the others are deleted from the queue and ``BatchFailed`` is raised."""
    report = BatchReport()
    succeeded: list[QueueRecord] = []
    failed: list[tuple[QueueRecord, Exception]] = []
    decoded: list[tuple[QueueRecord, Envelope]] = []
    for record in records:
        try:
            decoded.append((record, queue_envelope.decode(record.body)))
        except Exception as exc:  # noqa: BLE001 - classified below
            failed.append((record, exc))
    batch = getattr(process, "batch", None)
    envelopes = [envelope for _, envelope in decoded]
    outcomes: list[Processed | Exception]
    if callable(batch):
        try:
            outcomes = batch(envelopes)
        except Exception as exc:  # noqa: BLE001 - a bug: all of them come back (duplicates are safe)
            outcomes = [exc] * len(envelopes)
    else:
        outcomes = []
        for envelope in envelopes:
            try:
                outcomes.append(process(envelope))
            except Exception as exc:  # noqa: BLE001 - a bug must not make its siblings run twice
                outcomes.append(exc)
    for (record, _), outcome in zip(decoded, outcomes, strict=True):
        if isinstance(outcome, Exception):
            failed.append((record, outcome))
        else:
            report.processed.append(outcome)
            succeeded.append(record)
    order = {id(r): n for n, r in enumerate(records)}
    for record, error in sorted(failed, key=lambda f: order[id(f[0])]):
        if isinstance(error, PoisonMessage):
            report.failures[record.message_id] = "poison"
        elif isinstance(error, RetryableError):
            report.failures[record.message_id] = "retryable"
        else:
            report.failures[record.message_id] = f"unexpected:{type(error).__name__}"
        on_error(record, error)
    if report.failures:
        if succeeded:
            acknowledger.delete([r.receipt_handle for r in succeeded])
        raise BatchFailed(report)
    return report


MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit for one TransactWriteItems


def merged_plan(plans: Sequence[WritePlan], shards: int) -> WritePlan:
    """Several groups' plans as one: their profiles, aliases and guards side by side (groups
    touch different profiles by construction), counters added up per item, the deployment-wide
    ones (``all``) in one shard, that of the first message: readers add the
    shards up, so which shard holds a count never changes a sum, and a batch writes one item
    per scope and bucket instead of one per shopper."""
    n = shard_of(plans[0].message_ids[0], shards) if plans[0].message_ids else 0
    counters = [
        CounterIncrement(f"all#s{n}", c.hour, c.counts) if c.scope.startswith("all#s") else c
        for plan in plans
        for c in plan.counters
    ]
    return WritePlan(
        profiles=tuple(p for plan in plans for p in plan.profiles),
        counters=combined(counters),
        aliases=tuple(a for plan in plans for a in plan.aliases),
        absent_aliases=tuple(dict.fromkeys(a for plan in plans for a in plan.absent_aliases)),
        absent_anonymous_profiles=tuple(
            dict.fromkeys(a for plan in plans for a in plan.absent_anonymous_profiles)
        ),
        message_ids=tuple(m for plan in plans for m in plan.message_ids),
    )


def transaction_items(plan: WritePlan) -> int:
    """How many items the plan's transaction writes or checks (at most)."""
    return (
        len(plan.profiles)
        + len(plan.aliases)
        + len(plan.absent_aliases)
        + len(plan.absent_anonymous_profiles)
        + len(plan.counters)
    )


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


def first_of_day(last_seen: str | None, at: datetime) -> bool:
    """The shopper's first event of ``at``'s UTC day, judged by the profile's ``last_seen``
    (daily active shoppers). Approximate, by design: an event that arrives after a later
    day's event does not count, and an anonymous visitor who logs in later that day counts
    once as anonymous and once as the user."""
    if not last_seen:
        return True
    seen = datetime.fromisoformat(last_seen).astimezone(UTC)
    return seen.date() < at.astimezone(UTC).date()


def shopper_increments(event: Event, shards: int) -> list[CounterIncrement]:
    """``active``: one per shopper per UTC day, counted in the hourly ``all`` item of the hour
    of the shopper's first event that day (an item the commit writes anyway, so a daily active
    shopper costs no write of its own); readers add up ``active`` over the range's hours.
    Before, it had items of its own: ``STAT#shoppers#s{n}#{YYYYMMDD}``, still read."""
    from chalicelib.domain.clock import hour_bucket

    who = event.user_id if event.user_id is not None else f"anon:{event.anonymous_id}"
    return [
        CounterIncrement(f"all#s{shard_of(str(who), shards)}", hour_bucket(event.timestamp), {"active": 1})
    ]


def envelope_subject(event: Event) -> Subject:
    """The identity in the message itself: the same on every delivery, whatever aliasing did."""
    return Subject.user(event.user_id) if event.user_id is not None else Subject.anon(str(event.anonymous_id))
