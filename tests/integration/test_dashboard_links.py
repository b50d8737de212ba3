"""POST /admin/dashboard/links and GET /dashboard/{token} through chalice.test.Client on moto:
a browser without credentials (a phone) opens the dashboard through a signed link, filters
through it, and is refused once the link is bad or expired."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

PHONE = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"}


def path_of(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:8000"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_a_signed_link_opens_the_dashboard_without_credentials_and_keeps_its_filters(harness):
    made = harness.admin("POST", "/admin/dashboard/links", {"hours": 2})
    assert made.status_code == 201, made.body
    link = made.json_body
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(hours=1, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=2)

    page = harness.client.http.get(path_of(link["url"]), headers=PHONE)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert b"<title>Offers dashboard" in page.body and b'method="get"' in page.body

    filtered = harness.client.http.get(path_of(link["url"]) + "?from=2026-11-01&to=2026-11-03", headers=PHONE)
    assert filtered.status_code == 200
    assert b'value="2026-11-01"' in filtered.body and b'value="2026-11-03"' in filtered.body
    bad_filter = harness.client.http.get(path_of(link["url"]) + "?from=yesterday", headers=PHONE)
    assert bad_filter.status_code == 400 and b"from" in bad_filter.body


def test_bad_links_and_callers_without_admin_rights_are_refused(harness):
    made = harness.admin("POST", "/admin/dashboard/links", None)  # no body: the default 12 hours
    assert made.status_code == 201
    good = path_of(made.json_body["url"])
    payload, mac = good.rsplit("/", 1)[1].split(".")

    for bad in (f"/dashboard/{payload}.{mac[::-1]}", "/dashboard/x.y", "/dashboard/nothing"):
        refused = harness.client.http.get(bad, headers=PHONE)
        assert refused.status_code == 404 and b"not valid" in refused.body
        assert b'method="get"' not in refused.body

    anonymous = harness.client.http.post(
        "/admin/dashboard/links", headers={"Content-Type": "application/json"}, body=b"{}"
    )
    assert anonymous.status_code == 401
    for body in ({"hours": 0}, {"hours": 1000}, {"hours": "2"}, [1]):
        refused = harness.admin("POST", "/admin/dashboard/links", body)
        assert refused.status_code == 400, body
        assert refused.json_body["errors"][0]["field"] in ("hours", "body")


def test_an_expired_link_is_refused(harness, monkeypatch):
    from chalicelib import wiring
    from chalicelib.domain.clock import FixedClock

    made = harness.admin("POST", "/admin/dashboard/links", {"hours": 1}).json_body
    later = FixedClock(datetime.now(UTC) + timedelta(hours=1, seconds=1))
    monkeypatch.setattr(wiring.container().dashboard_links, "_clock", later)

    refused = harness.client.http.get(path_of(made["url"]), headers=PHONE)

    assert refused.status_code == 404 and b"expired" in refused.body


def test_the_cli_prints_a_link_with_its_starting_filters(harness, capsys):
    from chalicelib import wiring
    from cli.__main__ import main

    out = io.StringIO()
    code = main(
        ["reports", "dashboard-link", "--hours", "3", "--store", "store-1"],
        container=wiring.container(),
        out=out,
    )

    assert code == 0, out.getvalue()
    url, until = out.getvalue().splitlines()
    assert url.startswith("http://127.0.0.1:8000/dashboard/") and url.endswith("?store=store-1")
    assert until.startswith("works until ")
    page = harness.client.http.get(path_of(url), headers=PHONE)
    assert page.status_code == 200 and b'value="store-1"' in page.body

    out = io.StringIO()
    assert main(["reports", "dashboard-link", "--hours", "500"], container=wiring.container(), out=out) != 0
    assert "--hours: must be a number of hours above 0 and at most 168" in capsys.readouterr().err
