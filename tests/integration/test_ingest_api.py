"""The ingest API over chalice.test.Client with moto: status codes, messages, and the queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from tests.integration.conftest import basic


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def track(message_id: str = "m-1", **overrides):
    return {
        "userId": "u1",
        "event": "Product Viewed",
        "messageId": message_id,
        "timestamp": now_iso(),
        "properties": {"product_id": "sku-1", "category": "shirts"},
        **overrides,
    }


def body(response):
    return json.loads(response.body)


def test_track_is_accepted_and_queued(harness):
    response = harness.post("/v1/track", track())
    assert response.status_code == 200
    assert body(response) == {"success": True, "accepted": ["m-1"]}
    assert harness.queued() == 1


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_curl_and_beacon_content_types_are_accepted(harness, content_type):
    # `curl -d` sends form-urlencoded; navigator.sendBeacon sends text/plain
    response = harness.post("/v1/track", track(), headers={"Content-Type": content_type})
    assert response.status_code == 200


def test_identify_is_accepted(harness):
    response = harness.post(
        "/v1/identify",
        {
            "userId": "u1",
            "messageId": "i-1",
            "traits": {"email": "a@example.com", "consents": {"push": True}},
        },
    )
    assert response.status_code == 200
    assert body(response)["accepted"] == ["i-1"]


def test_identify_route_refuses_a_track_call(harness):
    response = harness.post("/v1/identify", {**track(), "type": "track"})
    assert response.status_code == 400
    assert body(response)["errors"][0]["field"] == "type"


def test_batch_accepts_valid_events_and_reports_each_rejected_one(harness):
    batch = [
        {**track("b-0"), "type": "track"},
        {"type": "track", "userId": "u1", "messageId": "b-1", "event": "Geofence Entered", "properties": {}},
        {"type": "identify", "anonymousId": "a-1", "messageId": "b-2", "traits": {"phone": "0700"}},
        {"type": "identify", "userId": "u2", "messageId": "b-3", "traits": {"first_name": "Bo"}},
    ]
    response = harness.post("/v1/batch", {"batch": batch})
    assert response.status_code == 200
    result = body(response)
    assert result["accepted"] == ["b-0", "b-3"]
    assert [(r["index"], r["messageId"]) for r in result["rejected"]] == [(1, "b-1"), (2, "b-2")]
    assert result["rejected"][0]["errors"] == [
        {"field": "batch[1].properties.store_id", "message": "is required"}
    ]
    assert result["rejected"][1]["errors"][0]["field"] == "batch[2].traits.phone"
    assert harness.queued() == 2


def test_batch_of_25_goes_out_in_chunks_of_ten(harness):
    events = [{**track(f"c-{i}"), "type": "track"} for i in range(25)]
    response = harness.post("/v1/batch", {"batch": events})
    assert response.status_code == 200
    assert len(body(response)["accepted"]) == 25
    assert harness.queued() == 25


def test_batch_where_every_event_is_bad_is_a_400(harness):
    response = harness.post("/v1/batch", {"batch": [{"type": "track", "event": "x"}]})
    assert response.status_code == 400
    assert body(response)["errors"][0]["field"] == "batch[0].userId"
    assert harness.queued() == 0


@pytest.mark.parametrize(
    ("path", "payload", "status", "field"),
    [
        ("/v1/track", b"{not json", 400, "body"),
        ("/v1/track", b"", 400, "body"),
        ("/v1/track", b"[1, 2]", 400, "body"),
        ("/v1/track", b'{"userId": "u", "event": "e", "properties": {"x": NaN}}', 400, "body"),
        ("/v1/track", b"[" * 5000 + b"]" * 5000, 400, "body"),
        # timestamps relative to when the test runs, not to collection (the e2e tier runs first)
        (
            "/v1/track",
            lambda: json.dumps(track(timestamp=now_iso(-timedelta(hours=25)))).encode(),
            400,
            "timestamp",
        ),
        (
            "/v1/track",
            lambda: json.dumps(track(timestamp=now_iso(timedelta(minutes=10)))).encode(),
            400,
            "timestamp",
        ),
        ("/v1/track", json.dumps(track(userId=None)).encode(), 400, "userId"),
        (
            "/v1/track",
            json.dumps(
                track(event="Video Milestone Reached", properties={"video_id": "v", "percent": "50"})
            ).encode(),
            400,
            "properties.percent",
        ),
        ("/v1/batch", b'{"batch": {}}', 400, "batch"),
    ],
)
def test_bad_input_gets_a_clear_4xx_naming_the_field(harness, path, payload, status, field):
    response = harness.post(path, None, raw=payload() if callable(payload) else payload)
    assert response.status_code == status
    assert field in [e["field"] for e in body(response)["errors"]]
    assert harness.queued() == 0


def test_oversized_body_is_413(harness):
    huge = track(properties={"product_id": "p", "blob": "x" * 40_000})
    response = harness.post("/v1/track", huge)
    assert response.status_code == 413
    assert "limit" in body(response)["error"]


def test_more_than_100_events_is_413(harness):
    events = [{**track(f"m-{i}"), "type": "track"} for i in range(101)]
    response = harness.post("/v1/batch", {"batch": events})
    assert response.status_code == 413
    assert "100" in body(response)["error"]
    assert harness.queued() == 0


@pytest.mark.parametrize("authorization", [None, "Bearer demo-write-key", "Basic !!!", basic("wrong-key")])
def test_ingest_without_a_valid_write_key_is_401(harness, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    response = harness.client.http.post("/v1/track", headers=headers, body=json.dumps(track()).encode())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert harness.queued() == 0


def test_queue_throttling_is_a_503_with_retry_after_and_nothing_claims_success(harness):
    from chalicelib import wiring

    sqs = wiring.container().sqs
    with Stubber(sqs) as stub:
        for _ in range(2):  # the client's own retries (standard mode, 2 attempts)
            stub.add_client_error(
                "send_message", service_error_code="ThrottlingException", http_status_code=400
            )
        response = harness.post("/v1/track", track())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert body(response)["retryable"] is True


def test_a_batch_entry_sqs_refuses_twice_makes_the_request_a_503(harness):
    from chalicelib import wiring

    sqs = wiring.container().sqs
    failed = {"Successful": [], "Failed": [{"Id": "0", "SenderFault": False, "Code": "InternalError"}]}
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message_batch",
            {**failed, "Successful": [{"Id": "1", "MessageId": "x", "MD5OfMessageBody": "x"}]},
        )
        stub.add_response("send_message_batch", failed)
        response = harness.post(
            "/v1/batch", {"batch": [{**track("s-0"), "type": "track"}, {**track("s-1"), "type": "track"}]}
        )
    assert response.status_code == 503
