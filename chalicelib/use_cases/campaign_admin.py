"""Marketers' campaign management: create, list, get, replace, pause, resume, archive."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.campaigns import STATUSES, Campaign, parse_campaign, with_status
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from chalicelib.domain.ports import CampaignRepository


class CampaignAdmin:
    def __init__(self, repository: CampaignRepository, clock: Clock, on_change: Any = None) -> None:
        self._repository = repository
        self._clock = clock
        self._on_change = on_change  # e.g. drop this Lambda's campaign cache

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def create(self, body: Any) -> Campaign:
        campaign = parse_campaign(body, iso(self._clock.now()))
        try:
            self._repository.put(campaign, None)
        except Conflict:
            raise InvalidInput([FieldError("id", f"a campaign with id {campaign.id!r} exists")]) from None
        self._changed()
        return campaign

    def get(self, campaign_id: str) -> Campaign:
        campaign = self._repository.get(campaign_id)
        if campaign is None:
            raise NotFound(f"no campaign {campaign_id!r}")
        return campaign

    def list(self, status: str | None = None) -> list[Campaign]:
        if status is not None and status not in STATUSES:
            raise InvalidInput([FieldError("status", f"must be one of {', '.join(STATUSES)}")])
        campaigns = self._repository.list()
        if status is not None:
            campaigns = [c for c in campaigns if c.status == status]
        return sorted(campaigns, key=lambda c: (-c.priority, c.id))

    def replace(self, campaign_id: str, body: Any) -> Campaign:
        existing = self.get(campaign_id)
        campaign = parse_campaign(body, iso(self._clock.now()), existing)
        self._repository.put(campaign, existing.updated_at)
        self._changed()
        return campaign

    def set_status(self, campaign_id: str, status: str) -> Campaign:
        existing = self.get(campaign_id)
        if existing.status == "archived" and status != "archived":
            raise InvalidInput([FieldError("status", "an archived campaign cannot be reopened; copy it")])
        campaign = with_status(existing, status, iso(self._clock.now()))
        self._repository.put(campaign, existing.updated_at)
        self._changed()
        return campaign
