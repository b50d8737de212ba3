"""Videos: admin (create, get, list, update, delete), what a milestone of a video means to the
worker (its intent and featured products), and the signed ``Video Milestone Reached`` webhook
from a video platform.

A video is ``{video_id, title, length_seconds, kind, product_ids}``: ``kind`` ``how-to`` (a
milestone is an I-want-to-do moment) or ``shoppable`` (I-want-to-buy). Every problem names its
field. The webhook body ``{userId|anonymousId, video_id, percent, timestamp, messageId}`` is
checked against the signature (chalicelib/domain/webhook_signature.py) and then queued as a
``Video Milestone Reached`` track event through the ingest use case, like any SDK event.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from chalicelib.domain import webhook_signature
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound, Unauthorized
from chalicelib.domain.events import Intent
from chalicelib.ttl_cache import TtlCache

VIDEO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
PRODUCT_ID = re.compile(r"^[^\s]{1,128}$")
KINDS = {"how-to": Intent.DO, "shoppable": Intent.BUY}
MAX_PRODUCTS = 50
FIELDS = ("video_id", "title", "length_seconds", "kind", "product_ids")
MILESTONE_EVENT = "Video Milestone Reached"
WEBHOOK_APP_ID = "video-webhook"  # the app id webhook events are queued under
WEBHOOK_MAX_BYTES = 16 * 1024


class VideoRepository(Protocol):
    def get(self, video_id: str) -> dict[str, Any] | None: ...

    def save(self, video: dict[str, Any]) -> None: ...

    def delete(self, video_id: str) -> None: ...

    def list(self) -> list[dict[str, Any]]: ...


def parse_video(body: Any, video_id: str | None = None) -> dict[str, Any]:
    """A validated video record, or InvalidInput naming every bad field."""
    if not isinstance(body, dict):
        raise InvalidInput([FieldError("body", "must be a JSON object")])
    errors: list[FieldError] = []
    unknown = sorted(set(body) - set(FIELDS) - {"created_at", "updated_at"})
    errors.extend(FieldError(name, "unknown field") for name in unknown)
    vid = video_id if video_id is not None else body.get("video_id")
    if not isinstance(vid, str) or not VIDEO_ID.match(vid):
        errors.append(FieldError("video_id", "1-128 letters, digits, '.', '_', ':' or '-'"))
    title = body.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 300:
        errors.append(FieldError("title", "required, at most 300 characters"))
    length = body.get("length_seconds")
    if isinstance(length, bool) or not isinstance(length, (int, float)) or not 1 <= length <= 86_400:
        errors.append(FieldError("length_seconds", "a number of seconds from 1 to 86400"))
    kind = body.get("kind")
    if kind not in KINDS:
        errors.append(FieldError("kind", "must be how-to or shoppable"))
    products = body.get("product_ids", [])
    if not isinstance(products, list) or len(products) > MAX_PRODUCTS:
        errors.append(FieldError("product_ids", f"a list of at most {MAX_PRODUCTS} product ids"))
        products = []
    for i, product in enumerate(products):
        if not isinstance(product, str) or not PRODUCT_ID.match(product):
            errors.append(FieldError(f"product_ids[{i}]", "a product id: 1-128 characters, no spaces"))
    if kind == "shoppable" and not products:
        errors.append(FieldError("product_ids", "a shoppable video features at least one product"))
    if errors:
        raise InvalidInput(errors, "invalid video")
    assert isinstance(vid, str) and isinstance(title, str) and isinstance(length, (int, float))
    return {
        "video_id": vid,
        "title": title.strip(),
        "length_seconds": length,
        "kind": kind,
        "product_ids": list(dict.fromkeys(products)),  # unique, in the order given
    }


def public(video: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in video.items() if k not in ("PK", "SK")}


def milestone_facts(video: dict[str, Any] | None) -> dict[str, Any]:
    """What a milestone of this video adds to the moment: its intent (how-to: do, shoppable:
    buy) and its featured products (the first as ``product_id``, which the offer engine and
    the product affinity use). Nothing for a video that is not registered."""
    if not video or video.get("kind") not in KINDS:
        return {}
    products = [str(p) for p in video.get("product_ids") or []]
    facts: dict[str, Any] = {"intent": KINDS[video["kind"]].value, "video_kind": video["kind"]}
    if products:
        facts.update(product_id=products[0], product_ids=products)
    return facts


class VideoAdmin:
    def __init__(self, repository: VideoRepository, clock: Clock, on_change: Any = None) -> None:
        self._repository = repository
        self._clock = clock
        self._on_change = on_change or (lambda: None)

    def create(self, body: Any) -> dict[str, Any]:
        record = parse_video(body)
        if self._repository.get(record["video_id"]) is not None:
            raise InvalidInput([FieldError("video_id", f"a video with id {record['video_id']!r} exists")])
        now = iso(self._clock.now())
        record.update(created_at=now, updated_at=now)
        self._repository.save(record)
        self._on_change()
        return record

    def get(self, video_id: str) -> dict[str, Any]:
        video = self._repository.get(video_id)
        if video is None:
            raise NotFound(f"no video {video_id!r}")
        return public(video)

    def update(self, video_id: str, body: Any) -> dict[str, Any]:
        """A partial update (PATCH): fields not sent keep their values."""
        previous = self._repository.get(video_id)
        if previous is None:
            raise NotFound(f"no video {video_id!r}")
        if not isinstance(body, dict):
            raise InvalidInput([FieldError("body", "must be a JSON object")])
        if "video_id" in body and body["video_id"] != video_id:
            raise InvalidInput([FieldError("video_id", "cannot be changed")])
        merged = {k: v for k, v in public(previous).items() if k not in ("created_at", "updated_at")}
        merged.update({k: v for k, v in body.items() if k != "video_id"})
        record = parse_video(merged, video_id)
        record.update(created_at=previous.get("created_at"), updated_at=iso(self._clock.now()))
        self._repository.save(record)
        self._on_change()
        return record

    def delete(self, video_id: str) -> None:
        if self._repository.get(video_id) is None:
            raise NotFound(f"no video {video_id!r}")
        self._repository.delete(video_id)
        self._on_change()

    def list(self) -> list[dict[str, Any]]:
        return sorted((public(v) for v in self._repository.list()), key=lambda v: v["video_id"])


class VideoCatalog:
    """The worker's view of videos: ``milestone_facts`` per video id, cached per warm Lambda
    (unknown videos too) for ``ttl_seconds``."""

    def __init__(self, repository: VideoRepository, ttl_seconds: float = 60.0) -> None:
        self._repository = repository
        self._cache: TtlCache[dict[str, Any]] = TtlCache(ttl_seconds, negative_ttl_seconds=ttl_seconds)

    def milestone_facts(self, video_id: str) -> dict[str, Any]:
        return (
            self._cache.get(video_id, lambda: milestone_facts(self._repository.get(video_id)) or None) or {}
        )

    def clear(self) -> None:
        self._cache.clear()


class Enqueue(Protocol):
    def single(self, app_id: str, raw_body: bytes | str | None, event_type: str) -> Any: ...


class VideoWebhook:
    """``POST /v1/webhooks/video``: verify, then queue a ``Video Milestone Reached`` track event."""

    def __init__(self, ingest: Enqueue, secret: bytes, clock: Clock) -> None:
        self._ingest = ingest
        self._secret = secret
        self._clock = clock

    def receive(self, raw_body: bytes | str | None, signature_header: str | None) -> Any:
        body = raw_body.encode() if isinstance(raw_body, str) else (raw_body or b"")
        try:
            webhook_signature.verify(self._secret, signature_header, body, self._clock.now().timestamp())
        except webhook_signature.InvalidSignature as exc:
            raise Unauthorized(f"video webhook refused: {exc}") from None
        from chalicelib.contracts.segment import parse_json

        payload = parse_json(body, WEBHOOK_MAX_BYTES)
        return self._ingest.single(WEBHOOK_APP_ID, json.dumps(as_track(payload)), "track")


def as_track(payload: Any) -> dict[str, Any]:
    """The webhook body as a Segment track call (the ingest contract validates the rest)."""
    if not isinstance(payload, dict):
        raise InvalidInput([FieldError("body", "must be a JSON object")])
    errors: list[FieldError] = []
    video_id, percent = payload.get("video_id"), payload.get("percent")
    if not isinstance(video_id, str) or not VIDEO_ID.match(video_id):
        errors.append(FieldError("video_id", "required: the registered video's id"))
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 < percent <= 100:
        errors.append(FieldError("percent", "required: a number above 0, at most 100"))
    if errors:
        raise InvalidInput(errors, "invalid video milestone")
    track: dict[str, Any] = {
        "type": "track",
        "event": MILESTONE_EVENT,
        "properties": {"video_id": video_id, "percent": percent, "source": "video_platform"},
    }
    for name in ("userId", "anonymousId", "messageId", "timestamp"):
        if name in payload:
            track[name] = payload[name]
    return track
