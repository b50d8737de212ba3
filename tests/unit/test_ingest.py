"""use_cases/ingest.py and scan_qr.py: validated events -> exactly one queue call per request."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from chalicelib.adapters.in_memory import InMemoryQrCodes, InMemoryQueue
from chalicelib.contracts import queue_envelope
from chalicelib.domain.clock import FixedClock
from chalicelib.domain.errors import InvalidInput, NotFound, PayloadTooLarge, RetryableError
from chalicelib.domain.ports import QueueMessage
from chalicelib.domain.records import QrCode
from chalicelib.use_cases.ingest import Ingest
from chalicelib.use_cases.scan_qr import QR_APP_ID, QrCodes, ScanQr
from tests.unit.builders import APP_ID, NOW, identify_payload, settings, track_payload


class RefusingQueue:
    """A queue that is down: every send raises RetryableError (what the SQS adapter does)."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, messages: Sequence[QueueMessage]) -> None:
        self.calls += 1
        raise RetryableError("SQS is throttling")


def raw(body) -> bytes:
    return json.dumps(body).encode()


def queued(queue: InMemoryQueue) -> list[queue_envelope.Envelope]:
    return [queue_envelope.decode(body) for body in queue.messages]


# --- single events ----------------------------------------------------------------------------


def test_given_a_valid_track_then_it_is_queued_in_one_call_and_its_message_id_returned():
    queue = InMemoryQueue()

    result = Ingest(queue, FixedClock(NOW)).single(APP_ID, raw(track_payload(messageId="m-42")), "track")

    assert result.accepted == ["m-42"] and result.rejected == []
    assert queue.calls == 1
    [envelope] = queued(queue)
    assert (envelope.app_id, envelope.received_at, envelope.event.message_id) == (APP_ID, NOW, "m-42")
    assert envelope.event.properties == {"product_id": "p1"}


def test_given_an_identify_on_its_endpoint_then_it_is_queued():
    queue = InMemoryQueue()

    Ingest(queue, FixedClock(NOW)).single(APP_ID, raw(identify_payload()), "identify")

    assert queued(queue)[0].event.traits == {"email": "ada@example.com"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (raw(identify_payload()), InvalidInput),
        (raw(track_payload(userId=None)), InvalidInput),
        (b"[]", InvalidInput),
        (b"", InvalidInput),
        (raw(track_payload(properties={"blob": "x" * 40_000})), PayloadTooLarge),
    ],
)
def test_given_an_invalid_single_event_then_nothing_is_queued(body, error):
    queue = InMemoryQueue()

    with pytest.raises(error):
        Ingest(queue, FixedClock(NOW)).single(APP_ID, body, "track")

    assert queue.calls == 0


def test_given_the_queue_is_down_then_the_retryable_error_reaches_the_caller():
    queue = RefusingQueue()

    with pytest.raises(RetryableError):
        Ingest(queue, FixedClock(NOW)).single(APP_ID, raw(track_payload()), "track")

    assert queue.calls == 1


# --- batches ----------------------------------------------------------------------------------


def test_given_a_mixed_batch_then_the_valid_events_go_in_one_call_and_the_rest_are_reported():
    queue = InMemoryQueue()
    items = [track_payload(messageId=f"m-{i}") for i in range(25)]
    items[3] = track_payload(messageId="m-bad", userId=None)
    items[4] = dict(items[0])  # a duplicate of m-0

    result = Ingest(queue, FixedClock(NOW)).batch(APP_ID, raw({"batch": items}))

    assert queue.calls == 1
    assert len(queue.messages) == 23
    assert result.accepted == [e.event.message_id for e in queued(queue)]
    assert [(r.index, r.message_id) for r in result.rejected] == [(3, "m-bad")]


