"""ttl_cache.py: the bounded in-memory cache in front of write keys and QR records."""

from __future__ import annotations

import pytest

from chalicelib.ttl_cache import TtlCache
from tests.unit.builders import FakeMonotonic


class CountingLoader:
    """Returns a fixed value per key (None = not found) and counts the loads."""

    def __init__(self, values: dict[str, str | None]) -> None:
        self.values = values
        self.loads: list[str] = []

    def __call__(self, key: str):
        def load():
            self.loads.append(key)
            return self.values.get(key)

        return load


def test_given_a_cached_value_then_a_second_get_does_not_load():
    cache, load = TtlCache(60, clock=FakeMonotonic()), CountingLoader({"k": "v"})

    assert cache.get("k", load("k")) == "v"
    assert cache.get("k", load("k")) == "v"
    assert load.loads == ["k"]


def test_given_the_ttl_has_passed_then_the_value_is_loaded_again():
    clock = FakeMonotonic()
    cache, load = TtlCache(60, clock=clock), CountingLoader({"k": "v1"})
    cache.get("k", load("k"))

    clock.advance(59.9)
    assert cache.get("k", load("k")) == "v1"
    load.values["k"] = "v2"
    clock.advance(0.1)

    assert cache.get("k", load("k")) == "v2"
    assert load.loads == ["k", "k"]


def test_given_a_miss_then_it_is_cached_for_the_shorter_negative_ttl():
    clock = FakeMonotonic()
    cache, load = TtlCache(60, clock=clock), CountingLoader({})

    assert cache.get("bad", load("bad")) is None
    clock.advance(9.9)
    assert cache.get("bad", load("bad")) is None
    assert load.loads == ["bad"]
    clock.advance(0.1)

    cache.get("bad", load("bad"))

    assert load.loads == ["bad", "bad"]


def test_given_a_negative_ttl_of_zero_then_misses_are_not_cached():
    cache, load = TtlCache(60, negative_ttl_seconds=0, clock=FakeMonotonic()), CountingLoader({})

    cache.get("bad", load("bad"))
    cache.get("bad", load("bad"))

    assert load.loads == ["bad", "bad"]


def test_given_a_ttl_of_zero_then_nothing_is_cached():
    cache, load = TtlCache(0, clock=FakeMonotonic()), CountingLoader({"k": "v"})

    cache.get("k", load("k"))
    cache.get("k", load("k"))

    assert load.loads == ["k", "k"]


def test_given_more_keys_than_the_bound_then_the_least_recently_used_is_evicted():
    cache = TtlCache(60, max_entries=3, clock=FakeMonotonic())
    load = CountingLoader({k: k.upper() for k in "abcd"})
    for key in "abc":
        cache.get(key, load(key))
    cache.get("a", load("a"))  # "a" is now the most recently used; "b" the least

    cache.get("d", load("d"))
    for key in "acd":
        cache.get(key, load(key))
    assert load.loads == ["a", "b", "c", "d"]

    cache.get("b", load("b"))

    assert load.loads == ["a", "b", "c", "d", "b"]


def test_given_a_flood_of_distinct_keys_then_only_the_latest_up_to_the_bound_stay_cached():
    cache = TtlCache(60, max_entries=100, clock=FakeMonotonic())
    load = CountingLoader({})
    for i in range(10_000):
        cache.get(f"k{i}", load(f"k{i}"))
    load.loads.clear()

    for i in range(9_900, 10_000):
        cache.get(f"k{i}", load(f"k{i}"))
    assert load.loads == []

    cache.get("k9899", load("k9899"))

    assert load.loads == ["k9899"]


def test_given_a_loader_that_fails_then_nothing_is_cached():
    cache, calls = TtlCache(60, clock=FakeMonotonic()), []

    def failing():
        calls.append(1)
        raise RuntimeError("throttled")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            cache.get("k", failing)

    assert len(calls) == 2


def test_given_a_cleared_cache_then_values_are_loaded_again():
    cache, load = TtlCache(60, clock=FakeMonotonic()), CountingLoader({"k": "v"})
    cache.get("k", load("k"))

    cache.clear()
    cache.get("k", load("k"))

    assert load.loads == ["k", "k"]
