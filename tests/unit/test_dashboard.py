"""chalicelib/dashboard.py: the page shows the reports' exact numbers at stable hooks, escapes
every user-supplied string, loads nothing from elsewhere, and renders empty and partial data."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from chalicelib import dashboard

HOSTILE = '<script>alert("x")</script> & "Co"'
LIFT_OK = {
    "status": "ok",
    "treatment": {"users": 400, "converters": 60, "rate": 0.15},
    "holdout": {"users": 100, "converters": 10, "rate": 0.1},
    "difference": 0.05,
    "relative_lift": 0.5,
    "ci95": [0.0123, 0.0877],
    "method": "Newcombe hybrid score interval",
    "minimum": {"users_per_group": 30, "converters": 5},
}
LIFT_WAIT = {
    "status": "not_enough_data",
    "treatment": {"users": 3, "converters": 1, "rate": 0.3333},
    "holdout": {"users": 0, "converters": 0, "rate": None},
    "difference": None,
    "relative_lift": None,
    "ci95": None,
    "method": "Newcombe hybrid score interval",
    "minimum": {"users_per_group": 30, "converters": 5},
}


def campaign(campaign_id: str, name: str, lift: dict[str, Any], **counts: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "campaign_id": campaign_id,
        "name": name,
        "status": "active",
        "decided": 0,
        "holdout": 0,
        "suppressed": 0,
        "sent": 0,
        "delivered": 0,
        "opened": 0,
        "clicked": 0,
        "engaged": 0,
        "redeemed": 0,
        "converted_treatment": 0,
        "converted_holdout": 0,
        "engagement_rate": None,
        "conversion_rate": None,
        "lift": lift,
    }
    row.update(counts)
    if row["sent"]:
        row["engagement_rate"] = round(row["engaged"] / row["sent"], 4)
        row["conversion_rate"] = round(row["converted_treatment"] / row["sent"], 4)
    return row


def sample() -> dict[str, Any]:
    filters = {"from": "2026-11-17", "to": "2026-11-23", "store": None, "campaign": None, "moment": None}
    matrix = [[0] * 24 for _ in range(7)]
    matrix[1][14] = 12  # Tue 14:00
    matrix[4][9] = 3
    matrix[6][23] = 1
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    return {
        "generated_at": "2026-11-23T18:00:00.000+00:00",
        "filters": filters,
        "options": {
            "stores": [
                {"store_id": "store-001", "name": "Bean There Coffee"},
                {"store_id": "st<1>", "name": HOSTILE},
            ],
            "campaigns": [
                {"campaign_id": "coffee-nearby", "name": "Coffee 20% off"},
                {"campaign_id": "evil", "name": HOSTILE},
            ],
            "moments": ["qr_scanned", "geofence_entered", "video_milestone"],
            "metrics": ["moments", "sent", "engaged", "redeemed"],
        },
        "funnel": {
            "filters": filters,
            "steps": [
                {"step": "moments", "count": 200, "rate_from_previous": None, "rate_from_first": 1.0},
                {"step": "eligible", "count": 80, "rate_from_previous": 0.4, "rate_from_first": 0.4},
                {"step": "sent", "count": 40, "rate_from_previous": 0.5, "rate_from_first": 0.2},
                {"step": "opened", "count": 5, "rate_from_previous": 0.125, "rate_from_first": 0.025},
                {"step": "clicked", "count": 4, "rate_from_previous": 0.8, "rate_from_first": 0.02},
                {"step": "redeemed", "count": 2, "rate_from_previous": 0.5, "rate_from_first": 0.01},
            ],
            "holdout": 10,
            "suppressed": 30,
        },
        "campaigns": {
            "filters": filters,
            "campaigns": [
                campaign(
                    "coffee-nearby",
                    "Coffee 20% off",
                    LIFT_OK,
                    decided=70,
                    holdout=10,
                    suppressed=25,
                    sent=35,
                    opened=5,
                    clicked=4,
                    engaged=6,
                    redeemed=2,
                    converted_treatment=7,
                ),
                campaign("evil", HOSTILE, LIFT_WAIT, decided=10, suppressed=5, sent=5, engaged=1),
            ],
        },
        "engagement": {
            "filters": filters,
            "by": "campaign",
            "interval": "day",
            "series": [
                {
                    "key": "coffee-nearby",
                    "points": [
                        {
                            "t": f"2026-11-{day}",
                            "sent": sent,
                            "engaged": engaged,
                            "converted": converted,
                            "engagement_rate": round(engaged / sent, 4) if sent else None,
                            "conversion_rate": round(converted / sent, 4) if sent else None,
                        }
                        for day, sent, engaged, converted in [
                            (17, 5, 1, 1),
                            (18, 0, 0, 0),
                            (19, 8, 2, 1),
                            (20, 10, 1, 2),
                            (21, 4, 1, 1),
                            (22, 6, 1, 1),
                            (23, 2, 0, 1),
                        ]
                    ],
                },
                {
                    "key": "evil",
                    "points": [
                        {
                            "t": "2026-11-23",
                            "sent": 5,
                            "engaged": 1,
                            "converted": 0,
                            "engagement_rate": 0.2,
                            "conversion_rate": 0.0,
                        }
                    ],
                },
            ],
        },
        "peak_hours": {
            "filters": filters,
            "metric": "moments",
            "stores": [
                {
                    "store_id": "store-001",
                    "name": "Bean There Coffee",
                    "timezone": "America/Los_Angeles",
                    "days": days,
                    "matrix": matrix,
                    "total": 16,
                    "peak": {"day": "Tue", "hour": 14, "count": 12},
                },
                {
                    "store_id": "st<1>",
                    "name": HOSTILE,
                    "timezone": "Europe/Berlin",
                    "days": days,
                    "matrix": [[0] * 24 for _ in range(7)],
                    "total": 0,
                    "peak": None,
                },
            ],
        },
        "suppression": {
            "filters": filters,
            "decided": 80,
            "suppressed": 30,
            "reasons": [
                {"reason": "quiet_hours", "count": 18, "share": 0.6},
                {"reason": "min_gap", "count": 9, "share": 0.3},
                {"reason": "unsubscribed", "count": 3, "share": 0.1},
            ],
            "by_campaign": [
                {
                    "campaign_id": "coffee-nearby",
                    "name": "Coffee 20% off",
                    "decided": 70,
                    "suppressed": 25,
                    "reasons": {"quiet_hours": 15, "min_gap": 9, "unsubscribed": 1},
                },
                {
                    "campaign_id": "evil",
                    "name": HOSTILE,
                    "decided": 10,
                    "suppressed": 5,
                    "reasons": {"quiet_hours": 3, "unsubscribed": 2},
                },
            ],
        },
    }


def empty() -> dict[str, Any]:
    data = sample()
    for step in data["funnel"]["steps"]:
        step.update(count=0, rate_from_previous=None, rate_from_first=None)
    data["funnel"].update(holdout=0, suppressed=0)
    data["campaigns"]["campaigns"] = []
    data["engagement"]["series"] = []
    data["peak_hours"]["stores"] = []
    data["suppression"].update(decided=0, suppressed=0, reasons=[], by_campaign=[])
    return data


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.text_parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, **attrs: str | None) -> list[Element]:
        return [
            e
            for e in self.iter()
            if all(
                (k.replace("_", "-") in e.attrs) if v is None else e.attrs.get(k.replace("_", "-")) == v
                for k, v in attrs.items()
            )
        ]

    def one(self, **attrs: str | None) -> Element:
        [found] = self.find_all(**attrs)
        return found


VOID = {"meta", "input", "br", "img", "link", "hr", "col", "source", "wbr"}


class Page(HTMLParser):
    """A small DOM: elements with attributes and their whole text (descendants included)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {}, None)
        self.current = self.root
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        node = self.current
        while node is not None:
            node.text_parts.append(data)
            node = node.parent


