"""Who is calling: SDKs with a per-app write key (HTTP Basic), admins with IAM or a local token.

Write keys are stored as SHA-256 hashes and cached in memory (hits and misses), so a warm
ingest Lambda authenticates without a DynamoDB read. The demo keys published in the README
work only in the ``local`` stage.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any

from chalicelib.domain.errors import Unauthorized
from chalicelib.domain.ports import AppKeyRepository
from chalicelib.domain.records import hash_write_key
from chalicelib.settings import DEMO_ADMIN_TOKEN, DEMO_WRITE_KEY, Settings
from chalicelib.ttl_cache import TtlCache

MAX_KEY_LENGTH = 200


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


class WriteKeyAuthenticator:
    def __init__(self, keys: AppKeyRepository, settings: Settings) -> None:
        self._keys = keys
        self._settings = settings
        self._cache: TtlCache[Any] = TtlCache(settings.cache_ttl_seconds)

    def app_for(self, headers: Mapping[str, str]) -> str:
        """The app id the request's write key belongs to; Unauthorized otherwise."""
        write_key = self._write_key(_header(headers, "authorization"))
        if self._settings.deployed and write_key == DEMO_WRITE_KEY:
            raise Unauthorized("the demo write key works only in the local stage")
        key_hash = hash_write_key(write_key)
        app_key = self._cache.get(key_hash, lambda: self._keys.find(key_hash))
        if app_key is None or app_key.revoked:
            raise Unauthorized("unknown or revoked write key")
        return str(app_key.app_id)

    @staticmethod
    def _write_key(authorization: str) -> str:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "basic" or not credentials:
            raise Unauthorized("send the write key as HTTP Basic auth: username = key, empty password")
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # ValueError: non-ASCII characters
            raise Unauthorized("the Basic credentials are not valid base64") from None
        write_key = decoded.partition(":")[0]
        if not write_key or len(write_key) > MAX_KEY_LENGTH:
            raise Unauthorized("the write key (Basic auth username) is missing")
        return write_key


class AdminAuthenticator:
    """Deployed stages: API Gateway has verified a SigV4 signature (IAM authorizer) and put the
    caller's ARN in the request context; we also refuse a request without it. Local stage:
    ``Authorization: Bearer <MM_ADMIN_TOKEN>``, or, for a browser opening the dashboard, HTTP
    Basic with any username and the token as the password; compared in constant time."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def check(self, headers: Mapping[str, str], request_context: Mapping[str, Any]) -> str:
        if self._settings.deployed:
            identity = request_context.get("identity") or {}
            caller = identity.get("userArn") or identity.get("caller")
            if not caller:
                raise Unauthorized("admin routes need an IAM (SigV4) signed request")
            return str(caller)
        token = self._settings.admin_token or ""
        scheme, _, presented = _header(headers, "authorization").strip().partition(" ")
        if scheme.lower() == "basic" and presented.strip():
            presented = self._basic_password(presented.strip())
        elif scheme.lower() == "bearer" and presented.strip():
            presented = presented.strip()
        else:
            raise Unauthorized("admin routes need 'Authorization: Bearer <token>'")
        if not token or not hmac.compare_digest(presented.encode(), token.encode()):
            raise Unauthorized("wrong admin token")
        return "local-admin" if token == DEMO_ADMIN_TOKEN else "admin"

    @staticmethod
    def _basic_password(credentials: str) -> str:
        """The password of HTTP Basic credentials (what a browser's login prompt sends)."""
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise Unauthorized("the Basic credentials are not valid base64") from None
        _, colon, password = decoded.partition(":")
        if not colon or not password:
            raise Unauthorized("send the admin token as the Basic password (any username)")
        return password
