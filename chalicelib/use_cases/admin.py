"""Admin use cases: app write keys, QR records with fixed ids (the demo seed and tests; the QR
admin API is use_cases/qr_admin.py), looking at a user's profile, and erasing a user (PII must
be erasable)."""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict
from typing import Any

from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound
from chalicelib.domain.ports import AppKeyRepository, MomentStore, QrCodeRepository
from chalicelib.domain.profile import Subject, decayed_view
from chalicelib.domain.qr_token import new_qr_id
from chalicelib.domain.records import AppKey, QrCode, destination_problem, hash_write_key
from chalicelib.settings import Settings
from chalicelib.use_cases.scan_qr import QrCodes

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")


class Admin:
    def __init__(
        self,
        keys: AppKeyRepository,
        qr_repository: QrCodeRepository,
        qr_codes: QrCodes,
        store: MomentStore,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self._keys = keys
        self._qr_repository = qr_repository
        self._qr_codes = qr_codes
        self._store = store
        self._settings = settings
        self._clock = clock

    def create_app(self, body: Any, write_key: str | None = None) -> dict[str, str]:
        """A new app and its write key. The key is shown once; only its hash is stored."""
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInput([FieldError("name", "is required: 1-64 letters, digits, space, _ . -")])
        app_id = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "app"
        write_key = write_key or "mmk_" + secrets.token_urlsafe(32)
        self._keys.put(AppKey(hash_write_key(write_key), app_id, name, iso(self._clock.now())))
        return {"app_id": app_id, "name": name, "write_key": write_key}

    def create_qr_code(
        self,
        store_id: str,
        destination: str,
        product_id: str | None = None,
        placement: str | None = None,
        qr_id: str | None = None,
    ) -> dict[str, Any]:
        """Write a QR record as given (a fixed ``qr_id`` makes it idempotent), under the same
        destination rules as the API; returns it with its signed ``code`` and scan ``url``."""
        problem = destination_problem(destination, self._settings.qr_allowed_domains)
        if problem:
            raise InvalidInput([FieldError("destination", problem)])
        now = iso(self._clock.now())
        record = QrCode(
            qr_id or new_qr_id(),
            store_id,
            destination,
            now,
            product_id,
            placement,
            kid=self._qr_codes.signing_kid,
            updated_at=now,
        )
        self._qr_repository.put(record)
        self._qr_codes.forget()
        code = self._qr_codes.token_of(record)
        base = self._settings.public_base_url
        return {
            **{k: v for k, v in asdict(record).items() if v not in (None, ())},
            "code": code,
            "url": f"{base}/q/{code}" if base else None,
        }

    def user_view(self, user_id: str) -> dict[str, Any]:
        profile = self._store.get_profile(Subject.user(user_id))
        if profile is None:
            raise NotFound(f"no profile for user {user_id!r}")
        data = asdict(profile)
        data.pop("subject")
        data.pop("categories")
        data.pop("products")
        return {
            "user_id": user_id,
            **data,
            "affinities": decayed_view(profile, self._clock.now(), self._settings.affinity_half_life),
        }

    def erase_user(self, user_id: str) -> dict[str, Any]:
        """Delete the user's profile, markers and aliases, and every anonymous id's data."""
        profile = self._store.get_profile(Subject.user(user_id))
        anonymous_ids = profile.anonymous_ids if profile else []
        deleted = self._store.erase(Subject.user(user_id))
        for anonymous_id in anonymous_ids:
            # A shared device's anonymous id may belong to someone else: leave theirs alone.
            if self._store.get_alias(anonymous_id) in (None, user_id):
                deleted += self._store.erase(Subject.anon(anonymous_id))
        if deleted == 0:
            raise NotFound(f"no data for user {user_id!r}")
        return {"user_id": user_id, "items_deleted": deleted, "anonymous_ids": len(anonymous_ids)}
