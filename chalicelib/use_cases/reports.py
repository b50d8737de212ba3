"""Reports for marketers and operators (admin API ``/admin/reports/...``, ``/admin/dashboard``
and ``python -m cli reports``): the funnel from moments to redemptions, per-campaign results
with holdout lift, engagement over time, peak hours in each store's local time, lift, and why
offers were suppressed. Everything is computed from the counters (no scans of the ledger):
moment counters per UTC hour (``domain/counters.py``) and offer counters per campaign, UTC
hour, store and moment type (``domain/offer_stats.py``); the arithmetic is
``domain/reports.py``.

Every report takes the same query parameters: ``from`` / ``to`` (UTC days, inclusive; default
the last 7 days up to today; at most 92 days), ``store``, ``campaign`` and ``moment`` (a moment
type), and echoes them as ``filters``. Only campaigns that can have counters in the range are
read (``domain/reports.may_have_counts``: created before the range ends, and not archived or
ended more than ``COUNTED_AFTER_END`` before it starts), so the reads grow with the campaigns
live in the range, not with every campaign ever made. Campaigns listed are those, except
archived ones with nothing counted in the range (with ``campaign``, just that one; an unknown id
is a 400). Long lists come in pages (``offset``, ``limit``; the answer's ``page`` says the
``total`` and the ``next_offset``): campaigns, lift and suppression's ``by_campaign`` at most
``PAGE_LIMIT`` (1,000) rows, engagement at most ``PAGE_POINTS`` (40,000) points of series, so
every answer stays far below Lambda's 6 MB response limit.

Imports no AWS SDK and no web framework.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cached_property
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain import reports
from chalicelib.domain.campaigns import TRIGGER_MOMENTS, Campaign
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.offer_stats import NO_STORE
from chalicelib.domain.ports import DistinctSketches
from chalicelib.settings import Settings

Params = Mapping[str, Any]
OPTION_CAMPAIGNS = 500  # campaigns offered in the dashboard's filter (any id works in the URL)
logger = logging.getLogger(__name__)


class CampaignList(Protocol):
    def list(self) -> list[Campaign]: ...


class StoreList(Protocol):
    """Stores with ``store_id``, ``name`` and ``timezone`` (``adapters/dynamodb_fences``)."""

    def list(self) -> list[dict[str, Any]]: ...


class CounterReader(Protocol):
    """The counters (``adapters/dynamodb_stats.DynamoDBStats``)."""

    def hourly(self, scopes: Sequence[str], hours: Sequence[str]) -> dict[str, dict[str, dict[str, int]]]:
        """scope -> hour (YYYYMMDDHH) -> counters of ``STAT#{scope}#{hour}``."""
        ...

    def offers(
        self, campaign_ids: Sequence[str], first_hour: str, last_hour: str
    ) -> dict[str, list[tuple[str, dict[str, int]]]]:
        """campaign -> [(sort key ``{hour}#{store}``, counters)]."""
        ...


