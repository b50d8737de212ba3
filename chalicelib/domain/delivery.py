"""Ports for delivering an offer: email (SES), push (SNS platform endpoints) and SMS (SNS).

Senders raise ``RetryableError`` for throttling and outages (the worker retries through SQS
without a second message reaching the user), ``EndpointDisabled`` when a push endpoint is
dead (the device is disabled on the profile), and ``DeliveryRejected`` for any other
permanent refusal (the offer is recorded as not sent, with the provider's reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.domain.errors import MicromomentsError

CHANNELS = ("push", "sms", "email")
PLATFORMS = ("ios", "android")


class DeliveryRejected(MicromomentsError):
    """The provider refused this message for good (bad address, rejected content...)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class EndpointDisabled(DeliveryRejected):
    """The push endpoint is disabled (app uninstalled, token expired)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("endpoint_disabled", detail)


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    html: str
    text: str
    unsubscribe_url: str  # RFC 8058 one-click target (POST) and the visible link (GET)
    offer_id: str
    tags: dict[str, str] = field(default_factory=dict)  # SES message tags, e.g. campaign


@dataclass(frozen=True)
class PushMessage:
    endpoint_arn: str
    platform: str  # "ios" | "android"
    title: str
    body: str
    offer_id: str
    deep_link: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SmsMessage:
    phone: str  # E.164
    text: str  # at most 160 characters
    offer_id: str


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> str:
        """Send; returns the provider's message id."""
        ...


class PushSender(Protocol):
    def register(self, platform: str, token: str, user_data: str) -> str:
        """Create (or update and re-enable) the platform endpoint for a device token; returns its ARN."""
        ...

    def send(self, message: PushMessage) -> str: ...


class SmsSender(Protocol):
    def opted_out(self, phone: str) -> bool:
        """True if the number has opted out of SMS (SNS CheckIfPhoneNumberIsOptedOut)."""
        ...

    def send(self, message: SmsMessage) -> str: ...
