"""Property: whatever the moments, shoppers and campaigns, the offer engine never breaks a
guardrail and sends nothing twice.

Random sequences of geofence / QR / video moments for a few shoppers, at random times over three
days that include the end of US daylight saving time (2026-11-01), with random consents, time
zones, devices, SMS opt-outs and campaigns with random caps, are processed the way the worker
processes them (ProcessEvent + AfterMoment -> OfferPipeline) over the in-memory twins. Then,
counting what the recording senders actually sent, grouped by the shopper's local calendar:

- no shopper gets more than the global daily cap in one local day, nor more of one campaign
  than its per-day / per-week cap; no campaign sends more than its budget;
- nothing is sent during quiet hours, on a channel without consent, or to an opted-out number;
- every ledger record has exactly one outcome: a final status, with a reason iff not sent, and
  every "sent" record is exactly one message;
- replaying every moment twice more sends nothing and changes no record.
"""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from chalicelib.domain.events import Event
from chalicelib.domain.offers import FINAL_STATUSES
from chalicelib.engine import rules
from tests.unit.builders import OfferWorld, campaign, event

USERS = ("u1", "u2")
ZONES = ("UTC", "America/New_York", "Asia/Tokyo", "Europe/London", "Australia/Sydney")
STORES = {
    "s1": {"name": "Soho", "timezone": "Europe/London"},
    "s2": {"name": "Brooklyn", "timezone": "America/New_York"},
    "s3": {"name": "Ginza", "timezone": "Asia/Tokyo"},
}
QR_IDS = {"s1": "QRSTORE2", "s2": "QRSTORE3", "s3": "QRSTORE4"}
CHANNELS = ("push", "sms", "email")
START = datetime(2026, 10, 31, tzinfo=UTC)  # a Saturday; New York leaves DST on Sunday 2026-11-01
SPAN_MINUTES = 3 * 24 * 60
QUIET = ("21:00", "08:00")
GLOBAL_DAILY_CAP = 3


@st.composite
def campaigns(draw) -> list[Any]:
    out = []
    for i in range(draw(st.integers(1, 3))):
        channels = draw(st.permutations(CHANNELS))[: draw(st.integers(1, 3))]
        caps = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "per_user_per_day": st.integers(1, 3),
                    "per_user_per_week": st.integers(1, 5),
                    "budget": st.integers(1, 8),
                    "min_gap_minutes": st.sampled_from([0, 30, 240]),
                },
            )
        )
        moment = draw(st.sampled_from(["geofence_entered", "qr_scanned", "video_completed"]))
        stores = [] if moment == "video_completed" else draw(st.sampled_from([[], [], ["s1"], ["s2", "s3"]]))
        out.append(
            campaign(
                id=f"c{i}",
                trigger={"moment": moment, "store_ids": stores},
                channels=list(channels),
                caps=caps,
                priority=draw(st.integers(1, 100)),
                holdout_percent=draw(st.sampled_from([0, 0, 20])),
            )
        )
    return out


@st.composite
def shoppers(draw) -> dict[str, dict[str, Any]]:
    return {
        user_id: {
            "timezone": draw(st.sampled_from(ZONES)),
            "consents": tuple(draw(st.one_of(st.just(set(CHANNELS)), st.sets(st.sampled_from(CHANNELS))))),
            "device": draw(st.booleans()),
            "sms_opted_out": draw(st.integers(0, 4)) == 0,
        }
        for user_id in USERS
    }


KINDS = {"geofence_entered": "geofence", "qr_scanned": "qr", "video_completed": "video"}


@st.composite
def scenarios(draw) -> tuple[list[Any], dict[str, dict[str, Any]], list[tuple]]:
    """Campaigns, shoppers, and moments that mostly (not always) trigger one of the campaigns."""
    offers = draw(campaigns())
    kinds = [KINDS[c.trigger.moment] for c in offers] * 3 + ["geofence", "qr", "video"]
    burst = draw(st.integers(0, SPAN_MINUTES - 6 * 60))  # a busy six hours, so caps are reached
    moment = st.tuples(
        st.sampled_from(USERS),
        st.sampled_from(kinds),
        st.one_of(st.integers(0, SPAN_MINUTES - 1), st.integers(burst, burst + 6 * 60)),  # processed at
        st.sampled_from(list(STORES)),
        st.sampled_from([0, 0, 0, 0, 1, 5, 45]),  # how late it arrives (minutes): some become stale
    )
    return offers, draw(shoppers()), draw(st.lists(moment, min_size=10, max_size=40))


