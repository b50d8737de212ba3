"""Geometry, geohash cells, the fence index (against brute force), the fence state machine
and watch-time milestones. Pure: no AWS."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.geo import geohash, watch_time
from chalicelib.geo.fences import Fence, FenceIndex, fence_from_record, fence_to_record
from chalicelib.geo.geometry import (
    EARTH_RADIUS_M,
    Circle,
    MultiPolygon,
    circle_bbox,
    haversine_m,
    parse_polygon,
    validate_circle,
)
from chalicelib.geo.presence import Position, Rules, observe_claim, observe_position

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, (lon + dlon + 540) % 360 - 180


def square(lat: float, lon: float, half_m: float) -> list[list[float]]:
    corners = [(-half_m, -half_m), (-half_m, half_m), (half_m, half_m), (half_m, -half_m)]
    ring = [list(reversed(offset(lat, lon, n, e))) for n, e in corners]
    return [*ring, ring[0]]


# --- geometry -------------------------------------------------------------------------------


def test_haversine_known_distance():
    # Paris -> London, about 343.5 km
    assert abs(haversine_m(48.8566, 2.3522, 51.5074, -0.1278) - 343_500) < 1_500
    assert haversine_m(0, 179.9999, 0, -179.9999) < 25  # across the antimeridian


def test_circle_contains_and_margin():
    c = Circle(37.7936, -122.3958, 80)
    inside = offset(c.lat, c.lon, 70, 0)
    outside = offset(c.lat, c.lon, 95, 0)
    assert c.contains(*inside)
    assert not c.contains(*outside)
    assert c.contains(*outside, margin_m=20)


def test_polygon_with_hole_and_multipolygon():
    outer = square(10, 10, 500)
    hole = square(10, 10, 100)
    poly, problems = parse_polygon([outer, hole], "geometry.coordinates")
    assert problems == [] and poly is not None
    assert poly.contains(*offset(10, 10, 300, 0))
    assert not poly.contains(10, 10)  # in the hole
    assert poly.contains(10, 10, margin_m=150)  # within the margin of the hole's edge
    other, _ = parse_polygon([square(11, 11, 200)], "g")
    assert other is not None
    multi = MultiPolygon((poly, other))
    assert multi.contains(11, 11) and not multi.contains(10.5, 10.5)


def test_polygon_across_the_antimeridian():
    ring = [[179.99, -0.01], [-179.99, -0.01], [-179.99, 0.01], [179.99, 0.01], [179.99, -0.01]]
    poly, problems = parse_polygon([ring], "coordinates")
    assert problems == [] and poly is not None
    assert poly.contains(0, 180) and poly.contains(0, -179.995) and poly.contains(0, 179.995)
    assert not poly.contains(0, 0) and not poly.contains(0, 179.9)
    assert len(poly.bbox().lon_ranges) == 2


def test_ring_validation_names_the_field():
    open_ring = square(0, 0, 100)[:-1] + [[5.0, 5.0]]
    assert "not closed" in parse_polygon([open_ring], "geometry")[1][0]
    bowtie = [[0, 0], [0.001, 0.001], [0.001, 0], [0, 0.001], [0, 0]]
    assert parse_polygon([bowtie], "geometry")[1] == ["geometry[0]: ring intersects itself"]
    bad = [[0, 0], [200, 0], [0, 1], [0, 0]]
    assert "geometry[0][1]" in parse_polygon([bad], "geometry")[1][0]
    too_many = [
        [math.cos(t / 2001 * 2 * math.pi) * 0.01, math.sin(t / 2001 * 2 * math.pi) * 0.01]
        for t in range(2001)
    ]
    assert "at most 2000 vertices" in parse_polygon([[*too_many, too_many[0]]], "g")[1][0]
    assert validate_circle(91, 0, 50) == ["lat: must be a number from -90 to 90"]
    assert validate_circle(0, 0, 5) == ["radius_m: must be a number from 10 to 10000 metres"]
    assert validate_circle(0, 0, 10_001) != [] and validate_circle(0, 0, 10) == []


def test_circle_bbox_at_antimeridian_and_pole():
    box = circle_bbox(0, 179.99, 5_000)
    assert len(box.lon_ranges) == 2
    assert circle_bbox(89.99, 0, 5_000).lon_ranges == ((-180.0, 180.0),)


def test_geohash_matches_the_reference_encoding():
    assert geohash.encode(57.64911, 10.40744, 11) == "u4pruydqqvj"
    assert geohash.encode(37.7936, -122.3958, 5) == "9q8zn"
    assert geohash.encode(-90, -180, 3) == "000" and geohash.encode(90, 180, 3) == "zzz"


def test_fence_record_round_trip():
    poly, _ = parse_polygon([square(1, 1, 300), square(1, 1, 50)], "g")
    assert poly is not None
    for shape in (Circle(1, 2, 30), poly, MultiPolygon((poly,))):
        fence = Fence("s", shape, 240)
        assert fence_from_record(fence_to_record(fence)) == fence


# --- the index never misses a fence (vs brute force) ------------------------------------------

lat_st = st.one_of(st.floats(-89.5, 89.5), st.floats(85, 90), st.floats(-90, -85), st.just(0.0))
lon_st = st.one_of(st.floats(-180, 180), st.floats(179.5, 180), st.floats(-180, -179.5))


@st.composite
def fences(draw):
    lat, lon = draw(lat_st), draw(lon_st)
    kind = draw(st.sampled_from(["circle", "polygon", "holed"]))
    size = draw(st.floats(10, 10_000 if kind == "circle" else 3_000))
    if kind == "circle" or abs(lat) > 80:
        return Circle(lat, lon, size)
    rings = [square(lat, lon, size)]
    if kind == "holed":
        rings.append(square(lat, lon, size / 3))
    poly, problems = parse_polygon(rings, "g")
    assert poly is not None, problems
    return poly


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fences(), min_size=1, max_size=6), st.data())
def test_the_index_never_misses_a_fence_that_contains_the_point(shapes, data):
    index_fences = [Fence(f"s{i}", shape) for i, shape in enumerate(shapes)]
    index = FenceIndex(index_fences, precision=4)
    for _ in range(20):
        target = data.draw(st.sampled_from(index_fences))
        # points near the target (inside, on the boundary, in the margin) and anywhere
        box = target.shape.bbox(target.margin_m)
        lat = data.draw(st.floats(box.south, box.north))
        west, east = data.draw(st.sampled_from(box.lon_ranges))
        lon = data.draw(st.floats(west, east))
        truth = {f.store_id for f in index_fences if f.contains(lat, lon, f.margin_m)}
        found = {f.store_id for f in index.near(lat, lon)}
        assert truth <= found


@settings(max_examples=100, deadline=None)
@given(
    st.floats(-80, 80),
    st.floats(-180, 180),
    st.floats(10, 10_000),
    st.floats(0, 2 * math.pi),
    st.floats(0, 1),
)
def test_circles_across_cell_boundaries_at_default_precision(lat, lon, radius, bearing, frac):
    fence = Fence("s", Circle(lat, lon, radius))
    index = FenceIndex([fence])
    point = offset(lat, lon, math.cos(bearing) * radius * frac, math.sin(bearing) * radius * frac)
    if fence.contains(*point):
        assert index.near(*point) == [fence]


# --- the state machine -----------------------------------------------------------------------

STORE = Fence("store-001", Circle(37.7936, -122.3958, 80), dwell_seconds=180)
INDEX = FenceIndex([STORE])


def walk(points, start=T0, step=timedelta(seconds=10), accuracy=10.0):
    state: dict = {}
    moments = []
    for i, (lat, lon) in enumerate(points):
        pos = Position(lat, lon, start + i * step, accuracy)
        state, found = observe_position(state, pos, INDEX.near(lat, lon))
        moments.extend(found)
    return state, moments


def path(distances_m):
    return [offset(STORE.shape.lat, STORE.shape.lon, d, 0) for d in distances_m]  # type: ignore[union-attr]


def test_a_walk_into_a_store_enters_dwells_and_exits_once():
    approach = list(range(600, 0, -12))  # 1.2 m/s, every 10 s
    stay = [((-1) ** i) * 70 for i in range(30)]  # 5 minutes, jittering near the edge
    leave = list(range(0, 600, 12))
    _, moments = walk(path(approach + stay + leave))
    kinds = [(m.moment_type, m.store_id) for m in moments if m.rejected is None]
    assert kinds == [
        ("geofence_entered", "store-001"),
        ("geofence_dwelled", "store-001"),
        ("geofence_exited", "store-001"),
    ]
    assert all(m.confidence == "high" for m in moments)


def test_jitter_on_the_boundary_does_not_flap():
    jitter = [75, 85, 78, 95, 79, 99, 76, 90] * 5  # in, then within radius + 20 m margin
    _, moments = walk(path([300, 200, 100, *jitter]))
    assert [m.moment_type for m in moments if m.rejected is None] == ["geofence_entered", "geofence_dwelled"]


def test_a_teleport_of_500_km_in_a_minute_is_impossible_travel():
    state, _ = observe_position({}, Position(34.05, -118.25, T0, 10), [])
    far = offset(34.05, -118.25, 500_000, 0)
    state2, moments = observe_position(state, Position(*far, T0 + timedelta(minutes=1), 10), [])
    assert [m.rejected for m in moments] == ["impossible_travel"]
    assert state2 == state  # a rejected position changes nothing
    near_store = STORE.shape
    # a spoofed jump straight into the store is rejected and enters nothing
    _, moments = observe_position(
        state,
        Position(near_store.lat, near_store.lon, T0 + timedelta(minutes=1), 5),
        [STORE],  # type: ignore[union-attr]
    )
    assert [(m.moment_type, m.store_id, m.rejected) for m in moments] == [
        ("location_rejected", "store-001", "impossible_travel")
    ]


def test_speed_threshold_is_configurable():
    state, _ = observe_position({}, Position(0, 0, T0, 0), [])
    hop = offset(0, 0, 10_000, 0)  # 10 km in 5 min = 120 km/h
    assert observe_position(state, Position(*hop, T0 + timedelta(minutes=5)), [])[1] == []
    _, moments = observe_position(
        state, Position(*hop, T0 + timedelta(minutes=5)), [], Rules(max_speed_kmh=100)
    )
    assert moments[0].rejected == "impossible_travel"


def test_mocked_and_inaccurate_positions_are_rejected():
    lat, lon = STORE.shape.lat, STORE.shape.lon  # type: ignore[union-attr]
    _, moments = observe_position({}, Position(lat, lon, T0, 5, is_mocked=True), [STORE])
    assert moments[0].rejected == "mocked_location"
    state, moments = observe_position({}, Position(lat, lon, T0, 500), [STORE])
    assert [(m.moment_type, m.rejected) for m in moments] == [("geofence_entered", "inaccurate")]
    assert state["inside"] == {}


def test_confidence_follows_accuracy_against_fence_size():
    lat, lon = STORE.shape.lat, STORE.shape.lon  # type: ignore[union-attr]
    levels = [
        observe_position({}, Position(lat, lon, T0, acc), [STORE])[1][0].confidence for acc in (10, 40, 70)
    ]
    assert levels == ["high", "medium", "low"]


def test_sdk_claims_are_checked_against_server_fences_and_position():
    lat, lon = STORE.shape.lat, STORE.shape.lon  # type: ignore[union-attr]
    far = offset(lat, lon, 2_000, 0)
    # a claim with a position outside the fence
    _, m = observe_claim({}, "entered", "store-001", Position(*far, T0, 10), T0, INDEX.near(*far))
    assert m[-1].rejected in ("outside_fence", "not_near_store")
    _, m = observe_claim({}, "entered", "store-001", Position(0, 0, T0, 10), T0, [])
    assert m[-1].rejected == "not_near_store"
    # a claim with no position and no recent one
    _, m = observe_claim({}, "entered", "store-001", None, T0, [])
    assert m[0].rejected == "unverified_location"
    # a claim backed by a position inside: one enter; a second claim is a duplicate
    state, m = observe_claim({}, "entered", "store-001", Position(lat, lon, T0, 10), T0, [STORE])
    assert [(d.moment_type, d.rejected) for d in m] == [("geofence_entered", None)]
    state, m = observe_claim(state, "entered", "store-001", None, T0 + timedelta(seconds=30), [STORE])
    assert m[-1].rejected == "already_inside"
    # dwell claimed too early, then in time
    _, m = observe_claim(state, "dwelled", "store-001", None, T0 + timedelta(seconds=60), [STORE])
    assert m[-1].rejected == "dwell_too_short"
    # exit claimed while the last position is inside
    _, m = observe_claim(state, "exited", "store-001", None, T0 + timedelta(seconds=60), [STORE])
    assert m[-1].rejected == "still_inside"
    # a mocked claim
    _, m = observe_claim({}, "entered", "store-001", Position(lat, lon, T0, 5, is_mocked=True), T0, [STORE])
    assert m[0].rejected == "mocked_location" and m[0].moment_type == "geofence_entered"


# --- watch time ------------------------------------------------------------------------------


def play(state, positions, start, total=600.0, step=10.0):
    reached: list[int] = []
    for i, p in enumerate(positions):
        state, got = watch_time.heartbeat(state, p, total, start + timedelta(seconds=step * i))
        reached.extend(got)
    return state, reached


def test_seeking_ahead_does_not_count():
    state, reached = play(None, [0, 540], T0)  # seek 0 % -> 90 %
    state, more = play(state, [540 + 10 * i for i in range(1, 7)], T0 + timedelta(seconds=20))
    assert reached + more == []
    assert watch_time.watched_seconds(state["intervals"]) == 60


def test_watching_all_in_two_sittings_fires_each_milestone_once():
    state, first = play(None, [10 * i for i in range(31)], T0)  # 0..300 s
    state, second = play(state, [300 + 10 * i for i in range(31)], T0 + timedelta(hours=3))
    state, replay = play(state, [10 * i for i in range(61)], T0 + timedelta(hours=5))
    assert first == [25, 50] and second == [75, 100] and replay == []


def test_replaying_does_not_inflate_watch_time():
    state, reached = play(None, [0, 10, 20, 30] * 20, T0)  # loops the first 30 s
    assert watch_time.watched_seconds(state["intervals"]) == 30 and reached == []


@given(st.lists(st.tuples(st.floats(0, 600), st.floats(0.1, 60)), max_size=80))
def test_watched_time_never_exceeds_length_or_wall_clock(beats):
    state = None
    at = T0
    total_wall = 0.0
    fired: list[int] = []
    for position, gap in beats:
        at += timedelta(seconds=gap)
        total_wall += gap
        state, reached = watch_time.heartbeat(state, position, 600.0, at)
        fired.extend(reached)
    if state is not None:
        watched = watch_time.watched_seconds(state["intervals"])
        assert watched <= 600.0 + 1e-6
        assert watched <= total_wall * watch_time.RATE_SLACK + watch_time.SLACK_SECONDS * len(beats) + 1e-6
    assert len(fired) == len(set(fired))


def test_a_fix_older_than_the_last_one_is_out_of_order_and_changes_nothing():
    # SQS does not keep order: a phone's earlier fix can arrive after a later one
    state, _ = observe_position({}, Position(34.05, -118.25, T0, 10), [])
    earlier = offset(34.05, -118.25, 150, 0)
    state2, moments = observe_position(state, Position(*earlier, T0 - timedelta(seconds=30), 10), [])
    assert [m.rejected for m in moments] == ["out_of_order"]
    assert state2 == state
