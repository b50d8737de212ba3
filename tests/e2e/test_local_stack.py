"""The acceptance walk-through on the real local stack: HTTP in, DynamoDB state out of moto."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests

pytestmark = pytest.mark.e2e
AUTH = ("demo-write-key", "")
# A phone camera's browser (the /q/ route does not count requests without browser evidence)
PHONE = {
    "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Accept-Language": "en-US,en;q=0.9",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}


def post(stack, path, payload, **kwargs):
    return requests.post(f"{stack.base_url}{path}", json=payload, auth=AUTH, timeout=10, **kwargs)


def test_banner_prints_ready_to_paste_commands(local_stack):
    banner = local_stack.banner
    assert "curl -u demo-write-key:" in banner
    for code in local_stack.state["qr_codes"]:
        assert f"{local_stack.base_url}/q/{code['code']}" in banner


def test_geofence_entry_shows_in_the_profile_within_two_seconds(local_stack):
    user = f"e2e-{uuid.uuid4().hex[:8]}"
    # exactly what the README's curl sends: form content type, no messageId, no timestamp
    response = requests.post(
        f"{local_stack.base_url}/v1/track",
        auth=AUTH,
        timeout=10,
        data=f'{{"userId":"{user}","event":"Geofence Entered","properties":{{"store_id":"store-001",'
        f'"latitude":37.7936,"longitude":-122.3958,"accuracy_m":10}}}}',
    )
    assert response.status_code == 200, response.text
    profile = local_stack.wait_for(f"USER#{user}", "PROFILE", lambda p: p.get("recent_stores"))
    assert profile is not None, local_stack.logs()
    assert profile["recent_stores"][0]["store_id"] == "store-001"


def test_the_same_message_three_times_counts_once(local_stack):
    user = f"e2e-{uuid.uuid4().hex[:8]}"
    event = {
        "userId": user,
        "event": "Product Viewed",
        "messageId": f"dup-{user}",
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": {"product_id": "linen-shirt-blue", "category": "shirts"},
    }
    for _ in range(3):
        assert post(local_stack, "/v1/track", event).status_code == 200
    assert local_stack.wait_for(f"USER#{user}", "PROFILE") is not None
    marker = local_stack.wait_for(f"USER#{user}", f"MSG#dup-{user}")
    assert marker is not None
    time.sleep(1.0)  # let the two duplicates through the pump too
    profile = local_stack.item(f"USER#{user}", "PROFILE")
    assert profile["moment_counts"] == {"product_viewed": 1}
    assert profile["version"] == 1


def test_printed_qr_link_redirects_and_a_tampered_one_is_404(local_stack):
    qr = local_stack.state["qr_codes"][0]
    response = requests.get(
        f"{local_stack.base_url}/q/{qr['code']}", allow_redirects=False, timeout=10, headers=PHONE
    )
    assert response.status_code == 302
    assert response.headers["Location"] == qr["destination"]
    visitor = response.cookies["mm_vid"]
    profile = local_stack.wait_for(f"ANON#{visitor}", "PROFILE")
    assert profile is not None and profile["moment_counts"] == {"qr_scanned": 1}

    tampered = qr["code"][:-1] + ("A" if qr["code"][-1] != "A" else "B")
    visitor2 = str(uuid.uuid4())
    response = requests.get(
        f"{local_stack.base_url}/q/{tampered}",
        allow_redirects=False,
        timeout=10,
        cookies={"mm_vid": visitor2},
        headers=PHONE,
    )
    assert response.status_code == 404
    assert "Location" not in response.headers
    assert local_stack.wait_for(f"ANON#{visitor2}", "PROFILE", timeout=1.0) is None


@pytest.mark.parametrize(
    ("path", "data", "auth", "status"),
    [
        ("/v1/track", "{broken", AUTH, 400),
        ("/v1/track", '{"event": "x"}', AUTH, 400),
        ("/v1/track", '{"userId": "u", "event": "x"}', ("nope", ""), 401),
        ("/v1/track", '{"userId": "u", "event": "x"}', None, 401),
        ("/v1/batch", '{"batch": "nope"}', AUTH, 400),
        ("/v1/identify", '{"userId": "u", "traits": {"email": 5}}', AUTH, 400),
        ("/v1/track", "x" * 40_000, AUTH, 413),
    ],
)
def test_bad_input_gets_its_documented_status_and_never_a_5xx(local_stack, path, data, auth, status):
    response = requests.post(f"{local_stack.base_url}{path}", data=data, auth=auth, timeout=10)
    assert response.status_code == status, response.text
    assert "error" in response.json()


def test_admin_needs_the_token(local_stack):
    url = f"{local_stack.base_url}/admin/users/anyone"
    assert requests.get(url, timeout=10).status_code == 401
    ok = requests.get(url, headers={"Authorization": "Bearer demo-admin-token"}, timeout=10)
    assert ok.status_code == 404  # authenticated; that user does not exist


def test_zz_ctrl_c_stops_everything_without_orphans(local_stack):
    """Last in this module on purpose: it stops the (module-scoped) stack."""
    stopped = local_stack.stop(timeout=30)
    assert stopped.exit_code == 0
    assert stopped.left == [], "moto or chalice local outlived the stack"
    for url in (local_stack.base_url, local_stack.moto_url):
        port = int(url.rsplit(":", 1)[1])
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"{url} still answers"
