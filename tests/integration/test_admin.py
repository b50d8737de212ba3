"""/admin routes: every one refuses anonymous callers; apps, user view and erasure work."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

import app as app_module


def admin_routes():
    for path, methods in app_module.app.routes.items():
        if path.startswith("/admin"):
            for method in methods:
                yield method, re.sub(r"\{[^}]+\}", "x", path)


def test_there_are_admin_routes_to_check():
    assert len(list(admin_routes())) >= 3


@pytest.mark.parametrize(("method", "path"), list(admin_routes()))
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic ZGVtby13cml0ZS1rZXk6"])
def test_every_admin_route_refuses_anonymous_and_wrong_credentials(harness, method, path, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    response = getattr(harness.client.http, method.lower())(path, headers=headers, body=b"{}")
    assert response.status_code == 401


def test_created_app_key_works_for_ingest(harness):
    response = harness.admin("POST", "/admin/apps", {"name": "iOS app"})
    assert response.status_code == 201
    created = json.loads(response.body)
    assert created["app_id"] == "ios-app"
    assert created["write_key"].startswith("mmk_")
    track = {"userId": "u", "event": "Opened", "messageId": "k-1", "timestamp": datetime.now(UTC).isoformat()}
    assert harness.post("/v1/track", track, key=created["write_key"]).status_code == 200
    stored = harness.scan("WRITEKEY#")
    assert all(created["write_key"] not in json.dumps(row) for row in stored)


def test_create_app_names_the_bad_field(harness):
    response = harness.admin("POST", "/admin/apps", {"name": ""})
    assert response.status_code == 400
    assert json.loads(response.body)["errors"][0]["field"] == "name"


def test_user_view_and_erasure(harness):
    anon = "dev-1"
    ts = datetime.now(UTC).isoformat()
    harness.post(
        "/v1/track",
        {
            "anonymousId": anon,
            "event": "Product Viewed",
            "messageId": "e-1",
            "timestamp": ts,
            "properties": {"product_id": "p1", "category": "tea"},
        },
    )
    harness.post(
        "/v1/identify",
        {
            "userId": "dana",
            "anonymousId": anon,
            "messageId": "e-2",
            "timestamp": ts,
            "traits": {"email": "dana@example.com"},
        },
    )
    harness.pump.drain()
    view = json.loads(harness.admin("GET", "/admin/users/dana").body)
    assert view["traits"]["email"] == "dana@example.com"
    assert view["affinities"]["categories"][0]["id"] == "tea"

    erased = harness.admin("DELETE", "/admin/users/dana")
    assert erased.status_code == 200
    assert json.loads(erased.body)["items_deleted"] >= 4
    assert harness.scan("USER#dana") == []
    assert harness.scan(f"ANON#{anon}") == []
    assert harness.admin("GET", "/admin/users/dana").status_code == 404
    assert harness.admin("DELETE", "/admin/users/dana").status_code == 404
