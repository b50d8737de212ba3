"""Fault injection in process: moto for the AWS services and botocore's Stubber on the
container's own clients (no patching of our code). For each fault: the documented behaviour,
no lost moment, and no second message to the shopper.

Already covered elsewhere: DynamoDB ProvisionedThroughputExceeded on the worker's first read
(test_worker), SQS throttling and partial batch failures at ingest (test_ingest_api), and the
pipeline's retry/lease logic over in-memory twins (tests/unit/test_offer_pipeline.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib import wiring
from chalicelib.domain.clock import iso
from devstack.outbox import sent_in_process
from tests.integration.test_offers import coffee, coffee_here, offers, shopper, ts  # noqa: F401

__all__ = ["coffee", "coffee_here"]


def post_entry(harness, user: str, message_id: str) -> None:
    body = {
        "userId": user,
        "event": "Geofence Entered",
        "messageId": message_id,
        "timestamp": ts(),
        "properties": {"store_id": "store-1"},
    }
    assert harness.post("/v1/track", body).status_code == 200


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException"])
def test_dynamodb_throttling_in_the_worker_retries_the_message_and_counts_it_once(harness, code):
    post_entry(harness, "tess", "t-1")
    with Stubber(wiring.container().dynamodb) as stub:
        for _ in range(5):  # the client's own 5 attempts
            stub.add_client_error("get_item", service_error_code=code, http_status_code=400)
        harness.pump.pump_once()
    assert harness.pump.failed_batches == 1 and harness.queued() == 1

    harness.pump.drain()
    harness.post("/v1/track", {"userId": "tess", "event": "x", "messageId": "t-1", "timestamp": ts()})
    harness.pump.drain()  # and an SDK retry of the same messageId changes nothing

    assert harness.item("USER#tess", "PROFILE")["moment_counts"] == {"geofence_entered": 1}
    assert harness.counters()["events"] == 1
    assert harness.item("USER#tess", "MSG#t-1") is not None


def test_ses_throttling_leaves_the_offer_in_retry_and_the_redelivery_sends_it_once(harness, coffee_here):
    shopper(harness, "sara", consents={"email": True}, device=False, email="sara@example.com")
    post_entry(harness, "sara", "g-1")
    with Stubber(wiring.container().sesv2) as stub:
        for _ in range(3):  # the client's own 3 attempts
            stub.add_client_error(
                "send_email", service_error_code="TooManyRequestsException", http_status_code=429
            )
        harness.pump.pump_once()
    [record] = offers(harness, "sara")
    assert record["status"] == "retry" and harness.queued() == 1
    assert sent_in_process()["email"] == []

    harness.pump.drain()
    harness.pump.drain()

    [record] = offers(harness, "sara")
    assert (record["status"], record["attempts"]) == ("sent", 2)
    assert len(sent_in_process()["email"]) == 1


def test_ses_message_rejected_is_failed_with_its_reason_and_not_retried(harness, coffee_here):
    shopper(harness, "rita", consents={"email": True}, device=False, email="rita@example.com")
    post_entry(harness, "rita", "g-1")
    with Stubber(wiring.container().sesv2) as stub:
        stub.add_client_error("send_email", service_error_code="MessageRejected", http_status_code=400)
        harness.pump.pump_once()

    [record] = offers(harness, "rita")
    assert (record["status"], record["reason"]) == ("failed", "message_rejected")
    assert harness.pump.failed_batches == 0 and harness.queued() == 0
    assert sent_in_process()["email"] == []


def test_a_disabled_push_endpoint_disables_the_device_and_fails_the_offer(harness, coffee_here):
    shopper(harness, "dina")
    [device] = [r for r in harness.scan("USER#dina") if r["SK"].startswith("DEVICE#")]
    boto3.client("sns").set_endpoint_attributes(
        EndpointArn=device["endpoint_arn"], Attributes={"Enabled": "false"}
    )

    post_entry(harness, "dina", "g-1")
    harness.pump.drain()

    [record] = offers(harness, "dina")
    assert (record["status"], record["reason"]) == ("failed", "endpoint_disabled")
    assert harness.item("USER#dina", device["SK"])["enabled"] is False
    assert sent_in_process()["push"] == []


def test_sns_throttling_retries_the_push_and_sends_it_once(harness, coffee_here):
    shopper(harness, "tara")
    post_entry(harness, "tara", "g-1")
    with Stubber(wiring.container().sns) as stub:
        for _ in range(3):  # the client's own 3 attempts
            stub.add_client_error("publish", service_error_code="Throttled", http_status_code=400)
        harness.pump.pump_once()
    assert offers(harness, "tara")[0]["status"] == "retry"

    harness.pump.drain()

    [record] = offers(harness, "tara")
    assert record["status"] == "sent"
    assert len(sent_in_process()["push"]) == 1


def test_a_worker_killed_between_claim_and_sent_is_delivery_unknown_and_never_resent(harness, coffee_here):
    shopper(harness, "kim")
    post_entry(harness, "kim", "g-1")
    # An error our code does not expect stops the worker mid-send, as a crash would: the offer
    # stays "claimed" and the message comes back.
    with Stubber(wiring.container().sns) as stub:
        stub.add_client_error("publish", service_error_code="AuthorizationError", http_status_code=403)
        harness.pump.pump_once()
    [record] = offers(harness, "kim")
    assert record["status"] == "claimed" and harness.queued() == 1

    # Redelivered inside the 2-minute lease: left alone (another worker may be sending).
    harness.pump.pump_once()
    assert offers(harness, "kim")[0]["status"] == "claimed"
    # The lease runs out (the claim is made 3 minutes old), then the message comes back.
    old = iso(datetime.now(UTC) - timedelta(minutes=3))
    harness.dynamodb.update_item(
        TableName=harness.outputs["TableName"],
        Key={"PK": {"S": "USER#kim"}, "SK": {"S": f"OFFER#{record['offer_id']}"}},
        UpdateExpression="SET claimed_at = :old",
        ExpressionAttributeValues={":old": {"S": old}},
    )
    harness.pump.drain()

    [record] = offers(harness, "kim")
    assert (record["status"], record["reason"]) == ("delivery_unknown", "worker_stopped_mid_send")
    assert sent_in_process()["push"] == [] and harness.queued() == 0


class ConflictingTransactions:
    """A DynamoDB client whose first ``conflicts`` TransactWriteItems are cancelled the way
    DynamoDB cancels one that races another on a hot item (TransactionConflict, nothing written)."""

    def __init__(self, client, conflicts: int) -> None:
        self._client = client
        self.conflicts = conflicts
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def transact_write_items(self, **request):
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.conflicts > 0:
            self.conflicts -= 1
            reasons = [{"Code": "None"}] * (len(request["TransactItems"]) - 1) + [
                {"Code": "TransactionConflict"}
            ]
            error = {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}}
            raise ClientError({**error, "CancellationReasons": reasons}, "TransactWriteItems")
        return self._client.transact_write_items(**request)


@pytest.mark.parametrize("conflicts", [1, 3])
def test_a_transaction_conflict_on_a_hot_counter_is_retried_and_counted_once(harness, conflicts):
    from chalicelib.adapters.dynamodb_offers import DynamoDBOfferLedger
    from chalicelib.domain.offer_stats import stat_for
    from chalicelib.domain.profile import Subject

    client = ConflictingTransactions(boto3.client("dynamodb"), conflicts)
    ledger = DynamoDBOfferLedger(client, harness.outputs["TableName"])
    subject, now = Subject.user("hal"), datetime.now(UTC)
    record = {
        "offer_id": "of_1",
        "campaign_id": "coffee",
        "store_id": "store-1",
        "moment": "geofence_entered",
    }

    ledger.record(
        subject, "of_1", {**record, "status": "holdout"}, 2_000_000_000, stat_for(record, now, "decided")
    )

    assert client.calls == conflicts + 1  # not taken for "already done"
    assert ledger.get(subject, "of_1")["status"] == "holdout"
    [stat] = [row for row in harness.scan("STAT#offers#coffee") if any(k.startswith("decided") for k in row)]
    assert stat["decided|geofence_entered"] == 1


def test_a_transaction_that_keeps_conflicting_is_retryable_not_already_done(harness):
    from chalicelib.adapters.dynamodb_offers import STAT_ATTEMPTS, DynamoDBOfferLedger
    from chalicelib.domain.errors import RetryableError
    from chalicelib.domain.offer_stats import stat_for
    from chalicelib.domain.profile import Subject

    client = ConflictingTransactions(boto3.client("dynamodb"), 99)
    ledger = DynamoDBOfferLedger(client, harness.outputs["TableName"])
    record = {
        "offer_id": "of_2",
        "campaign_id": "coffee",
        "store_id": "store-1",
        "moment": "geofence_entered",
    }

    with pytest.raises(RetryableError, match="conflicting"):
        ledger.record(
            Subject.user("hal"), "of_2", record, 2_000_000_000, stat_for(record, datetime.now(UTC), "decided")
        )

    assert client.calls == STAT_ATTEMPTS and ledger.get(Subject.user("hal"), "of_2") is None
