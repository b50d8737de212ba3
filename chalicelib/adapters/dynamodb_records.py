"""DynamoDB implementations of ``AppKeyRepository`` and the QR code store (and stores, for
the demo seed), plus the QR analytics counters. Callers cache records in memory.

QR codes are kept twice, written together in one transaction: ``QR#{id}``/``META`` (what
``/q/`` reads, one GetItem) and ``QRCODES``/``{store_id}#{id}`` (so listing every code, or a
store's codes, is one Query; QR admin is rare, so one partition is plenty). Analytics are the
day counters ``STAT#qr#{id}#{YYYYMMDD}`` and ``STAT#qrstore#{store}#{YYYYMMDD}``/``COUNTS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.aws_errors import error_code, translated
from chalicelib.adapters.dynamodb_table import DynamoDBClient, deserialize, key, query_pages, serialize
from chalicelib.domain.counters import CounterIncrement
from chalicelib.domain.errors import Conflict, RetryableError
from chalicelib.domain.records import AppKey, QrCode

QR_LIST_PK = "QRCODES"


class _SingleItemRepository:
    prefix = ""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _get(self, ident: str) -> dict[str, Any] | None:
        with translated(f"GetItem {self.prefix}"):
            response = self._client.get_item(TableName=self._table, Key=key(f"{self.prefix}#{ident}", "META"))
        item = response.get("Item")
        return deserialize(item) if item else None

    def _put(self, ident: str, data: dict[str, Any]) -> None:
        item = {"PK": f"{self.prefix}#{ident}", "SK": "META", **data}
        with translated(f"PutItem {self.prefix}"):
            self._client.put_item(TableName=self._table, Item=serialize(item))


def _only_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


class DynamoDBAppKeys(_SingleItemRepository):
    prefix = "WRITEKEY"

    def find(self, key_hash: str) -> AppKey | None:
        data = self._get(key_hash)
        return AppKey(**_only_fields(AppKey, data)) if data else None

    def put(self, app_key: AppKey) -> None:
        self._put(app_key.key_hash, asdict(app_key))


def _qr_from(data: dict[str, Any]) -> QrCode:
    values = _only_fields(QrCode, data)
    values["replaces"] = tuple(values.get("replaces") or ())
    return QrCode(**values)


class DynamoDBQrCodes(_SingleItemRepository):
    prefix = "QR"

    def get(self, qr_id: str) -> QrCode | None:
        data = self._get(qr_id)
        return _qr_from(data) if data else None

    def _items(self, qr_code: QrCode, condition: str | None, values: dict[str, Any]) -> list[dict[str, Any]]:
        data = asdict(qr_code)
        main: dict[str, Any] = {
            "TableName": self._table,
            "Item": serialize({"PK": f"QR#{qr_code.qr_id}", "SK": "META", **data}),
        }
        if condition:
            main["ConditionExpression"] = condition
            if values:
                main["ExpressionAttributeValues"] = serialize(values)
        listing = {
            "TableName": self._table,
            "Item": serialize({"PK": QR_LIST_PK, "SK": f"{qr_code.store_id}#{qr_code.qr_id}", **data}),
        }
        return [{"Put": main}, {"Put": listing}]

    def _write(self, operation: str, items: list[dict[str, Any]]) -> None:
        try:
            with translated(f"TransactWriteItems {operation}"):
                self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons:
                raise Conflict(f"{operation}: {reasons}") from exc
            # TransactionConflict (a concurrent write to the same item): nothing written, try again
            raise RetryableError(f"{operation}: cancelled {reasons}") from exc

    def put(self, qr_code: QrCode) -> None:
        """Create or overwrite, unconditionally (the seed, tests)."""
        self._write("QR put", self._items(qr_code, None, {}))

    def create(self, qr_code: QrCode) -> None:
        """Conflict if the id is taken."""
        self._write("QR create", self._items(qr_code, "attribute_not_exists(PK)", {}))

    @staticmethod
    def _unchanged(expected_updated_at: str | None) -> tuple[str, dict[str, Any]]:
        if expected_updated_at is None:
            return "attribute_exists(PK) AND attribute_not_exists(updated_at)", {}
        return "updated_at = :u", {":u": expected_updated_at}

    def replace(self, qr_code: QrCode, expected_updated_at: str | None) -> None:
        """Conflict if the stored record changed since it was read."""
        condition, values = self._unchanged(expected_updated_at)
        self._write("QR replace", self._items(qr_code, condition, values))

    def rotate(self, old: QrCode, new: QrCode, expected_updated_at: str | None) -> None:
        """The old record (now rotated) and its replacement, atomically."""
        condition, values = self._unchanged(expected_updated_at)
        items = self._items(old, condition, values) + self._items(new, "attribute_not_exists(PK)", {})
        self._write("QR rotate", items)

    def list(self, store_id: str | None = None) -> list[QrCode]:
        prefix = f"{store_id}#" if store_id is not None else None
        pages = query_pages(self._client, self._table, QR_LIST_PK, prefix=prefix, operation="Query QRCODES")
        return [_qr_from(deserialize(item)) for page in pages for item in page]


class DynamoDBQrStats:
    """Reads QR day counters (parallel GetItems: a range is at most a few dozen items) and adds
    the counts that happen outside the worker's transaction (redemptions)."""

    def __init__(self, client: DynamoDBClient, table_name: str, max_workers: int = 8) -> None:
        self._client = client
        self._table = table_name
        self._max_workers = max_workers

    def _day(self, scope: str, day: str) -> dict[str, int]:
        with translated("GetItem STAT"):
            response = self._client.get_item(
                TableName=self._table, Key=key(f"STAT#{scope}#{day}", "COUNTS"), ConsistentRead=True
            )
        item = response.get("Item")
        data = deserialize(item) if item else {}
        return {k: int(v) for k, v in data.items() if k not in ("PK", "SK")}

    def days(self, scope: str, days: Sequence[str]) -> dict[str, dict[str, int]]:
        """Counter items of ``scope`` for each day bucket that has one."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, min(self._max_workers, len(days)))) as pool:
            found = list(pool.map(lambda day: self._day(scope, day), days))
        return {day: counts for day, counts in zip(days, found, strict=True) if counts}

    def add(self, increments: Sequence[CounterIncrement]) -> None:
        for increment in increments:
            names = {f"#c{i}": name for i, name in enumerate(increment.counts)}
            values = {f":c{i}": {"N": str(n)} for i, n in enumerate(increment.counts.values())}
            with translated("UpdateItem STAT"):
                self._client.update_item(
                    TableName=self._table,
                    Key=key(f"STAT#{increment.scope}#{increment.hour}", "COUNTS"),
                    UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names))),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )


class DynamoDBStores(_SingleItemRepository):
    prefix = "STORE"

    def get(self, store_id: str) -> dict[str, Any] | None:
        return self._get(store_id)

    def put(self, store_id: str, data: dict[str, Any]) -> None:
        self._put(store_id, {"store_id": store_id, **data})
