"""domain/counters.py: which hourly analytics counters one processed event increments."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.counters import CounterIncrement, increments_for, shard_of
from tests.unit.builders import NOW, event, identify

HOUR = "2026112315"


def test_given_a_message_id_then_its_shard_is_stable_and_within_range():
    assert shard_of("m-1", 4) == shard_of("m-1", 4)
    assert {shard_of(f"m-{i}", 4) for i in range(200)} == {0, 1, 2, 3}
    assert shard_of("m-1", 0) == 0


def test_given_a_moment_with_a_store_then_the_store_scope_counts_it_too():
    evt = event("Geofence Entered", message_id="m-7", properties={"store_id": "s1"})

    increments = increments_for(evt, "s1", shards=4)

    assert increments == [
        CounterIncrement(
            f"all#s{shard_of('m-7', 4)}",
            HOUR,
            {"events": 1, "event:Geofence Entered": 1, "moment:geofence_entered": 1, "intent:go": 1},
        ),
        CounterIncrement("store#s1", HOUR, {"moment:geofence_entered": 1, "intent:go": 1}),
    ]


def test_given_a_moment_without_a_store_then_only_the_sharded_scope_counts_it():
    increments = increments_for(event("Product Viewed", properties={"product_id": "p1"}), None, shards=4)

    assert len(increments) == 1
    assert increments[0].counts == {
        "events": 1,
        "event:Product Viewed": 1,
        "moment:product_viewed": 1,
        "intent:know": 1,
    }


@pytest.mark.parametrize("evt", [event("Wishlist Shared", properties={"store_id": "s1"}), identify()])
def test_given_an_event_that_is_not_a_moment_then_no_store_scope_even_with_a_store(evt):
    increments = increments_for(evt, "s1", shards=4)

    assert [i.scope.split("#")[0] for i in increments] == ["all"]
    assert not any(k.startswith(("moment:", "intent:")) for k in increments[0].counts)


def test_given_an_identify_then_it_counts_as_identify():
    assert increments_for(identify(), None, shards=1)[0].counts == {"events": 1, "identify": 1}


def test_given_a_rejected_moment_then_it_counts_the_reason_and_no_moment():
    evt = event("QR Code Scanned", properties={"code": "FORGED"})

    increments = increments_for(evt, "s1", shards=4, rejected="invalid_qr_code")

    assert len(increments) == 1
    assert increments[0].counts == {"events": 1, "event:QR Code Scanned": 1, "rejected:invalid_qr_code": 1}


def test_given_an_event_then_its_hour_bucket_is_the_utc_hour_of_the_event_not_of_processing():
    evt = event("Product Viewed", at=NOW - timedelta(hours=5), properties={"product_id": "p1"})

    assert increments_for(evt, None, shards=1)[0].hour == "2026112310"
