"""A phone camera opened ``/q/{code}``: verify the signed code, find where it goes, decide
whether this request is a shopper's scan worth recording, record it as a ``QR Code Scanned``
moment for the visitor, and say where to redirect.

The destination comes only from the stored QR record (re-checked to be a safe https URL on an
allowed domain), never from the request. Forged, malformed, unknown, revoked and retired
(rotated past their grace period) codes are all ``NotFound``. Bots, link previews and repeat
scans are redirected like anyone else but record nothing (see domain/qr_scans.py); a counted
scan is one queue call, the only AWS call on this path (records are cached).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from chalicelib.domain import qr_token
from chalicelib.domain.clock import Clock, SystemClock, iso
from chalicelib.domain.errors import NotFound, RetryableError
from chalicelib.domain.events import Event
from chalicelib.domain.ports import QrCodeRepository
from chalicelib.domain.qr_scans import (
    ScanMemory,
    ScanRequest,
    bot_reason,
    scan_message_id,
    with_visitor,
)
from chalicelib.domain.records import QrCode, host_allowed, is_safe_destination
from chalicelib.settings import Settings
from chalicelib.ttl_cache import TtlCache
from chalicelib.use_cases.ingest import Ingest

logger = logging.getLogger(__name__)
QR_APP_ID = "qr"


@dataclass(frozen=True)
class ScanResult:
    destination: str
    visitor_id: str | None  # None for a bot: it gets no visitor cookie
    message_id: str | None  # the queued scan; None if nothing was queued (see ``outcome``)
    outcome: str = "counted"  # "counted" | "repeat" | "bot:{reason}" | "not_queued"
    memory_cookie: str | None = None  # the new scan-memory cookie value, when it changed


def valid_visitor_id(value: str | None) -> str | None:
    if not value or len(value) != 36:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


class QrCodes:
    """Resolves codes to live records; cached, so the hot path reads DynamoDB once per TTL."""

    def __init__(self, repository: QrCodeRepository, settings: Settings, clock: Clock | None = None) -> None:
        self._repository = repository
        self.settings = settings
        self._keys = settings.qr_signing_keys
        self._kid = settings.qr_signing_kid
        self._allowed = settings.qr_allowed_domains
        self._clock = clock or SystemClock()
        self._cache: TtlCache[QrCode] = TtlCache(settings.cache_ttl_seconds)
        self._safe: dict[str, bool] = {}

    @property
    def signing_kid(self) -> str:
        return self._kid

    def key_live(self, kid: str | None) -> bool:
        return (kid or self._kid) in self._keys

    def token_for(self, qr_id: str, kid: str | None = None) -> str:
        """The code for ``qr_id`` under key ``kid`` (the current signing key if None or retired)."""
        kid = kid if kid in self._keys else self._kid
        return qr_token.sign(qr_id, kid, self._keys[kid])

    def token_of(self, record: QrCode) -> str:
        """The token printed on the record's label (its own key while that key is live)."""
        return self.token_for(record.qr_id, record.kid)

    def safe_destination(self, url: str) -> bool:
        """Checked before every redirect: a safe https URL, on an allowed domain when the
        allow-list is configured (so removing a domain stops its codes at once). Remembered
        per URL (bounded): the answer depends only on the URL and the settings."""
        safe = self._safe.get(url)
        if safe is None:
            safe = is_safe_destination(url) and (
                not self._allowed or host_allowed(urlsplit(url).hostname or "", self._allowed)
            )
            if len(self._safe) >= 4096:
                self._safe.clear()
            self._safe[url] = safe
        return safe

    def resolve(self, code: str, at: datetime | None = None) -> QrCode:
        """The live record a genuine code names. ``at`` (default now) is when it was scanned:
        the worker can pass the scan's time, so a scan made just before a revocation or the
        end of a rotation's grace period still counts when it is processed a little later."""
        try:
            qr_id = qr_token.verify(code, self._keys)
        except qr_token.InvalidToken as exc:
            raise NotFound(f"QR code {exc}") from None
        record = self._cache.get(qr_id, lambda: self._repository.get(qr_id))
        if (
            record is None
            or not (record.active or record.accepts_scans(iso(at or self._clock.now())))
            or not self.safe_destination(record.destination)
        ):
            raise NotFound("QR code unknown, revoked, retired or without a safe destination")
        return record

    def forget(self) -> None:
        """Drop cached records (after an admin change, so this Lambda sees it at once)."""
        self._cache.clear()


class ScanQr:
    def __init__(self, codes: QrCodes, ingest: Ingest, clock: Clock) -> None:
        self._codes = codes
        self._ingest = ingest
        self._clock = clock
        self._memory_key = codes.settings.token_signing_key
        self._dedupe_seconds = codes.settings.qr_scan_dedupe_seconds

    def scan(
        self,
        code: str,
        visitor_cookie: str | None,
        request: ScanRequest | None = None,
        memory_cookie: str | None = None,
    ) -> ScanResult:
        """``request`` is what the HTTP request says about the client; None means a trusted
        caller with no request to judge (it is then always a shopper's scan)."""
        record = self._codes.resolve(code)
        known_visitor = valid_visitor_id(visitor_cookie)
        if request is not None:
            reason = bot_reason(request, known_visitor is not None)
            if reason is not None:
                return ScanResult(record.destination, None, None, f"bot:{reason}")
        visitor_id = known_visitor or str(uuid.uuid4())
        destination = with_visitor(record.destination, record.visitor_param, visitor_id)
        now = self._clock.now()
        memory = ScanMemory()
        if known_visitor is not None and memory_cookie:
            memory = ScanMemory.decode(memory_cookie, visitor_id, self._memory_key)
        decision = memory.decide(record.qr_id, record.store_id, now, self._dedupe_seconds)
        if not decision.counted:
            return ScanResult(destination, visitor_id, None, "repeat")
        properties: dict[str, object] = {
            "code": code.strip().upper(),
            "qr_id": record.qr_id,
            "store_id": record.store_id,
            "unique_code": decision.unique_code,
            "unique_store": decision.unique_store,
        }
        if record.product_id:
            properties["product_id"] = record.product_id
        if record.placement:
            properties["placement"] = record.placement
        event = Event(
            type="track",
            message_id=scan_message_id(visitor_id, record.qr_id, now, self._dedupe_seconds),
            timestamp=now,
            anonymous_id=visitor_id,
            event="QR Code Scanned",
            properties=properties,
            context={"channel": "qr"},
        )
        try:
            self._ingest.enqueue(QR_APP_ID, [event])
        except RetryableError:
            # The shopper in the aisle still gets the page; the lost scan is logged with all
            # its data (recoverable from logs) and counted by the caller's metrics. The scan
            # memory is left as it was, so the next scan is not mistaken for a repeat.
            logger.error("qr scan not queued", extra={"scan": properties, "visitor": visitor_id})
            return ScanResult(destination, visitor_id, None, "not_queued")
        assert decision.memory is not None
        cookie = decision.memory.encode(visitor_id, self._memory_key)
        return ScanResult(destination, visitor_id, event.message_id, "counted", cookie)
