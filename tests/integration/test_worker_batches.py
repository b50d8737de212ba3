"""The worker's one commit per group of events (moto, chalice.test.Client, real SQS queue): a
batch of one shopper's events is one TransactWriteItems; a whole or partial batch delivered again
changes nothing twice; a poison record among a shopper's events fails alone; the applied message
ids live in the profile item (``ids``), its body compressed (``b``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from chalicelib.contracts import queue_envelope


def ts() -> str:
    return datetime.now(UTC).isoformat()


def view(message_id: str, user: str = "u1", product: str = "sku-1") -> dict:
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user,
        "timestamp": ts(),
        "event": "Product Viewed",
        "properties": {"product_id": product, "category": "tea"},
    }


def enter(message_id: str, user: str = "u1", store: str = "store-9") -> dict:
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user,
        "timestamp": ts(),
        "event": "Geofence Entered",
        "properties": {"store_id": store},
    }


@contextmanager
def transactions() -> Iterator[list[list[str]]]:
    """The partition keys of the items of every TransactWriteItems the worker's client makes meanwhile."""
    from chalicelib import wiring

    seen: list[list[str]] = []

    def record(params, **_):
        bodies = [next(iter(op.values())) for op in params["TransactItems"]]
        seen.append([(body.get("Key") or body["Item"])["PK"]["S"] for body in bodies])

    events = wiring.container().dynamodb.meta.events
    events.register("provide-client-params.dynamodb.TransactWriteItems", record)
    try:
        yield seen
    finally:
        events.unregister("provide-client-params.dynamodb.TransactWriteItems", record)


def post_batch(harness, events: list[dict]) -> None:
    response = harness.post("/v1/batch", {"batch": events, "sentAt": ts()})
    assert response.status_code == 200, response.body


def test_one_shoppers_batch_is_one_transaction_with_the_counters_added_up(harness):
    batch = [view("b-1"), enter("b-2"), view("b-3", product="sku-2"), enter("b-4", store="store-8")]
    post_batch(harness, batch)

    with transactions() as seen:
        assert harness.pump.pump_once() == 4

    [items] = seen
    profiles = [pk for pk in items if pk == "USER#u1"]
    counters = [pk for pk in items if pk.startswith("STAT#")]
    assert profiles == ["USER#u1"]
    # all (one shard, with her first event today as a daily active shopper), store-9, store-8
    assert len(counters) == len(set(counters)) == 3, counters
    assert harness.counters()["active"] == 1
    profile = harness.item("USER#u1", "PROFILE")
    assert profile["version"] == 1
    assert profile["moment_counts"] == {"product_viewed": 2, "geofence_entered": 2}
    assert len(profile["applied"]) == 4
    assert harness.counters()["events"] == 4
    assert harness.item("USER#u1", "MSG#b-2")["moment"] == "geofence_entered"
    raw = harness.dynamodb.get_item(
        TableName=harness.outputs["TableName"], Key={"PK": {"S": "USER#u1"}, "SK": {"S": "PROFILE"}}
    )["Item"]
    assert set(raw) == {"PK", "SK", "subject_kind", "subject_id", "version", "b", "ids"}
    assert len(raw["ids"]["B"]) == 4 * 12


def test_two_shoppers_in_one_batch_are_one_transaction_with_one_item_per_counter(harness):
    post_batch(harness, [view("x-1", user="ann"), view("y-1", user="bob"), enter("x-2", user="ann")])

    with transactions() as seen:
        harness.pump.drain()

    [items] = seen
    assert sorted(pk for pk in items if not pk.startswith("STAT#")) == ["USER#ann", "USER#bob"]
    counters = [pk for pk in items if pk.startswith("STAT#")]
    assert len(counters) == len(set(counters))  # ann's and bob's counts added up in each item
    assert len([pk for pk in counters if pk.startswith("STAT#all#")]) == 1
    assert harness.counters()["events"] == 3
    assert harness.item("USER#ann", "PROFILE")["moment_counts"] == {
        "product_viewed": 1,
        "geofence_entered": 1,
    }


def test_a_whole_batch_and_then_part_of_it_delivered_again_count_once(harness):
    batch = [view("r-1"), enter("r-2"), view("r-3", user="bob")]
    post_batch(harness, batch)
    harness.pump.drain()
    before = harness.counters()

    post_batch(harness, batch)  # the whole batch again (same messageIds)
    with transactions() as seen:
        harness.pump.drain()
    assert seen == []
    assert harness.counters() == before

    post_batch(harness, [batch[1], view("r-4", product="sku-7")])  # part of it, and a new event
    harness.pump.drain()

    counters = harness.counters()
    assert counters["events"] == before["events"] + 1 == 4
    profile = harness.item("USER#u1", "PROFILE")
    assert profile["moment_counts"] == {"product_viewed": 2, "geofence_entered": 1}
    assert profile["version"] == 2
    assert harness.queued() == 0


def test_a_poison_record_among_one_shoppers_events_fails_alone(harness):
    url = harness.outputs["EventsQueueUrl"]
    from chalicelib.contracts.segment import event_from_dict

    good = [
        queue_envelope.encode(
            queue_envelope.Envelope("it", datetime.now(UTC), event_from_dict(view(f"p-{i}")))
        )
        for i in range(3)
    ]
    for body in (good[0], good[1], "{poison", good[2]):
        harness.sqs.send_message(QueueUrl=url, MessageBody=body)

    with transactions() as seen:
        assert harness.pump.pump_once() == 4

    assert harness.pump.failed_batches == 1
    assert len(seen) == 1  # the three good events: one commit
    assert harness.item("USER#u1", "PROFILE")["moment_counts"] == {"product_viewed": 3}
    assert harness.queued() == 1  # only the poison record comes back


def test_a_batch_reads_its_shoppers_in_two_round_trips_not_one_per_shopper(harness):
    from chalicelib import wiring

    post_batch(harness, [view(f"p-{n}", user=f"shopper-{n}") for n in range(6)])
    post_batch(harness, [{**view("p-anon", user=None), "anonymousId": "visitor-1"}])
    calls: list[str] = []

    def record(model, **_):
        calls.append(model.name)

    events = wiring.container().dynamodb.meta.events
    events.register("before-call.dynamodb", record)
    try:
        assert harness.pump.pump_once() == 7
    finally:
        events.unregister("before-call.dynamodb", record)

    reads = [c for c in calls if c in ("GetItem", "BatchGetItem", "Query")]
    assert reads.count("BatchGetItem") == 2 and "GetItem" not in reads, calls
    assert calls.count("TransactWriteItems") == 1
    assert harness.counters()["events"] == 7
