"""The worker's moment detectors: positions and SDK geofence claims through the fence state
machine, playing heartbeats through watch time (both in chalicelib/geo).

``MomentDetector.detect`` is pure apart from the fence lookup (one cached cell Query): it
returns the profile with the new detector state and the moments found, and the worker commits
both in the event's group's one WritePlan, so a redelivered event detects nothing twice.

SDK claims (``Geofence Entered/Dwelled/Exited``) for a store the index has no fence for are
left to the worker's plain path (trusted as before): only fenced stores can be checked.

A video milestone, from heartbeats or reported (``Video Milestone Reached``: an SDK or the
signed video platform webhook), fires once per viewer, video and percent, and carries what
``VideoFacts`` knows of the video: its intent (how-to: do, shoppable: buy) and products.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from chalicelib.domain.events import GEOFENCE_CLAIMS, LOCATION_EVENT, Event
from chalicelib.domain.profile import Profile
from chalicelib.geo import watch_time
from chalicelib.geo.fences import Fence
from chalicelib.geo.presence import Detection, Rules, observe_claim, observe_position, parse_position

DEVICE_LIMIT = 5
VIDEO_EVENT = "Video Content Playing"
MILESTONE_EVENT = "Video Milestone Reached"


class FenceLookup(Protocol):
    def near(self, lat: float, lon: float) -> list[Fence]: ...

    def has_fence(self, store_id: str) -> bool: ...


class VideoFacts(Protocol):
    def milestone_facts(self, video_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Detected:
    profile: Profile
    found: list[dict[str, Any]]
    own_moment: bool  # the event's own moment still applies (video heartbeats)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        return [f for f in self.found if f.get("rejected") is None]

    @property
    def rejected(self) -> str | None:
        if self.accepted:
            return None
        return next((f["rejected"] for f in self.found if f.get("rejected")), None)


def _device(event: Event) -> str:
    device = event.context.get("device")
    if isinstance(device, dict) and device.get("id"):
        return str(device["id"])[:128]
    return event.anonymous_id or "default"


def _as_found(detection: Detection) -> dict[str, Any]:
    return {k: v for k, v in detection.as_dict().items() if v is not None or k == "rejected"}


class MomentDetector:
    def __init__(
        self, fences: FenceLookup, max_travel_kmh: float = 300.0, videos: VideoFacts | None = None
    ) -> None:
        self._fences = fences
        self._rules = Rules(max_speed_kmh=max_travel_kmh)
        self._videos = videos

    def detect(self, profile: Profile, event: Event) -> Detected | None:
        if event.event == LOCATION_EVENT or event.event in GEOFENCE_CLAIMS:
            return self._geofence(profile, event)
        if event.event == VIDEO_EVENT:
            return self._video(profile, event)
        if event.event == MILESTONE_EVENT:
            return self._milestone(profile, event)
        return None

    def _geofence(self, profile: Profile, event: Event) -> Detected | None:
        props = event.properties
        device = _device(event)
        states = dict(profile.fence_state)
        state = states.get(device)
        pos = parse_position(props, event.timestamp) or _context_position(event)
        if event.event == LOCATION_EVENT:
            if pos is None:
                found = [{"moment": "location_rejected", "store_id": None, "rejected": "invalid_position"}]
                return Detected(profile, found, False)
            state, detections = observe_position(state, pos, self._fences.near(pos.lat, pos.lon), self._rules)
        else:
            store_id = str(props.get("store_id") or "")
            if not self._fences.has_fence(store_id):
                return None
            where = (pos.lat, pos.lon) if pos is not None else _last(state)
            near = self._fences.near(*where) if where is not None else []
            state, detections = observe_claim(
                state, GEOFENCE_CLAIMS[str(event.event)], store_id, pos, event.timestamp, near, self._rules
            )
        states[device] = state
        if len(states) > DEVICE_LIMIT:
            newest = sorted(
                states.items(), key=lambda kv: (kv[1].get("last") or {}).get("at", ""), reverse=True
            )
            states = dict(newest[:DEVICE_LIMIT])
        return Detected(replace(profile, fence_state=states), [_as_found(d) for d in detections], False)

    def _video(self, profile: Profile, event: Event) -> Detected | None:
        props = event.properties
        video_id = props.get("video_id")
        position, length = props.get("position"), props.get("total_length")
        if not isinstance(video_id, str) or not video_id:
            return None
        if not isinstance(position, (int, float)) or not isinstance(length, (int, float)):
            return None
        if isinstance(position, bool) or isinstance(length, bool):
            return None
        videos = dict(profile.video_state)
        state, reached = watch_time.heartbeat(
            videos.get(video_id), float(position), float(length), event.timestamp
        )
        videos[video_id] = state
        found = [
            {
                "moment": "video_milestone",
                "video_id": video_id,
                "percent": p,
                "at": event.timestamp.isoformat(),
                **self._facts(video_id),
            }
            for p in reached
        ]
        return Detected(replace(profile, video_state=watch_time.keep_recent(videos)), found, True)

    def _milestone(self, profile: Profile, event: Event) -> Detected | None:
        """A reported milestone: once per viewer, video and percent (shared with heartbeats)."""
        video_id, percent = event.properties.get("video_id"), event.properties.get("percent")
        if not isinstance(video_id, str) or not video_id:
            return None
        if isinstance(percent, bool) or not isinstance(percent, (int, float)):
            return None
        videos = dict(profile.video_state)
        state = dict(videos.get(video_id) or {"intervals": [], "fired": []})
        fired = list(state.get("fired") or [])
        found: list[dict[str, Any]] = []
        if percent not in fired:
            state["fired"] = sorted([*fired, percent])
            found.append(
                {
                    "moment": "video_milestone",
                    "video_id": video_id,
                    "percent": percent,
                    "at": event.timestamp.isoformat(),
                    **self._facts(video_id),
                }
            )
        videos[video_id] = state
        return Detected(replace(profile, video_state=watch_time.keep_recent(videos)), found, False)

    def _facts(self, video_id: str) -> dict[str, Any]:
        return self._videos.milestone_facts(video_id) if self._videos is not None else {}


def _context_position(event: Event) -> Any:
    """Segment SDKs put the device's fix in ``context.location`` {latitude, longitude, accuracy}."""
    location = event.context.get("location")
    if not isinstance(location, dict):
        return None
    return parse_position(
        {
            "latitude": location.get("latitude"),
            "longitude": location.get("longitude"),
            "accuracy_m": location.get("accuracy"),
        },
        event.timestamp,
    )


def _last(state: dict[str, Any] | None) -> tuple[float, float] | None:
    last = (state or {}).get("last")
    return (float(last["lat"]), float(last["lon"])) if last else None
