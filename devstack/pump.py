"""A queue pump that behaves like Lambda's SQS trigger, for the local stack and the tests.

It long-polls the events queue for up to ``batch_size`` messages, hands them to the worker as
a Lambda SQS event (unique messageIds, receipt handles, ApproximateReceiveCount), deletes them
all if the handler returns, and leaves them alone if it raises: they become visible again
after the visibility timeout, and SQS's redrive policy moves one received 5 times to the DLQ.
That is exactly what Lambda does without ReportBatchItemFailures.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("devstack.pump")


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    region = queue_arn.split(":")[3] if queue_arn.count(":") >= 5 else "us-east-1"
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": m.get("Attributes", {}).get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": m.get("Attributes", {}).get("SentTimestamp", "0"),
                },
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class QueuePump:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        invoke: Callable[[dict[str, Any]], Any],
        *,
        batch_size: int = 10,
        wait_seconds: int = 1,
        visibility_timeout: int | None = None,
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._arn = queue_arn
        self._invoke = invoke
        self._batch_size = batch_size
        self._wait = wait_seconds
        self._visibility = visibility_timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.failed_batches = 0

    def pump_once(self) -> int:
        """Receive one batch and run the worker on it; returns how many messages it got."""
        request: dict[str, Any] = {
            "QueueUrl": self._url,
            "MaxNumberOfMessages": self._batch_size,
            "WaitTimeSeconds": self._wait,
            "AttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
        }
        if self._visibility is not None:
            request["VisibilityTimeout"] = self._visibility
        messages = self._sqs.receive_message(**request).get("Messages", [])
        if not messages:
            return 0
        self.batches += 1
        try:
            self._invoke(lambda_sqs_event(messages, self._arn))
        except Exception as exc:  # noqa: BLE001 - Lambda treats any exception as a failed batch
            self.failed_batches += 1
            logger.warning("worker raised, %d message(s) will be retried: %s", len(messages), exc)
            return len(messages)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        self._sqs.delete_message_batch(QueueUrl=self._url, Entries=entries)
        return len(messages)

    def drain(self, max_batches: int = 1000) -> int:
        """Pump until the queue answers empty (tests)."""
        total = 0
        for _ in range(max_batches):
            got = self.pump_once()
            if not got:
                return total
            total += got
        return total

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="queue-pump", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.pump_once()
            except Exception as exc:  # noqa: BLE001 - keep pumping; moto may be restarting
                if self._stop.is_set():
                    return
                logger.warning("pump error: %s", exc)
                time.sleep(0.5)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._wait + 5)
