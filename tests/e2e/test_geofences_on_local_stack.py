"""Issue #4's acceptance on the real local stack: a walk into the demo store (positions every
10 s) gives exactly one enter, one dwell after the threshold and one exit; a 500 km teleport in
a minute is rejected as ``impossible_travel`` and triggers nothing.

Positions are sent one at a time and each is waited for (its marker in moto's DynamoDB): SQS
standard queues do not keep order, and the state machine refuses a fix older than the last one.
Event timestamps start ~10 minutes ago, so the 3-minute dwell passes without sleeping.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e
AUTH = ("demo-write-key", "")
ADMIN = {"Authorization": "Bearer demo-admin-token"}
STORE = ("store-001", 37.7936, -122.3958)  # devstack/seed.py: radius 80 m, dwell 180 s, 24/7
METRES_PER_DEGREE_LAT = 111_320.0


def north_of(metres: float) -> tuple[float, float]:
    _, lat, lon = STORE
    return lat + metres / METRES_PER_DEGREE_LAT, lon


def position(user: str, at: datetime, where: tuple[float, float], accuracy_m: float = 10) -> dict[str, Any]:
    return {
        "userId": user,
        "event": "Location Updated",
        "messageId": f"pos-{uuid.uuid4().hex}",
        "timestamp": at.isoformat(),
        "properties": {"latitude": where[0], "longitude": where[1], "accuracy_m": accuracy_m},
    }


def send_and_wait(stack: Any, event: dict[str, Any]) -> dict[str, Any]:
    """POST one track event and wait until the worker has committed its marker."""
    response = requests.post(f"{stack.base_url}/v1/track", json=event, auth=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    marker = stack.wait_for(f"USER#{event['userId']}", f"MSG#{event['messageId']}", timeout=10.0)
    assert marker is not None, f"{event['messageId']} not processed:\n{stack.logs()}"
    return marker


def walk() -> list[tuple[float, float]]:
    """From 210 m north, at 1.5 m/s (15 m per 10 s fix), to the store's centre; 4 minutes inside
    (a few metres of jitter); then on south to 210 m beyond it."""
    approach = [north_of(210 - 15 * i) for i in range(15)]  # 210 m .. 0 m
    jitter = [north_of(3 * math.sin(i)) for i in range(24)]  # 240 s inside
    leave = [north_of(-15 * i) for i in range(1, 15)]  # 15 m .. 210 m south
    return approach + jitter + leave


def test_a_walk_into_the_demo_store_gives_one_enter_one_dwell_and_one_exit(local_stack):
    user = f"walker-{uuid.uuid4().hex[:8]}"
    path = walk()
    start = datetime.now(UTC) - timedelta(seconds=10 * len(path) + 60)
    detected: list[tuple[int, dict[str, Any]]] = []
    for i, where in enumerate(path):
        marker = send_and_wait(local_stack, position(user, start + timedelta(seconds=10 * i), where))
        assert marker.get("rejected") is None, marker
        detected += [(i, found) for found in marker.get("detected") or []]

    moments = [(i, found["moment"], found.get("store_id")) for i, found in detected]
    assert [m for _, m, _ in moments] == ["geofence_entered", "geofence_dwelled", "geofence_exited"]
    assert {s for _, _, s in moments} == {"store-001"}
    (entered, _, _), (dwelled, _, _), (exited, _, _) = moments
    assert 10 * (dwelled - entered) >= 180, "dwelled before the store's 3-minute threshold"
    assert 10 * (dwelled - entered) <= 190, "dwell fired late"
    assert exited > dwelled
    _, lat, _ = STORE
    assert abs(path[entered][0] - lat) * METRES_PER_DEGREE_LAT <= 80  # entered inside the shape
    assert abs(path[exited][0] - lat) * METRES_PER_DEGREE_LAT > 80  # left only beyond it

    view = requests.get(f"{local_stack.base_url}/admin/users/{user}", headers=ADMIN, timeout=10)
    assert view.status_code == 200, view.text
    counts = view.json()["moment_counts"]
    assert {k: v for k, v in counts.items() if k.startswith("geofence")} == {
        "geofence_entered": 1,
        "geofence_dwelled": 1,
        "geofence_exited": 1,
    }
    assert view.json()["recent_stores"][0]["store_id"] == "store-001"


def test_a_500_km_teleport_in_a_minute_is_rejected_as_impossible_travel(local_stack):
    user = f"teleporter-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    first = send_and_wait(local_stack, position(user, now - timedelta(minutes=2), north_of(500)))
    assert first.get("rejected") is None
    far = north_of(500 + 500_000)  # 500 km further north, a minute later (30,000 km/h)
    teleport = position(user, now - timedelta(minutes=1), far)
    marker = send_and_wait(local_stack, teleport)
    assert marker["rejected"] == "impossible_travel"
    assert [f.get("rejected") for f in marker["detected"]] == ["impossible_travel"]

    # Recorded as rejected, no moment on the profile and no offer decided.
    view = requests.get(f"{local_stack.base_url}/admin/users/{user}", headers=ADMIN, timeout=10)
    assert view.status_code == 200
    assert not any(k.startswith("geofence") for k in view.json()["moment_counts"])
    offers = requests.get(f"{local_stack.base_url}/admin/users/{user}/offers", headers=ADMIN, timeout=10)
    assert offers.json()["offers"] == []
