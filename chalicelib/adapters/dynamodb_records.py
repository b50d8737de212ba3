"""DynamoDB implementations of ``AppKeyRepository`` and ``QrCodeRepository`` (and stores, for
the demo seed). Plain single-item reads and writes; callers cache them in memory."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from chalicelib.adapters.aws_errors import translated
from chalicelib.adapters.dynamodb_table import DynamoDBClient, deserialize, key, serialize
from chalicelib.domain.records import AppKey, QrCode


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


class DynamoDBQrCodes(_SingleItemRepository):
    prefix = "QR"

    def get(self, qr_id: str) -> QrCode | None:
        data = self._get(qr_id)
        return QrCode(**_only_fields(QrCode, data)) if data else None

    def put(self, qr_code: QrCode) -> None:
        self._put(qr_code.qr_id, asdict(qr_code))


class DynamoDBStores(_SingleItemRepository):
    prefix = "STORE"

    def get(self, store_id: str) -> dict[str, Any] | None:
        return self._get(store_id)

    def put(self, store_id: str, data: dict[str, Any]) -> None:
        self._put(store_id, {"store_id": store_id, **data})
