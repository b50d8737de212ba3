"""Compact HMAC-signed QR tokens: ``{qr_id:8}{kid:1}{mac:13}``, 22 characters of base32.

Uppercase base32 (A-Z, 2-7) keeps a QR code in alphanumeric mode (smaller, easier to scan
from a shelf label); parsing accepts any case. ``qr_id`` names the QR record, ``kid`` the
signing key, ``mac`` is the first 65 bits of HMAC-SHA256 over the id and kid. Verification
is constant-time. Several keys can be live at once: the first signs, all verify, so a key is
rotated by adding a new one first and retired by removing it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ID_LEN, KID_LEN, MAC_LEN = 8, 1, 13
TOKEN_LEN = ID_LEN + KID_LEN + MAC_LEN


class InvalidToken(ValueError):
    """Malformed, forged, or signed with a key that is not live."""


def new_qr_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(ID_LEN))


def _mac(qr_id: str, kid: str, key: bytes) -> str:
    digest = hmac.new(key, f"mmqr1|{qr_id}|{kid}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:MAC_LEN]


def sign(qr_id: str, kid: str, key: bytes) -> str:
    if len(qr_id) != ID_LEN or any(c not in ALPHABET for c in qr_id):
        raise ValueError(f"qr_id must be {ID_LEN} base32 characters")
    if len(kid) != KID_LEN or kid not in ALPHABET:
        raise ValueError("kid must be one base32 character")
    return f"{qr_id}{kid}{_mac(qr_id, kid, key)}"


def split(token: str) -> tuple[str, str, str]:
    """(qr_id, kid, mac) of a well-formed token, normalised to uppercase; nothing verified."""
    token = token.strip().upper()
    if len(token) != TOKEN_LEN or any(c not in ALPHABET for c in token):
        raise InvalidToken("malformed")
    return token[:ID_LEN], token[ID_LEN], token[ID_LEN + KID_LEN :]


def verify(token: str, keys: Mapping[str, bytes]) -> str:
    """The qr_id a genuine token names; raises InvalidToken for anything else."""
    qr_id, kid, mac = split(token)
    key = keys.get(kid)
    if key is None:
        raise InvalidToken("unknown key")
    if not hmac.compare_digest(_mac(qr_id, kid, key), mac):
        raise InvalidToken("bad signature")
    return qr_id
