"""The per-device fence state machine: positions and SDK geofence reports -> moments.

State (a plain dict, kept on the profile under ``fence_state`` so it commits in the same
atomic write as the event's marker) holds the last accepted position and, per fence the device
is inside, when it entered and whether the dwell moment fired:

    {"last": {"lat", "lon", "at", "accuracy_m"}, "inside": {store_id: {"since", "dwelled"}}}

Rules:
- Plausibility first: ``is_mocked`` -> ``mocked_location``; a speed since the last accepted
  position above ``max_speed_kmh`` -> ``impossible_travel``; a fix older than the last accepted
  one (delivered out of order) -> ``out_of_order``; accuracy worse than the fence's
  size -> ``inaccurate``. A rejected position changes no state and is reported with its reason.
- Hysteresis: enter when the position is inside the shape; exit only when it is beyond the
  shape plus ``exit_margin_m`` (max(20 m, 10 % of the fence's size)), so jitter on the
  boundary does not flap. Dwell fires once per visit, ``dwell_seconds`` after the entry.
- Confidence from accuracy against the fence size: high <= 25 %, medium <= 60 %, low <= 100 %.
- SDK ``Geofence Entered/Dwelled/Exited`` are claims: checked against the server's fences and
  the reported (or last, if recent) position; an unverifiable claim is rejected.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.geo.fences import Fence
from chalicelib.geo.geometry import haversine_m, valid_coordinate

LAST_POSITION_FRESH = timedelta(minutes=5)  # an SDK claim without a position uses the last one
STALE_INSIDE = timedelta(hours=12)  # forget a visit with no news for this long
INSIDE_LIMIT = 20


@dataclass(frozen=True)
class Rules:
    max_speed_kmh: float = 300.0
    high_confidence: float = 0.25
    medium_confidence: float = 0.6
    max_accuracy_ratio: float = 1.0
    min_accuracy_allowance_m: float = 25.0  # small fences still accept a typical 25 m fix


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float
    at: datetime
    accuracy_m: float = 0.0
    speed_mps: float | None = None
    is_mocked: bool = False


@dataclass(frozen=True)
class Detection:
    """A moment the state machine decided on (``rejected`` set: recorded, triggers nothing)."""

    moment_type: str  # geofence_entered | geofence_dwelled | geofence_exited | location_rejected
    store_id: str | None
    at: datetime
    confidence: str | None = None
    rejected: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "moment": self.moment_type,
            "store_id": self.store_id,
            "at": self.at.isoformat(),
            "confidence": self.confidence,
            "rejected": self.rejected,
        }


def parse_position(props: dict[str, Any], at: datetime) -> Position | None:
    """A position from event properties, or None if latitude/longitude are missing or invalid."""
    lat, lon = props.get("latitude"), props.get("longitude")
    if not valid_coordinate(lat, lon):
        return None
    accuracy = props.get("accuracy_m")
    speed = props.get("speed_mps")
    valid_accuracy = isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool) and accuracy >= 0
    return Position(
        float(lat),  # type: ignore[arg-type]
        float(lon),  # type: ignore[arg-type]
        at,
        float(accuracy) if valid_accuracy else 0.0,  # type: ignore[arg-type]
        float(speed) if isinstance(speed, (int, float)) and not isinstance(speed, bool) else None,
        props.get("is_mocked") is True,
    )


def confidence(accuracy_m: float, fence: Fence, rules: Rules) -> str | None:
    """high / medium / low, or None when the fix is too coarse for this fence."""
    allowance = max(fence.size_m, rules.min_accuracy_allowance_m)
    ratio = accuracy_m / allowance
    if ratio <= rules.high_confidence:
        return "high"
    if ratio <= rules.medium_confidence:
        return "medium"
    if ratio <= rules.max_accuracy_ratio:
        return "low"
    return None


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def implausible(state: dict[str, Any], pos: Position, rules: Rules) -> str | None:
    if pos.is_mocked:
        return "mocked_location"
    last = state.get("last")
    if last:
        elapsed = (pos.at - _at(last["at"])).total_seconds()
        if elapsed < 0:
            # an older fix arriving after a newer one (SQS does not keep order): it says nothing
            # about where the phone is now, and no speed can be judged from it
            return "out_of_order"
        distance = haversine_m(last["lat"], last["lon"], pos.lat, pos.lon)
        slack = last.get("accuracy_m", 0.0) + pos.accuracy_m  # two fuzzy fixes can look apart
        travelled = max(0.0, distance - slack)
        if travelled > 0 and (elapsed <= 0 or travelled / elapsed * 3.6 > rules.max_speed_kmh):
            return "impossible_travel"
    return None


def _prune(inside: dict[str, Any], now: datetime) -> dict[str, Any]:
    kept = {k: v for k, v in inside.items() if now - _at(v["last"]) < STALE_INSIDE}
    if len(kept) > INSIDE_LIMIT:
        newest = sorted(kept.items(), key=lambda kv: kv[1]["last"], reverse=True)[:INSIDE_LIMIT]
        kept = dict(newest)
    return kept


def observe_position(
    state: dict[str, Any] | None, pos: Position, fences: Sequence[Fence], rules: Rules = Rules()
) -> tuple[dict[str, Any], list[Detection]]:
    """``fences``: those listed in the position's cell (the index guarantees every fence the
    point is inside, or within the exit margin of, is among them)."""
    state = copy.deepcopy(state or {})
    reason = implausible(state, pos, rules)
    containing = [f for f in fences if f.contains(pos.lat, pos.lon)]
    if reason is not None:
        store = containing[0].store_id if containing else None
        return state, [Detection("location_rejected", store, pos.at, rejected=reason)]
    inside: dict[str, Any] = dict(state.get("inside") or {})
    detections: list[Detection] = []
    at = pos.at.isoformat()
    nearby = {f.store_id: f for f in fences}
    for store_id in sorted(inside):
        fence = nearby.get(store_id)
        if fence is not None and fence.contains(pos.lat, pos.lon, fence.margin_m):
            visit = dict(inside[store_id], last=at)
            if not visit["dwelled"] and pos.at - _at(visit["since"]) >= timedelta(
                seconds=fence.dwell_seconds
            ):
                level = confidence(pos.accuracy_m, fence, rules)
                if level is not None and fence.contains(pos.lat, pos.lon):
                    visit["dwelled"] = True
                    detections.append(Detection("geofence_dwelled", store_id, pos.at, level))
            inside[store_id] = visit
            continue
        # Beyond shape + margin (or its cell no longer lists it, which means the same).
        if fence is None or confidence(pos.accuracy_m, fence, rules) is not None:
            del inside[store_id]
            detections.append(Detection("geofence_exited", store_id, pos.at, _exit_confidence(pos)))
    for fence in containing:
        if fence.store_id in inside:
            continue
        level = confidence(pos.accuracy_m, fence, rules)
        if level is None:
            detections.append(Detection("geofence_entered", fence.store_id, pos.at, rejected="inaccurate"))
            continue
        inside[fence.store_id] = {"since": at, "last": at, "dwelled": False}
        detections.append(Detection("geofence_entered", fence.store_id, pos.at, level))
    last = state.get("last")
    if last is None or at >= last["at"]:
        state["last"] = {"lat": pos.lat, "lon": pos.lon, "at": at, "accuracy_m": pos.accuracy_m}
    state["inside"] = _prune(inside, pos.at)
    return state, detections


def _exit_confidence(pos: Position) -> str:
    return "high" if pos.accuracy_m <= 50 else "medium"


def observe_claim(
    state: dict[str, Any] | None,
    claim: str,
    store_id: str,
    pos: Position | None,
    at: datetime,
    fences: Sequence[Fence],
    rules: Rules = Rules(),
) -> tuple[dict[str, Any], list[Detection]]:
    """An SDK-reported ``entered`` / ``dwelled`` / ``exited`` for ``store_id``. ``pos`` is the
    position the SDK sent with it (None: the last accepted one, if fresh). ``fences``: those
    listed in that position's cell."""
    state = copy.deepcopy(state or {})
    moment = f"geofence_{claim}"
    if pos is None:
        last = state.get("last")
        if not last or at - _at(last["at"]) > LAST_POSITION_FRESH:
            if claim == "exited" and store_id in (state.get("inside") or {}):
                remaining = dict(state["inside"])
                del remaining[store_id]
                state["inside"] = remaining
                return state, [Detection(moment, store_id, at, "low")]
            return state, [Detection(moment, store_id, at, rejected="unverified_location")]
        pos = Position(last["lat"], last["lon"], at, last.get("accuracy_m", 0.0))
        fresh_position = False
    else:
        fresh_position = True
    fence = next((f for f in fences if f.store_id == store_id), None)
    if fence is None and claim != "exited":
        return state, [Detection(moment, store_id, at, rejected="not_near_store")]
    if fresh_position:
        state, detections = observe_position(state, pos, fences, rules)
        if any(d.rejected and d.moment_type == "location_rejected" for d in detections):
            return state, [replace_moment(d, moment, store_id) for d in detections]
    else:
        detections = []
    mine = [d for d in detections if d.store_id == store_id]
    if any(d.moment_type == moment and d.rejected is None for d in mine):
        return state, detections  # the position confirmed the claim
    inside = (state.get("inside") or {}).get(store_id)
    if claim == "entered":
        assert fence is not None
        if inside is not None:
            return state, [*detections, Detection(moment, store_id, at, rejected="already_inside")]
        if not fence.contains(pos.lat, pos.lon, fence.margin_m):
            return state, [*detections, Detection(moment, store_id, at, rejected="outside_fence")]
        level = confidence(pos.accuracy_m, fence, rules)
        if level is None:
            return state, [*detections, Detection(moment, store_id, at, rejected="inaccurate")]
        entry = {"since": at.isoformat(), "last": at.isoformat(), "dwelled": False}
        state["inside"] = {**(state.get("inside") or {}), store_id: entry}
        return state, [*detections, Detection(moment, store_id, at, "low" if level == "low" else "medium")]
    if claim == "dwelled":
        assert fence is not None
        if inside is None or inside["dwelled"]:
            reason = "not_inside" if inside is None else "already_dwelled"
            return state, [*detections, Detection(moment, store_id, at, rejected=reason)]
        if at - _at(inside["since"]) < timedelta(seconds=fence.dwell_seconds):
            return state, [*detections, Detection(moment, store_id, at, rejected="dwell_too_short")]
        state["inside"] = {**state["inside"], store_id: {**inside, "dwelled": True}}
        return state, [*detections, Detection(moment, store_id, at, "medium")]
    # exited
    if inside is None:
        if any(d.moment_type == "geofence_exited" for d in mine):
            return state, detections
        return state, [*detections, Detection(moment, store_id, at, rejected="not_inside")]
    if fence is not None and fence.contains(pos.lat, pos.lon):
        return state, [*detections, Detection(moment, store_id, at, rejected="still_inside")]
    rest = dict(state["inside"])
    del rest[store_id]
    state["inside"] = rest
    return state, [*detections, Detection(moment, store_id, at, "medium")]


def replace_moment(detection: Detection, moment: str, store_id: str) -> Detection:
    return Detection(moment, store_id, detection.at, detection.confidence, detection.rejected)
