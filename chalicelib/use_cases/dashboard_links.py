"""Signed, expiring links to the dashboard, for a browser that cannot sign requests.

A deployed stage's ``/admin`` routes take IAM (SigV4) signed requests only, which a phone's
browser cannot make. An admin (IAM) asks for a link: ``POST /admin/dashboard/links`` or
``python -m cli reports dashboard-link``. The link is ``{public base URL}/dashboard/{token}``,
where the token is HMAC-signed (``domain/tokens.py``: purpose ``dashboard``, compared in
constant time) and carries its expiry and who asked for it. Whoever holds the link can read the
dashboard (counts and rates, no shopper's data) until it expires: at most ``MAX_HOURS``, by
default ``DEFAULT_HOURS``. Revoking every link early means rotating the token signing key
(which also ends unsubscribe links and offer click links, so prefer short links).

The page's filter form submits to the link's own path, so filtering works through the link.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain import tokens
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound
from chalicelib.settings import Settings

PURPOSE = "dashboard"
DEFAULT_HOURS = 12
MAX_HOURS = 7 * 24


@dataclass(frozen=True)
class DashboardLink:
    url: str
    expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "expires_at": iso(self.expires_at)}


class DashboardLinks:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock

    def mint(self, hours: Any, by: str) -> DashboardLink:
        """A link valid for ``hours`` (default ``DEFAULT_HOURS``, at most ``MAX_HOURS``)."""
        if hours is None:
            hours = DEFAULT_HOURS
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= MAX_HOURS:
            raise InvalidInput(
                [FieldError("hours", f"must be a number of hours above 0 and at most {MAX_HOURS}")]
            )
        if not self._settings.public_base_url:
            raise InvalidInput(
                [
                    FieldError(
                        "MM_PUBLIC_BASE_URL",
                        "this stage has no public base URL to link to (make deploy sets it)",
                    )
                ]
            )
        expires = self._clock.now().astimezone(UTC) + timedelta(hours=hours)
        token = tokens.sign(
            PURPOSE,
            {"exp": math.floor(expires.timestamp()), "by": by[:200]},
            self._settings.token_signing_key,
        )
        return DashboardLink(
            f"{self._settings.public_base_url}/dashboard/{token}", expires.replace(microsecond=0)
        )

    def check(self, token: str) -> None:
        """NotFound (one message whatever the cause) unless the token is ours and not expired."""
        try:
            data = tokens.verify(PURPOSE, token, self._settings.token_signing_key)
            expires = int(data["exp"])
        except (tokens.InvalidSignedToken, KeyError, TypeError, ValueError):
            raise NotFound("this dashboard link is not valid") from None
        if self._clock.now().timestamp() >= expires:
            raise NotFound("this dashboard link has expired: ask for a new one")
