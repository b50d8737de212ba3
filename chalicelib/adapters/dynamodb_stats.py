"""Reads the analytics counters for the reports (``use_cases/reports.py``).

Hourly moment counters ``STAT#{scope}#{YYYYMMDDHH}``/``COUNTS`` (scopes ``all#s{n}`` and
``store#{id}``, see domain/counters.py) are read with BatchGetItem, 100 keys a call, several
calls in parallel threads, unprocessed keys retried with backoff. Offer counters
``STAT#offers#{campaign_id}#s{n}``/``{YYYYMMDDHH}#{store}`` (domain/offer_stats.py) are one
paged Query per campaign shard (``SK BETWEEN first_hour AND last_hour~``), in parallel; the
store-less items of an hour, spread over the shards, are added up into one.
Eventually consistent reads: a report may miss the last second's increments.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.adapters.aws_errors import translated
from chalicelib.adapters.dynamodb_table import DynamoDBClient, deserialize, key, query_pages
from chalicelib.domain.errors import RetryableError
from chalicelib.domain.offer_stats import stat_pks

BATCH_GET = 100
AFTER_EVERY_STORE = "~"  # sorts after "#" and every character of a store id


def _counts(item: dict[str, Any]) -> dict[str, int]:
    return {
        k: int(v)
        for k, v in deserialize(item).items()
        if k not in ("PK", "SK") and isinstance(v, int | float) and not isinstance(v, bool)
    }


class DynamoDBStats:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        max_workers: int = 8,
        max_retries: int = 6,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._max_workers = max_workers
        self._max_retries = max_retries
        self._sleep = sleep

    def _parallel(self, function: Callable[[Any], Any], work: Sequence[Any]) -> list[Any]:
        if len(work) <= 1:
            return [function(w) for w in work]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(self._max_workers, len(work))) as pool:
            return list(pool.map(function, work))

    # -- hourly moment counters ------------------------------------------------------------
    def _batch_get(self, keys: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        pending: dict[str, Any] = {self._table: {"Keys": list(keys)}}
        for attempt in range(self._max_retries + 1):
            with translated("BatchGetItem STAT"):
                response = self._client.batch_get_item(RequestItems=pending)
            found.extend((response.get("Responses") or {}).get(self._table) or [])
            pending = response.get("UnprocessedKeys") or {}
            if not pending.get(self._table, {}).get("Keys"):
                return found
            if attempt < self._max_retries:
                self._sleep(min(2.0, 0.05 * 2**attempt))
        left = len(pending[self._table]["Keys"])
        raise RetryableError(f"BatchGetItem STAT: {left} key(s) still unprocessed")

    def hourly(self, scopes: Sequence[str], hours: Sequence[str]) -> dict[str, dict[str, dict[str, int]]]:
        """scope -> hour -> counters, for every (scope, hour) item that exists."""
        keys = [key(f"STAT#{scope}#{hour}", "COUNTS") for scope in scopes for hour in hours]
        chunks = [keys[i : i + BATCH_GET] for i in range(0, len(keys), BATCH_GET)]
        out: dict[str, dict[str, dict[str, int]]] = {scope: {} for scope in scopes}
        for items in self._parallel(self._batch_get, chunks):
            for item in items:
                scope, _, hour = item["PK"]["S"].removeprefix("STAT#").rpartition("#")
                if scope in out:
                    out[scope][hour] = _counts(item)
        return out

    # -- offer counters --------------------------------------------------------------------
    def _partition(self, job: tuple[str, str, str]) -> list[tuple[str, dict[str, int]]]:
        pk, first_hour, last_hour = job
        pages = query_pages(
            self._client,
            self._table,
            pk,
            between=(first_hour, last_hour + AFTER_EVERY_STORE),
            operation="Query STAT#offers",
        )
        return [(item["SK"]["S"], _counts(item)) for page in pages for item in page]

    def offers(
        self, campaign_ids: Sequence[str], first_hour: str, last_hour: str
    ) -> dict[str, list[tuple[str, dict[str, int]]]]:
        """campaign -> [(sort key ``{hour}#{store}``, counters)] for hours first..last (UTC)."""
        jobs = [(pk, first_hour, last_hour) for c in campaign_ids for pk in stat_pks(c)]
        found = self._parallel(self._partition, jobs)
        out: dict[str, dict[str, dict[str, int]]] = {c: {} for c in campaign_ids}
        for (pk, _, _), rows in zip(jobs, found, strict=True):
            merged = out[pk.removeprefix("STAT#offers#").rpartition("#")[0]]
            for sort_key, counts in rows:
                # a store's items live in one shard; store-less ones ({hour}#-) are spread over
                # the shards, so the same sort key can come from several: added up
                bucket = merged.setdefault(sort_key, {})
                for name, n in counts.items():
                    bucket[name] = bucket.get(name, 0) + n
        return {c: sorted(rows.items()) for c, rows in out.items()}
