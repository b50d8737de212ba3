"""Shared plumbing for the single DynamoDB table: key layout and item (de)serialisation.

Key layout (see README "Storage"): ``USER#{id}``/``ANON#{id}`` hold ``PROFILE`` (with the
applied message ids and recent moment records) and (for ANON) ``ALIAS``;
``STAT#{scope}#{hour}``/``COUNTS``; ``WRITEKEY#{sha256}``/``META``; ``QR#{id}``/``META``; ``STORE#{id}``/``META``.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.domain.profile import Subject

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def subject_pk(subject: Subject) -> str:
    return f"{'USER' if subject.kind == 'user' else 'ANON'}#{subject.id}"


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return {_from_dynamo(v) for v in value}
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """Plain Python (floats allowed, None dropped) -> DynamoDB attribute values."""
    return {k: _serializer.serialize(v) for k, v in _to_dynamo(item).items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def query_pages(
    client: DynamoDBClient,
    table: str,
    pk: str,
    *,
    prefix: str | None = None,
    between: tuple[str, str] | None = None,
    projection: str | None = None,
    consistent: bool = False,
    operation: str = "Query",
) -> Iterator[list[dict[str, Any]]]:
    """Every page of (raw) items under one partition key, optionally those whose sort key
    begins with ``prefix`` or lies ``between`` two values (inclusive): the one paginated Query
    loop the adapters share."""
    from chalicelib.adapters.aws_errors import translated

    if prefix is not None and between is not None:
        raise ValueError("give prefix or between, not both")
    condition = "PK = :pk" + (" AND begins_with(SK, :prefix)" if prefix is not None else "")
    values: dict[str, Any] = {":pk": {"S": pk}}
    if prefix is not None:
        values[":prefix"] = {"S": prefix}
    if between is not None:
        condition += " AND SK BETWEEN :low AND :high"
        values[":low"], values[":high"] = {"S": between[0]}, {"S": between[1]}
    start: dict[str, Any] | None = None
    while True:
        request: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if consistent:
            request["ConsistentRead"] = True
        if projection:
            request["ProjectionExpression"] = projection
        if start:
            request["ExclusiveStartKey"] = start
        with translated(operation):
            page = client.query(**request)
        yield page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return
