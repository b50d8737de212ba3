"""``python -m cli reports ...`` against moto in process (the harness's container stands in for
the local stack's), over the counters of test_reports_api's seed: tables, CSV rows and JSON
carry the reports' numbers; refusals name the option; the dashboard is written to a file."""

from __future__ import annotations

import csv
import io
import json

import pytest

from cli.__main__ import main
from tests.integration.test_reports_api import RANGE, seeded  # noqa: F401 - the fixture

SPAN = ["--from", "2026-11-10", "--to", "2026-11-15"]


@pytest.fixture
def cli(seeded):  # noqa: F811 - the imported fixture
    from chalicelib import wiring

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        code = main(list(argv), container=wiring.container(), out=out)
        return code, out.getvalue()

    return run


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_json_is_the_api_report(cli, seeded):  # noqa: F811
    for report in ("funnel", "campaigns", "engagement", "peak-hours", "lift", "suppression"):
        code, out = cli("reports", report, *SPAN, "--format", "json")

        assert code == 0, out
        assert json.loads(out) == seeded.admin("GET", f"/admin/reports/{report}?{RANGE}").json_body


def test_funnel_table_and_csv(cli):
    code, out = cli("reports", "funnel", *SPAN, "--store", "store-002")

    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Funnel, 2026-11-10 to 2026-11-15 (UTC days) (store store-002)"
    assert lines[1].split() == ["STEP", "COUNT", "OF", "PREVIOUS", "OF", "FIRST"]
    assert set(lines[2]) == {"─"}  # rich's rule under the header
    assert lines[3].split() == ["moments", "15", "-", "100.0%"]
    assert lines[4].split() == ["eligible", "10", "66.7%", "66.7%"]
    assert lines[5].split() == ["sent", "6", "60.0%", "40.0%"]
    assert len({len(line) for line in lines[1:9]}) <= 2  # aligned columns (trailing blanks cut)
    assert lines[-1] == "held out (control group) 0, suppressed 4"

    code, out = cli("reports", "funnel", *SPAN, "--format", "csv")
    table = rows(out)
    assert [(r["step"], r["count"]) for r in table] == [
        ("moments", "29"),
        ("eligible", "21"),
        ("sent", "14"),
        ("opened", "6"),
        ("clicked", "2"),
        ("redeemed", "1"),
        ("holdout", "2"),
        ("suppressed", "5"),
    ]
    assert table[0]["rate_from_previous"] == "" and table[1]["rate_from_previous"] == "0.7241"


def test_campaigns_and_lift_tables_and_csv(cli):
    code, out = cli("reports", "campaigns", *SPAN)
    assert code == 0
    scan = next(line for line in out.splitlines() if line.startswith("scan-deal"))
    assert "Scan deal" in scan and "60.0%" in scan and "20.0%" in scan
    assert scan.rstrip().endswith("]") and " pp [" in scan
    walk = next(line for line in out.splitlines() if line.startswith("walk-in"))
    assert walk.endswith("not enough data")

    code, out = cli("reports", "campaigns", *SPAN, "--format", "csv")
    by_id = {r["campaign_id"]: r for r in rows(out)}
    assert list(by_id) == ["scan-deal", "walk-in"]
    assert (by_id["scan-deal"]["sent"], by_id["scan-deal"]["converted_treatment"]) == ("10", "2")
    assert by_id["scan-deal"]["lift_status"] == "ok" and by_id["scan-deal"]["treatment_users"] == "40"
    assert by_id["walk-in"]["ci95_low"] == "" and by_id["walk-in"]["holdout_rate"] == ""

    code, out = cli("reports", "lift", *SPAN, "--campaign", "scan-deal", "--format", "csv")
    (row,) = rows(out)
    assert (row["status"], row["holdout_users"], row["holdout_converters"]) == ("ok", "35", "2")
    assert float(row["ci95_low"]) < float(row["difference"]) < float(row["ci95_high"])
    code, out = cli("reports", "lift", *SPAN)
    assert "30 shoppers per group and 5 converters" in out


