"""Admin use cases: app write keys, QR records with fixed ids (the demo seed and tests; the QR
admin API is use_cases/qr_admin.py), looking at a user's profile, and a user's data rights:
exporting everything held about them, and erasing it.

Everything about a shopper lives in the partitions of their subjects: ``USER#{id}`` and the
``ANON#{id}`` of every anonymous id aliased to them (profile, markers, alias, offer ledger, caps,
devices), plus the ``REDEEM#{code}`` pointers of their offers, which the store deletes with
the offers. Erasure also deletes their SNS push endpoints (whose user data names them). What is
kept: an email suppression (bounce/complaint) as ``EMAIL#{sha256}`` only, so an erased address
that bounced or complained is still never mailed, and the hourly counters, which name no one.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict
from typing import Any, Protocol, cast

from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound
from chalicelib.domain.ports import AppKeyRepository, MomentStore, QrCodeRepository
from chalicelib.domain.profile import Subject, decayed_view
from chalicelib.domain.qr_token import new_qr_id
from chalicelib.domain.records import AppKey, QrCode, destination_problem, hash_write_key
from chalicelib.settings import Settings
from chalicelib.use_cases.scan_qr import QrCodes


class SubjectData(Protocol):
    """The moment store's view of one subject's partition, for export and erasure."""

    def items_of(self, subject: Subject) -> list[dict[str, Any]]: ...

    def erase(self, subject: Subject) -> int: ...


class EndpointDeleter(Protocol):
    def delete(self, endpoint_arn: str) -> None: ...


# SK prefix -> the export section it belongs to.
_SECTIONS = (
    ("PROFILE", "profile"),
    ("MSG#", "moments"),
    ("PARKED#", "moments"),  # a committed message whose follow-up failed (process_events._park)
    ("OFFER#", "offers"),
    ("CAP#", "caps"),
    ("DEVICE#", "devices"),
    ("SEEN#", "campaigns"),  # campaigns that decided about the shopper: group, first conversion
    ("ALIAS", "alias"),
)


def _plain(value: Any) -> Any:
    """JSON-safe: sets (DynamoDB string/number sets) become sorted lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=str)
    return value


def _sections(items: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"profile": None, "moments": [], "offers": [], "caps": [], "devices": []}
    out["campaigns"] = []
    out["alias"] = None
    out["other"] = []
    for item in items:
        sk = str(item.get("SK", ""))
        data = _plain({k: v for k, v in item.items() if k not in ("PK",)})
        for prefix, section in _SECTIONS:
            if sk.startswith(prefix):
                if section in ("profile", "alias"):
                    out[section] = data
                else:
                    out[section].append(data)
                break
        else:
            out["other"].append(data)
    if not out["other"]:
        del out["other"]
    return out


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
        subject_data: SubjectData | None = None,
        endpoints: EndpointDeleter | None = None,
    ) -> None:
        self._keys = keys
        self._qr_repository = qr_repository
        self._qr_codes = qr_codes
        self._store = store
        self._settings = settings
        self._clock = clock
        self._subject_data = subject_data
        self._endpoints = endpoints

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
        # The applied message ids (exactly once) are 8-byte digests: shown as hex.
        data["applied"] = [{"digest": d.hex(), "at": at} for d, at in profile.applied]
        return {
            "user_id": user_id,
            **data,
            "affinities": decayed_view(profile, self._clock.now(), self._settings.affinity_half_life),
        }

    def _subjects_of(self, user_id: str) -> list[Subject]:
        """The user and every anonymous id that is theirs. A shared device's anonymous id that
        is aliased to someone else is not theirs: it is left alone."""
        profile = self._store.get_profile(Subject.user(user_id))
        subjects = [Subject.user(user_id)]
        for anonymous_id in profile.anonymous_ids if profile else []:
            if self._store.get_alias(anonymous_id) in (None, user_id):
                subjects.append(Subject.anon(anonymous_id))
        return subjects

    def _data(self) -> SubjectData:
        # The DynamoDB moment store is both; a separate one can be given (tests, other stores).
        return self._subject_data or cast(SubjectData, self._store)

    def export_user(self, user_id: str) -> dict[str, Any]:
        """Everything held about the user and their anonymous ids, as JSON-ready sections."""
        data = self._data()
        subjects = self._subjects_of(user_id)
        held = [(s, data.items_of(s)) for s in subjects]
        if not any(items for _, items in held):
            raise NotFound(f"no data for user {user_id!r}")
        user_items = held[0][1]
        return {
            "user_id": user_id,
            "exported_at": iso(self._clock.now()),
            **_sections(user_items),
            "anonymous": [{"anonymous_id": subject.id, **_sections(items)} for subject, items in held[1:]],
            "note": "Email suppressions (bounces, complaints) are kept as a SHA-256 of the "
            "address only and are not linked to the user.",
        }

    def erase_user(self, user_id: str) -> dict[str, Any]:
        """Delete every item about the user and their anonymous ids (profile, markers, alias,
        offers with their redemption pointers, caps, devices) and their SNS push endpoints.
        Safe to repeat: a retry after a partial failure deletes what is left."""
        data = self._data()
        subjects = self._subjects_of(user_id)
        endpoints = [
            str(item["endpoint_arn"])
            for subject in subjects
            for item in data.items_of(subject)
            if str(item.get("SK", "")).startswith("DEVICE#") and item.get("endpoint_arn")
        ]
        endpoints_deleted = 0
        if self._endpoints is not None:
            for arn in endpoints:
                self._endpoints.delete(arn)
                endpoints_deleted += 1
        deleted = sum(data.erase(subject) for subject in subjects)
        if deleted == 0:
            raise NotFound(f"no data for user {user_id!r}")
        return {
            "user_id": user_id,
            "items_deleted": deleted,
            "anonymous_ids": len(subjects) - 1,
            "push_endpoints_deleted": endpoints_deleted,
        }
