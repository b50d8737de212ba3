"""domain/counters.py's QR counters, through the worker over the in-memory store: what one scan
adds to its code's and its store's day items, exactly once, and what a redemption adds."""

from __future__ import annotations

from chalicelib.domain.counters import day_bucket, increments_for, qr_redemption_increments
from chalicelib.domain.qr_scans import scan_message_id
from tests.unit.builders import NOW, Worker, event

VISITOR = "6f1c1d4e-8a63-4b53-9d7e-3f2b5a1c0d9e"


def q_scan(code: str, *, unique_code: bool = True, unique_store: bool = True, message_id: str | None = None):
    """The event ScanQr queues for a counted /q/ scan."""
    return event(
        "QR Code Scanned",
        user_id=None,
        anonymous_id=VISITOR,
        message_id=message_id or scan_message_id(VISITOR, code[:8], NOW, 300),
        properties={
            "code": code,
            "qr_id": code[:8],
            "unique_code": unique_code,
            "unique_store": unique_store,
        },
        context={"channel": "qr"},
    )


def test_a_counted_scan_adds_to_its_code_and_store_day_items_with_the_utc_hour():
    worker = Worker()
    code = worker.add_qr_code(store_id="store-7")

    worker.deliver(q_scan(code))

    day = day_bucket(NOW)
    assert worker.store.counters[("qr#SHELF234", day)] == {"s15": 1, "u15": 1}
    assert worker.store.counters[("qrstore#store-7", day)] == {
        "s15": 1,
        "u15": 1,
        "c:SHELF234": 1,
        "cu:SHELF234": 1,
    }


def test_a_scan_that_is_not_unique_counts_as_a_scan_only():
    worker = Worker()
    code = worker.add_qr_code(store_id="store-7")

    worker.deliver(q_scan(code, unique_code=False, unique_store=False))

    assert worker.store.counters[("qr#SHELF234", day_bucket(NOW))] == {"s15": 1}
    assert worker.store.counters[("qrstore#store-7", day_bucket(NOW))] == {"s15": 1, "c:SHELF234": 1}


def test_the_same_scan_delivered_twice_counts_once():
    worker = Worker()
    code = worker.add_qr_code()

    for _ in range(3):
        worker.deliver(q_scan(code))

    assert worker.store.counters[("qr#SHELF234", day_bucket(NOW))] == {"s15": 1, "u15": 1}


def test_an_in_app_scan_counts_as_a_scan_but_never_as_a_unique_visitor():
    worker = Worker()
    code = worker.add_qr_code(store_id="store-7")

    worker.deliver(event("QR Code Scanned", properties={"code": code.lower()}))

    assert worker.store.counters[("qr#SHELF234", day_bucket(NOW))] == {"s15": 1}


def test_a_forged_code_counts_nothing_for_qr_analytics():
    worker = Worker()
    code = worker.add_qr_code()
    forged = code[:-1] + ("A" if code[-1] != "A" else "B")

    worker.deliver(q_scan(forged))

    assert not [k for k in worker.store.counters if k[0].startswith("qr")]


def test_other_moments_add_no_qr_counters():
    increments = increments_for(event("Geofence Entered", properties={"store_id": "s1"}), "s1", shards=4)

    assert [i.scope.split("#")[0] for i in increments] == ["all", "store"]


def test_a_redemption_adds_to_the_codes_and_the_stores_day_items():
    code_item, store_item = qr_redemption_increments("SHELF234", "store-7", NOW)

    assert (code_item.scope, code_item.hour, code_item.counts) == ("qr#SHELF234", "20261123", {"r15": 1})
    assert (store_item.scope, store_item.counts) == ("qrstore#store-7", {"r15": 1, "cr:SHELF234": 1})
