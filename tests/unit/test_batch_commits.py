"""One commit per group of events in a worker batch (use_cases/process_events.py) and the dedupe
window kept in the profile (domain/dedupe.py), over the in-memory store.

Grouping: a batch's events are applied in order in memory and each group of events that touch
the same profiles is committed once, counters added up. A redelivered message (whole batch or
part of it) is found in the profile and changes nothing. A group whose commit fails is committed
again one event at a time, so only the event that cannot be committed fails.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters.in_memory import InMemoryMomentStore
from chalicelib.contracts import queue_envelope
from chalicelib.domain import dedupe
from chalicelib.domain.errors import RetryableError
from chalicelib.domain.profile import Profile, Subject
from chalicelib.use_cases.process_events import BatchFailed, Outcome, process_batch
from tests.unit.builders import NOW, RecordingAcknowledger, Worker, envelope, event, identify, queue_record
from tests.unit.test_exactly_once_property import deliveries, first_delivery_order, new_worker


class CountingStore(InMemoryMomentStore):
    def __init__(self, fail_with: str | None = None) -> None:
        super().__init__()
        self.plans: list = []
        self.fail_with = fail_with  # a message id whose commits fail (a poison event)

    def commit(self, plan) -> None:
        self.plans.append(plan)
        if self.fail_with is not None and self.fail_with in plan.message_ids:
            raise ValueError(f"cannot write {self.fail_with}")
        super().commit(plan)


def view(message_id: str, user: str | None = "u1", anonymous: str | None = None, product: str = "p1"):
    return event(
        "Product Viewed",
        message_id=message_id,
        user_id=user,
        anonymous_id=anonymous,
        properties={"product_id": product, "category": "shoes"},
    )


def geofence(message_id: str, user: str = "u1", store: str = "s1"):
    return event("Geofence Entered", message_id=message_id, user_id=user, properties={"store_id": store})


def run_batch(worker: Worker, events, acknowledger=None):
    records = [queue_record(i, queue_envelope.encode(envelope(e))) for i, e in enumerate(events)]
    return process_batch(records, worker.process, acknowledger or RecordingAcknowledger())


# --- the dedupe window ------------------------------------------------------------------------


def test_applied_ids_pack_into_12_bytes_each_and_unpack_to_the_same():
    applied = dedupe.remember((), ["m-1", "m-2"], 1_700_000_000, 3600, 256)

    blob = dedupe.pack(applied)

    assert len(blob) == 24
    assert dedupe.unpack(blob) == applied
    assert dedupe.contains(applied, "m-2") and not dedupe.contains(applied, "m-3")


def test_ids_older_than_the_window_are_forgotten_and_the_newest_kept_within_the_count_bound():
    t0 = 1_700_000_000
    applied = dedupe.remember((), ["old"], t0, 3600, 256)
    applied = dedupe.remember(applied, ["recent"], t0 + 3000, 3600, 256)

    later = dedupe.remember(applied, ["new"], t0 + 3601, 3600, 256)

    assert not dedupe.contains(later, "old")
    assert dedupe.contains(later, "recent") and dedupe.contains(later, "new")
    bounded = dedupe.remember((), [f"m-{i}" for i in range(20)], t0, 3600, 16)
    assert len(bounded) == 16 and not dedupe.contains(bounded, "m-3") and dedupe.contains(bounded, "m-19")


def test_a_redelivery_within_the_window_is_a_duplicate_and_one_after_it_is_applied_again():
    worker = Worker()
    evt = geofence("m-1")
    worker.deliver(evt)

    worker.clock.at = NOW + timedelta(minutes=59)
    assert worker.deliver(evt).outcome == Outcome.DUPLICATE
    worker.deliver(geofence("m-2"))  # a later event drops ids older than the window
    worker.clock.at = NOW + timedelta(minutes=61)
    worker.deliver(geofence("m-3"))

    # Beyond the window the message is no longer known: documented (README, exactly once).
    assert worker.deliver(evt).outcome == Outcome.PROCESSED
    assert worker.totals()["events"] == 4


def test_the_profile_keeps_the_last_records_and_every_record_a_redelivery_needs():
    records = [{"id": f"m-{i}", "moment": "product_viewed"} for i in range(8)]
    records.insert(1, {"id": "d-1", "moment": "geofence_entered", "detected": [{"moment": "x"}]})
    records.insert(2, {"id": "d-old", "moment": "geofence_entered", "detected": []})
    applied = dedupe.remember((), ["d-1"], 1_700_000_000, 3600, 256)

    kept = dedupe.keep_moments(records, applied)

    assert [r["id"] for r in kept] == ["d-1", "m-3", "m-4", "m-5", "m-6", "m-7"]


# --- one commit per group ---------------------------------------------------------------------


def test_a_batch_of_one_shoppers_events_is_one_commit_with_the_counters_added_up():
    store = CountingStore()
    worker = Worker(store=store)

    report = run_batch(worker, [view("m-1"), geofence("m-2"), view("m-3", product="p2")])

    assert [p.outcome for p in report.processed] == [Outcome.PROCESSED] * 3
    [plan] = store.plans
    assert plan.message_ids == ("m-1", "m-2", "m-3")
    assert len({(c.scope, c.hour) for c in plan.counters}) == len(plan.counters)
    assert worker.user().version == 1
    assert worker.user().moment_counts == {"product_viewed": 2, "geofence_entered": 1}
    assert worker.totals()["events"] == 3 and worker.totals()["moment:product_viewed"] == 2
    assert worker.store.totals("store#s1") == {"moment:geofence_entered": 1, "intent:go": 1}
    assert all(dedupe.contains(worker.user().applied, m) for m in ("m-1", "m-2", "m-3"))


def test_two_shoppers_in_one_batch_are_one_commit_with_their_counters_added_up():
    store = CountingStore()
    worker = Worker(store=store)

    run_batch(worker, [view("a-1", user="ann"), view("b-1", user="bob"), geofence("a-2", user="ann")])

    [plan] = store.plans
    assert plan.message_ids == ("a-1", "a-2", "b-1")
    assert {p.subject.id for p in plan.profiles} == {"ann", "bob"}
    assert [c.scope for c in plan.counters].count(plan.counters[0].scope) == 1  # one item each
    assert len([c for c in plan.counters if c.scope.startswith("all#s")]) == 1
    assert worker.user("ann").moment_counts == {"product_viewed": 1, "geofence_entered": 1}
    assert worker.user("bob").moment_counts == {"product_viewed": 1}
    assert worker.totals()["events"] == 3 and worker.totals()["moment:product_viewed"] == 2


def test_when_the_batch_commit_fails_each_shopper_commits_alone_and_only_the_failing_one_is_retried():
    store = CountingStore(fail_with="b-1")  # bob's events cannot be written
    worker = Worker(store=store)

    with pytest.raises(BatchFailed) as failed:
        run_batch(worker, [view("a-1", user="ann"), view("b-1", user="bob"), geofence("a-2", user="ann")])

    assert [p.message_ids for p in store.plans] == [("a-1", "a-2", "b-1"), ("a-1", "a-2"), ("b-1",)]
    assert set(failed.value.report.failures) == {"sqs-1"}  # bob's message only
    assert worker.user("ann").moment_counts == {"product_viewed": 1, "geofence_entered": 1}
    assert worker.user("bob") is None and worker.totals()["events"] == 2


def test_a_conflict_in_the_batch_commit_leaves_nothing_half_written():
    from tests.unit.builders import ConflictingStore

    store = ConflictingStore(conflicts=1)  # the batch commit loses a race; the groups then win
    worker = Worker(store=store)

    run_batch(worker, [view("a-1", user="ann"), view("b-1", user="bob")])

    assert store.attempts == 3  # the batch, then each shopper
    assert worker.totals()["events"] == 2
    assert worker.user("ann").version == 1 and worker.user("bob").version == 1


def test_anonymous_events_and_the_identify_that_aliases_them_in_one_batch_are_one_group():
    store = CountingStore()
    worker = Worker(store=store)
    events = [
        view("m-1", user=None, anonymous="a-1"),
        identify(message_id="m-2", user_id="u1", anonymous_id="a-1", traits={"email": "ada@example.com"}),
        view("m-3", user=None, anonymous="a-1", product="p2"),
    ]

    run_batch(worker, events)

    [plan] = store.plans
    assert plan.aliases == (("a-1", "u1"),)
    assert worker.store.aliases == {"a-1": "u1"}
    assert worker.user().moment_counts == {"product_viewed": 2}
    assert worker.anon("a-1").merged_into == "u1"
    # Redelivering the anonymous view applied before the alias finds it in the tombstone.
    assert worker.deliver(events[0]).outcome == Outcome.DUPLICATE
    assert worker.user().moment_counts == {"product_viewed": 2}


def test_a_message_twice_in_one_batch_counts_once():
    worker = Worker()

    report = run_batch(worker, [view("m-1"), view("m-1")])

    assert [p.outcome for p in report.processed] == [Outcome.PROCESSED, Outcome.DUPLICATE]
    assert worker.totals()["events"] == 1


# --- redelivery of a whole or a partial batch -------------------------------------------------


def test_a_whole_batch_redelivered_changes_nothing_and_counts_nothing():
    store = CountingStore()
    worker = Worker(store=store)
    batch = [view("m-1"), geofence("m-2"), view("b-1", user="bob")]
    run_batch(worker, batch)
    before = (dict(store.profiles), dict(store.counters))
    commits = len(store.plans)

    report = run_batch(worker, batch)

    assert [p.outcome for p in report.processed] == [Outcome.DUPLICATE] * 3
    assert len(store.plans) == commits  # nothing written
    assert (dict(store.profiles), dict(store.counters)) == before


def test_a_partial_batch_redelivered_with_new_events_applies_only_the_new_ones():
    worker = Worker()
    run_batch(worker, [view("m-1"), geofence("m-2"), view("m-3")])

    report = run_batch(worker, [geofence("m-2"), view("m-4", product="p9"), view("m-3")])

    assert [p.outcome for p in report.processed] == [Outcome.DUPLICATE, Outcome.PROCESSED, Outcome.DUPLICATE]
    assert worker.totals()["events"] == 4
    assert worker.user().moment_counts == {"product_viewed": 3, "geofence_entered": 1}
    assert worker.user().version == 2


# --- failures ---------------------------------------------------------------------------------


def test_a_poison_event_inside_a_group_fails_alone_and_its_group_is_committed_without_it():
    store = CountingStore(fail_with="m-bad")
    worker = Worker(store=store)
    acknowledger = RecordingAcknowledger()
    events = [view("m-1"), view("m-bad", product="p2"), geofence("m-3"), view("b-1", user="bob")]

    with pytest.raises(BatchFailed) as caught:
        run_batch(worker, events, acknowledger)

    assert caught.value.report.failures == {"sqs-1": "unexpected:ValueError"}
    assert acknowledger.deletes == [["rh-0", "rh-2", "rh-3"]]
    assert worker.user().moment_counts == {"product_viewed": 1, "geofence_entered": 1}
    assert worker.totals()["events"] == 3
    # The good events, redelivered (as if the delete had failed), are duplicates.
    store.fail_with = None
    report = run_batch(worker, events)
    assert [p.outcome for p in report.processed] == [
        Outcome.DUPLICATE,
        Outcome.PROCESSED,
        Outcome.DUPLICATE,
        Outcome.DUPLICATE,
    ]
    assert worker.totals()["events"] == 4


def test_an_after_commit_failure_fails_only_its_event_and_its_redelivery_resumes_it():
    calls: list[tuple[str, bool]] = []

    def after_commit(subject, profile, evt, store_id, product_id, first_delivery=False):
        calls.append((evt.message_id, first_delivery))
        if evt.message_id == "m-2" and first_delivery:
            raise RetryableError("SES is down")
        return "offer"

    worker = Worker()
    worker.process = replace_after_commit(worker, after_commit)

    with pytest.raises(BatchFailed) as caught:
        run_batch(worker, [geofence("m-1"), geofence("m-2"), geofence("m-3")])
    assert caught.value.report.failures == {"sqs-1": "retryable"}
    assert worker.totals()["events"] == 3

    report = run_batch(worker, [geofence("m-2")])

    assert report.processed[0].outcome == Outcome.DUPLICATE and report.processed[0].follow_up == "offer"
    assert calls[-1] == ("m-2", False)
    assert worker.totals()["events"] == 3


def replace_after_commit(worker: Worker, after_commit):
    from chalicelib.use_cases.process_events import ProcessEvent

    return ProcessEvent(worker.store, worker.qr_codes, worker.settings, worker.clock, after_commit)


# --- property: batches give the state one-at-a-time delivery gives ----------------------------


def _state(worker: Worker):
    store = worker.store
    profiles = {s: replace(p, version=0) for s, p in store.profiles.items()}
    totals = {prefix: store.totals(prefix) for prefix in ("all#", "store#", "qr")}
    return profiles, store.aliases, store.markers, totals


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries(), st.lists(st.integers(1, 10), min_size=1, max_size=45))
def test_batches_with_redeliveries_leave_the_state_one_at_a_time_delivery_leaves(case, sizes):
    messages, delivered = case
    batched, _ = new_worker()
    one_by_one, _ = new_worker()

    outcomes: Counter = Counter()
    start, n = 0, 0
    while start < len(delivered):
        size = sizes[n % len(sizes)]
        report = run_batch(batched, delivered[start : start + size])
        outcomes.update(p.outcome for p in report.processed)
        start, n = start + size, n + 1
    for e in first_delivery_order(delivered):
        one_by_one.deliver(e)

    assert outcomes == Counter(
        {Outcome.PROCESSED: len(messages), Outcome.DUPLICATE: len(delivered) - len(messages)}
    )
    assert _state(batched) == _state(one_by_one)
    assert batched.store.commits <= one_by_one.store.commits


def test_a_profile_written_before_the_batch_layout_is_read_and_rewritten():
    from chalicelib.adapters.dynamodb_moment_store import profile_from_item, profile_to_item

    legacy = {
        "PK": "USER#u1",
        "SK": "PROFILE",
        "subject_kind": "user",
        "subject_id": "u1",
        "version": 3,
        "moment_counts": {"product_viewed": 2},
        "traits": {"email": "ada@example.com"},
    }

    profile = profile_from_item(legacy)

    assert profile == Profile(
        Subject.user("u1"),
        version=3,
        moment_counts={"product_viewed": 2},
        traits={"email": "ada@example.com"},
    )
    item = profile_to_item(replace(profile, applied=dedupe.remember((), ["m-1"], 1, 60, 16)), 4)
    assert set(item) == {"PK", "SK", "subject_kind", "subject_id", "version", "b", "ids"}
    assert profile_from_item(item) == replace(profile, version=4, applied=((dedupe.digest("m-1"), 1),))


def test_a_message_whose_after_commit_failed_is_still_a_duplicate_when_redriven_hours_later():
    """A DLQ redrive brings a committed message back long after the dedupe window: the
    PARKED# record written when its after-commit step failed still recognises it."""
    failing = {"on": True}

    def after_commit(subject, profile, evt, store_id, product_id, first_delivery=False):
        if failing["on"]:
            raise RetryableError("SES is down")
        return ("offer", first_delivery)

    worker = Worker()
    worker.process = replace_after_commit(worker, after_commit)
    evt = geofence("m-late")
    with pytest.raises(BatchFailed):
        run_batch(worker, [evt])
    assert worker.totals()["events"] == 1
    parked = worker.store.parked(Subject.user("u1"), "m-late")
    assert parked is not None and parked["applied_to"] == "user:u1"

    worker.clock.at = NOW + timedelta(hours=3)  # the shopper moved on; ids left the window
    failing["on"] = False
    worker.deliver(geofence("m-later"))
    records = [queue_record(0, queue_envelope.encode(envelope(evt, received_at=NOW)))]
    report = process_batch(records, worker.process, RecordingAcknowledger())

    assert report.processed[0].outcome == Outcome.DUPLICATE
    assert report.processed[0].follow_up == ("offer", False)  # resumed, not decided afresh
    assert worker.totals()["events"] == 2  # m-late once, m-later once


def test_a_fresh_message_does_not_look_for_a_parked_record():
    class Watching(InMemoryMomentStore):
        looked = 0

        def parked(self, subject, message_id):
            Watching.looked += 1
            return super().parked(subject, message_id)

    worker = Worker(store=Watching())
    worker.deliver(geofence("m-1"))
    assert Watching.looked == 0
