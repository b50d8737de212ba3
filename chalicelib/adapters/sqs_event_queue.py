"""SQS implementation of ``EventQueue``: SendMessage for one event, SendMessageBatch in chunks
of at most 10 messages and 256 KB. Entries SQS reports as failed are retried once; if any
still fail, ``RetryableError`` (the API answers 503 and the SDK retries; the worker's
idempotency makes the retry safe for the events that did get through)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.aws_errors import translated
from chalicelib.domain.errors import RetryableError
from chalicelib.domain.ports import QueueMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
else:
    SQSClient = Any

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024


def chunks(messages: Sequence[QueueMessage]) -> list[list[QueueMessage]]:
    out: list[list[QueueMessage]] = []
    current: list[QueueMessage] = []
    size = 0
    for message in messages:
        length = len(message.body.encode())
        if current and (len(current) == MAX_ENTRIES or size + length > MAX_BATCH_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(message)
        size += length
    if current:
        out.append(current)
    return out


def queue_url_for(client: SQSClient, queue_name: str) -> str:
    """One GetQueueUrl per warm Lambda, so no account id has to be written into config."""
    with translated("GetQueueUrl"):
        return str(client.get_queue_url(QueueName=queue_name)["QueueUrl"])


class SqsEventQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, messages: Sequence[QueueMessage]) -> None:
        if len(messages) == 1:
            with translated("SendMessage"):
                self._client.send_message(QueueUrl=self._url, MessageBody=messages[0].body)
            return
        batches = chunks(messages)
        if len(batches) == 1:
            self._send_chunk(batches[0])
            return
        # Chunks go out in parallel (boto3 clients are thread-safe), so a 100-event batch
        # costs about one round trip, not ten, well inside the API Lambda's timeout.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(batches), 10)) as pool:
            for future in [pool.submit(self._send_chunk, batch) for batch in batches]:
                future.result()

    def _send_chunk(self, chunk: list[QueueMessage]) -> None:
        pending = chunk
        for _attempt in range(2):
            entries = [{"Id": str(i), "MessageBody": m.body} for i, m in enumerate(pending)]
            with translated("SendMessageBatch"):
                result = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            failed = {int(f["Id"]) for f in result.get("Failed", [])}
            pending = [m for i, m in enumerate(pending) if i in failed]
            if not pending:
                return
        raise RetryableError(f"SQS did not take {len(pending)} message(s)")
