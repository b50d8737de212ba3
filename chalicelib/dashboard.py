"""The admin dashboard: one self-contained HTML page rendered from the reports' data.

Owns presentation only: ``render(data)`` turns the dict the /admin/dashboard route builds (the
funnel, campaigns with lift, engagement over time, peak hours and suppression reports, plus the
filters and their options) into a page with no external asset: inline CSS, charts as inline
SVG drawn here, filters as a GET form (the page reloads with ``?from=&to=&store=&campaign=
&moment=&metric=``, ``metric`` choosing what the peak-hours heatmaps count). A few lines of inline JS only drop empty filters from the URL; without JS the
form works the same. It reads well at 390 px (tables turn into cards) and on a laptop.

Every string taken from ``data`` is escaped (campaign and store names are user-supplied).
Missing sections or keys render as empty, never as an error.

Hooks for tests (stable): ``id="funnel"`` with ``data-step`` / ``data-count`` rows;
``id="heatmap-{store_id}"`` with ``data-day`` (the day's label) / ``data-hour`` /
``data-count`` cells (stores with activity, busiest first, at most ``HEATMAP_STORES``; the rest
counted in ``data-more-stores``, stores with none in ``data-quiet-stores``);
``id="campaigns"`` with ``data-campaign`` rows (the ``CAMPAIGN_ROWS`` that decided most, the
rest counted in ``data-more-campaigns``), lift cells with ``data-status`` and group cells with
``data-group`` / ``data-users`` / ``data-converters``; ``id="suppression"`` with
``data-reason`` / ``data-count`` rows (campaigns: the ``SUPPRESSION_ROWS`` with most, then
``data-more-campaigns``); ``data-kpi`` tiles. So the page stays small (tens of KB) whatever the
number of campaigns and stores: every list on it is capped, and the complete lists are the
JSON/CSV reports' pages.

Standard library only, imported lazily by the route; imports nothing from the project.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

STEP_LABELS = {
    "moments": "Moments",
    "eligible": "Eligible",
    "sent": "Sent",
    "opened": "Opened",
    "clicked": "Clicked",
    "redeemed": "Redeemed",
}
STEP_HELP = {  # the report's own ``definitions`` win when it has them
    "moments": "moments that could trigger an offer",
    "eligible": "moments that got an offer decision (treatment, holdout or suppressed)",
    "sent": "accepted by SES / SNS",
    "opened": "opened or clicked (email reports no opens)",
    "clicked": "first click",
    "redeemed": "code redeemed (at a till no click is needed)",
}
METRIC_LABELS = {  # the heatmaps' metric, in the filter form
    "moments": "Moments (scans, visits, videos)",
    "sent": "Offers sent",
    "engaged": "Offers opened or clicked",
    "redeemed": "Offers redeemed",
}
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_CHARTS = 6
DASH = "\u2014"
ELLIPSIS = "\u2026"
MIDDOT = " \u00b7 "


# --- formatting --------------------------------------------------------------------------------


def _e(value: Any) -> str:
    """Escaped text for element content and (double-quoted) attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def _int(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _num(value: Any) -> str:
    return f"{_int(value):,}"


def _pct(rate: Any, digits: int = 1) -> str:
    """0.125 -> '12.5 %'; None -> an em dash."""
    number = _float(rate)
    return DASH if number is None else f"{number * 100:.{digits}f} %"


def _pp(difference: Any) -> str:
    """A difference of two rates in percentage points, signed: 0.05 -> '+5.0 pp'."""
    number = _float(difference)
    if number is None:
        return DASH
    text = f"{abs(number) * 100:.1f}"
    sign = "\u2212" if number < 0 and text.strip("0.") else "+"
    return f"{sign}{text} pp"


def _signed_pct(rate: Any) -> str:
    number = _float(rate)
    if number is None:
        return DASH
    text = f"{abs(number) * 100:.1f}"
    sign = "\u2212" if number < 0 and text.strip("0.") else "+"
    return f"{sign}{text} %"


def _share(rate: float | None, of: str) -> str:
    """'50.0 % of sent', or nothing when there is nothing to divide by."""
    return "" if rate is None else f"{_pct(rate)} {of}"


def _ratio(part: Any, whole: Any) -> float | None:
    return _int(part) / _int(whole) if _int(whole) else None


def _label(code: Any) -> str:
    """``quiet_hours`` -> 'Quiet hours' (codes are shown as is in a tooltip)."""
    text = str(code or "").replace("_", " ").replace(":", ": ").strip()
    return text[:1].upper() + text[1:] if text else "Unknown"


def _short_time(value: Any) -> str:
    """'2026-11-17' -> 'Nov 17'; '2026-11-17T14...' -> 'Nov 17 14h'; anything else as is."""
    text = str(value or "")
    try:
        month = int(text[5:7])
        day = int(text[8:10])
        label = f"{MONTHS[month - 1]} {day}"
    except (ValueError, IndexError):
        return text
    if len(text) >= 13 and text[10] in "T ":
        return f"{label} {text[11:13]}h"
    return label


def _bar(count: Any, largest: int, css: str) -> str:
    """A horizontal bar, its length ``count`` of ``largest``; an empty track for zero."""
    fill = ""
    if _int(count) > 0 and largest > 0:
        fill = f'<span class="fill {css}" style="width:{100.0 * _int(count) / largest:.1f}%"></span>'
    return f'<span class="bar" aria-hidden="true">{fill}</span>'


def _section(section_id: str, title: str, body: str, note: str = "", extra_class: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    classes = f"card {extra_class}".strip()
    return (
        f'<section id="{_e(section_id)}" class="{classes}" aria-labelledby="{_e(section_id)}-title">'
        f'<h2 id="{_e(section_id)}-title">{title}</h2>{note_html}{body}</section>'
    )


def _empty(text: str) -> str:
    return f'<p class="empty">{text}</p>'


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


# --- the page ----------------------------------------------------------------------------------


def render(data: Mapping[str, Any] | None) -> str:
    """The dashboard page for ``data`` (see the module docstring), as a complete HTML document."""
    data = _dict(data)
    filters = _dict(data.get("filters"))
    options = _dict(data.get("options"))
    campaign_names = {
        str(c.get("campaign_id")): str(c.get("name") or c.get("campaign_id"))
        for c in map(_dict, _list(options.get("campaigns")))
    }
    store_names = {
        str(s.get("store_id")): str(s.get("name") or s.get("store_id"))
        for s in map(_dict, _list(options.get("stores")))
    }
    funnel = _dict(data.get("funnel"))
    campaigns = [_dict(c) for c in _list(_dict(data.get("campaigns")).get("campaigns"))]
    for campaign in campaigns:
        campaign_names.setdefault(
            str(campaign.get("campaign_id")), str(campaign.get("name") or campaign.get("campaign_id"))
        )
    steps = {str(s.get("step")): s for s in map(_dict, _list(funnel.get("steps")))}
    nothing_yet = not any(_int(s.get("count")) for s in steps.values()) and not any(
        _int(c.get("decided")) for c in campaigns
    )
    parts = [
        _header(data, filters),
        _filters_form(filters, options),
        _empty_state() if nothing_yet else "",
        _kpis(funnel, steps, campaigns),
        '<div class="cols">',
        _funnel(funnel),
        _suppression(_dict(data.get("suppression"))),
        "</div>",
        _engagement(_dict(data.get("engagement")), campaign_names, store_names),
        _peak_hours(_dict(data.get("peak_hours"))),
        _campaigns(campaigns, _int(_dict(_dict(data.get("campaigns")).get("page")).get("total"))),
        _footer(data),
    ]
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        '<meta name="robots" content="noindex">'
        '<meta name="referrer" content="no-referrer">'
        '<link rel="icon" href="data:,">'  # no favicon request
        "<title>Offers dashboard \u00b7 micromoments</title>"
        f"<style>{CSS}</style></head>"
        f"<body><main>{''.join(parts)}</main><script>{SCRIPT}</script></body></html>\n"
    )


def _header(data: Mapping[str, Any], filters: Mapping[str, Any]) -> str:
    period = f"{_e(filters.get('from') or ELLIPSIS)} \u2013 {_e(filters.get('to') or ELLIPSIS)}"
    generated = data.get("generated_at")
    generated_html = (
        f' \u00b7 generated <time datetime="{_e(generated)}">{_e(str(generated)[:16].replace("T", " "))} UTC</time>'
        if generated
        else ""
    )
    return (
        '<header class="top"><div><p class="brand">micromoments</p>'
        "<h1>Offers dashboard</h1>"
        f'<p class="sub">{period}{generated_html}</p></div></header>'
    )


def _select(name: str, label: str, all_label: str, choices: Iterable[tuple[str, str]], value: Any) -> str:
    selected = "" if value is None else str(value)
    seen = False
    rendered = [f'<option value="">{_e(all_label)}</option>']
    for key, text in choices:
        is_selected = key == selected and selected != ""
        seen = seen or is_selected
        rendered.append(f'<option value="{_e(key)}"{" selected" if is_selected else ""}>{_e(text)}</option>')
    if selected and not seen:  # a filter no longer among the options still round-trips
        rendered.append(f'<option value="{_e(selected)}" selected>{_e(selected)}</option>')
    return (
        f'<label class="field"><span>{_e(label)}</span>'
        f'<select name="{_e(name)}">{"".join(rendered)}</select></label>'
    )


def _filters_form(filters: Mapping[str, Any], options: Mapping[str, Any]) -> str:
    stores = [
        (str(s.get("store_id")), str(s.get("name") or s.get("store_id")))
        for s in map(_dict, _list(options.get("stores")))
    ]
    campaigns = [
        (str(c.get("campaign_id")), str(c.get("name") or c.get("campaign_id")))
        for c in map(_dict, _list(options.get("campaigns")))
    ]
    moments = [(str(m), str(m).replace("_", " ")) for m in _list(options.get("moments"))]
    metrics = [(str(m), METRIC_LABELS.get(str(m), _label(m))) for m in _list(options.get("metrics"))]
    metric_field = ""
    if metrics:
        chosen = str(filters.get("metric") or metrics[0][0])
        metric_field = (
            '<label class="field"><span>Peak hours of</span><select name="metric">'
            + "".join(
                f'<option value="{_e(key)}"{" selected" if key == chosen else ""}>{_e(text)}</option>'
                for key, text in metrics
            )
            + "</select></label>"
        )
    return (
        '<form class="filters card" method="get" role="search" aria-label="Filters">'
        f'<label class="field"><span>From</span><input type="date" name="from" value="{_e(filters.get("from") or "")}"></label>'
        f'<label class="field"><span>To</span><input type="date" name="to" value="{_e(filters.get("to") or "")}"></label>'
        + _select("store", "Store", "All stores", stores, filters.get("store"))
        + _select("campaign", "Campaign", "All campaigns", campaigns, filters.get("campaign"))
        + _select("moment", "Moment", "All moments", moments, filters.get("moment"))
        + metric_field
        + '<div class="actions"><button type="submit">Apply</button>'
        '<a class="reset" href="?">Reset</a></div></form>'
    )


def _empty_state() -> str:
    return (
        '<div class="card empty-state" id="empty-state" role="status">'
        "<h2>No offers counted yet</h2>"
        "<p>Nothing has been counted for these filters. Counters fill in as moments arrive and offers "
        "are decided; widen the dates, clear a filter, or play a shopper's day with "
        "<code>make demo</code> against the local stack.</p></div>"
    )


def _kpis(funnel: Mapping[str, Any], steps: Mapping[str, Any], campaigns: list[dict[str, Any]]) -> str:
    def count(step: str) -> int:
        return _int(_dict(steps.get(step)).get("count"))

    sent = count("sent")
    engaged = count("opened")  # the funnel's "opened" is opened or clicked: engaged
    tiles = [
        ("moments", "Moments", count("moments"), ""),
        (
            "eligible",
            "Eligible",
            count("eligible"),
            _share(_ratio(count("eligible"), count("moments")), "of moments"),
        ),
        ("sent", "Sent", sent, _share(_ratio(sent, count("eligible")), "of eligible")),
        ("engaged", "Engaged", engaged, _share(_ratio(engaged, sent), "of sent")),
        ("redeemed", "Redeemed", count("redeemed"), _share(_ratio(count("redeemed"), sent), "of sent")),
        (
            "suppressed",
            "Suppressed",
            _int(funnel.get("suppressed")),
            _share(_ratio(funnel.get("suppressed"), count("eligible")), "of eligible"),
        ),
        ("holdout", "Holdout", _int(funnel.get("holdout")), "control group, never sent"),
    ]
    if funnel.get("shoppers") is not None:  # not kept per store, campaign or moment type
        tiles.insert(
            0, ("shopper_days", "Shopper-days", _int(funnel.get("shoppers")), "active per day, summed")
        )
    if funnel.get("unique_shoppers") is not None:
        unique = ("shoppers", "Shoppers", _int(funnel.get("unique_shoppers")), "distinct in the range, ±3 %")
        tiles.insert(0, unique)
    rendered = "".join(
        f'<div class="kpi" data-kpi="{key}" data-count="{value}"><span class="kpi-label">{label}</span>'
        f'<strong class="kpi-value">{_num(value)}</strong><span class="kpi-sub">{_e(sub)}</span></div>'
        for key, label, value, sub in tiles
    )
    return f'<section id="kpis" class="kpis" aria-label="Key figures">{rendered}</section>'


def _funnel(funnel: Mapping[str, Any]) -> str:
    steps = [_dict(s) for s in _list(funnel.get("steps"))]
    if not steps:
        return _section("funnel", "Funnel", _empty("No funnel yet for these filters."))
    largest = max((_int(s.get("count")) for s in steps), default=0)
    definitions = _dict(funnel.get("definitions"))
    first = STEP_LABELS.get(str(steps[0].get("step")), _label(steps[0].get("step"))).lower()
    rows = []
    for index, step in enumerate(steps):
        name = str(step.get("step"))
        rates = []
        if index > 0 and _float(step.get("rate_from_previous")) is not None:
            rates.append(f'<span class="num">{_pct(step.get("rate_from_previous"))}</span> of previous')
        if index > 1 and _float(step.get("rate_from_first")) is not None:
            rates.append(f'<span class="num">{_pct(step.get("rate_from_first"))}</span> of {_e(first)}')
        rows.append(
            f'<li class="funnel-row" data-step="{_e(name)}" data-count="{_int(step.get("count"))}">'
            f'<span class="funnel-label" title="{_e(definitions.get(name) or STEP_HELP.get(name, name))}">'
            f"{_e(STEP_LABELS.get(name, _label(name)))}</span>"
            + _bar(step.get("count"), largest, f"step-{index % 6}")
            + f'<strong class="funnel-count num">{_num(step.get("count"))}</strong>'
            f'<span class="rates">{MIDDOT.join(rates)}</span></li>'
        )
    aside = (
        f'<p class="note">Of the eligible: <strong data-holdout="{_int(funnel.get("holdout"))}">'
        f"{_num(funnel.get('holdout'))}</strong> in holdout (never sent, to measure lift), "
        f'<strong data-suppressed="{_int(funnel.get("suppressed"))}">{_num(funnel.get("suppressed"))}'
        "</strong> suppressed by a guardrail. Opened counts offers opened or clicked (email "
        "reports no opens); a code redeemed at the till needs no click.</p>"
    )
    return _section("funnel", "Funnel", f'<ol class="funnel">{"".join(rows)}</ol>{aside}')


# --- engagement over time ----------------------------------------------------------------------


def _nice_ceiling(value: float) -> float:
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if value <= step + 1e-12:
            return step
    return math.ceil(value)


def _line_chart(points: list[dict[str, Any]]) -> str:
    width, height = 320, 150
    left, right, top, bottom = 40, 10, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    rates = [
        r
        for p in points
        for r in (_float(p.get("engagement_rate")), _float(p.get("conversion_rate")))
        if r is not None
    ]
    y_max = _nice_ceiling(max(rates, default=0.0) or 0.01)
    volume_max = max((_int(p.get("sent")) for p in points), default=0)
    n = len(points)
    slot = plot_w / max(n, 1)

    def x(i: int) -> float:
        return left + slot * (i + 0.5)

    def y(rate: float) -> float:
        return top + plot_h * (1 - min(rate, y_max) / y_max)

    parts = [
        f'<svg class="chart-svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Engagement and conversion rate over time">'
    ]
    for fraction in (0.0, 0.5, 1.0):
        gy = top + plot_h * (1 - fraction)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{gy:.1f}" y2="{gy:.1f}"/>'
            f'<text class="axis" x="{left - 4}" y="{gy + 3:.1f}" text-anchor="end">'
            f"{_e(_pct(y_max * fraction, 0 if y_max * fraction * 100 >= 10 or fraction == 0 else 1))}</text>"
        )
    bar_w = max(min(slot * 0.6, 24), 1.5)
    for i, point in enumerate(points):  # volume: faint bars along the bottom third
        sent = _int(point.get("sent"))
        if volume_max and sent:
            bh = plot_h * 0.35 * sent / volume_max
            parts.append(
                f'<rect class="volume" x="{x(i) - bar_w / 2:.1f}" y="{top + plot_h - bh:.1f}" '
                f'width="{bar_w:.1f}" height="{bh:.1f}"><title>{_e(_short_time(point.get("t")))}: '
                f"{_num(sent)} sent</title></rect>"
            )
    for key, css in (("engagement_rate", "line-engaged"), ("conversion_rate", "line-converted")):
        coords = [(x(i), y(r)) for i, p in enumerate(points) if (r := _float(p.get(key))) is not None]
        if len(coords) > 1:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
            parts.append(f'<polyline class="{css}" points="{path}"/>')
        for i, point in enumerate(points):
            rate = _float(point.get(key))
            if rate is not None:
                what = "engaged" if key == "engagement_rate" else "converted"
                parts.append(
                    f'<circle class="{css}" cx="{x(i):.1f}" cy="{y(rate):.1f}" r="2.5">'
                    f"<title>{_e(_short_time(point.get('t')))}: {_e(_pct(rate))} {what}</title></circle>"
                )
    label_at = sorted({0, n // 2, n - 1}) if n > 2 else list(range(n))
    for i in label_at:
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        lx = left if anchor == "start" else width - right if anchor == "end" else x(i)
        parts.append(
            f'<text class="axis" x="{lx:.1f}" y="{height - 6}" text-anchor="{anchor}">'
            f"{_e(_short_time(points[i].get('t')))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _engagement(
    engagement: Mapping[str, Any], campaign_names: Mapping[str, str], store_names: Mapping[str, str]
) -> str:
    series = [_dict(s) for s in _list(engagement.get("series"))]
    by = str(engagement.get("by") or "")
    interval = str(engagement.get("interval") or "")
    note = "Engagement (opened or clicked) and conversion as a share of offers sent"
    note += f", per {_e(interval)}" if interval else ""
    note += "; bars: offers sent."
    legend = (
        '<p class="legend"><span><span class="swatch s-engaged"></span>Engagement rate</span>'
        '<span><span class="swatch s-converted"></span>Conversion rate</span>'
        '<span><span class="swatch s-volume"></span>Sent</span></p>'
    )

    def total(s: dict[str, Any], field: str) -> int:
        return sum(_int(p.get(field)) for p in map(_dict, _list(s.get("points"))))

    active = sorted(
        (s for s in series if _list(s.get("points"))), key=lambda s: total(s, "sent"), reverse=True
    )
    if not active or not any(total(s, "sent") for s in active):
        return _section(
            "engagement", "Engagement over time", _empty("No offers sent in this range yet."), note
        )
    shown = active[:MAX_CHARTS]
    if len(active) > len(shown):
        note += f" The {len(shown)} busiest of {len(active)} are shown."
    names = campaign_names if by == "campaign" else store_names if by == "store" else {}
    charts = []
    for s in shown:
        key = str(s.get("key"))
        sent, engaged, converted = total(s, "sent"), total(s, "engaged"), total(s, "converted")
        label = str(s.get("label") or "")
        title = (
            label if label and label != key else names.get(key) or (_label(key) if by == "moment" else key)
        )
        charts.append(
            f'<figure class="chart" data-key="{_e(key)}"><figcaption><strong>{_e(title)}</strong>'
            f'<span class="muted">{_num(sent)} sent \u00b7 {_pct(_ratio(engaged, sent))} engaged \u00b7 '
            f"{_pct(_ratio(converted, sent))} converted</span></figcaption>"
            f"{_line_chart([_dict(p) for p in _list(s.get('points'))])}</figure>"
        )
    return _section(
        "engagement", "Engagement over time", legend + f'<div class="charts">{"".join(charts)}</div>', note
    )


# --- peak hours --------------------------------------------------------------------------------

HEATMAP_STORES = 12  # heatmaps drawn without a store filter (about 25 KB of SVG each)
QUIET_NAMES = 20  # stores with nothing counted, named before "and N more"


def _counted(count: Any, metric: str) -> str:
    """'12 moments', '1 moment', '3 sent'."""
    noun = metric[:-1] if _int(count) == 1 and metric.endswith("s") else metric
    return f"{_num(count)} {_e(noun)}"


def _heat_level(count: int, largest: int) -> int:
    if count <= 0 or largest <= 0:
        return 0
    return max(1, min(5, math.ceil(5 * count / largest)))


def _heatmap(store: Mapping[str, Any], metric: str) -> str:
    store_id = str(store.get("store_id"))
    name = str(store.get("name") or store_id)
    zone = str(store.get("timezone") or "UTC")
    days = [str(d) for d in _list(store.get("days"))] or list(DAYS)
    matrix = [[_int(v) for v in _list(row)] for row in _list(store.get("matrix"))]
    largest = max((v for row in matrix for v in row), default=0)
    cell, step, left, top = 14, 16, 34, 16
    width, height = left + 24 * step, top + len(days) * step
    parts = [
        f'<svg class="heat-svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(metric)} by weekday and hour at {_e(name)}, local time {_e(zone)}">'
    ]
    for hour in range(0, 24, 3):
        parts.append(
            f'<text class="axis" x="{left + hour * step + cell / 2}" y="{top - 5}" '
            f'text-anchor="middle">{hour:02d}</text>'
        )
    for row, day in enumerate(days):
        values = matrix[row] if row < len(matrix) else []
        y = top + row * step
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{y + cell - 3}" text-anchor="end">{_e(day)}</text>'
        )
        for hour in range(24):
            count = values[hour] if hour < len(values) else 0
            parts.append(
                f'<rect class="h{_heat_level(count, largest)}" x="{left + hour * step}" y="{y}" '
                f'width="{cell}" height="{cell}" rx="2" data-day="{_e(day)}" data-hour="{hour}" '
                f'data-count="{count}"><title>{_e(day)} {hour:02d}:00\u2013{(hour + 1) % 24:02d}:00: '
                f"{_counted(count, metric)}</title></rect>"
            )
    parts.append("</svg>")
    peak = _dict(store.get("peak"))
    if peak and _int(peak.get("count")):
        hour = _int(peak.get("hour"))
        peak_html = (
            f'Busiest: <strong class="peak" data-day="{_e(peak.get("day"))}" data-hour="{hour}" '
            f'data-count="{_int(peak.get("count"))}">{_e(peak.get("day"))} {hour:02d}:00\u2013'
            f"{(hour + 1) % 24:02d}:00</strong> ({_counted(peak.get('count'), metric)})"
        )
    else:
        peak_html = f"No {_e(metric)} counted here yet."
    scale = "".join(f'<span class="key h{level}"></span>' for level in range(6))
    return (
        f'<figure class="heatmap" id="heatmap-{_e(store_id)}" data-store="{_e(store_id)}" '
        f'data-total="{_int(store.get("total"))}">'
        f"<figcaption><strong>{_e(name)}</strong>"
        f'<span class="muted">Local time: {_e(zone)} \u00b7 {_counted(store.get("total"), metric)}'
        + (
            ' \u00b7 <span data-approximate="1" title="Counters are kept per UTC hour; this time '
            "zone is offset by a part of an hour, so each cell holds the UTC hour that mostly "
            'overlaps it">hours within 30 min</span>'
            if store.get("hour_aligned") is False
            else ""
        )
        + "</span></figcaption>"
        f'<div class="heat-scroll">{"".join(parts)}</div>'
        f'<p class="heat-foot"><span>{peak_html}</span><span class="scale" aria-hidden="true">less '
        f"{scale} more</span></p></figure>"
    )


def _store_total(store: Mapping[str, Any]) -> int:
    if "total" in store:
        return _int(store.get("total"))
    return sum(_int(v) for row in _list(store.get("matrix")) for v in _list(row))


def _store_names(stores: list[dict[str, Any]], most: int = QUIET_NAMES) -> str:
    names = [_e(str(s.get("name") or s.get("store_id"))) for s in stores[:most]]
    rest = len(stores) - len(names)
    return ", ".join(names) + (f" and {rest:,} more" if rest > 0 else "")


def _peak_hours(peak_hours: Mapping[str, Any]) -> str:
    """One heatmap per store with activity, busiest first, at most ``HEATMAP_STORES`` of them
    (a chain's hundreds of stores would make a page of megabytes, past Lambda's 6 MB response
    limit): the rest are counted, and a store picked in the filter always gets its heatmap.
    Stores with nothing in the range are named, not drawn."""
    metric = str(peak_hours.get("metric") or "moments").replace("_", " ")
    stores = [_dict(s) for s in _list(peak_hours.get("stores"))]
    label = METRIC_LABELS.get(str(peak_hours.get("metric") or "moments"), _label(metric))
    note = f"{_e(label)} per weekday and hour, in each store's own time zone."
    chosen = _dict(peak_hours.get("filters")).get("store")
    if chosen is not None:
        shown, more, quiet = stores, [], []
    else:
        active = sorted((s for s in stores if _store_total(s) > 0), key=lambda s: -_store_total(s))
        shown, more = active[:HEATMAP_STORES], active[HEATMAP_STORES:]
        quiet = [s for s in stores if _store_total(s) <= 0]
    body = f'<div class="heatmaps">{"".join(_heatmap(s, metric) for s in shown)}</div>' if shown else ""
    if more:
        body += (
            f'<p class="more-stores" data-more-stores="{len(more)}">{len(more):,} more '
            f"store{'s' if len(more) != 1 else ''} with {_e(metric)} in this range: the busiest "
            f"{len(shown)} are shown. Pick a store in the filters above to see its hours.</p>"
        )
    if quiet:
        body += (
            f'<p class="quiet-stores" data-quiet-stores="{len(quiet)}">No {_e(metric)} in this range at '
            f"{_store_names(quiet)}.</p>"
        )
    if not body:
        body = _empty("No stores with activity in this range.")
    return _section("peak-hours", "Peak hours", body, note)


# --- campaigns and lift ------------------------------------------------------------------------


def _ci_plot(low: float, high: float, difference: float) -> str:
    """A tiny forest plot: the interval against zero."""
    span = max(abs(low), abs(high), abs(difference), 1e-9) * 1.1
    width, mid = 120, 60

    def x(value: float) -> float:
        return mid + (width / 2 - 4) * value / span

    css = "ci-up" if low > 0 else "ci-down" if high < 0 else "ci-zero"
    return (
        f'<svg class="ci" viewBox="0 0 {width} 14" aria-hidden="true">'
        f'<line class="zero" x1="{mid}" x2="{mid}" y1="1" y2="13"/>'
        f'<line class="{css}" x1="{x(low):.1f}" x2="{x(high):.1f}" y1="7" y2="7"/>'
        f'<circle class="{css}" cx="{x(difference):.1f}" cy="7" r="3"/></svg>'
    )


def _group_cell(label: str, group: str, values: Mapping[str, Any]) -> str:
    users, converters = _int(values.get("users")), _int(values.get("converters"))
    return (
        f'<td data-label="{_e(label)}" data-group="{group}" data-users="{users}" '
        f'data-converters="{converters}"><span class="num">{_pct(values.get("rate"))}</span>'
        f'<span class="muted">{_num(converters)} of {_num(users)} users</span></td>'
    )


def _lift_cell(lift: Mapping[str, Any]) -> str:
    status = str(lift.get("status") or "not_enough_data")
    minimum = _dict(lift.get("minimum"))
    method = str(lift.get("method") or "")
    if status == "inconsistent":
        return (
            f'<td class="lift" data-label="Lift" data-status="{_e(status)}">'
            '<span class="badge badge-wait">Check counts</span>'
            '<span class="muted">more converters than shoppers: counters from before cohorts</span></td>'
        )
    if status != "ok":
        need_users = _int(minimum.get("users_per_group")) or 30
        need_conv = _int(minimum.get("converters")) or 5
        return (
            f'<td class="lift" data-label="Lift" data-status="{_e(status)}">'
            '<span class="badge badge-wait">Not enough data</span>'
            f'<span class="muted">needs {_num(need_users)} users per group and {_num(need_conv)} '
            "converters</span></td>"
        )
    difference = _float(lift.get("difference"))
    ci = [_float(v) for v in _list(lift.get("ci95"))]
    low, high = (ci[0], ci[1]) if len(ci) == 2 and None not in ci else (None, None)
    verdict, plot = "", ""
    if low is not None and high is not None:
        verdict = (
            '<span class="badge badge-up">Lift</span>'
            if low > 0
            else '<span class="badge badge-down">Negative</span>'
            if high < 0
            else '<span class="badge badge-flat">Inconclusive</span>'
        )
        plot = _ci_plot(low, high, difference or 0.0)
    relative = _float(lift.get("relative_lift"))
    return (
        f'<td class="lift" data-label="Lift" data-status="ok" data-difference="{_e(lift.get("difference"))}" '
        f'title="{_e(method)}"><span class="lift-main"><span class="num">{_pp(difference)}</span>{verdict}</span>'
        f'<span class="muted">95 % CI {_pp(low)} to {_pp(high)}</span>{plot}'
        + (f'<span class="muted">{_signed_pct(relative)} relative</span>' if relative is not None else "")
        + "</td>"
    )


CAMPAIGN_ROWS = 20  # campaigns in the table, most decided first; the rest counted
SUPPRESSION_ROWS = 10  # campaigns in the suppression table, most suppressed first


def _more(count: int, what: str, where: str) -> str:
    return (
        f'<p class="more" data-more-{what}="{count}">{count:,} more {what if count != 1 else what[:-1]} '
        f"{where}</p>"
    )


def _campaigns(campaigns: list[dict[str, Any]], total: int = 0) -> str:
    note = (
        "Lift compares converters among shoppers who were sent offers (treatment) with the holdout "
        "group, who never were: the difference in conversion rate with its 95 % confidence interval. "
        "Each group is the cohort of shoppers the campaign first reached in this range, and how many "
        "of them have converted so far."
    )
    if not campaigns:
        return _section("campaigns", "Campaigns and lift", _empty("No campaign decided any offer yet."), note)
    head = (
        "<thead><tr><th>Campaign</th><th>Decided</th><th>Sent</th><th>Engagement</th>"
        "<th>Conversion</th><th>Treatment</th><th>Holdout</th><th>Lift (treatment \u2212 holdout)</th>"
        "</tr></thead>"
    )
    rows = []
    ranked = sorted(campaigns, key=lambda c: (-_int(c.get("decided")), str(c.get("name") or "")))
    for c in ranked[:CAMPAIGN_ROWS]:
        lift = _dict(c.get("lift"))
        campaign_id = str(c.get("campaign_id"))
        status = str(c.get("status") or "")
        rows.append(
            f'<tr data-campaign="{_e(campaign_id)}">'
            f'<th scope="row" data-label="Campaign"><span class="name">{_e(c.get("name") or campaign_id)}</span>'
            f'<span class="muted">{_e(campaign_id)}'
            + (f' <span class="badge badge-{_e(status)}">{_e(status)}</span>' if status else "")
            + "</span></th>"
            f'<td data-label="Decided" data-count="{_int(c.get("decided"))}"><span class="num">{_num(c.get("decided"))}</span>'
            f'<span class="muted">{_num(c.get("holdout"))} holdout \u00b7 {_num(c.get("suppressed"))} suppressed</span></td>'
            f'<td data-label="Sent" data-count="{_int(c.get("sent"))}"><span class="num">{_num(c.get("sent"))}</span>'
            f'<span class="muted">{_num(c.get("delivered"))} delivered</span></td>'
            f'<td data-label="Engagement"><span class="num">{_pct(c.get("engagement_rate"))}</span>'
            f'<span class="muted">{_num(c.get("opened"))} opened \u00b7 {_num(c.get("clicked"))} clicked</span></td>'
            f'<td data-label="Conversion"><span class="num">{_pct(c.get("conversion_rate"))}</span>'
            f'<span class="muted">{_num(c.get("redeemed"))} redeemed</span></td>'
            + _group_cell("Treatment", "treatment", _dict(lift.get("treatment")))
            + _group_cell("Holdout", "holdout", _dict(lift.get("holdout")))
            + _lift_cell(lift)
            + "</tr>"
        )
    table = f'<div class="table-wrap"><table class="stack">{head}<tbody>{"".join(rows)}</tbody></table></div>'
    more = max(total, len(campaigns)) - len(rows)
    if more > 0:
        table += _more(
            more,
            "campaigns",
            f"in this range: the {len(rows)} that decided most are shown. Pick a campaign in the "
            "filters, or read them all from the campaigns report (<code>python -m cli reports "
            "campaigns --format csv</code>).",
        )
    return _section("campaigns", "Campaigns and lift", table, note)


# --- suppression -------------------------------------------------------------------------------


def _suppression(suppression: Mapping[str, Any]) -> str:
    decided, suppressed = _int(suppression.get("decided")), _int(suppression.get("suppressed"))
    reasons = [_dict(r) for r in _list(suppression.get("reasons"))]
    note = (
        f'<strong data-count="{suppressed}">{_num(suppressed)}</strong> of {_num(decided)} eligible offers '
        f"were stopped by a guardrail{f' ({_pct(_ratio(suppressed, decided))})' if decided else ''}."
    )
    if not reasons or not suppressed:
        return _section("suppression", "Why offers were not sent", _empty("No offer was suppressed."), note)
    largest = max((_int(r.get("count")) for r in reasons), default=0)
    rows = "".join(
        f'<li class="reason-row" data-reason="{_e(r.get("reason"))}" data-count="{_int(r.get("count"))}">'
        f'<span class="reason-label" title="{_e(r.get("reason"))}">{_e(_label(r.get("reason")))}</span>'
        + _bar(r.get("count"), largest, "warn")
        + f'<span class="reason-num"><strong>{_num(r.get("count"))}</strong> '
        f'<span class="num muted">{_pct(r.get("share"))}</span></span></li>'
        for r in sorted(reasons, key=lambda r: -_int(r.get("count")))
    )
    suppressing = [
        _dict(c) for c in _list(suppression.get("by_campaign")) if _int(_dict(c).get("suppressed"))
    ]
    by_campaign = sorted(suppressing, key=lambda c: -_int(c.get("suppressed")))[:SUPPRESSION_ROWS]
    table = ""
    if by_campaign:
        body = "".join(
            f'<tr data-campaign="{_e(c.get("campaign_id"))}"><th scope="row" data-label="Campaign">'
            f'<span class="name">{_e(c.get("name") or c.get("campaign_id"))}</span></th>'
            f'<td data-label="Suppressed"><span class="num">{_num(c.get("suppressed"))}</span>'
            f'<span class="muted">of {_num(c.get("decided"))}</span></td>'
            f'<td data-label="Reasons"><span class="reason-list">'
            + ", ".join(
                f'<span data-reason="{_e(k)}" data-count="{_int(v)}">{_e(_label(k))} {_num(v)}</span>'
                for k, v in sorted(_dict(c.get("reasons")).items(), key=lambda kv: -_int(kv[1]))
            )
            + "</span></td></tr>"
            for c in by_campaign
        )
        table = (
            '<div class="table-wrap"><table class="stack compact"><thead><tr><th>Campaign</th>'
            f"<th>Suppressed</th><th>Reasons</th></tr></thead><tbody>{body}</tbody></table></div>"
        )
        if len(suppressing) > len(by_campaign):
            table += _more(
                len(suppressing) - len(by_campaign),
                "campaigns",
                f"with suppressed offers: the {len(by_campaign)} with most are shown.",
            )
    return _section(
        "suppression", "Why offers were not sent", f'<ol class="reasons">{rows}</ol>{table}', note
    )


def _footer(data: Mapping[str, Any]) -> str:
    return (
        '<footer class="foot">Counts come from per-hour offer counters, written with the ledger in one '
        "transaction (exactly once). Holdout shoppers are never sent an offer; they measure what the "
        "offers caused. Times in the heatmaps are each store's local time.</footer>"
    )


SCRIPT = (
    # Progressive enhancement: leave empty filters out of the URL (and re-enable them on back).
    "(function(){var f=document.querySelector('form.filters');if(!f)return;"
    "f.addEventListener('submit',function(){for(var i=0;i<f.elements.length;i++){var el=f.elements[i];"
    "if(el.name&&!el.value)el.disabled=true;}});"
    "window.addEventListener('pageshow',function(){for(var i=0;i<f.elements.length;i++)"
    "f.elements[i].disabled=false;});})();"
)

CSS = """
:root{--bg:#f5f6fa;--card:#fff;--text:#1b1f2a;--muted:#667085;--line:#e4e7ec;--accent:#4f46e5;
--accent2:#0d9488;--warn:#d97706;--up:#15803d;--down:#b91c1c;--track:#eef0f5;
--h0:#eef0f5;--h1:#dcdcfb;--h2:#b4b2f5;--h3:#8a84ec;--h4:#5f56dd;--h5:#3b30b8}
@media (prefers-color-scheme:dark){:root{--bg:#0e1016;--card:#171a23;--text:#e6e8ee;--muted:#9aa3b2;
--line:#2a2f3c;--accent:#8b85ff;--accent2:#2dd4bf;--warn:#f59e0b;--up:#4ade80;--down:#f87171;
--track:#232837;--h0:#222736;--h1:#2e2f63;--h2:#403c8f;--h3:#5a52c0;--h4:#7c73ea;--h5:#a9a3ff}
button{color:#0e1016}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--text);font:15px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:16px;display:flex;flex-direction:column;gap:16px}
h1{font-size:1.6rem;margin:0;line-height:1.2}
h2{font-size:1.05rem;margin:0 0 4px}
code{font:0.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--track);
padding:1px 4px;border-radius:4px}
.top{display:flex;justify-content:space-between;align-items:flex-end;gap:12px;flex-wrap:wrap}
.brand{margin:0;color:var(--accent);font-weight:600;font-size:.8rem;letter-spacing:.06em;text-transform:uppercase}
.sub{margin:4px 0 0;color:var(--muted)}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px;min-width:0}
.note{margin:0 0 12px;color:var(--muted);font-size:.9rem}
.muted{color:var(--muted);font-size:.85rem}
.num{white-space:nowrap;font-variant-numeric:tabular-nums}
.more,.more-stores,.quiet-stores{margin:12px 0 0;color:var(--muted);font-size:.9rem}
.empty{margin:8px 0 0;padding:16px;border:1px dashed var(--line);border-radius:8px;color:var(--muted);text-align:center}
.empty-state{border-left:4px solid var(--accent)}
.empty-state p{margin:4px 0 0;color:var(--muted)}
.filters{display:flex;flex-wrap:wrap;gap:10px 12px;align-items:flex-end}
.field{display:flex;flex-direction:column;gap:4px;flex:1 1 150px;min-width:0;font-size:.8rem;color:var(--muted)}
.field input,.field select{width:100%;min-width:0;font:inherit;font-size:.95rem;color:var(--text);
background:var(--card);border:1px solid var(--line);border-radius:8px;padding:7px 8px;height:38px}
.actions{display:flex;gap:10px;align-items:center;flex:0 0 auto}
button{font:inherit;font-weight:600;color:#fff;background:var(--accent);border:0;border-radius:8px;
padding:0 18px;height:38px;cursor:pointer}
button:focus-visible,.field input:focus-visible,.field select:focus-visible,a:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.reset{color:var(--muted)}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:12px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:12px 14px;
display:flex;flex-direction:column;min-width:0}
.kpi-label{color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}
.kpi-value{font-size:1.6rem;font-variant-numeric:tabular-nums;line-height:1.3}
.kpi-sub{color:var(--muted);font-size:.8rem}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:16px}
.funnel,.reasons{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:10px}
.funnel-row,.reason-row{display:grid;grid-template-columns:6.5rem minmax(0,1fr) 5rem;gap:2px 10px;align-items:center}
.reason-row{grid-template-columns:8rem minmax(0,1fr) 6.5rem}
.funnel-label,.reason-label{font-weight:600;overflow-wrap:break-word;min-width:0}
.funnel-count,.reason-num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.funnel-count{font-size:1.05rem}
.rates{grid-column:2/-1;color:var(--muted);font-size:.8rem}
.rates:empty{display:none}
.funnel+.note,.reasons+.table-wrap{margin-top:14px}
.bar{display:block;height:14px;background:var(--track);border-radius:7px;overflow:hidden}
.fill{display:block;height:100%;border-radius:7px;background:var(--accent);min-width:2px}
.fill.step-1{opacity:.9}.fill.step-2{opacity:.8}.fill.step-3{background:var(--accent2)}
.fill.step-4{background:var(--accent2);opacity:.85}.fill.step-5{background:var(--up)}
.fill.warn{background:var(--warn)}
.legend>span{white-space:nowrap}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;align-items:center;margin:0 0 10px;font-size:.85rem;color:var(--muted)}
.swatch{display:inline-block;width:14px;height:4px;border-radius:2px;margin-right:4px;vertical-align:middle}
.s-engaged{background:var(--accent)}.s-converted{background:var(--accent2)}.s-volume{background:var(--h2);height:10px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,300px),1fr));gap:16px}
.chart,.heatmap{margin:0;min-width:0}
figcaption{display:flex;flex-direction:column;margin-bottom:6px;overflow-wrap:anywhere}
svg{display:block;width:100%;height:auto;overflow:visible}
.axis{font-size:9px;fill:var(--muted);font-family:inherit}
.grid{stroke:var(--line);stroke-width:1}
.volume{fill:var(--h2);opacity:.55}
polyline.line-engaged,polyline.line-converted{fill:none;stroke-width:2;stroke-linejoin:round}
polyline.line-engaged{stroke:var(--accent)}polyline.line-converted{stroke:var(--accent2)}
circle.line-engaged{fill:var(--accent)}circle.line-converted{fill:var(--accent2)}
.heatmaps{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));gap:20px}
.heat-svg{max-width:720px}
.heat-svg rect{stroke:var(--card);stroke-width:.5}
.h0{fill:var(--h0);background:var(--h0)}.h1{fill:var(--h1);background:var(--h1)}.h2{fill:var(--h2);background:var(--h2)}
.h3{fill:var(--h3);background:var(--h3)}.h4{fill:var(--h4);background:var(--h4)}.h5{fill:var(--h5);background:var(--h5)}
.heat-foot{display:flex;flex-wrap:wrap;justify-content:space-between;gap:6px 12px;margin:8px 0 0;font-size:.85rem;color:var(--muted)}
.heat-foot strong{color:var(--text)}
.scale{display:inline-flex;align-items:center;gap:3px}
.key{display:inline-block;width:11px;height:11px;border-radius:2px}
.table-wrap{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{width:100%;border-collapse:collapse;font-size:.9rem}
th,td{text-align:left;vertical-align:top;padding:10px 8px;border-top:1px solid var(--line);overflow-wrap:break-word}
thead th{border-top:0;color:var(--muted);font-weight:600;font-size:.75rem;text-transform:uppercase;letter-spacing:.03em}
tbody th{min-width:9rem}
td .muted,th .muted{display:block}
.name{display:block;font-weight:600}
.lift-main{display:flex;gap:8px;align-items:center;font-weight:600}
.ci{width:120px;margin:4px 0}
.ci .zero{stroke:var(--muted);stroke-width:1;stroke-dasharray:2 2}
.ci line{stroke-width:3;stroke-linecap:round}
.ci-up{stroke:var(--up);fill:var(--up)}.ci-down{stroke:var(--down);fill:var(--down)}.ci-zero{stroke:var(--muted);fill:var(--muted)}
.badge{display:inline-block;font-size:.72rem;font-weight:600;padding:1px 7px;border-radius:999px;
background:var(--track);color:var(--muted);white-space:nowrap;text-transform:none;letter-spacing:0}
.badge-up{background:#dcfce7;color:#166534}.badge-down{background:#fee2e2;color:#991b1b}
.badge-wait{background:#fef3c7;color:#92400e}.badge-active{background:#e0e7ff;color:#3730a3}
.foot{color:var(--muted);font-size:.8rem;padding:0 4px 16px}
@media (max-width:640px){
main{padding:10px;gap:12px}
.card{padding:12px}
h1{font-size:1.35rem}
.kpi-value{font-size:1.3rem}
.funnel-row,.reason-row{grid-template-columns:minmax(0,1fr) auto;row-gap:4px}
.funnel-label,.reason-label{grid-row:1;grid-column:1}
.funnel-count,.reason-num{grid-row:1;grid-column:2}
.funnel-row .bar,.reason-row .bar{grid-column:1/-1;grid-row:2}
.rates{grid-column:1/-1;grid-row:3}
.heat-svg .axis{font-size:12px}
table.stack thead{display:none}
table.stack,table.stack tbody,table.stack tr,table.stack th,table.stack td{display:block;width:100%}
table.stack tr{border-top:1px solid var(--line);padding:8px 0}
table.stack th,table.stack td{border:0;padding:4px 0;display:grid;grid-template-columns:7rem minmax(0,1fr);gap:0 8px;min-width:0}
table.stack th::before,table.stack td::before{content:attr(data-label);color:var(--muted);font-size:.8rem;font-weight:400}
table.stack th>*,table.stack td>*{grid-column:2;justify-self:start;max-width:100%}
table.stack th::before,table.stack td::before{grid-row:1/span 4}
table.stack .ci{width:100%;max-width:160px}
}
"""
