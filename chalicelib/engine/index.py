"""Candidate campaigns for a moment, from an index by trigger type and the moment's most
selective fact.

Deciding must not scan every campaign: with 10,000 active campaigns a geofence entry at one
store should look at the handful that name that store, not at all of them. A campaign is listed
under one key, its most selective filter, and a moment looks up each key it could match:

- it names stores: ``(moment, store)`` for each store;
- else it names videos: ``(moment, video)``; else products: ``(moment, product)``; else
  categories: ``(moment, category)``;
- else it is chain-wide: ``moment`` alone.

Every campaign the engine could find eligible (``engine.rules.eligible``, which still checks
every filter) is among the candidates: a campaign listed under a video, product or category
needs that fact to match anyway. A campaign is listed under one kind of key only, so no
campaign is returned twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from chalicelib.domain.campaigns import Campaign

Key = tuple[str, str, str]  # (moment type, kind of fact, its value)


def index_keys(campaign: Campaign) -> list[Key] | None:
    """Where the campaign is listed; None: chain-wide (every moment of its type)."""
    trigger = campaign.trigger
    for kind, values in (
        ("store", trigger.store_ids),
        ("video", trigger.video_ids),
        ("product", trigger.product_ids),
        ("category", trigger.categories),
    ):
        if values:
            return [(trigger.moment, kind, v) for v in dict.fromkeys(values)]
    return None


class CampaignIndex:
    def __init__(self, campaigns: Iterable[Campaign]) -> None:
        self._keyed: dict[Key, list[Campaign]] = defaultdict(list)
        self._any: dict[str, list[Campaign]] = defaultdict(list)
        self.size = 0
        for campaign in campaigns:
            if not campaign.active:
                continue
            self.size += 1
            keys = index_keys(campaign)
            if keys is None:
                self._any[campaign.trigger.moment].append(campaign)
            for k in keys or ():
                self._keyed[k].append(campaign)

    def candidates(
        self,
        moment_type: str,
        store_id: str | None,
        product_id: str | None = None,
        category: str | None = None,
        video_id: str | None = None,
    ) -> list[Campaign]:
        """The campaigns that could be eligible for a moment with these facts (None: the
        moment has no such fact, so no campaign filtering on it can match)."""
        found = list(self._any.get(moment_type, ()))
        for kind, value in (
            ("store", store_id),
            ("video", video_id),
            ("product", product_id),
            ("category", category),
        ):
            if value is not None:
                found.extend(self._keyed.get((moment_type, kind, value), ()))
        return found
