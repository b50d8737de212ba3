"""Typed settings, read once from the environment; fails fast naming every missing variable.

Owns the meaning of every ``MM_*`` variable. Imports nothing from AWS.
"""

from __future__ import annotations

import math
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
DEMO_VIDEO_WEBHOOK_SECRET = "local-only-video-webhook-secret-not-a-secret"


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
    # Exactly once: how long, and how many, applied message ids a profile remembers
    # (chalicelib/domain/dedupe.py); 4x SQS's redelivery span (180 s visibility x 5 receives).
    dedupe_window: timedelta = timedelta(minutes=60)
    dedupe_max_ids: int = 256
    region: str = "us-east-1"
    # Offers and delivery
    token_signing_key: bytes = b""  # unsubscribe links and redemption codes
    email_sender: str | None = None
    ses_configuration_set: str | None = None
    apns_platform_app_arn: str | None = None
    fcm_platform_app_arn: str | None = None
    sms_sender_id: str | None = None
    sms_max_price_usd: float = 0.5
    sms_type: str = "Promotional"
    default_timezone: str = "UTC"
    quiet_hours: tuple[str, str] = ("21:00", "08:00")
    global_daily_cap: int = 3
    # QR codes
    qr_allowed_domains: tuple[str, ...] = ()  # destinations must be on one of these (or a subdomain)
    qr_scan_dedupe_seconds: int = 300  # repeat scans of one code by one visitor within this count once
    qr_destination_template: str | None = None  # "https://shop.example.com/p/{product_id}"
    # Ingest rate limits, per warm container (0 = off); SMS spend ceiling per UTC day (0 = none)
    rate_limit_per_key_per_second: float = 200.0
    rate_limit_per_device_per_minute: float = 300.0
    sms_daily_budget_usd: float = 0.0
    # Geofences (issue 4)
    max_travel_kmh: float = 300.0  # faster than this since the last position: impossible_travel
    fence_cache_ttl_seconds: float = 300.0  # a warm worker re-reads a geohash cell's fences after this
    # Videos: the video platform's webhook signing secret (empty: the webhook refuses everything)
    video_webhook_secret: bytes = b""

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
            if not math.isfinite(value):
                problems.append(f"{name} must be a finite number, got {raw!r}")
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
        dedupe_minutes = number("MM_DEDUPE_WINDOW_MINUTES", 60, 15)
        dedupe_max_ids = number("MM_DEDUPE_MAX_IDS", 256, 16)
        token_key = required("MM_TOKEN_SIGNING_KEY")
        if token_key and len(token_key) < 16:
            problems.append("MM_TOKEN_SIGNING_KEY must be at least 16 characters")
        default_tz = env.get("MM_DEFAULT_TIMEZONE", "").strip() or "UTC"
        if not _valid_zone(default_tz):
            problems.append(f"MM_DEFAULT_TIMEZONE is not an IANA time zone: {default_tz!r}")
        quiet = env.get("MM_QUIET_HOURS", "").strip() or "21:00-08:00"
        quiet_hours = _parse_window(quiet)
        if quiet_hours is None:
            problems.append(f"MM_QUIET_HOURS must look like 21:00-08:00, got {quiet!r}")
        sms_type = env.get("MM_SMS_TYPE", "").strip() or "Promotional"
        if sms_type not in ("Promotional", "Transactional"):
            problems.append(f"MM_SMS_TYPE must be Promotional or Transactional, got {sms_type!r}")
        sms_price = number("MM_SMS_MAX_PRICE_USD", 0.5, 0.0)
        daily_cap = number("MM_GLOBAL_DAILY_CAP", 3, 0)
        allowed_domains = _parse_domains(env.get("MM_QR_ALLOWED_DOMAINS", ""), problems)
        dedupe_seconds = number("MM_QR_SCAN_DEDUPE_SECONDS", 300, 0)
        if dedupe_seconds > 86_400:
            problems.append(f"MM_QR_SCAN_DEDUPE_SECONDS must be at most 86400, got {dedupe_seconds:g}")
        template = _optional(env, "MM_QR_DESTINATION_TEMPLATE")
        if template and (not template.startswith("https://") or "{product_id}" not in template):
            problems.append(
                f"MM_QR_DESTINATION_TEMPLATE must be an https URL containing {{product_id}}, got {template!r}"
            )
        max_travel = number("MM_MAX_TRAVEL_KMH", 300, 1)
        fence_ttl = number("MM_FENCE_CACHE_TTL_SECONDS", 300, 0)
        per_key = number("MM_RATE_LIMIT_PER_KEY_PER_SECOND", 200, 0)
        per_device = number("MM_RATE_LIMIT_PER_DEVICE_PER_MINUTE", 300, 0)
        sms_budget = number("MM_SMS_DAILY_BUDGET_USD", 0, 0)
        webhook_secret = env.get("MM_VIDEO_WEBHOOK_SECRET", "").strip()
        if webhook_secret and len(webhook_secret) < 16:
            problems.append("MM_VIDEO_WEBHOOK_SECRET must be at least 16 characters")
        if stage in DEPLOYED_STAGES and webhook_secret == DEMO_VIDEO_WEBHOOK_SECRET:
            problems.append("MM_VIDEO_WEBHOOK_SECRET is the local demo value; set a real one in SSM")
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
            dedupe_window=timedelta(minutes=dedupe_minutes),
            dedupe_max_ids=int(dedupe_max_ids),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            token_signing_key=token_key.encode(),
            email_sender=_optional(env, "MM_EMAIL_SENDER"),
            ses_configuration_set=_optional(env, "MM_SES_CONFIGURATION_SET"),
            apns_platform_app_arn=_optional(env, "MM_APNS_PLATFORM_APP_ARN"),
            fcm_platform_app_arn=_optional(env, "MM_FCM_PLATFORM_APP_ARN"),
            sms_sender_id=_optional(env, "MM_SMS_SENDER_ID"),
            sms_max_price_usd=sms_price,
            sms_type=sms_type,
            default_timezone=default_tz,
            quiet_hours=quiet_hours or ("21:00", "08:00"),
            global_daily_cap=int(daily_cap),
            qr_allowed_domains=allowed_domains,
            qr_scan_dedupe_seconds=int(dedupe_seconds),
            qr_destination_template=template,
            max_travel_kmh=max_travel,
            fence_cache_ttl_seconds=fence_ttl,
            rate_limit_per_key_per_second=per_key,
            rate_limit_per_device_per_minute=per_device,
            sms_daily_budget_usd=sms_budget,
            video_webhook_secret=webhook_secret.encode(),
        )


