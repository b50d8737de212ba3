"""Events as the worker sees them, and the one table that classifies them into micro-moments.

An ``Event`` is a validated Segment-spec envelope (track or identify) with the fields we use.
``MOMENTS`` is the single documented mapping from a track event name to a moment type and the
micro-moment intent it signals (Google's I-want-to-know / -go / -do / -buy). Event names not in
the table are accepted and counted, but are not moments and trigger nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Intent(StrEnum):
    KNOW = "know"
    GO = "go"
    DO = "do"
    BUY = "buy"


@dataclass(frozen=True)
class MomentKind:
    """What a recognised track event means: its moment type, intent and required properties."""

    moment_type: str
    intent: Intent
    required: tuple[str, ...] = ()


# The classification table. ``required`` lists the properties a valid event must carry;
# the contract layer checks their types (see contracts/segment.py).
MOMENTS: dict[str, MomentKind] = {
    "QR Code Scanned": MomentKind("qr_scanned", Intent.KNOW, ("code",)),
    "Product Viewed": MomentKind("product_viewed", Intent.KNOW, ("product_id",)),
    "Geofence Entered": MomentKind("geofence_entered", Intent.GO, ("store_id",)),
    "Geofence Dwelled": MomentKind("geofence_dwelled", Intent.GO, ("store_id",)),
    "Geofence Exited": MomentKind("geofence_exited", Intent.GO, ("store_id",)),
    "Video Content Playing": MomentKind("video_playing", Intent.DO, ("video_id", "position", "total_length")),
    "Video Content Completed": MomentKind("video_completed", Intent.DO, ("video_id",)),
    "Video Milestone Reached": MomentKind("video_milestone", Intent.DO, ("video_id", "percent")),
    "Order Completed": MomentKind("order_completed", Intent.BUY, ("order_id",)),
}

# Events the worker's detectors (chalicelib/geo) turn into moments: positions become
# geofence_entered / _dwelled / _exited; playing heartbeats become video_milestone.
LOCATION_EVENT = "Location Updated"
GEOFENCE_CLAIMS = {"Geofence Entered": "entered", "Geofence Dwelled": "dwelled", "Geofence Exited": "exited"}
DETECTED_EVENT_NAMES = {
    "geofence_entered": "Geofence Entered",
    "geofence_dwelled": "Geofence Dwelled",
    "geofence_exited": "Geofence Exited",
    "video_milestone": "Video Milestone Reached",
}


def classify(event_name: str | None) -> MomentKind | None:
    """The moment an event name signals, or None for events we only count."""
    if event_name is None:
        return None
    return MOMENTS.get(event_name)


@dataclass(frozen=True)
class Event:
    """A validated Segment ``track`` or ``identify`` call, normalised.

    ``timestamp`` is timezone-aware UTC, already corrected for device clock skew when the SDK
    sent ``sentAt``. ``user_id`` and/or ``anonymous_id`` is always set.
    """

    type: str  # "track" | "identify"
    message_id: str
    timestamp: datetime
    user_id: str | None = None
    anonymous_id: str | None = None
    event: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def moment(self) -> MomentKind | None:
        return classify(self.event) if self.type == "track" else None
