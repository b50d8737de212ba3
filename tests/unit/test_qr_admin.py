"""use_cases/qr_admin.py over in-memory twins: validation naming every field, dynamic
destinations, revoke, rotation with lineage, key bookkeeping, and analytics built from exactly
the counters the worker writes (domain/counters.py), including scan -> redemption conversion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.adapters.in_memory import InMemoryMomentStore
from chalicelib.domain.clock import FixedClock, iso
from chalicelib.domain.counters import CounterIncrement, increments_for
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.qr_scans import scan_message_id
from chalicelib.domain.records import QrCode
from chalicelib.use_cases.qr_admin import QrAdmin, QrConversionLedger
from chalicelib.use_cases.scan_qr import QrCodes
from tests.unit.builders import NOW, FakeStores, event, settings


class FakeQrStore:
    """The QR records with the adapter's semantics (conditional create/replace, atomic rotate)."""

    def __init__(self) -> None:
        self.items: dict[str, QrCode] = {}

    def get(self, qr_id: str) -> QrCode | None:
        return self.items.get(qr_id)

    def put(self, qr_code: QrCode) -> None:
        self.items[qr_code.qr_id] = qr_code

    def create(self, qr_code: QrCode) -> None:
        if qr_code.qr_id in self.items:
            raise Conflict("exists")
        self.items[qr_code.qr_id] = qr_code

    def _check(self, qr_id: str, expected: str | None) -> None:
        stored = self.items.get(qr_id)
        if stored is None or stored.updated_at != expected:
            raise Conflict("changed")

    def replace(self, qr_code: QrCode, expected_updated_at: str | None) -> None:
        self._check(qr_code.qr_id, expected_updated_at)
        self.items[qr_code.qr_id] = qr_code

    def rotate(self, old: QrCode, new: QrCode, expected_updated_at: str | None) -> None:
        self._check(old.qr_id, expected_updated_at)
        if new.qr_id in self.items:
            raise Conflict("exists")
        self.items[old.qr_id] = old
        self.items[new.qr_id] = new

    def list(self, store_id: str | None = None) -> list[QrCode]:
        return [r for r in self.items.values() if store_id is None or r.store_id == store_id]


class FakeStats:
    """Day counters, fed by the same increments the worker commits."""

    def __init__(self) -> None:
        self.store = InMemoryMomentStore()

    def apply(self, increments: Sequence[CounterIncrement]) -> None:
        for inc in increments:
            bucket = self.store.counters.setdefault((inc.scope, inc.hour), {})
            for name, n in inc.counts.items():
                bucket[name] = bucket.get(name, 0) + n

    add = apply

    def days(self, scope: str, days: Sequence[str]) -> dict[str, dict[str, int]]:
        return {d: dict(self.store.counters[(scope, d)]) for d in days if (scope, d) in self.store.counters}


class Setup:
    def __init__(self, **env: str) -> None:
        self.clock = FixedClock(NOW)
        self.settings = settings(
            MM_QR_ALLOWED_DOMAINS="shop.example.com",
            MM_PUBLIC_BASE_URL="https://qr.shop.example.com",
            MM_QR_DESTINATION_TEMPLATE="https://shop.example.com/products/{product_id}?src=qr",
            **env,
        )
        self.repository = FakeQrStore()
        self.codes = QrCodes(self.repository, self.settings, self.clock)
        self.stats = FakeStats()
        self.stores = FakeStores({"store-7": {"name": "Market St", "timezone": "America/New_York"}})
        self.admin = QrAdmin(self.repository, self.codes, self.stats, self.stores, self.settings, self.clock)

    def create(self, **fields: Any) -> dict[str, Any]:
        body = {"store_id": "store-7", "destination": "https://shop.example.com/p/1", **fields}
        return self.admin.create({k: v for k, v in body.items() if v is not None})

    def scan(self, view: dict[str, Any], visitor: str, at=NOW, unique_code=True, unique_store=True) -> None:
        """What the worker counts for one /q/ scan of the code."""
        evt = event(
            "QR Code Scanned",
            at=at,
            user_id=None,
            anonymous_id=visitor,
            message_id=scan_message_id(visitor, view["qr_id"], at, 300),
            properties={"code": view["code"], "unique_code": unique_code, "unique_store": unique_store},
        )
        self.stats.apply(increments_for(evt, view["store_id"], shards=4))


# --- create and validate ---------------------------------------------------------------------


def test_a_new_code_has_a_token_signed_with_the_current_key_and_a_short_scan_url():
    setup = Setup()

    view = setup.create(product_id="sku-1", placement=" aisle 4, top shelf ")

    assert view["placement"] == "aisle 4, top shelf"
    assert view["code"] == setup.codes.token_for(view["qr_id"]) and view["kid"] == "A"
    assert view["url"] == f"https://qr.shop.example.com/q/{view['code']}"
    assert (view["state"], view["scans_accepted"], view["key_live"]) == ("active", True, True)


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(InvalidInput) as caught:
        Setup().admin.create(
            {"store_id": "", "product_id": 5, "placement": "\x00", "destination": "http://x", "extra": 1}
        )

    fields = {e.field for e in caught.value.errors}
    assert fields == {"store_id", "product_id", "placement", "destination", "extra"}


