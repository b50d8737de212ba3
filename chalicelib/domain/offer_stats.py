"""Offer outcome counters: what happened to the offers moments produced, per campaign, store,
moment type and UTC hour, for treatment and holdout.

One item per (campaign, UTC hour, store) and shard: ``PK = STAT#offers#{campaign_id}#s{n}``,
``SK = {YYYYMMDDHH}#{store_id or "-"}``, where ``n`` is the shard (``OFFER_STAT_SHARDS``
partitions per campaign): for an offer with a store, a hash of the store id, so one store's
items always live in one shard and its sort keys never repeat across shards; for an offer with
no store (a video moment), a hash of the offer id, so a campaign's store-less outcomes spread
over every shard (the same ``{hour}#-`` sort key in up to ``OFFER_STAT_SHARDS`` partitions,
which readers add up). ``OFFER_STAT_SHARDS`` Queries (``SK BETWEEN``) read a campaign's range
for every store. Each counter is named ``{metric}|{moment_type}`` (the moment that
produced the offer), e.g. ``sent|geofence_entered`` or ``suppressed:quiet_hours|qr_scanned``.

Exactly once: every counter is incremented in the same DynamoDB transaction as the ledger
write that makes it true, and that write is conditional on the ledger record's state (it
does not exist yet / is still ``claimed`` / has no ``opened_at`` ...). A redelivered moment,
a retried send or a second click fails the condition, so it counts nothing.

Metrics, counted at the time the thing happened (the hour bucket of that time):

``decided``                 a ledger record was made: the moment was eligible for a campaign
                            (treatment + holdout; the funnel's "eligible" step)
``holdout``                 ... and the shopper is in the campaign's control group
``suppressed:{reason}``     a guardrail stopped it (at decision, or before a send or retry)
``sent``                    the provider accepted it (SES / SNS)
``failed``                  the provider refused it for good
``delivery_unknown``        a worker stopped between claiming and recording the send
``delivered``               SES reported delivery to the mailbox (email only; SNS push and SMS
                            report no per-message delivery to us)
``opened``                  first ``Offer Opened`` from an SDK
``clicked``                 first click: ``Offer Clicked`` from an SDK or the /c/ redirect
``engaged``                 first of opened or clicked (the engagement rate's numerator)
``redeemed``                first redemption of the offer's code (treatment only)
``converted:{group}``       the offer converted: redeemed, or an order attributed to it (last
                            touch); ``group`` is ``treatment`` or ``holdout``
``users:{group}``           the shopper's first decision for this campaign: distinct shoppers
                            per group (holdout assignment is per shopper and campaign)
``converters:{group}``      the shopper's first conversion for this campaign, counted in the
                            bucket of the shopper's FIRST DECISION (see below), not of the
                            conversion

``users`` and ``converters`` are exact per (shopper, campaign) and form cohorts: a
``SEEN#{campaign_id}`` item under the shopper (erased with the shopper) remembers the group
and the bucket (UTC hour, store, moment type, shard) of the first decision, and is stamped
``converted_at`` at the first conversion. ``users`` is counted in that first-decision bucket,
and so is ``converters``: the first conversion reads the bucket from SEEN in the same
conditional transaction that stamps it (``cohort_counter``). So the ``users`` and
``converters`` of any set of buckets are the same shoppers: those first reached there, and how
many of them have converted so far (at any later time). Lift over a range is therefore the
cohort of shoppers first reached in the range; ``converters <= users`` always holds.

Existing data: SEEN items written before the bucket was stored (no ``first_hour``), and
conversions of shoppers without a SEEN item, count the converter in the conversion's own
bucket, as this module did before; for those shoppers the first decision's bucket is unknown.

Write ceiling: a DynamoDB partition (and so any one item) takes about 1,000 write units a
second; a transactional update of a counter item (1-2 KB once it holds a few dozen counters)
costs 2-4 of them, so one item takes roughly 250-500 outcome updates a second. Hence:
one store of one campaign (one item per hour): about 250-500 outcomes a second; store-less
outcomes of one campaign: that times ``OFFER_STAT_SHARDS`` (4), about 1,000-2,000 a second;
one campaign overall: its four partitions, about 1,000-2,000 a second (more once DynamoDB
splits a hot partition). Beyond that a counter write is throttled and retried (the worker's
message comes back), never lost or doubled. The shard count is fixed (not a setting):
changing it would hide the counters already written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from chalicelib.domain.clock import hour_bucket

NO_STORE = "-"
OFFER_STAT_SHARDS = 4


def stat_shard(store_id: str | None, spread_by: str | None = None) -> int:
    """The shard of a store's counters; without a store, of ``spread_by`` (an offer id) if
    given, so store-less offers spread over the shards."""
    digest = hashlib.blake2b((store_id or spread_by or NO_STORE).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % OFFER_STAT_SHARDS


def stat_pk(campaign_id: str, shard: int) -> str:
    return f"STAT#offers#{campaign_id}#s{shard}"


def stat_pks(campaign_id: str) -> list[str]:
    """Every partition of a campaign's outcome counters (a reader queries them all)."""
    return [stat_pk(campaign_id, n) for n in range(OFFER_STAT_SHARDS)]


