"""The worker with its moment detectors (use_cases/detect_moments.py + process_events.py), over
the in-memory stores: a walk into a store, a teleport, SDK claims, video milestones, exactly
once on redelivery, and the after-commit step getting one derived moment each; plus the store
admin's validation, opening hours and the engine's store_closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.in_memory_fences import InMemoryFences
from chalicelib.domain.clock import FixedClock
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.engine.decide import Policy, Reach, StoreInfo, decide, store_closed
from chalicelib.engine.rules import MomentFacts
from chalicelib.geo import opening_hours
from chalicelib.use_cases.process_events import Outcome, ProcessEvent
from chalicelib.use_cases.stores import StoreAdmin, parse_store
from tests.unit.builders import COFFEE_STORE, NOW, Worker, campaign, event, north_of_coffee_store, profile

STORE = COFFEE_STORE
north = north_of_coffee_store


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str]] = []

    def __call__(self, subject, profile, event, store_id, product_id, first_delivery=False):
        self.calls.append((event.event, store_id, event.message_id))
        return event.event


@pytest.fixture
def world():
    fences = InMemoryFences()
    StoreAdmin(fences, FixedClock(NOW)).create(dict(STORE))
    worker = Worker()
    recorder = Recorder()
    worker.process = ProcessEvent(
        worker.store, worker.qr_codes, worker.settings, worker.clock, recorder, fences=fences
    )
    return worker, recorder


def location(n: int, lat: float, lon: float, at: datetime, **extra):
    props = {"latitude": lat, "longitude": lon, "accuracy_m": 10, **extra}
    return event(
        "Location Updated", message_id=f"loc-{n}", at=at, properties=props, context={"device": {"id": "d1"}}
    )


def test_a_walk_into_the_store_through_the_worker_is_one_enter_one_dwell_one_exit(world):
    worker, recorder = world
    metres = [*range(600, 0, -12), *([40, 60] * 15), *range(0, 600, 12)]
    for i, m in enumerate(metres):
        worker.deliver(location(i, *north(m), NOW + timedelta(seconds=10 * i)))
    assert [(name, store) for name, store, _ in recorder.calls] == [
        ("Geofence Entered", "store-001"),
        ("Geofence Dwelled", "store-001"),
        ("Geofence Exited", "store-001"),
    ]
    user = worker.user()
    assert user is not None
    assert user.moment_counts == {"geofence_entered": 1, "geofence_dwelled": 1, "geofence_exited": 1}
    totals = worker.totals()
    assert totals["moment:geofence_entered"] == 1 and totals["event:Location Updated"] == len(metres)


def test_a_redelivered_position_detects_nothing_twice_but_resumes_the_offer(world):
    worker, recorder = world
    evt = location(1, *north(0), NOW)
    first = worker.deliver(evt)
    again = worker.deliver(evt)
    assert first.outcome is Outcome.PROCESSED and again.outcome is Outcome.DUPLICATE
    assert first.detected == again.detected and first.detected[0]["moment"] == "geofence_entered"
    assert [c[2] for c in recorder.calls] == ["loc-1#geofence_entered#store-001"] * 2  # same offer id
    assert worker.user().moment_counts == {"geofence_entered": 1}  # type: ignore[union-attr]


def test_a_500_km_teleport_in_a_minute_is_recorded_as_impossible_travel(world):
    worker, recorder = world
    worker.deliver(location(1, 34.05, -118.25, NOW))
    result = worker.deliver(location(2, *north(0), NOW + timedelta(minutes=1)))
    assert result.rejected == "impossible_travel"
    assert recorder.calls == []
    assert worker.totals()["rejected:impossible_travel"] == 1


def test_mocked_and_invalid_positions_are_rejected(world):
    worker, _ = world
    assert worker.deliver(location(1, *north(0), NOW, is_mocked=True)).rejected == "mocked_location"
    bad = event("Location Updated", message_id="x", properties={"latitude": 91, "longitude": 0})
    assert worker.deliver(bad).rejected == "invalid_position"


def test_sdk_claims_for_a_fenced_store_need_a_position(world):
    worker, recorder = world
    claim = event("Geofence Entered", message_id="c-1", properties={"store_id": "store-001"})
    assert worker.deliver(claim).rejected == "unverified_location"
    lat, lon = north(10)
    backed = event(
        "Geofence Entered",
        message_id="c-2",
        properties={"store_id": "store-001", "latitude": lat, "longitude": lon, "accuracy_m": 15},
    )
    assert worker.deliver(backed).rejected is None
    assert [c[0] for c in recorder.calls] == ["Geofence Entered"]
    # a store with no fence is trusted as before
    legacy = worker.deliver(event("Geofence Entered", message_id="c-3", properties={"store_id": "store-9"}))
    assert legacy.rejected is None and recorder.calls[-1] == ("Geofence Entered", "store-9", "c-3")


def heartbeat(n: int, position: float, at: datetime, total: float = 600):
    props = {"video_id": "styling-101", "position": position, "total_length": total}
    return event("Video Content Playing", message_id=f"hb-{n}", at=at, properties=props)


def test_video_milestones_from_time_actually_watched(world):
    worker, recorder = world
    worker.deliver(heartbeat(0, 0, NOW))
    worker.deliver(heartbeat(1, 540, NOW + timedelta(seconds=10)))  # seek to 90 %
    for i in range(2, 8):
        worker.deliver(heartbeat(i, 540 + 10 * (i - 1), NOW + timedelta(seconds=10 * i)))
    assert recorder.calls == []
    start = NOW + timedelta(hours=1)
    for i in range(61):  # then all of it
        worker.deliver(heartbeat(100 + i, 10 * i, start + timedelta(seconds=10 * i)))
    assert [c[2].rsplit("#", 1)[1] for c in recorder.calls] == ["25", "50", "75", "100"]
    assert worker.user().moment_counts["video_milestone"] == 4  # type: ignore[index]


# --- stores ----------------------------------------------------------------------------


def test_store_validation_names_every_field():
    with pytest.raises(InvalidInput) as raised:
        parse_store({"store_id": "bad id", "lat": 100, "lon": 0, "radius_m": 5, "timezone": "Mars/Base"})
    fields = {e.field for e in raised.value.errors}
    assert fields == {"store_id", "name", "lat", "radius_m", "timezone"}
    with pytest.raises(InvalidInput) as raised:
        parse_store({**STORE, "opening_hours": "Mo-Xx 9-5"})
    assert [e.field for e in raised.value.errors] == ["opening_hours"]
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [0.001, 0.001], [0.001, 0], [0, 0.001], [0, 0]]]}
    body = {k: v for k, v in STORE.items() if k not in ("lat", "lon", "radius_m")}
    with pytest.raises(InvalidInput) as raised:
        parse_store({**body, "geometry": polygon})
    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("geometry.coordinates[0]", "ring intersects itself")
    ]


def test_store_admin_create_update_delete_moves_the_fence():
    fences = InMemoryFences()
    admin = StoreAdmin(fences, FixedClock(NOW))
    admin.create(dict(STORE))
    assert [f.store_id for f in fences.near(*north(0))] == ["store-001"]
    with pytest.raises(InvalidInput):
        admin.create(dict(STORE))
    moved = admin.update("store-001", {"lat": 40.0, "lon": -74.0})
    assert moved["lat"] == 40.0 and fences.near(*north(0)) == []
    assert [f.store_id for f in fences.near(40.0, -74.0)] == ["store-001"]
    admin.delete("store-001")
    assert fences.near(40.0, -74.0) == [] and admin.list() == []
    with pytest.raises(NotFound):
        admin.get("store-001")


# --- opening hours and store_closed ---------------------------------------------------------


def test_opening_hours():
    schedule = opening_hours.parse("Mo-Fr 08:00-18:00; Sa 10:00-14:00; Su off; Fr 18:00-02:00")
    monday_9 = datetime(2026, 11, 23, 9, 0)
    assert opening_hours.is_open(schedule, monday_9)
    assert not opening_hours.is_open(schedule, monday_9.replace(hour=19))
    assert opening_hours.is_open(schedule, datetime(2026, 11, 28, 1, 0))  # Saturday 01:00, Friday's late span
    assert not opening_hours.is_open(schedule, datetime(2026, 11, 29, 12, 0))  # Sunday off
    assert opening_hours.is_open(opening_hours.parse("24/7"), monday_9)


def test_an_offer_for_a_closed_store_is_suppressed_as_store_closed():
    open_store = StoreInfo("s1", "Soho", "Europe/London", "Mo-Su 07:00-19:00")
    at_night = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # 22:30 in London
    assert store_closed(open_store, at_night) and not store_closed(open_store, NOW)
    assert not store_closed(StoreInfo("s1", opening_hours="nonsense"), at_night)
    c = campaign()
    facts = MomentFacts("m-1", "geofence_entered", at_night, store_id="s1")
    shopper = profile(consents={"push": {"granted": True, "at": NOW.isoformat()}})
    reach = Reach(push_endpoints=(("arn:endpoint/1", "ios"),))
    policy = Policy(quiet_hours=("03:00", "04:00"))
    decision = decide([c], facts, shopper, reach, open_store, policy, at_night, "user:u1")
    assert decision.suppressed is not None and decision.suppressed[1] == "store_closed"
    daytime = decide([c], replace_at(facts, NOW), shopper, reach, open_store, policy, NOW, "user:u1")
    assert daytime.candidates


def replace_at(facts: MomentFacts, at: datetime) -> MomentFacts:
    from dataclasses import replace

    return replace(facts, at=at)