@pytest.mark.parametrize("body", [None, [], "x"])
def test_a_body_that_is_not_an_object_is_refused(body):
    with pytest.raises(InvalidInput) as caught:
        Setup().admin.create(body)
    assert caught.value.errors[0].field == "body"


def test_without_a_destination_the_template_makes_one_from_the_product():
    setup = Setup()

    view = setup.admin.create({"store_id": "store-7", "product_id": "linen-shirt:blue"})

    assert view["destination"] == "https://shop.example.com/products/linen-shirt%3Ablue?src=qr"
    with pytest.raises(InvalidInput) as caught:
        setup.admin.create({"store_id": "store-7"})
    assert caught.value.errors[0].field == "destination"


# --- dynamic destination, revoke, rotate -------------------------------------------------------


def test_updating_the_destination_keeps_the_token_and_the_codes_cache_sees_it_at_once():
    setup = Setup()
    view = setup.create()
    setup.codes.resolve(view["code"])  # cached

    updated = setup.admin.update(
        view["qr_id"], {"destination": "https://shop.example.com/sale", "placement": None}
    )

    assert updated["code"] == view["code"] and "placement" not in updated
    assert setup.codes.resolve(view["code"]).destination == "https://shop.example.com/sale"
    with pytest.raises(InvalidInput):
        setup.admin.update(view["qr_id"], {})
    with pytest.raises(InvalidInput):
        setup.admin.update(view["qr_id"], {"store_id": "elsewhere"})


def test_a_concurrent_change_is_a_conflict_not_a_lost_update():
    setup = Setup()
    view = setup.create()
    stale = setup.repository.get(view["qr_id"])
    setup.admin.update(view["qr_id"], {"placement": "till"})

    with pytest.raises(Conflict):
        setup.repository.replace(replace(stale, placement="door"), stale.updated_at)


def test_a_revoked_code_stops_resolving_and_cannot_be_edited():
    setup = Setup()
    view = setup.create()

    revoked = setup.admin.revoke(view["qr_id"])

    assert revoked["state"] == "revoked" and revoked["revoked_at"] == iso(NOW)
    with pytest.raises(NotFound):
        setup.codes.resolve(view["code"])
    with pytest.raises(InvalidInput):
        setup.admin.rotate(view["qr_id"])
    assert setup.admin.revoke(view["qr_id"])["state"] == "revoked"  # idempotent


def test_rotation_issues_a_new_id_under_the_current_key_and_retires_the_old_label():
    setup = Setup(MM_QR_SIGNING_KEYS="A:0123456789abcdef0123")
    view = setup.create(placement="aisle 4")
    rotating = Setup(MM_QR_SIGNING_KEYS="B:fedcba9876543210fedc,A:0123456789abcdef0123")
    rotating.repository.items = setup.repository.items

    new = rotating.admin.rotate(view["qr_id"], {"grace_hours": 1})

    assert new["qr_id"] != view["qr_id"] and new["kid"] == "B" and new["replaces"] == [view["qr_id"]]
    assert new["placement"] == "aisle 4" and new["destination"] == view["destination"]
    previous = new["previous"]
    assert (previous["state"], previous["replaced_by"]) == ("rotated", new["qr_id"])
    assert previous["retire_at"] == iso(NOW + timedelta(hours=1))
    assert rotating.codes.resolve(view["code"]).qr_id == view["qr_id"]  # within grace
    rotating.clock.advance(hours=1)
    rotating.codes.forget()
    with pytest.raises(NotFound):
        rotating.codes.resolve(view["code"])
    again = rotating.admin.rotate(new["qr_id"])
    assert again["replaces"] == [new["qr_id"], view["qr_id"]]


def test_codes_still_printed_with_a_key_can_be_listed_before_retiring_it():
    setup = Setup(MM_QR_SIGNING_KEYS="B:fedcba9876543210fedc,A:0123456789abcdef0123")
    setup.repository.put(QrCode("OLDCODEA", "store-7", "https://shop.example.com/p", iso(NOW), kid="A"))
    setup.create()

    assert [v["qr_id"] for v in setup.admin.list_codes(kid="A")] == ["OLDCODEA"]
    retired = Setup(MM_QR_SIGNING_KEYS="B:fedcba9876543210fedc")
    retired.repository.items = setup.repository.items
    assert retired.admin.get("OLDCODEA")["key_live"] is False


def test_listing_filters_and_refuses_bad_filters():
    setup = Setup()
    a = setup.create()
    setup.create(store_id="store-8")
    setup.admin.revoke(setup.create()["qr_id"])

    assert [v["qr_id"] for v in setup.admin.list_codes("store-7", "active")] == [a["qr_id"]]
    with pytest.raises(InvalidInput) as caught:
        setup.admin.list_codes("bad#store", "gone", "!")
    assert {e.field for e in caught.value.errors} == {"store", "state", "kid"}


@pytest.mark.parametrize("qr_id", ["ZZZZZZZZ", "nope", ""])
def test_unknown_ids_are_not_found(qr_id):
    with pytest.raises(NotFound):
        Setup().admin.get(qr_id)


