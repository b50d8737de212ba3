"""Load on the local stack: play N simulated shoppers at a target event rate, then reconcile.

Each shopper identifies (with consents, and a push device, a phone or an email address), views
products, is located inside store-001's geofence (``Location Updated``, then the SDK's
``Geofence Entered`` with the phone's fix), scans the shelf's QR code in the app and twice with
the phone camera (``/q/``: the second is a repeat and must not count), watches the styling
video (``Video Content Playing`` heartbeats) and completes an order. Events go in SDK-like
``/v1/batch`` calls from a thread pool, paced to ``--rate`` events/s and held back while the
events queue is deeper than ``--max-queue-depth`` (moto's SQS slows down with a deep queue).
The run is bounded by ``--shoppers`` and ``--duration``; it stops by itself.

Then it waits for the worker and reconciles, reading moto directly:

- every accepted messageId is among the messages its profile has applied (the ``ids`` of
  ``USER#{id}``/``PROFILE``, or ``ANON#{visitor}`` for a camera scan; chalicelib/domain/dedupe.py),
  read with BatchGetItem in chunks of 100 (no Query or Scan);
- the ``events`` counters summed over ``STAT#all#s{n}#{hour}``/``COUNTS`` grew by the number
  of distinct accepted events;
- offers ``sent`` in the ledgers (``GET /admin/users/{id}/offers``) equal, per channel, the
  push/email/SMS messages moto recorded during the run (``devstack.outbox``), and no offer
  was delivered twice;
- the dead-letter queue is empty.

It reports throughput, ingest latency p50/p95/p99 and ingest-to-send latency p50/p95 (the
POST of the triggering event to the ledger's ``sent_at``), and exits 1 if reconciliation
fails. It talks to 127.0.0.1 only, and assumes nothing else sends offers on that stack
meanwhile. Imports from chalicelib only the QR scan messageId rule (domain/qr_scans.py) and the
applied-ids format (domain/dedupe.py).
"""

from __future__ import annotations

import argparse
import base64
import heapq
import json
import math
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import requests

from devstack import outbox
from devstack.config import stage_environment
from devstack.demo import zone_at

WRITE_KEY = "demo-write-key"
ADMIN = {"Authorization": "Bearer demo-admin-token"}
INSIDE_COFFEE = {"latitude": 37.7936, "longitude": -122.3958, "accuracy_m": 10}
PHONE = {
    "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}
VIDEO_LENGTH = 60  # seconds; heartbeats every 10 s of playback
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
KIND_OF_CHANNEL = {"push": "push", "email": "email", "sms": "sms"}


# -- what a run sends --------------------------------------------------------------------------
@dataclass
class Step:
    """One HTTP request of a shopper: an SDK batch, a device registration or a camera scan."""

    kind: str  # "batch" | "device" | "scan" | "rescan"
    events: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] | None = None


@dataclass
class Shopper:
    user_id: str
    reach: str  # "push" | "sms" | "email"
    steps: list[Step]
    cookies: dict[str, str] = field(default_factory=dict)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _track(
    user_id: str, event: str, properties: dict[str, Any], at: datetime | None = None
) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user_id,
        "event": event,
        "properties": properties,
        "messageId": f"load-{uuid.uuid4().hex}",
        "timestamp": _iso(at) if at else None,
    }


def shopper_script(run: str, index: int, zone: str, qr_code: str) -> Shopper:
    """The requests one shopper makes, in order. Event timestamps are filled in when sent."""
    user_id = f"load-{run}-{index:05d}"
    reach = ("push", "email", "sms")[index % 3]
    traits: dict[str, Any] = {
        "first_name": f"Shopper{index}",
        "timezone": zone,
        "consents": {"push": reach == "push", "email": reach == "email", "sms": reach == "sms"},
    }
    if reach == "email":
        traits["email"] = f"{user_id}@example.com"
    if reach == "sms":
        traits["phone"] = f"+1415{index % 10_000_000:07d}"
    identify = {
        "type": "identify",
        "userId": user_id,
        "traits": traits,
        "messageId": f"load-{uuid.uuid4().hex}",
    }
    steps = [
        Step(
            "batch",
            [
                identify,
                _track(user_id, "Product Viewed", {"product_id": "cold-brew-1l", "category": "coffee"}),
                _track(user_id, "Product Viewed", {"product_id": "linen-shirt-blue", "category": "shirts"}),
            ],
        )
    ]
    if reach == "push":
        steps.append(Step("device", body={"userId": user_id, "platform": "ios", "token": f"tok-{user_id}"}))
    steps += [
        Step(
            "batch",
            [
                _track(user_id, "Location Updated", dict(INSIDE_COFFEE)),
                _track(user_id, "Geofence Entered", {"store_id": "store-001", **INSIDE_COFFEE}),
                _track(user_id, "QR Code Scanned", {"code": qr_code}),
            ],
        ),
        Step("scan"),
        Step("rescan"),
        Step(
            "batch",
            [
                _track(
                    user_id,
                    "Video Content Playing",
                    {"video_id": "styling-101", "position": position, "total_length": VIDEO_LENGTH},
                )
                for position in range(0, VIDEO_LENGTH + 1, 10)
            ],
        ),
        Step(
            "batch",
            [_track(user_id, "Order Completed", {"order_id": f"order-{user_id}", "total": 12.5})],
        ),
    ]
    return Shopper(user_id, reach, steps)


