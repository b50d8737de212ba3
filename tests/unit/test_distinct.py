"""domain/distinct.py: distinct shoppers over a range of days from daily HyperLogLog sketches,
and the worker raising them once per shopper and day (never on a redelivery)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from chalicelib.adapters.in_memory import InMemoryDistinct
from chalicelib.domain import distinct
from tests.unit.builders import NOW, Worker, event


def sketch_of(shoppers) -> dict[int, int]:
    memory = InMemoryDistinct()
    for shopper in shoppers:
        memory.raise_to("d", distinct.observe(shopper))
    return memory.days.get("d", {})


def test_an_observation_names_a_register_and_a_value_in_range():
    for n in range(2_000):
        o = distinct.observe(f"user-{n}")
        assert 0 <= o.index < distinct.M and 1 <= o.value <= 64 - distinct.P + 1
    assert distinct.observe("ada") == distinct.observe("ada")


@pytest.mark.parametrize("n", [0, 1, 7, 50, 300])
def test_small_counts_are_within_a_few_shoppers(n):
    estimate = distinct.estimate(sketch_of(f"shopper-{i}" for i in range(n)))

    assert abs(estimate - n) <= max(1, round(n * 0.03))


@pytest.mark.parametrize("n", [5_000, 60_000])
def test_large_counts_are_within_three_standard_errors(n):
    rng = random.Random(n)
    shoppers = [f"u-{rng.getrandbits(64):x}" for _ in range(n)]

    estimate = distinct.estimate(sketch_of(shoppers))

    assert abs(estimate - n) / n <= 3 * 1.04 / distinct.M**0.5


def test_a_shopper_on_several_days_counts_once_across_them():
    days = {
        "mon": sketch_of([f"regular-{i}" for i in range(400)] + [f"mon-{i}" for i in range(100)]),
        "tue": sketch_of([f"regular-{i}" for i in range(400)] + [f"tue-{i}" for i in range(200)]),
        "wed": sketch_of([f"regular-{i}" for i in range(400)]),
    }
    merged = distinct.merge(days.values())

    assert abs(distinct.estimate(merged) - 700) <= 21  # 3 %; summing the days would say 1,500
    assert sum(distinct.estimate(d) for d in days.values()) > 1_400


def test_raising_a_register_keeps_the_largest_value_only():
    memory = InMemoryDistinct()
    low, high = distinct.Observation(5, 2), distinct.Observation(5, 9)

    assert memory.raise_to("d", high) is True
    assert memory.raise_to("d", low) is False and memory.raise_to("d", high) is False
    assert memory.sketches(["d", "e"]) == {"d": {5: 9}, "e": {}}


def test_the_worker_raises_the_sketch_on_a_shoppers_first_event_of_the_day_only():
    worker = Worker()
    today = [event(message_id=f"t-{i}", at=NOW + timedelta(minutes=i)) for i in range(3)]
    tomorrow = event(message_id="n-1", at=NOW + timedelta(days=1))
    other = event(message_id="o-1", user_id="u2", at=NOW)
    calls: list[tuple[str, distinct.Observation]] = []
    raise_to = worker.distinct.raise_to
    worker.distinct.raise_to = lambda day, o: calls.append((day, o)) or raise_to(day, o)  # type: ignore[method-assign]

    for e in [*today, other, tomorrow, *today, tomorrow]:  # the repeats are redeliveries
        worker.deliver(e)

    day, next_day = NOW.strftime("%Y%m%d"), (NOW + timedelta(days=1)).strftime("%Y%m%d")
    assert calls == [
        (day, distinct.observe("u1")),
        (day, distinct.observe("u2")),
        (next_day, distinct.observe("u1")),
    ]
    both_days = distinct.merge(worker.distinct.sketches([day, next_day]).values())
    assert distinct.estimate(both_days) == 2


def test_a_failed_sketch_write_does_not_fail_the_committed_event(caplog):
    worker = Worker()

    def broken(day, observation):
        raise RuntimeError("throttled")

    worker.distinct.raise_to = broken  # type: ignore[method-assign]
    processed = worker.deliver(event(message_id="m-1"))

    assert processed.outcome == "processed" and worker.store.commits == 1
    assert "distinct shopper not counted" in caplog.text
