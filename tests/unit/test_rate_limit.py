"""chalicelib/rate_limit.py: token buckets per write key and per device, on a fixed clock."""

from __future__ import annotations

import pytest

from chalicelib.domain.clock import FixedClock
from chalicelib.rate_limit import IngestLimits, RateLimited
from tests.unit.builders import NOW


def test_given_a_device_within_its_minute_then_its_events_are_admitted_and_the_next_one_waits():
    clock = FixedClock(NOW)
    limits = IngestLimits(0, 60, clock)  # 60 a minute: one a second, bursts of 60

    limits.admit("app", ["phone-1"] * 60)
    with pytest.raises(RateLimited) as refused:
        limits.admit("app", ["phone-1"])

    assert (refused.value.scope, refused.value.retry_after) == ("device", 1)
    limits.admit("app", ["phone-2"])  # another device is not held back
    clock.advance(seconds=1)
    limits.admit("app", ["phone-1"])


def test_given_an_app_over_its_rate_then_the_whole_request_is_refused_and_nothing_is_taken():
    clock = FixedClock(NOW)
    limits = IngestLimits(10, 0, clock)  # 10 a second, bursts of 20

    limits.admit("app", [f"d{i}" for i in range(15)])
    with pytest.raises(RateLimited) as refused:
        limits.admit("app", [f"d{i}" for i in range(10)])

    assert (refused.value.scope, refused.value.retry_after) == ("key", 1)
    limits.admit("app", [f"d{i}" for i in range(5)])  # the refused request took nothing
    limits.admit("other-app", [f"d{i}" for i in range(20)])


def test_given_a_request_larger_than_a_whole_bucket_then_it_is_refused_with_a_minute_to_wait():
    limits = IngestLimits(1, 0, FixedClock(NOW))
    with pytest.raises(RateLimited) as refused:
        limits.admit("app", ["d"] * 3)
    assert refused.value.retry_after == 60


def test_given_zero_limits_then_nothing_is_limited():
    limits = IngestLimits(0, 0, FixedClock(NOW))
    for _ in range(100):
        limits.admit("app", ["d"] * 100)