def page(data: Any) -> Element:
    return Page(dashboard.render(data)).root


def squash(text: str) -> str:
    return " ".join(text.split())


def test_the_funnel_rows_carry_the_exact_counts_and_step_rates():
    funnel = page(sample()).one(id="funnel")
    rows = funnel.find_all(data_step=None)
    assert [(r.attrs["data-step"], r.attrs["data-count"]) for r in rows] == [
        ("moments", "200"),
        ("eligible", "80"),
        ("sent", "40"),
        ("opened", "5"),
        ("clicked", "4"),
        ("redeemed", "2"),
    ]
    opened = funnel.one(data_step="opened")
    assert "12.5 % of previous" in squash(opened.text)
    assert "2.5 % of moments" in squash(opened.text)
    assert "40" in funnel.one(data_step="sent").text
    assert funnel.one(data_holdout="10").text == "10"
    assert funnel.one(data_suppressed="30").text == "30"


def test_kpi_tiles():
    root = page(sample())
    tiles = {t.attrs["data-kpi"]: t for t in root.find_all(data_kpi=None)}
    assert {k: t.attrs["data-count"] for k, t in tiles.items()} == {
        "moments": "200",
        "eligible": "80",
        "sent": "40",
        "engaged": "5",  # the funnel's "opened" step: opened or clicked
        "redeemed": "2",
        "suppressed": "30",
        "holdout": "10",
    }
    assert "50.0 % of eligible" in tiles["sent"].text
    assert "37.5 % of eligible" in tiles["suppressed"].text


