"""Videos in DynamoDB: ``VIDEO#{id}``/``META`` (the record) and ``VIDEOS``/``{id}`` (the
listing, so listing videos is one Query), like stores. The in-memory twin is
``InMemoryVideos`` (chalicelib/adapters/in_memory_videos.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.aws_errors import translated
from chalicelib.adapters.dynamodb_table import DynamoDBClient, deserialize, key, query_pages, serialize

VIDEOS_PK = "VIDEOS"
SUMMARY = ("title", "kind", "length_seconds")


class DynamoDBVideos:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, video_id: str) -> dict[str, Any] | None:
        with translated("GetItem VIDEO"):
            response = self._client.get_item(TableName=self._table, Key=key(f"VIDEO#{video_id}", "META"))
        item = response.get("Item")
        if not item:
            return None
        return {k: v for k, v in deserialize(item).items() if k not in ("PK", "SK")}

    def save(self, video: dict[str, Any]) -> None:
        """The record first, then the listing item (a crash in between leaves a video that is
        not listed yet, never a listed one that does not exist)."""
        vid = video["video_id"]
        with translated("PutItem VIDEO"):
            self._client.put_item(
                TableName=self._table, Item=serialize({"PK": f"VIDEO#{vid}", "SK": "META", **video})
            )
        summary = {k: video.get(k) for k in SUMMARY}
        with translated("PutItem VIDEOS"):
            self._client.put_item(
                TableName=self._table,
                Item=serialize({"PK": VIDEOS_PK, "SK": vid, "video_id": vid, **summary}),
            )

    def delete(self, video_id: str) -> None:
        requests = [
            {"DeleteRequest": {"Key": key(VIDEOS_PK, video_id)}},
            {"DeleteRequest": {"Key": key(f"VIDEO#{video_id}", "META")}},
        ]
        with translated("BatchWriteItem VIDEO"):
            response = self._client.batch_write_item(RequestItems={self._table: requests})
        if (response.get("UnprocessedItems") or {}).get(self._table):
            from chalicelib.domain.errors import RetryableError

            raise RetryableError("BatchWriteItem: the video was not deleted; retry")

    def list(self) -> list[dict[str, Any]]:
        """Every video's full record (the listing names them; each is read with GetItem)."""
        pages = query_pages(self._client, self._table, VIDEOS_PK, operation="Query VIDEOS")
        ids = [deserialize(item)["SK"] for page in pages for item in page]
        return [video for video in (self.get(vid) for vid in ids) if video is not None]
