"""/admin/reports/... and /admin/dashboard on moto through chalice's test client: counter items
with known numbers written straight into the table (moment counters across shards and stores,
offer counters across campaigns, stores, moment types and hours, some outside the range), then
each report checked exactly, with its filters, refusals and credentials."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.offer_stats import stat_pk, stat_shard
from tests.integration.conftest import ADMIN_TOKEN
from tests.unit.builders import COFFEE_STORE, campaign_body

RANGE = "from=2026-11-10&to=2026-11-15"  # Tuesday 10th .. Sunday 15th (UTC days)
BERLIN = {**COFFEE_STORE, "store_id": "store-002", "name": "Kaffee Eck", "lat": 52.52, "lon": 13.405}
BERLIN["timezone"] = "Europe/Berlin"

MOMENTS = {  # PK -> counters (SK "COUNTS"); never fewer moments than offer decisions, as for real
    "STAT#all#s0#2026111018": {"moment:qr_scanned": 8, "moment:geofence_entered": 1, "events": 9},
    "STAT#all#s3#2026111018": {"moment:qr_scanned": 4, "intent:know": 4},
    "STAT#all#s0#2026111010": {"moment:qr_scanned": 2},
    "STAT#all#s1#2026111210": {"moment:qr_scanned": 5},
    "STAT#all#s2#2026111112": {"moment:order_completed": 3},  # no offer decides on an order
    "STAT#all#s1#2026111415": {"moment:geofence_entered": 8},
    "STAT#all#s2#2026111523": {"moment:geofence_entered": 1},  # no store
    "STAT#all#s0#2026111600": {"moment:qr_scanned": 100},  # the day after the range
    "STAT#all#s2#2026110923": {"moment:qr_scanned": 100},  # the hour before it
    "STAT#store#store-001#2026111018": {"moment:qr_scanned": 12, "moment:geofence_entered": 1},
    "STAT#store#store-002#2026111010": {"moment:qr_scanned": 2},
    "STAT#store#store-002#2026111112": {"moment:order_completed": 3},
    "STAT#store#store-002#2026111210": {"moment:qr_scanned": 5},
    "STAT#store#store-002#2026111415": {"moment:geofence_entered": 8},
}
SCAN_1 = {  # scan-deal at store-001, 2026-11-10 18:00 UTC (Tuesday 10:00 in Los Angeles)
    "decided": 10,
    "holdout": 2,
    "suppressed:quiet_hours": 1,
    "sent": 7,
    "delivered": 3,
    "opened": 4,
    "clicked": 2,
    "engaged": 5,
    "redeemed": 1,
    "converted:treatment": 2,
    "converted:holdout": 1,
    "users:treatment": 40,
    "users:holdout": 35,
    "converters:treatment": 6,
    "converters:holdout": 2,
}
OFFERS = {  # (campaign, SK) -> {metric: n} ; moment type per campaign below
    ("scan-deal", "2026111018#store-001"): SCAN_1,
    ("scan-deal", "2026111210#store-002"): {
        "decided": 4,
        "sent": 3,
        "opened": 1,
        "engaged": 1,
        "suppressed:cap_day": 1,
    },
    ("scan-deal", "2026110923#store-001"): {"decided": 20, "sent": 20},  # before the range
    ("scan-deal", "2026111600#store-001"): {"decided": 50, "sent": 50},  # after it
    ("walk-in", "2026111415#store-002"): {
        "decided": 6,
        "suppressed:quiet_hours": 2,
        "suppressed:consent": 1,
        "sent": 3,
        "users:treatment": 5,
    },
    ("walk-in", "2026111523#-"): {"decided": 1, "sent": 1},  # the last hour, no store
}
TRIGGER = {"scan-deal": "qr_scanned", "walk-in": "geofence_entered"}


def put(h: Any, pk: str, sk: str, counts: dict[str, int]) -> None:
    from chalicelib.adapters.dynamodb_table import serialize

    h.dynamodb.put_item(TableName=h.outputs["TableName"], Item=serialize({"PK": pk, "SK": sk, **counts}))


@pytest.fixture
def seeded(harness):
    from chalicelib import wiring
    from chalicelib.domain.clock import FixedClock

    # made before the range (a report reads only campaigns that can have counters in it), then
    # the clock runs on to now
    clock = FixedClock(datetime(2026, 11, 1, 9, tzinfo=UTC))
    wiring.container().clock = clock  # type: ignore[misc]
    for store in (COFFEE_STORE, BERLIN):
        assert harness.admin("POST", "/admin/stores", store).status_code == 201
    for campaign_id, name, status in (
        ("scan-deal", "Scan deal", "active"),
        ("walk-in", "Walk in", "active"),
        ("old", "Old news", "archived"),
    ):
        body = campaign_body(
            id=campaign_id, name=name, trigger={"moment": TRIGGER.get(campaign_id, "qr_scanned")}
        )
        assert harness.admin("POST", "/admin/campaigns", {**body, "status": status}).status_code == 201
    for pk, counts in MOMENTS.items():
        put(harness, pk, "COUNTS", counts)
    for (campaign_id, sk), metrics in OFFERS.items():
        moment = TRIGGER[campaign_id]
        store = sk.split("#", 1)[1]
        pk = stat_pk(campaign_id, stat_shard(None if store == "-" else store))
        put(harness, pk, sk, {f"{m}|{moment}": n for m, n in metrics.items()})
    clock.at = datetime.now(UTC)
    return harness


def get(h: Any, path: str) -> Any:
    response = h.admin("GET", path)
    assert response.status_code == 200, response.body
    return response.json_body


def r(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def total(
    metric: str, campaign: str | None = None, store: str | None = None, moment: str | None = None
) -> int:
    """The expected sum over the range, from the seed itself."""
    return sum(
        counts.get(metric, 0)
        for (c, sk), counts in OFFERS.items()
        if "2026111000" <= sk[:10] <= "2026111523"
        and campaign in (None, c)
        and store in (None, sk.partition("#")[2])
        and moment in (None, TRIGGER[c])
    )


def reasons_of(
    campaign: str | None = None, store: str | None = None, moment: str | None = None
) -> dict[str, int]:
    found: dict[str, int] = {}
    for metric in {m for counts in OFFERS.values() for m in counts if m.startswith("suppressed:")}:
        n = total(metric, campaign, store, moment)
        if n:
            found[metric.partition(":")[2]] = n
    return found


# --- funnel ------------------------------------------------------------------------------------


def test_funnel_over_everything(seeded):
    body = get(seeded, f"/admin/reports/funnel?{RANGE}")

    assert body["filters"] == {
        "from": "2026-11-10",
        "to": "2026-11-15",
        "store": None,
        "campaign": None,
        "moment": None,
    }
    # moments that could trigger an offer: 8+4+2+5 scans and 1+8+1 entries (not the 3 orders)
    counts = [29, 21, 14, 6, 2, 1]  # decided 10+4+6+1; sent 7+3+3+1; opened or clicked 5+1; ...
    assert counts[1:] == [total(m) for m in ("decided", "sent", "engaged", "clicked", "redeemed")]
    assert body["steps"] == [
        {
            "step": step,
            "count": n,
            "rate_from_previous": r(n, counts[i - 1]) if i else None,
            "rate_from_first": r(n, counts[0]),
        }
        for i, (step, n) in enumerate(
            zip(("moments", "eligible", "sent", "opened", "clicked", "redeemed"), counts, strict=True)
        )
    ]
    # monotone: a moment gets one decision at most, "opened" is opened or clicked
    assert all(b["count"] <= a["count"] for a, b in zip(body["steps"], body["steps"][1:5], strict=False))
    assert body["holdout"] == 2 and body["suppressed"] == 5
    assert set(body["definitions"]) >= {"moments", "eligible", "opened", "redeemed"}


@pytest.mark.parametrize(
    ("query", "moments", "eligible", "sent"),
    [
        ("campaign=scan-deal", 19, 14, 10),  # moments: the campaign's trigger (qr_scanned) only
        ("store=store-002", 15, 10, 6),  # the store's own moment counters (not its orders)
        ("moment=geofence_entered", 10, 7, 4),
        ("moment=order_completed", 3, 0, 0),
        ("store=store-001&moment=geofence_entered", 1, 0, 0),
        ("campaign=walk-in&moment=qr_scanned", 0, 0, 0),
    ],
)
def test_funnel_filters(seeded, query, moments, eligible, sent):
    body = get(seeded, f"/admin/reports/funnel?{RANGE}&{query}")

    assert [s["count"] for s in body["steps"][:3]] == [moments, eligible, sent]
    for name, value in (p.split("=") for p in query.split("&")):
        assert body["filters"][name] == value


def test_default_range_is_the_last_seven_utc_days(seeded):
    body = get(seeded, "/admin/reports/funnel")

    today = datetime.now(UTC).date()
    assert body["filters"]["to"] == today.isoformat()
    assert body["filters"]["from"] == (today - timedelta(days=6)).isoformat()


# --- campaigns and lift -----------------------------------------------------------------------


def test_campaigns_with_their_counts_rates_and_lift(seeded):
    from statsmodels.stats.proportion import confint_proportions_2indep

    body = get(seeded, f"/admin/reports/campaigns?{RANGE}")

    rows = body["campaigns"]
    assert [c["campaign_id"] for c in rows] == ["scan-deal", "walk-in"]  # old: archived, no counts
    scan = rows[0]
    assert {k: scan[k] for k in ("name", "status", "decided", "holdout", "suppressed", "sent")} == {
        "name": "Scan deal",
        "status": "active",
        "decided": total("decided", "scan-deal"),
        "holdout": 2,
        "suppressed": 2,
        "sent": 10,
    }
    assert (scan["delivered"], scan["opened"], scan["clicked"], scan["engaged"], scan["redeemed"]) == (
        3,
        5,
        2,
        6,
        1,
    )
    assert (scan["converted_treatment"], scan["converted_holdout"]) == (2, 1)
    assert scan["engagement_rate"] == r(6, 10) and scan["conversion_rate"] == r(2, 10)
    lift = scan["lift"]
    assert lift["status"] == "ok"
    assert lift["treatment"] == {"users": 40, "converters": 6, "rate": r(6, 40)}
    assert lift["holdout"] == {"users": 35, "converters": 2, "rate": r(2, 35)}
    assert lift["difference"] == round(6 / 40 - 2 / 35, 4)
    assert lift["relative_lift"] == round((6 / 40 - 2 / 35) / (2 / 35), 4)
    expected = confint_proportions_2indep(6, 40, 2, 35, method="newcomb", compare="diff")
    assert lift["ci95"] == pytest.approx([float(expected[0]), float(expected[1])], abs=1e-3)
    walk = rows[1]
    assert (walk["sent"], walk["suppressed"], walk["engagement_rate"]) == (4, 3, 0.0)
    assert walk["lift"]["status"] == "not_enough_data" and walk["lift"]["ci95"] is None
    assert walk["lift"]["holdout"]["rate"] is None


def test_only_campaigns_that_can_have_counters_in_the_range_are_read_and_listed(seeded):
    body = campaign_body(id="later", name="Later", trigger={"moment": "qr_scanned"})
    assert seeded.admin("POST", "/admin/campaigns", body).status_code == 201  # made today

    november = get(seeded, f"/admin/reports/campaigns?{RANGE}")
    assert [c["campaign_id"] for c in november["campaigns"]] == ["scan-deal", "walk-in"]
    assert november["page"] == {"offset": 0, "limit": 1000, "total": 2, "next_offset": None}
    this_week = get(seeded, "/admin/reports/lift")["campaigns"]
    assert [c["campaign_id"] for c in this_week] == ["later", "scan-deal", "walk-in"]  # "old" ended
    one = get(seeded, f"/admin/reports/campaigns?{RANGE}&limit=1&offset=1")
    assert [c["campaign_id"] for c in one["campaigns"]] == ["walk-in"] and one["page"]["total"] == 2


def test_lift_report_and_campaign_filter(seeded):
    body = get(seeded, f"/admin/reports/lift?{RANGE}&campaign=scan-deal")

    assert [c["campaign_id"] for c in body["campaigns"]] == ["scan-deal"]
    row = body["campaigns"][0]
    assert row["name"] == "Scan deal" and row["status"] == "ok"
    assert row["method"] == "newcombe_hybrid_score"
    assert row["minimum"] == {"users_per_group": 30, "converters": 5}
    narrow = get(seeded, f"/admin/reports/lift?{RANGE}&campaign=scan-deal&store=store-002")
    assert narrow["campaigns"][0]["status"] == "not_enough_data"
    assert narrow["campaigns"][0]["treatment"]["users"] == 0


# --- engagement --------------------------------------------------------------------------------


def test_engagement_by_campaign_per_day(seeded):
    body = get(seeded, f"/admin/reports/engagement?{RANGE}")

    assert (body["by"], body["interval"]) == ("campaign", "day")
    assert [s["key"] for s in body["series"]] == ["scan-deal", "walk-in"]
    scan = body["series"][0]
    assert scan["label"] == "Scan deal"
    assert [p["t"] for p in scan["points"]] == [f"2026-11-{d}" for d in range(10, 16)]
    assert [(p["sent"], p["engaged"], p["converted"]) for p in scan["points"]] == [
        (7, 5, 2),
        (0, 0, 0),
        (3, 1, 0),
        (0, 0, 0),
        (0, 0, 0),
        (0, 0, 0),
    ]
    assert scan["points"][0]["engagement_rate"] == r(5, 7)
    assert scan["points"][0]["conversion_rate"] == r(2, 7)
    assert scan["points"][1]["engagement_rate"] is None


def test_engagement_by_store_per_hour(seeded):
    body = get(seeded, f"/admin/reports/engagement?{RANGE}&by=store&interval=hour")

    keys = {s["key"]: s for s in body["series"]}
    assert set(keys) == {"store-001", "store-002", "-"}
    assert keys["-"]["label"] == "(no store)" and keys["store-002"]["label"] == "Kaffee Eck"
    points = keys["store-002"]["points"]
    assert len(points) == 6 * 24 and points[0]["t"] == "2026-11-10T00:00Z"
    sent = {p["t"]: p["sent"] for p in points if p["sent"]}
    assert sent == {"2026-11-12T10:00Z": 3, "2026-11-14T15:00Z": 3}
    assert [s["key"] for s in body["series"]][0] == "store-001"  # most sent first


def test_engagement_by_moment(seeded):
    body = get(seeded, f"/admin/reports/engagement?{RANGE}&by=moment")

    totals = {s["key"]: sum(p["sent"] for p in s["points"]) for s in body["series"]}
    assert totals == {"qr_scanned": 10, "geofence_entered": 4}


# --- peak hours --------------------------------------------------------------------------------


def cells(store: dict[str, Any]) -> dict[tuple[str, int], int]:
    return {(store["days"][d], h): n for d, row in enumerate(store["matrix"]) for h, n in enumerate(row) if n}


def test_peak_hours_of_moments_in_each_stores_local_time(seeded):
    body = get(seeded, f"/admin/reports/peak-hours?{RANGE}")

    assert body["metric"] == "moments"
    stores = {s["store_id"]: s for s in body["stores"]}
    assert list(stores) == ["store-001", "store-002"]
    la, berlin = stores["store-001"], stores["store-002"]
    assert (la["name"], la["timezone"]) == ("Bean There", "America/Los_Angeles")
    assert la["days"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert len(la["matrix"]) == 7 and all(len(row) == 24 for row in la["matrix"])
    assert cells(la) == {("Tue", 10): 13}  # 18:00 UTC is 10:00 PST
    assert la["total"] == 13 and la["peak"] == {"day": "Tue", "hour": 10, "count": 13}
    # CET = UTC+1; every moment type counts here, orders included
    assert cells(berlin) == {("Tue", 11): 2, ("Wed", 13): 3, ("Thu", 11): 5, ("Sat", 16): 8}
    assert berlin["peak"] == {"day": "Sat", "hour": 16, "count": 8} and berlin["total"] == 18


def test_peak_hours_of_sent_offers_for_one_store(seeded):
    body = get(seeded, f"/admin/reports/peak-hours?{RANGE}&metric=sent&store=store-002")

    assert [s["store_id"] for s in body["stores"]] == ["store-002"]
    store = body["stores"][0]
    assert cells(store) == {("Thu", 11): 3, ("Sat", 16): 3}
    assert store["peak"] == {"day": "Thu", "hour": 11, "count": 3}  # a tie: the earlier one
    empty = get(seeded, f"/admin/reports/peak-hours?{RANGE}&metric=redeemed&store=store-002")
    assert empty["stores"][0]["total"] == 0 and empty["stores"][0]["peak"] is None


# --- suppression -------------------------------------------------------------------------------


def test_suppression_reasons_and_per_campaign(seeded):
    body = get(seeded, f"/admin/reports/suppression?{RANGE}")

    assert (body["decided"], body["suppressed"]) == (21, 5)
    assert body["reasons"] == [
        {"reason": "quiet_hours", "count": 3, "share": r(3, 5)},
        {"reason": "cap_day", "count": 1, "share": r(1, 5)},
        {"reason": "consent", "count": 1, "share": r(1, 5)},
    ]
    assert body["by_campaign"] == [
        {
            "campaign_id": "walk-in",
            "name": "Walk in",
            "decided": 7,
            "suppressed": 3,
            "reasons": {"quiet_hours": 2, "consent": 1},
        },
        {
            "campaign_id": "scan-deal",
            "name": "Scan deal",
            "decided": 14,
            "suppressed": 2,
            "reasons": {"cap_day": 1, "quiet_hours": 1},
        },
    ]


FILTERS = [
    ("store=store-002", {"store": "store-002"}),
    ("store=store-001", {"store": "store-001"}),
    ("moment=geofence_entered", {"moment": "geofence_entered"}),
    ("store=store-002&moment=qr_scanned", {"store": "store-002", "moment": "qr_scanned"}),
    ("campaign=walk-in&store=store-002", {"campaign": "walk-in", "store": "store-002"}),
]


@pytest.mark.parametrize(("query", "f"), FILTERS)
def test_suppression_with_store_and_moment_filters(seeded, query, f):
    body = get(seeded, f"/admin/reports/suppression?{RANGE}&{query}")

    want = reasons_of(**f)
    assert (body["decided"], body["suppressed"]) == (total("decided", **f), sum(want.values()))
    assert {r["reason"]: r["count"] for r in body["reasons"]} == want
    rows = {row["campaign_id"]: row for row in body["by_campaign"]}
    assert set(rows) == ({f["campaign"]} if "campaign" in f else {"scan-deal", "walk-in"})
    for campaign_id, row in rows.items():
        g = {k: v for k, v in f.items() if k != "campaign"}
        assert row["decided"] == total("decided", campaign_id, **g)
        assert row["reasons"] == reasons_of(campaign_id, **g)


@pytest.mark.parametrize(("query", "f"), FILTERS)
def test_campaigns_with_store_and_moment_filters(seeded, query, f):
    body = get(seeded, f"/admin/reports/campaigns?{RANGE}&{query}")

    for row in body["campaigns"]:
        g = {k: v for k, v in f.items() if k != "campaign"}
        c = row["campaign_id"]
        assert (row["decided"], row["sent"], row["engaged"], row["redeemed"]) == tuple(
            total(m, c, **g) for m in ("decided", "sent", "engaged", "redeemed")
        ), (query, c)
        assert row["suppressed"] == sum(reasons_of(c, **g).values())
        assert row["lift"]["treatment"]["users"] == total("users:treatment", c, **g)


@pytest.mark.parametrize(
    ("query", "series"),
    [
        # by campaign, one store: only walk-in and scan-deal's store-002 offers
        (
            "by=campaign&store=store-002",
            {"scan-deal": {"2026-11-12": (3, 1, 0)}, "walk-in": {"2026-11-14": (3, 0, 0)}},
        ),
        (
            "by=store&moment=geofence_entered",
            {"store-002": {"2026-11-14": (3, 0, 0)}, "-": {"2026-11-15": (1, 0, 0)}},
        ),
        ("by=moment&campaign=scan-deal&store=store-001", {"qr_scanned": {"2026-11-10": (7, 5, 2)}}),
        ("by=campaign&moment=geofence_entered&campaign=scan-deal", {}),
    ],
)
def test_engagement_with_filters(seeded, query, series):
    body = get(seeded, f"/admin/reports/engagement?{RANGE}&{query}")

    got = {
        s["key"]: {p["t"]: (p["sent"], p["engaged"], p["converted"]) for p in s["points"] if p["sent"]}
        for s in body["series"]
    }
    assert got == series
    assert body["page"]["total"] == len(series)


# --- refusals and credentials ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/admin/reports/funnel?from=2026-11-31", "from"),
        ("/admin/reports/funnel?to=tomorrow", "to"),
        ("/admin/reports/campaigns?from=2026-08-01&to=2026-11-15", "from"),
        ("/admin/reports/lift?from=2026-11-16&to=2026-11-15", "from"),
        ("/admin/reports/suppression?store=a%23b", "store"),
        ("/admin/reports/funnel?campaign=no-such-campaign", "campaign"),
        ("/admin/reports/funnel?moment=levitated", "moment"),
        ("/admin/reports/engagement?by=week", "by"),
        ("/admin/reports/engagement?interval=minute", "interval"),
        ("/admin/reports/peak-hours?metric=clicks", "metric"),
        ("/admin/dashboard?to=2026-13-01", "to"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(seeded, path, field):
    response = seeded.admin("GET", path)

    assert response.status_code == 400
    assert [e["field"] for e in response.json_body["errors"]] == [field]


REPORTS = ["funnel", "campaigns", "engagement", "peak-hours", "lift", "suppression"]


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.mark.parametrize("report", REPORTS)
def test_reports_need_admin_credentials(harness, report):
    path = f"/admin/reports/{report}"
    for headers in ({}, {"Authorization": "Bearer wrong"}, basic("admin", "wrong")):
        response = harness.client.http.get(path, headers=headers)
        assert response.status_code == 401, headers
        assert "error" in json.loads(response.body)
    assert harness.client.http.get(path, headers=basic("me", ADMIN_TOKEN)).status_code == 200


def test_the_dashboard_asks_a_browser_for_credentials(harness):
    response = harness.client.http.get("/admin/dashboard", headers={"Accept": "text/html"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="micromoments admin", charset="UTF-8"'
    wrong = harness.client.http.get("/admin/dashboard", headers=basic("me", "guess"))
    assert wrong.status_code == 401 and "micromoments admin" in wrong.headers["WWW-Authenticate"]


def test_the_dashboard_renders_the_reports_for_a_browser(seeded):
    response = seeded.client.http.get(
        f"/admin/dashboard?{RANGE}&store=store-002", headers=basic("anyone", ADMIN_TOKEN)
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.body.decode()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert 'data-step="moments" data-count="15"' in page
    assert 'data-step="eligible" data-count="10"' in page
    assert 'id="heatmap-store-002"' in page and 'id="heatmap-store-001"' not in page
    assert "Kaffee Eck" in page and "Scan deal" in page
    bearer = seeded.admin("GET", "/admin/dashboard")
    assert bearer.status_code == 200
    engaged = seeded.admin("GET", f"/admin/dashboard?{RANGE}&metric=engaged").body.decode()
    report = get(seeded, f"/admin/reports/peak-hours?{RANGE}&metric=engaged")
    la = next(s for s in report["stores"] if s["store_id"] == "store-001")
    assert la["peak"] == {"day": "Tue", "hour": 10, "count": 5}
    assert 'data-day="Tue" data-hour="10" data-count="5"' in engaged
    assert '<option value="engaged" selected>' in engaged


def test_the_dashboard_data_is_the_reports(seeded):
    from chalicelib import wiring

    data = wiring.container().reports.dashboard({"from": "2026-11-10", "to": "2026-11-15"})

    assert data["funnel"] == get(seeded, f"/admin/reports/funnel?{RANGE}")
    assert data["campaigns"] == get(seeded, f"/admin/reports/campaigns?{RANGE}")
    assert data["suppression"] == get(seeded, f"/admin/reports/suppression?{RANGE}")
    assert data["peak_hours"] == get(seeded, f"/admin/reports/peak-hours?{RANGE}")
    assert data["engagement"] == get(seeded, f"/admin/reports/engagement?{RANGE}")
    assert data["options"]["stores"] == [
        {"store_id": "store-001", "name": "Bean There"},
        {"store_id": "store-002", "name": "Kaffee Eck"},
    ]
    assert [c["campaign_id"] for c in data["options"]["campaigns"]] == ["old", "scan-deal", "walk-in"]
