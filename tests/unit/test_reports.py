"""domain/reports.py: the reports' arithmetic (filters, funnel, campaigns, engagement, peak hours
in local time, lift and its Newcombe interval, suppression), use_cases/reports.py over
in-memory counters, and HTTP Basic for admins' browsers (use_cases/authenticate.py)."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import reports
from chalicelib.domain.clock import FixedClock
from chalicelib.domain.errors import InvalidInput, Unauthorized
from chalicelib.domain.reports import Filters, OfferCount
from chalicelib.use_cases.authenticate import AdminAuthenticator
from chalicelib.use_cases.reports import Reports
from tests.unit.builders import deployed_settings, settings

TODAY = date(2026, 11, 23)


def fields_of(exc: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [e.field for e in exc.value.errors]


# --- filters ---------------------------------------------------------------------------------


def test_default_range_is_the_seven_days_up_to_today():
    filters, options = reports.parse_query({}, TODAY)

    assert filters == Filters(date(2026, 11, 17), TODAY)
    assert options == {}
    assert filters.as_dict() == {
        "from": "2026-11-17",
        "to": "2026-11-23",
        "store": None,
        "campaign": None,
        "moment": None,
    }


def test_from_defaults_to_six_days_before_to_and_empty_values_are_absent():
    filters, _ = reports.parse_query({"to": "2026-02-03", "store": "", "campaign": " "}, TODAY)

    assert (filters.start, filters.end, filters.store, filters.campaign) == (
        date(2026, 1, 28),
        date(2026, 2, 3),
        None,
        None,
    )


def test_hours_cover_every_utc_hour_of_the_inclusive_range():
    filters = Filters(date(2026, 11, 22), date(2026, 11, 23))

    hours = filters.hours()

    assert len(hours) == 48 and hours[0] == "2026112200" and hours[-1] == "2026112323"
    assert (filters.first_hour, filters.last_hour) == ("2026112200", "2026112323")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-02-30"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-W48-1"}, "from"),
        ({"to": "20261123"}, "to"),
        ({"from": "2026-11-24", "to": "2026-11-23"}, "from"),
        ({"from": "2026-08-22", "to": "2026-11-22"}, "from"),  # 93 days
        ({"store": "bad#store"}, "store"),
        ({"campaign": "Not_An_Id"}, "campaign"),
        ({"moment": "teleported"}, "moment"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(params, field):
    with pytest.raises(InvalidInput) as refused:
        reports.parse_query(params, TODAY)

    assert fields_of(refused) == [field]


def test_ninety_two_days_are_allowed_and_every_bad_field_is_named_at_once():
    filters, _ = reports.parse_query({"from": "2026-08-23", "to": "2026-11-22"}, TODAY)
    assert len(filters.days()) == 92

    with pytest.raises(InvalidInput) as refused:
        reports.parse_query(
            {"to": "x", "moment": "nope", "by": "week"},
            TODAY,
            {"by": reports.BY, "interval": reports.INTERVALS},
        )
    assert fields_of(refused) == ["to", "moment", "by"]


def test_options_default_to_their_first_value():
    _, options = reports.parse_query(
        {"interval": "hour"}, TODAY, {"by": reports.BY, "interval": reports.INTERVALS}
    )

    assert options == {"by": "campaign", "interval": "hour"}


# --- offer counters --------------------------------------------------------------------------


def test_an_offer_counter_item_becomes_one_count_per_metric_and_moment():
    counts = reports.offer_counts(
        "spring",
        "2026112314#store-1",
        {
            "PK": "x",
            "SK": "y",
            "sent|qr_scanned": 3,
            "suppressed:quiet_hours|geofence_entered": 2,
            "decided|-": 1,
        },
    )

    assert sorted(counts) == sorted(
        [
            OfferCount("spring", "2026112314", "store-1", "sent", "qr_scanned", 3),
            OfferCount("spring", "2026112314", "store-1", "suppressed:quiet_hours", "geofence_entered", 2),
            OfferCount("spring", "2026112314", "store-1", "decided", "-", 1),
        ]
    )
    assert reports.offer_counts("c", "2026112314#-", {"sent|qr_scanned": 1})[0].store_id == "-"


def test_select_keeps_the_range_store_campaign_and_moment():
    counts = [
        OfferCount("a", "2026112300", "s1", "sent", "qr_scanned", 1),
        OfferCount("a", "2026112323", "s2", "sent", "qr_scanned", 2),
        OfferCount("a", "2026112400", "s1", "sent", "qr_scanned", 4),  # after the range
        OfferCount("b", "2026112310", "-", "sent", "product_viewed", 8),
    ]
    day = Filters(TODAY, TODAY)

    assert sum(c.n for c in reports.select(counts, day)) == 11
    assert [c.n for c in reports.select(counts, Filters(TODAY, TODAY, store="s1"))] == [1]
    assert [c.n for c in reports.select(counts, Filters(TODAY, TODAY, campaign="b"))] == [8]
    assert [c.n for c in reports.select(counts, Filters(TODAY, TODAY, moment="qr_scanned"))] == [1, 2]


# --- funnel and campaigns ----------------------------------------------------------------------


def test_funnel_rates_from_the_previous_and_the_first_step():
    totals = {"decided": 50, "sent": 40, "opened": 16, "engaged": 20, "clicked": 10, "redeemed": 5}
    totals |= {"holdout": 6}
    totals |= {"suppressed:quiet_hours": 3, "suppressed:cap_day": 1}

    funnel = reports.funnel(200, totals)

    assert [(s["step"], s["count"]) for s in funnel["steps"]] == [
        ("moments", 200),
        ("eligible", 50),
        ("sent", 40),
        ("opened", 20),
        ("clicked", 10),
        ("redeemed", 5),
    ]
    assert [s["rate_from_previous"] for s in funnel["steps"]] == [None, 0.25, 0.8, 0.5, 0.5, 0.5]
    assert [s["rate_from_first"] for s in funnel["steps"]] == [1.0, 0.25, 0.2, 0.1, 0.05, 0.025]
    assert (funnel["holdout"], funnel["suppressed"]) == (6, 4)
    assert set(funnel["definitions"]) == {
        "moments",
        "eligible",
        "sent",
        "opened",
        "clicked",
        "redeemed",
        "note",
    }


def test_the_opened_step_is_opened_or_clicked_so_email_clicks_never_exceed_it():
    # e-mails report no opens: 8 clicked e-mails, 4 opened (and 2 of them clicked) pushes
    totals = {"decided": 30, "sent": 30, "opened": 4, "clicked": 10, "engaged": 12}

    steps = {s["step"]: s["count"] for s in reports.funnel(40, totals)["steps"]}

    assert (steps["opened"], steps["clicked"]) == (12, 10)


def test_funnel_rates_are_null_where_the_denominator_is_zero():
    funnel = reports.funnel(0, {"decided": 0, "sent": 0, "engaged": 0})

    assert all(s["rate_from_first"] is None for s in funnel["steps"])
    assert all(s["rate_from_previous"] is None for s in funnel["steps"])
    third = reports.funnel(3, {"decided": 3})["steps"]
    assert [s["rate_from_previous"] for s in third] == [None, 1.0, 0.0, None, None, None]


def test_rates_are_rounded_to_four_decimals():
    assert reports.rate(1, 3) == 0.3333
    assert reports.rate(2, 3) == 0.6667
    assert reports.rate(5, 0) is None


def test_campaign_row_adds_suppression_reasons_and_rates_on_sent():
    totals = {"decided": 10, "sent": 8, "engaged": 3, "converted:treatment": 2, "converted:holdout": 1}
    totals |= {"suppressed:quiet_hours": 1, "suppressed:cap_day": 1, "delivered": 7}

    row = reports.campaign_row("spring", "Spring", "active", totals)

    assert row["suppressed"] == 2 and row["delivered"] == 7
    assert (row["converted_treatment"], row["converted_holdout"]) == (2, 1)
    assert (row["engagement_rate"], row["conversion_rate"]) == (0.375, 0.25)
    assert row["lift"]["status"] == "not_enough_data"
    assert reports.campaign_row("x", "X", "paused", {})["engagement_rate"] is None


def test_campaign_rows_sort_by_sent_then_id():
    rows = [{"campaign_id": i, "sent": s} for i, s in (("b", 1), ("c", 5), ("a", 1))]

    assert [r["campaign_id"] for r in reports.sort_campaign_rows(rows)] == ["c", "a", "b"]


# --- engagement --------------------------------------------------------------------------------


def test_engagement_fills_every_day_and_sorts_series_by_sent():
    filters = Filters(date(2026, 11, 21), TODAY)
    counts = [
        OfferCount("a", "2026112110", "s1", "sent", "qr_scanned", 4),
        OfferCount("a", "2026112111", "s1", "engaged", "qr_scanned", 1),
        OfferCount("a", "2026112302", "s2", "sent", "qr_scanned", 2),
        OfferCount("a", "2026112303", "s2", "converted:treatment", "qr_scanned", 1),
        OfferCount("b", "2026112200", "-", "sent", "geofence_entered", 9),
        OfferCount("b", "2026112200", "-", "converted:holdout", "geofence_entered", 5),
    ]

    series = reports.engagement(counts, filters, "campaign", "day", {"a": "Alpha"})

    assert [(s["key"], s["label"]) for s in series] == [("b", "b"), ("a", "Alpha")]
    a = series[1]["points"]
    assert [p["t"] for p in a] == ["2026-11-21", "2026-11-22", "2026-11-23"]
    assert [(p["sent"], p["engaged"], p["converted"]) for p in a] == [(4, 1, 0), (0, 0, 0), (2, 0, 1)]
    assert [p["engagement_rate"] for p in a] == [0.25, None, 0.0]
    assert [p["conversion_rate"] for p in a] == [0.0, None, 0.5]
    assert [p["converted"] for p in series[0]["points"]] == [0, 0, 0]  # holdout is not treatment


def test_engagement_by_hour_and_by_store_and_moment():
    filters = Filters(TODAY, TODAY)
    counts = [
        OfferCount("a", "2026112305", "s1", "sent", "qr_scanned", 2),
        OfferCount("b", "2026112305", "-", "sent", "product_viewed", 1),
    ]

    by_hour = reports.engagement(counts, filters, "store", "hour")
    assert [s["key"] for s in by_hour] == ["s1", "-"]
    assert len(by_hour[0]["points"]) == 24
    assert by_hour[0]["points"][5] == {
        "t": "2026-11-23T05:00Z",
        "sent": 2,
        "engaged": 0,
        "converted": 0,
        "engagement_rate": 0.0,
        "conversion_rate": 0.0,
    }
    assert [s["key"] for s in reports.engagement(counts, filters, "moment", "day")] == [
        "qr_scanned",
        "product_viewed",
    ]


# --- peak hours in local time -----------------------------------------------------------------


def test_utc_hours_land_in_the_stores_local_day_and_hour():
    # Monday 2026-11-23 23:00 UTC is Tuesday 00:00 in Berlin (CET, UTC+1).
    matrix = reports.local_matrix({"2026112323": 5, "2026112300": 2}, ZoneInfo("Europe/Berlin"))

    assert matrix[1][0] == 5 and matrix[0][1] == 2
    assert sum(map(sum, matrix)) == 7
    assert len(matrix) == 7 and all(len(row) == 24 for row in matrix)


def test_in_zones_offset_by_part_of_an_hour_a_utc_hour_goes_where_its_midpoint_is():
    # 10:00-11:00 UTC is 15:30-16:30 in Kolkata (+05:30): its midpoint 16:00 is in hour 16;
    # in Kathmandu (+05:45) it is 15:45-16:45, mostly hour 16; in St John's (-03:30) 06:30-07:30
    hours = {"2026112310": 3}
    assert reports.local_matrix(hours, ZoneInfo("Asia/Kolkata"))[0][16] == 3
    assert reports.local_matrix(hours, ZoneInfo("Asia/Kathmandu"))[0][16] == 3
    assert reports.local_matrix(hours, ZoneInfo("America/St_Johns"))[0][7] == 3
    assert reports.local_matrix(hours, ZoneInfo("Asia/Tokyo"))[0][19] == 3  # whole hours: exact
    week = Filters(date(2026, 11, 17), TODAY)
    assert not reports.hour_aligned(ZoneInfo("Asia/Kolkata"), week)
    assert reports.hour_aligned(ZoneInfo("Europe/Berlin"), week)
    assert reports.hour_aligned(ZoneInfo("America/New_York"), Filters(date(2026, 3, 1), date(2026, 3, 31)))


def test_dst_spring_forward_skips_a_local_hour_and_fall_back_doubles_one():
    zone = ZoneInfo("America/New_York")
    # 2026-03-08 (Sunday): 06:00 UTC is 01:00 EST, 07:00 UTC is 03:00 EDT (02:00 never happens).
    spring = reports.local_matrix({"2026030806": 1, "2026030807": 10}, zone)
    assert spring[6][1] == 1 and spring[6][2] == 0 and spring[6][3] == 10
    # 2026-11-01 (Sunday): 05:00 UTC is 01:00 EDT and 06:00 UTC is 01:00 EST: one local hour.
    autumn = reports.local_matrix({"2026110105": 3, "2026110106": 4, "2026110107": 1}, zone)
    assert autumn[6][1] == 7 and autumn[6][2] == 1
    # The same UTC hour a week later (EST) is an hour earlier locally than in EDT.
    assert reports.local_matrix({"2026102512": 1}, zone)[6][8] == 1
    assert reports.local_matrix({"2026110812": 1}, zone)[6][7] == 1


def test_peak_is_the_busiest_cell_and_the_earliest_on_a_tie():
    matrix = [[0] * 24 for _ in range(7)]
    assert reports.peak(matrix) is None
    matrix[4][18] = 9
    matrix[2][9] = 9
    matrix[0][3] = 1

    assert reports.peak(matrix) == {"day": "Wed", "hour": 9, "count": 9}
    row = reports.peak_store("s1", "Shop", "UTC", matrix)
    assert row["total"] == 19 and row["days"][0] == "Mon" and row["peak"]["day"] == "Wed"


# --- lift --------------------------------------------------------------------------------------


def test_lift_needs_thirty_shoppers_per_group_and_five_converters():
    assert reports.lift(29, 10, 100, 10)["status"] == "not_enough_data"
    assert reports.lift(100, 10, 29, 10)["status"] == "not_enough_data"
    thin = reports.lift(30, 2, 30, 2)
    assert thin["status"] == "not_enough_data" and thin["ci95"] is None
    assert thin["difference"] == 0.0 and thin["relative_lift"] == 0.0  # still shown
    ok = reports.lift(30, 3, 30, 2)
    assert ok["status"] == "ok" and ok["ci95"] is not None
    assert ok["method"] == "newcombe_hybrid_score"
    assert ok["minimum"] == {"users_per_group": 30, "converters": 5}


def test_lift_difference_relative_lift_and_rates():
    result = reports.lift(200, 30, 100, 10)

    assert result["treatment"] == {"users": 200, "converters": 30, "rate": 0.15}
    assert result["holdout"] == {"users": 100, "converters": 10, "rate": 0.1}
    assert result["difference"] == 0.05 and result["relative_lift"] == 0.5
    low, high = result["ci95"]
    assert low < 0.05 < high


def test_lift_without_holdout_conversions_or_users():
    assert reports.lift(100, 10, 100, 0)["relative_lift"] is None
    empty = reports.lift(0, 0, 0, 0)
    assert empty["treatment"]["rate"] is None and empty["difference"] is None
    assert empty["status"] == "not_enough_data"


def test_more_converters_than_users_is_inconsistent_not_clamped():
    # cohort counters cannot do this; counters from before cohorts (converters in the hour of
    # the conversion) can, and then no interval is computed on made-up proportions
    result = reports.lift(40, 50, 40, 0)

    assert result["status"] == "inconsistent" and result["ci95"] is None
    assert result["treatment"] == {"users": 40, "converters": 50, "rate": 1.25}
    assert result["difference"] is None and result["relative_lift"] is None


GRID = [
    (0, 30, 0, 30),
    (0, 40, 5, 40),
    (30, 30, 0, 30),
    (30, 30, 30, 30),
    (50, 50, 12, 47),
    (1, 1000, 0, 900),
    (7, 31, 3, 33),
    (120, 1000, 95, 1000),
    (5, 34, 17, 250),
    (999, 1000, 998, 1000),
    (3, 3, 1, 4),
    (0, 5, 5, 5),
]


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), GRID)
def test_the_interval_is_statsmodels_newcombe(x1, n1, x2, n2):
    from statsmodels.stats.proportion import confint_proportions_2indep

    expected = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")

    low, high = reports.newcombe_hybrid(x1, n1, x2, n2)

    assert low == pytest.approx(float(expected[0]), abs=5e-4)
    assert high == pytest.approx(float(expected[1]), abs=5e-4)
    assert round(low, 3) == pytest.approx(round(float(expected[0]), 3), abs=1e-3)
    assert -1 <= low <= x1 / n1 - x2 / n2 <= high <= 1
    if n1 >= 30 and n2 >= 30 and x1 + x2 >= 5:
        ci95 = reports.lift(n1, x1, n2, x2)["ci95"]
        assert ci95 == pytest.approx([float(expected[0]), float(expected[1])], abs=1e-3)


def test_wilson_matches_statsmodels_at_the_edges():
    from statsmodels.stats.proportion import proportion_confint

    for x, n in ((0, 10), (10, 10), (3, 7), (1, 1)):
        expected = proportion_confint(x, n, method="wilson")
        assert reports.wilson(x, n) == pytest.approx(tuple(map(float, expected)), abs=1e-9)


# --- suppression -------------------------------------------------------------------------------


def test_suppression_reasons_with_shares_and_per_campaign():
    overall = {"decided": 20, "suppressed:quiet_hours": 6, "suppressed:cap_day": 2, "suppressed:consent": 2}
    campaigns = [
        ("a", "A", {"decided": 5, "suppressed:cap_day": 2}),
        ("b", "B", {"decided": 15, "suppressed:quiet_hours": 6, "suppressed:consent": 2}),
        ("c", "C", {}),
    ]

    result = reports.suppression(overall, campaigns)

    assert (result["decided"], result["suppressed"]) == (20, 10)
    assert result["reasons"] == [
        {"reason": "quiet_hours", "count": 6, "share": 0.6},
        {"reason": "cap_day", "count": 2, "share": 0.2},
        {"reason": "consent", "count": 2, "share": 0.2},
    ]
    assert [r["campaign_id"] for r in result["by_campaign"]] == ["b", "a", "c"]
    assert result["by_campaign"][0] == {
        "campaign_id": "b",
        "name": "B",
        "decided": 15,
        "suppressed": 8,
        "reasons": {"quiet_hours": 6, "consent": 2},
    }
    assert reports.suppression({}, [])["reasons"] == []


# --- the use case over in-memory counters ------------------------------------------------------


class FakeCounters:
    def __init__(self) -> None:
        self.moment_items: dict[str, dict[str, dict[str, int]]] = {}
        self.offer_items: dict[str, list[tuple[str, dict[str, int]]]] = {}
        self.offer_reads = 0
        self.hourly_reads = 0

    def hourly(self, scopes, hours):
        self.hourly_reads += 1
        return {s: {h: c for h, c in self.moment_items.get(s, {}).items() if h in set(hours)} for s in scopes}

    def offers(self, campaign_ids, first_hour, last_hour):
        self.offer_reads += 1
        return {c: self.offer_items.get(c, []) for c in campaign_ids}


class Listing:
    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def list(self) -> list[Any]:
        return list(self.items)


def campaign(
    campaign_id: str,
    moment: str,
    status: str = "active",
    stores: tuple[str, ...] = (),
    created: str = "2026-11-01T00:00:00.000+00:00",
    updated: str | None = None,
    trigger: dict[str, Any] | None = None,
) -> Any:
    from dataclasses import replace

    from chalicelib.domain.campaigns import parse_campaign

    body = {
        "id": campaign_id,
        "name": campaign_id.title(),
        "status": status,
        "trigger": {"moment": moment, **({"store_ids": list(stores)} if stores else {}), **(trigger or {})},
        "offer": {"title": "t", "body": "b"},
    }
    made = parse_campaign(body, created)
    return replace(made, updated_at=updated) if updated else made


@pytest.fixture
def use_case():
    counters = FakeCounters()
    counters.moment_items = {
        "all#s0": {
            "2026112310": {"moment:qr_scanned": 7, "moment:product_viewed": 2, "moment:order_completed": 9}
        },
        "all#s1": {"2026112310": {"moment:qr_scanned": 3, "moment:video_playing": 4, "events": 20}},
        "store#s1": {"2026112310": {"moment:qr_scanned": 4, "moment:geofence_exited": 1}},
        "store#s2": {"2026112310": {"moment:qr_scanned": 2}},
        "store#s3": {"2026112310": {"moment:qr_scanned": 1}},
    }
    counters.offer_items = {
        "scan": [("2026112310#s1", {"decided|qr_scanned": 6, "sent|qr_scanned": 5})],
        "old": [],
        "local": [],
    }
    campaigns = Listing(
        [
            campaign("scan", "qr_scanned"),
            campaign("old", "qr_scanned", "archived"),
            campaign("local", "qr_scanned", stores=("s1", "s2")),
        ]
    )
    stores = Listing([{"store_id": "s1", "name": "One", "timezone": "Europe/Berlin"}])
    clock = FixedClock(datetime(2026, 11, 23, 12, tzinfo=UTC))
    return Reports(campaigns, stores, counters, settings(MM_STAT_SHARDS="2"), clock), counters


def test_funnel_moments_follow_the_campaigns_trigger_and_the_store(use_case):
    reports_, _ = use_case

    def moments(**params: str) -> int:
        return reports_.funnel(params)["steps"][0]["count"]

    # moments that could trigger an offer: not orders, exits or video heartbeats
    assert moments() == 12
    assert moments(moment="order_completed") == 9  # unless asked for
    assert moments(campaign="scan") == 10
    assert moments(campaign="scan", moment="product_viewed") == 0
    assert moments(store="s1") == 4
    # a campaign naming stores could only see moments there
    assert moments(campaign="local") == 4 + 2
    assert moments(campaign="local", store="s2") == 2
    assert moments(campaign="local", store="s3") == 0


def test_archived_campaigns_without_counts_are_left_out_and_unknown_ones_refused(use_case):
    reports_, _ = use_case

    assert [c["campaign_id"] for c in reports_.campaigns({})["campaigns"]] == ["scan", "local"]
    with pytest.raises(InvalidInput) as refused:
        reports_.lift({"campaign": "nope"})
    assert fields_of(refused) == ["campaign"]


def test_the_dashboard_reads_the_offer_counters_once(use_case):
    reports_, counters = use_case

    data = reports_.dashboard({"from": "2026-11-23"})

    assert counters.offer_reads == 1
    assert set(data) == {
        "filters",
        "funnel",
        "campaigns",
        "peak_hours",
        "suppression",
        "engagement",
        "options",
        "generated_at",
    }
    assert data["peak_hours"]["stores"][0]["matrix"][0][11] == 5  # 10:00 UTC is 11:00 in Berlin
    assert data["options"]["campaigns"] == [
        {"campaign_id": "local", "name": "Local"},
        {"campaign_id": "old", "name": "Old"},
        {"campaign_id": "scan", "name": "Scan"},
    ]
    assert data["options"]["stores"] == [{"store_id": "s1", "name": "One"}]
    assert "qr_scanned" in data["options"]["moments"]
    assert data["generated_at"].startswith("2026-11-23T12:00:00")


def test_the_dashboards_heatmaps_count_the_metric_asked_for(use_case):
    reports_, _ = use_case

    default = reports_.dashboard({"from": "2026-11-23"})
    sent = reports_.dashboard({"from": "2026-11-23", "metric": "sent"})

    assert default["peak_hours"]["metric"] == default["filters"]["metric"] == "moments"
    assert sent["peak_hours"]["metric"] == sent["filters"]["metric"] == "sent"
    assert sent["peak_hours"]["stores"][0]["matrix"][0][11] == 5  # 5 sent at 10:00 UTC, Berlin 11:00
    assert sent["options"]["metrics"] == ["moments", "sent", "engaged", "redeemed"]
    with pytest.raises(InvalidInput) as refused:
        reports_.dashboard({"metric": "clicks"})
    assert fields_of(refused) == ["metric"]


# --- admin auth for browsers -----------------------------------------------------------------


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_basic_auth_with_the_token_as_password_is_an_admin_in_the_local_stage():
    auth = AdminAuthenticator(settings())

    assert auth.check(basic("anyone", "tok"), {}) == "admin"
    assert auth.check(basic("", "tok"), {}) == "admin"
    assert auth.check({"Authorization": "Bearer tok"}, {}) == "admin"


@pytest.mark.parametrize(
    "headers",
    [
        basic("tok", ""),
        basic("admin", "wrong"),
        basic("admin", " tok"),
        {"Authorization": "Basic " + base64.b64encode(b"tok").decode()},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic"},
    ],
)
def test_basic_auth_without_the_token_as_password_is_unauthorized(headers):
    with pytest.raises(Unauthorized):
        AdminAuthenticator(settings()).check(headers, {})


def test_basic_auth_is_not_accepted_in_a_deployed_stage():
    with pytest.raises(Unauthorized, match="IAM"):
        AdminAuthenticator(deployed_settings()).check(basic("admin", "tok"), {})


# --- the counter reader (adapters/dynamodb_stats.py) over a scripted client --------------------


class ScriptedDynamo:
    """batch_get_item answers from ``items``, leaving the first ``hold_back`` keys of each of
    the first ``stingy_calls`` calls unprocessed; query pages through ``pages``."""

    def __init__(self, items: dict[str, dict[str, int]], stingy_calls: int = 0, hold_back: int = 3) -> None:
        self.items = items
        self.stingy_calls = stingy_calls
        self.hold_back = hold_back
        self.batch_calls: list[int] = []
        self.queries: list[dict[str, Any]] = []
        self.pages: dict[str, list[dict[str, Any]]] = {}  # partition key -> its pages, in order

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        self.batch_calls.append(len(keys))
        assert len(keys) <= 100
        held, asked = ([], keys)
        if len(self.batch_calls) <= self.stingy_calls:
            held, asked = keys[: self.hold_back], keys[self.hold_back :]
        found = []
        for k in asked:
            counts = self.items.get(k["PK"]["S"])
            if counts is not None:
                item = {"PK": k["PK"], "SK": k["SK"], **{n: {"N": str(v)} for n, v in counts.items()}}
                found.append(item)
        unprocessed = {table: {"Keys": held}} if held else {}
        return {"Responses": {table: found}, "UnprocessedKeys": unprocessed}

    def query(self, **request: Any) -> dict[str, Any]:
        pk = request["ExpressionAttributeValues"][":pk"]["S"]
        asked_before = sum(1 for q in self.queries if q["ExpressionAttributeValues"][":pk"]["S"] == pk)
        self.queries.append(request)
        pages = self.pages.get(pk, [{"Items": []}])
        return pages[asked_before]


def test_hourly_counters_are_batched_by_100_and_unprocessed_keys_retried():
    from chalicelib.adapters.dynamodb_stats import DynamoDBStats

    hours = Filters(date(2026, 11, 20), TODAY).hours()  # 96 hours x 2 scopes = 192 keys
    items = {f"STAT#all#s0#{h}": {"moment:qr_scanned": i + 1} for i, h in enumerate(hours)}
    items["STAT#store#s-1#2026112310"] = {"moment:qr_scanned": 7}
    client = ScriptedDynamo(items, stingy_calls=2)
    sleeps: list[float] = []

    got = DynamoDBStats(client, "t", max_workers=1, sleep=sleeps.append).hourly(
        ["all#s0", "store#s-1"], hours
    )

    # 192 keys: 100 (3 held back), the 3 again (held back again), the 3 once more, then 92
    assert client.batch_calls == [100, 3, 3, 92]
    assert len(got["all#s0"]) == 96 and got["all#s0"][hours[-1]] == {"moment:qr_scanned": 96}
    assert got["store#s-1"] == {"2026112310": {"moment:qr_scanned": 7}}
    assert sleeps  # backed off before retrying


def test_keys_still_unprocessed_after_the_retries_are_retryable():
    from chalicelib.adapters.dynamodb_stats import DynamoDBStats
    from chalicelib.domain.errors import RetryableError

    client = ScriptedDynamo({}, stingy_calls=100)

    with pytest.raises(RetryableError, match="unprocessed"):
        DynamoDBStats(client, "t", max_retries=2, sleep=lambda s: None).hourly(["all#s0"], ["2026112300"])
    assert len(client.batch_calls) == 3


def test_offer_counters_are_one_paged_range_query_per_campaign_shard():
    from chalicelib.adapters.dynamodb_stats import DynamoDBStats
    from chalicelib.domain.offer_stats import OFFER_STAT_SHARDS, stat_pk, stat_shard

    client = ScriptedDynamo({})
    s1, none = stat_pk("c1", stat_shard("s1")), stat_pk("c1", stat_shard(None))
    item = {"PK": {"S": s1}, "SK": {"S": "2026112310#s1"}, "sent|qr_scanned": {"N": "4"}}
    later = {"PK": {"S": s1}, "SK": {"S": "2026112311#s1"}, "sent|qr_scanned": {"N": "2"}}
    last = {"PK": {"S": none}, "SK": {"S": "2026112323#-"}, "sent|qr_scanned": {"N": "1"}}
    # store-less offers spread over the shards: the same hour's item in another shard
    other = stat_pk("c1", next(n for n in range(OFFER_STAT_SHARDS) if stat_pk("c1", n) not in (s1, none)))
    spread = {"PK": {"S": other}, "SK": {"S": "2026112323#-"}, "sent|qr_scanned": {"N": "2"}}
    client.pages = {
        s1: [{"Items": [item], "LastEvaluatedKey": {"PK": item["PK"], "SK": item["SK"]}}, {"Items": [later]}],
        none: [{"Items": [last]}],
        other: [{"Items": [spread]}],
    }

    got = DynamoDBStats(client, "t").offers(["c1"], "2026112300", "2026112323")

    assert got == {
        "c1": [
            ("2026112310#s1", {"sent|qr_scanned": 4}),
            ("2026112311#s1", {"sent|qr_scanned": 2}),
            ("2026112323#-", {"sent|qr_scanned": 3}),
        ]
    }
    pks = [q["ExpressionAttributeValues"][":pk"]["S"] for q in client.queries]
    assert sorted(set(pks)) == sorted(f"STAT#offers#c1#s{n}" for n in range(OFFER_STAT_SHARDS))
    assert len(pks) == OFFER_STAT_SHARDS + 1  # one shard had a second page
    first = next(q for q in client.queries if q["ExpressionAttributeValues"][":pk"]["S"] == s1)
    assert first["KeyConditionExpression"] == "PK = :pk AND SK BETWEEN :low AND :high"
    assert first["ExpressionAttributeValues"] == {
        ":pk": {"S": s1},
        ":low": {"S": "2026112300"},
        ":high": {"S": "2026112323~"},
    }
    second = [q for q in client.queries if q.get("ExclusiveStartKey")]
    assert [q["ExclusiveStartKey"] for q in second] == [{"PK": item["PK"], "SK": item["SK"]}]
    assert first["ExpressionAttributeValues"][":high"]["S"] > "2026112323#any.store-id_9"


# --- which campaigns a range reads -------------------------------------------------------------


@pytest.mark.parametrize(
    ("made", "expected"),
    [
        ({}, True),  # active since 2026-11-01
        ({"created": "2026-11-24T00:00:00Z"}, False),  # made after the range
        # a schedule edited after the campaign ran does not hide what it counted then
        ({"trigger": {"starts_at": "2027-04-01T00:00:00Z"}, "updated": "2026-12-15T00:00:00Z"}, True),
        ({"trigger": {"ends_at": "2026-10-01T00:00:00Z"}, "updated": "2026-11-18T00:00:00Z"}, True),
        ({"status": "paused", "updated": "2026-01-01T00:00:00Z"}, True),  # paused may resume
        ({"status": "archived", "updated": "2026-11-20T00:00:00Z"}, True),
        ({"status": "archived", "updated": "2026-10-13T00:00:00Z"}, True),  # opens for 35 days
        ({"status": "archived", "updated": "2026-10-11T23:00:00Z"}, False),
        ({"trigger": {"ends_at": "2026-10-11T23:00:00Z"}, "created": "2026-09-01T00:00:00Z"}, False),
    ],
)
def test_a_campaign_is_read_if_it_can_have_counters_in_the_range(made, expected):
    status = made.pop("status", "active")
    filters = Filters(date(2026, 11, 16), date(2026, 11, 23))

    assert reports.may_have_counts(campaign("c", "qr_scanned", status, **made), filters) is expected


def test_counters_are_looked_for_as_long_as_the_ledger_keeps_offers():
    from chalicelib.use_cases.offers import LEDGER_TTL

    assert reports.COUNTED_AFTER_END >= LEDGER_TTL
