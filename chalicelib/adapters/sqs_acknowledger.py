"""Deletes successfully processed messages from the events queue (DeleteMessageBatch), used
when part of a batch failed: the successes go, then the handler raises so only the failures
come back. A delete that fails is retried once and then logged: a success that comes back is
harmless, because processing is idempotent."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.aws_errors import translated
from chalicelib.domain.errors import RetryableError

logger = logging.getLogger(__name__)


class SqsAcknowledger:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def delete(self, receipt_handles: Sequence[str]) -> None:
        for start in range(0, len(receipt_handles), 10):
            pending = list(receipt_handles[start : start + 10])
            for _attempt in range(2):
                entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(pending)]
                try:
                    with translated("DeleteMessageBatch"):
                        result = self._client.delete_message_batch(QueueUrl=self._url, Entries=entries)
                except RetryableError:
                    continue
                failed = {int(f["Id"]) for f in result.get("Failed", [])}
                pending = [h for i, h in enumerate(pending) if i in failed]
                if not pending:
                    break
            if pending:
                logger.warning(
                    "could not delete %d processed message(s); they will be redelivered "
                    "and skipped as duplicates",
                    len(pending),
                )
