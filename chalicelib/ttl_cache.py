"""A small bounded in-memory cache with a time-to-live, for the warm Lambda.

Write keys and QR records are read on the hot path; caching them keeps the ingest path at one
AWS call per request. Misses are cached too (shorter), so a client retrying with a wrong key
costs one read per TTL, not one per request (distinct bogus keys still cost a read each; rate
limiting is what stops a flood of those). The bound keeps memory flat whatever callers send.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")
_MISSING = object()


class TtlCache(Generic[V]):
    def __init__(
        self,
        ttl_seconds: float,
        negative_ttl_seconds: float | None = None,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._negative_ttl = min(ttl_seconds, 10.0) if negative_ttl_seconds is None else negative_ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, V | None]] = OrderedDict()

    def get(self, key: str, load: Callable[[], V | None]) -> V | None:
        now = self._clock()
        hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            self._items.move_to_end(key)
            return hit[1]
        value = load()
        ttl = self._ttl if value is not None else self._negative_ttl
        if ttl > 0:
            self._items[key] = (now + ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        self._items.clear()
