"""The worker through chalice.test.Client and a real (moto) SQS queue: exactly-once effects,
partial batch failure, poison messages to the DLQ, and identity aliasing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalicelib.contracts import queue_envelope


def event(message_id: str, **fields):
    return {"messageId": message_id, "timestamp": datetime.now(UTC).isoformat(), **fields}


def geofence(message_id: str, user: str = "u1", store: str = "store-1"):
    return event(message_id, userId=user, event="Geofence Entered", properties={"store_id": store})


def test_the_same_message_id_three_times_changes_profile_and_counters_once(harness):
    payload = geofence("dup-1")
    for _ in range(3):
        assert harness.post("/v1/track", payload).status_code == 200
    assert harness.queued() == 3
    assert harness.pump.drain() == 3
    profile = harness.item("USER#u1", "PROFILE")
    assert profile["moment_counts"] == {"geofence_entered": 1}
    assert len(profile["recent_stores"]) == 1
    assert profile["version"] == 1
    counters = harness.counters()
    assert counters["moment:geofence_entered"] == 1
    assert counters["events"] == 1
    store = harness.scan("STAT#store#store-1#")
    assert [row["moment:geofence_entered"] for row in store] == [1]
    assert harness.item("USER#u1", "MSG#dup-1")["moment"] == "geofence_entered"
    assert harness.queued() == 0


def test_a_batch_with_one_poison_record_deletes_the_good_ones_and_raises(harness):
    url = harness.outputs["EventsQueueUrl"]
    good = [
        queue_envelope.encode(queue_envelope.Envelope("it", datetime.now(UTC), _event(f"g-{i}")))
        for i in range(2)
    ]
    for body in (good[0], "{this is not an envelope", good[1]):
        harness.sqs.send_message(QueueUrl=url, MessageBody=body)
    assert harness.pump.pump_once() == 3
    assert harness.pump.failed_batches == 1
    # The two good records were applied once and deleted; only the poison one is left.
    assert harness.item("USER#u1", "PROFILE")["moment_counts"] == {"geofence_entered": 2}
    assert harness.queued() == 1


def test_a_poison_message_ends_in_the_dlq_after_five_receives(harness):
    url = harness.outputs["EventsQueueUrl"]
    harness.sqs.send_message(QueueUrl=url, MessageBody="garbage")
    for _ in range(6):
        harness.pump.pump_once()
    dlq = harness.outputs["EventsDeadLetterQueueUrl"]
    moved = harness.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in moved] == ["garbage"]
    assert harness.queued() == 0


def _event(message_id: str):
    from chalicelib.contracts.segment import event_from_dict

    return event_from_dict({"type": "track", **geofence(message_id)})


def test_anonymous_history_moves_to_the_user_on_identify(harness):
    anon = "device-abc"
    harness.post(
        "/v1/track",
        event(
            "a-1",
            anonymousId=anon,
            event="Product Viewed",
            properties={"product_id": "sku-9", "category": "coffee"},
        ),
    )
    harness.pump.drain()
    harness.post(
        "/v1/identify",
        event(
            "a-2",
            userId="carol",
            anonymousId=anon,
            traits={"first_name": "Carol", "consents": {"email": True}},
        ),
    )
    harness.pump.drain()
    harness.post(
        "/v1/track",
        event("a-3", anonymousId=anon, event="Geofence Entered", properties={"store_id": "store-1"}),
    )
    harness.pump.drain()
    user = harness.item("USER#carol", "PROFILE")
    assert user["moment_counts"] == {"product_viewed": 1, "geofence_entered": 1}
    assert user["traits"]["first_name"] == "Carol"
    assert user["consents"]["email"]["granted"] is True
    assert user["anonymous_ids"] == [anon]
    assert harness.item(f"ANON#{anon}", "ALIAS")["user_id"] == "carol"
    assert harness.item(f"ANON#{anon}", "PROFILE")["merged_into"] == "carol"


def test_unknown_event_names_are_counted_but_are_not_moments(harness):
    harness.post("/v1/track", event("x-1", userId="u1", event="Wishlist Opened"))
    harness.pump.drain()
    counters = harness.counters()
    assert counters["event:Wishlist Opened"] == 1
    assert not any(k.startswith("moment:") for k in counters)
    assert harness.item("USER#u1", "PROFILE")["moment_counts"] == {}


def test_in_app_scan_of_a_forged_code_is_recorded_as_rejected(harness):
    harness.post(
        "/v1/track",
        event("q-1", userId="u1", event="QR Code Scanned", properties={"code": "AAAAAAAAAAAAAAAAAAAAAA"}),
    )
    harness.pump.drain()
    assert harness.counters()["rejected:invalid_qr_code"] == 1
    assert harness.item("USER#u1", "MSG#q-1")["rejected"] == "invalid_qr_code"


def test_in_app_scan_of_a_genuine_code_takes_store_and_product_from_the_record(harness):
    harness.post(
        "/v1/track",
        event(
            "q-2",
            userId="u1",
            event="QR Code Scanned",
            properties={"code": harness.qr["code"], "store_id": "spoofed"},
        ),
    )
    harness.pump.drain()
    profile = harness.item("USER#u1", "PROFILE")
    assert profile["recent_stores"][0]["store_id"] == "store-1"
    assert profile["recent_products"][0]["product_id"] == "sku-42"


def test_dynamodb_throttling_fails_only_that_record_and_it_is_retried(harness):
    from botocore.stub import Stubber

    from chalicelib import wiring

    harness.post("/v1/track", geofence("t-1"))
    ddb = wiring.container().dynamodb
    with Stubber(ddb) as stub:
        for _ in range(5):
            stub.add_client_error(
                "get_item", service_error_code="ProvisionedThroughputExceededException", http_status_code=400
            )
        harness.pump.pump_once()
    assert harness.pump.failed_batches == 1
    assert harness.queued() == 1
    assert harness.pump.drain() == 1
    assert harness.item("USER#u1", "PROFILE")["moment_counts"] == {"geofence_entered": 1}


def test_messages_are_json_envelopes_with_a_version(harness):
    harness.post("/v1/track", geofence("v-1"))
    body = harness.sqs.receive_message(QueueUrl=harness.outputs["EventsQueueUrl"])["Messages"][0]["Body"]
    assert json.loads(body)["v"] == 1


def test_distinct_shoppers_sketch_counts_each_shopper_once_on_moto(harness):
    from chalicelib import wiring
    from chalicelib.domain import distinct

    for n in range(3):  # three shoppers, one of them twice, then everything redelivered
        for m in range(1 + (n == 0)):
            payload = geofence(f"d-{n}-{m}", user=f"shopper-{n}")
            for _ in range(2):
                assert harness.post("/v1/track", payload).status_code == 200
    assert harness.pump.drain() == 8

    day = datetime.now(UTC).strftime("%Y%m%d")
    sketches = wiring.container().distinct.sketches([day])
    registers = harness.scan(f"STAT#distinct#{day}")
    assert (
        len(registers)
        == len(sketches[day])
        == len({distinct.observe(f"shopper-{n}").index for n in range(3)})
    )
    assert distinct.estimate(sketches[day]) == 3
    # the conditional write keeps the larger value and refuses a smaller one without an error
    store = wiring.container().distinct
    assert store.raise_to(day, distinct.observe("shopper-0")) is False
    assert store.raise_to(day, distinct.Observation(1023, 55)) is True
    assert wiring.container().distinct.sketches([day])[day][1023] == 55


def test_reports_estimate_distinct_shoppers_across_days_and_sum_shopper_days(harness):
    from chalicelib import wiring
    from chalicelib.domain import distinct

    today = datetime.now(UTC)
    yesterday = (today - timedelta(days=1)).strftime("%Y%m%d")
    store = wiring.container().distinct
    for n in (0, 1, 7):  # yesterday's shoppers, two of whom come back today
        store.raise_to(yesterday, distinct.observe(f"shopper-{n}"))
    for n in range(3):
        assert harness.post("/v1/track", geofence(f"u-{n}", user=f"shopper-{n}")).status_code == 200
    harness.pump.drain()

    span = f"from={(today - timedelta(days=1)).date()}&to={today.date()}"
    funnel = harness.admin("GET", f"/admin/reports/funnel?{span}").json_body
    assert funnel["unique_shoppers"] == 4  # shopper-0, 1, 2 and 7
    assert funnel["shoppers"] == 3  # shopper-days the worker counted (today's three)
    assert (
        harness.admin("GET", f"/admin/reports/funnel?{span}&store=store-1").json_body["unique_shoppers"]
        is None
    )
    page = harness.admin("GET", f"/admin/dashboard?{span}").body.decode()
    assert 'data-kpi="shoppers" data-count="4"' in page and 'data-kpi="shopper_days" data-count="3"' in page
