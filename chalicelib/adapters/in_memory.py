"""In-memory twins of the store and queue adapters, with the same semantics (conditional
writes, atomic commit, duplicate detection). For unit tests and benchmarks; no boto3."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from chalicelib.domain.dedupe import moment_rows
from chalicelib.domain.distinct import Observation
from chalicelib.domain.errors import Conflict
from chalicelib.domain.ports import QueueMessage, WritePlan
from chalicelib.domain.profile import Profile, Subject
from chalicelib.domain.records import AppKey, QrCode


class InMemoryQueue:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.calls = 0

    def send(self, messages: Sequence[QueueMessage]) -> None:
        self.calls += 1
        self.messages.extend(m.body for m in messages)


class InMemoryAppKeys:
    def __init__(self) -> None:
        self.items: dict[str, AppKey] = {}
        self.reads = 0

    def find(self, key_hash: str) -> AppKey | None:
        self.reads += 1
        return self.items.get(key_hash)

    def put(self, app_key: AppKey) -> None:
        self.items[app_key.key_hash] = app_key


class InMemoryQrCodes:
    def __init__(self) -> None:
        self.items: dict[str, QrCode] = {}
        self.reads = 0

    def get(self, qr_id: str) -> QrCode | None:
        self.reads += 1
        return self.items.get(qr_id)

    def put(self, qr_code: QrCode) -> None:
        self.items[qr_code.qr_id] = qr_code


class InMemoryMomentStore:
    def __init__(self) -> None:
        self.profiles: dict[Subject, Profile] = {}
        self.aliases: dict[str, str] = {}
        self.counters: dict[tuple[str, str], dict[str, int]] = {}
        self.commits = 0
        self.reads = 0  # profile and alias reads (GetItem each when deployed)
        self.parked_messages: dict[tuple[Subject, str], dict[str, Any]] = {}

    def get_profile(self, subject: Subject, consistent: bool = True) -> Profile | None:
        self.reads += 1
        return self.profiles.get(subject)

    def get_alias(self, anonymous_id: str, consistent: bool = True) -> str | None:
        self.reads += 1
        return self.aliases.get(anonymous_id)

    @property
    def markers(self) -> dict[tuple[Subject, str], dict[str, Any]]:
        """The moment records the profiles hold, keyed as the idempotency markers were: by the
        identity in the envelope (``by``, else the profile's subject) and the message id."""
        out: dict[tuple[Subject, str], dict[str, Any]] = {}
        for subject, profile in self.profiles.items():
            for record in profile.recent_moments:
                kind, _, ident = str(record.get("by") or "").partition(":")
                keyed = Subject(kind, ident) if ident else subject
                row = {k: v for k, v in record.items() if k != "id"}
                out[(keyed, str(record.get("id")))] = {"profile": f"{subject.kind}:{subject.id}", **row}
        return out

    def park(self, subject: Subject, message_id: str, record: dict[str, Any], ttl_epoch: int) -> None:
        self.parked_messages[(subject, message_id)] = copy.deepcopy(record)

    def parked(self, subject: Subject, message_id: str) -> dict[str, Any] | None:
        found = self.parked_messages.get((subject, message_id))
        return copy.deepcopy(found) if found is not None else None

    def moment_record(self, subject: Subject, message_id: str) -> dict[str, Any] | None:
        profile = self.profiles.get(subject)
        if profile is None:
            return None
        return next((r for r in moment_rows(profile) if r["SK"] == f"MSG#{message_id}"), None)

    def _check_version(self, profile: Profile) -> None:
        stored = self.profiles.get(profile.subject)
        if (stored.version if stored else 0) != profile.version:
            raise Conflict(f"profile {profile.subject} moved")

    def get_many(
        self, subjects: Sequence[Subject], anonymous_ids: Sequence[str], consistent: bool = True
    ) -> tuple[dict[Subject, Profile | None], dict[str, str | None]]:
        return (
            {s: self.get_profile(s, consistent) for s in subjects},
            {a: self.get_alias(a, consistent) for a in anonymous_ids},
        )

    def commit(self, plan: WritePlan) -> None:
        for profile in plan.profiles:
            self._check_version(profile)
        if any(anonymous_id in self.aliases for anonymous_id, _ in plan.aliases):
            raise Conflict("alias exists")
        if any(a in self.aliases for a in plan.absent_aliases):
            raise Conflict("alias appeared")
        written = {p.subject for p in plan.profiles}
        for a in plan.absent_anonymous_profiles:
            if Subject.anon(a) not in written and Subject.anon(a) in self.profiles:
                raise Conflict("anonymous profile appeared")
        self.commits += 1
        for profile in plan.profiles:
            self.profiles[profile.subject] = _bumped(copy.deepcopy(profile))
        for anonymous_id, user_id in plan.aliases:
            self.aliases[anonymous_id] = user_id
        for increment in plan.counters:
            bucket = self.counters.setdefault((increment.scope, increment.hour), {})
            for name, n in increment.counts.items():
                bucket[name] = bucket.get(name, 0) + n

    def save_profile(self, profile: Profile) -> None:
        self._check_version(profile)
        self.profiles[profile.subject] = _bumped(profile)

    def erase(self, subject: Subject) -> int:
        deleted = 0
        profile = self.profiles.pop(subject, None)
        if profile is not None:
            deleted += 1 + len(profile.recent_moments)
        if subject.kind == "anon" and self.aliases.pop(subject.id, None) is not None:
            deleted += 1
        for parked in [k for k in self.parked_messages if k[0] == subject]:
            del self.parked_messages[parked]
            deleted += 1
        return deleted

    def items_of(self, subject: Subject) -> list[dict[str, Any]]:
        """The DynamoDB store's export view: the subject's profile, its moment records, alias."""
        pk = f"{'USER' if subject.kind == 'user' else 'ANON'}#{subject.id}"
        items: list[dict[str, Any]] = []
        profile = self.profiles.get(subject)
        if profile is not None:
            items.append({"PK": pk, "SK": "PROFILE", "traits": dict(profile.traits)})
            items.extend(moment_rows(profile))
        if subject.kind == "anon" and subject.id in self.aliases:
            items.append({"PK": pk, "SK": "ALIAS", "user_id": self.aliases[subject.id]})
        return items

    def totals(self, scope_prefix: str = "all#") -> dict[str, int]:
        """Counters summed over shards and hours (what a report would read)."""
        out: dict[str, int] = {}
        for (scope, _hour), counts in self.counters.items():
            if scope.startswith(scope_prefix):
                for name, n in counts.items():
                    out[name] = out.get(name, 0) + n
        return out


def _bumped(profile: Profile) -> Profile:
    from dataclasses import replace

    return replace(profile, version=profile.version + 1)


class InMemoryOfferLedger:
    """The ledger and cap reservation with DynamoDB's semantics: all conditions or nothing."""

    def __init__(self) -> None:
        self.records: dict[tuple[Subject, str], dict[str, Any]] = {}
        self.counters: dict[tuple[str, str], int] = {}
        self.last_at: dict[Subject, str] = {}
        self.visits: set[tuple[Subject, str]] = set()
        self.codes: dict[str, tuple[Subject, str]] = {}
        self.stats: dict[tuple[str, str], dict[str, int]] = {}  # (PK, SK) -> counter -> n
        self.seen: dict[tuple[Subject, str], dict[str, Any]] = {}  # (shopper, campaign) -> SEEN

    def get(self, subject: Subject, offer_id: str) -> dict[str, Any] | None:
        record = self.records.get((subject, offer_id))
        return copy.deepcopy(record) if record else None

    def _count(self, subject: Subject, stat: Any) -> None:
        """Add ``stat`` (an OfferStat) the way the DynamoDB ledger does, SEEN included."""
        if stat is None:
            return
        from chalicelib.domain.offer_stats import cohort_counter, seen_fields

        counts = stat.counts()
        seen = self.seen.get((subject, stat.campaign_id))
        if stat.first_decision and seen is None:
            self.seen[(subject, stat.campaign_id)] = seen_fields(stat)
            counts[stat.first_decision_name()] = counts.get(stat.first_decision_name(), 0) + 1
        elif stat.first_conversion and (seen is None or "converted_at" not in seen):
            cohort_pk, cohort_sk, name = cohort_counter(stat, seen)
            cohort = self.stats.setdefault((cohort_pk, cohort_sk), {})
            cohort[name] = cohort.get(name, 0) + 1
            self.seen.setdefault((subject, stat.campaign_id), {"group": stat.group})["converted_at"] = (
                stat.hour
            )
        item = self.stats.setdefault((stat.pk, stat.sk), {})
        for name, n in counts.items():
            item[name] = item.get(name, 0) + n

    def totals(self, campaign_id: str | None = None) -> dict[str, int]:
        """Every outcome counter added up (over hours, stores and campaigns unless given)."""
        out: dict[str, int] = {}
        for (pk, _sk), counts in self.stats.items():
            if campaign_id is None or pk.startswith(f"STAT#offers#{campaign_id}#s"):
                for name, n in counts.items():
                    out[name] = out.get(name, 0) + n
        return out

    def record(
        self, subject: Subject, offer_id: str, record: dict[str, Any], ttl_epoch: int, stat: Any = None
    ) -> None:
        if (subject, offer_id) in self.records:
            raise Conflict(f"offer {offer_id} exists")
        self.records[(subject, offer_id)] = copy.deepcopy(record)
        self._count(subject, stat)

    def reserve(self, r: Any) -> None:
        from chalicelib.adapters.dynamodb_offers import PRECEDENCE
        from chalicelib.domain.offers import CapReached

        pk = f"{r.subject.kind}:{r.subject.id}"
        checks: list[tuple[tuple[str, str], tuple[str, str] | None, int | None]] = [
            (("frequency_cap", "user"), (pk, f"day#{r.local_day}"), r.global_daily_cap),
        ]
        if r.campaign_daily_cap is not None:
            checks.append(
                (
                    ("frequency_cap", "campaign"),
                    (pk, f"c#{r.campaign_id}#day#{r.local_day}"),
                    r.campaign_daily_cap,
                )
            )
        if r.campaign_weekly_cap is not None:
            checks.append(
                (
                    ("frequency_cap", "campaign"),
                    (pk, f"c#{r.campaign_id}#week#{r.local_week}"),
                    r.campaign_weekly_cap,
                )
            )
        if r.budget is not None:
            checks.append(
                (("budget_exhausted", "campaign"), (f"campaign:{r.campaign_id}", "budget"), r.budget)
            )
        failed: set[tuple[str, str]] = set()
        if (r.subject, r.offer_id) in self.records or r.record.get("code") in self.codes:
            failed.add(("exists", ""))
        for guardrail, counter, limit in checks:
            if limit is not None and counter is not None and self.counters.get(counter, 0) >= limit:
                failed.add(guardrail)
        last = self.last_at.get(r.subject)
        if r.min_gap_since_iso is not None and last is not None and last > r.min_gap_since_iso:
            failed.add(("min_gap", "user"))
        if r.visit_key is not None and (r.subject, r.visit_key) in self.visits:
            failed.add(("one_per_visit", "user"))
        for reason, scope in PRECEDENCE:
            if (reason, scope) in failed:
                if reason == "exists":
                    raise Conflict(f"offer {r.offer_id} already decided")
                raise CapReached(reason, scope)
        self.records[(r.subject, r.offer_id)] = copy.deepcopy(r.record)
        if r.record.get("code"):
            self.codes[r.record["code"]] = (r.subject, r.offer_id)
        for _reason, counter, _limit in checks:
            if counter is not None:
                self.counters[counter] = self.counters.get(counter, 0) + 1
        self.last_at[r.subject] = r.now_iso
        if r.visit_key is not None:
            self.visits.add((r.subject, r.visit_key))
        self._count(r.subject, getattr(r, "stat", None))

    def transition(
        self,
        subject: Subject,
        offer_id: str,
        from_status: str,
        to_status: str,
        fields: dict[str, Any],
        stat: Any = None,
    ) -> None:
        record = self.records.get((subject, offer_id))
        if record is None or record.get("status") != from_status:
            raise Conflict(f"offer {offer_id} is not {from_status}")
        record.update(copy.deepcopy(fields))
        record["status"] = to_status
        self._count(subject, stat)

    def mark_first(self, subject: Subject, offer_id: str, field: str, at: str, stat: Any = None) -> None:
        record = self.records.get((subject, offer_id))
        engaged = stat is not None and "engaged" in stat.metrics
        if record is None or field in record or (engaged and "engaged_at" in record):
            raise Conflict(f"offer {offer_id}: {field} already set")
        record[field] = at
        if engaged:
            record["engaged_at"] = at
        self._count(subject, stat)

    def mark_converted(
        self,
        subject: Subject,
        offer_id: str,
        field: str,
        at: str,
        statuses: tuple[str, ...],
        by: str = "",
        stat: Any = None,
    ) -> None:
        record = self.records.get((subject, offer_id))
        if (
            record is None
            or record.get("status") not in statuses
            or field in record
            or record.get("valid_until", "") < at
        ):
            raise Conflict(f"offer {offer_id} cannot be converted")
        record[field] = at
        record["conversion_by"] = by
        self._count(subject, stat)

    def find_by_code(self, code: str) -> tuple[Subject, str] | None:
        return self.codes.get(code)

    def list_for(self, subject: Subject) -> list[dict[str, Any]]:
        return [copy.deepcopy(v) for (s, _), v in self.records.items() if s == subject]


class InMemoryDevices:
    def __init__(self) -> None:
        self.items: dict[tuple[Subject, str], Any] = {}

    def put(self, subject: Subject, device: Any) -> None:
        self.items[(subject, device.token_hash)] = device

    def enabled(self, subject: Subject) -> list[Any]:
        return [d for (s, _), d in self.items.items() if s == subject and d.enabled]

    def disable(self, subject: Subject, token_hash: str) -> None:
        from dataclasses import replace

        device = self.items.get((subject, token_hash))
        if device is not None:
            self.items[(subject, token_hash)] = replace(device, enabled=False)


class InMemoryAddressBook:
    def __init__(self) -> None:
        self.suppressed: dict[str, str] = {}

    def suppression(self, email: str) -> str | None:
        from chalicelib.domain.offers import address_hash

        return self.suppressed.get(address_hash(email))

    def suppress(self, email: str, reason: str, at: str) -> None:
        from chalicelib.domain.offers import address_hash

        self.suppressed[address_hash(email)] = reason


class InMemoryCampaigns:
    def __init__(self, campaigns: Sequence[Any] = ()) -> None:
        self.items: dict[str, Any] = {c.id: c for c in campaigns}
        self.lists = 0

    def get(self, campaign_id: str) -> Any:
        return self.items.get(campaign_id)

    def put(self, campaign: Any, expected_updated_at: str | None) -> None:
        current = self.items.get(campaign.id)
        if (current is None) != (expected_updated_at is None) or (
            current is not None and current.updated_at != expected_updated_at
        ):
            raise Conflict(f"campaign {campaign.id} changed")
        self.items[campaign.id] = campaign

    def list(self) -> list[Any]:
        self.lists += 1
        return list(self.items.values())


class RecordingSender:
    """A fake email/push/SMS sender that records what it sent and can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.fail_with: list[Exception] = []  # raised, one per send, before recording
        self.opted_out_numbers: set[str] = set()
        self.endpoints: dict[str, str] = {}

    def send(self, message: Any) -> str:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(message)
        return f"msg-{len(self.sent)}"

    def opted_out(self, phone: str) -> bool:
        return phone in self.opted_out_numbers

    def register(self, platform: str, token: str, user_data: str) -> str:
        return self.endpoints.setdefault(
            token, f"arn:aws:sns:us-east-1:123456789012:endpoint/{platform}/{len(self.endpoints)}"
        )


class InMemorySmsBudget:
    """The twin of ``DynamoDBSmsBudget``: at most ``max_per_day`` SMS per day."""

    def __init__(self, max_per_day: int) -> None:
        self.max_per_day = max_per_day
        self.sent: dict[str, int] = {}

    def take(self, day: str, ttl_epoch: int) -> bool:
        if self.sent.get(day, 0) >= self.max_per_day:
            return False
        self.sent[day] = self.sent.get(day, 0) + 1
        return True


class InMemoryDistinct:
    """adapters/dynamodb_distinct.DynamoDBDistinct in a dict."""

    def __init__(self) -> None:
        self.days: dict[str, dict[int, int]] = {}

    def raise_to(self, day: str, observation: Observation) -> bool:
        registers = self.days.setdefault(day, {})
        if registers.get(observation.index, 0) >= observation.value:
            return False
        registers[observation.index] = observation.value
        return True

    def sketches(self, days: Sequence[str]) -> dict[str, dict[int, int]]:
        return {day: dict(self.days.get(day, {})) for day in days}
