"""Videos: validation and admin over the in-memory twin, a milestone's intent and products, and
the worker: heartbeat and reported milestones carry them (once per viewer, video and percent),
the profile and counters see a shoppable milestone as an I-want-to-buy moment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.in_memory_fences import InMemoryFences
from chalicelib.adapters.in_memory_videos import InMemoryVideos
from chalicelib.domain.clock import FixedClock
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.use_cases.process_events import ProcessEvent
from chalicelib.use_cases.videos import VideoAdmin, VideoCatalog, as_track, milestone_facts, parse_video
from tests.unit.builders import NOW, Worker, event

SHOPPABLE = {
    "video_id": "styling-101",
    "title": "Three ways to wear linen",
    "length_seconds": 600,
    "kind": "shoppable",
    "product_ids": ["linen-shirt-blue", "linen-trousers"],
}
HOW_TO = {"video_id": "brew-guide", "title": "Cold brew at home", "length_seconds": 300, "kind": "how-to"}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str]] = []

    def __call__(self, subject, profile, event, store_id, product_id, first_delivery=False):
        self.calls.append((event.event, product_id, event.message_id))


@pytest.fixture
def world():
    videos = InMemoryVideos()
    catalog = VideoCatalog(videos, ttl_seconds=60)
    admin = VideoAdmin(videos, FixedClock(NOW), on_change=catalog.clear)
    admin.create(dict(SHOPPABLE))
    admin.create(dict(HOW_TO))
    worker = Worker()
    recorder = Recorder()
    worker.process = ProcessEvent(
        worker.store,
        worker.qr_codes,
        worker.settings,
        worker.clock,
        recorder,
        fences=InMemoryFences(),
        videos=catalog,
    )
    return worker, recorder, admin, videos


def test_a_video_names_every_bad_field():
    with pytest.raises(InvalidInput) as caught:
        parse_video({"video_id": "bad id", "length_seconds": 0, "kind": "movie", "product_ids": [1], "x": 1})
    fields = {e.field for e in caught.value.errors}
    assert fields == {"video_id", "title", "length_seconds", "kind", "product_ids[0]", "x"}
    with pytest.raises(InvalidInput, match="invalid video") as caught:
        parse_video({**SHOPPABLE, "product_ids": []})
    assert [e.field for e in caught.value.errors] == ["product_ids"]


def test_admin_create_get_update_list_delete(world):
    _, _, admin, _ = world
    assert admin.get("styling-101")["product_ids"] == ["linen-shirt-blue", "linen-trousers"]
    with pytest.raises(InvalidInput, match="invalid"):
        admin.create(dict(SHOPPABLE))
    updated = admin.update("brew-guide", {"kind": "shoppable", "product_ids": ["cold-brew-1l"]})
    assert updated["kind"] == "shoppable" and updated["title"] == HOW_TO["title"]
    with pytest.raises(InvalidInput):
        admin.update("brew-guide", {"video_id": "other"})
    assert [v["video_id"] for v in admin.list()] == ["brew-guide", "styling-101"]
    admin.delete("brew-guide")
    with pytest.raises(NotFound):
        admin.get("brew-guide")
    with pytest.raises(NotFound):
        admin.delete("brew-guide")


def test_a_milestone_knows_its_intent_and_products():
    assert milestone_facts(parse_video(SHOPPABLE)) == {
        "intent": "buy",
        "video_kind": "shoppable",
        "product_id": "linen-shirt-blue",
        "product_ids": ["linen-shirt-blue", "linen-trousers"],
    }
    assert milestone_facts(parse_video(HOW_TO)) == {"intent": "do", "video_kind": "how-to"}
    assert milestone_facts(None) == {}


def test_the_catalog_caches_unknown_videos_too_and_is_cleared_on_change(world):
    _, _, admin, videos = world
    catalog = VideoCatalog(videos, ttl_seconds=60)
    reads = videos.reads
    assert catalog.milestone_facts("nope") == {} and catalog.milestone_facts("nope") == {}
    assert catalog.milestone_facts("styling-101")["intent"] == "buy"
    catalog.milestone_facts("styling-101")
    assert videos.reads == reads + 2


def heartbeat(n, position, at, video="styling-101", total=600):
    props = {"video_id": video, "position": position, "total_length": total}
    return event("Video Content Playing", message_id=f"hb-{n}", at=at, properties=props)


def test_heartbeat_milestones_of_a_shoppable_video_are_buy_moments_with_its_products(world):
    worker, recorder, _, _ = world
    for i in range(16):  # 150 s of a 600 s video: 25 %
        worker.deliver(heartbeat(i, 10 * i, NOW + timedelta(seconds=10 * i)))
    assert recorder.calls == [
        ("Video Milestone Reached", "linen-shirt-blue", "hb-15#video_milestone#styling-101#25")
    ]
    user = worker.user()
    assert user is not None
    assert user.last_moments["buy"]["type"] == "video_milestone"
    assert "linen-shirt-blue" in user.products  # the featured product's affinity
    totals = worker.totals()
    assert totals["intent:buy"] == 1 and totals["moment:video_milestone"] == 1


def test_a_reported_milestone_fires_once_per_viewer_video_and_percent(world):
    worker, recorder, _, _ = world

    def reported(n, percent, video="brew-guide"):
        props = {"video_id": video, "percent": percent, "source": "video_platform"}
        return event("Video Milestone Reached", message_id=f"vm-{n}", properties=props)

    first = worker.deliver(reported(1, 50))
    assert first.detected[0]["intent"] == "do" and first.detected[0]["percent"] == 50
    assert worker.deliver(reported(2, 50)).detected == ()  # the platform said it twice
    worker.deliver(reported(3, 90))
    worker.deliver(reported(4, 90, video="unregistered"))  # unknown videos: plain do, no products
    assert [(c[1], c[2]) for c in recorder.calls] == [
        (None, "vm-1#video_milestone#brew-guide#50"),
        (None, "vm-3#video_milestone#brew-guide#90"),
        (None, "vm-4#video_milestone#unregistered#90"),
    ]
    user = worker.user()
    assert user is not None and user.moment_counts == {"video_milestone": 3}
    assert user.last_moments["do"]["type"] == "video_milestone" and "buy" not in user.last_moments


def test_the_webhook_body_becomes_a_track_event():
    track = as_track({"userId": "u1", "video_id": "v1", "percent": 75, "messageId": "m", "extra": 1})
    assert track == {
        "type": "track",
        "event": "Video Milestone Reached",
        "properties": {"video_id": "v1", "percent": 75, "source": "video_platform"},
        "userId": "u1",
        "messageId": "m",
    }
    with pytest.raises(InvalidInput) as caught:
        as_track({"video_id": "", "percent": 101})
    assert {e.field for e in caught.value.errors} == {"video_id", "percent"}
