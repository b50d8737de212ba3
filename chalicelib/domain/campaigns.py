"""Campaigns: what triggers an offer, for whom, what it says, on which channels, how often.

``parse_campaign`` turns an admin API body into a validated ``Campaign``, naming every bad
field (``trigger.store_ids[2]``, ``offer.sms.text``...). Campaigns are plain frozen data; the
engine decides with them, the adapters store them as JSON.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.records import is_safe_destination
from chalicelib.domain.templates import unknown_placeholders

TRIGGER_MOMENTS = (
    "qr_scanned",
    "geofence_entered",
    "geofence_dwelled",
    "video_milestone",
    "video_completed",
    "product_viewed",
)
# How long a moment stays worth an offer, by moment type (campaign ``freshness_minutes``).
DEFAULT_FRESHNESS_MINUTES = {
    "qr_scanned": 30,
    "geofence_entered": 10,
    "geofence_dwelled": 10,
    "video_milestone": 60,
    "video_completed": 60,
    "product_viewed": 60,
}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STATUSES = ("active", "paused", "archived")
CHANNELS = ("push", "sms", "email")
SMS_LIMIT = 160
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    category: str | None = None


@dataclass(frozen=True)
class Trigger:
    moment: str
    store_ids: tuple[str, ...] = ()
    product_ids: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    video_ids: tuple[str, ...] = ()
    min_percent: float | None = None
    min_affinity_category: str | None = None
    min_affinity_score: float | None = None
    local_time_windows: tuple[tuple[str, str], ...] = ()  # ("HH:MM", "HH:MM"), may wrap midnight
    days_of_week: tuple[str, ...] = ()
    starts_at: str | None = None  # ISO-8601 UTC
    ends_at: str | None = None


@dataclass(frozen=True)
class Content:
    """Templates per channel; empty ones are derived from the offer's title and body."""

    email_subject: str = ""
    email_html: str = ""
    email_text: str = ""
    push_title: str = ""
    push_body: str = ""
    sms_text: str = ""


@dataclass(frozen=True)
class Offer:
    title: str
    body: str
    discount: str | None = None
    deep_link: str | None = None
    valid_minutes: int = 60
    products: tuple[Product, ...] = ()
    content: Content = field(default_factory=Content)