def _optional(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _valid_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


def _parse_window(raw: str) -> tuple[str, str] | None:
    """``"21:00-08:00"`` -> ("21:00", "08:00"); None if malformed."""
    import re

    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)", raw)
    if not match:
        return None
    return f"{match[1]}:{match[2]}", f"{match[3]}:{match[4]}"


def _parse_domains(raw: str, problems: list[str]) -> tuple[str, ...]:
    """``"shop.example.com, example.org"``: lowercase host names; each allows itself and its
    subdomains (a leading ``*.`` is accepted and means the same). No schemes, paths or ports."""
    import re

    domains: list[str] = []
    for part in filter(None, (p.strip().lower() for p in raw.split(","))):
        name = part.removeprefix("*.").rstrip(".")
        labels = name.split(".")
        if len(labels) < 2 or not all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", x) for x in labels):
            problems.append(
                f"MM_QR_ALLOWED_DOMAINS entries must be host names like shop.example.com, got {part!r}"
            )
            continue
        if name not in domains:
            domains.append(name)
    return tuple(domains)


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
        if kid in keys:
            problems.append(f"MM_QR_SIGNING_KEYS lists key {kid} twice")
            continue
        keys[kid] = secret.encode()
        first = first or kid
    if raw and not keys and not any("MM_QR_SIGNING_KEYS" in p for p in problems):
        problems.append("MM_QR_SIGNING_KEYS has no key; expected e.g. 'A:a-secret-of-16+-chars'")
    return keys, first
