"""QR codes for stores, for the admin API and the CLI: create, list, get, update (a dynamic
code: the destination changes, the printed label does not), revoke, rotate; images and print
sheets; scan analytics per code, placement and store.

Rotation (a label was copied, stickered over elsewhere or leaked): the code gets a new id and
token under the current signing key; the old record becomes ``rotated``, points at the new one
(``replaced_by``) and keeps redirecting for ``grace_hours`` (default 0) so the new label can be
put up first, then answers 404. The new record lists every earlier id in ``replaces``, and its
analytics add them up. Ids are never reused, so a retired label can never come back to life.

Signing keys (``MM_QR_SIGNING_KEYS``) rotate separately: each record remembers the key its
label was printed with (``kid``), ``GET /admin/qr-codes?kid=A`` lists the codes that still
need key A, and rotating them moves them to the current key; then A can be removed.

Imports no AWS SDK and no web framework; rendering (segno) is imported when drawing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

from chalicelib.domain import qr_stats
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.counters import CounterIncrement, qr_redemption_increments
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, MicromomentsError, NotFound
from chalicelib.domain.ports import StoreDirectory
from chalicelib.domain.qr_scans import VISITOR_PARAM, qr_id_of_message
from chalicelib.domain.qr_token import ALPHABET, ID_LEN, new_qr_id
from chalicelib.domain.records import QR_STATES, QrCode, destination_problem
from chalicelib.settings import Settings
from chalicelib.use_cases.scan_qr import QrCodes

logger = logging.getLogger(__name__)

STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
PRODUCT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
MAX_PLACEMENT = 80
MAX_GRACE_HOURS = 24 * 30
DEFAULT_STATS_DAYS = 28
FIRST_STATS_DAY = date(2000, 1, 1)  # the earliest `to` an analytics range may end on
CREATE_FIELDS = ("store_id", "product_id", "placement", "destination", "visitor_param")
UPDATE_FIELDS = ("product_id", "placement", "destination", "visitor_param")


class QrCodeStore(Protocol):
    """The QR records (``adapters/dynamodb_records.DynamoDBQrCodes``)."""

    def get(self, qr_id: str) -> QrCode | None: ...

    def put(self, qr_code: QrCode) -> None: ...

    def create(self, qr_code: QrCode) -> None:
        """Conflict if the id exists."""
        ...

    def replace(self, qr_code: QrCode, expected_updated_at: str | None) -> None:
        """Conflict if the record changed since it was read."""
        ...

    def rotate(self, old: QrCode, new: QrCode, expected_updated_at: str | None) -> None:
        """Both, atomically; Conflict as for ``replace`` / ``create``."""
        ...

    def list(self, store_id: str | None = None) -> list[QrCode]: ...


class QrStatsStore(Protocol):
    """QR day counters (``adapters/dynamodb_records.DynamoDBQrStats``)."""

    def days(self, scope: str, days: Sequence[str]) -> dict[str, dict[str, int]]: ...

    def add(self, increments: Sequence[CounterIncrement]) -> None: ...


def _is_text(value: Any, limit: int) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value.strip()) <= limit
        and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    )


class QrAdmin:
    def __init__(
        self,
        repository: QrCodeStore,
        codes: QrCodes,
        stats: QrStatsStore,
        stores: StoreDirectory,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._codes = codes
        self._stats = stats
        self._stores = stores
        self._settings = settings
        self._clock = clock
        self._template = settings.qr_destination_template

    # -- views ---------------------------------------------------------------------------
    def url_for(self, token: str) -> str | None:
        base = self._settings.public_base_url
        return f"{base}/q/{token}" if base else None

    def view(self, record: QrCode) -> dict[str, Any]:
        token = self._codes.token_of(record)
        data = {k: v for k, v in asdict(record).items() if v not in (None, ())}
        data["replaces"] = list(record.replaces)
        data["kid"] = record.kid or self._codes.signing_kid
        data["key_live"] = self._codes.key_live(record.kid)
        data["code"] = token
        data["url"] = self.url_for(token)
        data["scans_accepted"] = record.accepts_scans(iso(self._clock.now()))
        return data

    # -- validation ----------------------------------------------------------------------
    def _fields(self, body: Any, allowed: Sequence[str], required: Sequence[str]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidInput([FieldError("body", "must be a JSON object")])
        errors = [
            FieldError(
                name,
                "cannot be changed: a code stays in its store (create a new one)"
                if name in CREATE_FIELDS
                else "is not a field of a QR code",
            )
            for name in body
            if name not in allowed
        ]
        values: dict[str, Any] = {}
        for name in allowed:
            if name not in body:
                if name in required:
                    errors.append(FieldError(name, "is required"))
                continue
            value = body[name]
            problem = self._problem(name, value)
            if problem:
                errors.append(FieldError(name, problem))
            else:
                values[name] = value.strip() if isinstance(value, str) and name != "destination" else value
        if errors:
            raise InvalidInput(errors)
        return values

    def _problem(self, name: str, value: Any) -> str | None:
        if name == "store_id":
            ok = isinstance(value, str) and STORE_ID.match(value)
            return (
                None if ok else "is required: 1-64 letters, digits, _ . - (starting with a letter or digit)"
            )
        if name == "destination":
            return destination_problem(value, self._settings.qr_allowed_domains)
        if value is None:  # the optional fields may be cleared
            return None
        if name == "product_id":
            return (
                None
                if isinstance(value, str) and PRODUCT_ID.match(value)
                else "must be 1-128 letters, digits, _ . : -"
            )
        if name == "placement":
            return (
                None if _is_text(value, MAX_PLACEMENT) else f"must be 1-{MAX_PLACEMENT} printable characters"
            )
        if name == "visitor_param":
            ok = isinstance(value, str) and VISITOR_PARAM.match(value)
            return None if ok else "must be a query parameter name like ajs_aid (letters, digits, _)"
        return None

    def _default_destination(self, product_id: Any) -> str | None:
        if not self._template or not isinstance(product_id, str) or not PRODUCT_ID.match(product_id):
            return None
        return self._template.replace("{product_id}", quote(product_id, safe=""))

    # -- commands ------------------------------------------------------------------------
    def create(self, body: Any, qr_id: str | None = None) -> dict[str, Any]:
        """A new code. ``destination`` may be left out when ``product_id`` is given and
        ``MM_QR_DESTINATION_TEMPLATE`` is set (e.g. ``https://shop.example.com/p/{product_id}``)."""
        if isinstance(body, dict) and "destination" not in body:
            default = self._default_destination(body.get("product_id"))
            if default is not None:
                body = {**body, "destination": default}
        values = self._fields(body, CREATE_FIELDS, ("store_id", "destination"))
        now = iso(self._clock.now())
        record = QrCode(
            qr_id=qr_id or new_qr_id(),
            store_id=values["store_id"],
            destination=values["destination"],
            created_at=now,
            product_id=values.get("product_id"),
            placement=values.get("placement"),
            kid=self._codes.signing_kid,
            updated_at=now,
            visitor_param=values.get("visitor_param"),
        )
        try:
            self._repository.create(record)
        except Conflict:
            raise InvalidInput([FieldError("qr_id", f"a QR code with id {record.qr_id} exists")]) from None
        return self.view(record)

    def _record(self, qr_id: str) -> QrCode:
        qr_id = qr_id.strip().upper()
        record = None
        if len(qr_id) == ID_LEN and all(c in ALPHABET for c in qr_id):
            record = self._repository.get(qr_id)
        if record is None:
            raise NotFound(f"no QR code {qr_id!r}")
        return record

    def get(self, qr_id: str) -> dict[str, Any]:
        return self.view(self._record(qr_id))

    def list_codes(
        self, store_id: str | None = None, state: str | None = None, kid: str | None = None
    ) -> list[dict[str, Any]]:
        errors = []
        if store_id is not None and not STORE_ID.match(store_id):
            errors.append(FieldError("store", "must be a store id: 1-64 letters, digits, _ . -"))
        if state is not None and state not in QR_STATES:
            errors.append(FieldError("state", f"must be one of {', '.join(QR_STATES)}"))
        if kid is not None and (len(kid) != 1 or kid.upper() not in ALPHABET):
            errors.append(FieldError("kid", "must be one key id character (A-Z, 2-7)"))
        if errors:
            raise InvalidInput(errors)
        records = self._repository.list(store_id)
        if state is not None:
            records = [r for r in records if r.state == state]
        if kid is not None:
            records = [r for r in records if (r.kid or self._codes.signing_kid) == kid.upper()]
        records.sort(key=lambda r: (r.store_id, r.placement or "", r.created_at, r.qr_id))
        return [self.view(r) for r in records]

    def _editable(self, record: QrCode, action: str) -> None:
        if record.state == "rotated":
            raise InvalidInput(
                [FieldError("state", f"this code was rotated: {action} {record.replaced_by} instead")]
            )
        if record.state == "revoked":
            raise InvalidInput([FieldError("state", f"this code is revoked; it cannot be {action}d")])

    def update(self, qr_id: str, body: Any) -> dict[str, Any]:
        """Change the destination (or label fields) of a live code; the printed label stays."""
        record = self._record(qr_id)
        self._editable(record, "update")
        values = self._fields(body, UPDATE_FIELDS, ())
        if not values:
            raise InvalidInput([FieldError("body", f"give at least one of {', '.join(UPDATE_FIELDS)}")])
        changed = replace(record, **values, updated_at=self._later(record))
        self._repository.replace(changed, record.updated_at)
        self._codes.forget()
        return self.view(changed)

    def revoke(self, qr_id: str) -> dict[str, Any]:
        """The code answers 404 from now on (within the records' cache TTL elsewhere)."""
        record = self._record(qr_id)
        if record.state == "revoked":
            return self.view(record)
        revoked = replace(
            record, state="revoked", revoked_at=iso(self._clock.now()), updated_at=self._later(record)
        )
        self._repository.replace(revoked, record.updated_at)
        self._codes.forget()
        return self.view(revoked)

    def rotate(self, qr_id: str, body: Any = None) -> dict[str, Any]:
        """A new id and token for the code; the old label works for ``grace_hours`` more."""
        record = self._record(qr_id)
        self._editable(record, "rotate")
        body = {} if body is None else body
        if not isinstance(body, dict) or set(body) - {"grace_hours"}:
            raise InvalidInput([FieldError("body", 'may only contain "grace_hours"')])
        grace = body.get("grace_hours", 0)
        if (
            isinstance(grace, bool)
            or not isinstance(grace, (int, float))
            or not 0 <= grace <= MAX_GRACE_HOURS
        ):
            raise InvalidInput(
                [FieldError("grace_hours", f"must be a number of hours from 0 to {MAX_GRACE_HOURS}")]
            )
        now_dt = self._clock.now()
        now = self._later(record)
        new = QrCode(
            qr_id=new_qr_id(),
            store_id=record.store_id,
            destination=record.destination,
            created_at=now,
            product_id=record.product_id,
            placement=record.placement,
            kid=self._codes.signing_kid,
            updated_at=now,
            replaces=record.lineage,
            visitor_param=record.visitor_param,
        )
        old = replace(
            record,
            state="rotated",
            replaced_by=new.qr_id,
            retire_at=iso(now_dt + timedelta(hours=float(grace))),
            updated_at=now,
        )
        self._repository.rotate(old, new, record.updated_at)
        self._codes.forget()
        return {**self.view(new), "previous": self.view(old)}

    def _later(self, record: QrCode) -> str:
        """Now, but strictly after the record's last update (the optimistic-lock token)."""
        now = iso(self._clock.now())
        last = record.updated_at or ""
        if now <= last:
            now = iso(datetime.fromisoformat(last) + timedelta(milliseconds=1))
        return now

    # -- images ----------------------------------------------------------------------------
    def image(self, qr_id: str, fmt: str | None, params: Mapping[str, str]) -> tuple[bytes | str, str]:
        """The code's PNG or SVG: (body, content type)."""
        from chalicelib import qr_render

        record = self._record(qr_id)
        options, fmt = self._image_options(fmt or "png", params)
        url = self._scan_url(record)
        if fmt == "png":
            return qr_render.png(url, options), "image/png"
        title = f"{record.placement or record.qr_id} ({record.store_id})"
        return qr_render.svg(url, options, title), "image/svg+xml"

    def _scan_url(self, record: QrCode) -> str:
        url = self.url_for(self._codes.token_of(record))
        if url is None:
            raise InvalidInput(
                [FieldError("url", "MM_PUBLIC_BASE_URL is not set, so there is no URL to put in the code")]
            )
        return url

    @staticmethod
    def _image_options(fmt: str, params: Mapping[str, str]) -> tuple[Any, str]:
        from chalicelib.qr_render import ERROR_LEVELS, FORMATS, ImageOptions

        errors = []
        fmt = fmt.lower()
        if fmt not in FORMATS:
            errors.append(FieldError("format", f"must be one of {', '.join(FORMATS)}"))
        error = (params.get("error") or "M").upper()
        if error not in ERROR_LEVELS:
            errors.append(FieldError("error", "must be one of L, M, Q, H (error correction level)"))

        def integer(name: str, default: int, low: int, high: int) -> int:
            raw = params.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = int(raw)
            except (TypeError, ValueError):
                value = low - 1
            if not low <= value <= high:
                errors.append(FieldError(name, f"must be a whole number from {low} to {high}"))
                return default
            return value

        scale = integer("scale", 10, 1, 50)
        border = integer("border", 4, 0, 16)
        compact = str(params.get("compact", "true")).lower() not in ("0", "false", "no")
        if errors:
            raise InvalidInput(errors)
        return ImageOptions(error=error, scale=scale, border=border, compact=compact), fmt

    def sheet(self, store_id: str, fmt: str | None = "html", error: str | None = None) -> tuple[str, str]:
        """Every active code of a store with its label, on one printable page."""
        from chalicelib import qr_render

        fmt = (fmt or "html").lower()
        error = (error or "Q").upper()
        errors = []
        if not STORE_ID.match(store_id):
            errors.append(FieldError("store_id", "must be a store id: 1-64 letters, digits, _ . -"))
        if fmt not in ("html", "svg"):
            errors.append(FieldError("format", "must be html or svg"))
        if error not in qr_render.ERROR_LEVELS:
            errors.append(FieldError("error", "must be one of L, M, Q, H (error correction level)"))
        if errors:
            raise InvalidInput(errors)
        records = [r for r in self._repository.list(store_id) if r.active]
        records.sort(key=lambda r: (r.placement or "", r.product_id or "", r.qr_id))
        codes = [
            qr_render.SheetCode(r.qr_id, self._scan_url(r), r.placement, r.product_id, r.destination)
            for r in records
        ]
        name = (self._stores.get(store_id) or {}).get("name")
        if fmt == "svg":
            return qr_render.sheet_svg(store_id, name, codes, error), "image/svg+xml"
        return qr_render.sheet_html(store_id, name, codes, error), "text/html; charset=utf-8"

    # -- analytics -------------------------------------------------------------------------
    def _range(self, days: str | int | None, to: str | None) -> tuple[list[str], date]:
        errors = []
        count = DEFAULT_STATS_DAYS
        if days not in (None, ""):
            try:
                count = int(str(days))
            except ValueError:
                count = 0
            if not 1 <= count <= qr_stats.MAX_DAYS:
                errors.append(FieldError("days", f"must be a whole number from 1 to {qr_stats.MAX_DAYS}"))
        today = last = self._clock.now().date()
        if to not in (None, ""):
            try:
                last = date.fromisoformat(str(to))
            except ValueError:
                errors.append(FieldError("to", "must be a date like 2026-11-30 (UTC)"))
            else:
                # Far-off years have no counters, and before 1000 they do not fit the YYYYMMDD buckets
                if not FIRST_STATS_DAY <= last <= today + timedelta(days=366):
                    errors.append(
                        FieldError("to", f"must be a date from {FIRST_STATS_DAY} to a year from today (UTC)")
                    )
                    last = today
        if errors:
            raise InvalidInput(errors)
        return qr_stats.utc_days(last, count), last

    def _zone(self, store_id: str) -> tuple[ZoneInfo, str]:
        name = (self._stores.get(store_id) or {}).get("timezone") or self._settings.default_timezone
        try:
            return ZoneInfo(name), name
        except (ValueError, KeyError, OSError):
            return ZoneInfo(self._settings.default_timezone), self._settings.default_timezone

    def _code_days(self, lineage: Sequence[str], days: list[str]) -> dict[str, dict[str, int]]:
        return qr_stats.merged(*(self._stats.days(f"qr#{qr_id}", days) for qr_id in lineage))

    def stats(self, qr_id: str, days: str | int | None = None, to: str | None = None) -> dict[str, Any]:
        """One code's analytics (all its ids, across rotations)."""
        record = self._record(qr_id)
        buckets, last = self._range(days, to)
        zone, zone_name = self._zone(record.store_id)
        summary = qr_stats.summarize(self._code_days(record.lineage, buckets), buckets, zone)
        return {
            "qr_id": record.qr_id,
            "ids": list(record.lineage),
            "store_id": record.store_id,
            "placement": record.placement,
            "product_id": record.product_id,
            "from": _date(buckets[0]),
            "to": last.isoformat(),
            "timezone": zone_name,
            **summary,
        }

    def store_stats(
        self,
        store_id: str,
        days: str | int | None = None,
        to: str | None = None,
        placement: str | None = None,
    ) -> dict[str, Any]:
        """A store's analytics: totals and breakdowns (unique visitors are unique to the store),
        per code and per placement. With ``placement``, only that placement's codes."""
        if not STORE_ID.match(store_id):
            raise InvalidInput([FieldError("store_id", "must be a store id: 1-64 letters, digits, _ . -")])
        buckets, last = self._range(days, to)
        zone, zone_name = self._zone(store_id)
        records = self._repository.list(store_id)
        current = [r for r in records if r.state != "rotated"]
        head = {
            "store_id": store_id,
            "from": _date(buckets[0]),
            "to": last.isoformat(),
            "timezone": zone_name,
        }
        if placement is not None:
            chosen = [r for r in current if (r.placement or "") == placement]
            lineage = [qr_id for r in chosen for qr_id in r.lineage]
            summary = qr_stats.summarize(self._code_days(lineage, buckets), buckets, zone)
            return {**head, "placement": placement, "codes": [r.qr_id for r in chosen], **summary}
        items = self._stats.days(f"qrstore#{store_id}", buckets)
        by_id = qr_stats.per_code(items, buckets)
        codes: list[dict[str, Any]] = []
        for record in current:
            row = {"scans": 0, "unique_visitors": 0, "redemptions": 0}
            for qr_id in record.lineage:
                for name, n in by_id.get(qr_id, {}).items():
                    row[name] += n
            codes.append(
                {
                    "qr_id": record.qr_id,
                    "state": record.state,
                    "placement": record.placement,
                    "product_id": record.product_id,
                    **row,
                    "conversion_rate": qr_stats.rate(row["redemptions"], row["scans"]),
                }
            )
        placements: dict[str, dict[str, Any]] = {}
        for code in codes:
            label = str(code["placement"] or "")
            group = placements.setdefault(
                label,
                {
                    "placement": code["placement"],
                    "codes": [],
                    "scans": 0,
                    "unique_visitors": 0,
                    "redemptions": 0,
                },
            )
            group["codes"].append(code["qr_id"])
            for name in ("scans", "unique_visitors", "redemptions"):
                group[name] += code[name]
        for group in placements.values():
            group["conversion_rate"] = qr_stats.rate(group["redemptions"], group["scans"])
        return {
            **head,
            **qr_stats.summarize(items, buckets, zone),
            "codes": sorted(codes, key=lambda c: -c["scans"]),
            "placements": sorted(placements.values(), key=lambda g: -g["scans"]),
        }


def _date(bucket: str) -> str:
    return f"{bucket[:4]}-{bucket[4:6]}-{bucket[6:]}"


class QrConversionLedger:
    """Wraps the offer ledger (``OfferLedger``) so that redeeming an offer that a ``/q/`` scan
    triggered also counts a redemption for that code and its store (``r{HH}``, ``cr:{qr_id}``),
    the numerator of scan -> redemption conversion.

    The count is written after the redemption, not in its transaction: if it fails (or the
    Lambda dies in between) the redemption stands and the count is missing, logged; it can
    never count twice, because a redemption is only marked once. Every other call passes
    through unchanged."""

    def __init__(self, ledger: Any, stats: QrStatsStore, on_error: Callable[[Exception], None] | None = None):
        self._ledger = ledger
        self._stats = stats
        self._on_error = on_error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    def mark_converted(
        self,
        subject: Any,
        offer_id: str,
        field: str,
        at: str,
        statuses: tuple[str, ...],
        by: str = "",
        stat: Any = None,
    ) -> None:
        self._ledger.mark_converted(subject, offer_id, field, at, statuses, by=by, stat=stat)
        if field != "redeemed_at":
            return
        try:
            record = self._ledger.get(subject, offer_id) or {}
            qr_id = qr_id_of_message(record.get("trigger_message_id"))
            store_id = record.get("store_id")
            if qr_id and store_id:
                self._stats.add(qr_redemption_increments(qr_id, store_id, datetime.fromisoformat(at)))
        except (MicromomentsError, ValueError) as exc:
            logger.error("qr redemption not counted", extra={"offer_id": offer_id, "reason": str(exc)})
            if self._on_error is not None:
                self._on_error(exc)