def test_the_heatmap_has_a_cell_per_day_and_hour_with_its_count():
    root = page(sample())
    heatmap = root.one(id="heatmap-store-001")
    cells = heatmap.find_all(data_hour=None, data_day=None, data_count=None)
    cells = [c for c in cells if c.tag == "rect"]
    assert len(cells) == 7 * 24
    counts = {
        (c.attrs["data-day"], int(c.attrs["data-hour"] or 0)): int(c.attrs["data-count"] or 0) for c in cells
    }
    assert counts[("Tue", 14)] == 12 and counts[("Fri", 9)] == 3 and counts[("Sun", 23)] == 1
    assert sum(counts.values()) == 16
    peak = [c for c in cells if c.attrs["class"] == "h5"]
    assert [(c.attrs["data-day"], c.attrs["data-hour"]) for c in peak] == [("Tue", "14")]
    assert "America/Los_Angeles" in heatmap.text and "16 moments" in heatmap.text
    assert "Sun 23:00\u201300:00: 1 moment" in heatmap.text  # the cell's tooltip, singular
    assert "Tue 14:00\u201315:00" in heatmap.text  # the busiest hour, named
    # a store with nothing counted is named (escaped), not drawn
    assert not root.find_all(id="heatmap-st<1>")
    quiet = root.one(id="peak-hours").one(data_quiet_stores="1")
    assert squash(quiet.text) == f"No moments in this range at {HOSTILE}."


def test_a_heatmap_in_a_half_hour_zone_says_its_hours_are_approximate():
    data = sample()
    data["peak_hours"]["stores"][0].update(timezone="Asia/Kolkata", hour_aligned=False)
    heatmap = page(data).one(id="peak-hours")
    assert "hours within 30 min" in squash(heatmap.text)
    assert "hours within 30 min" not in squash(page(sample()).one(id="peak-hours").text)


def test_a_chosen_store_gets_its_heatmap_even_with_nothing_counted():
    data = sample()
    data["peak_hours"]["filters"] = {**data["peak_hours"]["filters"], "store": "st<1>"}
    data["peak_hours"]["stores"] = data["peak_hours"]["stores"][1:]
    hostile = page(data).one(id="heatmap-st<1>")  # the id is escaped in the source, intact in the DOM
    assert all(c.attrs["data-count"] == "0" for c in hostile.find_all(data_hour=None) if c.tag == "rect")
    assert "No moments counted here yet." in squash(hostile.text)


def test_a_chain_sees_its_busiest_stores_and_how_many_more():
    data = sample()
    template = data["peak_hours"]["stores"][0]
    busy = [
        {
            **template,
            "store_id": f"s{n:03d}",
            "name": f"Store {n}",
            "total": n,
            "matrix": [[n] + [0] * 23] + [[0] * 24] * 6,
        }
        for n in range(1, 301)
    ]
    quiet = [
        {**template, "store_id": f"q{n:02d}", "name": f"Quiet {n}", "total": 0, "matrix": [[0] * 24] * 7}
        for n in range(25)
    ]
    data["peak_hours"]["stores"] = quiet + busy
    html_page = dashboard.render(data)
    root = Page(html_page).root
    maps = [e.attrs["id"] for e in root.one(id="peak-hours").find_all(data_store=None) if e.tag == "figure"]
    assert maps == [
        f"heatmap-s{n:03d}" for n in range(300, 300 - dashboard.HEATMAP_STORES, -1)
    ]  # busiest first
    more = root.one(data_more_stores=str(300 - dashboard.HEATMAP_STORES))
    assert f"{300 - dashboard.HEATMAP_STORES} more stores with moments in this range" in squash(more.text)
    named = squash(root.one(data_quiet_stores="25").text)
    assert "Quiet 0, Quiet 1" in named and named.endswith("Quiet 19 and 5 more.")
    assert len(html_page.encode()) < 1_000_000  # 325 stores stay far below Lambda's 6 MB response


