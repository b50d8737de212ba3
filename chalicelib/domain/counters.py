"""Hourly analytics counters: which counters one event increments.

Counters live in scopes (``all`` for the whole deployment, ``store#{id}`` per store) and UTC
hour buckets; each scope-hour is one item holding many named counts. The ``all`` scope takes
every event, so it is write-sharded: an event goes to shard ``hash(messageId) % shards`` and
readers add the shards up. Counters are only ever incremented inside the same atomic write
that records the event's idempotency marker, so a redelivered event never counts twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from chalicelib.domain.clock import hour_bucket
from chalicelib.domain.events import Event


@dataclass(frozen=True)
class CounterIncrement:
    scope: str  # "all#s{n}" or "store#{store_id}"
    hour: str  # YYYYMMDDHH (UTC)
    counts: dict[str, int]


def shard_of(message_id: str, shards: int) -> int:
    digest = hashlib.blake2b(message_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % max(shards, 1)


def increments_for(
    event: Event, store_id: str | None, shards: int, rejected: str | None = None
) -> list[CounterIncrement]:
    """The counter increments one processed event causes. A recognised event that is not a
    valid moment (``rejected``, e.g. a forged QR code) counts as ``rejected:{reason}``."""
    hour = hour_bucket(event.timestamp)
    counts: dict[str, int] = {"events": 1}
    if event.type == "identify":
        counts["identify"] = 1
    else:
        counts[f"event:{event.event}"] = 1
    moment = event.moment
    if rejected is not None:
        counts[f"rejected:{rejected}"] = 1
        moment = None
    elif moment is not None:
        counts[f"moment:{moment.moment_type}"] = 1
        counts[f"intent:{moment.intent.value}"] = 1
    result = [CounterIncrement(f"all#s{shard_of(event.message_id, shards)}", hour, counts)]
    if store_id and moment is not None:
        store_counts = {
            f"moment:{moment.moment_type}": 1,
            f"intent:{moment.intent.value}": 1,
        }
        result.append(CounterIncrement(f"store#{store_id}", hour, store_counts))
    return result