@dataclass(frozen=True)
class Caps:
    per_user_per_day: int | None = None
    per_user_per_week: int | None = None
    budget: int | None = None  # most offers this campaign may send in total
    min_gap_minutes: int = 0  # since the user's last offer from any campaign


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    trigger: Trigger
    offer: Offer
    status: str = "active"
    channels: tuple[str, ...] = CHANNELS
    caps: Caps = field(default_factory=Caps)
    priority: int = 50
    holdout_percent: float = 0.0
    freshness_minutes: int = 10
    created_at: str = ""
    updated_at: str = ""

    @property
    def active(self) -> bool:
        return self.status == "active"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Reader:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def obj(self, data: Any, path: str, *, required: bool = False) -> dict[str, Any]:
        if data is None:
            if required:
                self.fail(path, "is required")
            return {}
        if not isinstance(data, dict):
            self.fail(path, "must be an object")
            return {}
        return data

    def text(
        self,
        data: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        max_len: int = 200,
        template: bool = False,
    ) -> str | None:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.fail(path, "is required")
            return None
        if not isinstance(value, str):
            self.fail(path, "must be a string")
            return None
        if len(value) > max_len:
            self.fail(path, f"must be at most {max_len} characters")
            return None
        if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
            self.fail(path, "must not contain control characters")
            return None
        if template:
            unknown = unknown_placeholders(value)
            if unknown:
                self.fail(path, f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}")
                return None
        return value

    def integer(
        self,
        data: dict[str, Any],
        key: str,
        path: str,
        *,
        minimum: int,
        maximum: int,
        default: int | None = None,
    ) -> int | None:
        value = data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "must be a whole number")
            return default
        if not minimum <= value <= maximum:
            self.fail(path, f"must be between {minimum} and {maximum}")
            return default
        return value

    def number(
        self, data: dict[str, Any], key: str, path: str, *, minimum: float, maximum: float
    ) -> float | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, "must be a number")
            return None
        if not minimum <= value <= maximum:
            self.fail(path, f"must be between {minimum:g} and {maximum:g}")
            return None
        return float(value)

    def strings(
        self,
        data: dict[str, Any],
        key: str,
        path: str,
        *,
        max_items: int = 1000,
        choices: tuple[str, ...] | None = None,
    ) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or len(value) > max_items:
            self.fail(path, f"must be a list of at most {max_items} strings")
            return ()
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item or len(item) > 128:
                self.fail(f"{path}[{i}]", "must be a non-empty string of at most 128 characters")
            elif choices is not None and item not in choices:
                self.fail(f"{path}[{i}]", f"must be one of {', '.join(choices)}")
            else:
                out.append(item)
        return tuple(dict.fromkeys(out))

    def timestamp(self, data: dict[str, Any], key: str, path: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(path, "must be an ISO-8601 date-time with a time zone")
            return None
        if parsed.tzinfo is None:
            self.fail(path, "must include a time zone, e.g. 2026-12-01T00:00:00Z")
            return None
        from chalicelib.domain.clock import iso

        return iso(parsed)


def _trigger(r: _Reader, data: dict[str, Any]) -> Trigger | None:
    moment = data.get("moment")
    if moment not in TRIGGER_MOMENTS:
        r.fail("trigger.moment", f"must be one of {', '.join(TRIGGER_MOMENTS)}")
    windows = []
    raw_windows = data.get("local_time_windows") or []
    if not isinstance(raw_windows, list):
        r.fail("trigger.local_time_windows", 'must be a list like [{"start": "07:00", "end": "11:00"}]')
        raw_windows = []
    for i, window in enumerate(raw_windows):
        if not isinstance(window, dict) or not all(
            isinstance(window.get(k), str) and _HHMM.match(window[k]) for k in ("start", "end")
        ):
            r.fail(f"trigger.local_time_windows[{i}]", 'must be {"start": "HH:MM", "end": "HH:MM"}')
        else:
            windows.append((window["start"], window["end"]))
    affinity = r.obj(data.get("min_affinity"), "trigger.min_affinity")
    category = r.text(affinity, "category", "trigger.min_affinity.category", required=bool(affinity))
    score = r.number(affinity, "score", "trigger.min_affinity.score", minimum=0, maximum=1000)
    if affinity and score is None and "score" not in affinity:
        r.fail("trigger.min_affinity.score", "is required")
    trigger = Trigger(
        moment=str(moment),
        store_ids=r.strings(data, "store_ids", "trigger.store_ids"),
        product_ids=r.strings(data, "product_ids", "trigger.product_ids"),
        categories=r.strings(data, "categories", "trigger.categories"),
        video_ids=r.strings(data, "video_ids", "trigger.video_ids"),
        min_percent=r.number(data, "min_percent", "trigger.min_percent", minimum=0, maximum=100),
        min_affinity_category=category,
        min_affinity_score=score,
        local_time_windows=tuple(windows),
        days_of_week=r.strings(data, "days_of_week", "trigger.days_of_week", choices=DAYS),
        starts_at=r.timestamp(data, "starts_at", "trigger.starts_at"),
        ends_at=r.timestamp(data, "ends_at", "trigger.ends_at"),
    )
    if trigger.starts_at and trigger.ends_at and trigger.ends_at <= trigger.starts_at:
        r.fail("trigger.ends_at", "must be after trigger.starts_at")
    return trigger


# Schemes that are not an app: they run script, read local data, or travel unencrypted.
_UNSAFE_SCHEMES = frozenset({"javascript", "vbscript", "data", "file", "blob", "about", "http", "ftp", "ws"})


def _safe_deep_link(link: str) -> bool:
    if is_safe_destination(link):
        return True
    match = re.match(r"^([a-z][a-z0-9+.-]*)://[^\s\\]+$", link)
    if match is None:
        return False
    return match.group(1) not in _UNSAFE_SCHEMES and not re.search(r"[\x00-\x1f\x7f]", link)


def _offer(r: _Reader, data: dict[str, Any]) -> Offer:
    title = r.text(data, "title", "offer.title", required=True, max_len=120, template=True) or ""
    body = r.text(data, "body", "offer.body", required=True, max_len=1000, template=True) or ""
    deep_link = r.text(data, "deep_link", "offer.deep_link", max_len=2048)
    if deep_link is not None and not _safe_deep_link(deep_link):
        r.fail("offer.deep_link", "must be an https URL or an app link like myapp://offers/1")
    products = []
    raw_products = data.get("products") or []
    if not isinstance(raw_products, list) or len(raw_products) > 100:
        r.fail("offer.products", "must be a list of at most 100 products")
        raw_products = []
    for i, p in enumerate(raw_products):
        item = r.obj(p, f"offer.products[{i}]")
        pid = r.text(item, "product_id", f"offer.products[{i}].product_id", required=True, max_len=128)
        name = r.text(item, "name", f"offer.products[{i}].name", required=True, max_len=120)
        category = r.text(item, "category", f"offer.products[{i}].category", max_len=128)
        if pid and name:
            products.append(Product(pid, name, category))
    email = r.obj(data.get("email"), "offer.email")
    push = r.obj(data.get("push"), "offer.push")
    sms = r.obj(data.get("sms"), "offer.sms")
    content = Content(
        email_subject=r.text(email, "subject", "offer.email.subject", max_len=200, template=True) or "",
        email_html=r.text(email, "html", "offer.email.html", max_len=50_000, template=True) or "",
        email_text=r.text(email, "text", "offer.email.text", max_len=20_000, template=True) or "",
        push_title=r.text(push, "title", "offer.push.title", max_len=100, template=True) or "",
        push_body=r.text(push, "body", "offer.push.body", max_len=250, template=True) or "",
        sms_text=r.text(sms, "text", "offer.sms.text", max_len=SMS_LIMIT, template=True) or "",
    )
    return Offer(
        title=title,
        body=body,
        discount=r.text(data, "discount", "offer.discount", max_len=40),
        deep_link=deep_link,
        valid_minutes=r.integer(
            data, "valid_minutes", "offer.valid_minutes", minimum=1, maximum=60 * 24 * 90, default=60
        )
        or 60,
        products=tuple(products),
        content=content,
    )


def parse_campaign(body: Any, now_iso: str, existing: Campaign | None = None) -> Campaign:
    """A validated campaign from an admin API body (a full definition, create or replace)."""
    r = _Reader()
    data = r.obj(body, "body", required=True)
    campaign_id = existing.id if existing else data.get("id")
    if (
        existing is None
        and campaign_id is not None
        and (not isinstance(campaign_id, str) or not _ID.match(campaign_id))
    ):
        r.fail("id", "must be 1-63 lowercase letters, digits or -, starting with a letter or digit")
    name = r.text(data, "name", "name", required=True, max_len=120)
    trigger = _trigger(r, r.obj(data.get("trigger"), "trigger", required=True))
    offer = _offer(r, r.obj(data.get("offer"), "offer", required=True))
    channels = r.strings(data, "channels", "channels", choices=CHANNELS) or CHANNELS
    caps_data = r.obj(data.get("caps"), "caps")
    caps = Caps(
        per_user_per_day=r.integer(
            caps_data, "per_user_per_day", "caps.per_user_per_day", minimum=1, maximum=100
        ),
        per_user_per_week=r.integer(
            caps_data, "per_user_per_week", "caps.per_user_per_week", minimum=1, maximum=500
        ),
        budget=r.integer(caps_data, "budget", "caps.budget", minimum=1, maximum=10**9),
        min_gap_minutes=r.integer(
            caps_data, "min_gap_minutes", "caps.min_gap_minutes", minimum=0, maximum=60 * 24 * 30, default=0
        )
        or 0,
    )
    status = data.get("status", existing.status if existing else "active")
    if status not in STATUSES:
        r.fail("status", f"must be one of {', '.join(STATUSES)}")
    moment = trigger.moment if trigger else ""
    freshness = r.integer(
        data,
        "freshness_minutes",
        "freshness_minutes",
        minimum=1,
        maximum=60 * 24 * 7,
        default=DEFAULT_FRESHNESS_MINUTES.get(moment, 10),
    )
    priority = r.integer(data, "priority", "priority", minimum=1, maximum=100, default=50)
    holdout = r.number(data, "holdout_percent", "holdout_percent", minimum=0, maximum=50)
    if r.errors:
        raise InvalidInput(r.errors, "invalid campaign")
    if not campaign_id:
        slug = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")[:40] or "campaign"
        import secrets

        campaign_id = f"{slug}-{secrets.token_hex(3)}"
    assert trigger is not None
    return Campaign(
        id=str(campaign_id),
        name=str(name),
        trigger=trigger,
        offer=offer,
        status=str(status),
        channels=channels,
        caps=caps,
        priority=priority or 50,
        holdout_percent=holdout or 0.0,
        freshness_minutes=freshness or 10,
        created_at=existing.created_at if existing else now_iso,
        updated_at=now_iso,
    )


def with_status(campaign: Campaign, status: str, now_iso: str) -> Campaign:
    if status not in STATUSES:
        raise InvalidInput([FieldError("status", f"must be one of {', '.join(STATUSES)}")])
    return replace(campaign, status=status, updated_at=now_iso)


def campaign_from_dict(data: dict[str, Any]) -> Campaign:
    """Rebuild a stored campaign (the inverse of ``Campaign.as_dict``)."""
    trigger = dict(data["trigger"])
    for key in ("store_ids", "product_ids", "categories", "video_ids", "days_of_week"):
        trigger[key] = tuple(trigger.get(key) or ())
    trigger["local_time_windows"] = tuple(tuple(w) for w in trigger.get("local_time_windows") or ())
    offer = dict(data["offer"])
    offer["products"] = tuple(Product(**p) for p in offer.get("products") or ())
    offer["content"] = Content(**(offer.get("content") or {}))
    return Campaign(
        id=data["id"],
        name=data["name"],
        trigger=Trigger(**trigger),
        offer=Offer(**offer),
        status=data.get("status", "active"),
        channels=tuple(data.get("channels") or CHANNELS),
        caps=Caps(**(data.get("caps") or {})),
        priority=int(data.get("priority", 50)),
        holdout_percent=float(data.get("holdout_percent", 0.0)),
        freshness_minutes=int(data.get("freshness_minutes", 10)),
        created_at=data.get("created_at", ""),
        updated_at=data.get("updated_at", ""),
    )
