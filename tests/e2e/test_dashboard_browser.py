"""The dashboard in a real browser (issue #6), on the local stack after the demo's shopper's day.

Headless Chromium (Debian's, driven through its own chromedriver: `make browser` installs both;
Selenium Manager is never asked for anything) opens /admin/dashboard with the admin token as
HTTP Basic credentials in the URL, as a person would. The page must show the numbers of the
JSON reports (/admin/reports/funnel, /peak-hours, /lift, read with the Bearer token), agree with
what the demo did, load nothing from elsewhere, filter through its form, and fit a phone's
width. Screenshots (laptop and phone) go to artifacts/dashboard/ at the repository root.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

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
    return {
        "out": out,
        "sent": len(re.findall(r": SENT by ", out)),
        "not_sent": len(re.findall(r": not sent \(", out)),
        "redeemed": "redeemed=True" in out,
        "opened": "Alice opens her first offer" in out,
        "clicked": "Bob taps the offer in his email: 302" in out,
    }


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
    assert steps["eligible"] == demo_day["sent"] + demo_day["not_sent"], demo_day["out"]
    assert steps["redeemed"] == (1 if demo_day["redeemed"] else 0), demo_day["out"]
    assert steps["opened"] == (1 if demo_day["opened"] else 0), demo_day["out"]
    assert steps["clicked"] == (1 if demo_day["clicked"] else 0), demo_day["out"]
    assert funnel["suppressed"] == demo_day["not_sent"]
    for row in browser.find_elements(By.CSS_SELECTOR, "#funnel [data-step]"):
        assert f"{int(row.get_attribute('data-count')):,}" in row.text  # the number is visible

    # Peak hours: one heatmap per store with moments (the demo's few stores are under the
    # dashboard's cap), busiest first, every cell as in the report; the others named
    assert peak["stores"], peak
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
        assert {(c["data-day"], int(c["data-hour"])): int(c["data-count"]) for c in cells} == expected
        busiest = max(busiest, *expected.values())
    assert busiest > 0, "the demo's moments show in some store's heatmap"

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
    # the demo's campaigns have no holdout group: there is nothing to compare with yet
    assert {c["status"] for c in lift["campaigns"]} == {"not_enough_data"}

    # Self-contained: the page asked for nothing but itself
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched == [], fetched
    wide = overflow(browser)
    assert wide["scroll"] <= wide["inner"] + 1, wide
    full_page_screenshot(browser, ARTIFACTS / "laptop.png")
    print(f"authenticated with {how}; timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in TIMINGS.items()))


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
