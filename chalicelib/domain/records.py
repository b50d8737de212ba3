"""Stored records other than profiles: app write keys and QR codes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit


def hash_write_key(write_key: str) -> str:
    """Write keys are random 256-bit secrets, so one SHA-256 is the right store-side hash:
    lookups go by hash (no secret is ever compared in variable time) and a leaked table
    reveals no usable key."""
    return hashlib.sha256(write_key.encode()).hexdigest()


@dataclass(frozen=True)
class AppKey:
    key_hash: str
    app_id: str
    name: str
    created_at: str
    revoked: bool = False


@dataclass(frozen=True)
class QrCode:
    qr_id: str
    store_id: str
    destination: str
    created_at: str
    product_id: str | None = None
    placement: str | None = None
    state: str = "active"  # "active" | "revoked"

    @property
    def active(self) -> bool:
        return self.state == "active"


def is_safe_destination(url: str) -> bool:
    """Only absolute https URLs with a host and no credentials or control characters.

    Checked when a QR record is written and again before every redirect, so a bad record can
    never turn ``/q/`` into an open redirect."""
    if not isinstance(url, str) or len(url) > 2048:
        return False
    if any(ord(c) < 0x21 or ord(c) == 0x7F or c == "\\" for c in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. a malformed IPv6 host
        return False
    return parts.scheme == "https" and bool(host) and "@" not in parts.netloc
