"""Hourly analytics counters: which counters one event increments.

Counters live in scopes (``all`` for the whole deployment, ``store#{id}`` per store) and UTC
hour buckets; each scope-hour is one item holding many named counts. The ``all`` scope takes
every event, so it is write-sharded: an event goes to shard ``hash(messageId) % shards`` (the
worker commits a group of events at once, in the shard of the group's first message id) and
readers add the shards up. Counters are only ever incremented inside the same atomic write
that records the event as applied (in its profile), so a redelivered event never counts twice.

QR analytics use two more scopes with **day** buckets (``YYYYMMDD``, UTC) and the UTC hour in
the counter name, so a month of one code's analytics is 30 reads, not 720:
``qr#{qr_id}`` holds ``s{HH}`` (shopper scans), ``u{HH}`` (of which a visitor's first of the
code in 24 h) and ``r{HH}`` (redemptions of offers the code's scans triggered);
``qrstore#{store_id}`` holds the same for the whole store (``u`` is unique to the store) plus
per code ``c:{qr_id}`` (scans), ``cu:{qr_id}`` (unique) and ``cr:{qr_id}`` (redemptions).
Bots and repeat scans never reach the queue, so they are not counted here (see
domain/qr_scans.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.domain.clock import hour_bucket
from chalicelib.domain.events import Event


@dataclass(frozen=True)
class CounterIncrement:
    scope: str  # "all#s{n}", "store#{store_id}", "qr#{qr_id}" or "qrstore#{store_id}"
    hour: str  # the bucket: YYYYMMDDHH (UTC); YYYYMMDD for the qr scopes
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
        if moment.moment_type == "qr_scanned":
            result.extend(qr_scan_increments(event, store_id))
    return result


def combined(increments: list[CounterIncrement]) -> list[CounterIncrement]:
    """One increment per (scope, bucket), counts added: a DynamoDB transaction may touch an
    item only once, and one event can count several things in the same item."""
    by_item: dict[tuple[str, str], dict[str, int]] = {}
    for increment in increments:
        counts = by_item.setdefault((increment.scope, increment.hour), {})
        for name, n in increment.counts.items():
            counts[name] = counts.get(name, 0) + n
    return [CounterIncrement(scope, hour, counts) for (scope, hour), counts in by_item.items()]


def day_bucket(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d")


def qr_scan_increments(event: Event, store_id: str) -> list[CounterIncrement]:
    """A genuine scan (already verified by the worker) of the code in ``properties.code``.
    ``unique_code`` / ``unique_store`` come from the /q/ route's scan memory; in-app scans
    carry neither, so they count as scans but not as unique visitors."""
    qr_id = str(event.properties.get("code", "")).strip().upper()[:8]
    hh = event.timestamp.astimezone(UTC).strftime("%H")
    unique_code = event.properties.get("unique_code") is True
    unique_store = event.properties.get("unique_store") is True
    code_counts = {f"s{hh}": 1}
    store_counts = {f"s{hh}": 1, f"c:{qr_id}": 1}
    if unique_code:
        code_counts[f"u{hh}"] = 1
        store_counts[f"cu:{qr_id}"] = 1
    if unique_store:
        store_counts[f"u{hh}"] = 1
    day = day_bucket(event.timestamp)
    return [
        CounterIncrement(f"qr#{qr_id}", day, code_counts),
        CounterIncrement(f"qrstore#{store_id}", day, store_counts),
    ]


def qr_redemption_increments(qr_id: str, store_id: str, at: datetime) -> list[CounterIncrement]:
    """An offer triggered by a scan of ``qr_id`` was redeemed at ``at``."""
    hh = at.astimezone(UTC).strftime("%H")
    day = day_bucket(at)
    return [
        CounterIncrement(f"qr#{qr_id}", day, {f"r{hh}": 1}),
        CounterIncrement(f"qrstore#{store_id}", day, {f"r{hh}": 1, f"cr:{qr_id}": 1}),
    ]
