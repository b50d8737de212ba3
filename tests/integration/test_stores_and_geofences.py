"""/admin/stores on moto through chalice's test client, the fence cell index in DynamoDB, a walk
and a teleport through the real worker, and `python -m cli stores import` (100,000 rows)."""

from __future__ import annotations

import io
import math
import time

from chalicelib.geo.geometry import EARTH_RADIUS_M
from cli.__main__ import main
from tests.unit.builders import COFFEE_STORE, north_of_coffee_store

STORE = COFFEE_STORE
north = north_of_coffee_store


def test_store_admin_routes_keep_the_cell_index_in_step(harness):
    created = harness.admin("POST", "/admin/stores", STORE)
    assert created.status_code == 201, created.body
    cells = harness.scan("CELL#")
    assert cells and {c["SK"] for c in cells} == {"FENCE#store-001"}
    bad = harness.admin("POST", "/admin/stores", {**STORE, "store_id": "x", "radius_m": 50_000})
    assert bad.status_code == 400 and b"radius_m" in bad.body
    assert harness.admin("GET", "/admin/stores/store-001").status_code == 200
    assert len(harness.admin("GET", "/admin/stores").json_body["stores"]) == 1
    moved = harness.admin("PATCH", "/admin/stores/store-001", {"lat": 40.0, "lon": -74.0})
    assert moved.status_code == 200 and moved.json_body["lat"] == 40.0
    assert {c["PK"] for c in harness.scan("CELL#")}.isdisjoint({c["PK"] for c in cells})
    assert harness.admin("DELETE", "/admin/stores/store-001").status_code == 204
    assert harness.scan("CELL#") == [] and harness.admin("GET", "/admin/stores/store-001").status_code == 404


def test_a_walk_into_a_store_through_the_queue_and_a_teleport(harness):
    from datetime import UTC, datetime, timedelta

    assert harness.admin("POST", "/admin/stores", STORE).status_code == 201
    start = datetime.now(UTC) - timedelta(minutes=30)
    metres = [*range(300, 0, -12), *([40, 60] * 12), *range(0, 300, 12)]
    events = []
    for i, m in enumerate(metres):
        lat, lon = north(m)
        events.append(
            {
                "type": "track",
                "userId": "walker",
                "messageId": f"w-{i}",
                "event": "Location Updated",
                "timestamp": (start + timedelta(seconds=10 * i)).isoformat(),
                "properties": {"latitude": lat, "longitude": lon, "accuracy_m": 8},
            }
        )
    far_lat = STORE["lat"] + math.degrees(500_000 / EARTH_RADIUS_M)  # type: ignore[operator]
    last = start + timedelta(seconds=10 * len(metres))
    events.append(
        {
            "type": "track",
            "userId": "walker",
            "messageId": "w-teleport",
            "event": "Location Updated",
            "timestamp": (last + timedelta(minutes=1)).isoformat(),
            "properties": {"latitude": far_lat, "longitude": STORE["lon"], "accuracy_m": 8},
        }
    )
    for i in range(0, len(events), 20):
        assert harness.post("/v1/batch", {"batch": events[i : i + 20]}).status_code == 200
        harness.pump.drain()
    profile = harness.item("USER#walker", "PROFILE")
    assert profile is not None
    assert {k: v for k, v in profile["moment_counts"].items()} == {
        "geofence_entered": 1,
        "geofence_dwelled": 1,
        "geofence_exited": 1,
    }
    marker = harness.item("USER#walker", "MSG#w-teleport")
    assert marker is not None and marker["rejected"] == "impossible_travel"
    assert harness.counters()["rejected:impossible_travel"] == 1


def test_cli_imports_a_large_csv_and_reports_each_bad_row(harness, tmp_path):
    """MM_IMPORT_ROWS=100000 for the acceptance run (about 150 s on moto); 5,000 by default."""
    import os

    from chalicelib import wiring

    rows = int(os.environ.get("MM_IMPORT_ROWS", "5000"))

    path = tmp_path / "stores.csv"
    lines = ["id,name,lat,lon,radius_m,timezone,opening_hours"]
    for n in range(rows):
        lat, lon = -60 + (n % 1000) * 0.12, -170 + (n // 1000) * 3.4
        lines.append(f"s{n},Store {n},{lat:.5f},{lon:.5f},{50 + n % 200},Europe/London,Mo-Su 08:00-20:00")
    lines[11] = "s10,Bad radius,10,10,5,Europe/London,"
    lines[12] = "s11,Bad zone,10,10,50,Mars/Base,"
    lines[13] = "s12,,91,10,50,UTC,"
    path.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    started = time.monotonic()
    code = main(["stores", "import", str(path)], container=wiring.container(), out=out)
    elapsed = time.monotonic() - started
    text = out.getvalue()
    assert code == 1, text
    assert f"imported {rows - 3} store(s), rejected 3 of {rows} row(s)" in text
    assert "line 12: radius_m: must be a number from 10 to 10000 metres" in text
    assert "line 13: timezone:" in text and "line 14: name:" in text and "lat:" in text
    assert f"[##############################] {rows}/{rows} rows" in text
    assert wiring.container().fences.get(f"s{rows - 1}") is not None
    print(f"imported {rows:,} rows in {elapsed:.1f}s")
