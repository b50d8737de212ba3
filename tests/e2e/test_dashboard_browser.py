"""The dashboard in a real browser (issue #6), on the local stack after the demo's shopper's day.

Headless Chromium (Debian's, driven through its own chromedriver: `make browser` installs both;
Selenium Manager is never asked for anything) opens /admin/dashboard with the admin token as
HTTP Basic credentials in the URL, as a person would. The page must show the numbers of the
JSON reports (/admin/reports/funnel, /peak-hours, /lift, read with the Bearer token), agree with
what the demo did, load nothing from elsewhere, filter through its form, and fit a phone's
width. Screenshots (laptop and phone) go to artifacts/dashboard/ at the repository root.

Two numbers are also computed here from the raw records in moto's table, not by the server's
report code: the A/B campaign's lift row (its treatment and holdout shoppers and converters
counted from the offer ledger, the 95 % interval from statsmodels' Newcombe interval) and
every store's heatmap (the moments in the shoppers' profiles, placed in the store's local
weekday and hour).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from devstack.seed import CAMPAIGNS, STORES
from tests.e2e.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
TOKEN = "demo-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
ARTIFACTS = ROOT / "artifacts" / "dashboard"
LAPTOP = (1366, 900)
PHONE = (390, 844)
TIMINGS: dict[str, float] = {}
AB = next(c["id"] for c in CAMPAIGNS if c["holdout_percent"] > 0)  # the demo's A/B test
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# A percentage shown with one decimal, from a report rounded to 4 decimals (0.01 of a percent):
# at most 0.05 + 0.005 from the exact value
CLOSE = 0.055 + 1e-9


def report(stack: Any, name: str, **params: str) -> dict[str, Any]:
    response = requests.get(
        f"{stack.base_url}/admin/reports/{name}", params=params, headers=ADMIN, timeout=30
    )
    assert response.status_code == 200, f"/admin/reports/{name}: {response.status_code} {response.text[:500]}"
    return response.json()


def settle(stack: Any, timeout: float = 15.0) -> None:
    """Wait until the queue pump has nothing left of the demo: the funnel reads the same twice."""
    deadline = time.monotonic() + timeout
    last = report(stack, "funnel")
    while time.monotonic() < deadline:
        time.sleep(0.7)
        now = report(stack, "funnel")
        if now["steps"] == last["steps"]:
            return
        last = now
    pytest.fail(f"the counters kept changing for {timeout:.0f} s after the demo")


@pytest.fixture(scope="module")
def demo_day(local_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`make demo` against the stack; what it printed, and what it says it did."""
    state = tmp_path_factory.mktemp("demo") / "state.json"
    state.write_text(
        json.dumps(
            {
                "port": local_stack.port,
                "moto_port": local_stack.moto_port,
                "qr_codes": local_stack.state["qr_codes"],
            }
        )
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "devstack.demo", "--state-file", str(state)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    settle(local_stack)
    TIMINGS["demo day"] = time.monotonic() - started
    out = result.stdout
    ab = re.search(r"A/B test .*: (\d+) sent an offer by email, (\d+) held out(?:.*, (\d+) not sent)?", out)
    assert ab, out
    ab_sent, ab_holdout, ab_not_sent = (int(n or 0) for n in ab.groups())
    return {
        "out": out,
        "sent": len(re.findall(r": SENT by ", out)) + ab_sent,
        "not_sent": len(re.findall(r": not sent \(", out)) + ab_not_sent,
        "holdout": ab_holdout,
        "redeemed": "redeemed=True" in out,
        "opened": "Alice opens her first offer" in out,
        "clicked": "Bob taps the offer in his email: 302" in out,
    }


def table_items(stack: Any) -> list[dict[str, Any]]:
    """Every item of the stack's DynamoDB table, straight from moto (a Scan: fine for a demo)."""
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()
    items = []
    pages = (
        stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.state["outputs"]["TableName"])
    )
    for page in pages:
        items += [{k: plain.deserialize(v) for k, v in item.items()} for item in page["Items"]]
    return items


def ledger_groups(items: list[dict[str, Any]], campaign_id: str) -> dict[str, dict[str, int]]:
    """Per group, the distinct shoppers with an offer record of the campaign and how many of them
    converted (an order credited to the record, or its code redeemed). Held-out shoppers'
    records have status ``holdout``; every other record is the treatment's."""
    shoppers: dict[str, set[str]] = {"treatment": set(), "holdout": set()}
    converters: dict[str, set[str]] = {"treatment": set(), "holdout": set()}
    for item in items:
        if not item["SK"].startswith("OFFER#") or item.get("campaign_id") != campaign_id:
            continue
        group = "holdout" if item["status"] == "holdout" else "treatment"
        shoppers[group].add(item["PK"])
        if item.get("converted_at") or item.get("redeemed_at"):
            converters[group].add(item["PK"])
    return {g: {"users": len(shoppers[g]), "converters": len(converters[g])} for g in shoppers}


