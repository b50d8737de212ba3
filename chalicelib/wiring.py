"""The composition root: builds settings, AWS clients, adapters and use cases on first use.

Nothing is built at import time (moto must be in place first, ``chalice deploy`` imports
app.py, and cold starts pay for every import). ``override`` lets tests and benchmarks put
in-memory twins in place of AWS adapters; ``reset`` drops everything built so far.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from chalicelib.domain.clock import Clock, SystemClock
from chalicelib.settings import Settings


class Container:
    def __init__(self, **overrides: Any) -> None:
        for name, value in overrides.items():
            setattr(self, name, value)  # shadows the cached_property of the same name

    @cached_property
    def settings(self) -> Settings:
        import os

        env = dict(os.environ)
        prefix = env.get("MM_SSM_PARAMETER_PREFIX", "").strip()
        if prefix:  # deployed stages: secrets and deployment values from Parameter Store
            from chalicelib.adapters.aws_clients import make_client
            from chalicelib.adapters.ssm_parameters import load_parameters

            region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
            ssm = make_client("ssm", region=region, max_attempts=3, read_timeout=3)
            for name, value in load_parameters(ssm, prefix).items():
                env.setdefault(name, value)
        return Settings.from_env(env)

    @cached_property
    def clock(self) -> Clock:
        return SystemClock()

    def _client(self, service: str, **options: Any) -> Any:
        from chalicelib.adapters.aws_clients import make_client

        return make_client(service, region=self.settings.region, **options)

    # Ingest answers well within the API Lambda's 10 s timeout: at worst 2 attempts of
    # 1 s connect + 3 s read, then a 503 the SDK retries.
    @cached_property
    def sqs(self) -> Any:
        return self._client("sqs", max_attempts=2, read_timeout=3, connect_timeout=1)

    @cached_property
    def dynamodb(self) -> Any:
        return self._client("dynamodb", max_attempts=5, read_timeout=5)

    @cached_property
    def events_queue_url(self) -> str:
        if self.settings.events_queue_url:
            return self.settings.events_queue_url
        from chalicelib.adapters.sqs_event_queue import queue_url_for

        return queue_url_for(self.sqs, self.settings.events_queue_name)

    @cached_property
    def event_queue(self) -> Any:
        from chalicelib.adapters.sqs_event_queue import SqsEventQueue

        return SqsEventQueue(self.sqs, self.events_queue_url)

    @cached_property
    def acknowledger(self) -> Any:
        from chalicelib.adapters.sqs_acknowledger import SqsAcknowledger

        return SqsAcknowledger(self.sqs, self.events_queue_url)

    @cached_property
    def moment_store(self) -> Any:
        from chalicelib.adapters.dynamodb_moment_store import DynamoDBMomentStore

        return DynamoDBMomentStore(self.dynamodb, self.settings.table_name)

    @cached_property
    def app_keys(self) -> Any:
        from chalicelib.adapters.dynamodb_records import DynamoDBAppKeys

        return DynamoDBAppKeys(self.dynamodb, self.settings.table_name)

    @cached_property
    def qr_repository(self) -> Any:
        from chalicelib.adapters.dynamodb_records import DynamoDBQrCodes

        return DynamoDBQrCodes(self.dynamodb, self.settings.table_name)

    @cached_property
    def stores(self) -> Any:
        from chalicelib.adapters.dynamodb_records import DynamoDBStores

        return DynamoDBStores(self.dynamodb, self.settings.table_name)

    @cached_property
    def fences(self) -> Any:
        """Stores + the geofence cell index (cells cached per warm Lambda)."""
        from chalicelib.adapters.dynamodb_fences import DynamoDBFences

        return DynamoDBFences(self.dynamodb, self.settings.table_name, self.settings.fence_cache_ttl_seconds)

    @cached_property
    def store_admin(self) -> Any:
        from chalicelib.use_cases.stores import StoreAdmin

        return StoreAdmin(self.fences, self.clock)

    # Use cases
    @cached_property
    def write_keys(self) -> Any:
        from chalicelib.use_cases.authenticate import WriteKeyAuthenticator

        return WriteKeyAuthenticator(self.app_keys, self.settings)

    @cached_property
    def admin_auth(self) -> Any:
        from chalicelib.use_cases.authenticate import AdminAuthenticator

        return AdminAuthenticator(self.settings)

    @cached_property
    def ingest(self) -> Any:
        from chalicelib.use_cases.ingest import Ingest

        return Ingest(self.event_queue, self.clock, self.ingest_limits)

    @cached_property
    def ingest_limits(self) -> Any:
        """Token buckets per write key and per device, per warm container (no I/O)."""
        from chalicelib.rate_limit import IngestLimits

        return IngestLimits(
            self.settings.rate_limit_per_key_per_second,
            self.settings.rate_limit_per_device_per_minute,
            self.clock,
        )

    @cached_property
    def qr_codes(self) -> Any:
        from chalicelib.use_cases.scan_qr import QrCodes

        return QrCodes(self.qr_repository, self.settings)

    @cached_property
    def scan_qr(self) -> Any:
        from chalicelib.use_cases.scan_qr import ScanQr

        return ScanQr(self.qr_codes, self.ingest, self.clock)

    @cached_property
    def process_event(self) -> Any:
        from chalicelib.use_cases.process_events import ProcessEvent

        return ProcessEvent(
            self.moment_store,
            self.qr_codes,
            self.settings,
            self.clock,
            self.after_moment,
            fences=self.fences,
            videos=self.video_catalog,
            distinct=self.distinct,
        )

    @cached_property
    def distinct(self) -> Any:
        """The daily distinct-shopper sketches (worker writes, reports read)."""
        from chalicelib.adapters.dynamodb_distinct import DynamoDBDistinct

        return DynamoDBDistinct(self.dynamodb, self.settings.table_name)

    # Videos: admin, what a milestone means, the signed platform webhook ------------------
    @cached_property
    def video_repository(self) -> Any:
        from chalicelib.adapters.dynamodb_videos import DynamoDBVideos

        return DynamoDBVideos(self.dynamodb, self.settings.table_name)

    @cached_property
    def video_catalog(self) -> Any:
        """A milestone's intent and products per video, cached per warm worker."""
        from chalicelib.use_cases.videos import VideoCatalog

        return VideoCatalog(self.video_repository, self.settings.cache_ttl_seconds)

    @cached_property
    def video_admin(self) -> Any:
        from chalicelib.use_cases.videos import VideoAdmin

        return VideoAdmin(self.video_repository, self.clock, on_change=self.video_catalog.clear)

    @cached_property
    def video_webhook(self) -> Any:
        from chalicelib.use_cases.videos import VideoWebhook

        return VideoWebhook(self.ingest, self.settings.video_webhook_secret, self.clock)

    # Offers ---------------------------------------------------------------------------
    @cached_property
    def sns(self) -> Any:
        return self._client("sns", max_attempts=3, read_timeout=5)

    @cached_property
    def sesv2(self) -> Any:
        return self._client("sesv2", max_attempts=3, read_timeout=5)

    @cached_property
    def campaigns(self) -> Any:
        from chalicelib.adapters.dynamodb_offers import DynamoDBCampaigns

        return DynamoDBCampaigns(self.dynamodb, self.settings.table_name)

    @cached_property
    def offer_ledger(self) -> Any:
        from chalicelib.adapters.dynamodb_offers import DynamoDBOfferLedger

        return DynamoDBOfferLedger(self.dynamodb, self.settings.table_name)

    @cached_property
    def devices(self) -> Any:
        from chalicelib.adapters.dynamodb_offers import DynamoDBDevices

        return DynamoDBDevices(self.dynamodb, self.settings.table_name)

    @cached_property
    def address_book(self) -> Any:
        from chalicelib.adapters.dynamodb_offers import DynamoDBAddressBook

        return DynamoDBAddressBook(self.dynamodb, self.settings.table_name)

    @cached_property
    def email_sender(self) -> Any:
        if not self.settings.email_sender:
            return None
        from chalicelib.adapters.ses_email_sender import SesEmailSender

        return SesEmailSender(self.sesv2, self.settings.email_sender, self.settings.ses_configuration_set)

    @cached_property
    def push_sender(self) -> Any:
        arns = {"ios": self.settings.apns_platform_app_arn, "android": self.settings.fcm_platform_app_arn}
        arns = {k: v for k, v in arns.items() if v}
        if not arns:
            return None
        from chalicelib.adapters.sns_push_sender import SnsPushSender

        return SnsPushSender(self.sns, arns)

    @cached_property
    def sms_sender(self) -> Any:
        from chalicelib.adapters.sns_sms_sender import SnsSmsSender

        return SnsSmsSender(
            self.sns, self.settings.sms_sender_id, self.settings.sms_max_price_usd, self.settings.sms_type
        )

    @cached_property
    def campaign_catalog(self) -> Any:
        from chalicelib.use_cases.offers import CampaignCatalog

        return CampaignCatalog(self.campaigns, self.settings.cache_ttl_seconds)

    @cached_property
    def offers(self) -> Any:
        from chalicelib.use_cases.offers import OfferPipeline

        return OfferPipeline(
            self.campaign_catalog,
            self.offer_ledger,
            self.devices,
            self.address_book,
            self.stores,
            self.email_sender,
            self.push_sender,
            self.sms_sender,
            self.settings,
            self.clock,
            sms_budget=self.sms_budget,
        )

    @cached_property
    def sms_budget(self) -> Any:
        """The daily SMS ceiling: MM_SMS_DAILY_BUDGET_USD / MM_SMS_MAX_PRICE_USD messages per UTC
        day (None when no budget is set)."""
        budget, price = self.settings.sms_daily_budget_usd, self.settings.sms_max_price_usd
        if budget <= 0:
            return None
        from chalicelib.adapters.dynamodb_offers import DynamoDBSmsBudget

        max_per_day = int(budget / price) if price > 0 else 0
        return DynamoDBSmsBudget(self.dynamodb, self.settings.table_name, max_per_day)

    @cached_property
    def redemptions(self) -> Any:
        from chalicelib.use_cases.redemptions import Redemptions

        return Redemptions(self.qr_conversion_ledger, self.clock)

    @cached_property
    def after_moment(self) -> Any:
        from chalicelib.use_cases.redemptions import AfterMoment

        return AfterMoment(self.offers, self.redemptions, self.engagement)

    @cached_property
    def engagement(self) -> Any:
        """Opens, clicks and deliveries of sent offers, counted once (use_cases/engagement.py)."""
        from chalicelib.use_cases.engagement import OfferEngagement

        return OfferEngagement(self.offer_ledger, self.clock)

    @cached_property
    def offer_clicks(self) -> Any:
        from chalicelib.use_cases.engagement import OfferClicks

        return OfferClicks(self.offer_ledger, self.ingest, self.settings, self.clock)

    @cached_property
    def dashboard_links(self) -> Any:
        from chalicelib.use_cases.dashboard_links import DashboardLinks

        return DashboardLinks(self.settings, self.clock)

    @cached_property
    def campaign_admin(self) -> Any:
        from chalicelib.use_cases.campaign_admin import CampaignAdmin

        return CampaignAdmin(self.campaigns, self.clock, on_change=self.campaign_catalog.clear)

    @cached_property
    def audience(self) -> Any:
        from chalicelib.use_cases.audience import Audience

        return Audience(
            self.moment_store,
            self.devices,
            self.address_book,
            self.push_sender,
            self.settings,
            self.clock,
            ledger=self.offer_ledger,
            engagement=self.engagement,
        )

    # QR codes: admin, analytics, scan -> redemption conversion ------------------------
    @cached_property
    def qr_stats(self) -> Any:
        from chalicelib.adapters.dynamodb_records import DynamoDBQrStats

        return DynamoDBQrStats(self.dynamodb, self.settings.table_name)

    @cached_property
    def qr_admin(self) -> Any:
        from chalicelib.use_cases.qr_admin import QrAdmin

        return QrAdmin(
            self.qr_repository, self.qr_codes, self.qr_stats, self.stores, self.settings, self.clock
        )

    @cached_property
    def qr_conversion_ledger(self) -> Any:
        """The offer ledger, counting redemptions of offers that QR scans triggered per code;
        give it to Redemptions instead of ``offer_ledger``."""
        from chalicelib import observability
        from chalicelib.use_cases.qr_admin import QrConversionLedger

        return QrConversionLedger(
            self.offer_ledger,
            self.qr_stats,
            on_error=lambda exc: observability.count("QrRedemptionsNotCounted"),
        )

    # Reports (issue 6): funnel, campaigns, engagement, peak hours, lift, suppression ---------
    @cached_property
    def reports(self) -> Any:
        from chalicelib.adapters.dynamodb_stats import DynamoDBStats
        from chalicelib.use_cases.reports import Reports

        stats = DynamoDBStats(self.dynamodb, self.settings.table_name)
        return Reports(self.campaigns, self.fences, stats, self.settings, self.clock, self.distinct)

    @cached_property
    def admin(self) -> Any:
        from chalicelib.use_cases.admin import Admin

        return Admin(
            self.app_keys,
            self.qr_repository,
            self.qr_codes,
            self.moment_store,
            self.settings,
            self.clock,
            subject_data=self.moment_store,
            endpoints=self.push_endpoints,
        )

    @cached_property
    def push_endpoints(self) -> Any:
        """Deletes a user's SNS push endpoints on erasure (None without push configured)."""
        if self.push_sender is None:
            return None
        from chalicelib.adapters.sns_endpoints import SnsEndpoints

        return SnsEndpoints(self.sns)


_container: Container | None = None


def container() -> Container:
    global _container
    if _container is None:
        _container = Container()
    return _container


def override(**overrides: Any) -> Container:
    """Start afresh with some parts replaced (tests, benchmarks)."""
    global _container
    _container = Container(**overrides)
    return _container


def reset() -> None:
    global _container
    _container = None
