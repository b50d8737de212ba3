"""Stores and the geofence cell index in DynamoDB.

Items: ``STORE#{id}``/``META`` (the store record, plus ``cells``: where its fence is listed),
``STORES``/``{id}`` (the listing, so listing stores is one Query) and, per geohash cell the
fence (plus its exit margin) covers, ``CELL#{geohash}``/``FENCE#{id}`` holding the fence.
Evaluating a position is one Query of its cell, cached per cell for ``ttl_seconds`` in the
warm Lambda (empty cells too), so a device walking around one area costs no reads.

Writes use BatchWriteItem (25 requests a call, unprocessed items retried with backoff): the
cells are written before the store record and stale cells deleted after it, so the index never
misses a fence that its record names. Not transactional: a crash in between leaves stale cell
items pointing at a store whose record says otherwise, which the next save of the store fixes
(and a stale cell at worst makes the state machine consider a fence that is gone).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.adapters.aws_errors import translated
from chalicelib.adapters.dynamodb_table import DynamoDBClient, deserialize, key, query_pages, serialize
from chalicelib.domain.errors import RetryableError
from chalicelib.geo import geohash
from chalicelib.geo.fences import Fence, fence_from_record, fence_to_record
from chalicelib.ttl_cache import TtlCache

STORES_PK = "STORES"
BATCH = 25


class DynamoDBFences:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        ttl_seconds: float = 60.0,
        precision: int = geohash.DEFAULT_PRECISION,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 8,
    ) -> None:
        self._client = client
        self._table = table_name
        self._precision = precision
        self._cells: TtlCache[list[Fence]] = TtlCache(ttl_seconds, negative_ttl_seconds=ttl_seconds)
        self._fenced: TtlCache[bool] = TtlCache(ttl_seconds, negative_ttl_seconds=ttl_seconds)
        self._sleep = sleep
        self._max_retries = max_retries
        self.queries = 0  # DynamoDB Queries made by near() (for benchmarks and tests)

    # -- the StoreDirectory port (offers read name/timezone/opening_hours) -------------------
    def get(self, store_id: str) -> dict[str, Any] | None:
        with translated("GetItem STORE"):
            response = self._client.get_item(TableName=self._table, Key=key(f"STORE#{store_id}", "META"))
        item = response.get("Item")
        if not item:
            return None
        data = deserialize(item)
        return {k: v for k, v in data.items() if k not in ("PK", "SK")}

    # -- the fence lookup the worker uses ------------------------------------------------
    def near(self, lat: float, lon: float) -> list[Fence]:
        cell = geohash.encode(lat, lon, self._precision)
        return self._cells.get(cell, lambda: self._query_cell(cell)) or []

    def _query_cell(self, cell: str) -> list[Fence]:
        fences: list[Fence] = []
        for page in query_pages(self._client, self._table, f"CELL#{cell}", operation="Query CELL"):
            self.queries += 1
            fences.extend(fence_from_record(deserialize(i)["fence"]) for i in page)
        return fences

    def has_fence(self, store_id: str) -> bool:
        """Whether the store is registered with a geofence (cached like the cells)."""
        if not store_id:
            return False
        return bool(self._fenced.get(store_id, lambda: bool((self.get(store_id) or {}).get("shape")) or None))

    def clear_cache(self) -> None:
        self._cells.clear()
        self._fenced.clear()

    # -- admin ------------------------------------------------------------------------------
    def _requests(self, store: dict[str, Any], fence: Fence) -> tuple[list[dict[str, Any]], list[str]]:
        cells = sorted(fence.cells(self._precision))
        fence_data = fence_to_record(fence)
        puts = [
            {
                "PutRequest": {
                    "Item": serialize(
                        {"PK": f"CELL#{c}", "SK": f"FENCE#{fence.store_id}", "fence": fence_data}
                    )
                }
            }
            for c in cells
        ]
        return puts, cells

    def _store_requests(self, store: dict[str, Any], cells: list[str]) -> list[dict[str, Any]]:
        sid = store["store_id"]
        summary = {k: store.get(k) for k in ("name", "timezone", "lat", "lon", "radius_m")}
        return [
            {
                "PutRequest": {
                    "Item": serialize({"PK": f"STORE#{sid}", "SK": "META", **store, "cells": cells})
                }
            },
            {"PutRequest": {"Item": serialize({"PK": STORES_PK, "SK": sid, "store_id": sid, **summary})}},
        ]

    def save(self, store: dict[str, Any], fence: Fence, previous: dict[str, Any] | None) -> None:
        puts, cells = self._requests(store, fence)
        self._write(puts)
        self._write(self._store_requests(store, cells))
        stale = set((previous or {}).get("cells") or []) - set(cells)
        self._write([self._delete(f"CELL#{c}", f"FENCE#{fence.store_id}") for c in sorted(stale)])
        self.clear_cache()

    def save_many(self, stores: Sequence[tuple[dict[str, Any], Fence]]) -> None:
        """Bulk import (new or replaced stores; stale cells of replaced ones are not removed)."""
        requests: list[dict[str, Any]] = []
        for store, fence in stores:
            puts, cells = self._requests(store, fence)
            requests.extend(puts)
            requests.extend(self._store_requests(store, cells))
        self._write(requests)
        self.clear_cache()

    def delete(self, store: dict[str, Any]) -> None:
        sid = store["store_id"]
        requests = [self._delete(f"STORE#{sid}", "META"), self._delete(STORES_PK, sid)]
        requests += [self._delete(f"CELL#{c}", f"FENCE#{sid}") for c in store.get("cells") or []]
        self._write(requests)
        self.clear_cache()

    def list(self) -> list[dict[str, Any]]:
        pages = query_pages(self._client, self._table, STORES_PK, operation="Query STORES")
        return [
            {k: v for k, v in deserialize(item).items() if k not in ("PK", "SK")}
            for page in pages
            for item in page
        ]

    @staticmethod
    def _delete(pk: str, sk: str) -> dict[str, Any]:
        return {"DeleteRequest": {"Key": key(pk, sk)}}

    def _write(self, requests: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(requests), BATCH):
            pending = [*requests[start : start + BATCH]]
            for attempt in range(self._max_retries + 1):
                with translated("BatchWriteItem"):
                    response = self._client.batch_write_item(RequestItems={self._table: pending})
                pending = (response.get("UnprocessedItems") or {}).get(self._table) or []
                if not pending:
                    break
                self._sleep(min(2.0, 0.05 * 2**attempt))
            else:
                raise RetryableError(f"BatchWriteItem: {len(pending)} item(s) still unprocessed")
