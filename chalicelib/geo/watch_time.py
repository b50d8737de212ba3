"""Video milestones from time actually watched.

Per viewer and video (``state``: a plain dict kept on the profile) the merged intervals of the
video that were played, the last heartbeat, and the milestones already fired. A heartbeat
``{video_id, position, total_length}`` credits the span since the previous heartbeat only if
playback moved forward by no more than the wall-clock time between them (plus slack): a seek
ahead credits nothing, a replay re-credits what is already counted (intervals are merged).
Milestones (25/50/75/100 % of the length actually watched) fire once each; 100 % allows a
2 % tolerance because heartbeats rarely land on the last second.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

MILESTONES = (25, 50, 75, 100)
SLACK_SECONDS = 2.0
RATE_SLACK = 1.25  # playback at up to 1.25x wall-clock speed still counts (2x speed does not)
SESSION_GAP_SECONDS = 120.0  # a heartbeat after a longer gap starts a new sitting
VIDEO_LIMIT = 20


def merge(intervals: list[list[float]], start: float, end: float) -> list[list[float]]:
    out: list[list[float]] = []
    placed = False
    for lo, hi in sorted(intervals):
        if hi < start or lo > end:
            if lo > end and not placed:
                out.append([start, end])
                placed = True
            out.append([lo, hi])
        else:
            start, end = min(start, lo), max(end, hi)
    if not placed:
        out.append([start, end])
    return sorted(out)


def watched_seconds(intervals: list[list[float]]) -> float:
    return sum(hi - lo for lo, hi in intervals)


def heartbeat(
    state: dict[str, Any] | None, position: float, total_length: float, at: datetime
) -> tuple[dict[str, Any], list[int]]:
    """The new state of one (viewer, video) and the milestones this heartbeat reaches."""
    state = copy.deepcopy(state or {"intervals": [], "fired": []})
    if total_length <= 0:
        return state, []
    position = max(0.0, min(position, total_length))
    last = state.get("last")
    if last is not None:
        wall = (at - datetime.fromisoformat(last["at"])).total_seconds()
        moved = position - last["position"]
        if 0 < wall <= SESSION_GAP_SECONDS and 0 < moved <= wall * RATE_SLACK + SLACK_SECONDS:
            state["intervals"] = merge(state["intervals"], last["position"], position)
        elif wall < 0:
            return state, []  # a late, out-of-order heartbeat: ignore it
    state["last"] = {"position": position, "at": at.isoformat()}
    state["length"] = total_length
    fraction = watched_seconds(state["intervals"]) / total_length
    reached = []
    for milestone in MILESTONES:
        needed = 0.98 if milestone == 100 else milestone / 100
        if fraction >= needed and milestone not in state["fired"]:
            reached.append(milestone)
    state["fired"] = sorted([*state["fired"], *reached])
    return state, reached


def keep_recent(videos: dict[str, Any]) -> dict[str, Any]:
    if len(videos) <= VIDEO_LIMIT:
        return videos
    newest = sorted(videos.items(), key=lambda kv: (kv[1].get("last") or {}).get("at", ""), reverse=True)
    return dict(newest[:VIDEO_LIMIT])
