"""use_cases/offers.py: OfferPipeline over the in-memory twins, driven the way the worker drives
it (ProcessEvent + AfterMoment), with recording senders and a fixed clock.

Every moment ends in one ledger record: sent once, or not sent with its reason; redeliveries
resume instead of deciding or sending twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import tokens
from chalicelib.domain.clock import iso
from chalicelib.domain.delivery import (
    DeliveryRejected,
    EmailMessage,
    EndpointDisabled,
    PushMessage,
    SmsMessage,
)
from chalicelib.domain.errors import RetryableError
from chalicelib.domain.events import Event
from chalicelib.domain.offers import offer_id_for, redemption_code
from chalicelib.domain.profile import Subject
from chalicelib.engine import rules
from chalicelib.use_cases.audience import Audience
from chalicelib.use_cases.offers import CLAIM_LEASE, UNSUBSCRIBE_PURPOSE
from tests.unit.builders import NOW, OfferWorld, campaign, event, identify

U1 = Subject.user("u1")
NEW_YORK = ZoneInfo("America/New_York")
STORES = {f"s{i}": {"name": f"Store {i}", "timezone": "America/New_York"} for i in range(1, 6)}
STORES["s1"] = {"name": "Soho", "timezone": "Europe/London"}


def new_york(day: int, hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(2026, 11, day, hours, minutes, tzinfo=NEW_YORK)


def world_with(*campaigns, at: datetime = NOW, **settings) -> OfferWorld:
    return OfferWorld(campaigns or [campaign()], at=at, stores=STORES, **settings)


def held_out_user(campaign_id: str, percent: float, *, also_not_in: str | None = None) -> str:
    for i in range(1000):
        user_id = f"u{i}"
        if rules.in_holdout(campaign_id, f"user:{user_id}", percent) and not (
            also_not_in and rules.in_holdout(also_not_in, f"user:{user_id}", percent)
        ):
            return user_id
    raise AssertionError("nobody held out in 1000 shoppers")


# --- a sent offer --------------------------------------------------------------------------------


def test_given_a_consenting_shopper_near_a_store_then_one_personalised_push_is_sent_and_recorded():
    world = world_with()
    world.shopper()

    outcome = world.deliver(world.geofence("m-1", store_id="s1"))

    offer_id = offer_id_for(U1, "m-1")
    assert (outcome.offer_id, outcome.status, outcome.campaign_id, outcome.channel, outcome.reason) == (
        offer_id,
        "sent",
        "coffee",
        "push",
        None,
    )
    [push] = world.push.sent
    assert isinstance(push, PushMessage)
    assert push.title == "Hi Ada" and push.body == "Ada, coffee 20% off at Soho"
    assert push.endpoint_arn.endswith("/u1") and push.offer_id == offer_id
    code = redemption_code(offer_id, world.settings.token_signing_key)
    assert (
        push.data
        == {
            "code": code,
            "campaign_id": "coffee",
            "app_link": "https://shop.example.com/offers/coffee",
        }
        and len(code) == 12
    )
    click = push.deep_link  # the tap goes through the tracked link, which redirects to app_link
    assert click is not None
    assert click.startswith("https://mm.example.com/c/")
    assert tokens.verify("click", click.rsplit("/", 1)[1], world.settings.token_signing_key) == {
        "k": "user",
        "i": "u1",
        "o": offer_id,
    }
    record = world.record(offer_id)
    assert record["status"] == "sent" and "reason" not in record
    assert record["code"] == code and record["sent_at"] == iso(NOW) and record["provider_id"] == "msg-1"
    assert record["unsubscribe_url"].startswith("https://mm.example.com/v1/unsubscribe?token=")
    token = record["unsubscribe_url"].split("token=", 1)[1]
    assert tokens.verify(UNSUBSCRIBE_PURPOSE, token, world.settings.token_signing_key) == {
        "k": "user",
        "i": "u1",
    }
    assert world.email.sent == [] and world.sms.sent == []


def test_given_a_shopper_without_a_first_name_then_the_fallback_greets_them():
    world = world_with()
    world.shopper(first_name=None)

    world.deliver(world.geofence(store_id="s1"))

    assert world.push.sent[0].title == "Hi there" and world.push.sent[0].body.startswith("Friend, ")


def test_given_email_is_the_only_consent_then_an_email_with_a_one_click_unsubscribe_is_sent():
    world = world_with()
    world.shopper(consents=("email",))

    outcome = world.deliver(world.geofence(store_id="s1"))

    [mail] = world.email.sent
    assert isinstance(mail, EmailMessage) and outcome.channel == "email"
    assert mail.to == "u1@example.com" and mail.subject == "Hi Ada"
    assert mail.unsubscribe_url.startswith("https://mm.example.com/v1/unsubscribe?token=")
    assert mail.unsubscribe_url in mail.text and f'href="{mail.unsubscribe_url}"' in mail.html
    assert "Ada, coffee 20% off at Soho" in mail.html
    record = world.record(outcome.offer_id)
    assert mail.tags == {"campaign": "coffee", "code": record["code"]}
    # the call to action goes through the click-tracking redirect, not straight to the shop
    assert 'href="https://mm.example.com/c/' in mail.html and "https://mm.example.com/c/" in mail.text
    assert (
        "shop.example.com" not in mail.html
        and record["deep_link"] == "https://shop.example.com/offers/coffee"
    )
    assert world.push.sent == []


def test_given_sms_is_the_only_consent_then_an_sms_within_160_characters_is_sent():
    world = world_with(campaign(offer={"sms": {"text": "{first_name|Hi}: code {code} at {store_name}"}}))
    world.shopper(consents=("sms",), phone="+15550100")

    world.deliver(world.geofence("m-1", store_id="s2"))

    [sms] = world.sms.sent
    code = redemption_code(offer_id_for(U1, "m-1"), world.settings.token_signing_key)
    assert isinstance(sms, SmsMessage)
    assert sms.phone == "+15550100" and sms.text == f"Ada: code {code} at Store 2" and len(sms.text) <= 160


def test_given_a_qr_scan_then_the_offer_names_the_scanned_product():
    offer = campaign(
        id="qr",
        trigger={"moment": "qr_scanned"},
        offer={
            "body": "{product_name} for you",
            "products": [{"product_id": "p-other", "name": "Mug"}, {"product_id": "p-qr", "name": "Beans"}],
        },
    )
    world = world_with(offer)
    world.shopper()
    code = world.add_qr_code(store_id="s1", product_id="p-qr")

    outcome = world.deliver(event("QR Code Scanned", message_id="m-qr", at=NOW, properties={"code": code}))

    assert outcome.status == "sent" and world.push.sent[0].body == "Beans for you"
    assert world.record(outcome.offer_id)["product_id"] == "p-qr"


def test_given_no_campaign_for_the_moment_then_nothing_is_recorded():
    world = world_with(campaign(trigger={"moment": "video_completed"}))
    world.shopper()

    assert world.deliver(world.geofence(store_id="s1")) is None
    assert world.records() == [] and world.all_sent() == []


def test_given_a_paused_campaign_then_it_triggers_nothing():
    world = world_with(campaign(status="paused"))
    world.shopper()

    assert world.deliver(world.geofence(store_id="s1")) is None
    assert world.all_sent() == []


# --- exactly once ----------------------------------------------------------------------------


def test_given_the_same_moment_three_times_then_the_offer_is_sent_once():
    world = world_with()
    world.shopper()
    moment = world.geofence("m-1", store_id="s1")

    outcomes = [world.deliver(moment) for _ in range(3)]

    assert [o.status for o in outcomes] == ["sent", "sent", "sent"]
    assert len({o.offer_id for o in outcomes}) == 1
    assert len(world.push.sent) == 1 and len(world.records()) == 1


def test_given_the_same_moment_run_directly_three_times_then_the_offer_is_sent_once():
    world = world_with()
    world.shopper()
    moment = world.geofence("m-1", store_id="s1")

    statuses = [world.run(moment).status for _ in range(3)]

    assert statuses == ["sent"] * 3 and len(world.push.sent) == 1


def test_given_a_suppressed_moment_redelivered_then_the_same_reason_comes_back_and_nothing_is_sent():
    world = world_with()
    world.shopper(consents=())
    moment = world.geofence("m-1", store_id="s1")

    outcomes = [world.deliver(moment) for _ in range(2)]

    assert [(o.status, o.reason) for o in outcomes] == [("suppressed", "no_consent")] * 2
    assert world.all_sent() == [] and len(world.records()) == 1


# --- guardrails, each with its reason ------------------------------------------------------------


def test_given_a_second_moment_inside_the_minimum_gap_then_suppressed_min_gap():
    world = world_with(campaign(caps={"min_gap_minutes": 30}))
    world.shopper()
    world.deliver(world.geofence("m-1", store_id="s1"))

    world.clock.advance(minutes=10)
    outcome = world.deliver(world.geofence("m-2", store_id="s2"))

    assert (outcome.status, outcome.reason) == ("suppressed", "min_gap")
    record = world.record(outcome.offer_id)
    assert (record["status"], record["reason"], record["campaign_id"]) == ("suppressed", "min_gap", "coffee")
    assert len(world.push.sent) == 1


def test_given_a_second_moment_after_the_minimum_gap_then_it_is_sent():
    world = world_with(campaign(caps={"min_gap_minutes": 30}))
    world.shopper()
    world.deliver(world.geofence("m-1", store_id="s1"))

    world.clock.advance(minutes=30)
    outcome = world.deliver(world.geofence("m-2", store_id="s2"))

    assert outcome.status == "sent" and len(world.push.sent) == 2


def test_given_a_second_entry_during_the_same_store_visit_then_one_per_visit():
    world = world_with()
    world.shopper()
    world.deliver(world.geofence("m-1", store_id="s1"))

    world.clock.advance(minutes=40)
    again = world.deliver(world.geofence("m-2", store_id="s1"))
    world.clock.advance(hours=3)
    next_visit = world.deliver(world.geofence("m-3", store_id="s1"))

    assert (again.status, again.reason) == ("suppressed", "one_per_visit")
    assert next_visit.status == "sent" and len(world.push.sent) == 2


def test_given_22_30_in_the_shoppers_zone_then_quiet_hours_and_nothing_sent():
    at = new_york(23, "22:30")  # 03:30 UTC the next day
    world = world_with(at=at)
    world.shopper(timezone="America/New_York")

    outcome = world.deliver(world.geofence("m-1", store_id="s1"))

    assert (outcome.status, outcome.reason) == ("suppressed", "quiet_hours")
    assert world.record(outcome.offer_id)["timezone"] == "America/New_York"
    assert world.all_sent() == [] and world.ledger.counters == {}


def test_given_the_event_carries_the_devices_zone_then_quiet_hours_follow_it():
    world = world_with(at=new_york(23, "12:00"))  # 02:00 in Tokyo
    world.shopper(timezone="America/New_York")

    outcome = world.deliver(world.geofence("m-1", store_id="s1", context={"timezone": "Asia/Tokyo"}))

    assert (outcome.status, outcome.reason) == ("suppressed", "quiet_hours")


def test_given_an_unsubscribed_shopper_then_suppressed_unsubscribed():
    world = world_with()
    world.shopper(unsubscribed_at=iso(NOW - timedelta(days=1)))

    outcome = world.deliver(world.geofence("m-1", store_id="s1"))

    assert (outcome.status, outcome.reason) == ("suppressed", "unsubscribed")
    assert world.all_sent() == []


def test_given_the_shopper_clicked_the_unsubscribe_link_of_an_offer_then_the_next_moment_is_unsubscribed():
    world = world_with()
    world.shopper()
    sent = world.deliver(world.geofence("m-1", store_id="s1"))
    audience = Audience(world.store, world.devices, world.addresses, world.push, world.settings, world.clock)
    token = world.record(sent.offer_id)["unsubscribe_url"].split("token=", 1)[1]

    audience.unsubscribe(token)
    world.clock.advance(hours=3)
    outcome = world.deliver(world.geofence("m-2", store_id="s2"))

    assert (outcome.status, outcome.reason) == ("suppressed", "unsubscribed")
    assert len(world.all_sent()) == 1


def test_given_no_consent_then_suppressed_no_consent():
    world = world_with()
    world.shopper(consents=())

    outcome = world.deliver(world.geofence(store_id="s1"))

    assert (outcome.status, outcome.reason) == ("suppressed", "no_consent")


def test_given_push_consent_but_no_device_then_suppressed_no_channel():
    world = world_with(campaign(channels=["push"]))
    world.shopper(consents=("push",), device=False)

    outcome = world.deliver(world.geofence(store_id="s1"))

    assert (outcome.status, outcome.reason) == ("suppressed", "no_channel")


def test_given_a_bounced_email_address_then_the_email_campaign_is_suppressed():
    world = world_with(campaign(channels=["email"]))
    world.shopper(consents=("email",))
    world.addresses.suppress("U1@example.com ", "bounce", iso(NOW))

    outcome = world.deliver(world.geofence(store_id="s1"))

    assert (outcome.status, outcome.reason) == ("suppressed", "suppressed")


def test_given_a_moment_that_arrives_after_its_freshness_then_suppressed_stale():
    world = world_with()
    world.shopper()

    outcome = world.deliver(world.geofence(store_id="s1", at=NOW - timedelta(hours=1)))

    assert (outcome.status, outcome.reason) == ("suppressed", "stale")


# --- caps on the shopper's local calendar ---------------------------------------------------------


def four_store_campaigns():
    return [campaign(id=f"c{i}", trigger={"store_ids": [f"s{i}"]}) for i in range(1, 5)]


def test_given_three_offers_on_one_local_day_then_the_fourth_is_frequency_capped_and_the_next_day_is_open():
    world = world_with(*four_store_campaigns(), at=new_york(23, "17:00"))
    world.shopper(timezone="America/New_York")
    outcomes = []
    # 17:00 .. 20:00 in New York is 22:00 .. 01:00 UTC: two UTC days, one local day
    for i, hhmm in enumerate(["17:00", "18:00", "19:00", "20:00"], start=1):
        world.clock.at = new_york(23, hhmm)
        outcomes.append(world.deliver(world.geofence(f"m-{i}", store_id=f"s{i}")))

    world.clock.at = new_york(24, "09:00")
    next_day = world.deliver(world.geofence("m-5", store_id="s1"))

    assert [o.status for o in outcomes] == ["sent", "sent", "sent", "suppressed"]
    assert [o.campaign_id for o in outcomes[:3]] == ["c1", "c2", "c3"]
    assert outcomes[3].reason == "frequency_cap"
    assert next_day.status == "sent"
    assert len(world.push.sent) == 4


def test_given_a_campaign_capped_once_a_day_then_its_second_moment_is_capped_until_the_next_local_day():
    world = world_with(campaign(caps={"per_user_per_day": 1}), at=new_york(23, "10:00"))
    world.shopper(timezone="America/New_York")
    first = world.deliver(world.geofence("m-1", store_id="s1"))
    world.clock.at = new_york(23, "20:30")
    second = world.deliver(world.geofence("m-2", store_id="s2"))
    world.clock.at = new_york(24, "08:00")
    third = world.deliver(world.geofence("m-3", store_id="s2"))

    assert [(o.status, o.reason) for o in (first, second, third)] == [
        ("sent", None),
        ("suppressed", "frequency_cap"),
        ("sent", None),
    ]


def test_given_a_weekly_cap_then_it_counts_in_the_shoppers_local_week():
    world = world_with(campaign(caps={"per_user_per_week": 1}), at=new_york(29, "20:00"))  # Sunday
    world.shopper(timezone="America/New_York")
    sunday = world.deliver(world.geofence("m-1", store_id="s1"))
    world.clock.at = new_york(29, "20:30")  # Monday 01:30 UTC, still Sunday locally
    same_week = world.deliver(world.geofence("m-2", store_id="s2"))
    world.clock.at = new_york(30, "09:00")  # Monday locally
    next_week = world.deliver(world.geofence("m-3", store_id="s3"))

    assert [(o.status, o.reason) for o in (sunday, same_week, next_week)] == [
        ("sent", None),
        ("suppressed", "frequency_cap"),
        ("sent", None),
    ]


def test_given_a_campaign_capped_for_the_shopper_then_the_next_candidate_is_sent():
    capped = campaign(id="coffee", priority=90, caps={"per_user_per_day": 1})
    fallback = campaign(id="tea", priority=10)
    world = world_with(capped, fallback)
    world.shopper()
    world.deliver(world.geofence("m-1", store_id="s1"))

    world.clock.advance(hours=3)
    outcome = world.deliver(world.geofence("m-2", store_id="s2"))

    assert (outcome.status, outcome.campaign_id) == ("sent", "tea")


def test_given_the_campaign_budget_is_spent_then_budget_exhausted_and_the_next_candidate_is_tried():
    coffee = campaign(id="coffee", priority=90, caps={"budget": 1})
    tea = campaign(id="tea", priority=10)
    world = world_with(coffee, tea)
    world.shopper("u1")
    world.shopper("u2")

    first = world.deliver(world.geofence("m-1", user_id="u1", store_id="s1"))
    second = world.deliver(world.geofence("m-2", user_id="u2", store_id="s1"))

    assert (first.status, first.campaign_id) == ("sent", "coffee")
    assert (second.status, second.campaign_id) == ("sent", "tea")
    assert [m.data["campaign_id"] for m in world.push.sent] == ["coffee", "tea"]


def test_given_the_only_campaigns_budget_is_spent_then_suppressed_budget_exhausted():
    world = world_with(campaign(caps={"budget": 1}))
    world.shopper("u1")
    world.shopper("u2")
    world.deliver(world.geofence("m-1", user_id="u1", store_id="s1"))

    outcome = world.deliver(world.geofence("m-2", user_id="u2", store_id="s1"))

    assert (outcome.status, outcome.reason) == ("suppressed", "budget_exhausted")
    record = world.record(outcome.offer_id, "u2")
    assert {"campaign": "coffee", "reason": "budget_exhausted"} in record["considered"]
    assert len(world.push.sent) == 1


def test_given_every_candidate_refused_then_the_first_refusal_is_the_recorded_reason():
    coffee = campaign(id="coffee", priority=90, caps={"budget": 1})
    tea = campaign(id="tea", priority=10, caps={"budget": 1})
    world = world_with(coffee, tea)
    for user_id in ("u1", "u2", "u3"):
        world.shopper(user_id)
        world.deliver(world.geofence(f"m-{user_id}", user_id=user_id, store_id="s1"))

    record = world.record(offer_id_for(Subject.user("u3"), "m-u3"), "u3")

    assert (record["status"], record["reason"], record["campaign_id"]) == (
        "suppressed",
        "budget_exhausted",
        "coffee",
    )


# --- holdout ---------------------------------------------------------------------------------------


def test_given_a_shopper_in_the_control_group_then_holdout_is_recorded_and_nothing_sent():
    user_id = held_out_user("coffee", 50)
    world = world_with(campaign(holdout_percent=50))
    world.shopper(user_id)

    outcome = world.deliver(world.geofence("m-1", user_id=user_id, store_id="s1"))

    assert (outcome.status, outcome.reason, outcome.campaign_id) == ("holdout", "holdout", "coffee")
    record = world.record(outcome.offer_id, user_id)
    assert record["status"] == "holdout" and record["valid_until"] == iso(NOW + timedelta(minutes=60))
    assert world.all_sent() == [] and world.ledger.counters == {}


def test_given_the_top_campaign_is_out_of_budget_then_a_lower_campaign_is_not_sent_to_its_control_group():
    top = campaign(id="coffee", priority=90, caps={"budget": 1})
    second = campaign(id="tea", priority=10, holdout_percent=50)
    user_id = held_out_user("tea", 50)
    world = world_with(top, second)
    world.shopper("spender")
    world.shopper(user_id)
    world.deliver(world.geofence("m-0", user_id="spender", store_id="s1"))  # spends coffee's budget

    world.deliver(world.geofence("m-1", user_id=user_id, store_id="s1"))

    assert [m.data["campaign_id"] for m in world.push.sent] == ["coffee"]


# --- delivery failures -----------------------------------------------------------------------------


def test_given_a_throttled_sender_then_the_record_waits_in_retry_and_the_redelivery_sends_once():
    world = world_with()
    world.shopper()
    world.push.fail_with.append(RetryableError("SNS throttling"))
    moment = world.geofence("m-1", store_id="s1")

    with pytest.raises(RetryableError):
        world.deliver(moment)
    offer_id = offer_id_for(U1, "m-1")
    assert world.record(offer_id)["status"] == "retry" and world.push.sent == []

    world.clock.advance(seconds=30)
    outcomes = [world.deliver(moment) for _ in range(2)]

    assert [o.status for o in outcomes] == ["sent", "sent"]
    assert len(world.push.sent) == 1
    record = world.record(offer_id)
    assert record["attempts"] == 2 and record["status"] == "sent"
    assert world.ledger.counters[("user:u1", "day#2026-11-23")] == 1  # the cap slot is taken once


def test_given_a_claim_older_than_the_lease_then_delivery_unknown_and_nothing_sent():
    world = world_with()
    world.shopper()
    offer_id = offer_id_for(U1, "m-1")
    world.ledger.records[(U1, offer_id)] = {
        "offer_id": offer_id,
        "campaign_id": "coffee",
        "status": "claimed",
        "channel": "push",
        "target": "arn:endpoint/u1",
        "claimed_at": iso(NOW - CLAIM_LEASE - timedelta(seconds=1)),
        "attempts": 1,
    }

    outcomes = [world.deliver(world.geofence("m-1", store_id="s1")) for _ in range(2)]

    assert [o.status for o in outcomes] == ["delivery_unknown", "delivery_unknown"]
    record = world.record(offer_id)
    assert record["status"] == "delivery_unknown" and record["reason"] == "worker_stopped_mid_send"
    assert world.all_sent() == []


def test_given_a_claim_younger_than_the_lease_then_the_redelivery_is_retried_later_and_nothing_sent():
    world = world_with()
    world.shopper()
    offer_id = offer_id_for(U1, "m-1")
    world.ledger.records[(U1, offer_id)] = {
        "offer_id": offer_id,
        "campaign_id": "coffee",
        "status": "claimed",
        "channel": "push",
        "target": "arn:endpoint/u1",
        "claimed_at": iso(NOW - timedelta(seconds=30)),
        "attempts": 1,
    }

    with pytest.raises(RetryableError):
        world.deliver(world.geofence("m-1", store_id="s1"))

    assert world.record(offer_id)["status"] == "claimed" and world.all_sent() == []


def test_given_a_disabled_push_endpoint_then_the_device_is_disabled_and_the_offer_failed():
    world = world_with(campaign(channels=["push"]))
    world.shopper()
    world.push.fail_with.append(EndpointDisabled("app uninstalled"))

    outcome = world.deliver(world.geofence("m-1", store_id="s1"))

    assert (outcome.status, outcome.reason) == ("failed", "endpoint_disabled")
    assert world.record(outcome.offer_id)["status"] == "failed"
    assert world.devices.enabled(U1) == []
    world.clock.advance(hours=3)
    later = world.deliver(world.geofence("m-2", store_id="s2"))
    assert (later.status, later.reason) == ("suppressed", "no_channel")
    assert world.push.sent == []


def test_given_the_provider_rejects_the_message_then_failed_with_its_reason():
    world = world_with()
    world.shopper(consents=("email",))
    world.email.fail_with.append(DeliveryRejected("message_rejected", "x" * 500))

    outcome = world.deliver(world.geofence("m-1", store_id="s1"))

    record = world.record(outcome.offer_id)
    assert (record["status"], record["reason"]) == ("failed", "message_rejected")
    assert len(record["detail"]) == 300


def test_given_an_sms_number_on_the_opt_out_list_then_suppressed_unsubscribed_and_nothing_sent():
    world = world_with(campaign(channels=["sms"]))
    world.shopper(consents=("sms",), phone="+15550199")
    world.sms.opted_out_numbers.add("+15550199")

    outcome = world.deliver(world.geofence("m-1", store_id="s1"))

    assert (outcome.status, outcome.reason) == ("suppressed", "unsubscribed")
    record = world.record(outcome.offer_id)
    assert (record["status"], record["reason"]) == ("suppressed", "unsubscribed")
    assert world.sms.sent == []


def test_given_the_shopper_unsubscribed_before_a_retried_send_then_it_is_not_sent():
    world = world_with()
    world.shopper()
    world.push.fail_with.append(RetryableError("SNS throttling"))
    moment = world.geofence("m-1", store_id="s1")
    with pytest.raises(RetryableError):
        world.deliver(moment)
    profile = world.profile_of()
    world.store.save_profile(replace(profile, unsubscribed_at=iso(NOW)))

    world.clock.advance(seconds=30)
    world.deliver(moment)

    assert world.push.sent == []


def test_given_quiet_hours_began_before_a_retried_send_then_it_is_not_sent():
    world = world_with(at=new_york(23, "20:59"))
    world.shopper(timezone="America/New_York")
    world.push.fail_with.append(RetryableError("SNS throttling"))
    moment = world.geofence("m-1", store_id="s1")
    with pytest.raises(RetryableError):
        world.deliver(moment)

    world.clock.at = new_york(23, "21:05")
    world.deliver(moment)

    assert world.push.sent == []


# --- redelivery after the shopper identified --------------------------------------------------------


def test_given_an_anonymous_moment_redelivered_after_the_visitor_identified_then_nothing_more_is_decided():
    world = world_with()
    world.shopper("u1")
    moment = event(
        "Geofence Entered",
        message_id="m-1",
        user_id=None,
        anonymous_id="a-1",
        at=NOW,
        properties={"store_id": "s1"},
    )
    first = world.deliver(moment)
    world.clock.advance(seconds=20)
    world.deliver(identify(user_id="u1", anonymous_id="a-1", message_id="m-id", at=world.clock.now()))

    world.clock.advance(seconds=20)
    again = world.deliver(moment)

    assert (first.status, first.reason) == ("suppressed", "no_consent")  # the visitor had not consented
    assert again.offer_id == first.offer_id
    assert world.all_sent() == [] and world.records("u1") == []


# --- the pipeline alone ----------------------------------------------------------------------------


def test_given_an_event_that_is_not_a_trigger_moment_then_run_returns_none():
    world = world_with()
    world.shopper()

    assert world.run(event("Geofence Exited", properties={"store_id": "s1"})) is None
    assert world.run(Event("identify", "m-id", NOW, user_id="u1")) is None
    assert world.records() == []
