"""The one place that maps AWS failures onto domain errors.

Throttling, 5xx and network failures -> ``RetryableError`` (the caller answers 503 or lets
SQS retry); a failed condition -> ``Conflict``. Anything else is a bug or a misconfiguration
and propagates unchanged, so it is logged loudly rather than disguised as "try again".

Senders (SES, SNS) use ``translated_delivery``, which adds the permanent refusals of one
message: a disabled push endpoint -> ``EndpointDisabled``, and the codes in
``DELIVERY_REJECTIONS`` -> ``DeliveryRejected`` with a stable, snake_case reason. Access denied
and missing configuration (an SES configuration set that does not exist) still propagate.

Imports botocore and the domain only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from botocore.exceptions import (
    ClientError,
    HTTPClientError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from chalicelib.domain.delivery import DeliveryRejected, EndpointDisabled
from chalicelib.domain.errors import Conflict, RetryableError

RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionInProgressException",
        "KMSThrottlingException",
        "KMS.ThrottlingException",
        # SNS spells its throttling "Throttled" (and "KMSThrottling" for encrypted topics).
        "Throttled",
        "KMSThrottling",
        # SES v2 (sending quota reached), DynamoDB control plane: wait, then it works again.
        "LimitExceededException",
    }
)

# Permanent refusals of one message by SES v2 SendEmail or SNS: error code -> reason.
DELIVERY_REJECTIONS: dict[str, str] = {
    # SES v2
    "MessageRejected": "message_rejected",  # unverified sender/recipient (sandbox), virus, ...
    "MailFromDomainNotVerifiedException": "mail_from_domain_not_verified",
    "AccountSuspendedException": "account_suspended",
    # Paused by an operator or by SES for reputation: not over within the SQS retries, and an
    # offer is only worth something now, so it is recorded as not sent instead of retried.
    "SendingPausedException": "sending_paused",
    "BadRequestException": "bad_request",
    # SNS
    "InvalidParameter": "invalid_parameter",
    "ParameterValueInvalid": "invalid_parameter",
    "NotFound": "not_found",
    "PlatformApplicationDisabled": "platform_application_disabled",
}
ENDPOINT_DISABLED_CODE = "EndpointDisabled"


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


@contextmanager
def translated(operation: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code == "ConditionalCheckFailedException":
            raise Conflict(f"{operation}: condition failed") from exc
        if code in RETRYABLE_CODES or status >= 500:
            raise RetryableError(f"{operation}: {code or status}") from exc
        raise
    except (BotoConnectionError, HTTPClientError) as exc:
        raise RetryableError(f"{operation}: {type(exc).__name__}") from exc


@contextmanager
def translated_delivery(operation: str, reasons: Mapping[str, str] | None = None) -> Iterator[None]:
    """``translated`` plus the permanent refusals of a sender; ``reasons`` overrides the reason
    for some codes in this call (``{"NotFound": "platform_not_configured"}``)."""
    try:
        with translated(operation):
            yield
    except ClientError as exc:
        code = error_code(exc)
        detail = f"{operation}: {error_message(exc) or code}"
        if code == ENDPOINT_DISABLED_CODE:
            raise EndpointDisabled(detail) from exc
        reason = (reasons or {}).get(code) or DELIVERY_REJECTIONS.get(code)
        if reason:
            raise DeliveryRejected(reason, detail) from exc
        raise
