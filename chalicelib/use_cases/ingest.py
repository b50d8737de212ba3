"""Ingest: validated Segment events -> one SQS call -> the accepted messageIds.

No DynamoDB on this path. If the queue refuses, ``RetryableError`` propagates (503 +
Retry-After); a 2xx is only ever returned for events that are on the queue. With ``limits``,
a request over the app's or a device's rate is refused whole (``RateLimited``: 429 +
Retry-After) before anything is queued; see chalicelib/rate_limit.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.contracts import queue_envelope, segment
from chalicelib.contracts.segment import Rejected
from chalicelib.domain.clock import Clock
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.events import Event
from chalicelib.domain.ports import EventQueue, QueueMessage
from chalicelib.rate_limit import IngestLimits


@dataclass(frozen=True)
class IngestResult:
    accepted: list[str]
    rejected: list[Rejected] = field(default_factory=list)


class Ingest:
    def __init__(self, queue: EventQueue, clock: Clock, limits: IngestLimits | None = None) -> None:
        self._queue = queue
        self._clock = clock
        self._limits = limits

    def _admit(self, app_id: str, events: list[Event]) -> None:
        if self._limits is not None:
            self._limits.admit(app_id, (e.anonymous_id or e.user_id or "" for e in events))

    def single(self, app_id: str, raw_body: bytes | str | None, event_type: str) -> IngestResult:
        now = self._clock.now()
        body = segment.parse_json(raw_body, segment.MAX_EVENT_BYTES)
        event = segment.parse_event(body, now, app_id, expected_type=event_type)
        self._admit(app_id, [event])
        self.enqueue(app_id, [event])
        return IngestResult([event.message_id])

    def batch(self, app_id: str, raw_body: bytes | str | None) -> IngestResult:
        now = self._clock.now()
        body = segment.parse_json(raw_body, segment.MAX_BATCH_BYTES)
        accepted, rejected = segment.parse_batch(body, now, app_id)
        if not accepted:
            errors = [e for r in rejected for e in r.errors]
            raise InvalidInput(errors, f"all {len(rejected)} events in the batch were rejected")
        self._admit(app_id, accepted)
        self.enqueue(app_id, accepted)
        return IngestResult([e.message_id for e in accepted], rejected)

    def enqueue(self, app_id: str, events: list[Event]) -> None:
        received_at = self._clock.now()
        self._queue.send(
            [
                QueueMessage(str(i), queue_envelope.encode(queue_envelope.Envelope(app_id, received_at, e)))
                for i, e in enumerate(events)
            ]
        )
