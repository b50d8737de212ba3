"""Property: whatever the redeliveries and their order, each messageId counts once and a message
delivered many times leaves the same state as one delivered once (ProcessEvent + in-memory store)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.events import Event
from chalicelib.use_cases.process_events import Outcome
from tests.unit.builders import NOW, Worker, event, identify

USERS = ["u1", "u2"]
ANONYMOUS = ["a1", "a2", "a3"]
TRACKS = [
    "Product Viewed",
    "Geofence Entered",
    "Geofence Exited",
    "Order Completed",
    "Video Content Completed",
    "QR Code Scanned",
    "Wishlist Shared",
    "App Opened",
]


def new_worker() -> tuple[Worker, str]:
    worker = Worker()
    return worker, worker.add_qr_code(store_id="store-qr", product_id="p-qr")


GENUINE_QR = new_worker()[1]


@st.composite
def identities(draw, *, identify_call: bool) -> tuple[str | None, str | None]:
    kinds = ["user", "both"] if identify_call else ["user", "anonymous", "both"]
    kind = draw(st.sampled_from(kinds))
    user = draw(st.sampled_from(USERS)) if kind != "anonymous" else None
    anonymous = draw(st.sampled_from(ANONYMOUS)) if kind != "user" else None
    return user, anonymous


@st.composite
def one_event(draw, message_id: str) -> Event:
    at = NOW - timedelta(minutes=draw(st.integers(0, 600)))
    if draw(st.booleans()) and draw(st.booleans()):  # about a quarter are identify calls
        user, anonymous = draw(identities(identify_call=True))
        traits = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "email": st.sampled_from(["ada@example.com", "grace@example.com"]),
                    "consents": st.dictionaries(
                        st.sampled_from(["email", "push", "sms"]), st.booleans(), max_size=2
                    ),
                },
            )
        )
        return identify(at=at, message_id=message_id, user_id=user, anonymous_id=anonymous, traits=traits)
    user, anonymous = draw(identities(identify_call=False))
    name = draw(st.sampled_from(TRACKS))
    product = draw(st.sampled_from(["p1", "p2", "p3"]))
    store = draw(st.sampled_from(["s1", "s2"]))
    properties = {
        "Product Viewed": {"product_id": product, "category": "shoes"},
        "Geofence Entered": {"store_id": store},
        "Geofence Exited": {"store_id": store},
        "Order Completed": {
            "order_id": message_id,
            "products": [{"product_id": product, "category": "hats"}],
        },
        "Video Content Completed": {"video_id": "v1", "product_id": product},
        "QR Code Scanned": {"code": draw(st.sampled_from([GENUINE_QR, "A" * 22]))},
    }.get(name, {"store_id": store})
    return event(
        name, at=at, message_id=message_id, user_id=user, anonymous_id=anonymous, properties=properties
    )


@st.composite
def deliveries(draw) -> tuple[list[Event], list[Event]]:
    """(the distinct messages, the order the queue delivers them in, duplicates included)."""
    count = draw(st.integers(1, 15))
    messages = [draw(one_event(f"m-{i}")) for i in range(count)]
    copies = [m for m in messages for _ in range(draw(st.integers(1, 3)))]
    return messages, draw(st.permutations(copies))


def first_delivery_order(delivered: list[Event]) -> list[Event]:
    seen: set[str] = set()
    out: list[Event] = []
    for e in delivered:
        if e.message_id not in seen:
            seen.add(e.message_id)
            out.append(e)
    return out


def state(worker: Worker):
    store = worker.store
    return store.profiles, store.aliases, store.markers, store.counters


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_redeliveries_in_any_order_count_each_message_once_and_change_nothing_twice(case):
    messages, delivered = case
    at_least_once, _ = new_worker()
    exactly_once, _ = new_worker()
    other_order, _ = new_worker()

    outcomes = Counter(at_least_once.deliver(e).outcome for e in delivered)
    once_in_same_order = first_delivery_order(delivered)
    for e in once_in_same_order:
        exactly_once.deliver(e)
    for e in sorted(messages, key=lambda m: m.message_id, reverse=True):
        other_order.deliver(e)

    assert outcomes == Counter(
        {Outcome.PROCESSED: len(messages), Outcome.DUPLICATE: len(delivered) - len(messages)}
    )
    assert at_least_once.totals()["events"] == len(messages)
    assert state(at_least_once) == state(exactly_once)
    # Every exact counter is the same whatever the order; daily active shoppers (``active``)
    # is approximate by design (who was first that day, anonymous or logged in, depends on it).
    assert exact(at_least_once.store.counters) == exact(other_order.store.counters)


def exact(counters: dict) -> dict:
    kept = {k: {n: c for n, c in v.items() if n != "active"} for k, v in counters.items()}
    return {k: v for k, v in kept.items() if v}


def test_first_delivery_order_keeps_the_first_copy_of_each_message():
    a, b, c = (event(message_id=m) for m in ("a", "b", "c"))

    assert [e.message_id for e in first_delivery_order([b, a, b, c, a])] == ["b", "a", "c"]
