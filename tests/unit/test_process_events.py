"""use_cases/process_events.py: the worker, over the in-memory store.

Exactly once per messageId, aliasing anonymous visitors to users, races retried, forged QR codes
counted as rejected; and per batch, successes deleted before the failures are raised.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.in_memory import InMemoryMomentStore
from chalicelib.contracts import queue_envelope
from chalicelib.domain.clock import iso
from chalicelib.domain.errors import RetryableError
from chalicelib.domain.profile import Profile, Subject
from chalicelib.use_cases.process_events import MAX_ATTEMPTS, BatchFailed, Outcome, process_batch
from tests.unit.builders import (
    NOW,
    ConflictingStore,
    RecordingAcknowledger,
    Worker,
    envelope,
    event,
    identify,
    queue_record,
)


def anon_view(product_id: str, message_id: str, at=NOW, anonymous_id: str = "a-1"):
    return event(
        "Product Viewed",
        message_id=message_id,
        at=at,
        user_id=None,
        anonymous_id=anonymous_id,
        properties={"product_id": product_id, "category": "shoes"},
    )


# --- exactly once ---------------------------------------------------------------------------


def test_given_the_same_envelope_three_times_then_the_profile_and_counters_change_once():
    worker = Worker()
    evt = event("Geofence Entered", properties={"store_id": "s1"})

    outcomes = [worker.deliver(evt).outcome for _ in range(3)]

    assert outcomes == [Outcome.PROCESSED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert worker.store.commits == 1
    assert worker.user().moment_counts == {"geofence_entered": 1}
    assert worker.user().version == 1
    assert worker.totals() == {
        "events": 1,
        "event:Geofence Entered": 1,
        "moment:geofence_entered": 1,
        "intent:go": 1,
        "active": 1,  # the shopper's first event of the day
    }
    assert worker.store.totals("store#s1") == {"moment:geofence_entered": 1, "intent:go": 1}


def test_given_a_processed_event_then_its_marker_records_the_moment():
    worker = Worker()

    worker.deliver(event("Geofence Entered", message_id="m-9", properties={"store_id": "s1"}))

    record = worker.store.markers[(Subject.user("u1"), "m-9")]
    assert record["moment"] == "geofence_entered" and record["intent"] == "go"
    assert record["profile"] == "user:u1" and record["store_id"] == "s1"
    assert record["processed_at"] == iso(NOW) and record["rejected"] is None


def test_given_an_unrecognised_event_then_it_is_counted_but_is_not_a_moment():
    worker = Worker()

    processed = worker.deliver(event("Wishlist Shared", properties={"store_id": "s1"}))

    assert processed.moment_type is None
    assert worker.totals() == {"events": 1, "event:Wishlist Shared": 1, "active": 1}
    assert worker.user().moment_counts == {}


# --- anonymous visitors becoming users -------------------------------------------------------


def test_given_anonymous_events_then_an_identify_with_both_ids_merges_the_history_and_aliases():
    worker = Worker()
    worker.deliver(anon_view("p1", "m-1", at=NOW - timedelta(minutes=10)))
    worker.deliver(anon_view("p1", "m-2", at=NOW - timedelta(minutes=5)))
    worker.deliver(
        event(
            "Geofence Entered",
            message_id="m-3",
            user_id=None,
            anonymous_id="a-1",
            properties={"store_id": "s1"},
        )
    )

    worker.deliver(identify(user_id="u1", anonymous_id="a-1", traits={"email": "ada@example.com"}))

    user = worker.user("u1")
    assert user.moment_counts == {"product_viewed": 2, "geofence_entered": 1}
    assert set(user.products) == {"p1"} and set(user.categories) == {"shoes"}
    assert [s["store_id"] for s in user.recent_stores] == ["s1"]
    assert user.traits == {"email": "ada@example.com"}
    assert user.anonymous_ids == ["a-1"]
    assert worker.store.aliases == {"a-1": "u1"}
    assert worker.anon("a-1").merged_into == "u1"
    assert worker.anon("a-1").moment_counts == {}


def test_given_an_alias_then_later_anonymous_only_events_land_on_the_user_profile():
    worker = Worker()
    worker.deliver(anon_view("p1", "m-1"))
    worker.deliver(identify(user_id="u1", anonymous_id="a-1"))
    tombstone = worker.anon("a-1")

    worker.deliver(anon_view("p2", "m-2"))

    assert worker.user("u1").moment_counts == {"product_viewed": 2}
    assert set(worker.user("u1").products) == {"p1", "p2"}
    assert worker.anon("a-1") == tombstone


def test_given_an_identify_for_an_anonymous_id_never_seen_then_it_is_aliased_without_a_merge():
    worker = Worker()

    worker.deliver(identify(user_id="u1", anonymous_id="a-new"))
    worker.deliver(anon_view("p1", "m-1", anonymous_id="a-new"))

    assert worker.store.aliases == {"a-new": "u1"}
    assert worker.anon("a-new") is None
    assert worker.user("u1").moment_counts == {"product_viewed": 1}


def test_given_a_second_identify_with_the_same_ids_then_the_history_is_not_merged_twice():
    worker = Worker()
    worker.deliver(anon_view("p1", "m-1"))
    worker.deliver(identify(user_id="u1", anonymous_id="a-1", message_id="login-1"))

    worker.deliver(identify(user_id="u1", anonymous_id="a-1", message_id="login-2"))

    assert worker.user("u1").moment_counts == {"product_viewed": 1}


def test_given_an_anonymous_event_redelivered_after_the_merge_then_it_is_still_a_duplicate():
    worker = Worker()
    first_view = anon_view("p1", "m-1")
    worker.deliver(first_view)
    worker.deliver(identify(user_id="u1", anonymous_id="a-1"))

    assert worker.deliver(first_view).outcome == Outcome.DUPLICATE
    assert worker.user("u1").moment_counts == {"product_viewed": 1}
    assert worker.totals()["events"] == 2


# --- races --------------------------------------------------------------------------------------


def test_given_a_conflict_from_the_store_then_the_plan_is_rebuilt_and_committed():
    store = ConflictingStore(conflicts=2)
    worker = Worker(store=store)

    processed = worker.deliver(event("Geofence Entered", properties={"store_id": "s1"}))

    assert processed.outcome == Outcome.PROCESSED
    assert store.attempts == 3
    assert worker.user().moment_counts == {"geofence_entered": 1}
    assert worker.totals()["events"] == 1


def test_given_conflicts_on_every_attempt_then_the_event_is_retryable():
    store = ConflictingStore(conflicts=MAX_ATTEMPTS)
    worker = Worker(store=store)

    with pytest.raises(RetryableError):
        worker.deliver(event())

    assert store.attempts == MAX_ATTEMPTS
    assert store.commits == 0


def test_given_the_profile_changed_since_it_was_read_then_the_retry_builds_on_the_new_version():
    class ProfileChangesOnce(InMemoryMomentStore):
        """Before the first commit, another worker adds a moment to the same profile."""

        def __init__(self) -> None:
            super().__init__()
            self.raced = False

        def commit(self, plan):
            if not self.raced:
                self.raced = True
                stored = self.profiles.get(plan.profile.subject) or Profile(plan.profile.subject)
                counts = {**stored.moment_counts, "qr_scanned": 1}
                self.profiles[stored.subject] = Profile(
                    stored.subject, version=stored.version + 1, moment_counts=counts
                )
            super().commit(plan)

    worker = Worker(store=ProfileChangesOnce())

    worker.deliver(event("Geofence Entered", properties={"store_id": "s1"}))

    assert worker.user().moment_counts == {"qr_scanned": 1, "geofence_entered": 1}
    assert worker.user().version == 2


# --- QR scans from the in-app scanner --------------------------------------------------------


def test_given_a_genuine_qr_code_then_it_is_a_moment_at_the_codes_store_for_its_product():
    worker = Worker()
    code = worker.add_qr_code(store_id="store-7", product_id="p-qr")

    processed = worker.deliver(event("QR Code Scanned", properties={"code": code}))

    assert (processed.moment_type, processed.rejected) == ("qr_scanned", None)
    assert [r["product_id"] for r in worker.user().recent_products] == ["p-qr"]
    assert worker.user().recent_stores[0]["store_id"] == "store-7"
    assert worker.store.totals("store#store-7") == {"moment:qr_scanned": 1, "intent:know": 1}


@pytest.mark.parametrize("which", ["forged", "revoked", "unknown"])
def test_given_a_qr_code_that_is_not_genuine_and_live_then_it_is_counted_as_rejected(which):
    worker = Worker()
    genuine = worker.add_qr_code(state="revoked" if which == "revoked" else "active")
    code = {
        "forged": genuine[:-1] + ("A" if genuine[-1] != "A" else "B"),
        "revoked": genuine,
        "unknown": worker.qr_codes.token_for("NOTSTORD"),
    }[which]

    processed = worker.deliver(event("QR Code Scanned", properties={"code": code}))

    assert processed.outcome == Outcome.PROCESSED and processed.rejected == "invalid_qr_code"
    assert worker.totals() == {
        "events": 1,
        "event:QR Code Scanned": 1,
        "rejected:invalid_qr_code": 1,
        "active": 1,
    }
    assert worker.store.totals("store#") == {}
    assert worker.user().moment_counts == {}
    record = worker.store.markers[(Subject.user("u1"), "m-1")]
    assert record["rejected"] == "invalid_qr_code"


# --- process_batch -------------------------------------------------------------------------------


def good_body(message_id: str) -> str:
    return queue_envelope.encode(
        envelope(event("Geofence Entered", message_id=message_id, properties={"store_id": "s1"}))
    )


def test_given_one_poison_record_among_three_then_the_two_good_are_deleted_and_only_it_fails():
    worker, acknowledger, errors = Worker(), RecordingAcknowledger(), []
    records = [
        queue_record(1, good_body("m-1")),
        queue_record(2, "{not json"),
        queue_record(3, good_body("m-3")),
    ]

    with pytest.raises(BatchFailed) as caught:
        process_batch(
            records, worker.process, acknowledger, on_error=lambda r, e: errors.append(r.message_id)
        )

    assert acknowledger.deletes == [["rh-1", "rh-3"]]
    assert caught.value.report.failures == {"sqs-2": "poison"}
    assert [p.message_id for p in caught.value.report.processed] == ["m-1", "m-3"]
    assert errors == ["sqs-2"]
    assert "sqs-2" in str(caught.value) and "sqs-1" not in str(caught.value)


def test_given_every_record_is_good_then_nothing_is_deleted_by_us_and_nothing_raised():
    worker, acknowledger = Worker(), RecordingAcknowledger()
    records = [queue_record(i, good_body(f"m-{i}")) for i in range(3)]

    report = process_batch(records, worker.process, acknowledger)

    assert acknowledger.deletes == []
    assert report.failures == {}
    assert [p.outcome for p in report.processed] == [Outcome.PROCESSED] * 3


def test_given_a_redelivered_record_in_a_batch_then_it_succeeds_as_a_duplicate():
    worker, acknowledger = Worker(), RecordingAcknowledger()
    records = [queue_record(1, good_body("m-1")), queue_record(2, good_body("m-1"))]

    report = process_batch(records, worker.process, acknowledger)

    assert [p.outcome for p in report.processed] == [Outcome.PROCESSED, Outcome.DUPLICATE]
    assert worker.totals()["events"] == 1


def test_given_retryable_and_unexpected_failures_then_each_is_reported_and_the_good_one_deleted():
    def process(env):
        if env.event.message_id == "m-throttled":
            raise RetryableError("throttled")
        if env.event.message_id == "m-bug":
            raise KeyError("bug")
        return Worker().process(env)

    acknowledger = RecordingAcknowledger()
    records = [
        queue_record(1, good_body("m-throttled")),
        queue_record(2, good_body("m-ok")),
        queue_record(3, good_body("m-bug")),
    ]

    with pytest.raises(BatchFailed) as caught:
        process_batch(records, process, acknowledger)

    assert caught.value.report.failures == {"sqs-1": "retryable", "sqs-3": "unexpected:KeyError"}
    assert acknowledger.deletes == [["rh-2"]]


def test_given_every_record_fails_then_nothing_is_deleted_and_all_are_raised():
    acknowledger = RecordingAcknowledger()

    with pytest.raises(BatchFailed) as caught:
        process_batch([queue_record(1, "x"), queue_record(2, "[]")], Worker().process, acknowledger)

    assert acknowledger.deletes == []
    assert set(caught.value.report.failures) == {"sqs-1", "sqs-2"}


def test_daily_active_shoppers_count_each_shopper_once_a_utc_day_and_not_on_redelivery():
    from tests.unit.builders import NOW, Worker, event

    worker = Worker()
    today = [event(message_id=f"t-{i}", at=NOW + timedelta(minutes=i)) for i in range(3)]
    tomorrow = event(message_id="n-1", at=NOW + timedelta(days=1))
    other = event(message_id="o-1", user_id="u2", at=NOW)
    for e in [*today, other, tomorrow, *today, tomorrow]:  # the repeats are redeliveries
        worker.deliver(e)
    by_day: dict[str, int] = {}
    for (scope, hour), counts in worker.store.counters.items():
        if scope.startswith("all#") and "active" in counts:  # in the hour of the day's first event
            by_day[hour[:8]] = by_day.get(hour[:8], 0) + counts["active"]
    assert by_day == {NOW.strftime("%Y%m%d"): 2, (NOW + timedelta(days=1)).strftime("%Y%m%d"): 1}
