"""The one place that maps AWS failures onto domain errors.

Throttling, 5xx and network failures -> ``RetryableError`` (the caller answers 503 or lets
SQS retry); a failed condition -> ``Conflict``. Anything else is a bug or a misconfiguration
and propagates unchanged, so it is logged loudly rather than disguised as "try again".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    ClientError,
    HTTPClientError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

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
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


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
