"""Shapes on the sphere: haversine distances, circles, polygons (with holes, MultiPolygon),
their validation, bounding boxes (antimeridian- and pole-aware) and distance to the boundary.

Coordinates are degrees, distances metres. A polygon is a list of rings (outer first, then
holes), each ring a closed list of ``(lon, lat)`` pairs as in GeoJSON. A ring whose longitudes
span more than 180 degrees is taken to cross the antimeridian and is "unwrapped" (negative
longitudes + 360) for every computation. Distances to polygon edges use a local equirectangular
projection around the point, exact enough for store-sized fences (< 10 km).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8
MIN_RADIUS_M = 10.0
MAX_RADIUS_M = 10_000.0
MAX_VERTICES = 2_000
MAX_POLYGON_EXTENT_M = 20_000.0  # a fence is a place, not a region

Ring = tuple[tuple[float, float], ...]  # (lon, lat) pairs, closed


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def valid_coordinate(lat: object, lon: object) -> bool:
    return (
        isinstance(lat, (int, float))
        and isinstance(lon, (int, float))
        and not isinstance(lat, bool)
        and not isinstance(lon, bool)
        and math.isfinite(lat)
        and math.isfinite(lon)
        and -90 <= lat <= 90
        and -180 <= lon <= 180
    )


@dataclass(frozen=True)
class BBox:
    """Latitude range and one or two longitude ranges (two when it crosses the antimeridian)."""

    south: float
    north: float
    lon_ranges: tuple[tuple[float, float], ...]


def _lon_ranges(west: float, east: float) -> tuple[tuple[float, float], ...]:
    """[west, east] possibly outside [-180, 180], as ranges inside it."""
    if east - west >= 360:
        return ((-180.0, 180.0),)
    if west < -180:
        return ((west + 360, 180.0), (-180.0, east))
    if east > 180:
        return ((west, 180.0), (-180.0, east - 360))
    return ((west, east),)


def circle_bbox(lat: float, lon: float, radius_m: float) -> BBox:
    angular = radius_m / EARTH_RADIUS_M
    dlat = math.degrees(angular)
    south, north = lat - dlat, lat + dlat
    if north >= 90 or south <= -90:  # contains a pole: every longitude
        return BBox(max(south, -90.0), min(north, 90.0), ((-180.0, 180.0),))
    ratio = math.sin(angular) / math.cos(math.radians(lat))
    dlon = 180.0 if ratio >= 1 else math.degrees(math.asin(ratio))
    return BBox(south, north, _lon_ranges(lon - dlon, lon + dlon))


def _unwrap(lon: float, wraps: bool) -> float:
    return lon + 360 if wraps and lon < 0 else lon


def _local_xy(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """Metres east/north of (lat0, lon0) in a local equirectangular projection."""
    dlon = (lon - lon0 + 540) % 360 - 180
    x = math.radians(dlon) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = math.radians(lat - lat0) * EARTH_RADIUS_M
    return x, y


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_m: float

    def contains(self, lat: float, lon: float, margin_m: float = 0.0) -> bool:
        reach = self.radius_m + margin_m
        # A latitude band check first: a degree of latitude is the same length everywhere, so
        # this never rejects a point the exact test would accept, and it skips most of a
        # crowded cell's fences without any trigonometry.
        if abs(lat - self.lat) > math.degrees(reach / EARTH_RADIUS_M) * 1.000001:
            return False
        return haversine_m(self.lat, self.lon, lat, lon) <= reach

    def bbox(self, margin_m: float = 0.0) -> BBox:
        return circle_bbox(self.lat, self.lon, self.radius_m + margin_m)

    @property
    def size_m(self) -> float:
        return self.radius_m


@dataclass(frozen=True)
class Polygon:
    """One GeoJSON Polygon: the outer ring, then holes."""

    rings: tuple[Ring, ...]

    @property
    def wraps(self) -> bool:
        lons = [p[0] for p in self.rings[0]]
        return max(lons) - min(lons) > 180

    def _inside(self, lat: float, lon: float) -> bool:
        wraps = self.wraps
        x = _unwrap(lon, wraps)
        inside = _in_ring(self.rings[0], x, lat, wraps)
        return inside and not any(_in_ring(hole, x, lat, wraps) for hole in self.rings[1:])

    def boundary_distance_m(self, lat: float, lon: float) -> float:
        best = math.inf
        wraps = self.wraps
        for ring in self.rings:
            # Project the ring unwrapped (continuous longitudes), shifted by whole turns so it
            # lies next to the point: an edge crossing the antimeridian stays short.
            xs = [_unwrap(px, wraps) for px, _ in ring]
            shift = 360.0 * round((xs[0] - lon) / 360.0)
            scale = EARTH_RADIUS_M * math.cos(math.radians(lat))
            pts = [
                (math.radians(x - shift - lon) * scale, math.radians(py - lat) * EARTH_RADIUS_M)
                for x, (_, py) in zip(xs, ring, strict=True)
            ]
            for (ax, ay), (bx, by) in zip(pts, pts[1:], strict=False):
                best = min(best, _segment_distance(0.0, 0.0, ax, ay, bx, by))
        return best

    def contains(self, lat: float, lon: float, margin_m: float = 0.0) -> bool:
        if self._inside(lat, lon):
            return True
        return margin_m > 0 and self.boundary_distance_m(lat, lon) <= margin_m

    def bbox(self, margin_m: float = 0.0) -> BBox:
        wraps = self.wraps
        lons = [_unwrap(p[0], wraps) for p in self.rings[0]]
        lats = [p[1] for p in self.rings[0]]
        south, north = min(lats), max(lats)
        dlat = math.degrees(margin_m / EARTH_RADIUS_M)
        south, north = south - dlat, north + dlat
        if north >= 90 or south <= -90:
            return BBox(max(south, -90.0), min(north, 90.0), ((-180.0, 180.0),))
        widest = max(abs(south), abs(north))
        dlon = min(180.0, dlat / max(math.cos(math.radians(widest)), 1e-9))
        return BBox(south, north, _lon_ranges(min(lons) - dlon, max(lons) + dlon))

    @property
    def size_m(self) -> float:
        """The radius of the circle of the same area (for confidence and margins)."""
        ring = self.rings[0]
        lat0, lon0 = ring[0][1], ring[0][0]
        pts = [_local_xy(lat0, lon0, lat, lon) for lon, lat in ring]
        area = abs(sum(ax * by - bx * ay for (ax, ay), (bx, by) in zip(pts, pts[1:], strict=False))) / 2
        return math.sqrt(area / math.pi)


def _in_ring(ring: Ring, x: float, y: float, wraps: bool) -> bool:
    """Even-odd ray casting in (unwrapped) lon/lat."""
    inside = False
    n = len(ring)
    for i in range(n - 1):
        x1, y1 = _unwrap(ring[i][0], wraps), ring[i][1]
        x2, y2 = _unwrap(ring[i + 1][0], wraps), ring[i + 1][1]
        if (y1 > y) != (y2 > y):
            cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross:
                inside = not inside
    return inside


@dataclass(frozen=True)
class MultiPolygon:
    polygons: tuple[Polygon, ...]

    def contains(self, lat: float, lon: float, margin_m: float = 0.0) -> bool:
        return any(p.contains(lat, lon, margin_m) for p in self.polygons)

    def bbox(self, margin_m: float = 0.0) -> BBox:
        boxes = [p.bbox(margin_m) for p in self.polygons]
        ranges: list[tuple[float, float]] = []
        for box in boxes:
            ranges.extend(box.lon_ranges)
        return BBox(min(b.south for b in boxes), max(b.north for b in boxes), tuple(ranges))

    @property
    def size_m(self) -> float:
        return math.sqrt(sum(p.size_m**2 for p in self.polygons))


Shape = Circle | Polygon | MultiPolygon


def exit_margin_m(shape: Shape) -> float:
    """Hysteresis: a device inside a fence leaves it only beyond this distance outside."""
    return max(20.0, 0.1 * shape.size_m)


# --- validation ----------------------------------------------------------------------------


def validate_circle(lat: object, lon: object, radius_m: object) -> list[str]:
    problems: list[str] = []
    if not valid_coordinate(lat, 0.0):
        problems.append("lat: must be a number from -90 to 90")
    if not valid_coordinate(0.0, lon):
        problems.append("lon: must be a number from -180 to 180")
    if (
        not isinstance(radius_m, (int, float))
        or isinstance(radius_m, bool)
        or not math.isfinite(radius_m)
        or not MIN_RADIUS_M <= radius_m <= MAX_RADIUS_M
    ):
        problems.append(f"radius_m: must be a number from {MIN_RADIUS_M:g} to {MAX_RADIUS_M:g} metres")
    return problems


def _segments_cross(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float]
) -> bool:
    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2 = orient(c, d, a), orient(c, d, b)
    d3, d4 = orient(a, b, c), orient(a, b, d)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True

    def on(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> bool:
        return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])

    return (
        (d1 == 0 and on(c, d, a))
        or (d2 == 0 and on(c, d, b))
        or (d3 == 0 and on(a, b, c))
        or (d4 == 0 and on(a, b, d))
    )


def self_intersects(ring: Sequence[tuple[float, float]]) -> bool:
    """True if two non-adjacent edges of the closed ring touch or cross (O(n^2); n <= 2,000)."""
    pts = list(ring)
    n = len(pts) - 1  # edges
    if n < 3:
        return True
    for i in range(n):
        a, b = pts[i], pts[i + 1]
        min_x, max_x = min(a[0], b[0]), max(a[0], b[0])
        min_y, max_y = min(a[1], b[1]), max(a[1], b[1])
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # adjacent edges share a vertex
            c, d = pts[j], pts[j + 1]
            if max(c[0], d[0]) < min_x or min(c[0], d[0]) > max_x:
                continue
            if max(c[1], d[1]) < min_y or min(c[1], d[1]) > max_y:
                continue
            if _segments_cross(a, b, c, d):
                return True
    return False


def parse_polygon(raw: object, field: str) -> tuple[Polygon | None, list[str]]:
    """A GeoJSON Polygon's ``coordinates`` -> Polygon, or the problems (each naming ``field``)."""
    if not isinstance(raw, list) or not raw:
        return None, [f"{field}: must be a list of rings (outer ring first, then holes)"]
    rings: list[Ring] = []
    problems: list[str] = []
    for r, ring in enumerate(raw):
        where = f"{field}[{r}]"
        if not isinstance(ring, list) or len(ring) < 4:
            problems.append(f"{where}: a ring needs at least 4 positions (3 corners, closed)")
            continue
        points: list[tuple[float, float]] = []
        for p, pos in enumerate(ring):
            if not isinstance(pos, list | tuple) or len(pos) < 2 or not valid_coordinate(pos[1], pos[0]):
                problems.append(f"{where}[{p}]: must be [lon, lat] with lon -180..180, lat -90..90")
                break
            points.append((float(pos[0]), float(pos[1])))
        else:
            if len(points) - 1 > MAX_VERTICES:
                problems.append(f"{where}: at most {MAX_VERTICES} vertices, got {len(points) - 1}")
            elif points[0] != points[-1]:
                problems.append(f"{where}: ring is not closed (first and last positions differ)")
            else:
                wraps = max(p[0] for p in points) - min(p[0] for p in points) > 180
                unwrapped = [(_unwrap(x, wraps), y) for x, y in points]
                if self_intersects(unwrapped):
                    problems.append(f"{where}: ring intersects itself")
                else:
                    rings.append(tuple(points))
    if problems:
        return None, problems
    polygon = Polygon(tuple(rings))
    box = polygon.bbox()
    extent = haversine_m(box.south, box.lon_ranges[0][0], box.north, box.lon_ranges[-1][1])
    if len(box.lon_ranges) == 1 and extent > MAX_POLYGON_EXTENT_M * 1.5:
        return None, [f"{field}: the polygon spans {extent / 1000:.1f} km; fences are at most 20 km across"]
    if polygon.size_m < MIN_RADIUS_M / 2:
        return None, [f"{field}: the polygon is too small (area under {math.pi * 25:.0f} m2)"]
    return polygon, []
