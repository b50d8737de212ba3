"""A store's geofence and the cell index that finds the fences around a position.

``Fence`` is what the index and the state machine need: the store id, its shape, its dwell
threshold. ``fence_from_record`` / ``fence_to_record`` are the one (de)serialisation shared by
the DynamoDB cell items and the store records. ``FenceIndex`` is the in-memory index (also the
per-cell cache of the DynamoDB one): a fence is listed under every geohash cell that its shape
*plus its exit margin* covers, so any point inside the fence, or within the margin, finds it in
the point's own cell: one lookup, however many fences exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib.geo import geohash
from chalicelib.geo.geometry import Circle, MultiPolygon, Polygon, Shape, exit_margin_m

DEFAULT_DWELL_SECONDS = 180


@dataclass(frozen=True)
class Fence:
    store_id: str
    shape: Shape
    dwell_seconds: int = DEFAULT_DWELL_SECONDS

    @property
    def margin_m(self) -> float:
        return exit_margin_m(self.shape)

    @property
    def size_m(self) -> float:
        return self.shape.size_m

    def contains(self, lat: float, lon: float, margin_m: float = 0.0) -> bool:
        return self.shape.contains(lat, lon, margin_m)

    def cells(self, precision: int = geohash.DEFAULT_PRECISION) -> set[str]:
        return geohash.covering(self.shape.bbox(self.margin_m), precision)


def shape_to_record(shape: Shape) -> dict[str, Any]:
    if isinstance(shape, Circle):
        return {"type": "circle", "lat": shape.lat, "lon": shape.lon, "radius_m": shape.radius_m}
    if isinstance(shape, Polygon):
        return {"type": "Polygon", "coordinates": [[list(p) for p in ring] for ring in shape.rings]}
    return {
        "type": "MultiPolygon",
        "coordinates": [[[list(p) for p in ring] for ring in poly.rings] for poly in shape.polygons],
    }


def _polygon(coordinates: Any) -> Polygon:
    return Polygon(tuple(tuple((float(p[0]), float(p[1])) for p in ring) for ring in coordinates))


def shape_from_record(data: dict[str, Any]) -> Shape:
    kind = data.get("type")
    if kind == "Polygon":
        return _polygon(data["coordinates"])
    if kind == "MultiPolygon":
        return MultiPolygon(tuple(_polygon(c) for c in data["coordinates"]))
    return Circle(float(data["lat"]), float(data["lon"]), float(data["radius_m"]))


def fence_to_record(fence: Fence) -> dict[str, Any]:
    return {
        "store_id": fence.store_id,
        "shape": shape_to_record(fence.shape),
        "dwell_seconds": fence.dwell_seconds,
    }


def fence_from_record(data: dict[str, Any]) -> Fence:
    return Fence(
        str(data["store_id"]),
        shape_from_record(data["shape"]),
        int(data.get("dwell_seconds") or DEFAULT_DWELL_SECONDS),
    )


class FenceIndex:
    """In-memory cell -> fences. ``near`` answers with the fences listed in the point's cell."""

    def __init__(self, fences: Iterable[Fence] = (), precision: int = geohash.DEFAULT_PRECISION) -> None:
        self.precision = precision
        self._cells: dict[str, dict[str, Fence]] = {}
        for fence in fences:
            self.add(fence)

    def add(self, fence: Fence) -> None:
        for cell in fence.cells(self.precision):
            self._cells.setdefault(cell, {})[fence.store_id] = fence

    def remove(self, store_id: str) -> None:
        for fences in self._cells.values():
            fences.pop(store_id, None)

    def cell_of(self, lat: float, lon: float) -> str:
        return geohash.encode(lat, lon, self.precision)

    def near(self, lat: float, lon: float) -> list[Fence]:
        return list(self._cells.get(self.cell_of(lat, lon), {}).values())

    def containing(self, lat: float, lon: float) -> list[Fence]:
        return [f for f in self.near(lat, lon) if f.contains(lat, lon)]

    @property
    def cell_total(self) -> int:
        return len(self._cells)
