"""Reaching shoppers: push device registration, one-click unsubscribe, and SES bounce and
complaint feedback that suppresses an address."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.domain import tokens
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.delivery import PLATFORMS, DeliveryRejected, PushSender
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, NotFound, RetryableError
from chalicelib.domain.offers import AddressBook, Device, DeviceRegistry
from chalicelib.domain.ports import MomentStore
from chalicelib.domain.profile import Profile, Subject
from chalicelib.settings import Settings
from chalicelib.use_cases.offers import UNSUBSCRIBE_PURPOSE

_TOKEN = re.compile(r"[A-Za-z0-9_:.\-]+")


def _subject_of(body: dict[str, Any]) -> Subject:
    user_id, anonymous_id = body.get("userId"), body.get("anonymousId")
    for name, value in (("userId", user_id), ("anonymousId", anonymous_id)):
        if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 255):
            raise InvalidInput([FieldError(name, "must be a non-empty string of at most 255 characters")])
    if user_id:
        return Subject.user(user_id)
    if anonymous_id:
        return Subject.anon(anonymous_id)
    raise InvalidInput([FieldError("userId", "userId or anonymousId is required")])


class Audience:
    def __init__(
        self,
        store: MomentStore,
        devices: DeviceRegistry,
        addresses: AddressBook,
        push: PushSender | None,
        settings: Settings,
        clock: Clock,
        ledger: Any = None,  # OfferLedger: finds the offer a delivery notification is about
        engagement: Any = None,  # use_cases/engagement.OfferEngagement: counts the delivery
    ) -> None:
        self._ledger = ledger
        self._engagement = engagement
        self._store = store
        self._devices = devices
        self._addresses = addresses
        self._push = push
        self._settings = settings
        self._clock = clock

    def register_device(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidInput([FieldError("body", "must be a JSON object")])
        subject = _subject_of(body)
        errors = []
        platform, token = body.get("platform"), body.get("token")
        if platform not in PLATFORMS:
            errors.append(FieldError("platform", f"must be one of {', '.join(PLATFORMS)}"))
        # APNs tokens are hex and FCM tokens [A-Za-z0-9_:-]: anything else is not a device token
        if not isinstance(token, str) or not 8 <= len(token) <= 4096 or not _TOKEN.fullmatch(token):
            errors.append(
                FieldError("token", "must be the APNs or FCM device token (8-4096 letters, digits, _ : . -)")
            )
        if errors:
            raise InvalidInput(errors)
        if self._push is None:
            raise RetryableError("push is not configured")
        try:
            endpoint = self._push.register(str(platform), str(token), f"{subject.kind}:{subject.id}")
        except DeliveryRejected as exc:
            raise InvalidInput([FieldError("platform", f"cannot register: {exc.reason}")]) from None
        token_hash = hashlib.sha256(str(token).encode()).hexdigest()[:32]
        self._devices.put(subject, Device(endpoint, str(platform), token_hash, True, iso(self._clock.now())))
        return {"registered": True, "platform": platform, "endpoint": endpoint.rsplit("/", 1)[-1]}

    def unsubscribe(self, token: str) -> Subject:
        """One click: no more offers to this shopper on any channel."""
        try:
            data = tokens.verify(UNSUBSCRIBE_PURPOSE, token, self._settings.token_signing_key)
            subject = Subject(str(data["k"]), str(data["i"]))
        except (tokens.InvalidSignedToken, KeyError):
            raise NotFound("this unsubscribe link is not valid") from None
        if subject.kind not in ("user", "anon"):
            raise NotFound("this unsubscribe link is not valid")
        for _attempt in range(5):
            profile = self._store.get_profile(subject) or Profile(subject)
            if profile.unsubscribed_at:
                return subject
            try:
                self._store.save_profile(replace(profile, unsubscribed_at=iso(self._clock.now())))
                return subject
            except Conflict:
                continue
        raise RetryableError("profile kept changing; try again")

    def ses_feedback(self, message: str) -> list[str]:
        """An SES notification (via SNS): suppress permanently bounced and complaining addresses."""
        try:
            data = json.loads(message)
        except ValueError:
            return []
        if not isinstance(data, dict):
            return []
        kind = data.get("notificationType") or data.get("eventType")
        if kind == "Delivery":
            self._delivered(data)
            return []
        recipients: list[str] = []
        if kind == "Bounce" and (data.get("bounce") or {}).get("bounceType") == "Permanent":
            recipients = [r.get("emailAddress", "") for r in data["bounce"].get("bouncedRecipients", [])]
            reason = "bounce"
        elif kind == "Complaint":
            recipients = [
                r.get("emailAddress", "")
                for r in (data.get("complaint") or {}).get("complainedRecipients", [])
            ]
            reason = "complaint"
        suppressed = []
        for address in recipients:
            if isinstance(address, str) and "@" in address:
                self._addresses.suppress(address, reason, iso(self._clock.now()))
                suppressed.append(address)
        return suppressed

    def _delivered(self, data: dict[str, Any]) -> None:
        """SES delivered an offer's email: count ``delivered`` once (the offer is found by the
        redemption code the message was tagged with)."""
        if self._ledger is None or self._engagement is None:
            return
        mail = data.get("mail") or {}
        tags = mail.get("tags") or {}
        codes = tags.get("code") if isinstance(tags, dict) else None
        code = codes[0] if isinstance(codes, list) and codes and isinstance(codes[0], str) else None
        if not code:
            return
        found = self._ledger.find_by_code(code.strip().upper())
        if found is None:
            return
        delivery = data.get("delivery") or {}
        try:
            at = datetime.fromisoformat(
                str(delivery.get("timestamp") or mail.get("timestamp")).replace("Z", "+00:00")
            )
        except ValueError:
            at = self._clock.now()
        if at.tzinfo is None:
            at = self._clock.now()
        self._engagement.delivered(found[0], found[1], at)
