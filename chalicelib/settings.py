"""Typed settings, read once from the environment; fails fast naming every missing variable.

Owns the meaning of every ``MM_*`` variable. Imports nothing from AWS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.domain.qr_token import ALPHABET

DEPLOYED_STAGES = ("dev", "prod")
STAGES = ("local", *DEPLOYED_STAGES)
# Keys published in the README for the local demo. A deployed stage refuses them.
DEMO_WRITE_KEY = "demo-write-key"
DEMO_ADMIN_TOKEN = "demo-admin-token"


class SettingsError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    stage: str
    table_name: str
    events_queue_name: str
    qr_signing_keys: dict[str, bytes]  # kid -> key; the first one signs
    qr_signing_kid: str
    events_queue_url: str | None = None  # resolved from the name (GetQueueUrl, once) if unset
    public_base_url: str | None = None
    admin_token: str | None = None  # local stage only; deployed stages use IAM (SigV4)
    affinity_half_life: timedelta = timedelta(days=7)
    message_ttl: timedelta = timedelta(days=30)
    cache_ttl_seconds: float = 60.0
    stat_shards: int = 4
    region: str = "us-east-1"

    @property
    def deployed(self) -> bool:
        return self.stage in DEPLOYED_STAGES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        problems: list[str] = []

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is not set")
            return value

        def number(name: str, default: float, minimum: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{name} must be a number, got {raw!r}")
                return default
            if value < minimum:
                problems.append(f"{name} must be at least {minimum:g}, got {raw!r}")
            return value

        stage = required("MM_STAGE")
        if stage and stage not in STAGES:
            problems.append(f"MM_STAGE must be one of {', '.join(STAGES)}, got {stage!r}")
        table_name = required("MM_TABLE_NAME")
        queue_name = required("MM_EVENTS_QUEUE_NAME")
        queue_url = env.get("MM_EVENTS_QUEUE_URL", "").strip() or None
        keys, kid = _parse_signing_keys(required("MM_QR_SIGNING_KEYS"), problems)
        admin_token = env.get("MM_ADMIN_TOKEN", "").strip() or None
        if stage == "local" and not admin_token:
            problems.append("MM_ADMIN_TOKEN is not set (the local stage authenticates /admin with it)")
        if stage in DEPLOYED_STAGES and admin_token:
            problems.append("MM_ADMIN_TOKEN must not be set in a deployed stage: /admin uses IAM")
        half_life_days = number("MM_AFFINITY_HALF_LIFE_DAYS", 7, 0.01)
        ttl_days = number("MM_MESSAGE_TTL_DAYS", 30, 1)
        cache_ttl = number("MM_CACHE_TTL_SECONDS", 60, 0)
        shards = number("MM_STAT_SHARDS", 4, 1)
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))
        return cls(
            stage=stage,
            table_name=table_name,
            events_queue_name=queue_name,
            events_queue_url=queue_url,
            qr_signing_keys=keys,
            qr_signing_kid=kid,
            public_base_url=(env.get("MM_PUBLIC_BASE_URL", "").strip().rstrip("/") or None),
            admin_token=admin_token,
            affinity_half_life=timedelta(days=half_life_days),
            message_ttl=timedelta(days=ttl_days),
            cache_ttl_seconds=cache_ttl,
            stat_shards=int(shards),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        )


def _parse_signing_keys(raw: str, problems: list[str]) -> tuple[dict[str, bytes], str]:
    """``"B:new-secret,A:old-secret"``: kid (one base32 character) and secret (>= 16 chars)."""
    keys: dict[str, bytes] = {}
    first = ""
    for part in filter(None, (p.strip() for p in raw.split(","))):
        kid, sep, secret = part.partition(":")
        kid = kid.strip().upper()
        if not sep or len(kid) != 1 or kid not in ALPHABET:
            problems.append("MM_QR_SIGNING_KEYS entries must look like 'A:secret' (kid A-Z or 2-7)")
            continue
        if len(secret) < 16:
            problems.append(f"MM_QR_SIGNING_KEYS key {kid} must be at least 16 characters")
            continue
        keys[kid] = secret.encode()
        first = first or kid
    return keys, first
