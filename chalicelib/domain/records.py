"""Stored records other than profiles: app write keys and QR codes, and the rules for where a
QR code may send a shopper (``destination_problem``). Pure: no AWS, no HTTP framework."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

QR_STATES = ("active", "rotated", "revoked")


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
    """One printed code: where it hangs (store, placement label, product) and where it sends
    the shopper (``destination``, changeable without reprinting).

    ``kid`` is the signing key of the token printed on the label, so a key can be retired once
    no live code needs it. Rotating a code (a leaked or copied label) creates a new record with
    a new ``qr_id`` and token; the old record becomes ``rotated`` with ``replaced_by`` and keeps
    redirecting until ``retire_at`` (a grace period for putting up the new label), then answers
    404 like a revoked code. ``replaces`` lists every earlier id of the code, so its analytics
    continue across rotations."""

    qr_id: str
    store_id: str
    destination: str
    created_at: str
    product_id: str | None = None
    placement: str | None = None
    state: str = "active"  # one of QR_STATES
    kid: str | None = None  # None: records from before kids were kept (signed with the first key)
    updated_at: str | None = None
    replaces: tuple[str, ...] = field(default_factory=tuple)
    replaced_by: str | None = None
    retire_at: str | None = None  # ISO time a rotated code stops redirecting
    revoked_at: str | None = None
    visitor_param: str | None = None  # e.g. "ajs_aid": the destination gets the visitor id

    @property
    def active(self) -> bool:
        return self.state == "active"

    def accepts_scans(self, at_iso: str) -> bool:
        """Whether a scan at ``at_iso`` was of a live code: active, rotated but still inside its
        grace period, or revoked later than that."""
        if self.state == "active":
            return True
        if self.state == "rotated":
            return self.retire_at is not None and at_iso < self.retire_at
        return self.state == "revoked" and self.revoked_at is not None and at_iso < self.revoked_at

    @property
    def lineage(self) -> tuple[str, ...]:
        """Every id this code has had, current first (its analytics add them all up)."""
        return (self.qr_id, *self.replaces)


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


def host_allowed(host: str, allowed_domains: Sequence[str]) -> bool:
    """``host`` is one of ``allowed_domains`` or a subdomain of one (case-insensitive)."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in allowed_domains)


def destination_problem(url: object, allowed_domains: Sequence[str]) -> str | None:
    """Why ``url`` may not be a QR destination, or None if it may. The reason is for the
    marketer who typed it, so it says what to change."""
    if not isinstance(url, str) or not url:
        return "is required: an https URL on one of the allowed domains"
    if len(url) > 2048:
        return "must be at most 2048 characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a valid URL"
    if parts.scheme.lower() != "https":
        return f"must use https, not {parts.scheme or 'a relative URL'!r}"
    if "@" in parts.netloc:
        return "must not contain a user name or password"
    if not is_safe_destination(url) or not host:
        return "must be an absolute https URL without spaces, control characters or backslashes"
    if not allowed_domains:
        return "cannot be accepted: no domain is allowed yet (set MM_QR_ALLOWED_DOMAINS)"
    if not host_allowed(host, allowed_domains):
        return f"host {host!r} is not an allowed domain ({', '.join(allowed_domains)})"
    return None
