"""A phone camera opened ``/q/{code}``: verify the signed code, find where it goes, record the
scan as a ``QR Code Scanned`` moment for the visitor, and say where to redirect.

The destination comes only from the stored QR record (re-checked to be a safe https URL),
never from the request. Forged, malformed, unknown and revoked codes are all ``NotFound``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from chalicelib.domain import qr_token
from chalicelib.domain.clock import Clock
from chalicelib.domain.errors import NotFound, RetryableError
from chalicelib.domain.events import Event
from chalicelib.domain.ports import QrCodeRepository
from chalicelib.domain.records import QrCode, is_safe_destination
from chalicelib.settings import Settings
from chalicelib.ttl_cache import TtlCache
from chalicelib.use_cases.ingest import Ingest

logger = logging.getLogger(__name__)
QR_APP_ID = "qr"


@dataclass(frozen=True)
class ScanResult:
    destination: str
    visitor_id: str
    message_id: str | None  # None if the scan could not be queued (the shopper still goes on)


def valid_visitor_id(value: str | None) -> str | None:
    if not value or len(value) != 36:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


class QrCodes:
    """Resolves codes to live records; cached, so the hot path reads DynamoDB once per TTL."""

    def __init__(self, repository: QrCodeRepository, settings: Settings) -> None:
        self._repository = repository
        self._keys = settings.qr_signing_keys
        self._kid = settings.qr_signing_kid
        self._cache: TtlCache[QrCode] = TtlCache(settings.cache_ttl_seconds)

    def token_for(self, qr_id: str) -> str:
        return qr_token.sign(qr_id, self._kid, self._keys[self._kid])

    def resolve(self, code: str) -> QrCode:
        try:
            qr_id = qr_token.verify(code, self._keys)
        except qr_token.InvalidToken as exc:
            raise NotFound(f"QR code {exc}") from None
        record = self._cache.get(qr_id, lambda: self._repository.get(qr_id))
        if record is None or not record.active or not is_safe_destination(record.destination):
            raise NotFound("QR code unknown, revoked or without a safe destination")
        return record


class ScanQr:
    def __init__(self, codes: QrCodes, ingest: Ingest, clock: Clock) -> None:
        self._codes = codes
        self._ingest = ingest
        self._clock = clock

    def scan(self, code: str, visitor_cookie: str | None) -> ScanResult:
        record = self._codes.resolve(code)
        visitor_id = valid_visitor_id(visitor_cookie) or str(uuid.uuid4())
        properties = {"code": code.strip().upper(), "qr_id": record.qr_id, "store_id": record.store_id}
        if record.product_id:
            properties["product_id"] = record.product_id
        if record.placement:
            properties["placement"] = record.placement
        event = Event(
            type="track",
            message_id=f"qr-{uuid.uuid4()}",
            timestamp=self._clock.now(),
            anonymous_id=visitor_id,
            event="QR Code Scanned",
            properties=properties,
            context={"channel": "qr"},
        )
        try:
            self._ingest.enqueue(QR_APP_ID, [event])
        except RetryableError:
            # The shopper in the aisle still gets the page; the lost scan is logged with all
            # its data (recoverable from logs) and counted by the caller's metrics.
            logger.error("qr scan not queued", extra={"scan": properties, "visitor": visitor_id})
            return ScanResult(record.destination, visitor_id, None)
        return ScanResult(record.destination, visitor_id, event.message_id)
