"""DynamoDB adapters for offers: the ledger with its atomic cap reservation, campaigns, push
devices and the email suppression list.

Reservation = one TransactWriteItems: the ledger claim, the redemption-code pointer, the
user's daily cap, the campaign's per-user caps, the minimum gap, one offer per visit and the
campaign budget, each with its condition. Two workers racing for the last slot cannot both
win; the loser's cancellation reasons say which guardrail stopped it.

Outcome counters (domain/offer_stats.py) ride in the same transaction as the ledger write
that makes them true: ``STAT#offers#{campaign}#s{n}``/``{hour}#{store}`` gets its ``ADD``, and for a
shopper's first decision / conversion in a campaign ``SEEN#{campaign}`` under the shopper is
created (with the first decision's bucket) / stamped with a condition, and the first
conversion's ``converters`` counter goes to that first-decision bucket (``cohort_counter``).
The SEEN item is read first (cheap, and it keeps the transaction from failing in the common
case); if a racing worker got there between the read and the write, the transaction is
rebuilt without it.
"""

from __future__ import annotations

import json
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
from chalicelib.domain.campaigns import Campaign, campaign_from_dict
from chalicelib.domain.errors import Conflict, RetryableError
from chalicelib.domain.offer_stats import OfferStat, cohort_counter, seen_fields
from chalicelib.domain.offers import CapReached, Device, Reservation, address_hash
from chalicelib.domain.profile import Subject

DAY = 86_400
# When several guardrails refuse at once, the reason recorded is the first in this order.
PRECEDENCE = [
    ("exists", ""),
    ("frequency_cap", "user"),
    ("min_gap", "user"),
    ("one_per_visit", "user"),
    ("frequency_cap", "campaign"),
    ("budget_exhausted", "campaign"),
]


SEEN_RACE = ("seen", "")  # the cancellation tag of the SEEN item: rebuild without it
# Cancelled by another transaction on one of its items at the same moment (a hot counter item):
# nothing was written and no condition failed, so the same transaction is tried again.
TRANSACTION_CONFLICT = ("transaction_conflict", "")
STAT_ATTEMPTS = 5
RETRY_PAUSE_SECONDS = 0.01  # doubled after each conflict, with jitter


def _pause(attempt: int) -> None:
    import random
    import time

    time.sleep(RETRY_PAUSE_SECONDS * (2**attempt) * (0.5 + random.random()))


def _retried(failed: set[tuple[str, str]], attempt: int) -> bool:
    """Try the transaction again? Yes after a conflict (with a pause) or a SEEN race."""
    if failed == {TRANSACTION_CONFLICT}:
        _pause(attempt)
        return True
    return failed == {SEEN_RACE}


def _subject_from_pk(pk: str) -> Subject:
    kind, _, ident = pk.partition("#")
    return Subject("user" if kind == "USER" else "anon", ident)