def test_the_campaign_table_shows_lift_with_its_confidence_interval():
    table = page(sample()).one(id="campaigns")
    row = table.one(data_campaign="coffee-nearby")
    lift = row.one(data_status="ok")
    assert lift.attrs["data-difference"] == "0.05"
    text = squash(lift.text)
    assert "+5.0 pp" in text and "95 % CI +1.2 pp to +8.8 pp" in text and "+50.0 % relative" in text
    assert "Lift" in text  # the interval excludes zero
    treatment, holdout = row.one(data_group="treatment"), row.one(data_group="holdout")
    assert (treatment.attrs["data-users"], treatment.attrs["data-converters"]) == ("400", "60")
    assert (holdout.attrs["data-users"], holdout.attrs["data-converters"]) == ("100", "10")
    assert "15.0 %" in treatment.text and "60 of 400 users" in treatment.text
    assert "10.0 %" in holdout.text
    assert "17.1 %" in row.text  # engagement rate 6 / 35


def test_not_enough_data_is_said_plainly():
    row = page(sample()).one(id="campaigns").one(data_campaign="evil")
    lift = row.one(data_status="not_enough_data")
    assert "Not enough data" in lift.text
    assert "needs 30 users per group and 5 converters" in squash(lift.text)
    assert row.one(data_group="holdout").attrs["data-users"] == "0"
    assert "pp" not in lift.text


def test_suppression_reasons():
    section = page(sample()).one(id="suppression")
    rows = [r for r in section.find_all(data_reason=None) if r.tag == "li"]
    assert [(r.attrs["data-reason"], r.attrs["data-count"]) for r in rows] == [
        ("quiet_hours", "18"),
        ("min_gap", "9"),
        ("unsubscribed", "3"),
    ]
    assert "60.0 %" in rows[0].text and "Quiet hours" in rows[0].text
    assert "30 of 80 eligible offers" in squash(section.text)
    assert section.one(data_campaign="evil").one(data_reason="unsubscribed").attrs["data-count"] == "2"


def test_hostile_names_are_escaped_everywhere():
    html = dashboard.render(sample())
    assert "<script>alert" not in html
    assert html.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Co&quot;") >= 5
    root = Page(html).root
    scripts = [e for e in root.iter() if e.tag == "script"]
    assert len(scripts) == 1 and "alert" not in scripts[0].text  # only our own enhancement
    assert HOSTILE in root.one(id="campaigns").one(data_campaign="evil").text  # shown as text


def test_filters_form_reloads_the_page_with_get_and_keeps_the_selection():
    data = sample()
    data["filters"].update(store="store-001", campaign="gone-campaign", moment="qr_scanned")
    root = page(data)
    [form] = [e for e in root.iter() if e.tag == "form"]
    assert form.attrs["method"] == "get" and "action" not in form.attrs
    fields = {e.attrs["name"]: e for e in form.iter() if e.tag in ("input", "select")}
    assert set(fields) == {"from", "to", "store", "campaign", "moment", "metric"}
    assert fields["from"].attrs["value"] == "2026-11-17" and fields["to"].attrs["type"] == "date"

    def selected(name: str) -> list[str | None]:
        return [o.attrs["value"] for o in fields[name].iter() if o.tag == "option" and "selected" in o.attrs]

    assert selected("store") == ["store-001"]
    assert selected("campaign") == ["gone-campaign"]  # no longer an option, still round-trips
    assert selected("moment") == ["qr_scanned"]
    options = [o.attrs["value"] for o in fields["store"].iter() if o.tag == "option"]
    assert options == ["", "store-001", "st<1>"]
    # what the heatmaps count: no "all" choice, the default first
    assert [o.attrs["value"] for o in fields["metric"].iter() if o.tag == "option"] == [
        "moments",
        "sent",
        "engaged",
        "redeemed",
    ]
    assert selected("metric") == ["moments"]
    data["filters"]["metric"] = "engaged"
    data["peak_hours"]["metric"] = "engaged"
    root = page(data)
    [form] = [e for e in root.iter() if e.tag == "form"]
    [metric] = [e for e in form.iter() if e.attrs.get("name") == "metric"]
    assert [o.attrs["value"] for o in metric.iter() if "selected" in o.attrs] == ["engaged"]
    assert "Offers opened or clicked per weekday and hour" in squash(root.one(id="peak-hours").text)


