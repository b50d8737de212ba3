"""/admin/videos and the signed video platform webhook on moto through chalice's test client:
CRUD over DynamoDB (VIDEO#{id}/META + VIDEOS/{id}), signature, replay and tampering refused
with nothing queued, and a signed milestone of a shoppable video reaching the worker as an
I-want-to-buy moment carrying the video's products."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from chalicelib.domain.webhook_signature import sign
from chalicelib.settings import DEMO_VIDEO_WEBHOOK_SECRET

SECRET = DEMO_VIDEO_WEBHOOK_SECRET.encode()  # the local stage's value in .chalice/config.json
VIDEO = {
    "video_id": "styling-101",
    "title": "Three ways to wear linen",
    "length_seconds": 600,
    "kind": "shoppable",
    "product_ids": ["linen-shirt-blue", "linen-trousers"],
}


def webhook(harness, payload, at=None, secret=SECRET, tamper=False):
    raw = json.dumps(payload).encode()
    header = sign(secret, int(at if at is not None else time.time()), raw)
    if tamper:
        raw = raw.replace(b"50", b"99")
    return harness.post("/v1/webhooks/video", None, key=None, raw=raw, headers={"X-MM-Signature": header})


def test_video_admin_routes(harness):
    created = harness.admin("POST", "/admin/videos", VIDEO)
    assert created.status_code == 201, created.body
    assert harness.item("VIDEO#styling-101", "META")["kind"] == "shoppable"
    assert harness.item("VIDEOS", "styling-101")["title"] == VIDEO["title"]
    bad = harness.admin("POST", "/admin/videos", {**VIDEO, "video_id": "x", "kind": "movie"})
    assert bad.status_code == 400 and b"kind" in bad.body
    assert harness.admin("POST", "/admin/videos", VIDEO).status_code == 400  # exists
    assert harness.admin("GET", "/admin/videos/styling-101").json_body["product_ids"] == VIDEO["product_ids"]
    patched = harness.admin("PATCH", "/admin/videos/styling-101", {"title": "Linen, three ways"})
    assert patched.status_code == 200 and patched.json_body["kind"] == "shoppable"
    assert [v["title"] for v in harness.admin("GET", "/admin/videos").json_body["videos"]] == [
        "Linen, three ways"
    ]
    assert harness.admin("DELETE", "/admin/videos/styling-101").status_code == 204
    assert harness.admin("GET", "/admin/videos/styling-101").status_code == 404
    assert harness.admin("DELETE", "/admin/videos/styling-101").status_code == 404
    assert harness.item("VIDEOS", "styling-101") is None
    assert harness.client.http.get("/admin/videos").status_code in (401, 403)  # no credentials


def test_unsigned_tampered_replayed_or_foreign_webhooks_are_refused_and_queue_nothing(harness):
    payload = {"userId": "viewer-1", "video_id": "styling-101", "percent": 50, "messageId": "vm-x"}
    raw = json.dumps(payload).encode()
    unsigned = harness.post("/v1/webhooks/video", None, key=None, raw=raw)
    assert unsigned.status_code == 401 and b"missing X-MM-Signature" in unsigned.body
    assert webhook(harness, payload, tamper=True).status_code == 401
    foreign = webhook(harness, payload, secret=b"some-other-platform-secret")
    assert foreign.status_code == 401 and b"does not match" in foreign.body
    replayed = webhook(harness, payload, at=time.time() - 301)
    assert replayed.status_code == 401 and b"replay" in replayed.body
    assert harness.queued() == 0
    invalid = webhook(harness, {"userId": "viewer-1", "video_id": "styling-101", "percent": 150})
    assert invalid.status_code == 400 and b"percent" in invalid.body


def test_a_signed_milestone_of_a_shoppable_video_is_a_buy_moment_with_its_products(harness):
    assert harness.admin("POST", "/admin/videos", VIDEO).status_code == 201
    payload = {
        "userId": "viewer-1",
        "video_id": "styling-101",
        "percent": 50,
        "messageId": "vm-1",
        "timestamp": datetime.now(UTC).isoformat(),
    }
    accepted = webhook(harness, payload)
    assert accepted.status_code == 200, accepted.body
    assert accepted.json_body == {"success": True, "accepted": ["vm-1"]}
    assert webhook(harness, payload).status_code == 200  # the platform retried: same messageId
    harness.pump.drain()
    marker = harness.item("USER#viewer-1", "MSG#vm-1")
    assert marker is not None and marker["event"] == "Video Milestone Reached"
    [found] = marker["detected"]
    assert found["intent"] == "buy" and found["product_id"] == "linen-shirt-blue"
    assert found["product_ids"] == ["linen-shirt-blue", "linen-trousers"]
    profile = harness.item("USER#viewer-1", "PROFILE")
    assert profile["moment_counts"] == {"video_milestone": 1}
    assert profile["last_moments"]["buy"]["type"] == "video_milestone"
    assert "linen-shirt-blue" in profile["products"]
    assert harness.counters()["intent:buy"] == 1