def moments_by_store_hour(items: list[dict[str, Any]]) -> Counter[tuple[str, datetime]]:
    """(store, UTC hour) -> moments, from the moment records each profile keeps (``b``: its
    zlib-compressed JSON, chalicelib/adapters/dynamodb_moment_store.py). A geofence report
    counts the moments the server detected from the phone's fix; any other event its own
    moment, unless rejected. Also checks that no moment record was dropped: a profile keeps
    its last five records, plus the ones it still needs."""
    counts: Counter[tuple[str, datetime]] = Counter()
    kept = tallied = 0
    for item in items:
        if item["SK"] != "PROFILE" or "b" not in item:
            continue
        body = json.loads(zlib.decompress(bytes(item["b"])))
        tallied += sum(body.get("moment_counts", {}).values())
        for record in body.get("recent_moments", []):
            if record.get("detected") is not None:
                found = [
                    (f["moment"], f.get("store_id")) for f in record["detected"] if not f.get("rejected")
                ]
            elif record.get("moment") and not record.get("rejected"):
                found = [(record["moment"], record.get("store_id"))]
            else:
                found = []
            hour = (
                datetime.fromisoformat(record["at"])
                .astimezone(UTC)
                .replace(minute=0, second=0, microsecond=0)
            )
            kept += len(found)
            counts.update((store, hour) for _, store in found if store)
    assert kept == tallied, f"the profiles tally {tallied} moments but keep records of {kept}"
    return counts


def heatmap_of(
    moments: Counter[tuple[str, datetime]], store_id: str, timezone: str
) -> dict[tuple[str, int], int]:
    """One store's (local weekday, local hour) -> moments."""
    cells: Counter[tuple[str, int]] = Counter()
    for (store, hour), n in moments.items():
        if store == store_id:
            local = hour.astimezone(ZoneInfo(timezone))
            cells[(WEEKDAYS[local.weekday()], local.hour)] += n
    return dict(cells)


def signed_pp(text: str) -> float:
    """'+21.9' / '\u22125.0' (the dashboard's minus sign) -> a float (percentage points, or %)."""
    return float(text.replace("\u2212", "-"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} missing: the dashboard's browser test needs Debian's chromium and "
            "chromedriver. Run `make browser` (make test does it first; it uses apt-get)."
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
    ):
        options.add_argument(argument)
    started = time.monotonic()
    # An explicit driver path: Selenium Manager is skipped (it would download a browser otherwise)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    TIMINGS["browser start"] = time.monotonic() - started
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def open_dashboard(driver: Any, stack: Any, query: str = "") -> str:
    """Navigate with the token as HTTP Basic credentials in the URL (Chromium answers the
    route's Basic challenge with them); if that is refused, send the Bearer header through the
    DevTools protocol. Returns how it authenticated."""
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    driver.get(f"http://admin:{TOKEN}@127.0.0.1:{stack.port}/admin/dashboard{query}")
    how = "basic-in-url"
    if not driver.find_elements(By.ID, "funnel"):
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": ADMIN})
        driver.get(f"{stack.base_url}/admin/dashboard{query}")
        how = "bearer-via-devtools"
    assert driver.find_elements(By.ID, "funnel"), (
        f"the dashboard did not render ({how}): {driver.title!r}\n{driver.page_source[:2000]}"
    )
    TIMINGS.setdefault("first dashboard load", time.monotonic() - started)
    return how


