"""The in-memory twin of ``DynamoDBVideos`` (tests, benchmarks)."""

from __future__ import annotations

import copy
from typing import Any


class InMemoryVideos:
    def __init__(self) -> None:
        self.videos: dict[str, dict[str, Any]] = {}
        self.reads = 0

    def get(self, video_id: str) -> dict[str, Any] | None:
        self.reads += 1
        video = self.videos.get(video_id)
        return copy.deepcopy(video) if video is not None else None

    def save(self, video: dict[str, Any]) -> None:
        self.videos[video["video_id"]] = copy.deepcopy(video)

    def delete(self, video_id: str) -> None:
        self.videos.pop(video_id, None)

    def list(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(v) for v in self.videos.values()]