# --- analytics -----------------------------------------------------------------------------------


def test_code_analytics_count_scans_unique_visitors_hours_and_weekdays_in_the_stores_zone():
    setup = Setup()
    view = setup.create()
    setup.scan(view, "v1")  # NOW is Monday 2026-11-23 15:04 UTC = 10:04 in New York
    setup.scan(view, "v1", at=NOW + timedelta(minutes=10), unique_code=False, unique_store=False)
    setup.scan(view, "v2", at=NOW + timedelta(hours=10))  # 01:04 UTC Tuesday = 20:04 Monday NY

    stats = setup.admin.stats(view["qr_id"], days=7, to="2026-11-24")

    assert (stats["scans"], stats["unique_visitors"], stats["redemptions"]) == (3, 2, 0)
    assert stats["conversion_rate"] == 0.0 and stats["timezone"] == "America/New_York"
    hours = {h["hour"]: h["scans"] for h in stats["by_hour_of_day"] if h["scans"]}
    assert hours == {10: 2, 20: 1}
    days = {d["day"]: d["scans"] for d in stats["by_day_of_week"] if d["scans"]}
    assert days == {"mon": 3}
    assert [d["scans"] for d in stats["by_day"]][-2:] == [2, 1]  # UTC days
    assert (stats["from"], stats["to"]) == ("2026-11-18", "2026-11-24")


def test_analytics_add_up_a_codes_ids_across_rotations():
    setup = Setup()
    view = setup.create()
    setup.scan(view, "v1")
    new = setup.admin.rotate(view["qr_id"])
    setup.scan(new, "v2")

    assert setup.admin.stats(new["qr_id"])["scans"] == 2
    assert setup.admin.stats(view["qr_id"])["scans"] == 1  # the old id alone


def test_store_analytics_per_code_and_per_placement_with_conversion():
    setup = Setup()
    aisle = setup.create(placement="aisle 4", product_id="a")
    aisle2 = setup.create(placement="aisle 4", product_id="b")
    till = setup.create(placement="till")
    setup.scan(aisle, "v1")
    setup.scan(aisle2, "v1", unique_store=False)
    setup.scan(till, "v2")
    setup.scan(till, "v3")
    ledger = QrConversionLedger(FakeLedger(till), setup.stats)

    ledger.mark_converted("subject", "of_1", "redeemed_at", iso(NOW + timedelta(minutes=5)), ("sent",))
    ledger.mark_converted("subject", "of_1", "converted_at", iso(NOW), ("sent",))  # not a redemption

    store = setup.admin.store_stats("store-7", days=1, to="2026-11-23")
    assert (store["scans"], store["unique_visitors"], store["redemptions"]) == (4, 3, 1)
    assert store["conversion_rate"] == 0.25
    codes = {c["qr_id"]: (c["scans"], c["unique_visitors"], c["redemptions"]) for c in store["codes"]}
    assert codes == {aisle["qr_id"]: (1, 1, 0), aisle2["qr_id"]: (1, 1, 0), till["qr_id"]: (2, 2, 1)}
    placements = {p["placement"]: (p["scans"], p["conversion_rate"]) for p in store["placements"]}
    assert placements == {"aisle 4": (2, 0.0), "till": (2, 0.5)}
    only = setup.admin.store_stats("store-7", days=1, to="2026-11-23", placement="aisle 4")
    assert only["scans"] == 2 and sorted(only["codes"]) == sorted([aisle["qr_id"], aisle2["qr_id"]])
    assert setup.admin.stats(till["qr_id"], days=1, to="2026-11-23")["conversion_rate"] == 0.5


class FakeLedger:
    """An offer ledger holding one offer that a /q/ scan of ``view`` triggered."""

    def __init__(self, view: dict[str, Any]) -> None:
        self.record = {
            "trigger_message_id": scan_message_id("v2", view["qr_id"], NOW, 300),
            "store_id": view["store_id"],
        }
        self.converted: list[str] = []

    def mark_converted(self, subject, offer_id, field, at, statuses, by="", stat=None):
        self.converted.append(field)

    def get(self, subject, offer_id):
        return self.record


def test_a_redemption_of_an_offer_not_triggered_by_a_scan_is_not_counted():
    stats = FakeStats()
    ledger = FakeLedger({"qr_id": "SHELF234", "store_id": "s"})
    ledger.record["trigger_message_id"] = "m-1"

    QrConversionLedger(ledger, stats).mark_converted("s", "of", "redeemed_at", iso(NOW), ("sent",))

    assert ledger.converted == ["redeemed_at"] and stats.store.counters == {}
    assert QrConversionLedger(ledger, stats).record is ledger.record  # everything else passes through


@pytest.mark.parametrize(
    ("days", "to", "field"), [(0, None, "days"), ("x", None, "days"), (None, "soon", "to")]
)
def test_bad_ranges_are_named(days, to, field):
    setup = Setup()
    view = setup.create()

    with pytest.raises(InvalidInput) as caught:
        setup.admin.stats(view["qr_id"], days, to)
    assert caught.value.errors[0].field == field
