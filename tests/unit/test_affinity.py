"""domain/affinity.py: time-decayed interest scores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain import affinity
from chalicelib.domain.clock import iso
from tests.unit.builders import HALF_LIFE, NOW


def test_given_one_half_life_without_a_signal_then_the_score_halves():
    assert affinity.decay(8.0, HALF_LIFE, HALF_LIFE) == pytest.approx(4.0)
    assert affinity.decay(8.0, 2 * HALF_LIFE, HALF_LIFE) == pytest.approx(2.0)
    assert affinity.decay(8.0, timedelta(0), HALF_LIFE) == 8.0


def test_given_a_stored_affinity_then_its_value_a_half_life_later_is_half():
    stored = affinity.add_signal(None, 3.0, NOW, HALF_LIFE)

    assert stored == {"score": 3.0, "at": iso(NOW)}
    assert affinity.value_at(stored, NOW + HALF_LIFE, HALF_LIFE) == pytest.approx(1.5)


def test_given_a_later_signal_then_the_old_score_is_decayed_before_adding():
    first = affinity.add_signal(None, 2.0, NOW, HALF_LIFE)

    after = affinity.add_signal(first, 1.0, NOW + HALF_LIFE, HALF_LIFE)

    assert after == {"score": pytest.approx(2.0), "at": iso(NOW + HALF_LIFE)}


@pytest.mark.parametrize("gap", [timedelta(seconds=1), timedelta(hours=5), HALF_LIFE, timedelta(days=30)])
@pytest.mark.parametrize(("w1", "w2"), [(1.0, 3.0), (2.5, 0.1)])
def test_given_two_signals_then_either_order_gives_the_same_score(gap, w1, w2):
    early, late = NOW - gap, NOW

    in_order = affinity.add_signal(affinity.add_signal(None, w1, early, HALF_LIFE), w2, late, HALF_LIFE)
    reversed_ = affinity.add_signal(affinity.add_signal(None, w2, late, HALF_LIFE), w1, early, HALF_LIFE)

    seen_at = NOW + timedelta(days=1)
    assert (
        abs(
            affinity.value_at(in_order, seen_at, HALF_LIFE) - affinity.value_at(reversed_, seen_at, HALF_LIFE)
        )
        <= 1e-6
    )
    assert in_order["at"] == reversed_["at"] == iso(late)


def test_given_two_independent_affinities_when_merged_then_they_add_up_with_decay():
    older = {"score": 4.0, "at": iso(NOW - HALF_LIFE)}
    newer = {"score": 1.0, "at": iso(NOW)}

    merged = affinity.merge(older, newer, HALF_LIFE)

    assert merged == {"score": pytest.approx(3.0), "at": iso(NOW)}
    assert affinity.merge(newer, older, HALF_LIFE) == merged
    assert affinity.merge(None, newer, HALF_LIFE) == newer
    assert affinity.merge(older, None, HALF_LIFE) == older


def test_given_more_affinities_than_the_limit_then_the_strongest_now_are_kept():
    affinities = {
        "faded": {"score": 10.0, "at": iso(NOW - 4 * HALF_LIFE)},  # 0.625 now
        "strong": {"score": 5.0, "at": iso(NOW)},
        "middling": {"score": 2.0, "at": iso(NOW)},
        "weak": {"score": 1.0, "at": iso(NOW)},
    }

    kept = affinity.keep_top(affinities, 3, NOW, HALF_LIFE)

    assert set(kept) == {"strong", "middling", "weak"}


def test_given_no_more_affinities_than_the_limit_then_all_are_kept():
    affinities = {f"c{i}": {"score": float(i), "at": iso(NOW)} for i in range(3)}

    assert affinity.keep_top(affinities, 3, NOW, HALF_LIFE) == affinities