def test_nothing_is_loaded_from_elsewhere():
    html = dashboard.render(sample())
    root = Page(html).root
    for element in root.iter():
        for name in ("src", "href", "action", "xlink:href", "srcset", "poster", "data"):
            value = element.attrs.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value), (element.tag, name, value)
    assert not [e for e in root.iter() if e.tag in ("img", "iframe", "object", "embed")]
    links = [e.attrs for e in root.iter() if e.tag == "link"]
    assert links == [{"rel": "icon", "href": "data:,"}]  # the browser asks for no favicon
    assert not re.search(r"url\(|@import|https?://", html.split("<style>", 1)[1].split("</style>", 1)[0])
    assert "http://www.w3.org" not in html  # SVG inline in HTML needs no namespace URL


def test_empty_data_shows_a_friendly_empty_state():
    root = page(empty())
    assert "No offers counted yet" in root.one(id="empty-state").text
    for section in ("funnel", "campaigns", "suppression", "peak-hours", "engagement"):
        assert root.one(id=section)  # every section is there, saying it has nothing yet
    assert [r.attrs["data-count"] for r in root.one(id="funnel").find_all(data_step=None)] == ["0"] * 6
    assert "No campaign decided any offer yet." in root.one(id="campaigns").text
    assert "No offer was suppressed." in root.one(id="suppression").text
    assert 'id="empty-state"' not in dashboard.render(sample())


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"funnel": None, "campaigns": {}, "peak_hours": {"stores": [{"store_id": "x"}]}},
        {"campaigns": {"campaigns": [{"campaign_id": "c", "lift": {"status": "ok", "ci95": None}}]}},
        {
            "engagement": {
                "series": [{"key": "k", "points": [{"t": "junk", "sent": 1, "engagement_rate": 1.7}]}]
            }
        },
    ],
)
def test_partial_or_missing_data_renders(data):
    html = dashboard.render(data)
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    Page(html)


def test_engagement_charts_one_per_series_busiest_first():
    root = page(sample())
    charts = [e for e in root.one(id="engagement").iter() if e.tag == "figure"]
    assert [c.attrs["data-key"] for c in charts] == ["coffee-nearby", "evil"]
    assert "Coffee 20% off" in charts[0].text and "35 sent" in squash(charts[0].text)
    assert HOSTILE in charts[1].text
    assert len([e for e in charts[0].iter() if e.tag == "circle"]) == 12  # 6 days with sends x 2 rates
    data = sample()
    data["engagement"]["series"] = [
        {"key": f"c{i}", "points": [{"t": "2026-11-23", "sent": i + 1, "engaged": 0, "converted": 0}]}
        for i in range(9)
    ]
    charts = [e for e in page(data).one(id="engagement").iter() if e.tag == "figure"]
    assert [c.attrs["data-key"] for c in charts] == ["c8", "c7", "c6", "c5", "c4", "c3"]


def test_a_series_label_names_its_chart():
    data = sample()
    data["engagement"].update(by="store")
    data["engagement"]["series"][0].update(key="-", label="(no store)")
    data["engagement"]["series"][1].update(key="st<1>", label="st<1>")  # no label: the option's name
    charts = [e for e in page(data).one(id="engagement").iter() if e.tag == "figure"]
    captions = [squash(next(e for e in c.iter() if e.tag == "strong").text) for c in charts]
    assert captions == ["(no store)", HOSTILE]


def test_number_formats():
    assert dashboard._pct(0.125) == "12.5 %"
    assert dashboard._pct(None) == "\u2014"
    assert dashboard._pp(-0.0123) == "\u22121.2 pp"
    assert dashboard._pp(0.0) == "+0.0 pp"
    assert dashboard._num(12345) == "12,345"


def test_a_copy_of_the_input_is_not_changed():
    data = sample()
    before = copy.deepcopy(data)
    dashboard.render(data)
    assert data == before


# --- scale: thousands of campaigns -------------------------------------------------------------


