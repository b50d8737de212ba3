"""DynamoDB implementation of ``MomentStore``: profiles, aliases, idempotency markers, counters.

``commit`` writes one event's whole ``WritePlan`` with a single TransactWriteItems: the marker
(only if absent), the profile (only if its version is unchanged), the alias and the anonymous
profile's tombstone, and the counter increments. So an event is applied exactly once: a
redelivery fails on the marker and changes nothing; a crash before the commit leaves nothing
half-done. Powertools' idempotency utility is not used because its record is a separate write
from the effects (a crash between the two loses or repeats the effects).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.aws_errors import error_code, translated
from chalicelib.adapters.dynamodb_table import (
    DynamoDBClient,
    deserialize,
    key,
    query_pages,
    serialize,
    subject_pk,
)
from chalicelib.domain.errors import Conflict, DuplicateMessage, RetryableError
from chalicelib.domain.ports import WritePlan
from chalicelib.domain.profile import Profile, Subject

PROFILE_SK = "PROFILE"
ALIAS_SK = "ALIAS"
_PROFILE_FIELDS = [f for f in Profile.__dataclass_fields__ if f not in ("subject", "version")]


def profile_to_item(profile: Profile, version: int) -> dict[str, Any]:
    data = asdict(profile)
    body = {name: data[name] for name in _PROFILE_FIELDS}
    return {
        "PK": subject_pk(profile.subject),
        "SK": PROFILE_SK,
        "subject_kind": profile.subject.kind,
        "subject_id": profile.subject.id,
        "version": version,
        **body,
    }


def profile_from_item(item: dict[str, Any]) -> Profile:
    values = {name: item[name] for name in _PROFILE_FIELDS if name in item}
    return Profile(
        subject=Subject(item["subject_kind"], item["subject_id"]),
        version=int(item.get("version", 0)),
        **values,
    )


class DynamoDBMomentStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get_profile(self, subject: Subject) -> Profile | None:
        with translated("GetItem profile"):
            response = self._client.get_item(
                TableName=self._table, Key=key(subject_pk(subject), PROFILE_SK), ConsistentRead=True
            )
        item = response.get("Item")
        return profile_from_item(deserialize(item)) if item else None

    def get_alias(self, anonymous_id: str) -> str | None:
        with translated("GetItem alias"):
            response = self._client.get_item(
                TableName=self._table,
                Key=key(subject_pk(Subject.anon(anonymous_id)), ALIAS_SK),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return deserialize(item)["user_id"] if item else None

    def get_marker(self, subject: Subject, message_id: str) -> dict[str, Any] | None:
        with translated("GetItem marker"):
            response = self._client.get_item(
                TableName=self._table, Key=key(subject_pk(subject), f"MSG#{message_id}"), ConsistentRead=True
            )
        item = response.get("Item")
        return deserialize(item) if item else None

    def _versioned_put(self, profile: Profile) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": serialize(profile_to_item(profile, profile.version + 1)),
        }
        if profile.version == 0:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": {"N": str(profile.version)}}
        return {"Put": put}

    def _transact_items(self, plan: WritePlan) -> list[dict[str, Any]]:
        marker = plan.marker
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": serialize(
                        {
                            "PK": subject_pk(marker.subject),
                            "SK": f"MSG#{marker.message_id}",
                            "ttl": marker.ttl_epoch,
                            **marker.record,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            self._versioned_put(plan.profile),
        ]
        if plan.alias is not None:
            anonymous_id, user_id = plan.alias
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": serialize(
                            {
                                "PK": subject_pk(Subject.anon(anonymous_id)),
                                "SK": ALIAS_SK,
                                "user_id": user_id,
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
        if plan.merged_anonymous is not None:
            items.append(self._versioned_put(plan.merged_anonymous))
        guards = ((plan.absent_alias, ALIAS_SK), (plan.absent_anonymous_profile, PROFILE_SK))
        for guarded_id, sk in guards:
            if guarded_id is not None:
                items.append(
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": key(subject_pk(Subject.anon(guarded_id)), sk),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    }
                )
        for increment in plan.counters:
            names = {f"#c{i}": name for i, name in enumerate(increment.counts)}
            values = {f":c{i}": {"N": str(n)} for i, n in enumerate(increment.counts.values())}
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": key(f"STAT#{increment.scope}#{increment.hour}", "COUNTS"),
                        "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names))),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        return items

    def commit(self, plan: WritePlan) -> None:
        try:
            with translated("TransactWriteItems event"):
                self._client.transact_write_items(TransactItems=self._transact_items(plan))
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise DuplicateMessage(plan.marker.message_id) from exc
            if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                raise Conflict(f"event {plan.marker.message_id}: {reasons}") from exc
            raise RetryableError(f"event {plan.marker.message_id}: cancelled {reasons}") from exc

    def save_profile(self, profile: Profile) -> None:
        put = self._versioned_put(profile)["Put"]
        with translated("PutItem profile"):
            self._client.put_item(**put)

    def items_of(self, subject: Subject) -> list[dict[str, Any]]:
        """Every item stored under ``subject`` (profile, markers, alias, offers, caps, devices),
        for a data export."""
        items: list[dict[str, Any]] = []
        for page in self._pages(subject, projection=None):
            items.extend(deserialize(i) for i in page)
        return items

    def _pages(self, subject: Subject, projection: str | None) -> Any:
        return query_pages(
            self._client,
            self._table,
            subject_pk(subject),
            projection=projection,
            consistent=True,
            operation="Query subject",
        )

    def _delete(self, keys: list[dict[str, Any]], what: str) -> None:
        for chunk_start in range(0, len(keys), 25):
            requests = [{"DeleteRequest": {"Key": k}} for k in keys[chunk_start : chunk_start + 25]]
            for _attempt in range(5):
                with translated("BatchWriteItem erase"):
                    result = self._client.batch_write_item(RequestItems={self._table: requests})
                requests = result.get("UnprocessedItems", {}).get(self._table, [])
                if not requests:
                    break
            if requests:
                raise RetryableError(f"erase {what}: {len(requests)} deletes left unprocessed")

    def erase(self, subject: Subject) -> int:
        """Delete every item under ``subject`` and the ``REDEEM#{code}`` pointers of its offers
        (they name the subject). Returns how many items were deleted. Idempotent: a retry after
        a partial failure deletes what is left."""
        pk = subject_pk(subject)
        deleted = 0
        for page in self._pages(subject, projection="PK, SK, code"):
            # Pointers first: once the offer is gone nothing else would find them.
            pointers = [
                key(f"REDEEM#{i['code']['S']}", "META")
                for i in page
                if i["SK"]["S"].startswith("OFFER#") and "S" in i.get("code", {})
            ]
            self._delete(pointers, f"{pk} redemption codes")
            keys = [{"PK": i["PK"], "SK": i["SK"]} for i in page]
            self._delete(keys, pk)
            deleted += len(keys) + len(pointers)
        return deleted