def test_given_a_batch_where_every_event_is_rejected_then_invalid_input_names_each_problem():
    queue = InMemoryQueue()
    items = [track_payload(messageId="m-1", userId=None), track_payload(messageId="m-2", timestamp="soon")]

    with pytest.raises(InvalidInput) as caught:
        Ingest(queue, FixedClock(NOW)).batch(APP_ID, raw({"batch": items}))

    assert [e.field for e in caught.value.errors] == ["batch[0].userId", "batch[1].timestamp"]
    assert "all 2 events" in caught.value.message
    assert queue.calls == 0


def test_given_a_batch_over_the_byte_limit_then_it_is_too_large():
    items = [track_payload(messageId=f"m-{i}", properties={"note": "x" * 6000}) for i in range(90)]

    with pytest.raises(PayloadTooLarge):
        Ingest(InMemoryQueue(), FixedClock(NOW)).batch(APP_ID, raw({"batch": items}))


# --- QR scans (the /q/{code} hot path) ---------------------------------------------------------


def scan_setup(state: str = "active", destination: str = "https://shop.example.com/p/1"):
    repository, queue = InMemoryQrCodes(), InMemoryQueue()
    repository.put(QrCode("SHELF234", "store-7", destination, NOW.isoformat(), "p1", "aisle-3", state))
    codes = QrCodes(repository, settings())
    return ScanQr(codes, Ingest(queue, FixedClock(NOW)), FixedClock(NOW)), codes, repository, queue


def test_given_a_genuine_code_then_the_stored_destination_is_returned_and_the_scan_queued():
    scan, codes, repository, queue = scan_setup()
    visitor = "6f1c1d4e-8a63-4b53-9d7e-3f2b5a1c0d9e"

    result = scan.scan(codes.token_for("SHELF234").lower(), visitor)

    assert (result.destination, result.visitor_id) == ("https://shop.example.com/p/1", visitor)
    [envelope] = queued(queue)
    assert envelope.app_id == QR_APP_ID
    assert envelope.event.event == "QR Code Scanned" and envelope.event.anonymous_id == visitor
    assert envelope.event.properties["store_id"] == "store-7"
    assert result.message_id == envelope.event.message_id


def test_given_the_same_code_scanned_twice_then_the_record_is_read_once():
    scan, codes, repository, _ = scan_setup()

    scan.scan(codes.token_for("SHELF234"), None)
    scan.scan(codes.token_for("SHELF234"), None)

    assert repository.reads == 1


@pytest.mark.parametrize("cookie", [None, "", "not-a-uuid", "6f1c1d4e-8a63-4b53-9d7e-3f2b5a1c0d9e<script>"])
def test_given_no_valid_visitor_cookie_then_a_new_visitor_id_is_made(cookie):
    scan, codes, _, _ = scan_setup()

    result = scan.scan(codes.token_for("SHELF234"), cookie)

    assert result.visitor_id != cookie and len(result.visitor_id) == 36


def test_given_a_forged_unknown_or_revoked_code_then_not_found_and_nothing_queued():
    scan, codes, repository, queue = scan_setup(state="revoked")
    genuine = codes.token_for("SHELF234")
    forged = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")

    for code in (genuine, forged, codes.token_for("NOTSTORD"), "hello"):
        with pytest.raises(NotFound):
            scan.scan(code, None)

    assert queue.calls == 0


def test_given_a_stored_record_with_an_unsafe_destination_then_not_found():
    scan, codes, _, _ = scan_setup(destination="http://evil.example")

    with pytest.raises(NotFound):
        scan.scan(codes.token_for("SHELF234"), None)


def test_given_the_queue_is_down_then_the_shopper_is_still_redirected():
    repository = InMemoryQrCodes()
    repository.put(QrCode("SHELF234", "store-7", "https://shop.example.com/p/1", NOW.isoformat()))
    codes = QrCodes(repository, settings())
    scan = ScanQr(codes, Ingest(RefusingQueue(), FixedClock(NOW)), FixedClock(NOW))

    result = scan.scan(codes.token_for("SHELF234"), None)

    assert result.destination == "https://shop.example.com/p/1"
    assert result.message_id is None