def many_campaigns(archived: int, live: int, scripted: bool = True) -> Any:
    """A deployment with ``archived`` campaigns that ended long ago, ``live`` ones and one
    archived a week ago, each live one with counters (the later, the busier). ``scripted``: over
    the real counter reader (adapters/dynamodb_stats.py) on a scripted client counting Queries;
    else over the in-memory counters."""
    from datetime import UTC, datetime

    from chalicelib.adapters.dynamodb_stats import DynamoDBStats
    from chalicelib.domain.clock import FixedClock
    from chalicelib.domain.offer_stats import stat_pk, stat_shard
    from chalicelib.use_cases.reports import Reports
    from tests.unit.builders import settings
    from tests.unit.test_reports import FakeCounters, Listing, ScriptedDynamo
    from tests.unit.test_reports import campaign as made

    long_ago = {"created": "2025-01-01T00:00:00Z", "updated": "2025-06-01T00:00:00Z"}
    old = [made(f"old-{n:05d}", "qr_scanned", "archived", **long_ago) for n in range(archived)]
    running = [made(f"live-{n:05d}", "qr_scanned") for n in range(live)]
    # archived a week ago: offers it sent can still be opened, so it is read
    recent = made("recent", "qr_scanned", "archived", updated="2026-11-16T00:00:00Z")
    client = ScriptedDynamo({})
    fake = FakeCounters()
    for n, c in enumerate([recent, *running]):
        counts = {
            "decided|qr_scanned": n + 2,
            "sent|qr_scanned": n + 1,
            "suppressed:quiet_hours|qr_scanned": 1,
        }
        fake.offer_items[c.id] = [("2026112210#s1", counts)]
        item = {"PK": {"S": stat_pk(c.id, stat_shard("s1"))}, "SK": {"S": "2026112210#s1"}}
        client.pages[item["PK"]["S"]] = [
            {"Items": [{**item, **{k: {"N": str(v)} for k, v in counts.items()}}]}
        ]
    stores = Listing([{"store_id": "s1", "name": "One", "timezone": "Europe/Berlin"}])
    clock = FixedClock(datetime(2026, 11, 23, 12, tzinfo=UTC))
    stats = DynamoDBStats(client, "t", max_workers=2) if scripted else fake
    return Reports(Listing(old + running + [recent]), stores, stats, settings(), clock), client


def test_archived_campaigns_cost_no_counter_reads_and_the_page_stays_small():
    from chalicelib.domain.offer_stats import OFFER_STAT_SHARDS

    queries = {}
    for archived in (10, 4_990):
        reports_, client = many_campaigns(archived, live=9)
        data = reports_.dashboard({})
        queries[archived] = len(client.queries)
        html_page = dashboard.render(data)
    assert queries[10] == queries[4_990] == OFFER_STAT_SHARDS * 10  # 9 live + 1 recently archived
    assert len(html_page.encode()) < 1_000_000
    assert len(data["options"]["campaigns"]) == 10
    assert [c["campaign_id"] for c in data["campaigns"]["campaigns"]][-1] == "recent"


def test_thousands_of_live_campaigns_show_the_busiest_and_how_many_more():
    reports_, _ = many_campaigns(0, live=5_000, scripted=False)

    data = reports_.dashboard({})
    html_page = dashboard.render(data)

    assert len(html_page.encode()) < 1_000_000
    root = Page(html_page).root
    table = root.one(id="campaigns")
    rows = [e.attrs["data-campaign"] for e in table.find_all(data_campaign=None) if e.tag == "tr"]
    assert rows == [f"live-{n:05d}" for n in range(4_999, 4_999 - dashboard.CAMPAIGN_ROWS, -1)]
    assert table.one(data_more_campaigns=str(5_001 - dashboard.CAMPAIGN_ROWS)) is not None
    suppression = root.one(id="suppression")
    suppressing = [e for e in suppression.find_all(data_campaign=None) if e.tag == "tr"]
    assert len(suppressing) == dashboard.SUPPRESSION_ROWS
    assert len(data["options"]["campaigns"]) == 500

    # the JSON reports are complete, a page at a time
    first = reports_.campaigns({})
    assert len(first["campaigns"]) == 1_000
    assert first["page"] == {"offset": 0, "limit": 1_000, "total": 5_001, "next_offset": 1_000}
    last = reports_.campaigns({"offset": "4500", "limit": "1000"})
    assert len(last["campaigns"]) == 501 and last["page"]["next_offset"] is None
    assert reports_.suppression({"limit": "10"})["page"]["total"] == 5_001
    assert reports_.lift({"offset": "5000"})["campaigns"][0]["campaign_id"] == "recent"  # by id


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "1001"}, {"offset": "-1"}, {"limit": "ten"}])
def test_a_bad_page_is_refused_naming_the_field(query):
    from chalicelib.domain.errors import InvalidInput

    reports_, _ = many_campaigns(0, live=1, scripted=False)
    with pytest.raises(InvalidInput) as refused:
        reports_.campaigns(query)
    assert [e.field for e in refused.value.errors] == list(query)
