"""Integration tier: moto's ``mock_aws`` in-process, resources from infra/template.yaml via
moto's CloudFormation, and ``chalice.test.Client`` driving the real routes and the worker."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack import stack
from devstack.config import stage_environment
from devstack.platform_apps import ensure_platform_apps
from devstack.pump import QueuePump

ROOT = stack.ROOT
WRITE_KEY = "it-write-key-0123456789"
ADMIN_TOKEN = "demo-admin-token"  # the local stage's token in .chalice/config.json


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@dataclass
class Harness:
    client: Any  # chalice.test.Client
    outputs: dict[str, str]
    dynamodb: Any
    sqs: Any
    pump: QueuePump
    qr: dict[str, str]

    def post(
        self,
        path: str,
        body: Any,
        key: str | None = WRITE_KEY,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        h = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            h["Authorization"] = basic(key)
        payload = raw if raw is not None else json.dumps(body).encode()
        return self.client.http.post(path, headers=h, body=payload)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        h = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
        kwargs: dict[str, Any] = {"headers": h}
        if body is not None:
            kwargs["body"] = json.dumps(body).encode()
        return getattr(self.client.http, method.lower())(path, **kwargs)

    # item() and scan() read the table as the application sees it
    # (chalicelib.adapters.dynamodb_moment_store.logical_items): a profile item decoded from its
    # compressed body, and the moment records it holds as the ``MSG#{messageId}`` rows they
    # were before they moved into the profile.
    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        from chalicelib.adapters.dynamodb_moment_store import read_item

        return read_item(self.dynamodb, self.outputs["TableName"], pk, sk)

    def scan(self, prefix: str = "") -> list[dict[str, Any]]:
        from chalicelib.adapters.dynamodb_moment_store import logical_items
        from chalicelib.adapters.dynamodb_table import deserialize

        items = self.dynamodb.scan(TableName=self.outputs["TableName"])["Items"]
        rows = [row for i in items for row in logical_items(deserialize(i))]
        return [r for r in rows if r["PK"].startswith(prefix)]

    def counters(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for row in self.scan("STAT#all#"):
            for name, value in row.items():
                if name not in ("PK", "SK"):
                    totals[name] = totals.get(name, 0) + value
        return totals

    def queued(self) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.outputs["EventsQueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def harness() -> Iterator[Harness]:
    from chalice.test import Client

    saved = dict(os.environ)
    with mock_aws():
        outputs = stack.deploy(boto3.client("cloudformation"), "local")
        # The stage's variables for the whole test (the Client applies them only during calls).
        os.environ.update(stage_environment("local"))
        os.environ["MM_EVENTS_QUEUE_URL"] = outputs["EventsQueueUrl"]
        os.environ["MM_PUBLIC_BASE_URL"] = "http://127.0.0.1:8000"
        boto3.client("ses").verify_email_identity(EmailAddress=os.environ["MM_EMAIL_SENDER"])
        apps = ensure_platform_apps(boto3.client("sns"))
        os.environ["MM_APNS_PLATFORM_APP_ARN"] = apps["ios"]
        os.environ["MM_FCM_PLATFORM_APP_ARN"] = apps["android"]
        import app as app_module
        from chalicelib import wiring

        with Client(app_module.app, stage_name="local", project_dir=str(ROOT)) as client:
            admin = wiring.container().admin
            admin.create_app({"name": "integration"}, write_key=WRITE_KEY)
            qr = admin.create_qr_code("store-1", "https://shop.example.com/p/42", "sku-42", "aisle 4")
            sqs = boto3.client("sqs")
            pump = QueuePump(
                sqs,
                outputs["EventsQueueUrl"],
                outputs["EventsQueueArn"],
                lambda event: client.lambda_.invoke("process_events", event),
                wait_seconds=0,
                visibility_timeout=0,
            )
            yield Harness(client, outputs, boto3.client("dynamodb"), sqs, pump, qr)
    os.environ.clear()
    os.environ.update(saved)
