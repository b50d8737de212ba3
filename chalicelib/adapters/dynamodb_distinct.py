"""The daily distinct-shopper sketches (domain/distinct.py) in DynamoDB.

``STAT#distinct#{YYYYMMDD}``/``r{index:04d}`` holds ``v``, the register's value. ``raise_to`` is
one conditional UpdateItem (``attribute_not_exists(v) OR v < :v``): a failed condition means the
register is already as high, which is the normal case and not an error. ``sketches`` reads each
day with one paged Query, days in parallel threads.
"""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.aws_errors import translated
from chalicelib.adapters.dynamodb_table import DynamoDBClient, key, query_pages
from chalicelib.domain.distinct import Observation
from chalicelib.domain.errors import Conflict


def sketch_pk(day: str) -> str:
    return f"STAT#distinct#{day}"


class DynamoDBDistinct:
    def __init__(self, client: DynamoDBClient, table_name: str, max_workers: int = 8) -> None:
        self._client = client
        self._table = table_name
        self._max_workers = max_workers

    def raise_to(self, day: str, observation: Observation) -> bool:
        """Raise the day's register to the observation's value; False if it was as high already."""
        try:
            with translated("UpdateItem"):
                self._client.update_item(
                    TableName=self._table,
                    Key=key(sketch_pk(day), f"r{observation.index:04d}"),
                    UpdateExpression="SET v = :v",
                    ConditionExpression="attribute_not_exists(v) OR v < :v",
                    ExpressionAttributeValues={":v": {"N": str(observation.value)}},
                )
        except Conflict:
            return False
        return True

    def sketches(self, days: Sequence[str]) -> dict[str, dict[int, int]]:
        """day -> register -> value (days with nothing recorded are empty)."""

        def read(day: str) -> dict[int, int]:
            registers: dict[int, int] = {}
            for page in query_pages(self._client, self._table, sketch_pk(day), projection="SK, v"):
                for item in page:
                    registers[int(item["SK"]["S"][1:])] = int(item["v"]["N"])
            return registers

        if len(days) <= 1:
            return {day: read(day) for day in days}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(self._max_workers, len(days))) as pool:
            return dict(zip(days, pool.map(read, days), strict=True))