class DynamoDBOfferLedger:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, subject: Subject, offer_id: str) -> dict[str, Any] | None:
        with translated("GetItem offer"):
            response = self._client.get_item(
                TableName=self._table, Key=key(subject_pk(subject), f"OFFER#{offer_id}"), ConsistentRead=True
            )
        item = response.get("Item")
        return deserialize(item) if item else None

    def record(
        self,
        subject: Subject,
        offer_id: str,
        record: dict[str, Any],
        ttl_epoch: int,
        stat: OfferStat | None = None,
    ) -> None:
        item = {"PK": subject_pk(subject), "SK": f"OFFER#{offer_id}", "ttl": ttl_epoch, **record}
        put = {
            "Put": {
                "TableName": self._table,
                "Item": serialize(item),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
        if stat is None:
            with translated("PutItem offer"):
                self._client.put_item(**put["Put"])
            return
        self._transact([(put, ("exists", ""))], subject, stat, f"offer {offer_id}", ttl_epoch)

    # -- outcome counters in the ledger's transactions --------------------------------------
    def _stat_items(
        self, subject: Subject, stat: OfferStat, ttl_epoch: int | None
    ) -> list[tuple[dict[str, Any], tuple[str, str]]]:
        """The counter update (and the SEEN create/stamp) for ``stat``."""
        counts = stat.counts()
        items: list[tuple[dict[str, Any], tuple[str, str]]] = []
        if stat.first_decision or stat.first_conversion:
            pk = subject_pk(subject)
            seen_key = key(pk, f"SEEN#{stat.campaign_id}")
            with translated("GetItem seen"):
                found = self._client.get_item(TableName=self._table, Key=seen_key, ConsistentRead=True)
            seen = deserialize(found["Item"]) if found.get("Item") else None
            if stat.first_decision and seen is None:
                counts[stat.first_decision_name()] = counts.get(stat.first_decision_name(), 0) + 1
                record: dict[str, Any] = {"PK": pk, "SK": f"SEEN#{stat.campaign_id}", **seen_fields(stat)}
                if ttl_epoch is not None:
                    record["ttl"] = ttl_epoch + 335 * DAY  # about a year after the first decision
                items.append(
                    (
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": serialize(record),
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        },
                        SEEN_RACE,
                    )
                )
            elif stat.first_conversion and (seen is None or "converted_at" not in seen):
                # the converter joins the cohort of the first decision, whose bucket SEEN holds;
                # the condition makes sure SEEN still says what was read
                cohort_pk, cohort_sk, name = cohort_counter(stat, seen)
                if (cohort_pk, cohort_sk) == (stat.pk, stat.sk):
                    counts[name] = counts.get(name, 0) + 1
                else:
                    items.append((self._add(cohort_pk, cohort_sk, {name: 1}), ("stat", "")))
                first_hour = seen.get("first_hour") if seen else None
                values = {":at": {"S": stat.hour}, ":g": {"S": stat.group}}
                condition = "attribute_not_exists(converted_at) AND "
                if first_hour:
                    condition += "first_hour = :fh"
                    values[":fh"] = {"S": str(first_hour)}
                else:
                    condition += "attribute_not_exists(first_hour)"
                items.append(
                    (
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": seen_key,
                                "UpdateExpression": "SET converted_at = :at, #group = if_not_exists(#group, :g)",
                                "ConditionExpression": condition,
                                "ExpressionAttributeNames": {"#group": "group"},
                                "ExpressionAttributeValues": values,
                            }
                        },
                        SEEN_RACE,
                    )
                )
        items.append((self._add(stat.pk, stat.sk, counts), ("stat", "")))
        return items

    def _add(self, pk: str, sk: str, counts: dict[str, int]) -> dict[str, Any]:
        """ADD each of ``counts`` to the counter item (pk, sk)."""
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values = {f":c{i}": {"N": str(n)} for i, n in enumerate(counts.values())}
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(pk, sk),
                "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _transact(
        self,
        items: list[tuple[dict[str, Any], tuple[str, str]]],
        subject: Subject,
        stat: OfferStat,
        what: str,
        ttl_epoch: int | None = None,
    ) -> None:
        """``items`` (each tagged with what its failed condition means) plus ``stat``'s, in one
        transaction. Conflict if an item tagged ``exists`` failed its condition."""
        for attempt in range(STAT_ATTEMPTS):
            failed = self._write_tagged(items + self._stat_items(subject, stat, ttl_epoch), what)
            if not failed:
                return
            if ("exists", "") in failed:
                raise Conflict(f"{what}: already done")
            # a SEEN race: another worker recorded the shopper's first decision/conversion, so
            # the stat items are rebuilt from SEEN read again; a conflict: the same, later
            if not _retried(failed, attempt):
                raise RetryableError(f"{what}: transaction cancelled ({sorted(failed)})")
        raise RetryableError(f"{what}: kept conflicting with concurrent writes ({sorted(failed)})")

    def _write_tagged(
        self, tagged: list[tuple[dict[str, Any], tuple[str, str]]], what: str
    ) -> set[tuple[str, str]]:
        """Run the transaction; the tags of the items whose condition failed (empty: written)."""
        try:
            with translated(f"TransactWriteItems {what}"):
                self._client.transact_write_items(TransactItems=[item for item, _ in tagged])
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            codes = [c.get("Code", "None") for c in exc.response.get("CancellationReasons", [])]
            failed = {
                tagged[i][1] for i, c in enumerate(codes) if c == "ConditionalCheckFailed" and i < len(tagged)
            }
            if not failed:
                if "TransactionConflict" in codes:
                    return {TRANSACTION_CONFLICT}  # nothing written: not "already done"
                raise RetryableError(f"{what}: cancelled {codes}") from exc
            return failed
        return set()

    def _counter(
        self, pk: str, sk: str, limit: int | None, ttl: int | None, field: str = "n"
    ) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": key(pk, sk),
            "UpdateExpression": f"ADD {field} :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
        if ttl is not None:
            update["UpdateExpression"] += " SET #ttl = :ttl"
            update["ExpressionAttributeNames"] = {"#ttl": "ttl"}
            update["ExpressionAttributeValues"][":ttl"] = {"N": str(ttl)}
        if limit is not None:
            update["ConditionExpression"] = f"attribute_not_exists({field}) OR {field} < :limit"
            update["ExpressionAttributeValues"][":limit"] = {"N": str(limit)}
        return {"Update": update}

    def reserve(self, r: Reservation) -> None:
        pk = subject_pk(r.subject)
        now_epoch = r.ttl_epoch - 30 * DAY  # the ledger keeps offers 30 days
        items: list[tuple[dict[str, Any], tuple[str, str]]] = [
            (
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": serialize(
                            {"PK": pk, "SK": f"OFFER#{r.offer_id}", "ttl": r.ttl_epoch, **r.record}
                        ),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                ("exists", ""),
            ),
        ]
        code = r.record.get("code")
        if code:
            items.append(
                (
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize(
                                {
                                    "PK": f"REDEEM#{code}",
                                    "SK": "META",
                                    "subject": pk,
                                    "offer_id": r.offer_id,
                                    "ttl": r.ttl_epoch,
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    ("exists", ""),
                )
            )
        items.append(
            (
                self._counter(pk, f"CAP#day#{r.local_day}", r.global_daily_cap, now_epoch + 3 * DAY),
                ("frequency_cap", "user"),
            )
        )
        if r.campaign_daily_cap is not None:
            items.append(
                (
                    self._counter(
                        pk,
                        f"CAP#c#{r.campaign_id}#day#{r.local_day}",
                        r.campaign_daily_cap,
                        now_epoch + 3 * DAY,
                    ),
                    ("frequency_cap", "campaign"),
                )
            )
        if r.campaign_weekly_cap is not None:
            items.append(
                (
                    self._counter(
                        pk,
                        f"CAP#c#{r.campaign_id}#week#{r.local_week}",
                        r.campaign_weekly_cap,
                        now_epoch + 10 * DAY,
                    ),
                    ("frequency_cap", "campaign"),
                )
            )
        last: dict[str, Any] = {
            "TableName": self._table,
            "Key": key(pk, "CAP#last"),
            "UpdateExpression": "SET #at = :now, #ttl = :ttl",
            "ExpressionAttributeNames": {"#at": "at", "#ttl": "ttl"},
            "ExpressionAttributeValues": {":now": {"S": r.now_iso}, ":ttl": {"N": str(now_epoch + 30 * DAY)}},
        }
        if r.min_gap_since_iso is not None:
            last["ConditionExpression"] = "attribute_not_exists(#at) OR #at <= :since"
            last["ExpressionAttributeValues"][":since"] = {"S": r.min_gap_since_iso}
        items.append(({"Update": last}, ("min_gap", "user")))
        if r.visit_key is not None:
            items.append(
                (
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize(
                                {
                                    "PK": pk,
                                    "SK": f"CAP#visit#{r.visit_key}",
                                    "offer_id": r.offer_id,
                                    "ttl": now_epoch + 2 * DAY,
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    ("one_per_visit", "user"),
                )
            )
        if r.budget is not None:
            items.append(
                (
                    self._counter(f"CAMPAIGN#{r.campaign_id}", "BUDGET", r.budget, None, field="used"),
                    ("budget_exhausted", "campaign"),
                )
            )
        for attempt in range(STAT_ATTEMPTS):
            tagged = items + (self._stat_items(r.subject, r.stat, r.ttl_epoch) if r.stat else [])
            failed = self._write_tagged(tagged, f"reserve offer {r.offer_id}")
            if not failed:
                return
            for reason, scope in PRECEDENCE:
                if (reason, scope) in failed:
                    if reason == "exists":
                        raise Conflict(f"offer {r.offer_id} already decided")
                    raise CapReached(reason, scope)
            if not _retried(failed, attempt):
                raise RetryableError(f"offer {r.offer_id}: reservation cancelled ({sorted(failed)})")
        raise RetryableError(
            f"offer {r.offer_id}: kept conflicting with concurrent writes ({sorted(failed)})"
        )

    def _update(self, request: dict[str, Any], subject: Subject, stat: OfferStat | None, what: str) -> None:
        """One conditional UpdateItem on the ledger, with ``stat`` in a transaction if given."""
        if stat is None:
            with translated(f"UpdateItem {what}"):
                self._client.update_item(**request)
            return
        self._transact([({"Update": request}, ("exists", ""))], subject, stat, what)

    def transition(
        self,
        subject: Subject,
        offer_id: str,
        from_status: str,
        to_status: str,
        fields: dict[str, Any],
        stat: OfferStat | None = None,
    ) -> None:
        names = {"#status": "status", **{f"#f{i}": name for i, name in enumerate(fields)}}
        values = serialize(
            {
                ":from": from_status,
                ":to": to_status,
                **{f":f{i}": value for i, value in enumerate(fields.values())},
            }
        )
        sets = ["#status = :to", *[f"#f{i} = :f{i}" for i in range(len(fields))]]
        request = {
            "TableName": self._table,
            "Key": key(subject_pk(subject), f"OFFER#{offer_id}"),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "#status = :from",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        self._update(request, subject, stat, "offer")

    def mark_first(
        self, subject: Subject, offer_id: str, field: str, at: str, stat: OfferStat | None = None
    ) -> None:
        engaged = stat is not None and "engaged" in stat.metrics
        sets = ["#field = :at"] + (["engaged_at = :at"] if engaged else [])
        condition = "attribute_exists(PK) AND attribute_not_exists(#field)"
        if engaged:
            condition += " AND attribute_not_exists(engaged_at)"
        request = {
            "TableName": self._table,
            "Key": key(subject_pk(subject), f"OFFER#{offer_id}"),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#field": field},
            "ExpressionAttributeValues": {":at": {"S": at}},
        }
        self._update(request, subject, stat, f"offer {field}")

    def mark_converted(
        self,
        subject: Subject,
        offer_id: str,
        field: str,
        at: str,
        statuses: tuple[str, ...],
        by: str = "",
        stat: OfferStat | None = None,
    ) -> None:
        values = serialize({":at": at, ":by": by, **{f":s{i}": status for i, status in enumerate(statuses)}})
        request = {
            "TableName": self._table,
            "Key": key(subject_pk(subject), f"OFFER#{offer_id}"),
            "UpdateExpression": "SET #field = :at, conversion_by = :by",
            "ConditionExpression": (
                f"#status IN ({', '.join(f':s{i}' for i in range(len(statuses)))}) "
                "AND attribute_not_exists(#field) AND valid_until >= :at"
            ),
            "ExpressionAttributeNames": {"#field": field, "#status": "status"},
            "ExpressionAttributeValues": values,
        }
        self._update(request, subject, stat, "offer conversion")

    def find_by_code(self, code: str) -> tuple[Subject, str] | None:
        with translated("GetItem redeem"):
            response = self._client.get_item(TableName=self._table, Key=key(f"REDEEM#{code}", "META"))
        item = response.get("Item")
        if not item:
            return None
        data = deserialize(item)
        return _subject_from_pk(data["subject"]), data["offer_id"]

    def list_for(self, subject: Subject) -> list[dict[str, Any]]:
        return _query(self._client, self._table, subject_pk(subject), "OFFER#")


def _query(client: DynamoDBClient, table: str, pk: str, prefix: str) -> list[dict[str, Any]]:
    return [
        deserialize(i)
        for page in query_pages(client, table, pk, prefix=prefix, operation=f"Query {prefix}")
        for i in page
    ]


class DynamoDBDevices:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put(self, subject: Subject, device: Device) -> None:
        item = {
            "PK": subject_pk(subject),
            "SK": f"DEVICE#{device.token_hash}",
            "endpoint_arn": device.endpoint_arn,
            "platform": device.platform,
            "token_hash": device.token_hash,
            "enabled": device.enabled,
            "updated_at": device.updated_at,
        }
        with translated("PutItem device"):
            self._client.put_item(TableName=self._table, Item=serialize(item))

    def enabled(self, subject: Subject) -> list[Device]:
        rows = _query(self._client, self._table, subject_pk(subject), "DEVICE#")
        return [
            Device(
                r["endpoint_arn"],
                r["platform"],
                r["token_hash"],
                bool(r.get("enabled")),
                r.get("updated_at", ""),
            )
            for r in rows
            if r.get("enabled")
        ]

    def disable(self, subject: Subject, token_hash: str) -> None:
        with translated("UpdateItem device"):
            self._client.update_item(
                TableName=self._table,
                Key=key(subject_pk(subject), f"DEVICE#{token_hash}"),
                UpdateExpression="SET enabled = :f",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":f": {"BOOL": False}},
            )


class DynamoDBAddressBook:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def suppression(self, email: str) -> str | None:
        with translated("GetItem address"):
            response = self._client.get_item(
                TableName=self._table, Key=key(f"EMAIL#{address_hash(email)}", "META")
            )
        item = response.get("Item")
        return deserialize(item).get("suppressed") if item else None

    def suppress(self, email: str, reason: str, at: str) -> None:
        item = {"PK": f"EMAIL#{address_hash(email)}", "SK": "META", "suppressed": reason, "at": at}
        with translated("PutItem address"):
            self._client.put_item(TableName=self._table, Item=serialize(item))


class DynamoDBCampaigns:
    """All campaigns in one partition (``CAMPAIGNS``): listing them is one paged Query, no
    scan and no index, and the worker caches the result."""

    PK = "CAMPAIGNS"

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, campaign_id: str) -> Campaign | None:
        with translated("GetItem campaign"):
            response = self._client.get_item(
                TableName=self._table, Key=key(self.PK, f"CAMPAIGN#{campaign_id}"), ConsistentRead=True
            )
        item = response.get("Item")
        return campaign_from_dict(json.loads(deserialize(item)["data"])) if item else None

    def put(self, campaign: Campaign, expected_updated_at: str | None) -> None:
        item = {
            "PK": self.PK,
            "SK": f"CAMPAIGN#{campaign.id}",
            "status": campaign.status,
            "updated_at": campaign.updated_at,
            "data": json.dumps(campaign.as_dict()),
        }
        request: dict[str, Any] = {"TableName": self._table, "Item": serialize(item)}
        if expected_updated_at is None:
            request["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            request["ConditionExpression"] = "updated_at = :expected"
            request["ExpressionAttributeValues"] = {":expected": {"S": expected_updated_at}}
        with translated("PutItem campaign"):
            self._client.put_item(**request)

    def list(self) -> list[Campaign]:
        rows = _query(self._client, self._table, self.PK, "CAMPAIGN#")
        return [campaign_from_dict(json.loads(r["data"])) for r in rows]

    def budget_used(self, campaign_id: str) -> int:
        with translated("GetItem budget"):
            response = self._client.get_item(
                TableName=self._table, Key=key(f"CAMPAIGN#{campaign_id}", "BUDGET")
            )
        item = response.get("Item")
        return int(deserialize(item).get("used", 0)) if item else 0


class DynamoDBSmsBudget:
    """The SMS spend ceiling: at most ``max_per_day`` SMS per UTC day (``MM_SMS_DAILY_BUDGET_USD``
    divided by ``MM_SMS_MAX_PRICE_USD``, the most SNS may charge for one), counted atomically in
    ``SMSBUDGET#{YYYY-MM-DD}``/``COUNT`` before each send. A send that then fails still counts:
    the ceiling errs on the side of spending less."""

    def __init__(self, client: DynamoDBClient, table_name: str, max_per_day: int) -> None:
        self._client = client
        self._table = table_name
        self.max_per_day = max_per_day

    def take(self, day: str, ttl_epoch: int) -> bool:
        """One SMS of ``day``'s budget; False (nothing taken) when it is spent."""
        try:
            with translated("UpdateItem sms budget"):
                self._client.update_item(
                    TableName=self._table,
                    Key=key(f"SMSBUDGET#{day}", "COUNT"),
                    UpdateExpression="ADD sent :one SET #ttl = :ttl",
                    ConditionExpression="attribute_not_exists(sent) OR sent < :limit",
                    ExpressionAttributeNames={"#ttl": "ttl"},
                    ExpressionAttributeValues={
                        ":one": {"N": "1"},
                        ":limit": {"N": str(self.max_per_day)},
                        ":ttl": {"N": str(ttl_epoch)},
                    },
                )
        except Conflict:
            return False
        return True
