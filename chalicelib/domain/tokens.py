"""Signed tokens for links in messages (one-click unsubscribe): ``{payload}.{mac}``.

The payload is base64url JSON with a purpose, so a token made for one use is refused for
another; the MAC is HMAC-SHA256 (first 128 bits), compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class InvalidSignedToken(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(purpose: str, payload: str, key: bytes) -> str:
    return _b64(hmac.new(key, f"{purpose}|{payload}".encode(), hashlib.sha256).digest()[:16])


def sign(purpose: str, data: dict[str, Any], key: bytes) -> str:
    payload = _b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_mac(purpose, payload, key)}"


def verify(purpose: str, token: str, key: bytes) -> dict[str, Any]:
    if not isinstance(token, str) or len(token) > 1024 or token.count(".") != 1:
        raise InvalidSignedToken("malformed")
    payload, mac = token.split(".")
    if not hmac.compare_digest(_mac(purpose, payload, key).encode(), mac.encode()):
        raise InvalidSignedToken("bad signature")
    try:
        data = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSignedToken("undecodable") from exc
    if not isinstance(data, dict):
        raise InvalidSignedToken("not an object")
    return data
