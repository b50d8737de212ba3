"""SNS mobile push implementation of ``PushSender``: platform endpoints and their payloads.

``register(platform, token, user_data)`` follows AWS's recommended endpoint management:
CreatePlatformEndpoint (idempotent for the same token and attributes); when SNS answers
``InvalidParameter ... Endpoint <arn> already exists with the same Token, but different
attributes`` the ARN is taken from that message; then GetEndpointAttributes, and
SetEndpointAttributes (``Enabled=true``, ``CustomUserData``) when the endpoint is disabled or
carries other user data. So registering a token always returns one ARN per token, enabled.
If the endpoint vanishes between those calls (``NotFound``), it is created once more.
``platform`` must be ``ios`` or ``android`` with an application ARN configured, otherwise
``DeliveryRejected("platform_not_configured")``, which is also the reason when SNS does not
know the application.

``send`` publishes one ``MessageStructure="json"`` message with:
- ``default``: the body (any other protocol);
- ``APNS`` and ``APNS_SANDBOX``: ``{"aps": {"alert": {"title", "body"}, "sound": "default"},
  "offer_id", "deep_link", **data}`` (custom keys outside ``aps``, as Apple requires);
- ``GCM``: the FCM HTTP v1 shape SNS accepts, ``{"fcmV1Message": {"message": {"notification":
  {"title", "body"}, "data": {...}}}}``, ``data`` holding ``offer_id``, ``deep_link`` and the
  custom data with every value a string (FCM refuses anything else; non-strings are JSON).
Custom data never overrides ``aps``, ``offer_id`` or ``deep_link``.

Errors (``aws_errors.translated_delivery``): ``EndpointDisabled`` -> ``EndpointDisabled``;
``Throttled``/``Throttling``/``KMSThrottling``, 5xx and network failures -> ``RetryableError``;
``InvalidParameter``/``ParameterValueInvalid`` -> ``DeliveryRejected("invalid_parameter")``;
``NotFound`` -> ``"endpoint_not_found"`` on Publish (the endpoint was deleted: the device is
gone) and ``"platform_not_configured"`` on CreatePlatformEndpoint;
``PlatformApplicationDisabled`` (expired APNs certificate or FCM key) ->
``"platform_application_disabled"``. Access denied propagates.

Imports only the stdlib, botocore and the domain; the boto3 ``sns`` client is injected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.adapters.aws_errors import error_code, error_message, translated_delivery
from chalicelib.domain.delivery import PLATFORMS, DeliveryRejected, PushMessage

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
else:
    SNSClient = Any

_EXISTING_ENDPOINT = re.compile(r"Endpoint (arn:\S+) already exists with the same Token")
_RESERVED_APNS_KEYS = ("aps", "offer_id", "deep_link")
ENDPOINT_GONE = "endpoint_not_found"


def existing_endpoint_arn(exc: ClientError) -> str | None:
    """The ARN in SNS's "already exists with the same Token, but different attributes"."""
    if error_code(exc) != "InvalidParameter":
        return None
    match = _EXISTING_ENDPOINT.search(error_message(exc))
    return match[1] if match else None


def _string(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)


def push_payload(message: PushMessage) -> dict[str, str]:
    """The ``MessageStructure="json"`` message: one JSON string per platform."""
    links = {"offer_id": message.offer_id}
    if message.deep_link:
        links["deep_link"] = message.deep_link
    custom = {str(k): v for k, v in message.data.items() if str(k) not in _RESERVED_APNS_KEYS}
    apns = {
        **custom,
        **links,
        "aps": {"alert": {"title": message.title, "body": message.body}, "sound": "default"},
    }
    fcm_data = {**{k: _string(v) for k, v in custom.items()}, **links}
    fcm = {
        "fcmV1Message": {
            "message": {
                "notification": {"title": message.title, "body": message.body},
                "data": fcm_data,
            }
        }
    }
    apns_text = json.dumps(apns, ensure_ascii=False)
    return {
        "default": message.body,
        "APNS": apns_text,
        "APNS_SANDBOX": apns_text,
        "GCM": json.dumps(fcm, ensure_ascii=False),
    }


class SnsPushSender:
    def __init__(self, client: SNSClient, platform_app_arns: Mapping[str, str | None]) -> None:
        self._client = client
        self._apps = {p: arn for p, arn in platform_app_arns.items() if p in PLATFORMS and arn}

    def register(self, platform: str, token: str, user_data: str) -> str:
        app_arn = self._apps.get(platform)
        if not app_arn:
            raise DeliveryRejected("platform_not_configured", f"no SNS platform application for {platform!r}")
        if not token.strip():
            raise DeliveryRejected("invalid_token", "empty device token")
        for _attempt in range(2):
            arn = self._create_endpoint(app_arn, token, user_data)
            try:
                self._enable(arn, user_data)
            except DeliveryRejected as exc:
                if exc.reason == ENDPOINT_GONE:  # deleted meanwhile: create it again
                    continue
                raise
            return arn
        raise DeliveryRejected(ENDPOINT_GONE, "the endpoint was deleted while registering")

    def _create_endpoint(self, app_arn: str, token: str, user_data: str) -> str:
        with translated_delivery("CreatePlatformEndpoint", {"NotFound": "platform_not_configured"}):
            try:
                response = self._client.create_platform_endpoint(
                    PlatformApplicationArn=app_arn, Token=token, CustomUserData=user_data
                )
            except ClientError as exc:
                existing = existing_endpoint_arn(exc)
                if existing is None:
                    raise
                return existing
            return str(response["EndpointArn"])

    def _enable(self, arn: str, user_data: str) -> None:
        gone = {"NotFound": ENDPOINT_GONE}
        with translated_delivery("GetEndpointAttributes", gone):
            attributes = self._client.get_endpoint_attributes(EndpointArn=arn)["Attributes"]
        if attributes.get("Enabled", "").lower() == "true" and attributes.get("CustomUserData") == user_data:
            return
        with translated_delivery("SetEndpointAttributes", gone):
            self._client.set_endpoint_attributes(
                EndpointArn=arn, Attributes={"Enabled": "true", "CustomUserData": user_data}
            )

    def send(self, message: PushMessage) -> str:
        if not message.endpoint_arn.startswith("arn:"):
            raise DeliveryRejected("invalid_endpoint", "the endpoint must be an SNS endpoint ARN")
        body = json.dumps(push_payload(message), ensure_ascii=False)
        with translated_delivery("Publish", {"NotFound": ENDPOINT_GONE}):
            response = self._client.publish(
                TargetArn=message.endpoint_arn, MessageStructure="json", Message=body
            )
        return str(response["MessageId"])