def attrs(driver: Any, css: str, *names: str) -> list[dict[str, str]]:
    """The data attributes ``names`` of every element matching ``css`` (one round trip)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map("
        "e => Object.fromEntries(arguments[1].map(n => [n, e.getAttribute(n)])))",
        css,
        list(names),
    )


def full_page_screenshot(driver: Any, path: Path) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return document.documentElement.clientWidth")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    import base64

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")


def overflow(driver: Any) -> dict[str, Any]:
    return driver.execute_script(
        "const w = window.innerWidth;"
        "const wide = Array.from(document.querySelectorAll('main *'))"
        "  .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap'))"
        "  .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id);"
        "return {inner: w, scroll: document.documentElement.scrollWidth, wide: wide};"
    )


def test_the_dashboard_shows_the_reports_numbers_in_a_browser(local_stack, demo_day, browser):
    from selenium.webdriver.common.by import By

    funnel = report(local_stack, "funnel")
    peak = report(local_stack, "peak-hours")
    lift = report(local_stack, "lift")
    how = open_dashboard(browser, local_stack)
    assert browser.title.startswith("Offers dashboard")

    # The funnel: the report's counts, and what the demo did
    steps = {s["step"]: s["count"] for s in funnel["steps"]}
    shown = {
        row["data-step"]: int(row["data-count"])
        for row in attrs(browser, "#funnel [data-step]", "data-step", "data-count")
    }
    assert shown == steps
    assert steps["sent"] == demo_day["sent"] > 0, demo_day["out"]
    assert steps["eligible"] == demo_day["sent"] + demo_day["not_sent"] + demo_day["holdout"], demo_day["out"]
    assert funnel["holdout"] == demo_day["holdout"] > 0, demo_day["out"]
    assert steps["redeemed"] == (1 if demo_day["redeemed"] else 0), demo_day["out"]
    # "opened" is opened or clicked: Alice opens her coffee offer, Bob clicks his styling email
    assert steps["opened"] == demo_day["opened"] + demo_day["clicked"], demo_day["out"]
    assert steps["clicked"] == (1 if demo_day["clicked"] else 0), demo_day["out"]
    assert funnel["suppressed"] == demo_day["not_sent"]
    for row in browser.find_elements(By.CSS_SELECTOR, "#funnel [data-step]"):
        assert f"{int(row.get_attribute('data-count')):,}" in row.text  # the number is visible

    # Peak hours: one heatmap per store with moments (the demo's few stores are under the
    # dashboard's cap), busiest first, every cell as in the report and as counted from the
    # profiles' moment records; the others named
    assert peak["stores"], peak
    items = table_items(local_stack)
    moments = moments_by_store_hour(items)
    zones = {store["store_id"]: store["timezone"] for store in STORES}
    active = sorted((s for s in peak["stores"] if s["total"] > 0), key=lambda s: -s["total"])
    drawn = browser.find_elements(By.CSS_SELECTOR, "#peak-hours figure[data-store]")
    assert [f.get_attribute("data-store") for f in drawn] == [s["store_id"] for s in active]
    quiet = [s for s in peak["stores"] if s["total"] == 0]
    if quiet:
        named = browser.find_element(By.CSS_SELECTOR, f'#peak-hours [data-quiet-stores="{len(quiet)}"]')
        assert all(str(s["name"] or s["store_id"]) in named.text for s in quiet), named.text
    busiest = 0
    for store in active:
        heatmap = browser.find_element(By.ID, f"heatmap-{store['store_id']}")
        assert store["timezone"] in heatmap.text
        cells = attrs(
            browser, f"#heatmap-{store['store_id']} rect[data-hour]", "data-day", "data-hour", "data-count"
        )
        assert len(cells) == 7 * 24
        expected = {
            (day, hour): store["matrix"][d][hour] for d, day in enumerate(store["days"]) for hour in range(24)
        }
        shown_cells = {(c["data-day"], int(c["data-hour"])): int(c["data-count"]) for c in cells}
        assert shown_cells == expected
        assert {k: n for k, n in shown_cells.items() if n} == heatmap_of(
            moments, store["store_id"], zones[store["store_id"]]
        ), store["store_id"]
        busiest = max(busiest, *expected.values())
    assert busiest > 0, "the demo's moments show in some store's heatmap"
    assert {s for s, _ in moments} == {s["store_id"] for s in active}  # no store with moments left out

    # Lift: each campaign's row with its status, groups and difference
    assert lift["campaigns"], lift
    for campaign in lift["campaigns"]:
        row = browser.find_element(
            By.CSS_SELECTOR, f'#campaigns tr[data-campaign="{campaign["campaign_id"]}"]'
        )
        cell = row.find_element(By.CSS_SELECTOR, "[data-status]")
        assert cell.get_attribute("data-status") == campaign["status"]
        for group in ("treatment", "holdout"):
            shown_group = row.find_element(By.CSS_SELECTOR, f'[data-group="{group}"]')
            assert int(shown_group.get_attribute("data-users")) == campaign[group]["users"]
            assert int(shown_group.get_attribute("data-converters")) == campaign[group]["converters"]
        if campaign["status"] == "ok":
            assert float(cell.get_attribute("data-difference")) == pytest.approx(campaign["difference"])
            assert "95 % CI" in cell.text
        else:
            assert "Not enough data" in cell.text
    # only the demo's A/B test has a holdout group, with enough shoppers and converters
    assert {c["campaign_id"]: c["status"] for c in lift["campaigns"]} == {
        c["campaign_id"]: "ok" if c["campaign_id"] == AB else "not_enough_data" for c in lift["campaigns"]
    }
    check_lift_row(browser, ledger_groups(items, AB), demo_day["out"])

    # Self-contained: the page asked for nothing but itself
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched == [], fetched
    wide = overflow(browser)
    assert wide["scroll"] <= wide["inner"] + 1, wide
    full_page_screenshot(browser, ARTIFACTS / "laptop.png")
    print(f"authenticated with {how}; timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in TIMINGS.items()))


def check_lift_row(browser: Any, groups: dict[str, dict[str, int]], out: str) -> None:
    """The A/B campaign's row shows the groups counted from the ledger, their rates, the
    difference and a 95 % interval that matches statsmodels' Newcombe (hybrid score) interval
    to the displayed precision (0.1 percentage point)."""
    from selenium.webdriver.common.by import By
    from statsmodels.stats.proportion import confint_proportions_2indep

    t, h = groups["treatment"], groups["holdout"]
    assert min(t["users"], h["users"]) >= 30 and t["converters"] + h["converters"] >= 5, (groups, out)
    assert (
        f"treatment {t['converters']}/{t['users']} converted, holdout {h['converters']}/{h['users']}" in out
    )
    row = browser.find_element(By.CSS_SELECTOR, f'#campaigns tr[data-campaign="{AB}"]')
    rates = {}
    for group, counted in groups.items():
        cell = row.find_element(By.CSS_SELECTOR, f'[data-group="{group}"]')
        assert int(cell.get_attribute("data-users")) == counted["users"], group
        assert int(cell.get_attribute("data-converters")) == counted["converters"], group
        rates[group] = counted["converters"] / counted["users"]
        rate = re.search(r"([0-9.]+) %", cell.text)
        assert rate and abs(float(rate.group(1)) - rates[group] * 100) <= CLOSE, cell.text
        assert f"{counted['converters']} of {counted['users']} users" in cell.text, cell.text
    difference = rates["treatment"] - rates["holdout"]
    low, high = confint_proportions_2indep(
        t["converters"], t["users"], h["converters"], h["users"], method="newcomb", compare="diff"
    )
    cell = row.find_element(By.CSS_SELECTOR, "td.lift")
    assert cell.get_attribute("data-status") == "ok"
    assert float(cell.get_attribute("data-difference")) == pytest.approx(difference, abs=5e-5)
    main = re.search(r"([+\u2212][0-9.]+) pp", cell.text)
    shown = re.search(r"95 % CI ([+\u2212][0-9.]+) pp to ([+\u2212][0-9.]+) pp", cell.text)
    assert main and shown, cell.text
    for text, reference in ((main.group(1), difference), (shown.group(1), low), (shown.group(2), high)):
        assert abs(signed_pp(text) - reference * 100) <= CLOSE, (text, reference, cell.text)
    verdict = "Lift" if low > 0 else "Negative" if high < 0 else "Inconclusive"
    assert cell.find_element(By.CSS_SELECTOR, ".badge").text == verdict
    if h["converters"]:
        relative = re.search(r"([+\u2212][0-9.]+) % relative", cell.text)
        assert relative, cell.text
        assert abs(signed_pp(relative.group(1)) - difference / rates["holdout"] * 100) <= CLOSE


def test_the_filter_form_reloads_the_page_filtered(local_stack, demo_day, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    open_dashboard(browser, local_stack)
    Select(browser.find_element(By.NAME, "campaign")).select_by_value("coffee-nearby")
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda d: "campaign=coffee-nearby" in d.current_url)
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "funnel"))
    url = browser.current_url
    assert "from=" in url and "to=" in url
    assert "store=" not in url and "moment=" not in url  # empty filters are left out
    expected = report(local_stack, "funnel", campaign="coffee-nearby")
    shown = {
        r["data-step"]: int(r["data-count"])
        for r in attrs(browser, "#funnel [data-step]", "data-step", "data-count")
    }
    assert shown == {s["step"]: s["count"] for s in expected["steps"]}
    assert Select(browser.find_element(By.NAME, "campaign")).first_selected_option.get_attribute("value") == (
        "coffee-nearby"
    )
    everything = report(local_stack, "funnel")
    assert (
        shown["sent"] < {s["step"]: s["count"] for s in everything["steps"]}["sent"]
    )  # styling's was left out


def test_on_a_phone_nothing_overflows(local_stack, demo_day, browser):
    width, height = PHONE
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
    )
    try:
        open_dashboard(browser, local_stack)
        layout = overflow(browser)
        assert layout["inner"] == width, layout  # the page sets a device-width viewport
        assert layout["scroll"] <= layout["inner"] + 1, layout
        assert not layout["wide"], layout
        full_page_screenshot(browser, ARTIFACTS / "phone.png")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
