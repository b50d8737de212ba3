"""Structured logs and CloudWatch EMF metrics (Powertools), installed as Chalice middleware.

Powertools' ``@logger.inject_lambda_context`` / ``@metrics.log_metrics`` expect
``(event, context)`` and do not fit Chalice event handlers; a middleware that flushes metrics
after every invocation, HTTP or SQS, does the same job. Tracer is left out on purpose: it
needs aws-xray-sdk (+17 MB to the package) and shadows the Lambda runtime's botocore.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric

if TYPE_CHECKING:
    from chalice import Chalice

    from chalicelib.use_cases.process_events import BatchReport, QueueRecord

NAMESPACE = "Micromoments"
logger = Logger(service="micromoments")
metrics = Metrics(namespace=NAMESPACE, service="micromoments")


def install(app: Chalice) -> None:
    @app.middleware("all")
    def flush_metrics(event: Any, get_response: Callable[[Any], Any]) -> Any:
        try:
            return get_response(event)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def record_failure(record: QueueRecord, exc: Exception) -> None:
    reason = type(exc).__name__
    logger.warning(
        "event failed",
        extra={"sqs_message_id": record.message_id, "reason": reason, "detail": str(exc)[:500]},
    )
    with single_metric(
        name="ProcessingFailures", unit=MetricUnit.Count, value=1, namespace=NAMESPACE
    ) as metric:
        metric.add_dimension(name="reason", value=reason)


def record_batch(report: BatchReport) -> None:
    """One log line per batch (what it did, counted), plus one per event that was rejected or
    decided an offer: a line per event would be most of the log bytes, and an event's own trace
    is in its moment record (``GET /admin/users/{id}``)."""
    processed = [p for p in report.processed if p.outcome.value == "processed"]
    duplicates = len(report.processed) - len(processed)
    moments: dict[str, int] = {}
    for item in processed:
        if item.moment_type and not item.rejected:
            moments[item.moment_type] = moments.get(item.moment_type, 0) + 1
    logger.info(
        "batch",
        extra={
            "processed": len(processed),
            "duplicates": duplicates,
            "failed": len(report.failures),
            "moments": moments,
        },
    )
    for item in report.processed:
        offer = getattr(item.follow_up, "status", None)
        if item.rejected or offer:
            logger.info(
                "event",
                extra={
                    "message_id": item.message_id,
                    "outcome": item.outcome.value,
                    "moment": item.moment_type,
                    "rejected": item.rejected,
                    "offer": offer,
                },
            )
    count("EventsProcessed", len(processed))
    for item in report.processed:
        status = getattr(item.follow_up, "status", None)
        if status == "sent":
            count("OffersSent")
        elif status in ("suppressed", "holdout", "failed", "delivery_unknown"):
            with single_metric(
                name="OffersNotSent", unit=MetricUnit.Count, value=1, namespace=NAMESPACE
            ) as metric:
                metric.add_dimension(name="reason", value=str(getattr(item.follow_up, "reason", status)))
    count("MomentsRecorded", sum(1 for p in processed if p.moment_type and not p.rejected))
    if duplicates:
        count("DuplicatesSkipped", duplicates)
