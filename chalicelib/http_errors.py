"""Domain errors -> HTTP responses, in one place.

Chalice turns an exception raised in a view into a 500 before any middleware sees it, so the
mapping is a decorator on each view rather than a middleware. Every error body is JSON:
``{"error": "<message>", "errors": [{"field": ..., "message": ...}]}``.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.domain.errors import (
    Conflict,
    InvalidInput,
    MicromomentsError,
    NotFound,
    PayloadTooLarge,
    RetryableError,
    Unauthorized,
)
from chalicelib.rate_limit import RateLimited
from chalicelib.settings import SettingsError

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "2"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})},
    )


def error_response(exc: Exception) -> Response:
    if isinstance(exc, InvalidInput):
        return json_response(400, {"error": exc.message, "errors": [e.as_dict() for e in exc.errors]})
    if isinstance(exc, PayloadTooLarge):
        return json_response(413, {"error": str(exc)})
    if isinstance(exc, Unauthorized):
        return json_response(401, {"error": str(exc)}, {"WWW-Authenticate": 'Basic realm="micromoments"'})
    if isinstance(exc, NotFound):
        return json_response(404, {"error": str(exc)})
    if isinstance(exc, Conflict):
        return json_response(409, {"error": "the resource changed meanwhile; read it again and retry"})
    if isinstance(exc, RetryableError):
        logger.warning("dependency unavailable: %s", exc)
        return json_response(
            503,
            {"error": "temporarily unavailable, retry later", "retryable": True},
            {"Retry-After": RETRY_AFTER_SECONDS},
        )
    if isinstance(exc, RateLimited):
        return json_response(
            429,
            {"error": str(exc), "scope": exc.scope, "retryable": True, "retry_after": exc.retry_after},
            {"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, SettingsError):
        logger.error("misconfigured: %s", exc)
        return json_response(500, {"error": "the service is misconfigured; see its logs"})
    raise exc


def handles_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except (
            InvalidInput,
            PayloadTooLarge,
            Unauthorized,
            NotFound,
            RetryableError,
            Conflict,
            RateLimited,
            SettingsError,
        ) as exc:
            return error_response(exc)
        except MicromomentsError as exc:
            reason = getattr(exc, "reason", None)  # a refusal that explains itself (redemption)
            if reason is None:
                raise
            return json_response(409, {"error": f"refused: {reason}", "reason": reason})

    return wrapper
