"""Domain errors. Adapters translate AWS error codes into these; http_errors maps them to HTTP.

Callers never catch botocore's ClientError: they catch one of these.
"""

from __future__ import annotations

from dataclasses import dataclass


class MicromomentsError(Exception):
    """Base of every error the application raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a request, named by its dotted path (``properties.store_id``)."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InvalidInput(MicromomentsError):
    """The caller sent something we cannot accept; ``errors`` names every bad field."""

    def __init__(self, errors: list[FieldError], message: str = "invalid input") -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class PayloadTooLarge(MicromomentsError):
    """Body or batch over the documented limit."""


class Unauthorized(MicromomentsError):
    """Missing or wrong credentials."""


class NotFound(MicromomentsError):
    """The thing asked for does not exist (or must look as if it did not)."""


class RetryableError(MicromomentsError):
    """A dependency is throttling or unavailable; the same request can succeed later."""


class Conflict(MicromomentsError):
    """A conditional write lost: someone else changed the item first."""


class DuplicateMessage(MicromomentsError):
    """This messageId has been processed already: nothing must change twice."""


class PoisonMessage(MicromomentsError):
    """A queue message that can never be processed (unparseable, unknown version)."""
