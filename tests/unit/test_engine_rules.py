"""engine/rules.py: local-time windows (across midnight and DST), eligibility filter by filter,
freshness, the deterministic holdout, and the user's local calendar that caps are counted in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.clock import iso
from chalicelib.engine import rules
from chalicelib.engine.rules import MomentFacts, eligible, in_holdout, in_window, is_stale, local_calendar
from tests.unit.builders import HALF_LIFE, NOW, campaign, profile

NEW_YORK = ZoneInfo("America/New_York")
QUIET = ("21:00", "08:00")


def at_local(hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(2026, 11, 23, hours, minutes, tzinfo=NEW_YORK)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- windows -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hhmm", "inside"),
    [
        ("21:00", True),
        ("22:30", True),
        ("23:59", True),
        ("00:00", True),
        ("03:00", True),
        ("07:59", True),
        ("08:00", False),
        ("12:00", False),
        ("20:59", False),
    ],
)
def test_given_a_window_across_midnight_then_in_window_wraps(hhmm, inside):
    assert in_window(at_local(hhmm), "21:00", "08:00") is inside


@pytest.mark.parametrize(
    ("hhmm", "inside"), [("06:59", False), ("07:00", True), ("10:59", True), ("11:00", False)]
)
def test_given_a_daytime_window_then_the_start_is_in_and_the_end_is_out(hhmm, inside):
    assert in_window(at_local(hhmm), "07:00", "11:00") is inside


def test_given_an_empty_window_then_nothing_is_inside():
    assert not any(in_window(at_local(f"{h:02d}:00"), "09:00", "09:00") for h in range(24))


# --- quiet hours across DST, from UTC instants ---------------------------------------------------


def quiet_in_new_york(instant: datetime) -> bool:
    return in_window(instant.astimezone(rules.zone("America/New_York")), *QUIET)


@pytest.mark.parametrize(
    ("instant", "quiet"),
    [
        # 2026-03-08, clocks go forward at 02:00 EST -> 03:00 EDT (UTC-5 -> UTC-4)
        ("2026-03-09T02:30:00", True),  # 22:30 EDT
        ("2026-03-08T16:00:00", False),  # 12:00 EDT
        ("2026-03-08T06:30:00", True),  # 01:30 EST, before the change
        ("2026-03-08T07:30:00", True),  # 03:30 EDT, just after the change
        ("2026-03-08T12:30:00", False),  # 08:30 EDT (would be a quiet 07:30 with the winter offset)
        ("2026-03-09T00:59:00", False),  # 20:59 EDT
        ("2026-03-09T01:00:00", True),  # 21:00 EDT (20:00 with the winter offset: not quiet)
        # 2026-11-01, clocks go back at 02:00 EDT -> 01:00 EST (UTC-4 -> UTC-5)
        ("2026-11-02T03:30:00", True),  # 22:30 EST
        ("2026-11-01T17:00:00", False),  # 12:00 EST
        ("2026-11-01T05:30:00", True),  # 01:30 EDT, the first one
        ("2026-11-01T06:30:00", True),  # 01:30 EST, the second one
        ("2026-11-01T12:30:00", True),  # 07:30 EST (would be 08:30, not quiet, with the summer offset)
        ("2026-11-01T13:00:00", False),  # 08:00 EST
        ("2026-11-02T01:30:00", False),  # 20:30 EST (would be a quiet 21:30 with the summer offset)
    ],
)
def test_given_new_york_around_a_dst_change_then_quiet_hours_follow_the_local_clock(instant, quiet):
    assert quiet_in_new_york(utc(instant)) is quiet


# --- time zones ----------------------------------------------------------------------------------


def test_given_candidate_zones_then_the_first_valid_one_wins():
    assert rules.zone(None, "", "Not/AZone", "Asia/Tokyo", "Europe/Paris") == ZoneInfo("Asia/Tokyo")


def test_given_no_valid_zone_then_utc():
    assert rules.zone(None, "Mars/Olympus", "../etc/passwd") == ZoneInfo("UTC")


# --- local calendar ------------------------------------------------------------------------------


def test_given_a_utc_instant_on_the_next_day_then_the_local_day_is_still_today_in_new_york():
    instant = utc("2026-11-24T03:00:00")  # 22:00 on the 23rd in New York

    assert local_calendar(instant.astimezone(NEW_YORK)) == ("2026-11-23", "2026-W48")
    assert local_calendar(instant.astimezone(ZoneInfo("UTC"))) == ("2026-11-24", "2026-W48")


def test_given_sunday_night_locally_and_monday_in_utc_then_the_local_week_is_the_earlier_one():
    instant = utc("2026-11-30T02:00:00")  # Monday in UTC, Sunday 21:00 in New York

    assert local_calendar(instant.astimezone(NEW_YORK)) == ("2026-11-29", "2026-W48")
    assert local_calendar(instant.astimezone(ZoneInfo("UTC"))) == ("2026-11-30", "2026-W49")


def test_given_sunday_in_utc_and_monday_in_tokyo_then_the_local_week_is_the_later_one():
    instant = utc("2026-11-29T20:00:00")

    assert local_calendar(instant.astimezone(ZoneInfo("Asia/Tokyo"))) == ("2026-11-30", "2026-W49")


def test_given_the_first_days_of_january_then_the_iso_week_year_is_used():
    assert local_calendar(datetime(2027, 1, 1, 12, tzinfo=UTC)) == ("2027-01-01", "2026-W53")


# --- freshness -----------------------------------------------------------------------------------


def geofence_moment(at: datetime = NOW) -> MomentFacts:
    return MomentFacts("m-1", "geofence_entered", at, store_id="s1")


def test_given_a_moment_within_freshness_then_it_is_not_stale():
    offer = campaign(freshness_minutes=10)

    assert not is_stale(offer, geofence_moment(NOW - timedelta(minutes=10)), NOW)


def test_given_a_moment_older_than_freshness_then_it_is_stale():
    offer = campaign(freshness_minutes=10)

    assert is_stale(offer, geofence_moment(NOW - timedelta(minutes=10, milliseconds=1)), NOW)
    assert is_stale(offer, geofence_moment(NOW - timedelta(hours=1)), NOW)


# --- holdout -------------------------------------------------------------------------------------


def test_given_the_same_shopper_then_the_holdout_decision_never_changes():
    shoppers = [f"user:u{i}" for i in range(200)]

    first = [in_holdout("coffee", s, 10) for s in shoppers]

    assert all([in_holdout("coffee", s, 10) for s in shoppers] == first for _ in range(5))
    assert any(first) and not all(first)


def test_given_10_percent_holdout_then_about_10_percent_of_10000_shoppers_are_held_out():
    held = sum(in_holdout("coffee", f"user:shopper-{i}", 10) for i in range(10_000))

    assert 800 <= held <= 1200  # 10% +/- 2% (the acceptance criterion)


def test_given_a_zero_holdout_then_nobody_is_held_out():
    assert not any(in_holdout("coffee", f"user:{i}", 0) for i in range(1000))


def test_given_a_larger_holdout_then_everyone_held_out_before_still_is():
    shoppers = [f"user:{i}" for i in range(2000)]

    at_10 = {s for s in shoppers if in_holdout("coffee", s, 10)}
    at_20 = {s for s in shoppers if in_holdout("coffee", s, 20)}

    assert at_10 < at_20


def test_given_two_campaigns_then_their_control_groups_differ():
    shoppers = [f"user:{i}" for i in range(2000)]

    a = {s for s in shoppers if in_holdout("coffee", s, 10)}
    b = {s for s in shoppers if in_holdout("tea", s, 10)}

    assert a != b and len(a & b) < len(a) / 2


# --- eligibility, filter by filter ----------------------------------------------------------------


def strict_campaign():
    return campaign(
        trigger={
            "moment": "video_milestone",
            "store_ids": ["s1"],
            "product_ids": ["p1"],
            "categories": ["coffee"],
            "video_ids": ["v1"],
            "min_percent": 50,
            "min_affinity": {"category": "coffee", "score": 2},
            "local_time_windows": [{"start": "07:00", "end": "11:00"}],
            "days_of_week": ["mon"],
            "starts_at": "2026-11-01T00:00:00Z",
            "ends_at": "2026-12-01T00:00:00Z",
        }
    )


def matching_moment() -> MomentFacts:
    return MomentFacts(
        "m-1",
        "video_milestone",
        NOW,
        store_id="s1",
        product_id="p1",
        category="coffee",
        video_id="v1",
        percent=75,
    )


def coffee_lover(score: float = 3.0, at: datetime = NOW):
    return profile(categories={"coffee": {"score": score, "at": iso(at)}})


LOCAL_NOW = NOW.astimezone(NEW_YORK)  # Monday 10:04


def is_eligible(offer=None, moment=None, shopper=None, now=NOW, local_now=LOCAL_NOW) -> bool:
    return eligible(
        offer or strict_campaign(),
        moment or matching_moment(),
        shopper or coffee_lover(),
        now,
        local_now,
        HALF_LIFE,
    )


def test_given_a_moment_and_shopper_matching_every_filter_then_the_campaign_is_eligible():
    assert is_eligible()


@pytest.mark.parametrize(
    "change",
    [
        {"moment_type": "video_completed"},
        {"store_id": "s2"},
        {"store_id": None},
        {"product_id": "p2"},
        {"category": "tea"},
        {"video_id": "v2"},
        {"percent": 49.9},
        {"percent": None},
    ],
)
def test_given_a_moment_that_misses_one_filter_then_the_campaign_is_not_eligible(change):
    assert not is_eligible(moment=replace(matching_moment(), **change))


def test_given_a_weak_affinity_then_the_campaign_is_not_eligible():
    assert not is_eligible(shopper=coffee_lover(score=1.9))


def test_given_an_affinity_that_decayed_below_the_minimum_then_the_campaign_is_not_eligible():
    assert not is_eligible(shopper=coffee_lover(score=3.0, at=NOW - HALF_LIFE))  # 1.5 today


def test_given_no_affinity_for_the_category_then_the_campaign_is_not_eligible():
    assert not is_eligible(shopper=profile())


def test_given_a_local_time_outside_the_window_then_the_campaign_is_not_eligible():
    assert not is_eligible(local_now=LOCAL_NOW.replace(hour=11, minute=0))


def test_given_another_local_day_of_week_then_the_campaign_is_not_eligible():
    assert not is_eligible(local_now=LOCAL_NOW + timedelta(days=1))


def test_given_windows_and_days_then_they_are_read_on_the_local_clock_not_utc():
    # 10:04 on Monday in New York is 15:04 UTC: outside 07:00-11:00 in UTC, inside locally
    assert is_eligible(local_now=LOCAL_NOW)
    assert not is_eligible(local_now=NOW)


def test_given_a_campaign_that_has_not_started_then_it_is_not_eligible():
    assert not is_eligible(now=datetime(2026, 10, 31, 23, 59, tzinfo=UTC))


def test_given_a_campaign_that_has_ended_then_it_is_not_eligible():
    assert not is_eligible(now=datetime(2026, 12, 1, tzinfo=UTC))


def test_given_a_paused_campaign_then_it_is_not_eligible():
    assert not is_eligible(offer=replace(strict_campaign(), status="paused"))


def test_given_a_campaign_without_filters_then_any_moment_of_its_type_is_eligible():
    offer = campaign(trigger={"moment": "geofence_entered"})

    assert eligible(offer, geofence_moment(), profile(), NOW, NOW, HALF_LIFE)
    assert not eligible(
        offer, replace(geofence_moment(), moment_type="geofence_dwelled"), profile(), NOW, NOW, HALF_LIFE
    )
