"""In-memory twins of the store and queue adapters, with the same semantics (conditional
writes, atomic commit, duplicate detection). For unit tests and benchmarks; no boto3."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from chalicelib.domain.errors import Conflict, DuplicateMessage
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
        self.markers: dict[tuple[Subject, str], dict[str, Any]] = {}
        self.counters: dict[tuple[str, str], dict[str, int]] = {}
        self.commits = 0

    def get_profile(self, subject: Subject) -> Profile | None:
        return self.profiles.get(subject)

    def get_alias(self, anonymous_id: str) -> str | None:
        return self.aliases.get(anonymous_id)

    def _check_version(self, profile: Profile) -> None:
        stored = self.profiles.get(profile.subject)
        if (stored.version if stored else 0) != profile.version:
            raise Conflict(f"profile {profile.subject} moved")

    def commit(self, plan: WritePlan) -> None:
        marker_key = (plan.marker.subject, plan.marker.message_id)
        if marker_key in self.markers:
            raise DuplicateMessage(plan.marker.message_id)
        self._check_version(plan.profile)
        if plan.merged_anonymous is not None:
            self._check_version(plan.merged_anonymous)
        if plan.alias is not None and plan.alias[0] in self.aliases:
            raise Conflict("alias exists")
        if plan.absent_alias is not None and plan.absent_alias in self.aliases:
            raise Conflict("alias appeared")
        if (
            plan.absent_anonymous_profile is not None
            and Subject.anon(plan.absent_anonymous_profile) in self.profiles
        ):
            raise Conflict("anonymous profile appeared")
        self.commits += 1
        self.markers[marker_key] = copy.deepcopy(plan.marker.record)
        self.profiles[plan.profile.subject] = _bumped(plan.profile)
        if plan.merged_anonymous is not None:
            self.profiles[plan.merged_anonymous.subject] = _bumped(plan.merged_anonymous)
        if plan.alias is not None:
            self.aliases[plan.alias[0]] = plan.alias[1]
        for increment in plan.counters:
            bucket = self.counters.setdefault((increment.scope, increment.hour), {})
            for name, n in increment.counts.items():
                bucket[name] = bucket.get(name, 0) + n

    def erase(self, subject: Subject) -> int:
        deleted = 0
        if self.profiles.pop(subject, None) is not None:
            deleted += 1
        for marker_key in [k for k in self.markers if k[0] == subject]:
            del self.markers[marker_key]
            deleted += 1
        if subject.kind == "anon" and self.aliases.pop(subject.id, None) is not None:
            deleted += 1
        return deleted

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
