"""``python -m cli reports ...``: the admin reports from the command line.

funnel        moments -> eligible -> sent -> opened -> clicked -> redeemed, with rates
campaigns     per campaign: counts, engagement and conversion rates, holdout lift
engagement    sent, engaged and converted per day or hour, by campaign, store or moment type
peak-hours    day of week x hour of day in each store's own time zone
lift          treatment vs holdout conversion with a 95 % confidence interval (Newcombe)
suppression   why offers were not sent, overall and per campaign
dashboard     all of it as one HTML page (--out, default dashboard.html)
dashboard-link  a signed link to the dashboard that expires, for a browser or a phone

Every report takes --from / --to (UTC days, inclusive; default the 7 days up to today; at most
92 days), --store, --campaign and --moment (a moment type), and prints a rich table (--format
table), spreadsheet rows (--format csv) or the API's JSON (--format json), to stdout or --out.
The lift interval needs 30 shoppers in each group and 5 converters in all ("not enough data"
below that).

It reads the counters through the same use case as GET /admin/reports/... . On a deployed
stage (IAM only, no browser login) run it with --use-env, the stage's MM_* variables and AWS
credentials that may read its table: `python -m cli --use-env reports dashboard --out
dashboard.html`, then open the file; or `python -m cli --use-env reports dashboard-link` for a
link that opens the live dashboard in any browser until it expires.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from chalicelib.domain import reports as domain
from cli import command_group, guarded

# Query parameter -> the option that sets it, so a refusal names what the user typed.
OPTION_OF = {
    "from": "--from",
    "to": "--to",
    "store": "--store",
    "campaign": "--campaign",
    "moment": "--moment",
    "by": "--by",
    "interval": "--interval",
    "metric": "--metric",
    "hours": "--hours",
}
FORMATS = ("table", "csv", "json")
REPORTS: dict[str, tuple[str, str]] = {  # command -> (help, description)
    "funnel": (
        "moments -> eligible -> sent -> opened -> clicked -> redeemed",
        "The funnel from moments to redemptions: each step's count, its rate from the previous "
        "step and from the first, plus offers held out (control group) and suppressed. Moments "
        "come from the moment counters (with --campaign only its trigger's moment type; with "
        "--store the store's own); the other steps from the offer counters.",
    ),
    "campaigns": (
        "per campaign: counts, rates and holdout lift",
        "Every campaign (archived ones only if something was counted) with decided, held out, "
        "suppressed, sent, delivered (email), opened, clicked, engaged, redeemed and converted "
        "counts, engagement and conversion rates (of sent), and the lift over the holdout. Most "
        "sent first.",
    ),
    "engagement": (
        "sent, engaged, converted over time",
        "Sent, engaged (opened or clicked) and converted offers per UTC day or hour, one series "
        "per campaign, store or moment type (--by), every bucket of the range listed.",
    ),
    "peak-hours": (
        "day of week x hour in each store's time zone",
        "A 7 x 24 matrix per store (Monday first) of moments, or of sent, engaged or redeemed "
        "offers (--metric), by day of week and hour of day in the store's own time zone (DST "
        "included), with the busiest hour. The range is whole UTC days.",
    ),
    "lift": (
        "treatment vs holdout conversion, with a 95%% interval",
        "Per campaign: shoppers and converters in the treatment and holdout groups, their "
        "conversion rates, the difference and the relative lift, and a 95% confidence interval "
        "of the difference (Newcombe's hybrid score interval). The interval needs at least 30 "
        "shoppers per group and 5 converters in all; below that the status is not_enough_data.",
    ),
    "suppression": (
        "why offers were not sent",
        "Offers decided and suppressed, the suppression reasons (quiet hours, caps, consent ...) "
        "with their share, and the same per campaign.",
    ),
    "dashboard": (
        "the dashboard as one HTML file",
        "The funnel, campaigns with lift, engagement, peak hours and suppression on one "
        "self-contained HTML page (what GET /admin/dashboard shows), written to --out. For a "
        "deployed stage run it with --use-env and credentials that can read the stage's table.",
    ),
}


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="from_date",
        metavar="DATE",
        help="first UTC day, YYYY-MM-DD (default --to minus 6 days)",
    )
    parser.add_argument(
        "--to", dest="to_date", metavar="DATE", help="last UTC day, YYYY-MM-DD (default today)"
    )
    parser.add_argument("--store", help="only this store (its id)")
    parser.add_argument("--campaign", help="only this campaign (its id)")
    parser.add_argument(
        "--moment", help=f"only offers (and moments) of this moment type: {', '.join(domain.MOMENT_TYPES)}"
    )


def add_parser(commands: Any) -> None:
    sub = command_group(
        commands,
        "reports",
        "reports: funnel, campaigns, engagement, peak-hours, lift, suppression, dashboard",
        __doc__,
    )
    for name, (help_text, description) in REPORTS.items():
        parser = sub.add_parser(name, help=help_text, description=description)
        _filter_options(parser)
        if name == "engagement":
            parser.add_argument(
                "--by",
                choices=domain.BY,
                default="campaign",
                help="one series per campaign, store or moment type (default campaign)",
            )
            parser.add_argument(
                "--interval", choices=domain.INTERVALS, default="day", help="bucket size, UTC (default day)"
            )
        if name == "peak-hours":
            parser.add_argument(
                "--metric",
                choices=domain.PEAK_METRICS,
                default="moments",
                help="what to count (default moments)",
            )
        if name == "dashboard":
            parser.add_argument(
                "--out",
                metavar="FILE",
                default="dashboard.html",
                help="the HTML file to write (default dashboard.html)",
            )
        else:
            parser.add_argument(
                "--format",
                choices=FORMATS,
                default="table",
                help="table: aligned text (default); csv: rows for a spreadsheet; json: the API's report",
            )
            parser.add_argument("--out", metavar="FILE", help="write to this file instead of printing")
        parser.set_defaults(run=_run, report=name)
    link = sub.add_parser(
        "dashboard-link",
        help="a signed link to the dashboard that expires (for a phone)",
        description="Print a link to the stage's dashboard that works in any browser, a phone's "
        "included, until it expires: GET /dashboard/{token}, signed with the stage's token "
        "signing key (what POST /admin/dashboard/links returns). Anyone holding the link can "
        "read the dashboard until then, so keep it short. The filters given here are the "
        "page's starting filters. For a deployed stage run it with --use-env.",
    )
    _filter_options(link)
    link.add_argument(
        "--hours",
        type=float,
        default=None,
        help="how long the link works (default 12, at most 168: a week)",
    )
    link.set_defaults(run=_link, report="dashboard-link")


# --- running --------------------------------------------------------------------------------


_guarded = guarded(OPTION_OF)


def _params(args: argparse.Namespace) -> dict[str, str]:
    values = {
        "from": args.from_date,
        "to": args.to_date,
        "store": args.store,
        "campaign": args.campaign,
        "moment": args.moment,
        "by": getattr(args, "by", None),
        "interval": getattr(args, "interval", None),
        "metric": getattr(args, "metric", None),
    }
    return {k: v for k, v in values.items() if v is not None}


@_guarded
def _link(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    from urllib.parse import urlencode

    link = container.dashboard_links.mint(args.hours, "cli")
    params = _params(args)
    query = f"?{urlencode(params)}" if params else ""
    print(f"{link.url}{query}", file=out)
    print(f"works until {link.as_dict()['expires_at']} (UTC)", file=out)
    return 0


@_guarded
def _run(args: argparse.Namespace, container: Any, out: TextIO) -> int:
    params = _params(args)
    if args.report == "dashboard":
        from chalicelib import dashboard

        data = container.reports.dashboard(params)
        Path(args.out).write_text(dashboard.render(data), encoding="utf-8")
        f = data["filters"]
        print(
            f"wrote {args.out}: {f['from']} to {f['to']}{_scope(f)}, "
            f"{len(data['campaigns']['campaigns'])} campaign(s), "
            f"{len(data['peak_hours']['stores'])} store(s)",
            file=out,
        )
        return 0
    method = getattr(container.reports, args.report.replace("-", "_"))
    report = _every_page(method, params, args.report)
    if args.format == "json":
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "csv":
        text = _csv(args.report, report)
    else:
        text = "\n".join(TABLES[args.report](report)) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({args.format})", file=out)
    else:
        out.write(text)
    return 0


# Reports whose long list comes in pages (``page.next_offset``): the list's key.
PAGED = {"campaigns": "campaigns", "lift": "campaigns", "suppression": "by_campaign", "engagement": "series"}


def _every_page(method: Callable[[dict[str, str]], dict[str, Any]], params: dict[str, str], name: str) -> Any:
    """The whole report: a paged one is fetched page after page and its list joined (a
    spreadsheet wants every campaign, not the API's first 1,000)."""
    report = method(params)
    key = PAGED.get(name)
    while key is not None and (after := (report.get("page") or {}).get("next_offset")) is not None:
        more = method({**params, "offset": str(after)})
        report = {**report, key: [*report[key], *more[key]], "page": more["page"]}
    if key is not None and report.get("page"):
        report["page"] = {**report["page"], "offset": 0, "next_offset": None}
    return report


# --- formatting -----------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _pp(value: float | None) -> str:
    """A difference of rates in percentage points."""
    return "-" if value is None else f"{value * 100:+.1f} pp"


def _scope(filters: dict[str, Any]) -> str:
    parts = [f"{name} {filters[name]}" for name in ("store", "campaign", "moment") if filters.get(name)]
    return f" ({', '.join(parts)})" if parts else ""


def _title(name: str, report: dict[str, Any]) -> str:
    f = report["filters"]
    return f"{name}, {f['from']} to {f['to']} (UTC days){_scope(f)}"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> list[str]:
    """A rich table as plain text lines: ``align`` has one ``l``/``r`` per column (default: first
    left, rest right). Never wrapped, whatever the terminal's width (spreadsheets want --format csv)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    align = align or "l" + "r" * (len(header) - 1)
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name, a in zip(header, align, strict=True):
        grid.add_column(str(name), justify="left" if a == "l" else "right", no_wrap=True)
    for row in rows:
        grid.add_row(*("" if c is None else str(c) for c in row))
    buffer = io.StringIO()
    Console(file=buffer, width=100_000, color_system=None, legacy_windows=False).print(grid)
    return [line.rstrip() for line in buffer.getvalue().splitlines()]


def _funnel_table(report: dict[str, Any]) -> list[str]:
    rows = [
        (s["step"], s["count"], _pct(s["rate_from_previous"]), _pct(s["rate_from_first"]))
        for s in report["steps"]
    ]
    return [
        _title("Funnel", report),
        *table(("STEP", "COUNT", "OF PREVIOUS", "OF FIRST"), rows),
        f"held out (control group) {report['holdout']}, suppressed {report['suppressed']}",
    ]


def _lift_text(lift: dict[str, Any]) -> str:
    if lift["status"] == "inconsistent":
        return "inconsistent (counters from before cohorts)"
    if lift["status"] != "ok":
        return "not enough data"
    low, high = lift["ci95"]
    return f"{_pp(lift['difference'])} [{low * 100:+.1f}, {high * 100:+.1f}]"


def _campaigns_table(report: dict[str, Any]) -> list[str]:
    header = (
        "CAMPAIGN", "NAME", "STATUS", "DECIDED", "HOLDOUT", "SUPPRESSED", "SENT", "DELIVERED", "OPENED",
        "CLICKED", "ENGAGED", "REDEEMED", "CONV", "CONV HOLDOUT", "ENGAGEMENT", "CONVERSION", "LIFT (95% CI)",
    )  # fmt: skip
    rows = [
        (
            c["campaign_id"],
            c["name"],
            c["status"],
            c["decided"],
            c["holdout"],
            c["suppressed"],
            c["sent"],
            c["delivered"],
            c["opened"],
            c["clicked"],
            c["engaged"],
            c["redeemed"],
            c["converted_treatment"],
            c["converted_holdout"],
            _pct(c["engagement_rate"]),
            _pct(c["conversion_rate"]),
            _lift_text(c["lift"]),
        )  # fmt: skip
        for c in report["campaigns"]
    ]
    body = table(header, rows, "lll" + "r" * 13 + "l") if rows else ["(no campaigns)"]
    return [_title("Campaigns", report), *body]


def _engagement_table(report: dict[str, Any]) -> list[str]:
    rows = [
        (
            s["key"],
            p["t"],
            p["sent"],
            p["engaged"],
            p["converted"],
            _pct(p["engagement_rate"]),
            _pct(p["conversion_rate"]),
        )
        for s in report["series"]
        for p in s["points"]
    ]
    header = (report["by"].upper(), "UTC " + report["interval"].upper(), "SENT", "ENGAGED", "CONVERTED")
    title = _title(f"Engagement by {report['by']}, per {report['interval']}", report)
    if not rows:
        return [title, "(no offers in the range)"]
    return [title, *table((*header, "ENGAGEMENT", "CONVERSION"), rows, "ll" + "r" * 5)]


def _peak_table(report: dict[str, Any]) -> list[str]:
    lines = [_title(f"Peak hours of {report['metric']}", report)]
    for store in report["stores"]:
        peak = store["peak"]
        busiest = (
            f"busiest {peak['day']} {peak['hour']:02d}:00 ({peak['count']})" if peak else "nothing counted"
        )
        lines.append("")
        lines.append(
            f"{store['store_id']} {store['name'] or ''} ({store['timezone']}): total {store['total']}, {busiest}"
        )
        header = ("", *(f"{h:02d}" for h in range(24)))
        rows = [(day, *row) for day, row in zip(store["days"], store["matrix"], strict=True)]
        lines.extend(table(header, rows))
    if not report["stores"]:
        lines.append("(no stores)")
    return lines


def _lift_table(report: dict[str, Any]) -> list[str]:
    header = (
        "CAMPAIGN", "NAME", "STATUS", "USERS", "CONVERTERS", "RATE", "HOLDOUT USERS", "HOLDOUT CONVERTERS",
        "HOLDOUT RATE", "DIFFERENCE", "RELATIVE", "95% CI",
    )  # fmt: skip
    rows = []
    for c in report["campaigns"]:
        t, h = c["treatment"], c["holdout"]
        ci = c["ci95"]
        rows.append(
            (
                c["campaign_id"],
                c["name"],
                c["status"],
                t["users"],
                t["converters"],
                _pct(t["rate"]),
                h["users"],
                h["converters"],
                _pct(h["rate"]),
                _pp(c["difference"]),
                _pct(c["relative_lift"]),
                f"[{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}] pp" if ci else "-",
            )  # fmt: skip
        )
    minimum = (
        report["campaigns"][0]["minimum"] if report["campaigns"] else {"users_per_group": 30, "converters": 5}
    )
    body = table(header, rows, "lll" + "r" * 9) if rows else ["(no campaigns)"]
    return [
        _title("Lift over the holdout", report),
        *body,
        f"(the interval needs {minimum['users_per_group']} shoppers per group and "
        f"{minimum['converters']} converters in all)",
    ]


def _suppression_table(report: dict[str, Any]) -> list[str]:
    lines = [
        _title("Suppression", report),
        f"decided {report['decided']}, suppressed {report['suppressed']}",
    ]
    if report["reasons"]:
        reasons = [(r["reason"], r["count"], _pct(r["share"])) for r in report["reasons"]]
        lines += ["", *table(("REASON", "COUNT", "SHARE"), reasons)]
    if report["by_campaign"]:
        rows = [
            (
                c["campaign_id"],
                c["name"],
                c["decided"],
                c["suppressed"],
                ", ".join(f"{reason} {n}" for reason, n in c["reasons"].items()) or "-",
            )
            for c in report["by_campaign"]
        ]
        lines += ["", *table(("CAMPAIGN", "NAME", "DECIDED", "SUPPRESSED", "REASONS"), rows, "llrrl")]
    return lines


TABLES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "funnel": _funnel_table,
    "campaigns": _campaigns_table,
    "engagement": _engagement_table,
    "peak-hours": _peak_table,
    "lift": _lift_table,
    "suppression": _suppression_table,
}


# --- CSV: one header row, then plain values (rates as fractions, empty for none) -------------

LIFT_COLUMNS = (
    "treatment_users",
    "treatment_converters",
    "treatment_rate",
    "holdout_users",
    "holdout_converters",
    "holdout_rate",
    "difference",
    "relative_lift",
    "ci95_low",
    "ci95_high",
)


def _lift_values(lift: dict[str, Any]) -> list[Any]:
    t, h, ci = lift["treatment"], lift["holdout"], lift["ci95"] or [None, None]
    return [
        t["users"],
        t["converters"],
        t["rate"],
        h["users"],
        h["converters"],
        h["rate"],
        lift["difference"],
        lift["relative_lift"],
        *ci,
    ]


def _csv_rows(name: str, report: dict[str, Any]) -> list[Sequence[Any]]:
    if name == "funnel":
        steps = [
            [s["step"], s["count"], s["rate_from_previous"], s["rate_from_first"]] for s in report["steps"]
        ]
        extra = [["holdout", report["holdout"], None, None], ["suppressed", report["suppressed"], None, None]]
        return [["step", "count", "rate_from_previous", "rate_from_first"], *steps, *extra]
    if name == "campaigns":
        head = [
            "campaign_id",
            "name",
            "status",
            *domain.CAMPAIGN_METRICS,
            "engagement_rate",
            "conversion_rate",
        ]
        rows: list[Sequence[Any]] = [[*head, "lift_status", *LIFT_COLUMNS]]
        for c in report["campaigns"]:
            rows.append([*(c[k] for k in head), c["lift"]["status"], *_lift_values(c["lift"])])
        return rows
    if name == "engagement":
        fields = ["sent", "engaged", "converted", "engagement_rate", "conversion_rate"]
        rows = [[report["by"], "label", "t", *fields]]
        for s in report["series"]:
            rows += [[s["key"], s.get("label"), p["t"], *(p[k] for k in fields)] for p in s["points"]]
        return rows
    if name == "peak-hours":
        rows = [["store_id", "name", "timezone", "day", *(f"{h:02d}" for h in range(24)), "total"]]
        for store in report["stores"]:
            for day, counts in zip(store["days"], store["matrix"], strict=True):
                rows.append([store["store_id"], store["name"], store["timezone"], day, *counts, sum(counts)])
        return rows
    if name == "lift":
        rows = [["campaign_id", "name", "status", *LIFT_COLUMNS]]
        rows += [[c["campaign_id"], c["name"], c["status"], *_lift_values(c)] for c in report["campaigns"]]
        return rows
    # suppression: the totals first (campaign_id empty), then per campaign; share of that row's
    # suppressed offers
    rows = [["campaign_id", "name", "decided", "suppressed", "reason", "count", "share"]]
    rows += [
        ["", "all campaigns", report["decided"], report["suppressed"], r["reason"], r["count"], r["share"]]
        for r in report["reasons"]
    ]
    for c in report["by_campaign"]:
        for reason, n in c["reasons"].items():
            share = domain.rate(n, c["suppressed"])
            rows.append([c["campaign_id"], c["name"], c["decided"], c["suppressed"], reason, n, share])
    return rows


def _csv(name: str, report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in _csv_rows(name, report):
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()
