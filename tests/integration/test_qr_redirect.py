"""GET /q/{code}: signed codes redirect to their stored destination only, and record a scan."""

from __future__ import annotations

import json

from chalicelib.domain.records import QrCode


def tamper(code: str) -> str:
    return code[:-1] + ("A" if code[-1] != "A" else "B")


def test_valid_code_redirects_sets_a_visitor_cookie_and_enqueues_one_scan(harness):
    response = harness.client.http.get(f"/q/{harness.qr['code']}")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://shop.example.com/p/42"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("mm_vid=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert harness.queued() == 1
    message = harness.sqs.receive_message(QueueUrl=harness.outputs["EventsQueueUrl"])["Messages"][0]
    event = json.loads(message["Body"])["event"]
    assert event["event"] == "QR Code Scanned"
    assert event["properties"]["store_id"] == "store-1"
    assert event["anonymousId"] == cookie.split(";")[0].split("=")[1]


def test_lowercase_code_from_a_camera_app_still_works(harness):
    assert harness.client.http.get(f"/q/{harness.qr['code'].lower()}").status_code == 302


def test_request_parameters_cannot_change_the_destination(harness):
    code = harness.qr["code"]
    for path in (f"/q/{code}?next=https://evil.example", f"/q/{code}?url=//evil.example&redirect=x"):
        response = harness.client.http.get(
            path, headers={"Host": "evil.example", "Referer": "https://evil.example"}
        )
        assert response.headers["Location"] == "https://shop.example.com/p/42"


def test_tampered_malformed_and_unknown_codes_answer_404_and_enqueue_nothing(harness):
    from chalicelib import wiring

    unknown = wiring.container().qr_codes.token_for("ZZZZZZZZ")
    for code in (tamper(harness.qr["code"]), "short", "X" * 22, unknown, "%00" * 8):
        response = harness.client.http.get(f"/q/{code}")
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
    assert harness.client.http.get(f"/q/{harness.qr['code']}").status_code == 404


def test_unsafe_stored_destination_is_never_followed(harness):
    from chalicelib import wiring

    repo = wiring.container().qr_repository
    record = repo.get(harness.qr["qr_id"])
    repo.put(QrCode(**{**record.__dict__, "destination": "javascript:alert(1)"}))
    wiring.container().qr_codes._cache.clear()  # noqa: SLF001
    assert harness.client.http.get(f"/q/{harness.qr['code']}").status_code == 404


def test_returning_visitor_keeps_their_cookie_and_scans_build_their_profile(harness):
    visitor = "5d0c4a52-0e8e-4b43-9f5b-7a1f0a2f7c11"
    for _ in range(2):
        response = harness.client.http.get(
            f"/q/{harness.qr['code']}", headers={"Cookie": f"mm_vid={visitor}"}
        )
        assert response.headers["Set-Cookie"].startswith(f"mm_vid={visitor};")
    assert harness.pump.drain() == 2
    profile = harness.item(f"ANON#{visitor}", "PROFILE")
    assert profile["moment_counts"] == {"qr_scanned": 2}
    assert profile["recent_stores"][0]["store_id"] == "store-1"
    assert profile["recent_products"][0]["product_id"] == "sku-42"


def test_a_forged_cookie_value_is_replaced(harness):
    response = harness.client.http.get(f"/q/{harness.qr['code']}", headers={"Cookie": "mm_vid=<script>"})
    assert "<script>" not in response.headers["Set-Cookie"]