def events_per_shopper() -> int:
    sample = shopper_script("x", 0, "UTC", "X")
    return sum(len(s.events) for s in sample.steps) + 1  # + the counted camera scan


# -- results -------------------------------------------------------------------------------------
@dataclass
class Sent:
    """What the generator saw while sending."""

    accepted: dict[str, tuple[str, float]] = field(default_factory=dict)  # messageId -> (PK, POST time)
    scans: list[tuple[str, list[str], float]] = field(default_factory=list)  # (visitor, candidate ids, t)
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    repeat_counted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def events(self) -> int:
        return len(self.accepted) + len(self.scans)


@dataclass
class Report:
    shoppers: int
    events_accepted: int
    requests: int
    errors: dict[str, int]
    send_seconds: float
    drain_seconds: float
    throughput_eps: float
    end_to_end_eps: float
    ingest_ms: dict[str, float]
    ingest_to_send_ms: dict[str, float]
    offers_sent: dict[str, int]
    outbox: dict[str, int]
    markers_missing: int
    events_counted: int
    dlq_depth: int
    problems: list[str]

    @property
    def reconciled(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        ms = self.ingest_ms
        send = self.ingest_to_send_ms
        return [
            f"shoppers {self.shoppers}, events accepted {self.events_accepted} in {self.requests} requests, "
            f"errors {sum(self.errors.values())} {self.errors or ''}",
            f"send phase {self.send_seconds:.1f} s ({self.throughput_eps:.1f} events/s); all processed after "
            f"{self.send_seconds + self.drain_seconds:.1f} s ({self.end_to_end_eps:.1f} events/s end to end)",
            f"ingest latency per request: p50 {ms.get('p50', 0):.0f} ms, p95 {ms.get('p95', 0):.0f} ms, "
            f"p99 {ms.get('p99', 0):.0f} ms, max {ms.get('max', 0):.0f} ms",
            f"ingest to send (offers): p50 {send.get('p50', 0):.0f} ms, p95 {send.get('p95', 0):.0f} ms "
            f"(n={int(send.get('n', 0))})",
            f"offers sent in the ledger {self.offers_sent}; moto outbox {self.outbox}",
            f"markers missing {self.markers_missing}; events counters {self.events_counted} "
            f"(expected {self.events_accepted}); DLQ depth {self.dlq_depth}",
            "RECONCILED" if self.reconciled else "NOT RECONCILED: " + "; ".join(self.problems),
        ]


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    return {"n": len(ordered), "p50": at(50), "p95": at(95), "p99": at(99), "max": ordered[-1]}


# -- the run -------------------------------------------------------------------------------------
@dataclass
class Target:
    base_url: str
    moto_url: str
    table: str
    queue_url: str
    qr_code: str
    shards: int

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Target:
        shards = int(stage_environment("local").get("MM_STAT_SHARDS", "4"))
        codes = state.get("qr_codes") or []
        code = next((c["code"] for c in codes if c.get("store_id") == "store-001"), None)
        if code is None:
            raise SystemExit("the stack has no QR code at store-001: start it with the demo seed")
        return cls(
            f"http://127.0.0.1:{state['port']}",
            f"http://127.0.0.1:{state['moto_port']}",
            state["outputs"]["TableName"],
            state["outputs"]["EventsQueueUrl"],
            code,
            shards,
        )

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


class LoadRun:
    def __init__(
        self,
        target: Target,
        shoppers: int,
        rate: float,
        duration: float,
        workers: int = 8,
        step_gap: float = 1.5,
        max_queue_depth: int = 300,
        drain_timeout: float = 180,
        progress: Any = sys.stderr,
    ) -> None:
        for url in (target.base_url, target.moto_url):
            if urlsplit(url).hostname not in LOOPBACK:
                raise ValueError(f"{url}: the load generator only talks to 127.0.0.1")
        self.target = target
        self.shoppers = shoppers
        self.rate = rate
        self.duration = duration
        self.workers = workers
        self.step_gap = step_gap
        self.max_queue_depth = max_queue_depth
        self.drain_timeout = drain_timeout
        self.progress = progress
        self.sent = Sent()
        self.run_id = uuid.uuid4().hex[:6]
        self._auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
        self._local = threading.local()
        self._sqs = target.client("sqs")
        self._dynamodb = target.client("dynamodb")
        self._dedupe_seconds = int(stage_environment("local").get("MM_QR_SCAN_DEDUPE_SECONDS", "300"))

    # -- sending -----------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _post(self, path: str, body: Any) -> tuple[int, Any, float]:
        started = time.monotonic()
        try:
            response = self._session().post(
                f"{self.target.base_url}{path}",
                data=json.dumps(body),
                headers={"Authorization": self._auth, "Content-Type": "application/json"},
                timeout=30,
            )
        except requests.RequestException as exc:
            return 0, type(exc).__name__, (time.monotonic() - started) * 1000
        elapsed = (time.monotonic() - started) * 1000
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return response.status_code, payload, elapsed

    def _error(self, what: str) -> None:
        with self.sent.lock:
            self.sent.errors[what] += 1

    def _do(self, shopper: Shopper, step: Step) -> None:
        sent = self.sent
        if step.kind == "batch":
            now = datetime.now(UTC)
            batch = []
            for i, event in enumerate(step.events):
                event = dict(event)
                if event["type"] == "track" and event["event"] == "Video Content Playing":
                    # played in real time, ending now
                    position = event["properties"]["position"]
                    event["timestamp"] = _iso(now - timedelta(seconds=VIDEO_LENGTH - position))
                else:
                    event["timestamp"] = _iso(now + timedelta(milliseconds=i))
                batch.append(event)
            posted = time.time()
            status, payload, ms = self._post("/v1/batch", {"batch": batch, "sentAt": _iso(now)})
            with sent.lock:
                sent.requests += 1
                sent.latencies_ms.append(ms)
                if status != 200 or not isinstance(payload, dict):
                    sent.errors[f"batch {status}"] += 1
                    return
                for message_id in payload.get("accepted", []):
                    sent.accepted[message_id] = (f"USER#{shopper.user_id}", posted)
                sent.rejected += len(payload.get("rejected", []))
        elif step.kind == "device":
            status, _payload, _ms = self._post("/v1/devices", step.body)
            with sent.lock:
                sent.requests += 1
            if status != 200:
                self._error(f"device {status}")
        else:
            self._scan(shopper, repeat=step.kind == "rescan")

    def _scan(self, shopper: Shopper, repeat: bool) -> None:
        from chalicelib.domain.qr_scans import scan_message_id

        headers = dict(PHONE)
        if repeat and shopper.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in shopper.cookies.items())
        started, wall = time.monotonic(), time.time()
        try:
            response = self._session().get(
                f"{self.target.base_url}/q/{self.target.qr_code}",
                headers=headers,
                allow_redirects=False,
                timeout=30,
            )
        except requests.RequestException as exc:
            self._error(f"scan {type(exc).__name__}")
            return
        ms = (time.monotonic() - started) * 1000
        cookies = {c.name: c.value for c in response.cookies}
        self._session().cookies.clear()  # each shopper is their own phone
        with self.sent.lock:
            self.sent.requests += 1
            self.sent.latencies_ms.append(ms)
            if response.status_code != 302:
                self.sent.errors[f"scan {response.status_code}"] += 1
                return
            counted = "mm_qs" in cookies
            if repeat:
                if counted:
                    self.sent.repeat_counted += 1
                return
            if not counted or "mm_vid" not in cookies:
                self.sent.errors["scan not counted"] += 1
                return
            shopper.cookies = cookies
            visitor = cookies["mm_vid"]
            qr_id = self.target.qr_code.strip().upper()[:8]
            candidates = sorted(
                {
                    scan_message_id(visitor, qr_id, datetime.fromtimestamp(t, UTC), self._dedupe_seconds)
                    for t in (wall - 1, wall + ms / 1000 + 1)
                }
            )
            self.sent.scans.append((visitor, candidates, wall))

    def queue_depth(self) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.target.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def _say(self, line: str, end: str = "\r") -> None:
        if self.progress is not None:
            print(line.ljust(100), end=end, file=self.progress, flush=True)

    def send(self) -> float:
        """Play every shopper's script, paced to ``rate`` events/s; returns the seconds it took."""
        zone = zone_at(set(range(10, 19)))
        per_shopper = events_per_shopper()
        shoppers = [shopper_script(self.run_id, i, zone, self.target.qr_code) for i in range(self.shoppers)]
        # shopper i starts when the events of the shoppers before it are due; its steps follow
        # each other at least ``step_gap`` apart (and after the previous step finished)
        spacing = per_shopper / self.rate
        started = time.monotonic()
        deadline = started + self.duration
        ready: list[tuple[float, int, int]] = [(started + i * spacing, i, 0) for i in range(len(shoppers))]
        heapq.heapify(ready)
        in_flight: dict[Future[None], tuple[int, int]] = {}
        done_lock = threading.Lock()
        finished: list[tuple[int, int]] = []
        budget = 0.0  # events the pacer may still send now (a token bucket, one second deep)
        last_refill = started
        last_progress = 0.0
        depth = 0
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="shopper") as pool:

            def finished_step(future: Future[None], where: tuple[int, int]) -> None:
                with done_lock:
                    finished.append(where)

            while (ready or in_flight) and time.monotonic() < deadline:
                now = time.monotonic()
                with done_lock:
                    done, finished[:] = list(finished), []
                for index, step_no in done:
                    for future, where in list(in_flight.items()):
                        if where == (index, step_no):
                            exc = future.exception()
                            if exc is not None:
                                self._error(f"generator {type(exc).__name__}: {exc}")
                            del in_flight[future]
                    if step_no + 1 < len(shoppers[index].steps):
                        heapq.heappush(ready, (now + self.step_gap, index, step_no + 1))
                budget = min(self.rate, budget + (now - last_refill) * self.rate)
                last_refill = now
                if now - last_progress >= 1.0:
                    last_progress = now
                    depth = self.queue_depth()
                    elapsed = now - started
                    self._say(
                        f"sent {self.sent.events} events ({self.sent.events / max(elapsed, 1e-9):.1f}/s), "
                        f"{self.sent.requests} requests, errors {sum(self.sent.errors.values())}, "
                        f"queue {depth}, shoppers started {self.shoppers - sum(1 for r in ready if r[2] == 0)}"
                        f"/{self.shoppers}"
                    )
                if ready and ready[0][0] <= now and depth < self.max_queue_depth and budget >= 0:
                    _at, index, step_no = heapq.heappop(ready)
                    step = shoppers[index].steps[step_no]
                    budget -= max(len(step.events), 1 if step.kind == "scan" else 0)
                    future = pool.submit(self._do, shoppers[index], step)
                    in_flight[future] = (index, step_no)
                    future.add_done_callback(lambda f, w=(index, step_no): finished_step(f, w))
                    continue
                time.sleep(0.002)
            if time.monotonic() >= deadline and (ready or in_flight):
                self._error("stopped at --duration")
        took = time.monotonic() - started
        self._say(
            f"sent {self.sent.events} events in {took:.1f} s ({self.sent.events / took:.1f}/s), "
            f"{self.sent.requests} requests, errors {sum(self.sent.errors.values())}",
            end="\n",
        )
        self.shopper_ids = [s.user_id for s in shoppers]
        return took

    # -- reconciling -------------------------------------------------------------------------
    def _batch_get(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of ``keys`` (partition, ``MSG#{messageId}``) are applied: the message's digest is
        in the ``ids`` of the partition's profile (BatchGetItem, 100 at a time, consistent)."""
        from chalicelib.domain import dedupe

        applied: dict[str, set[bytes]] = {}
        partitions = sorted({pk for pk, _ in keys})
        for start in range(0, len(partitions), 100):
            request: dict[str, Any] = {
                self.target.table: {
                    "Keys": [
                        {"PK": {"S": pk}, "SK": {"S": "PROFILE"}} for pk in partitions[start : start + 100]
                    ],
                    "ConsistentRead": True,
                    "ProjectionExpression": "PK, ids",
                }
            }
            while request:
                response = self._dynamodb.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.target.table, []):
                    ids = dedupe.unpack(item.get("ids", {}).get("B"))
                    applied[item["PK"]["S"]] = {d for d, _ in ids}
                request = response.get("UnprocessedKeys") or {}
        return {
            (pk, sk) for pk, sk in keys if dedupe.digest(sk.removeprefix("MSG#")) in applied.get(pk, set())
        }

    def _expected_markers(self) -> tuple[list[tuple[str, str]], list[list[tuple[str, str]]]]:
        plain = [(pk, f"MSG#{message_id}") for message_id, (pk, _t) in self.sent.accepted.items()]
        scans = [
            [(f"ANON#{visitor}", f"MSG#{c}") for c in candidates]
            for visitor, candidates, _ in self.sent.scans
        ]
        return plain, scans

    def wait_processed(self) -> tuple[float, int]:
        """Wait until every accepted event is applied (or the drain timeout); returns the
        seconds waited and how many are still missing."""
        started = time.monotonic()
        plain, scans = self._expected_markers()
        missing_plain = list(plain)
        missing_scans = list(scans)
        while True:
            found = self._batch_get(missing_plain + [k for group in missing_scans for k in group])
            missing_plain = [k for k in missing_plain if k not in found]
            missing_scans = [g for g in missing_scans if not any(k in found for k in g)]
            missing = len(missing_plain) + len(missing_scans)
            waited = time.monotonic() - started
            self._say(
                f"waiting for the worker: {missing} events not processed yet, queue {self.queue_depth()}"
            )
            if not missing or waited > self.drain_timeout:
                break
            time.sleep(1.0)
        # the applied ids are written with the counters; offers are sent right after: let the
        # queue empty before reading the ledger
        while self.queue_depth() and time.monotonic() - started < self.drain_timeout:
            time.sleep(0.5)
        time.sleep(1.0)
        self._say("", end="\r")
        return time.monotonic() - started, missing

    def events_counters(self, hours: list[str]) -> int:
        keys = [(f"STAT#all#s{n}#{hour}", "COUNTS") for n in range(self.target.shards) for hour in hours]
        total = 0
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.target.table: {
                    "Keys": [{"PK": {"S": pk}, "SK": {"S": sk}} for pk, sk in keys[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self._dynamodb.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.target.table, []):
                    total += int(item.get("events", {}).get("N", "0"))
                request = response.get("UnprocessedKeys") or {}
        return total

    def dlq_depth(self) -> int:
        url = self._sqs.get_queue_url(QueueName=self.target.queue_url.rsplit("/", 1)[-1] + "-dlq")["QueueUrl"]
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def ledgers(self) -> list[dict[str, Any]]:
        session = self._session()
        records: list[dict[str, Any]] = []
        for user_id in self.shopper_ids:
            response = session.get(
                f"{self.target.base_url}/admin/users/{user_id}/offers", headers=ADMIN, timeout=30
            )
            response.raise_for_status()
            records.extend(response.json().get("offers", []))
        return records

    def run(self) -> Report:
        first_hour = datetime.now(UTC) - timedelta(minutes=2)  # video heartbeats are back-dated
        last_hour = first_hour + timedelta(seconds=self.duration + self.drain_timeout + 300)
        hours = []
        at = first_hour.replace(minute=0, second=0, microsecond=0)
        while at <= last_hour:
            hours.append(at.strftime("%Y%m%d%H"))
            at += timedelta(hours=1)
        counted_before = self.events_counters(hours)
        outbox_before = outbox.sent_messages(self.target.moto_url, timeout=60)
        send_seconds = self.send()
        drain_seconds, missing = self.wait_processed()
        problems: list[str] = []
        sent = self.sent
        if sent.errors:
            problems.append(f"request errors {dict(sent.errors)}")
        if sent.rejected:
            problems.append(f"{sent.rejected} events rejected by the API")
        if sent.repeat_counted:
            problems.append(f"{sent.repeat_counted} repeat camera scans were counted")
        if missing:
            problems.append(f"{missing} accepted events are not applied (not processed)")
        counted = self.events_counters(hours) - counted_before
        if counted != sent.events:
            problems.append(f"events counters grew by {counted}, expected {sent.events}")
        dlq = self.dlq_depth()
        if dlq:
            problems.append(f"{dlq} messages in the DLQ")
        records = self.ledgers()
        new = outbox.sent_since(self.target.moto_url, outbox_before, timeout=60)
        outbox_counts = {kind: len(new[kind]) for kind in outbox.KINDS}
        sent_records = [r for r in records if r.get("status") == "sent"]
        ledger_counts = {kind: 0 for kind in outbox.KINDS}
        for record in sent_records:
            ledger_counts[KIND_OF_CHANNEL.get(record.get("channel", ""), "push")] += 1
        if ledger_counts != outbox_counts:
            problems.append(f"offers sent in the ledger {ledger_counts} != moto outbox {outbox_counts}")
        pushed = Counter(m.get("offer_id") for m in new["push"])
        twice = [offer for offer, n in pushed.items() if n > 1]
        if twice:
            problems.append(f"{len(twice)} offers pushed more than once, e.g. {twice[:3]}")
        stuck = Counter(r.get("status") for r in records if r.get("status") in ("claimed", "retry"))
        if stuck:
            problems.append(f"offers left {dict(stuck)}")
        to_send: list[float] = []
        for record in sent_records:
            # a moment the server detected (a geofence entry from a position, a video
            # milestone from heartbeats) is triggered by "{messageId}#{moment}#..."
            trigger = str(record.get("trigger_message_id")).split("#", 1)[0]
            posted = sent.accepted.get(trigger)
            if posted and record.get("sent_at"):
                sent_at = datetime.fromisoformat(str(record["sent_at"]).replace("Z", "+00:00")).timestamp()
                to_send.append((sent_at - posted[1]) * 1000)
        events = sent.events
        return Report(
            shoppers=self.shoppers,
            events_accepted=events,
            requests=sent.requests,
            errors=dict(sent.errors),
            send_seconds=round(send_seconds, 2),
            drain_seconds=round(drain_seconds, 2),
            throughput_eps=round(events / send_seconds, 1),
            end_to_end_eps=round(events / (send_seconds + drain_seconds), 1),
            ingest_ms={k: round(v, 1) for k, v in percentiles(sent.latencies_ms).items()},
            ingest_to_send_ms={k: round(v, 1) for k, v in percentiles(to_send).items()},
            offers_sent=ledger_counts,
            outbox=outbox_counts,
            markers_missing=missing,
            events_counted=counted,
            dlq_depth=dlq,
            problems=problems,
        )


def main(argv: list[str] | None = None) -> int:
    from devstack.config import DEFAULT_STATE_FILE

    per_shopper = events_per_shopper()
    parser = argparse.ArgumentParser(
        prog="python -m devstack.load",
        description=__doc__.split("\n\n")[0]
        + f" Each shopper sends {per_shopper} events (+ a device registration for a third of them"
        " and a repeat camera scan). Start the stack first (`make run`).",
        epilog="Example: python -m devstack.load --shoppers 100 --rate 8   (1,500 events at 8/s)",
    )
    parser.add_argument(
        "--state-file",
        default=str(DEFAULT_STATE_FILE),
        help="the running local stack's state file (default .devstack/state.json)",
    )
    parser.add_argument("--shoppers", type=int, default=30, help="simulated shoppers (default 30)")
    parser.add_argument(
        "--rate",
        type=float,
        default=10.0,
        help="target events per second (default 10: about what the worker on moto keeps up with)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=600.0,
        help="stop sending after this many seconds even if shoppers remain (default 600)",
    )
    parser.add_argument("--workers", type=int, default=8, help="concurrent HTTP requests (default 8)")
    parser.add_argument(
        "--max-queue-depth",
        type=int,
        default=300,
        help="pause while the events queue holds more messages than this (default 300)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for the worker after sending (default 300)",
    )
    parser.add_argument("--json", help="also write the report to this file as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    args = parser.parse_args(argv)
    state_path = Path(args.state_file)
    if not state_path.exists():
        print(
            "The local stack is not running: start it with `make run` in another terminal.", file=sys.stderr
        )
        return 2
    target = Target.from_state(json.loads(state_path.read_text()))
    run = LoadRun(
        target,
        shoppers=args.shoppers,
        rate=args.rate,
        duration=args.duration,
        workers=args.workers,
        max_queue_depth=args.max_queue_depth,
        drain_timeout=args.drain_timeout,
        progress=None if args.quiet else sys.stderr,
    )
    print(
        f"Load run {run.run_id}: {args.shoppers} shoppers x {per_shopper} events at {args.rate:g} events/s "
        f"against {target.base_url}",
        flush=True,
    )
    report = run.run()
    for line in report.lines():
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps({**asdict(report), "reconciled": report.reconciled}, indent=2))
    return 0 if report.reconciled else 1


if __name__ == "__main__":
    sys.exit(main())
