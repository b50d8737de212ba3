"""Rate limits on ingest: token buckets per write key and per device, in memory.

No DynamoDB (or any) read on the hot path: each warm ingest Lambda container keeps its own
buckets, so the limits are **per container**. With N concurrent containers an app can reach up
to N times the configured rate; API Gateway throttling (stage/usage plans) and the worker's
reserved concurrency bound the total. What this stops is the common failure: one app (or one
device in a retry loop) flooding the queue through the containers it is hitting.

A bucket holds ``capacity`` tokens and refills at ``rate`` per second; an event costs one. A
request whose events do not fit is refused whole with ``RateLimited`` (429 + ``Retry-After``),
so an SDK retries it later and nothing is silently dropped. Buckets are kept for at most
``max_keys`` keys (least recently used dropped: a dropped bucket starts full again).

Imports nothing from AWS; time comes from the ``Clock`` port.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable

from chalicelib.domain.clock import Clock
from chalicelib.domain.errors import MicromomentsError


class RateLimited(MicromomentsError):
    """Too many events: retry after ``retry_after`` seconds. ``scope`` is ``key`` or ``device``."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"rate limit per {scope} exceeded; retry after {retry_after} s")
        self.scope = scope
        self.retry_after = retry_after


class TokenBuckets:
    def __init__(self, rate: float, capacity: float, clock: Clock, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + max(0.0, now - at) * self.rate)

    def shortfall(self, key: str, cost: float) -> float:
        """Seconds until ``cost`` tokens are available (0 if they are now)."""
        now = self._clock.now().timestamp()
        missing = cost - self._level(key, now)
        if missing <= 0:
            return 0.0
        if cost > self.capacity:
            return math.inf
        return missing / self.rate

    def take(self, key: str, cost: float) -> None:
        now = self._clock.now().timestamp()
        self._buckets[key] = (self._level(key, now) - cost, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)


class IngestLimits:
    """Per write key (``per_key_per_second``, bursts of 2 s) and per device
    (``per_device_per_minute``, bursts of one minute's worth); 0 switches a limit off."""

    def __init__(self, per_key_per_second: float, per_device_per_minute: float, clock: Clock) -> None:
        self._keys = (
            TokenBuckets(per_key_per_second, 2 * per_key_per_second, clock)
            if per_key_per_second > 0
            else None
        )
        self._devices = (
            TokenBuckets(per_device_per_minute / 60, per_device_per_minute, clock)
            if per_device_per_minute > 0
            else None
        )

    def admit(self, app_id: str, devices: Iterable[str]) -> None:
        """Take one token per event from the app's bucket and each device's; all or nothing."""
        per_device: dict[str, int] = {}
        for device in devices:
            per_device[device] = per_device.get(device, 0) + 1
        events = sum(per_device.values())
        waits: list[tuple[float, str]] = []
        if self._keys is not None:
            waits.append((self._keys.shortfall(app_id, events), "key"))
        if self._devices is not None:
            for device, n in per_device.items():
                waits.append((self._devices.shortfall(f"{app_id}|{device}", n), "device"))
        wait, scope = max(waits, default=(0.0, "key"))
        if wait > 0:
            # A request bigger than a whole bucket can never fit: say so with a minute's wait.
            raise RateLimited(scope, 60 if math.isinf(wait) else max(1, math.ceil(wait)))
        if self._keys is not None:
            self._keys.take(app_id, events)
        if self._devices is not None:
            for device, n in per_device.items():
                self._devices.take(f"{app_id}|{device}", n)
