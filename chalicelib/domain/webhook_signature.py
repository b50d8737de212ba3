"""Signed server-to-server webhooks: ``X-MM-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is HMAC-SHA256 over ``f"{t}.{raw body}"`` with the shared secret (the scheme Stripe and
others use). ``verify`` accepts the header only if one of its ``v1`` values matches (several
may be sent while a secret is rotated; compared in constant time) and ``t`` is within
``tolerance`` of now either way, so a captured request cannot be replayed later. Pure: the
caller passes the secret, the raw body and the time. Imports nothing from AWS or chalicelib.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-MM-Signature"
TOLERANCE_SECONDS = 300
MAX_HEADER_LENGTH = 1_024


class InvalidSignature(Exception):
    """Why a webhook was refused; the message is safe to return to the caller."""


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The header value a sender puts on ``body`` at ``timestamp``."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def parse(header: str | None) -> tuple[int, list[str]]:
    """``t`` and every ``v1`` of the header; InvalidSignature if it is missing or malformed."""
    if not header:
        raise InvalidSignature(f"missing {HEADER} header (t=<unix seconds>,v1=<hex HMAC-SHA256>)")
    if len(header) > MAX_HEADER_LENGTH:
        raise InvalidSignature(f"{HEADER} header is too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value.strip().lower())
    if timestamp is None:
        raise InvalidSignature(f"{HEADER} header has no t=<unix seconds>")
    if not signatures:
        raise InvalidSignature(f"{HEADER} header has no v1=<hex HMAC-SHA256> signature")
    return timestamp, signatures


def verify(
    secret: bytes, header: str | None, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS
) -> int:
    """The signed timestamp if the header signs ``body`` with ``secret`` within ``tolerance``
    seconds of ``now``; otherwise InvalidSignature saying why."""
    if not secret:
        raise InvalidSignature("webhook secret is not configured")
    timestamp, signatures = parse(header)
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise InvalidSignature("signature does not match the body (HMAC-SHA256 over '{t}.{raw body}')")
    age = now - timestamp
    if age > tolerance:
        raise InvalidSignature(f"signed {int(age)} s ago: older than {tolerance} s is refused as a replay")
    if age < -tolerance:
        raise InvalidSignature(f"signed {int(-age)} s in the future: check the sender's clock")
    return timestamp
