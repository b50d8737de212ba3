"""Candidate campaigns for a moment, from an index by trigger type and store.

Deciding must not scan every campaign: with 10,000 active campaigns a geofence entry at one
store should look at the handful that name that store plus those that name no store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from chalicelib.domain.campaigns import Campaign


class CampaignIndex:
    def __init__(self, campaigns: Iterable[Campaign]) -> None:
        self._by_store: dict[tuple[str, str], list[Campaign]] = defaultdict(list)
        self._any_store: dict[str, list[Campaign]] = defaultdict(list)
        self.size = 0
        for campaign in campaigns:
            if not campaign.active:
                continue
            self.size += 1
            moment = campaign.trigger.moment
            if campaign.trigger.store_ids:
                for store_id in campaign.trigger.store_ids:
                    self._by_store[(moment, store_id)].append(campaign)
            else:
                self._any_store[moment].append(campaign)

    def candidates(self, moment_type: str, store_id: str | None) -> list[Campaign]:
        found = list(self._any_store.get(moment_type, ()))
        if store_id is not None:
            found.extend(self._by_store.get((moment_type, store_id), ()))
        return found
