"""Which queue messages a profile has applied: the worker's exactly-once record, kept inside the
profile item so that an event's effects and its "applied" mark are one write.

Each applied message is remembered as a 64-bit BLAKE2b digest of its ``messageId`` with the
Unix second its commit was planned (``AppliedIds``: 12 bytes a message when stored). A profile
keeps the ids applied within the dedupe window (``Settings.dedupe_window``, 60 minutes by
default: 4x the 15 minutes SQS can redeliver within, ``VisibilityTimeout`` 180 s x
``maxReceiveCount`` 5) and at most ``Settings.dedupe_max_ids`` of them (the newest).

What a profile keeps of the moments themselves (``recent_moments``): the last
``HISTORY_LIMIT`` records (the shopper's recent history, for the privacy export) plus, while
their id is remembered, every record the after-commit step needs again on a redelivery (the
moments the detectors decided on, which cannot be decided again from a newer profile).

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.domain.profile import Profile

DIGEST_BYTES = 8
_ENTRY = struct.Struct(">8sI")  # digest, epoch seconds (unsigned: good until 2106)
HISTORY_LIMIT = 5  # moment records kept for the shopper's history, whatever their age

AppliedIds = tuple[tuple[bytes, int], ...]  # (digest, applied at, Unix seconds), oldest first


def digest(message_id: str) -> bytes:
    return hashlib.blake2b(message_id.encode(), digest_size=DIGEST_BYTES).digest()


def contains(applied: AppliedIds, message_id: str) -> bool:
    wanted = digest(message_id)
    return any(d == wanted for d, _ in applied)


def remember(
    applied: AppliedIds, message_ids: Iterable[str], now_epoch: int, window_seconds: int, max_ids: int
) -> AppliedIds:
    """``applied`` plus ``message_ids`` (at ``now_epoch``), without the ids older than the window
    and at most ``max_ids`` (the newest kept)."""
    kept = [(d, at) for d, at in applied if at >= now_epoch - window_seconds]
    kept += [(digest(m), now_epoch) for m in message_ids]
    kept.sort(key=lambda entry: entry[1])
    return tuple(kept[-max_ids:]) if max_ids > 0 else ()


def pack(applied: AppliedIds) -> bytes:
    return b"".join(_ENTRY.pack(d, at) for d, at in applied)


def unpack(blob: bytes | None) -> AppliedIds:
    if not blob:
        return ()
    usable = len(blob) - len(blob) % _ENTRY.size
    return tuple(_ENTRY.unpack_from(blob, i) for i in range(0, usable, _ENTRY.size))


def needed_on_redelivery(record: dict[str, Any]) -> bool:
    """A record the after-commit step must read back on a redelivery: what the detectors decided
    (their moments, or that the claimed moment is not one). Anything else is rebuilt from the
    event itself."""
    return "detected" in record and bool(record.get("detected") or record.get("moment"))


def keep_moments(records: list[dict[str, Any]], applied: AppliedIds) -> list[dict[str, Any]]:
    """The records a profile keeps (newest last): the last ``HISTORY_LIMIT``, and every record
    needed on a redelivery whose message id is still remembered."""
    remembered = {d for d, _ in applied}
    cutoff = len(records) - HISTORY_LIMIT
    return [
        r
        for i, r in enumerate(records)
        if i >= cutoff or (needed_on_redelivery(r) and digest(str(r.get("id", ""))) in remembered)
    ]


def find_record(records: list[dict[str, Any]], message_id: str) -> dict[str, Any] | None:
    return next((r for r in reversed(records) if r.get("id") == message_id), None)


def moment_rows(profile: Profile) -> list[dict[str, Any]]:
    """The profile's moment records as the items they used to be (``MSG#{messageId}``), for the
    export and for tools that look a message up; ``profile`` names the profile that applied it."""
    subject = profile.subject
    pk = f"{'USER' if subject.kind == 'user' else 'ANON'}#{subject.id}"
    return [
        {
            "PK": pk,
            "SK": f"MSG#{record.get('id', '')}",
            "profile": f"{subject.kind}:{subject.id}",
            **{k: v for k, v in record.items() if k != "id"},
        }
        for record in profile.recent_moments
    ]
