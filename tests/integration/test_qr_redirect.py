"""GET /q/{code}: signed codes redirect to their stored destination only, and record a scan."""

from __future__ import annotations

import json

from chalicelib.domain.records import QrCode

# What iOS Safari sends when the camera opens a printed code (a shopper, not a bot).
PHONE = {
    "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Site": "none",
}


def set_cookies(response) -> dict[str, str]:
    """name -> the whole Set-Cookie line (the Client gives a str for one, a list for several)."""
    raw = response.headers.get("Set-Cookie", [])
    lines = [raw] if isinstance(raw, str) else list(raw)
    return {line.split("=", 1)[0]: line for line in lines}


def tamper(code: str) -> str:
    return code[:-1] + ("A" if code[-1] != "A" else "B")


def test_valid_code_redirects_sets_a_visitor_cookie_and_enqueues_one_scan(harness):
    response = harness.client.http.get(f"/q/{harness.qr['code']}", headers=PHONE)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://shop.example.com/p/42"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = set_cookies(response)["mm_vid"]
    assert cookie.startswith("mm_vid=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert harness.queued() == 1
    message = harness.sqs.receive_message(QueueUrl=harness.outputs["EventsQueueUrl"])["Messages"][0]
    event = json.loads(message["Body"])["event"]
    assert event["event"] == "QR Code Scanned"
    assert event["properties"]["store_id"] == "store-1"
    assert event["anonymousId"] == cookie.split(";")[0].split("=")[1]


def test_lowercase_code_from_a_camera_app_still_works(harness):
    assert harness.client.http.get(f"/q/{harness.qr['code'].lower()}", headers=PHONE).status_code == 302


def test_request_parameters_cannot_change_the_destination(harness):
    code = harness.qr["code"]
    for path in (f"/q/{code}?next=https://evil.example", f"/q/{code}?url=//evil.example&redirect=x"):
        response = harness.client.http.get(
            path, headers={**PHONE, "Host": "evil.example", "Referer": "https://evil.example"}
        )
        assert response.headers["Location"] == "https://shop.example.com/p/42"


def test_tampered_malformed_and_unknown_codes_answer_404_and_enqueue_nothing(harness):
    from chalicelib import wiring

    unknown = wiring.container().qr_codes.token_for("ZZZZZZZZ")
    for code in (tamper(harness.qr["code"]), "short", "X" * 22, unknown, "%00" * 8):
        response = harness.client.http.get(f"/q/{code}", headers=PHONE)
        assert response.status_code == 404, code
        assert "Location" not in response.headers
        assert response.headers["Content-Type"].startswith("text/html")
    assert harness.queued() == 0


def test_revoked_code_answers_404(harness):
    from chalicelib import wiring

    repo = wiring.container().qr_repository
    record = repo.get(harness.qr["qr_id"])
    repo.put(QrCode(**{**record.__dict__, "state": "revoked"}))
    wiring.container().qr_codes._cache.clear()  # noqa: SLF001 - skip the 2 s cache TTL
    assert harness.client.http.get(f"/q/{harness.qr['code']}", headers=PHONE).status_code == 404


def test_unsafe_stored_destination_is_never_followed(harness):
    from chalicelib import wiring

    repo = wiring.container().qr_repository
    record = repo.get(harness.qr["qr_id"])
    repo.put(QrCode(**{**record.__dict__, "destination": "javascript:alert(1)"}))
    wiring.container().qr_codes._cache.clear()  # noqa: SLF001
    assert harness.client.http.get(f"/q/{harness.qr['code']}", headers=PHONE).status_code == 404


def test_returning_visitor_keeps_their_cookie_and_scans_build_their_profile(harness):
    from chalicelib import wiring

    visitor = "5d0c4a52-0e8e-4b43-9f5b-7a1f0a2f7c11"
    # Two different codes: the same code twice within the dedupe window counts once.
    second = wiring.container().admin.create_qr_code(
        "store-1", "https://shop.example.com/p/43", "sku-43", "aisle 5"
    )
    for code in (harness.qr["code"], second["code"]):
        response = harness.client.http.get(f"/q/{code}", headers={**PHONE, "Cookie": f"mm_vid={visitor}"})
        assert set_cookies(response)["mm_vid"].startswith(f"mm_vid={visitor};")
    assert harness.pump.drain() == 2
    profile = harness.item(f"ANON#{visitor}", "PROFILE")
    assert profile["moment_counts"] == {"qr_scanned": 2}
    assert profile["recent_stores"][0]["store_id"] == "store-1"
    assert {p["product_id"] for p in profile["recent_products"]} == {"sku-42", "sku-43"}


def test_a_forged_cookie_value_is_replaced(harness):
    response = harness.client.http.get(
        f"/q/{harness.qr['code']}", headers={**PHONE, "Cookie": "mm_vid=<script>"}
    )
    assert "<script>" not in set_cookies(response)["mm_vid"]
