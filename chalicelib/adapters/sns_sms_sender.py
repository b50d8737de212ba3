"""SNS implementation of ``SmsSender``: direct-to-phone Publish and the opt-out check.

- Numbers must be E.164 (``+`` then 7 to 15 digits, no leading zero, nothing else), or
  ``DeliveryRejected("invalid_phone")``, for both ``opted_out`` and ``send``.
- ``opted_out`` is CheckIfPhoneNumberIsOptedOut; ``send`` does not call it (the caller checks
  consent and opt-out first, and records a suppression with its reason).
- ``send`` publishes at most 160 characters, with ``AWS.SNS.SMS.SMSType`` (Promotional or
  Transactional), ``AWS.SNS.SMS.MaxPrice`` (AWS types it ``Number``: the value is sent as a
  decimal string, never in exponent form) and ``AWS.SNS.SMS.SenderID`` when one is configured
  (1-11 letters or digits, at least one letter; checked when the sender is built).
- An empty text is refused: ``DeliveryRejected("empty_message")``.

Errors (``aws_errors.translated_delivery``): ``Throttled``/``Throttling``, 5xx and network
failures -> ``RetryableError``; ``InvalidParameter``/``ParameterValueInvalid`` ->
``DeliveryRejected("invalid_parameter")``; access denied propagates.

Imports only the stdlib and the domain (botocore through ``aws_errors``); the boto3 ``sns``
client is injected.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.aws_errors import translated_delivery
from chalicelib.domain.delivery import DeliveryRejected, SmsMessage

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
else:
    SNSClient = Any

MAX_SMS_CHARACTERS = 160
SMS_TYPES = ("Promotional", "Transactional")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_SENDER_ID = re.compile(r"(?=[0-9]*[A-Za-z])[A-Za-z0-9]{1,11}")


def valid_phone(phone: str) -> bool:
    return _E164.fullmatch(phone) is not None


def price_text(price: float) -> str:
    """0.5 -> "0.5", 0.00645 -> "0.00645" (``str`` would give 1e-05 for small prices)."""
    return format(Decimal(repr(price)).normalize(), "f")


class SnsSmsSender:
    def __init__(
        self, client: SNSClient, sender_id: str | None, max_price_usd: float, sms_type: str = "Promotional"
    ) -> None:
        if sender_id and not _SENDER_ID.fullmatch(sender_id):
            raise ValueError(f"an SMS sender id is 1-11 letters or digits with a letter: {sender_id!r}")
        if sms_type not in SMS_TYPES:
            raise ValueError(f"the SMS type must be one of {', '.join(SMS_TYPES)}: {sms_type!r}")
        if not (math.isfinite(max_price_usd) and max_price_usd >= 0):
            raise ValueError(f"the SMS max price must be a non-negative number: {max_price_usd!r}")
        self._client = client
        self._attributes: dict[str, dict[str, str]] = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": sms_type},
            "AWS.SNS.SMS.MaxPrice": {"DataType": "Number", "StringValue": price_text(max_price_usd)},
        }
        if sender_id:
            self._attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": sender_id}

    def opted_out(self, phone: str) -> bool:
        _check_phone(phone)
        with translated_delivery("CheckIfPhoneNumberIsOptedOut"):
            response = self._client.check_if_phone_number_is_opted_out(phoneNumber=phone)
        return bool(response["isOptedOut"])

    def send(self, message: SmsMessage) -> str:
        _check_phone(message.phone)
        if not message.text.strip():
            raise DeliveryRejected("empty_message", "an SMS needs text")
        with translated_delivery("Publish SMS"):
            response = self._client.publish(
                PhoneNumber=message.phone,
                Message=message.text[:MAX_SMS_CHARACTERS],
                MessageAttributes=self._attributes,
            )
        return str(response["MessageId"])


def _check_phone(phone: str) -> None:
    if not valid_phone(phone):
        raise DeliveryRejected("invalid_phone", "the phone number must be E.164, like +14155550123")