class _Data:
    """What one request reads, each part at most once (the dashboard shares it across its
    reports)."""

    def __init__(self, owner: Reports, filters: reports.Filters) -> None:
        self.owner = owner
        self.filters = filters

    @cached_property
    def all_campaigns(self) -> list[Campaign]:
        return sorted(self.owner._campaigns.list(), key=lambda c: c.id)

    @cached_property
    def campaigns(self) -> list[Campaign]:
        """The campaigns the filters cover (the one asked for, else all)."""
        wanted = self.filters.campaign
        if wanted is None:
            return self.all_campaigns
        chosen = [c for c in self.all_campaigns if c.id == wanted]
        if not chosen:
            raise InvalidInput([FieldError("campaign", f"no campaign {wanted!r}")])
        return chosen

    @cached_property
    def read_campaigns(self) -> list[Campaign]:
        """The campaigns whose counters are read: those covered by the filters that can have
        counters in the range (``reports.may_have_counts``: created before its end, not
        archived or ended more than ``COUNTED_AFTER_END`` before its start). So a deployment's
        thousands of archived campaigns cost nothing: reads grow with the live ones only."""
        return [c for c in self.campaigns if reports.may_have_counts(c, self.filters)]

    @cached_property
    def offers(self) -> list[reports.OfferCount]:
        """Every offer counter in the range and filters."""
        f = self.filters
        items = self.owner._stats.offers([c.id for c in self.read_campaigns], f.first_hour, f.last_hour)
        counts = [
            count
            for campaign_id, rows in items.items()
            for sort_key, counters in rows
            for count in reports.offer_counts(campaign_id, sort_key, counters)
        ]
        return reports.select(counts, f)

    @cached_property
    def totals(self) -> dict[str, int]:
        return reports.totals(self.offers)

    @cached_property
    def per_campaign(self) -> dict[str, dict[str, int]]:
        return reports.by_campaign(self.offers)

    def listed_campaigns(self) -> list[Campaign]:
        """The campaigns a report lists: those read, archived ones only with something counted."""
        return [
            c
            for c in self.read_campaigns
            if c.status != "archived" or any(self.per_campaign.get(c.id, {}).values())
        ]

    @cached_property
    def moment_types(self) -> list[str] | None:
        """Moment types counted as moments: the filter's, and/or the campaign's trigger."""
        types = None if self.filters.moment is None else {self.filters.moment}
        if self.filters.campaign is not None:
            trigger = {self.campaigns[0].trigger.moment}
            types = trigger if types is None else types & trigger
        return None if types is None else sorted(types)

    @cached_property
    def stores(self) -> list[dict[str, Any]]:
        return sorted(self.owner._stores.list(), key=lambda s: str(s.get("store_id")))

    def funnel_stores(self) -> list[str] | None:
        """The stores whose moments the funnel counts (None: every store and none): the
        ``store`` filter's, and/or a campaign's own stores when its trigger names any (a moment
        elsewhere could never be eligible for it)."""
        stores = None if self.filters.store is None else [self.filters.store]
        if self.filters.campaign is not None and self.campaigns[0].trigger.store_ids:
            own = sorted(set(self.campaigns[0].trigger.store_ids))
            stores = own if stores is None else [s for s in stores if s in own]
        return stores

    def moments(self) -> int:
        """The funnel's first step: moments of the types that can trigger an offer (or of the
        types asked for; a campaign's trigger type with ``campaign``), from the stores'
        scopes when ``funnel_stores`` names stores, else from the deployment's shards."""
        f = self.filters
        stores = self.funnel_stores()
        if stores == []:
            return 0
        if stores is not None:
            scopes = [f"store#{s}" for s in stores]
        else:
            scopes = [f"all#s{n}" for n in range(max(1, self.owner._settings.stat_shards))]
        types = self.moment_types if self.moment_types is not None else list(TRIGGER_MOMENTS)
        items = self.owner._stats.hourly(scopes, f.hours())
        merged = reports.merge_hours(*items.values())
        return sum(reports.moments_by_hour(merged, types).values())

    def shoppers(self) -> int | None:
        """Daily active shoppers summed over the range's UTC days (shopper-days; approximate,
        see process_events.first_of_day): ``active`` in the hourly ``all`` items, plus the daily
        ``STAT#shoppers#s{n}`` items written before. Not kept per store, campaign or moment
        type: None when one of those filters is set."""
        f = self.filters
        if f.store is not None or f.campaign is not None or f.moment is not None:
            return None
        shards = range(max(1, self.owner._settings.stat_shards))
        hourly = self.owner._stats.hourly([f"all#s{n}" for n in shards], f.hours())
        daily = self.owner._stats.hourly(
            [f"shoppers#s{n}" for n in shards], [d.strftime("%Y%m%d") for d in f.days()]
        )
        return sum(
            int(c.get("active", 0))
            for items in (hourly, daily)
            for per in items.values()
            for c in per.values()
        )

    def unique_shoppers(self) -> int | None:
        """Distinct shoppers over the whole range, estimated from the daily HyperLogLog sketches
        (domain/distinct.py: about 3 % standard error; a shopper active on several days counts
        once). Deployment-wide only: None with a store, campaign or moment filter."""
        f = self.filters
        if (
            self.owner._distinct is None
            or f.store is not None
            or f.campaign is not None
            or f.moment is not None
        ):
            return None
        from chalicelib.domain import distinct

        sketches = self.owner._distinct.sketches([d.strftime("%Y%m%d") for d in f.days()])
        return distinct.estimate(distinct.merge(sketches.values()))

    def store_moments(self, store_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """store -> UTC hour -> moments."""
        items = self.owner._stats.hourly([f"store#{s}" for s in store_ids], self.filters.hours())
        return {
            scope.removeprefix("store#"): reports.moments_by_hour(hours, self.moment_types)
            for scope, hours in items.items()
        }


def _warn_inconsistent(rows: Sequence[Mapping[str, Any]]) -> None:
    """A guard, not a fix: cohort counters never have more converters than users, so this only
    logs counters from before cohorts (domain/offer_stats.cohort_counter's fallback)."""
    for row in rows:
        if row["lift"]["status"] == "inconsistent":
            logger.warning(
                "lift: more converters than users for campaign %s (counters from before cohorts?): %s",
                row["campaign_id"],
                {g: row["lift"][g] for g in ("treatment", "holdout")},
            )


class Reports:
    def __init__(
        self,
        campaigns: CampaignList,
        stores: StoreList,
        stats: CounterReader,
        settings: Settings,
        clock: Clock,
        distinct: DistinctSketches | None = None,
    ) -> None:
        self._campaigns = campaigns
        self._stores = stores
        self._stats = stats
        self._settings = settings
        self._clock = clock
        self._distinct = distinct

    def _today(self) -> date:
        return self._clock.now().date()

    def _data(self, params: Params, **options: Sequence[str]) -> tuple[_Data, dict[str, str]]:
        filters, chosen = reports.parse_query(params, self._today(), options)
        return _Data(self, filters), chosen

    @staticmethod
    def _page(rows: Sequence[Any], params: Params, default_limit: int = reports.PAGE_LIMIT) -> Any:
        """One page of ``rows`` (``offset`` / ``limit``) and the page's description."""
        offset, limit = reports.parse_page(params, default_limit)
        return reports.page(rows, offset, limit)

    # -- 1. funnel --------------------------------------------------------------------------
    def funnel(self, params: Params) -> dict[str, Any]:
        data, _ = self._data(params)
        return self._funnel(data)

    def _funnel(self, data: _Data) -> dict[str, Any]:
        return {
            "filters": data.filters.as_dict(),
            **reports.funnel(data.moments(), data.totals),
            "shoppers": data.shoppers(),
            "unique_shoppers": data.unique_shoppers(),
        }

    # -- 2. campaigns -----------------------------------------------------------------------
    def campaigns(self, params: Params) -> dict[str, Any]:
        data, _ = self._data(params)
        return self._campaign_report(data, params)

    def _campaign_report(self, data: _Data, params: Params) -> dict[str, Any]:
        rows = [
            reports.campaign_row(c.id, c.name, c.status, data.per_campaign.get(c.id, {}))
            for c in data.listed_campaigns()
        ]
        _warn_inconsistent(rows)
        shown, described = self._page(reports.sort_campaign_rows(rows), params)
        return {
            "filters": data.filters.as_dict(),
            "lift_cohort": reports.LIFT_COHORT,
            "campaigns": shown,
            "page": described,
        }

    # -- 3. engagement ----------------------------------------------------------------------
    def engagement(self, params: Params) -> dict[str, Any]:
        data, chosen = self._data(params, by=reports.BY, interval=reports.INTERVALS)
        return self._engagement(data, chosen["by"], chosen["interval"], params)

    def _engagement(self, data: _Data, by: str, interval: str, params: Params) -> dict[str, Any]:
        labels: dict[str, str] = {}
        if by == "campaign":
            labels = {c.id: c.name for c in data.campaigns}
        elif by == "store":
            labels = {str(s["store_id"]): str(s.get("name") or s["store_id"]) for s in data.stores}
            labels[NO_STORE] = "(no store)"
        series = reports.engagement(data.offers, data.filters, by, interval, labels)
        buckets = len(reports.bucket_labels(data.filters, interval))
        shown, described = self._page(series, params, max(1, reports.PAGE_POINTS // buckets))
        return {
            "filters": data.filters.as_dict(),
            "by": by,
            "interval": interval,
            "series": shown,
            "page": described,
        }

    # -- 4. peak hours ----------------------------------------------------------------------
    def peak_hours(self, params: Params) -> dict[str, Any]:
        data, chosen = self._data(params, metric=reports.PEAK_METRICS)
        return self._peak_hours(data, chosen["metric"])

    def _zone(self, store: Mapping[str, Any]) -> tuple[ZoneInfo, str]:
        name = str(store.get("timezone") or self._settings.default_timezone)
        try:
            return ZoneInfo(name), name
        except (ValueError, KeyError, OSError):
            fallback = self._settings.default_timezone
            return ZoneInfo(fallback), fallback

    def _peak_hours(self, data: _Data, metric: str) -> dict[str, Any]:
        wanted = data.filters.store
        if wanted is not None:
            known = {str(s["store_id"]): s for s in data.stores}
            stores = [known.get(wanted) or {"store_id": wanted, "name": None}]
        else:
            stores = data.stores
        ids = [str(s["store_id"]) for s in stores]
        if metric == "moments":
            by_store = data.store_moments(ids)
        else:
            by_store = reports.offers_by_store_hour(data.offers, metric)
        rows = []
        for store in stores:
            zone, zone_name = self._zone(store)
            store_id = str(store["store_id"])
            matrix = reports.local_matrix(by_store.get(store_id, {}), zone)
            aligned = reports.hour_aligned(zone, data.filters)
            rows.append(reports.peak_store(store_id, store.get("name"), zone_name, matrix, aligned))
        return {
            "filters": data.filters.as_dict(),
            "metric": metric,
            "bucketing": reports.PEAK_BUCKETING,
            "stores": rows,
        }

    # -- 5. lift ----------------------------------------------------------------------------
    def lift(self, params: Params) -> dict[str, Any]:
        data, _ = self._data(params)
        rows = [
            {"campaign_id": c.id, "name": c.name, **reports.lift_of(data.per_campaign.get(c.id, {}))}
            for c in data.listed_campaigns()
        ]
        _warn_inconsistent([{**row, "lift": row} for row in rows])
        shown, described = self._page(rows, params)
        return {
            "filters": data.filters.as_dict(),
            "cohort": reports.LIFT_COHORT,
            "campaigns": shown,
            "page": described,
        }

    # -- 6. suppression ---------------------------------------------------------------------
    def suppression(self, params: Params) -> dict[str, Any]:
        data, _ = self._data(params)
        return self._suppression(data, params)

    def _suppression(self, data: _Data, params: Params) -> dict[str, Any]:
        rows = [(c.id, c.name, data.per_campaign.get(c.id, {})) for c in data.listed_campaigns()]
        report = reports.suppression(data.totals, rows)
        report["by_campaign"], described = self._page(report["by_campaign"], params)
        return {"filters": data.filters.as_dict(), **report, "page": described}

    # -- the dashboard ----------------------------------------------------------------------
    def dashboard(self, params: Params) -> dict[str, Any]:
        """What ``chalicelib.dashboard.render`` draws: the funnel, campaigns, peak hours,
        suppression and engagement (by campaign, per day) under one set of filters, the choices
        for the filter form, and when it was made. Counters are read once.

        The heatmaps show ``metric`` (like the peak-hours report: ``moments``, ``sent``,
        ``engaged``, ``redeemed``), by default ``moments``: every scan, visit and video watched
        is a shopper engaging with the store, so it is the densest picture of when a store is
        busy; ``engaged`` (offers opened or clicked) is counted when the shopper opens the
        message, often away from the store, so it says when offers get attention instead."""
        data, chosen = self._data(params, metric=reports.PEAK_METRICS)
        first_pages: dict[str, Any] = {}  # the dashboard shows the first page of each list
        busiest = sorted(
            data.read_campaigns, key=lambda c: (-data.per_campaign.get(c.id, {}).get("decided", 0), c.id)
        )
        return {
            "filters": {**data.filters.as_dict(), "metric": chosen["metric"]},
            "funnel": self._funnel(data),
            "campaigns": self._campaign_report(data, first_pages),
            "peak_hours": self._peak_hours(data, chosen["metric"]),
            "suppression": self._suppression(data, first_pages),
            "engagement": self._engagement(data, "campaign", "day", first_pages),
            "options": {
                "stores": [
                    {"store_id": s["store_id"], "name": s.get("name") or s["store_id"]} for s in data.stores
                ],
                # the campaigns that can have counts in the range, the busiest OPTION_CAMPAIGNS
                "campaigns": [
                    {"campaign_id": c.id, "name": c.name}
                    for c in sorted(busiest[:OPTION_CAMPAIGNS], key=lambda c: c.id)
                ],
                "moments": list(reports.MOMENT_TYPES),
                "metrics": list(reports.PEAK_METRICS),
            },
            "generated_at": iso(self._clock.now()),
        }
