"""Stores and their geofences: validation, admin (create, update, delete, get, list) and bulk
import rows (CSV and GeoJSON features).

A store is ``{store_id, name, timezone, opening_hours, lat, lon, radius_m}`` for a circle, or
with ``geometry`` (GeoJSON Polygon / MultiPolygon) instead of ``radius_m``; optionally
``dwell_seconds`` (default 180). Every problem names its field. The repository keeps the store
record and the geohash cell index in step (see adapters/dynamodb_fences.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound
from chalicelib.geo import geohash, opening_hours
from chalicelib.geo.fences import DEFAULT_DWELL_SECONDS, Fence, shape_to_record
from chalicelib.geo.geometry import Circle, MultiPolygon, Polygon, Shape, parse_polygon, validate_circle

STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_INDEX_CELLS = 4_096  # a fence listed in more cells than this is refused (too near a pole)
FIELDS = (
    "store_id",
    "name",
    "lat",
    "lon",
    "radius_m",
    "geometry",
    "timezone",
    "opening_hours",
    "dwell_seconds",
)


class StoreRepository(Protocol):
    def get(self, store_id: str) -> dict[str, Any] | None: ...

    def save(self, store: dict[str, Any], fence: Fence, previous: dict[str, Any] | None) -> None: ...

    def save_many(self, stores: list[tuple[dict[str, Any], Fence]]) -> None: ...

    def delete(self, store: dict[str, Any]) -> None: ...

    def list(self) -> list[dict[str, Any]]: ...


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            return float(value)
        except ValueError:
            return None
    return None


def parse_store(body: Any, store_id: str | None = None) -> tuple[dict[str, Any], Fence]:
    """A validated store record and its fence, or InvalidInput naming every bad field."""
    if not isinstance(body, dict):
        raise InvalidInput([FieldError("body", "must be a JSON object")])
    errors: list[FieldError] = []
    unknown = sorted(set(body) - set(FIELDS) - {"created_at", "updated_at", "cells"})
    errors.extend(FieldError(name, "unknown field") for name in unknown)
    sid = store_id if store_id is not None else body.get("store_id")
    if not isinstance(sid, str) or not STORE_ID.match(sid):
        errors.append(FieldError("store_id", "1-64 letters, digits, '.', '_' or '-'"))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.append(FieldError("name", "required, at most 200 characters"))
    tz = body.get("timezone")
    try:
        if not isinstance(tz, str) or not tz:
            raise KeyError(tz)
        ZoneInfo(tz)
    except (KeyError, ValueError, OSError):
        errors.append(FieldError("timezone", "required: an IANA time zone such as Europe/London"))
    hours = body.get("opening_hours")
    if hours not in (None, ""):
        try:
            if not isinstance(hours, str):
                raise opening_hours.OpeningHoursError("must be text")
            opening_hours.parse(hours)
        except opening_hours.OpeningHoursError as exc:
            errors.append(FieldError("opening_hours", f"{exc} (e.g. 'Mo-Fr 08:00-18:00; Sa 10:00-14:00')"))
    dwell = _number(body.get("dwell_seconds", DEFAULT_DWELL_SECONDS))
    if dwell is None or not 10 <= dwell <= 86_400:
        errors.append(FieldError("dwell_seconds", "a number of seconds from 10 to 86400"))
    shape: Shape | None = None
    geometry = body.get("geometry")
    if geometry is not None:
        shape = _shape_from_geometry(geometry, errors)
    else:
        lat, lon, radius = _number(body.get("lat")), _number(body.get("lon")), _number(body.get("radius_m"))
        problems = validate_circle(
            lat if lat is not None else math.nan,
            lon if lon is not None else math.nan,
            radius if radius is not None else math.nan,
        )
        for problem in problems:
            field, _, message = problem.partition(": ")
            errors.append(FieldError(field, message))
        if not problems and lat is not None and lon is not None and radius is not None:
            shape = Circle(lat, lon, radius)
    fence = None
    if shape is not None and isinstance(sid, str):
        fence = Fence(sid, shape, int(dwell or DEFAULT_DWELL_SECONDS))
        if geohash.cell_count(shape.bbox(fence.margin_m)) > MAX_INDEX_CELLS:
            errors.append(FieldError("geometry" if geometry else "lat", "too close to a pole to index"))
    if errors:
        raise InvalidInput(errors, "invalid store")
    assert fence is not None and isinstance(sid, str) and isinstance(name, str)
    record: dict[str, Any] = {
        "store_id": sid,
        "name": name.strip(),
        "timezone": tz,
        "opening_hours": hours or None,
        "dwell_seconds": fence.dwell_seconds,
        "shape": shape_to_record(fence.shape),
    }
    if isinstance(fence.shape, Circle):
        record.update(lat=fence.shape.lat, lon=fence.shape.lon, radius_m=fence.shape.radius_m)
    else:
        record["geometry"] = geometry
    return record, fence


def _shape_from_geometry(geometry: Any, errors: list[FieldError]) -> Shape | None:
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        errors.append(FieldError("geometry.type", "must be Polygon or MultiPolygon"))
        return None
    coordinates = geometry.get("coordinates")
    if geometry["type"] == "Polygon":
        polygon, problems = parse_polygon(coordinates, "geometry.coordinates")
        errors.extend(FieldError(*p.split(": ", 1)) for p in problems)
        return polygon
    if not isinstance(coordinates, list) or not coordinates:
        errors.append(FieldError("geometry.coordinates", "must be a list of polygons"))
        return None
    polygons: list[Polygon] = []
    for i, part in enumerate(coordinates):
        polygon, problems = parse_polygon(part, f"geometry.coordinates[{i}]")
        errors.extend(FieldError(*p.split(": ", 1)) for p in problems)
        if polygon is not None:
            polygons.append(polygon)
    return MultiPolygon(tuple(polygons)) if len(polygons) == len(coordinates) else None


def public(store: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in store.items() if k not in ("PK", "SK", "shape", "cells")}


class StoreAdmin:
    def __init__(self, repository: StoreRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    def create(self, body: Any) -> dict[str, Any]:
        record, fence = parse_store(body)
        if self._repository.get(record["store_id"]) is not None:
            raise InvalidInput([FieldError("store_id", f"a store with id {record['store_id']!r} exists")])
        now = iso(self._clock.now())
        record.update(created_at=now, updated_at=now)
        self._repository.save(record, fence, None)
        return public(record)

    def get(self, store_id: str) -> dict[str, Any]:
        store = self._repository.get(store_id)
        if store is None:
            raise NotFound(f"no store {store_id!r}")
        return public(store)

    def update(self, store_id: str, body: Any) -> dict[str, Any]:
        """A partial update (PATCH): fields not sent keep their values; sending ``geometry``
        replaces a circle and vice versa."""
        previous = self._repository.get(store_id)
        if previous is None:
            raise NotFound(f"no store {store_id!r}")
        if not isinstance(body, dict):
            raise InvalidInput([FieldError("body", "must be a JSON object")])
        if "store_id" in body and body["store_id"] != store_id:
            raise InvalidInput([FieldError("store_id", "cannot be changed")])
        merged = {k: v for k, v in public(previous).items() if k not in ("created_at", "updated_at")}
        if "geometry" in body:
            for name in ("lat", "lon", "radius_m"):
                merged.pop(name, None)
        elif "radius_m" in body:
            merged.pop("geometry", None)
        merged.update({k: v for k, v in body.items() if k != "store_id"})
        record, fence = parse_store(merged, store_id)
        record.update(created_at=previous.get("created_at"), updated_at=iso(self._clock.now()))
        self._repository.save(record, fence, previous)
        return public(record)

    def delete(self, store_id: str) -> None:
        previous = self._repository.get(store_id)
        if previous is None:
            raise NotFound(f"no store {store_id!r}")
        self._repository.delete(previous)

    def list(self) -> list[dict[str, Any]]:
        return sorted((public(s) for s in self._repository.list()), key=lambda s: s["store_id"])

    def import_rows(self, stores: Sequence[tuple[dict[str, Any], Fence]]) -> None:
        now = iso(self._clock.now())
        for record, _ in stores:
            record.setdefault("created_at", now)
            record["updated_at"] = now
        self._repository.save_many(list(stores))
