"""The ingest Lambda's own overhead per request, in process, with AWS replaced by in-memory twins.

Calls the Chalice app object the way the Lambda runtime does, ``app.app(event, context)``, with
API Gateway REST API (payload format 1.0) proxy events, each built just before its call, after
``wiring.override(event_queue=InMemoryQueue(), app_keys=InMemoryAppKeys(), qr_repository=
InMemoryQrCodes())`` under the ``local`` stage's environment, so no AWS call is made. Measures
``POST /v1/track`` (one event), ``POST /v1/batch`` (20 events) and ``GET /q/{code}`` (a valid
signed code): the first call, then after a warm-up each call timed with ``time.perf_counter_ns``.
Every response is checked (200 with every event accepted, or a 302 to the QR's destination), so
an error path can never be measured by mistake: a wrong response is a crash.

Also counts, over the timed calls, the queue sends per request (the one AWS call the ingest path
may make), the reads of write keys and QR records (cached, so they should not happen per
request), and how many SQS API calls the real ``SqsEventQueue`` makes for one request's messages.

``app`` and ``chalicelib`` are imported only inside ``run()``, once the stage's environment is in
place (``app.py`` reads it at import); the environment is restored afterwards.
"""

from __future__ import annotations

import base64
import gc
import json
import math
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.results import Options, Progress, Section, Table, Target, fmt_us, median, percentile

NAME = "ingest_overhead"
ROOT = Path(__file__).resolve().parent.parent
WRITE_KEY = "bench-write-key-2f9c1e0a7b6d4c3e"
APP_ID = "app-bench"
QR_ID = "ABCDEFGH"
QR_DESTINATION = "https://shop.example.com/p/sku-42?utm_source=qr"
BATCH_EVENTS = 20
API_STAGE = "api"  # api_gateway_stage in .chalice/config.json
# Never a real account's credentials: should anything build a boto3 client, its calls are refused.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


# The per-container ingest rate limits (chalicelib/rate_limit.py) would refuse an in-process loop
# of thousands of requests a second: set so high that the buckets are checked but never run dry.
UNLIMITED = {
    "MM_RATE_LIMIT_PER_KEY_PER_SECOND": "1000000000",
    "MM_RATE_LIMIT_PER_DEVICE_PER_MINUTE": "1000000000",
}


class WrongResponse(RuntimeError):
    """The app answered something other than success: the benchmark would measure an error path."""


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the Lambda runtime's context object that Chalice and Powertools read."""

    aws_request_id: str = "8f5c3a52-0d4e-4a8e-9d8b-2f1e6c7a9b10"
    function_name: str = "micromoments-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:micromoments-local"
    log_group_name: str = "/aws/lambda/micromoments-local"
    log_stream_name: str = "2025/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


# --- API Gateway events ------------------------------------------------------------------