def stat_sk(hour: str, store_id: str | None) -> str:
    return f"{hour}#{store_id or NO_STORE}"


def counter_name(metric: str, moment_type: str | None) -> str:
    return f"{metric}|{moment_type or '-'}"


def split_name(name: str) -> tuple[str, str]:
    """``sent|qr_scanned`` -> ("sent", "qr_scanned")."""
    metric, _, moment = name.rpartition("|")
    return (metric, moment) if metric else (name, "-")


def group_of(record: Mapping[str, object]) -> str:
    return "holdout" if record.get("status") == "holdout" else "treatment"


@dataclass(frozen=True)
class OfferStat:
    """Counts to add to one offer-counter item, in the same transaction as a ledger write.

    ``first_decision`` / ``first_conversion``: also count ``users:{group}`` /
    ``converters:{group}`` if this is the shopper's first decision / conversion for the
    campaign (the adapter checks and records that in ``SEEN#{campaign_id}``)."""

    campaign_id: str
    hour: str
    store_id: str | None
    moment_type: str | None
    metrics: tuple[str, ...]
    group: str = "treatment"
    first_decision: bool = False
    first_conversion: bool = False
    extra: dict[str, int] = field(default_factory=dict)  # counter name -> n, added as is
    offer_id: str | None = None  # spreads a store-less offer's counters over the shards

    @property
    def shard(self) -> int:
        return stat_shard(self.store_id, self.offer_id)

    @property
    def pk(self) -> str:
        return stat_pk(self.campaign_id, self.shard)

    @property
    def sk(self) -> str:
        return stat_sk(self.hour, self.store_id)

    def counts(self) -> dict[str, int]:
        out = dict(self.extra)
        for metric in self.metrics:
            name = counter_name(metric, self.moment_type)
            out[name] = out.get(name, 0) + 1
        return out

    def with_metrics(self, *metrics: str) -> OfferStat:
        return replace(self, metrics=(*self.metrics, *metrics))

    def first_decision_name(self) -> str:
        return counter_name(f"users:{self.group}", self.moment_type)

    def first_conversion_name(self) -> str:
        return counter_name(f"converters:{self.group}", self.moment_type)


def seen_fields(stat: OfferStat) -> dict[str, Any]:
    """What ``SEEN#{campaign_id}`` remembers of a shopper's first decision (``stat``): the
    group and the bucket ``users:{group}`` was counted in, where the converter will be too."""
    return {
        "group": stat.group,
        "first_hour": stat.hour,
        "first_store": stat.store_id or NO_STORE,
        "first_moment": stat.moment_type or "-",
        "first_shard": stat.shard,
    }


def cohort_counter(stat: OfferStat, seen: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """(PK, SK, counter name) of the ``converters:{group}`` counter that the shopper's first
    conversion (``stat``) adds 1 to: the bucket of their first decision, read from ``seen``
    (their ``SEEN#{campaign_id}`` item). An old SEEN item without ``first_hour``, or none at
    all, falls back to the conversion's own bucket (the behaviour before cohorts; the first
    decision's bucket was not kept for those shoppers)."""
    if not seen or not seen.get("first_hour"):
        return stat.pk, stat.sk, stat.first_conversion_name()
    group = str(seen.get("group") or stat.group)
    store = str(seen.get("first_store") or NO_STORE)
    moment = str(seen.get("first_moment") or "-")
    shard = int(seen.get("first_shard", stat_shard(None if store == NO_STORE else store)))
    return (
        stat_pk(stat.campaign_id, shard),
        stat_sk(str(seen["first_hour"]), None if store == NO_STORE else store),
        counter_name(f"converters:{group}", None if moment == "-" else moment),
    )


def stat_for(record: dict[str, object], at: datetime, *metrics: str) -> OfferStat | None:
    """The counts for ``metrics`` of the offer ``record`` (a ledger record) at ``at``; None if
    the record names no campaign (nothing to attribute it to)."""
    campaign_id = record.get("campaign_id")
    if not campaign_id:
        return None
    store = record.get("store_id")
    moment = record.get("moment")
    offer_id = record.get("offer_id")
    return OfferStat(
        str(campaign_id),
        hour_bucket(at),
        str(store) if store else None,
        str(moment) if moment else None,
        tuple(metrics),
        group_of(record),
        offer_id=str(offer_id) if offer_id else None,
    )


def decision_stat(record: dict[str, object], at: datetime) -> OfferStat | None:
    """A new ledger record (claimed, suppressed or holdout): eligible, its group, and why not."""
    status = record.get("status")
    metrics = ["decided"]
    if status == "holdout":
        metrics.append("holdout")
    elif status == "suppressed":
        metrics.append(f"suppressed:{record.get('reason') or 'unknown'}")
    stat = stat_for(record, at, *metrics)
    return None if stat is None else replace(stat, first_decision=True)


def conversion_stat(record: dict[str, object], at: datetime, redeemed: bool) -> OfferStat | None:
    metrics = [f"converted:{group_of(record)}"]
    if redeemed:
        metrics.insert(0, "redeemed")
    stat = stat_for(record, at, *metrics)
    return None if stat is None else replace(stat, first_conversion=True)