def build_event(qr_codes: dict[str, str], n: int, moment: tuple) -> tuple[datetime, Event]:
    user_id, kind, minute, store_id, delay = moment
    processed_at = START + timedelta(minutes=minute)
    properties = {
        "geofence": {"store_id": store_id},
        "qr": {"code": qr_codes[store_id]},
        "video": {"video_id": "v1"},
    }[kind]
    name = {"geofence": "Geofence Entered", "qr": "QR Code Scanned", "video": "Video Content Completed"}[kind]
    return processed_at, event(
        name,
        message_id=f"m-{n}",
        user_id=user_id,
        at=processed_at - timedelta(minutes=delay),
        properties=properties,
    )


def sends(world: OfferWorld) -> list[tuple[datetime, str, Any]]:
    """(when, channel, message) for every message the senders accepted."""
    return [
        (at, channel, message)
        for channel, sender in (("push", world.push), ("sms", world.sms), ("email", world.email))
        for at, message in zip(sender.sent_at, sender.sent, strict=True)
    ]


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_given_any_moments_then_no_guardrail_is_broken_and_replays_send_nothing_more(scenario):
    # Given
    offers, people, moments = scenario
    world = OfferWorld(offers, at=START, stores=STORES)
    for user_id, person in people.items():
        world.shopper(
            user_id, consents=person["consents"], timezone=person["timezone"], device=person["device"]
        )
        if person["sms_opted_out"]:
            world.sms.opted_out_numbers.add(world.profile_of(user_id).traits["phone"])
    qr_codes = {store_id: world.add_qr_code(qr_id, store_id=store_id) for store_id, qr_id in QR_IDS.items()}
    timeline = sorted((build_event(qr_codes, n, m) for n, m in enumerate(moments)), key=lambda te: te[0])

    # When
    for processed_at, evt in timeline:
        world.clock.at = processed_at
        world.deliver(evt)

    # Then: every message sent maps to exactly one "sent" record, and every record is final
    by_offer = {
        offer_id: (subject.id, record) for (subject, offer_id), record in world.ledger.records.items()
    }
    sent = sends(world)
    note(f"messages sent: {min(len(sent), 10)}{'+' if len(sent) >= 10 else ''}")
    assert Counter(m.offer_id for _, _, m in sent) == Counter(
        offer_id for offer_id, (_, r) in by_offer.items() if r["status"] == "sent"
    )
    for _, record in by_offer.values():
        note(f"outcome: {record['status']}/{record.get('reason')}")  # --hypothesis-show-statistics
        assert record["status"] in FINAL_STATUSES, record
        assert bool(record.get("reason")) is (record["status"] != "sent"), record

    # ... and no guardrail was broken, counted on each shopper's own calendar
    campaign_of = {c.id: c for c in offers}
    per_day: Counter[tuple[str, str]] = Counter()
    per_campaign_day: Counter[tuple[str, str, str]] = Counter()
    per_campaign_week: Counter[tuple[str, str, str]] = Counter()
    per_campaign: Counter[str] = Counter()
    for at, channel, message in sent:
        user_id, record = by_offer[message.offer_id]
        person = people[user_id]
        local = at.astimezone(rules.zone(person["timezone"]))
        day, week = rules.local_calendar(local)
        campaign_id = record["campaign_id"]
        per_day[(user_id, day)] += 1
        per_campaign_day[(user_id, campaign_id, day)] += 1
        per_campaign_week[(user_id, campaign_id, week)] += 1
        per_campaign[campaign_id] += 1
        assert not rules.in_window(local, *QUIET), f"sent at {local} during quiet hours"
        assert channel in person["consents"], f"sent by {channel} without consent"
        assert channel == record["channel"] and record["timezone"] == person["timezone"]
        if channel == "sms":
            assert not person["sms_opted_out"]
        if channel == "push":
            assert person["device"]
    assert max(per_day.values(), default=0) <= GLOBAL_DAILY_CAP
    for (_, campaign_id, _), n in per_campaign_day.items():
        assert n <= (campaign_of[campaign_id].caps.per_user_per_day or n)
    for (_, campaign_id, _), n in per_campaign_week.items():
        assert n <= (campaign_of[campaign_id].caps.per_user_per_week or n)
    for campaign_id, n in per_campaign.items():
        assert n <= (campaign_of[campaign_id].caps.budget or n)

    # When every moment is delivered twice more
    before = copy.deepcopy(world.ledger.records)
    for processed_at, evt in timeline:
        for _ in range(2):
            world.clock.at = processed_at
            world.deliver(evt)

    # Then nothing more is sent and no record changes
    assert len(sends(world)) == len(sent)
    assert world.ledger.records == before
