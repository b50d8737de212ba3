"""Segment-spec envelopes (``track``, ``identify``, ``batch``) -> validated domain ``Event``s.

Every problem is reported as a ``FieldError`` naming the field by its dotted path, and all of
an event's problems are reported at once. Limits: 32 KB per event, 500 KB and 100 events per
batch. Timestamps are corrected for device clock skew with ``sentAt`` (as Segment does) and
must fall within the last 24 hours and no more than 5 minutes ahead of the server clock.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.errors import FieldError, InvalidInput, PayloadTooLarge
from chalicelib.domain.events import MOMENTS, Event

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 100
MAX_AGE = timedelta(hours=24)
MAX_FUTURE = timedelta(minutes=5)
MAX_DEPTH = 16

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CHANNELS = ("email", "push", "sms")
_CONTEXT_KEYS = ("app", "device", "os", "library", "locale", "timezone", "location")


def parse_json(raw: bytes | str | None, limit: int) -> Any:
    """Decode a request body; too large -> PayloadTooLarge, not JSON -> InvalidInput."""
    raw = raw.encode() if isinstance(raw, str) else (raw or b"")
    if len(raw) > limit:
        raise PayloadTooLarge(f"body is {len(raw)} bytes; the limit is {limit} bytes")
    if not raw.strip():
        raise InvalidInput([FieldError("body", "is empty; send a JSON object")], "empty body")

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    def finite(text: str) -> float:
        number = float(text)
        if math.isinf(number):
            raise ValueError(f"{text[:20]} is too large a number")
        return number

    try:
        value = json.loads(raw, parse_constant=no_constants, parse_float=finite)
    except RecursionError:
        raise InvalidInput([FieldError("body", "is nested too deeply")], "body is not valid JSON") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            [FieldError("body", f"is not valid JSON: {exc}")], "body is not valid JSON"
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput([FieldError("body", "must be a JSON object")], "body must be a JSON object")
    if _depth(value) > MAX_DEPTH:
        raise InvalidInput([FieldError("body", f"is nested deeper than {MAX_DEPTH} levels")])
    return value


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


@lru_cache(maxsize=1024)
def valid_timezone(name: str) -> bool:
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        return False
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Checker:
    """Collects FieldErrors while reading one envelope."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(f"{self.prefix}{path}", message))

    def text(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        max_len: int = 255,
        allow_number: bool = False,
    ) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(path, "is required")
            return None
        if allow_number and _is_number(value):
            value = str(value)
        if not isinstance(value, str):
            self.fail(path, "must be a string" + (" or a number" if allow_number else ""))
            return None
        if not value.strip():
            self.fail(path, "must not be empty")
            return None
        if len(value) > max_len:
            self.fail(path, f"must be at most {max_len} characters")
            return None
        if _CONTROL.search(value):
            self.fail(path, "must not contain control characters")
            return None
        return value

    def number(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_min: bool = False,
    ) -> float | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(path, "is required")
            return None
        if not _is_number(value):
            self.fail(path, "must be a number")
            return None
        if minimum is not None and (value <= minimum if exclusive_min else value < minimum):
            self.fail(path, f"must be {'greater than' if exclusive_min else 'at least'} {minimum:g}")
            return None
        if maximum is not None and value > maximum:
            self.fail(path, f"must be at most {maximum:g}")
            return None
        return float(value)

    def obj(self, parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        value = parent.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return {}
        return value

    def timestamp(self, obj: dict[str, Any], key: str) -> datetime | None:
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > 40:
            self.fail(key, "must be an ISO-8601 date-time string")
            return None
        try:
            parsed = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            self.fail(key, f"is not an ISO-8601 date-time: {value!r}")
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


def _check_properties(c: _Checker, event_name: str, props: dict[str, Any]) -> dict[str, Any]:
    """Type-check the properties a recognised event needs; keep everything else as sent."""
    kind = MOMENTS.get(event_name)
    if kind is None:
        return props
    out = dict(props)
    required = set(kind.required)
    for key in ("code", "store_id", "video_id", "order_id", "product_id", "category", "coupon"):
        if key in required or key in props:
            out[key] = c.text(
                props,
                key,
                f"properties.{key}",
                required=key in required,
                max_len=128,
                allow_number=key not in ("code", "category", "coupon"),
            )
    if "position" in required:
        out["position"] = c.number(props, "position", "properties.position", required=True, minimum=0)
    if "total_length" in required:
        out["total_length"] = c.number(
            props, "total_length", "properties.total_length", required=True, minimum=0, exclusive_min=True
        )
    if "percent" in required:
        out["percent"] = c.number(
            props, "percent", "properties.percent", required=True, minimum=0, maximum=100
        )
    if "total" in props:
        out["total"] = c.number(props, "total", "properties.total", minimum=0)
    if "products" in props:
        products = props["products"]
        if not isinstance(products, list) or len(products) > 100:
            c.fail("properties.products", "must be a list of at most 100 objects")
        else:
            for i, item in enumerate(products):
                if not isinstance(item, dict):
                    c.fail(f"properties.products[{i}]", "must be an object")
                    continue
                c.text(
                    item,
                    "product_id",
                    f"properties.products[{i}].product_id",
                    required=True,
                    max_len=128,
                    allow_number=True,
                )
                c.text(item, "category", f"properties.products[{i}].category", max_len=128)
    return {k: v for k, v in out.items() if v is not None}


def _check_traits(c: _Checker, traits: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "email" in traits:
        email = c.text(traits, "email", "traits.email", max_len=254)
        if email is not None and not _EMAIL.match(email):
            c.fail("traits.email", "is not an email address")
        elif email is not None:
            out["email"] = email.strip()
    if "phone" in traits:
        phone = c.text(traits, "phone", "traits.phone", max_len=16)
        if phone is not None and not _E164.match(phone):
            c.fail("traits.phone", "must be in E.164 form, e.g. +447700900123")
        elif phone is not None:
            out["phone"] = phone
    name_key = "first_name" if "first_name" in traits else "firstName"
    if name_key in traits:
        first_name = c.text(traits, name_key, f"traits.{name_key}", max_len=100)
        if first_name is not None:
            out["first_name"] = first_name
    if "timezone" in traits:
        tz = c.text(traits, "timezone", "traits.timezone", max_len=64)
        if tz is not None and not valid_timezone(tz):
            c.fail("traits.timezone", f"is not an IANA time zone: {tz!r}")
        elif tz is not None:
            out["timezone"] = tz
    if "consents" in traits:
        consents = traits["consents"]
        if not isinstance(consents, dict):
            c.fail("traits.consents", 'must be an object like {"email": true, "push": false}')
        else:
            checked = {}
            for channel, granted in consents.items():
                if channel not in _CHANNELS:
                    c.fail(f"traits.consents.{channel}", "is not a channel (email, push, sms)")
                elif not isinstance(granted, bool):
                    c.fail(f"traits.consents.{channel}", "must be true or false")
                else:
                    checked[channel] = granted
            out["consents"] = checked
    return out


def _check_context(c: _Checker, context: dict[str, Any]) -> dict[str, Any]:
    """Keep only the context we use (no IP address or user agent: PII we do not need)."""
    out = {k: context[k] for k in _CONTEXT_KEYS if k in context}
    if "timezone" in context:
        tz = c.text(context, "timezone", "context.timezone", max_len=64)
        if tz is not None and not valid_timezone(tz):
            c.fail("context.timezone", f"is not an IANA time zone: {tz!r}")
            out.pop("timezone")
    if "location" in context:
        location = c.obj(context, "location", "context.location")
        lat = c.number(
            location, "latitude", "context.location.latitude", required=True, minimum=-90, maximum=90
        )
        lon = c.number(
            location, "longitude", "context.location.longitude", required=True, minimum=-180, maximum=180
        )
        accuracy = c.number(location, "accuracy", "context.location.accuracy", minimum=0)
        out["location"] = {
            "latitude": lat,
            "longitude": lon,
            **({"accuracy": accuracy} if accuracy is not None else {}),
        }
    return out


def parse_event(
    obj: Any,
    now: datetime,
    id_salt: str,
    *,
    expected_type: str | None = None,
    sent_at: datetime | None = None,
    prefix: str = "",
) -> Event:
    """One envelope -> Event, or InvalidInput listing every bad field."""
    c = _Checker(prefix)
    if not isinstance(obj, dict):
        raise InvalidInput([FieldError(prefix.rstrip(".") or "body", "must be a JSON object")])
    kind = obj.get("type", expected_type)
    if expected_type is not None and kind != expected_type:
        c.fail("type", f"must be {expected_type!r} on this endpoint")
    elif kind not in ("track", "identify"):
        c.fail("type", "must be 'track' or 'identify'")
    user_id = c.text(obj, "userId", "userId", allow_number=True)
    anonymous_id = c.text(obj, "anonymousId", "anonymousId", allow_number=True)
    if obj.get("userId") is None and obj.get("anonymousId") is None:
        c.fail("userId", "userId or anonymousId is required")
    message_id = c.text(obj, "messageId", "messageId", max_len=100)
    timestamp = c.timestamp(obj, "timestamp")
    own_sent_at = c.timestamp(obj, "sentAt") or sent_at
    if timestamp is None:
        timestamp = now
    elif own_sent_at is not None:
        try:
            timestamp = timestamp + (now - own_sent_at)  # correct the device clock's skew
        except OverflowError:  # absurd dates: the window check below names the field
            timestamp = datetime.min.replace(tzinfo=UTC)
    if now - timestamp > MAX_AGE:
        c.fail("timestamp", "is more than 24 hours old; events that late are not accepted")
    elif timestamp - now > MAX_FUTURE:
        c.fail("timestamp", "is more than 5 minutes in the future (check the device clock)")
    context = _check_context(c, c.obj(obj, "context", "context"))
    event_name, properties, traits = None, {}, {}
    if kind == "track":
        event_name = c.text(obj, "event", "event", required=True, max_len=200)
        properties = _check_properties(c, event_name or "", c.obj(obj, "properties", "properties"))
    elif kind == "identify":
        traits = _check_traits(c, c.obj(obj, "traits", "traits"))
    if c.errors:
        raise InvalidInput(c.errors, "invalid event")
    if message_id is None:
        if "timestamp" in obj:
            # Deterministic, so a client retrying the same payload is still processed once.
            canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
            message_id = "mm-" + hashlib.sha256(f"{id_salt}|{canonical}".encode()).hexdigest()[:32]
        else:
            # Without a timestamp a retry cannot be told from a new event: a fresh id.
            message_id = f"mm-{uuid.uuid4().hex}"
    event = Event(
        type=str(kind),
        message_id=message_id,
        timestamp=timestamp,
        user_id=user_id,
        anonymous_id=anonymous_id,
        event=event_name,
        properties=properties,
        traits=traits,
        context=context,
    )
    if len(json.dumps(event_to_dict(event), default=str)) > MAX_EVENT_BYTES:
        raise InvalidInput(
            [FieldError(prefix.rstrip(".") or "body", f"event is larger than {MAX_EVENT_BYTES // 1024} KB")]
        )
    return event


@dataclass(frozen=True)
class Rejected:
    index: int
    message_id: str | None
    errors: list[FieldError]

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "messageId": self.message_id,
            "errors": [e.as_dict() for e in self.errors],
        }


def parse_batch(obj: dict[str, Any], now: datetime, id_salt: str) -> tuple[list[Event], list[Rejected]]:
    """A ``{"batch": [...]}`` body -> the valid events and each rejected one with its reasons."""
    items = obj.get("batch")
    if not isinstance(items, list):
        raise InvalidInput([FieldError("batch", "is required and must be a list of events")])
    if not items:
        raise InvalidInput([FieldError("batch", "must contain at least one event")])
    if len(items) > MAX_BATCH_EVENTS:
        raise PayloadTooLarge(f"batch has {len(items)} events; the limit is {MAX_BATCH_EVENTS}")
    c = _Checker("")
    sent_at = c.timestamp(obj, "sentAt")
    if c.errors:
        raise InvalidInput(c.errors)
    accepted: list[Event] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        try:
            event = parse_event(item, now, id_salt, sent_at=sent_at, prefix=f"batch[{index}].")
        except InvalidInput as exc:
            raw_id = item.get("messageId") if isinstance(item, dict) else None
            rejected.append(Rejected(index, raw_id if isinstance(raw_id, str) else None, exc.errors))
            continue
        if event.message_id in seen:
            continue  # the same message twice in one batch is one message
        seen.add(event.message_id)
        accepted.append(event)
    return accepted, rejected


def event_to_dict(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": event.type,
        "messageId": event.message_id,
        "timestamp": event.timestamp.astimezone(UTC).isoformat(timespec="milliseconds"),
    }
    if event.user_id is not None:
        out["userId"] = event.user_id
    if event.anonymous_id is not None:
        out["anonymousId"] = event.anonymous_id
    if event.event is not None:
        out["event"] = event.event
    if event.properties:
        out["properties"] = event.properties
    if event.traits:
        out["traits"] = event.traits
    if event.context:
        out["context"] = event.context
    return out


def event_from_dict(data: dict[str, Any]) -> Event:
    return Event(
        type=data["type"],
        message_id=data["messageId"],
        timestamp=datetime.fromisoformat(data["timestamp"]),
        user_id=data.get("userId"),
        anonymous_id=data.get("anonymousId"),
        event=data.get("event"),
        properties=data.get("properties") or {},
        traits=data.get("traits") or {},
        context=data.get("context") or {},
    )
