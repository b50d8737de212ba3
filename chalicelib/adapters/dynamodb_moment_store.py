"""DynamoDB implementation of ``MomentStore``: profiles, aliases, counters.

``commit`` writes one group's whole ``WritePlan`` with a single TransactWriteItems: each
profile (only if its version is unchanged; it carries the ids of the messages it has applied),
the aliases and anonymous profiles' tombstones, the race guards, and the counter increments
added up over the group. So an event is applied exactly once: a redelivery finds its id in the
profile and changes nothing; a lost race (version moved) is planned again from a fresh read; a
crash before the commit leaves nothing half-done. Powertools' idempotency utility is not used
because its record is a separate write from the effects (a crash between the two loses or
repeats the effects).

The profile item is small on purpose (a transaction bills 2 write units per KB of each item):
the key, ``subject_kind``/``subject_id``, ``version``, ``b`` (the rest of the profile as
zlib-compressed JSON, its recent moment records included) and ``ids`` (the applied message
ids: 8-byte digest + 4-byte time each, ``chalicelib/domain/dedupe.py``). Items written before
this layout (one attribute per field) are still read.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Sequence
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
from chalicelib.domain import dedupe
from chalicelib.domain.errors import Conflict, RetryableError
from chalicelib.domain.ports import WritePlan
from chalicelib.domain.profile import Profile, Subject

PROFILE_SK = "PROFILE"
ALIAS_SK = "ALIAS"
_KEY_FIELDS = ("subject", "version", "applied")
_PROFILE_FIELDS = [f for f in Profile.__dataclass_fields__ if f not in _KEY_FIELDS]


def _raw_bytes(value: Any) -> bytes:
    return bytes(getattr(value, "value", value))


def profile_to_item(profile: Profile, version: int) -> dict[str, Any]:
    data = asdict(profile)
    body = {name: data[name] for name in _PROFILE_FIELDS if data[name] not in (None, {}, [], ())}
    item: dict[str, Any] = {
        "PK": subject_pk(profile.subject),
        "SK": PROFILE_SK,
        "subject_kind": profile.subject.kind,
        "subject_id": profile.subject.id,
        "version": version,
        "b": zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 9),
    }
    if profile.applied:
        item["ids"] = dedupe.pack(profile.applied)
    return item


def profile_from_item(item: dict[str, Any]) -> Profile:
    if "b" in item:
        values = json.loads(zlib.decompress(_raw_bytes(item["b"])))
    else:  # the layout before the compressed body: one attribute per field
        values = {name: item[name] for name in _PROFILE_FIELDS if name in item}
    return Profile(
        subject=Subject(item["subject_kind"], item["subject_id"]),
        version=int(item.get("version", 0)),
        applied=dedupe.unpack(_raw_bytes(item["ids"])) if "ids" in item else (),
        **{name: value for name, value in values.items() if name in _PROFILE_FIELDS},
    )


def logical_items(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A deserialised table item as the application sees it: a profile item decoded (with
    ``applied`` as hex digests and times) followed by its moment records as ``MSG#`` rows; any
    other item unchanged."""
    if item.get("SK") != PROFILE_SK or "subject_kind" not in item:
        return [item]
    profile = profile_from_item(item)
    data = asdict(profile)
    decoded: dict[str, Any] = {
        "PK": item["PK"],
        "SK": PROFILE_SK,
        "subject_kind": profile.subject.kind,
        "subject_id": profile.subject.id,
        "version": profile.version,
        **{name: data[name] for name in _PROFILE_FIELDS if name != "recent_moments"},
        "applied": [{"digest": d.hex(), "at": at} for d, at in profile.applied],
    }
    return [decoded, *dedupe.moment_rows(profile)]


class DynamoDBMomentStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get_profile(self, subject: Subject, consistent: bool = True) -> Profile | None:
        with translated("GetItem profile"):
            response = self._client.get_item(
                TableName=self._table, Key=key(subject_pk(subject), PROFILE_SK), ConsistentRead=consistent
            )
        item = response.get("Item")
        return profile_from_item(deserialize(item)) if item else None

    def get_many(
        self, subjects: Sequence[Subject], anonymous_ids: Sequence[str], consistent: bool = True
    ) -> tuple[dict[Subject, Profile | None], dict[str, str | None]]:
        """BatchGetItem, 100 keys a call; keys still unprocessed after a retry are left out."""
        keys = [key(subject_pk(s), PROFILE_SK) for s in dict.fromkeys(subjects)]
        keys += [key(subject_pk(Subject.anon(a)), ALIAS_SK) for a in dict.fromkeys(anonymous_ids)]
        profiles: dict[Subject, Profile | None] = {s: None for s in subjects}
        aliases: dict[str, str | None] = {a: None for a in anonymous_ids}
        left: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {
                self._table: {"Keys": keys[start : start + 100], "ConsistentRead": consistent}
            }
            for attempt in range(2):
                with translated("BatchGetItem profiles"):
                    response = self._client.batch_get_item(RequestItems=pending)
                for raw in (response.get("Responses") or {}).get(self._table) or []:
                    item = deserialize(raw)
                    if item["SK"] == PROFILE_SK:
                        profile = profile_from_item(item)
                        profiles[profile.subject] = profile
                    else:
                        aliases[item["PK"].split("#", 1)[1]] = item["user_id"]
                pending = response.get("UnprocessedKeys") or {}
                if not pending.get(self._table, {}).get("Keys"):
                    break
                if attempt == 0:
                    time.sleep(0.05)
            left += pending.get(self._table, {}).get("Keys", [])
        for k in left:  # not read: the caller reads these alone
            pk, sk = k["PK"]["S"], k["SK"]["S"]
            if sk == PROFILE_SK:
                profiles = {s: p for s, p in profiles.items() if subject_pk(s) != pk}
            else:
                aliases.pop(pk.split("#", 1)[1], None)
        return profiles, aliases

    def get_alias(self, anonymous_id: str, consistent: bool = True) -> str | None:
        with translated("GetItem alias"):
            response = self._client.get_item(
                TableName=self._table,
                Key=key(subject_pk(Subject.anon(anonymous_id)), ALIAS_SK),
                ConsistentRead=consistent,
            )
        item = response.get("Item")
        return deserialize(item)["user_id"] if item else None

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
        items: list[dict[str, Any]] = [self._versioned_put(p) for p in plan.profiles]
        written = {(subject_pk(p.subject), PROFILE_SK) for p in plan.profiles}
        for anonymous_id, user_id in plan.aliases:
            written.add((subject_pk(Subject.anon(anonymous_id)), ALIAS_SK))
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
        guards = [(a, ALIAS_SK) for a in plan.absent_aliases]
        guards += [(a, PROFILE_SK) for a in plan.absent_anonymous_profiles]
        for guarded_id, sk in guards:
            pk = subject_pk(Subject.anon(guarded_id))
            if (pk, sk) in written:  # written in this plan with attribute_not_exists already
                continue
            written.add((pk, sk))
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self._table,
                        "Key": key(pk, sk),
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
        what = ", ".join(plan.message_ids[:3]) + (" ..." if len(plan.message_ids) > 3 else "")
        try:
            with translated("TransactWriteItems events"):
                self._client.transact_write_items(TransactItems=self._transact_items(plan))
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                raise Conflict(f"events {what}: {reasons}") from exc
            raise RetryableError(f"events {what}: cancelled {reasons}") from exc

    def save_profile(self, profile: Profile) -> None:
        put = self._versioned_put(profile)["Put"]
        with translated("PutItem profile"):
            self._client.put_item(**put)

    def park(self, subject: Subject, message_id: str, record: dict[str, Any], ttl_epoch: int) -> None:
        item = {"PK": subject_pk(subject), "SK": f"PARKED#{message_id}", "ttl": ttl_epoch, **record}
        with translated("PutItem parked message"):
            self._client.put_item(TableName=self._table, Item=serialize(item))

    def parked(self, subject: Subject, message_id: str) -> dict[str, Any] | None:
        with translated("GetItem parked message"):
            response = self._client.get_item(
                TableName=self._table,
                Key=key(subject_pk(subject), f"PARKED#{message_id}"),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return deserialize(item) if item else None

    def items_of(self, subject: Subject) -> list[dict[str, Any]]:
        """Every item stored under ``subject`` (profile, markers, alias, offers, caps, devices),
        for a data export."""
        items: list[dict[str, Any]] = []
        for page in self._pages(subject, projection=None):
            for raw in page:
                items.extend(logical_items(deserialize(raw)))
        return items

    def moment_record(self, subject: Subject, message_id: str) -> dict[str, Any] | None:
        """The record of ``message_id`` if the profile of ``subject`` still holds it."""
        profile = self.get_profile(subject)
        rows = dedupe.moment_rows(profile) if profile is not None else []
        return next((r for r in rows if r["SK"] == f"MSG#{message_id}"), None)

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
        (they name the subject). Returns how many items were deleted, counting each moment
        record the profile held as one (they were items of their own before they moved into
        the profile). Idempotent: a retry after a partial failure deletes what is left."""
        pk = subject_pk(subject)
        profile = self.get_profile(subject)
        deleted = len(profile.recent_moments) if profile is not None else 0
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


def read_item(client: DynamoDBClient, table: str, pk: str, sk: str) -> dict[str, Any] | None:
    """One item as the application sees it (``logical_items``), for tests and tools: a
    ``MSG#{messageId}`` key is looked up among the records of the partition's profile."""
    wanted = PROFILE_SK if sk.startswith("MSG#") else sk
    got = client.get_item(TableName=table, Key=key(pk, wanted), ConsistentRead=True).get("Item")
    if got is None:
        return None
    return next((row for row in logical_items(deserialize(got)) if row["SK"] == sk), None)