def test_peak_hours_csv_is_day_rows_by_hour_columns(cli):
    code, out = cli("reports", "peak-hours", *SPAN, "--store", "store-002", "--format", "csv")

    assert code == 0
    table = rows(out)
    assert [r["day"] for r in table] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert list(table[0])[:5] == ["store_id", "name", "timezone", "day", "00"]
    assert list(table[0])[-2:] == ["23", "total"]
    assert table[1]["11"] == "2" and table[5]["16"] == "8" and table[5]["total"] == "8"
    assert sum(int(r["total"]) for r in table) == 18

    code, out = cli("reports", "peak-hours", *SPAN, "--metric", "sent")
    assert "store-001 Bean There (America/Los_Angeles): total 7, busiest Tue 10:00 (7)" in out
    tuesday = next(line for line in out.splitlines() if line.startswith("Tue"))
    assert tuesday.split()[1 + 10] == "7"


def test_engagement_and_suppression(cli, tmp_path):
    path = tmp_path / "engagement.csv"
    code, out = cli("reports", "engagement", *SPAN, "--by", "store", "--format", "csv", "--out", str(path))

    assert code == 0 and out == f"wrote {path} (csv)\n"
    table = rows(path.read_text())
    assert len(table) == 3 * 6
    assert {(r["store"], r["t"]) for r in table if r["sent"] != "0"} == {
        ("store-001", "2026-11-10"),
        ("store-002", "2026-11-12"),
        ("store-002", "2026-11-14"),
        ("-", "2026-11-15"),
    }

    code, out = cli("reports", "suppression", *SPAN)
    assert "decided 21, suppressed 5" in out
    assert any(line.split() == ["quiet_hours", "3", "60.0%"] for line in out.splitlines())
    code, out = cli("reports", "suppression", *SPAN, "--format", "csv")
    totals = [r for r in rows(out) if r["campaign_id"] == ""]
    assert [(r["reason"], r["count"], r["share"]) for r in totals] == [
        ("quiet_hours", "3", "0.6"),
        ("cap_day", "1", "0.2"),
        ("consent", "1", "0.2"),
    ]


def test_refusals_name_the_option(cli, capsys):
    for argv, message in (
        (("reports", "funnel", "--from", "2026-11-31"), "error: --from: must be a date"),
        (("reports", "lift", "--to", "soon"), "error: --to: must be a date"),
        (("reports", "campaigns", "--campaign", "nope"), "error: --campaign: no campaign 'nope'"),
        (("reports", "funnel", "--moment", "levitated"), "error: --moment: must be one of"),
        (("reports", "suppression", "--store", "a#b"), "error: --store: must be a store id"),
        (("reports", "funnel", "--from", "2026-01-01", "--to", "2026-11-15"), "error: --from: the range"),
    ):
        code, _ = cli(*argv)
        assert code == 1, argv
        assert message in capsys.readouterr().err

    with pytest.raises(SystemExit) as usage:
        cli("reports", "engagement", "--by", "week")
    assert usage.value.code == 2 and "--by" in capsys.readouterr().err


def test_dashboard_writes_the_html_page(cli, tmp_path):
    path = tmp_path / "dash.html"

    code, out = cli("reports", "dashboard", *SPAN, "--out", str(path))

    assert code == 0
    assert out == f"wrote {path}: 2026-11-10 to 2026-11-15, 2 campaign(s), 2 store(s)\n"
    page = path.read_text()
    assert 'data-step="moments" data-count="29"' in page and 'id="heatmap-store-001"' in page


def test_bare_reports_prints_its_help(cli, capsys):
    code, out = cli("reports")

    assert code == 2 and "peak-hours" in out and "dashboard" in out


def test_a_paged_report_is_fetched_whole():
    from chalicelib.domain import reports as domain
    from cli.reports import _every_page

    rows = [{"campaign_id": f"c{i}"} for i in range(7)]
    asked: list[dict[str, str]] = []

    def method(params):
        asked.append(params)
        offset, limit = domain.parse_page({**params, "limit": "3"}, 3)
        shown, described = domain.page(rows, offset, limit)
        return {"filters": {}, "campaigns": shown, "page": described}

    report = _every_page(method, {"store": "s1"}, "lift")

    assert report["campaigns"] == rows
    assert report["page"] == {"offset": 0, "limit": 3, "total": 7, "next_offset": None}
    assert asked == [{"store": "s1"}, {"store": "s1", "offset": "3"}, {"store": "s1", "offset": "6"}]