def _basic(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def api_gateway_event(
    method: str,
    path: str,
    resource: str,
    headers: dict[str, str],
    body: str | None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST API (v1 payload) Lambda proxy event, as API Gateway sends it."""
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id[:16],
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{API_STAGE}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": API_STAGE,
            "domainPrefix": "abcdef1234",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "accessKey": None,
                "sourceIp": "203.0.113.7",
                "principalOrgId": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": headers.get("User-Agent"),
                "user": None,
            },
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "apiId": "abcdef1234",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _common_headers(user_agent: str) -> dict[str, str]:
    return {
        "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "User-Agent": user_agent,
        "X-Amzn-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }


def ingest_event(path: str, body: dict[str, Any], write_key: str = WRITE_KEY) -> dict[str, Any]:
    """A POST of ``body`` to an ingest route, authenticated with ``write_key`` as an SDK does."""
    headers = {
        **_common_headers("analytics-ios/4.1.0"),
        "Accept": "application/json",
        "Authorization": _basic(write_key),
        "Content-Type": "application/json",
    }
    return api_gateway_event("POST", path, path, headers, json.dumps(body))


_CONTEXT = {
    "library": {"name": "analytics-ios", "version": "4.1.0"},
    "locale": "en-GB",
    "timezone": "Europe/London",
    "app": {"name": "Shop", "version": "7.3.0"},
}


def _segment_event(kind: int, message_id: str, user: str, timestamp: str) -> dict[str, Any]:
    """One of four realistic SDK calls (a product view, a geofence entry, a video milestone,
    an identify with consents), all valid."""
    base = {"messageId": message_id, "userId": user, "timestamp": timestamp, "context": _CONTEXT}
    if kind == 0:
        return {
            **base,
            "type": "track",
            "event": "Product Viewed",
            "properties": {"product_id": "sku-42", "category": "shoes", "price": 79.0},
        }
    if kind == 1:
        return {
            **base,
            "type": "track",
            "event": "Geofence Entered",
            "properties": {"store_id": "store-1", "fence_id": "entrance"},
        }
    if kind == 2:
        return {
            **base,
            "type": "track",
            "event": "Video Milestone Reached",
            "properties": {"video_id": "styling-101", "percent": 75},
        }
    return {
        **base,
        "type": "identify",
        "traits": {
            "email": f"{user}@example.com",
            "first_name": "Sam",
            "timezone": "Europe/London",
            "consents": {"email": True, "push": True, "sms": False},
        },
    }


def track_event(run_id: str, i: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return ingest_event("/v1/track", _segment_event(0, f"bench-{run_id}-t{i}", f"user-{i % 500}", now))


def batch_event(run_id: str, i: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    events = [
        _segment_event(j % 4, f"bench-{run_id}-b{i}-{j}", f"user-{(i + j) % 500}", now)
        for j in range(BATCH_EVENTS)
    ]
    return ingest_event("/v1/batch", {"batch": events, "sentAt": now})


def qr_event(token: str, i: int) -> dict[str, Any]:
    headers = {
        **_common_headers("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"),
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        # A returning shopper: the visitor cookie is parsed and kept.
        "Cookie": f"mm_vid={uuid.UUID(int=i + 1)}; other=1",
    }
    return api_gateway_event("GET", f"/q/{token}", "/q/{code}", headers, None, {"code": token})


# --- response checks ---------------------------------------------------------------------


def _wrong(event: dict[str, Any], response: dict[str, Any], why: str) -> WrongResponse:
    return WrongResponse(
        f"{event['httpMethod']} {event['path']}: {why}; got {response.get('statusCode')} "
        f"{str(response.get('body'))[:500]}"
    )


def expect_accepted(count: int) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    def check(event: dict[str, Any], response: dict[str, Any]) -> None:
        if response.get("statusCode") != 200:
            raise _wrong(event, response, "expected 200")
        body = json.loads(response["body"])
        if body.get("success") is not True or len(body.get("accepted", [])) != count or body.get("rejected"):
            raise _wrong(event, response, f"expected all {count} event(s) accepted")

    return check


def expect_redirect(event: dict[str, Any], response: dict[str, Any]) -> None:
    if response.get("statusCode") != 302:
        raise _wrong(event, response, "expected 302")
    if response["headers"].get("Location") != QR_DESTINATION:
        raise _wrong(event, response, f"expected Location {QR_DESTINATION}")


# --- measurement -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    label: str
    events_per_request: int
    make_event: Callable[[int], dict[str, Any]]
    check: Callable[[dict[str, Any], dict[str, Any]], None]
    iterations: int
    warmup: int
    cached_record: str  # "write-key" or "QR record": the read the cache should save per request


@dataclass(frozen=True)
class Fakes:
    queue: Any  # InMemoryQueue
    app_keys: Any  # InMemoryAppKeys
    qr_codes: Any  # InMemoryQrCodes


@dataclass(frozen=True)
class Measurement:
    scenario: Scenario
    first_call_us: float
    samples_us: list[float]
    timed_seconds: float
    queue_sends: int
    messages_queued: int
    key_reads: int
    qr_reads: int
    sqs_api_calls: int  # what SqsEventQueue makes for one request's messages

    @property
    def requests(self) -> int:
        return len(self.samples_us)


def measure(
    scenario: Scenario,
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    fakes: Fakes,
    budget_seconds: float,
    progress: Progress,
) -> Measurement:
    """First call, warm-up, then up to ``iterations`` timed calls within ``budget_seconds``."""
    context = LambdaContext()
    make, check = scenario.make_event, scenario.check
    first = make(0)
    start = time.perf_counter_ns()
    response = handler(first, context)
    first_call_us = (time.perf_counter_ns() - start) / 1000
    check(first, response)
    for i in range(1, 1 + scenario.warmup):
        event = make(i)
        check(event, handler(event, context))

    gc.collect()
    sends, queued = fakes.queue.calls, len(fakes.queue.messages)
    key_reads, qr_reads = fakes.app_keys.reads, fakes.qr_codes.reads
    samples: list[float] = []
    started = time.perf_counter()
    deadline = started + budget_seconds
    for i in range(1 + scenario.warmup, 1 + scenario.warmup + scenario.iterations):
        event = make(i)  # built outside the timed interval
        start = time.perf_counter_ns()
        response = handler(event, context)
        samples.append((time.perf_counter_ns() - start) / 1000)
        check(event, response)
        if time.perf_counter() > deadline:
            progress(
                f"{scenario.label}: time budget of {budget_seconds:.0f} s reached after {len(samples)} calls"
            )
            break
    timed_seconds = time.perf_counter() - started
    measurement = Measurement(
        scenario=scenario,
        first_call_us=first_call_us,
        samples_us=samples,
        timed_seconds=timed_seconds,
        queue_sends=fakes.queue.calls - sends,
        messages_queued=len(fakes.queue.messages) - queued,
        key_reads=fakes.app_keys.reads - key_reads,
        qr_reads=fakes.qr_codes.reads - qr_reads,
        sqs_api_calls=sqs_api_calls(fakes.queue.messages[-scenario.events_per_request :]),
    )
    if measurement.messages_queued != measurement.requests * scenario.events_per_request:
        raise WrongResponse(
            f"{scenario.label}: {measurement.messages_queued} messages queued for "
            f"{measurement.requests} requests of {scenario.events_per_request} event(s)"
        )
    return measurement


class _RecordingSqsClient:
    """Stands in for a boto3 SQS client: records calls, accepts every message."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def send_message(self, **_: Any) -> dict[str, Any]:
        self.calls.append("SendMessage")
        return {}

    def send_message_batch(self, **_: Any) -> dict[str, Any]:
        self.calls.append("SendMessageBatch")
        return {"Successful": [], "Failed": []}


def sqs_api_calls(bodies: list[str]) -> int:
    """How many SQS API calls the real adapter makes to send these message bodies."""
    from chalicelib.adapters.sqs_event_queue import SqsEventQueue
    from chalicelib.domain.ports import QueueMessage

    client = _RecordingSqsClient()
    SqsEventQueue(client, "https://sqs.us-east-1.amazonaws.com/123456789012/bench").send(
        [QueueMessage(str(i), body) for i, body in enumerate(bodies)]
    )
    return len(client.calls)


@contextmanager
def local_stage() -> Iterator[None]:
    """The local stage's environment (plus a queue URL and fake credentials) for the duration."""
    from devstack.config import stage_environment

    saved = dict(os.environ)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(stage_environment("local"))
    os.environ.update(FAKE_AWS)
    os.environ["MM_EVENTS_QUEUE_URL"] = (
        "https://sqs.us-east-1.amazonaws.com/123456789012/micromoments-local-events"
    )
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ.update(UNLIMITED)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _wire_fakes() -> tuple[Fakes, str]:
    """Put in-memory twins in place of AWS; returns them and a signed code for the QR record."""
    from chalicelib import wiring
    from chalicelib.adapters.in_memory import InMemoryAppKeys, InMemoryQrCodes, InMemoryQueue
    from chalicelib.domain.clock import iso
    from chalicelib.domain.records import AppKey, QrCode, hash_write_key

    created = iso(datetime.now(UTC))
    fakes = Fakes(InMemoryQueue(), InMemoryAppKeys(), InMemoryQrCodes())
    fakes.app_keys.put(AppKey(hash_write_key(WRITE_KEY), APP_ID, "bench", created))
    fakes.qr_codes.put(
        QrCode(QR_ID, "store-1", QR_DESTINATION, created, product_id="sku-42", placement="aisle 4")
    )
    container = wiring.override(
        event_queue=fakes.queue, app_keys=fakes.app_keys, qr_repository=fakes.qr_codes
    )
    return fakes, container.qr_codes.token_for(QR_ID)


def run(options: Options, progress: Progress) -> Section:
    started = time.perf_counter()
    budget = 3.0 if options.quick else 10.0
    scale = 0.01 if options.quick else 1.0
    run_id = uuid.uuid4().hex[:8]
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    with local_stage():
        import app as app_module
        from chalicelib import wiring
        from chalicelib.settings import Settings

        cache_ttl = Settings.from_env().cache_ttl_seconds
        fakes, token = _wire_fakes()
        scenarios = [
            Scenario(
                "POST /v1/track",
                1,
                lambda i: track_event(run_id, i),
                expect_accepted(1),
                iterations=int(40_000 * scale),
                warmup=int(2_000 * scale),
                cached_record="write-key",
            ),
            Scenario(
                f"POST /v1/batch ({BATCH_EVENTS} events)",
                BATCH_EVENTS,
                lambda i: batch_event(run_id, i),
                expect_accepted(BATCH_EVENTS),
                iterations=int(4_000 * scale),
                warmup=int(200 * scale),
                cached_record="write-key",
            ),
            Scenario(
                "GET /q/{code}",
                1,
                lambda i: qr_event(token, i),
                expect_redirect,
                iterations=int(40_000 * scale),
                warmup=int(2_000 * scale),
                cached_record="QR record",
            ),
        ]
        measurements = []
        try:
            for scenario in scenarios:
                progress(
                    f"{scenario.label}: 1 first call, {scenario.warmup} warm-up, "
                    f"up to {scenario.iterations} timed calls (budget {budget:.0f} s)"
                )
                m = measure(scenario, app_module.app, fakes, budget, progress)
                progress(f"{scenario.label}: p50 {median(m.samples_us):.0f} µs over {m.requests} calls")
                measurements.append(m)
        finally:
            wiring.reset()
        boto3_loaded = "boto3" in sys.modules

    section = Section(
        name=NAME, title="Ingest handler overhead (in process, AWS stubbed)", method=_method(cache_ttl)
    )
    _add_results(section, measurements, cache_ttl, boto3_loaded)
    section.seconds = time.perf_counter() - started
    return section


def _method(cache_ttl: float) -> str:
    return f"""
The cost of the ingest Lambda's own code per request (Chalice routing, middleware, write-key
check, Segment validation, the queue envelope, the response), without network or AWS latency.

- Environment: the `local` stage's variables (`devstack.config.stage_environment("local")`, which
  sets the cache TTL for write keys and QR records to {cache_ttl:g} s), `MM_EVENTS_QUEUE_URL` set,
  fake AWS credentials, and the ingest rate limits (`MM_RATE_LIMIT_PER_KEY_PER_SECOND`,
  `MM_RATE_LIMIT_PER_DEVICE_PER_MINUTE`) raised so high that the token buckets are checked on
  every request but never run dry. `wiring.override(event_queue=InMemoryQueue(), app_keys=InMemoryAppKeys(),
  qr_repository=InMemoryQrCodes())`, with one write key and one QR record, so no AWS call is made.
- Each request is an API Gateway REST API proxy event (payload format 1.0: `httpMethod`, `path`,
  `resource`, `headers`/`multiValueHeaders`, `requestContext` with `resourcePath`, `stage`,
  `identity.sourceIp`, `requestId`, ...), passed with a Lambda context object to the Chalice app,
  `app.app(event, context)`, exactly as the Lambda runtime calls the handler.
- Requests: `POST /v1/track` with one `Product Viewed` event; `POST /v1/batch` with
  {BATCH_EVENTS} events (product views, geofence entries, video milestones and identifies with
  consents, plus `sentAt`); `GET /q/{{code}}` with a validly signed code and a returning
  visitor's cookie. Every event has a unique `messageId` and a current ISO-8601 timestamp with
  an offset. Each event is built just before its call, outside the timed interval.
- The first call of each route is timed on its own (in the same process, after `track`'s first
  call built the container, settings and use cases). Then a warm-up, `gc.collect()`, and each
  call timed with `time.perf_counter_ns` (garbage collection left on, as in Lambda), up to a
  fixed count or a time budget per route, whichever comes first.
- Every response is checked: 200 with every event accepted and none rejected, or 302 to the QR
  record's destination; anything else stops the run with an error.
- AWS calls: `InMemoryQueue.calls` (one per SQS send the app asks for) per timed request;
  `InMemoryAppKeys.reads` / `InMemoryQrCodes.reads` (a DynamoDB `GetItem` each when deployed)
  during the timed calls; and the number of SQS API calls the real `SqsEventQueue` makes for one
  request's messages, replayed through it with a recording stand-in for the boto3 client.
"""


def _add_results(
    section: Section, measurements: list[Measurement], cache_ttl: float, boto3_loaded: bool
) -> None:
    from devstack.config import stage_environment

    deployed_ttl = stage_environment("prod").get("MM_CACHE_TTL_SECONDS", "the default")
    latency_rows, call_rows = [], []
    for m in measurements:
        s, n = m.samples_us, m.scenario.events_per_request
        per_event = f"{fmt_us(median(s) / n)}" if n > 1 else "—"
        latency_rows.append(
            [
                m.scenario.label,
                f"{m.scenario.warmup:,}",
                f"{m.requests:,}",
                fmt_us(median(s)),
                fmt_us(percentile(s, 99)),
                fmt_us(sum(s) / len(s)),
                per_event,
                fmt_us(m.first_call_us),
            ]
        )
        call_rows.append(
            [
                m.scenario.label,
                f"{m.queue_sends / m.requests:.2f}",
                str(m.sqs_api_calls),
                f"{m.sqs_api_calls / m.scenario.events_per_request:g}",
                str(m.key_reads),
                str(m.qr_reads),
                f"{m.timed_seconds:.1f}",
            ]
        )
    section.tables.append(
        Table(
            [
                "Request",
                "Warm-up calls",
                "Timed calls",
                "p50 µs",
                "p99 µs",
                "Mean µs",
                "p50 µs per event",
                "First call µs",
            ],
            latency_rows,
            caption="Time in the handler per request:",
        )
    )
    section.tables.append(
        Table(
            [
                "Request",
                "Queue sends per request",
                "SQS API calls per request (real adapter)",
                "SQS API calls per event",
                "Write-key reads (timed)",
                "QR record reads (timed)",
                "Timed loop s",
            ],
            call_rows,
            caption="AWS calls:",
        )
    )

    for m in measurements:
        sends = m.queue_sends / m.requests
        section.targets.append(
            Target(
                f"{m.scenario.label}: one queue send per request, nothing else",
                f"{sends:.2f} sends per request",
                sends == 1.0,
            )
        )
    for m in measurements:
        what = m.scenario.cached_record
        reads = m.qr_reads if what == "QR record" else m.key_reads
        allowed = math.ceil(m.timed_seconds / cache_ttl) if cache_ttl > 0 else m.requests
        section.targets.append(
            Target(
                f"{m.scenario.label}: no {what} read per request (at most one per {cache_ttl:g} s cache TTL)",
                f"{reads} read(s) in {m.requests} calls over {m.timed_seconds:.1f} s (allowed {allowed})",
                reads <= allowed,
            )
        )
    section.targets.append(
        Target(
            "no boto3 client built (boto3 not imported by the benchmark process)",
            "boto3 imported" if boto3_loaded else "boto3 not imported",
            not boto3_loaded,
        )
    )
    batch = next((m for m in measurements if m.scenario.events_per_request > 1), None)
    if batch is not None and batch.sqs_api_calls > 1:
        section.notes.append(
            f"A batch of {BATCH_EVENTS} events is one queue send for the app, but the SQS adapter "
            f"splits it into {batch.sqs_api_calls} `SendMessageBatch` calls (SQS takes at most 10 "
            "messages per call), so a full 100-event batch costs 10 sequential SQS round trips."
        )
    if any(m.key_reads or m.qr_reads for m in measurements):
        section.notes.append(
            f"The reads counted during the timed calls are the cache expiring every {cache_ttl:g} s "
            f"(the local stage's `MM_CACHE_TTL_SECONDS`; deployed stages use {deployed_ttl} s), "
            "then one read refilling it: not a read per request."
        )
    section.notes.append(
        "These are in-process figures: a deployed request adds API Gateway, the Lambda "
        "runtime's own overhead and the SQS round trip(s), which dominate."
    )
