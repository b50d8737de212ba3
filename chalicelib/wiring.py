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
        return Settings.from_env()

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

        return Ingest(self.event_queue, self.clock)

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

        return ProcessEvent(self.moment_store, self.qr_codes, self.settings, self.clock)

    @cached_property
    def admin(self) -> Any:
        from chalicelib.use_cases.admin import Admin

        return Admin(
            self.app_keys, self.qr_repository, self.qr_codes, self.moment_store, self.settings, self.clock
        )


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
