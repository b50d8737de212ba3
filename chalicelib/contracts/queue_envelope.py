"""The message the ingest Lambda puts on the events queue, versioned.

``{"v": 1, "app": app_id, "receivedAt": iso, "event": <Segment event as normalised>}``.
A body the worker cannot decode is a ``PoisonMessage``: it is retried by SQS and then lands
in the DLQ (maxReceiveCount 5), where it can be inspected and redriven after a fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.contracts.segment import event_from_dict, event_to_dict
from chalicelib.domain.clock import iso
from chalicelib.domain.errors import PoisonMessage
from chalicelib.domain.events import Event

VERSION = 1


@dataclass(frozen=True)
class Envelope:
    app_id: str
    received_at: datetime
    event: Event


def encode(envelope: Envelope) -> str:
    return json.dumps(
        {
            "v": VERSION,
            "app": envelope.app_id,
            "receivedAt": iso(envelope.received_at),
            "event": event_to_dict(envelope.event),
        },
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def decode(body: str) -> Envelope:
    try:
        data: Any = json.loads(body)
        if not isinstance(data, dict):
            raise PoisonMessage("envelope is not a JSON object")
        if type(data.get("v")) is not int or data["v"] != VERSION:
            raise PoisonMessage(f"unknown envelope version {data.get('v')!r}")
        event = event_from_dict(data["event"])
        if event.timestamp.tzinfo is None:
            raise PoisonMessage("event timestamp has no time zone")
        if event.type not in ("track", "identify") or not (event.user_id or event.anonymous_id):
            raise PoisonMessage("event lacks a type or an identity")
        return Envelope(str(data["app"]), datetime.fromisoformat(data["receivedAt"]), event)
    except PoisonMessage:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise PoisonMessage(f"undecodable envelope: {exc}") from exc
